OPENQASM 3.0;
include "stdgates.inc";
gate sxdg a {
  h a;
  sdg a;
  h a;
}
gate iswap a, b {
  s a;
  s b;
  h a;
  cx a, b;
  cx b, a;
  h b;
}
gate rxx(theta) a, b {
  h a;
  h b;
  cx a, b;
  rz(theta) b;
  cx a, b;
  h a;
  h b;
}
gate ryy(theta) a, b {
  rx(pi / 2) a;
  rx(pi / 2) b;
  cx a, b;
  rz(theta) b;
  cx a, b;
  rx(-(pi / 2)) a;
  rx(-(pi / 2)) b;
}
gate rzz(theta) a, b {
  cx a, b;
  rz(theta) b;
  cx a, b;
}
input float[64] p_w_0;
input float[64] p_w_1;
input float[64] p_w_2;
input float[64] x_x_0;
input float[64] x_x_1;
qubit[3] q;
id q[0];
x q[0];
y q[1];
z q[2];
h q[0];
h q[1];
h q[2];
s q[0];
sdg q[1];
t q[2];
tdg q[0];
sx q[1];
sxdg q[2];
rx(p_w_0) q[0];
ry(0.5 * p_w_1 - x_x_0) q[1];
rz(p_w_2 * x_x_1 + pi / 3) q[2];
p(-p_w_0 / 3) q[0];
U(p_w_0, p_w_1, x_x_1) q[1];
cx q[0], q[1];
cy q[1], q[2];
cz q[2], q[0];
ch q[0], q[2];
swap q[1], q[0];
iswap q[2], q[1];
crx(p_w_1) q[0], q[1];
cry(x_x_0) q[1], q[2];
crz(p_w_2 * p_w_2) q[2], q[0];
cp(pi / 8) q[0], q[2];
rxx(p_w_0 * x_x_0) q[0], q[1];
ryy(p_w_1) q[1], q[2];
rzz(-p_w_2) q[2], q[0];
ccx q[0], q[1], q[2];
cswap q[2], q[0], q[1];
