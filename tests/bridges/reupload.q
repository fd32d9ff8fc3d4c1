// Shared by the bridge tests: 3 qubits, 2 inputs through non-linear encodings,
// 2 outputs (one a weighted Pauli sum).
qubit q[3];
input x[2];
param w[9];
for l in range(2) {
    ry(2 * arctan(x[0])) q[0];
    ry(x[1] * x[0]) q[1];
    rz(pi * sin(x[1])) q[2];
    for k in range(3) { ry(w[3 * l + k]) q[k]; }
    cx q[0], q[1];
    cx q[1], q[2];
}
for k in range(3) { rx(w[6 + k]) q[k]; }
expect z(q[0]);
expect 0.5 * z(q[1]) @ z(q[2]) - 0.25 * x(q[0]);
