// examples/quantum_kernel.q -- fidelity quantum kernel k(x1, x2) = |<0| U(x1)^dagger U(x2) |0>|^2.
//
// `feature_map` is a ZZ-feature-map-style user gate on 3 qubits (Havlicek et al. 2019). The
// circuit applies U(x2) and then the inverse of U(x1) (`inv @` inverts a user gate by reversing
// its body and inverting each gate). Measuring all qubits, the kernel value is the probability
// of the all-zeros outcome. As an expectation-only alternative (no projector needed), the
// outputs also include the Z products <Z0 Z1>, <Z1 Z2>, <Z0 Z1 Z2>, which equal 1 when
// x1 == x2 (the circuit is then the identity).
const n = 3;
qubit q[n];
input x1[n];
input x2[n];

gate feature_map(a, b, c) q0, q1, q2 {
    h q0; h q1; h q2;
    p(2 * a) q0;
    p(2 * b) q1;
    p(2 * c) q2;
    cx q0, q1; p(2 * (pi - a) * (pi - b)) q1; cx q0, q1;
    cx q1, q2; p(2 * (pi - b) * (pi - c)) q2; cx q1, q2;
}

feature_map(x2[0], x2[1], x2[2]) q[0], q[1], q[2];
inv @ feature_map(x1[0], x1[1], x1[2]) q[0], q[1], q[2];

expect z(q[0]) @ z(q[1]);
expect z(q[1]) @ z(q[2]);
expect z(q[0]) @ z(q[1]) @ z(q[2]);
measure q;
