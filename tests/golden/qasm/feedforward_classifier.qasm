OPENQASM 3.0;
include "stdgates.inc";
input float[64] p_w_0;
input float[64] p_w_1;
input float[64] p_w_2;
input float[64] p_w_3;
input float[64] p_w_4;
input float[64] p_w_5;
input float[64] p_w_6;
input float[64] p_w_7;
input float[64] p_w_8;
input float[64] p_w_9;
input float[64] x_x_0;
input float[64] x_x_1;
qubit[3] q;
bit[2] m;
ry(pi * x_x_0) q[0];
ry(pi * x_x_1) q[1];
ry(p_w_0) q[0];
ry(p_w_1) q[1];
cx q[0], q[1];
ry(p_w_2) q[2];
cx q[1], q[2];
m[0] = measure q[2];
if (m[0]) {
  rx(p_w_3) q[0];
} else {
  ry(p_w_4) q[0];
}
reset q[2];
cx q[0], q[2];
ry(p_w_5) q[2];
m[1] = measure q[2];
if (m == 3) {
  rz(p_w_6) q[1];
}
cz q[0], q[1];
ry(p_w_7) q[0];
if (m[1]) {
  ry(p_w_8) q[0];
}
ry(p_w_9) q[1];
cx q[1], q[0];
