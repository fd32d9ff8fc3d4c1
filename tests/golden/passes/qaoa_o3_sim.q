// pipeline: -O3 sim
// examples/qaoa_maxcut.q -- QAOA for MaxCut on a 6-node ring graph, p = 2 layers.
//
// Start in |+>^6, then alternate the cost layer exp(-i gamma C) (one rzz per ring edge;
// rzz(2 * gamma) = exp(-i gamma Z_i Z_j) up to the constant part of each cut term) and the
// mixer layer exp(-i beta sum_i X_i) (rx(2 * beta) on every qubit). The output is the
// expected cut size  C = sum_{(i,j) in ring} 0.5 * (1 - Z_i Z_j),  maximal (= 6) for the
// alternating colouring. Params: gamma[p], beta[p].
const n = 6;
const p = 2;
qubit v[n];
param gamma[p];
param beta[p];

h v;                                   // broadcast: h on every qubit of the register
for layer in range(p) {
    for i in range(n) {
        rzz(2 * gamma[layer]) v[i], v[(i + 1) % n];
    }
    rx(2 * beta[layer]) v;
}

expect 0.5 * (1 - z(v[0]) @ z(v[1])) + 0.5 * (1 - z(v[1]) @ z(v[2]))
     + 0.5 * (1 - z(v[2]) @ z(v[3])) + 0.5 * (1 - z(v[3]) @ z(v[4]))
     + 0.5 * (1 - z(v[4]) @ z(v[5])) + 0.5 * (1 - z(v[5]) @ z(v[0]));
