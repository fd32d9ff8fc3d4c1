// pipeline: basis-translation{basis=rx;rz;cz}
qubit q[2];
param w;
h q[0];
crz(w) q[0], q[1];
ry(0.5) q[1];
expect x(q[1]);
