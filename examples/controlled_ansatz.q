// examples/controlled_ansatz.q -- a controlled-rotation ansatz for VQE on a 4-site Heisenberg ring.
//
// Each layer rotates every qubit (ry), then entangles neighbours with controlled rotations written
// with OpenQASM 3 modifiers: `ctrl @ ry` on each ring edge, a doubly controlled `ctrl(2) @ rz` and
// a `negctrl @ rx` (fires when its control is |0>). A user gate under `ctrl @` controls every gate
// of its body, and its `gphase` becomes a phase on the control. `barrier` keeps the layers apart
// through the optimizer (nothing cancels or merges across it). Every gate here simulates and
// differentiates exactly (adjoint or parameter shift; the shift rules come from the controlled
// generators' spectra {0, +-1/2}) and exports to OpenQASM 3 as modifiers, to OpenQASM 2 as
// definitions.
const n = 4;
const layers = 2;
qubit q[n];
param theta[layers * (2 * n + 2)];

// a partial swap with a phase: under `ctrl @` the phase lands on the control qubit
gate mix(t) a, b { cx a, b; ry(t) a; cx a, b; gphase(t / 2); }

for i in range(n) { x q[i]; }
for l in range(layers) {
    for i in range(n) {
        ry(theta[l * (2 * n + 2) + i]) q[i];
    }
    for i in range(n) {
        ctrl @ ry(theta[l * (2 * n + 2) + n + i]) q[i], q[(i + 1) % n];
    }
    ctrl(2) @ rz(theta[l * (2 * n + 2) + 2 * n]) q[0], q[1], q[2];
    negctrl @ rx(theta[l * (2 * n + 2) + 2 * n + 1]) q[3], q[0];
    ctrl @ mix(theta[l * (2 * n + 2)]) q[2], q[3], q[1];
    barrier q;
}

// H = sum over ring edges of X X + Y Y + Z Z
expect x(q[0]) @ x(q[1]) + y(q[0]) @ y(q[1]) + z(q[0]) @ z(q[1])
     + x(q[1]) @ x(q[2]) + y(q[1]) @ y(q[2]) + z(q[1]) @ z(q[2])
     + x(q[2]) @ x(q[3]) + y(q[2]) @ y(q[3]) + z(q[2]) @ z(q[3])
     + x(q[3]) @ x(q[0]) + y(q[3]) @ y(q[0]) + z(q[3]) @ z(q[0]);
