// pipeline: constant-fold
qubit q[2];
param w;
id q[0];
rx(2 * pi) q[0];
crx(2 * pi) q[0], q[1];
cry(4 * pi) q[0], q[1];
p(w - w) q[1];
rz(3 * pi + 0) q[1];
ry(sin(pi / 2) * w + 0 * w) q[0];
u(0, pi / 4, -pi / 4) q[1];
expect z(q[0]);
