// examples/reuploading_classifier.q -- data re-uploading classifier (Perez-Salinas et al. 2020).
//
// A 2-feature sample (x[0], x[1]) is encoded again in every layer, interleaved with trainable
// rotations, so a small circuit can express a non-linear decision boundary. The encoding uses
// non-linear feature maps: arctan squashes the raw features into (-pi/2, pi/2), sin/cos mix
// them. Each layer: data rotations on both qubits, trainable u-like rotations, an entangling cz.
// Two outputs: <Z> on each qubit (e.g. a two-class score and an auxiliary readout).
const layers = 4;
qubit q[2];
input x[2];
param w[6 * layers];

for l in range(layers) {
    ry(2 * arctan(x[0])) q[0];
    ry(2 * arctan(x[1])) q[1];
    rz(pi * sin(x[0]) * cos(x[1])) q[0];
    rz(pi * cos(x[0] - x[1])) q[1];
    for k in range(2) {
        ry(w[6 * l + 3 * k]) q[k];
        rz(w[6 * l + 3 * k + 1]) q[k];
        ry(w[6 * l + 3 * k + 2]) q[k];
    }
    if (l < layers - 1) {
        cz q[0], q[1];
    }
}

expect z(q[0]);
expect z(q[1]);
