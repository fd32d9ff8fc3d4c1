// pipeline: merge-rotations
qubit q[3];
param w[3];
rx(w[0]) q[0]; rx(2 * w[1]) q[0];
rz(w[0]) q[1]; cx q[1], q[2]; rz(-w[0] + 0.5) q[1];
rzz(w[2]) q[0], q[1]; cz q[1], q[2]; rzz(w[2]) q[1], q[0];
crz(pi) q[0], q[2]; crz(pi) q[0], q[2];
cp(w[1]) q[1], q[2]; cp(-w[1]) q[2], q[1];
expect x(q[0]);
