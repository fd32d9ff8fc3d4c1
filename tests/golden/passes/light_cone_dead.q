// pipeline: light-cone,dead-qubits
qubit data[4];
qubit readout;
param w[4];
for i in range(4) { ry(w[i]) data[i]; }
cx data[1], readout;
cx data[2], data[3];
rz(w[0]) readout;
cz data[1], readout;
expect z(readout);
