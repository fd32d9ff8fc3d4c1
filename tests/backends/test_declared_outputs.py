"""Declared outputs (var, probs, sample, hermitian, summed expect) on the simulator, against
PennyLane (qml.var, qml.probs, qml.expval(qml.Hermitian)), Qiskit (SparsePauliOp on a Statevector)
and finite differences, and through the optimization passes (CLI: tests/commands, manifest: tests/hardware,
bridges: tests/bridges)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import qcomp
from qcomp.backends.outputs import output_jacobian
from qcomp.errors import UnsupportedError
from qcomp.ir.outputs import Samples

N = 3
GATES = ["ry", "rx", "rz", "cx", "crz", "rzz", "h"]


def random_program(seed: int, n_gates: int = 8):
    """(.q body lines, gate list) of a random 3-qubit circuit over params w[0..3]."""
    rng = np.random.default_rng(seed)
    gates = []
    for _ in range(n_gates):
        g = GATES[rng.integers(len(GATES))]
        a, b = (int(x) for x in rng.choice(N, size=2, replace=False))
        gates.append((g, a, b, int(rng.integers(4)), float(rng.uniform(0.2, 1.5))))
    lines = []
    for g, a, b, k, c in gates:
        if g in ("ry", "rx", "rz"):
            lines.append(f"{g}({c} * w[{k}]) q[{a}];")
        elif g == "h":
            lines.append(f"h q[{a}];")
        elif g == "cx":
            lines.append(f"cx q[{a}], q[{b}];")
        else:
            lines.append(f"{g}({c} * w[{k}]) q[{a}], q[{b}];")
    return "\n".join(lines), gates


def pl_gates(qml, gates, w):
    for g, a, b, k, c in gates:
        t = c * w[k]
        {"ry": lambda: qml.RY(t, a), "rx": lambda: qml.RX(t, a), "rz": lambda: qml.RZ(t, a), "h": lambda: qml.Hadamard(a),
         "cx": lambda: qml.CNOT([a, b]), "crz": lambda: qml.CRZ(t, [a, b]), "rzz": lambda: qml.IsingZZ(t, [a, b])}[g]()


def rand_symmetric(rng, k):
    a = rng.normal(size=(2**k, 2**k))
    return a + a.T


def array_text(m) -> str:
    return "[" + ", ".join("[" + ", ".join(repr(float(v)) for v in r) + "]" for r in m) + "]"


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10**6), level=st.sampled_from([0, 3]))
def test_var_probs_hermitian_match_pennylane(seed: int, level: int) -> None:
    qml = pytest.importorskip("pennylane")
    body, gates = random_program(seed)
    rng = np.random.default_rng(seed + 1)
    m = rand_symmetric(rng, 2)
    src = (f"const M = {array_text(m)};\nqubit q[{N}];\nparam w[4];\n{body}\n"
           "var x(q[0]) + 0.3 * z(q[1]) @ y(q[2]);\nprobs q[2], q[0];\nexpect hermitian(M) q[1], q[2];\n"
           "var hermitian(M) q[0], q[1];\nprobs q;\n")
    w = rng.uniform(-np.pi, np.pi, size=4)
    with warnings.catch_warnings():  # a random circuit may leave a param unused: irrelevant here
        warnings.simplefilter("ignore")
        got = qcomp.compile(src, optimize=level).simulator().outputs(w)

    dev = qml.device("default.qubit", wires=N)

    def circuit(obs):
        @qml.qnode(dev)
        def f():
            pl_gates(qml, gates, w)
            return obs()
        return f()

    # qcomp: bit k of an output's index is its k-th qubit; PennyLane: wires[0] is the most significant bit
    want = [
        circuit(lambda: qml.var(qml.X(0) + 0.3 * qml.Z(1) @ qml.Y(2))),
        circuit(lambda: qml.probs(wires=[0, 2])),
        circuit(lambda: qml.expval(qml.Hermitian(m, wires=[2, 1]))),
        circuit(lambda: qml.var(qml.Hermitian(m, wires=[1, 0]))),
        circuit(lambda: qml.probs(wires=[2, 1, 0])),
    ]
    for g, v in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(v), atol=1e-10)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_summed_cost_hamiltonian_matches_qiskit_sparse_pauli_op(seed: int) -> None:
    qiskit = pytest.importorskip("qiskit")
    from qiskit.quantum_info import SparsePauliOp, Statevector

    rng = np.random.default_rng(seed)
    n = 5
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    edges = [pairs[k] for k in rng.choice(len(pairs), size=6, replace=False)]
    weights = rng.uniform(0.1, 2.0, size=len(edges))
    gamma, beta = rng.uniform(-1, 1, size=2)
    src = (f"const edges = {array_text(edges)};\nconst wt = [{', '.join(map(repr, map(float, weights)))}];\n"
           f"qubit v[{n}];\nparam gamma;\nparam beta;\nh v;\n"
           "for k in range(len(edges)) { rzz(2 * wt[k] * gamma) v[edges[k][0]], v[edges[k][1]]; }\nrx(2 * beta) v;\n"
           "expect sum(wt[k] * 0.5 * (1 - z(v[edges[k][0]]) @ z(v[edges[k][1]])) for k in range(len(edges)));\n")
    got = qcomp.compile(src).simulator().expval([gamma, beta])
    qc = qiskit.QuantumCircuit(n)
    qc.h(range(n))
    for (i, j), wt in zip(edges, weights):
        qc.rzz(2 * wt * gamma, i, j)
    qc.rx(2 * beta, range(n))
    cost = SparsePauliOp.from_sparse_list(
        [("", [], 0.5 * weights.sum())] + [("ZZ", [i, j], -0.5 * wt) for (i, j), wt in zip(edges, weights)], n)
    assert got[0] == pytest.approx(float(np.real(Statevector(qc).expectation_value(cost))), abs=1e-10)


SRC = """
const M = [[1, 0.5, 0, 0], [0.5, -1, 0.2, 0], [0, 0.2, 2, 1], [0, 0, 1, 0]];
qubit idle;
qubit q[3];
param w[3];
input x;
ry(w[0] * x) q[0]; rx(w[1]) q[1]; cx q[0], q[1]; ry(w[2]) q[2]; crz(w[0]) q[1], q[2]; h q[0];
var x(q[0]) + 0.3 * z(q[1]) @ y(q[2]);
probs q[2], q[0];
expect hermitian(M) q[1], q[2];
var hermitian(M) q[0], q[2];
expect sum(z(q[k]) for k in range(3));
sample(50) q[1];
"""


def _fd(sim, w, X, k, h=1e-6):
    cols = []
    for p in range(len(w)):
        e = np.zeros(len(w))
        e[p] = h
        cols.append((sim.outputs(w + e, X)[k] - sim.outputs(w - e, X)[k]) / (2 * h))
    return np.moveaxis(np.array(cols), 0, -1)


@pytest.mark.parametrize("level", [0, 3])
def test_gradients_match_finite_differences_adjoint_and_parameter_shift(level: int) -> None:
    from qcomp.gradients import simulator_gradient

    sim = qcomp.compile(SRC, optimize=level).simulator()
    w, X = np.array([0.3, 0.7, -0.4]), np.array([[0.5], [1.2]])
    outs = sim.program.outputs[:5]
    adj = sim.output_gradient(np.tile(w, (2, 1)), X, outputs=outs)
    shift = output_jacobian(sim, np.tile(w, (2, 1)), X, outs,
                            gradient=lambda s: simulator_gradient(s, np.tile(w, (2, 1)), X, "parameter-shift"))
    for k in range(5):
        fd = _fd(sim, w, X, k)
        assert adj[k].shape == fd.shape == (2, *outs[k].shape(sim.program.num_qubits), 3)
        np.testing.assert_allclose(adj[k], fd, atol=1e-7)
        np.testing.assert_allclose(shift[k], adj[k], atol=1e-10)
    one = sim.output_gradient(w, 0.5, outputs=outs[1:2])[0]  # unbatched: no batch axis
    assert one.shape == (4, 3)


def test_samples_are_not_differentiable_and_are_drawn_from_the_probabilities() -> None:
    sim = qcomp.compile(SRC).simulator()
    with pytest.raises(UnsupportedError, match="'samples' outputs are not differentiable"):
        sim.output_gradient([0.3, 0.7, -0.4], 0.5)
    s = sim.outputs([0.3, 0.7, -0.4], 0.5, outputs=[Samples((2, 0), 20000)], seed=4)[0]
    p = sim.outputs([0.3, 0.7, -0.4], 0.5)[1]
    assert s.shape == (20000,) and s.dtype.kind == "i"
    np.testing.assert_allclose(np.bincount(s, minlength=4) / 20000, p, atol=0.02)


def test_outputs_survive_the_passes_that_renumber_and_prune() -> None:
    # the idle qubit is dropped by dead-qubits at -O3 (renumbering q), gates outside the light cone go
    w, X = np.array([0.3, 0.7, -0.4]), np.array([[0.5], [1.2], [-0.3]])
    o0 = qcomp.compile(SRC, optimize=0).simulator().outputs(w, X, seed=1)
    m3 = qcomp.compile(SRC, optimize=3)
    assert m3.optimized("sim").num_qubits == 3
    o3 = m3.simulator().outputs(w, X, seed=1)
    for a, b in zip(o0[:5], o3[:5]):
        np.testing.assert_allclose(a, b, atol=1e-10)
    assert o3[5].shape == (3, 50) and set(np.unique(o3[5])) <= {0, 1}


def test_program_json_and_specs_name_the_outputs() -> None:
    p = qcomp.compile(SRC).program
    data = json.loads(p.to_json())
    assert [d["kind"] for d in data["declared_outputs"]] == ["variance", "probabilities", "expectation",
                                                              "variance", "expectation", "samples"]
    s = p.specs()
    assert s["output_shapes"] == [[], [4], [], [], [], [50]]
    assert s["outputs"][1] == "probs q[2], q[0]" and s["outputs"][2] == "hermitian(M) q[1], q[2]"
