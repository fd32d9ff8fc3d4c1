"""Declared outputs (var, probs, sample, hermitian, summed expect) on the simulator, against
PennyLane (qml.var, qml.probs, qml.expval(qml.Hermitian)), Qiskit (SparsePauliOp on a Statevector)
and finite differences; through the optimization passes, the CLI, the manifest and the bridges."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import qcomp
from qcomp.backends.outputs import output_jacobian
from qcomp.errors import InputError, UnsupportedError
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


def test_manifest_declares_the_outputs_and_counts_give_them() -> None:
    from qcomp.hardware.manifest import declared_from_counts, manifest_declared_outputs, manifest_pauli_list

    src = "qubit q[3];\nparam w[2];\nry(w[0]) q[0]; cx q[0], q[1]; rx(w[1]) q[2];\n" \
          "expect z(q[0]) @ z(q[2]);\nvar z(q[0]) + 0.5 * z(q[1]) @ z(q[2]);\nprobs q[2], q[0];\nsample(5) q[1];\nvar x(q[2]);\n"
    model = qcomp.compile(src, optimize=1)
    w = [0.4, 1.1]
    manifest = model.qasm_result().manifest
    declared = manifest_declared_outputs(manifest)
    assert [d["kind"] for d in declared] == ["expectation", "variance", "probabilities", "samples", "variance"]
    # exact "counts" of measuring every qubit, from the simulator's full distribution
    full = model.simulator().probs(w, qubits=[0, 1, 2])
    counts = {format(i, "03b"): int(round(p * 10**9)) for i, p in enumerate(full) if p > 1e-12}
    with pytest.raises(UnsupportedError, match="not diagonal"):
        declared_from_counts(manifest, counts)
    manifest["declared_outputs"] = manifest["declared_outputs"][:4]
    got = declared_from_counts(manifest, counts, seed=0)
    want = model.simulator().outputs(w)
    for g, v in zip(got[:3], want[:3]):
        np.testing.assert_allclose(g, v, atol=1e-8)
    assert got[3].shape == (5,)
    # a non-diagonal variance from an Estimator: <O> and <O**2> of the listed Pauli sums
    from qiskit.quantum_info import SparsePauliOp
    o = SparsePauliOp.from_list(manifest_pauli_list(manifest, 0)).to_matrix()
    o2 = SparsePauliOp.from_list(manifest_pauli_list(manifest, 0, square=True)).to_matrix()
    np.testing.assert_allclose(o @ o, o2, atol=1e-12)
    with pytest.raises(InputError, match="bitstrings over all 3 qubits"):
        declared_from_counts(manifest, {"01": 3})


def test_program_json_and_specs_name_the_outputs() -> None:
    p = qcomp.compile(SRC).program
    data = json.loads(p.to_json())
    assert [d["kind"] for d in data["declared_outputs"]] == ["variance", "probabilities", "expectation",
                                                              "variance", "expectation", "samples"]
    s = p.specs()
    assert s["output_shapes"] == [[], [4], [], [], [], [50]]
    assert s["outputs"][1] == "probs q[2], q[0]" and s["outputs"][2] == "hermitian(M) q[1], q[2]"


def test_cli_run_and_check_print_every_output(tmp_path, capsys) -> None:
    from qcomp.cli import main

    f = tmp_path / "m.q"
    f.write_text(SRC)
    (tmp_path / "w.json").write_text("[0.3, 0.7, -0.4]")
    (tmp_path / "x.json").write_text("[[0.5], [1.2]]")
    assert main(["check", str(f)]) == 0
    out = capsys.readouterr().out
    assert "[1] probs q[2], q[0]  (probabilities, shape (4,))" in out and "[5] sample(50) q[1]  (samples, shape (50,))" in out
    assert main(["run", str(f), "--params", str(tmp_path / "w.json"), "--inputs", str(tmp_path / "x.json"),
                 "--seed", "3", "-o", str(tmp_path / "o.json")]) == 0
    doc = json.loads((tmp_path / "o.json").read_text())
    assert doc["columns"][:6] == ["output0", "output1[0]", "output1[1]", "output1[2]", "output1[3]", "output2"]
    assert len(doc["columns"]) == 1 + 4 + 1 + 1 + 1 + 50 and len(doc["values"]) == 2
    want = qcomp.compile(SRC).simulator().outputs([0.3, 0.7, -0.4], [[0.5], [1.2]])
    np.testing.assert_allclose(np.array(doc["values"])[:, 1:5], want[1], atol=1e-12)
    assert main(["run", str(f), "--params", str(tmp_path / "w.json"), "--inputs", str(tmp_path / "x.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "output1: probs q[2], q[0]" and lines[6].split()[:3] == ["sample", "output0", "output1[0]"]


BRIDGE_SRC = """
qubit q[2];
param w[2];
input x[2];
ry(x[0] * w[0]) q[0]; rx(x[1]) q[1]; cx q[0], q[1]; ry(w[1]) q[1];
var x(q[0]) + z(q[1]);
probs q[1], q[0];
expect z(q[0]) @ z(q[1]);
"""


def _columns_fd(model, w, x, wrt: str, h: float = 1e-6):
    """d columns / d (params or inputs) by central differences of Simulator.outputs, (B, C, n)."""
    sim = model.simulator()

    def cols(w_, x_):
        v = sim.outputs(w_, x_)
        return np.concatenate([np.asarray(a).reshape(len(x_), -1) for a in v], axis=1)

    base = w if wrt == "params" else x
    out = []
    for k in range(base.shape[-1]):
        e = np.zeros_like(base)
        e[..., k] = h
        if wrt == "params":
            out.append((cols(w + e, x) - cols(w - e, x)) / (2 * h))
        else:
            out.append((cols(w, x + e) - cols(w, x - e)) / (2 * h))
    return np.stack(out, axis=-1)


def test_torch_bridge_differentiates_var_and_probs_columns() -> None:
    torch = pytest.importorskip("torch")
    import qcomp.torch as qtorch

    layer = qtorch.QLayer(BRIDGE_SRC, init=[0.4, -0.7])
    assert layer.num_outputs == 1 + 4 + 1
    x = torch.tensor([[0.3, 1.2], [-0.5, 0.8]], dtype=torch.float64, requires_grad=True)
    y = layer(x)
    want = layer.model.simulator().outputs(np.array([0.4, -0.7]), x.detach().numpy())
    np.testing.assert_allclose(y.detach().numpy()[:, 0], want[0], atol=1e-12)
    np.testing.assert_allclose(y.detach().numpy()[:, 1:5], want[1], atol=1e-12)
    cot = torch.tensor(np.random.default_rng(0).normal(size=(2, 6)))
    (y * cot).sum().backward()
    fd_w = _columns_fd(layer.model, np.array([0.4, -0.7]), x.detach().numpy(), "params")
    fd_x = _columns_fd(layer.model, np.array([0.4, -0.7]), x.detach().numpy(), "inputs")
    np.testing.assert_allclose(layer.weight.grad.numpy(), np.einsum("bc,bcp->p", cot.numpy(), fd_w), atol=1e-7)
    np.testing.assert_allclose(x.grad.numpy(), np.einsum("bc,bci->bi", cot.numpy(), fd_x), atol=1e-7)


def test_jax_bridge_differentiates_var_and_probs_columns() -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import qcomp.jax as qjax

    f = qjax.make_jax_function(BRIDGE_SRC, input_grad=True)
    w, x = jnp.array([0.4, -0.7]), jnp.array([[0.3, 1.2], [-0.5, 0.8]])
    cot = np.random.default_rng(1).normal(size=(2, 6))
    gw, gx = jax.grad(lambda w_, x_: jnp.sum(f(w_, x_) * cot), argnums=(0, 1))(w, x)
    fd_w = _columns_fd(f.model, np.asarray(w), np.asarray(x), "params")
    fd_x = _columns_fd(f.model, np.asarray(w), np.asarray(x), "inputs")
    np.testing.assert_allclose(np.asarray(gw), np.einsum("bc,bcp->p", cot, fd_w), atol=1e-7)
    np.testing.assert_allclose(np.asarray(gx), np.einsum("bc,bci->bi", cot, fd_x), atol=1e-7)


def test_bridges_refuse_non_differentiable_outputs_clearly() -> None:
    torch_bridge = pytest.importorskip("qcomp.torch")
    with pytest.raises(UnsupportedError, match="declares samples outputs, which are not differentiable"):
        torch_bridge.QLayer(SRC)
    sklearn_bridge = pytest.importorskip("qcomp.sklearn")
    with pytest.raises(UnsupportedError, match="QNNClassifier takes models whose outputs are 'expect' values"):
        sklearn_bridge.QNNClassifier(BRIDGE_SRC).fit(np.zeros((4, 2)), [0, 1, 0, 1])
    hermitian_only = "const M = [[1, 2], [2, 0]];\nqubit q;\nparam w;\nry(w) q;\nexpect hermitian(M) q;\n"
    layer = torch_bridge.QLayer(hermitian_only)  # a Hermitian observable is an expectation: the plain path
    assert layer.columns.plain and layer.num_outputs == 1


def test_draw_lists_outputs_and_expectation_commands_refuse_other_kinds(tmp_path, capsys) -> None:
    from qcomp.cli import main

    f = tmp_path / "m.q"
    f.write_text(BRIDGE_SRC)
    assert main(["draw", str(f)]) == 0
    out = capsys.readouterr().out
    assert "q[1]:" in out and out.splitlines()[-2:] == ["output[1]: probs q[1], q[0]", "output[2]: z(q[0]) @ z(q[1])"]
    (tmp_path / "w.json").write_text("[0.1, 0.2]")
    for argv in (["grad", str(f), "-o", str(tmp_path / "g")],
                 ["train", str(f), "--data", "digits:3,6", "--epochs", "1"],
                 ["eval", str(f), "--params", str(tmp_path / "w.json"), "--data", "digits:3,6"]):
        assert main(argv) == 1
        assert "works on 'expect' outputs; this model declares probabilities, variance outputs" in capsys.readouterr().err
