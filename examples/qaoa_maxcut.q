// examples/qaoa_maxcut.q -- QAOA for MaxCut on a 6-node ring graph, p = 2 layers.
//
// The graph is an edge list. Start in |+>^6, then alternate the cost layer exp(-i gamma C) (one
// rzz per edge; rzz(2 * gamma) = exp(-i gamma Z_i Z_j) up to the constant part of each cut term)
// and the mixer layer exp(-i beta sum_i X_i) (rx(2 * beta) on every qubit). The output is the
// expected cut size  C = sum_{(i,j) in edges} 0.5 * (1 - Z_i Z_j),  one summed observable,
// maximal (= 6) for the alternating colouring. Params: gamma[p], beta[p].
// Another graph: change the edge list (and n).
const n = 6;
const p = 2;
const edges = [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 0]];
qubit v[n];
param gamma[p];
param beta[p];

h v;                                   // broadcast: h on every qubit of the register
for layer in range(p) {
    for k in range(len(edges)) {
        rzz(2 * gamma[layer]) v[edges[k][0]], v[edges[k][1]];
    }
    rx(2 * beta[layer]) v;
}

expect sum(0.5 * (1 - z(v[edges[k][0]]) @ z(v[edges[k][1]])) for k in range(len(edges)));
