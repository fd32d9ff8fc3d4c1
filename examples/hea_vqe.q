// examples/hea_vqe.q -- hardware-efficient ansatz for VQE on a 4-site transverse-field Ising chain.
//
// Ansatz: `layers` repetitions of an ry/rz rotation layer on every qubit followed by a linear
// cx ladder (q[0]->q[1]->q[2]->q[3]), then a final rotation layer. Hamiltonian (open chain):
//     H = -J * sum_i Z_i Z_{i+1}  -  g * sum_i X_i
// written as a single Pauli sum with `expect`; minimizing its expectation over `theta`
// approximates the ground-state energy. The parameters are laid out as
// theta[(layer * n + qubit) * 2 + {0: ry, 1: rz}].
const n = 4;
const layers = 3;
const J = 1.0;
const g = 0.5;
qubit q[n];
param theta[2 * n * (layers + 1)];

for l in range(layers) {
    for i in range(n) {
        ry(theta[(l * n + i) * 2]) q[i];
        rz(theta[(l * n + i) * 2 + 1]) q[i];
    }
    for i in range(n - 1) {
        cx q[i], q[i + 1];
    }
}
for i in range(n) {
    ry(theta[(layers * n + i) * 2]) q[i];
    rz(theta[(layers * n + i) * 2 + 1]) q[i];
}

expect -J * z(q[0]) @ z(q[1]) - J * z(q[1]) @ z(q[2]) - J * z(q[2]) @ z(q[3])
       - g * x(q[0]) - g * x(q[1]) - g * x(q[2]) - g * x(q[3]);
