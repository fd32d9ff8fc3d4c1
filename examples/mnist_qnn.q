// examples/mnist_qnn.q -- Farhi & Neven QNN from the TensorFlow Quantum MNIST tutorial
const n = 16;
qubit data[n];
qubit readout;
input pixel[n];          // classical features, bound per sample (a batch at run time)
param w[2 * n];          // trainable parameters

for i in range(n) {
    rx(pi * pixel[i]) data[i];       // binary pixel -> |1> (X up to a global phase)
}
x readout;
h readout;
for i in range(n) { rxx(w[i]) data[i], readout; }
for i in range(n) { rzz(w[n + i]) data[i], readout; }
h readout;

expect z(readout);
