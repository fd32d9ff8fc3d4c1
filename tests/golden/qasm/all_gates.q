// every gate of the library, symbolic angles (golden test for the OpenQASM emitter)
qubit q[3];
param w[3];
input x[2];
id q[0]; x q[0]; y q[1]; z q[2]; h q; s q[0]; sdg q[1]; t q[2]; tdg q[0];
sx q[1]; sxdg q[2];
rx(w[0]) q[0]; ry(0.5 * w[1] - x[0]) q[1]; rz(w[2] * x[1] + pi / 3) q[2];
p(-w[0] / 3) q[0]; u(w[0], w[1], x[1]) q[1];
cx q[0], q[1]; cy q[1], q[2]; cz q[2], q[0]; ch q[0], q[2]; swap q[1], q[0]; iswap q[2], q[1];
crx(w[1]) q[0], q[1]; cry(x[0]) q[1], q[2]; crz(w[2] ** 2) q[2], q[0]; cp(pi / 8) q[0], q[2];
rxx(w[0] * x[0]) q[0], q[1]; ryy(w[1]) q[1], q[2]; rzz(-w[2]) q[2], q[0];
ccx q[0], q[1], q[2]; cswap q[2], q[0], q[1];
expect z(q[0]) @ x(q[2]) - 0.5 * y(q[1]);
expect 1.5 * z(q[1]);
