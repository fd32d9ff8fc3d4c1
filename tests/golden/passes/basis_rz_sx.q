// pipeline: basis-translation
qubit q[3];
param w;
h q[0];
cx q[0], q[1];
rzz(w) q[1], q[2];
ccx q[0], q[1], q[2];
rx(w) q[2];
swap q[0], q[2];
expect z(q[2]);
