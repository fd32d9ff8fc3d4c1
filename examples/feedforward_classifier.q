// examples/feedforward_classifier.q -- a classifier with a mid-circuit measurement and feed-forward.
//
// Two data qubits are encoded and entangled with an ancilla; the ancilla is measured in the middle
// of the circuit and its outcome selects the next rotation on data[0] (a trainable feed-forward
// correction, as in measurement-based and teleportation-style blocks). The ancilla is then reset
// and reused for a second round. The model's output <Z(data[0])> is the mixture over both
// outcomes, exact in the simulator (one ancilla per measurement/reset, docs/language.md "Dynamic
// circuits"), so it trains with exact gradients; exported as OpenQASM 3 it is a real dynamic circuit.
qubit data[2];
qubit anc;
bit m[2];
input x[2];
param w[10];

ry(pi * x[0]) data[0];
ry(pi * x[1]) data[1];
ry(w[0]) data[0];
ry(w[1]) data[1];
cx data[0], data[1];

// round 1: read a parity-like feature into the ancilla and measure it
ry(w[2]) anc;
cx data[1], anc;
m[0] = measure anc;
if (m[0]) { rx(w[3]) data[0]; } else { ry(w[4]) data[0]; }
reset anc;

// round 2: the reused ancilla, conditioned on both outcomes
cx data[0], anc;
ry(w[5]) anc;
m[1] = measure anc;
if (m == 3) { rz(w[6]) data[1]; }
cz data[0], data[1];
ry(w[7]) data[0];
if (m[1]) { ry(w[8]) data[0]; }
ry(w[9]) data[1];
cx data[1], data[0];

expect z(data[0]);
