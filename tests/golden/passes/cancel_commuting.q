// pipeline: cancel-inverses
qubit q[3];
param w[2];
h q[0]; h q[0];
s q[1]; t q[1]; sdg q[1];
cx q[0], q[1]; rz(w[0]) q[0]; x q[1]; cx q[0], q[1];
cx q[0], q[2]; cx q[0], q[1]; cx q[0], q[2];
rx(w[1]) q[2]; rx(-w[1]) q[2];
cz q[1], q[2]; cz q[2], q[1];
expect z(q[0]) @ z(q[1]);
