// pipeline: -O2
qubit q[4];
param w[2];
h q;
cx q[0], q[1]; cx q[0], q[1];
rzz(w[0]) q[1], q[2]; rzz(w[1]) q[1], q[2];
t q[3]; tdg q[3];
ry(w[0]) q[3];
measure q[1], q[2];
