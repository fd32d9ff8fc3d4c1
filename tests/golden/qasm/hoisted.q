// non-polynomial functions of inputs become derived inputs computed host-side
qubit q[2];
param w[2];
input x[2];
ry(sin(x[0]) * w[0]) q[0];
rz(2 * arctan(x[1]) + w[1]) q[1];
rx(exp(x[0] * x[1]) - w[0] / 3) q[0];
ry(sin(x[0])) q[1];
cx q[0], q[1];
expect z(q[0]) + 0.25 * x(q[1]);
