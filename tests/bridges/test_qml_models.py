"""The QML benchmark study's models: circuits against PennyLane, gradients against finite differences, estimator API."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from qcomp.bridges import qml_models as M
from qcomp.bridges.sklearn import EstimatorDataError
from qcomp.errors import QCompError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "qml_benchmarks"
RNG = np.random.default_rng(7)
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "bridges"


@pytest.fixture(scope="module")
def qml():
    return pytest.importorskip("pennylane")


def _dev(qml, n):
    return qml.device("default.qubit", wires=n)


# -- circuits against the reference's PennyLane circuits (1e-8) --------------------------------------
@pytest.mark.parametrize("n, layers, repeats", [(2, 2, 1), (3, 3, 2), (5, 2, 1)])
def test_iqp_variational_circuit(qml, n, layers, repeats):
    W = RNG.uniform(0, 2 * np.pi, size=(layers, n, 3))
    X = RNG.uniform(-np.pi / 2, np.pi / 2, size=(3, n))

    @qml.qnode(_dev(qml, n))
    def ref(x):
        qml.IQPEmbedding(x, wires=range(n), n_repeats=repeats)
        qml.StronglyEntanglingLayers(W, wires=range(n), imprimitive=qml.CZ)
        return qml.expval(qml.PauliZ(0) @ qml.PauliZ(1))

    got = M._simulator(M.iqp_variational_source(n, layers, repeats)).expval(W.ravel(), X)[:, 0]
    np.testing.assert_allclose(got, [float(ref(x)) for x in X], atol=1e-8)


@pytest.mark.parametrize("d, layers", [(2, 2), (6, 3), (10, 2)])
def test_data_reuploading_circuit(qml, d, layers):
    n = math.ceil(d / 3)
    th = RNG.uniform(size=(n, layers + 1, 3))
    om = RNG.uniform(size=(layers + 1, 3 * n))
    X = np.pad(RNG.uniform(-1.5, 1.5, size=(3, d)), ((0, 0), (0, (3 - d) % 3)))

    @qml.qnode(_dev(qml, n))
    def ref(x):
        for layer in range(layers):
            for i in range(n):
                qml.Rot(*(x[3 * i:3 * i + 3] * om[layer, 3 * i:3 * i + 3]), wires=i)
                qml.Rot(*th[i, layer], wires=i)
            for i in range(layer % 2, n - 1, 2):  # broadcast patterns "double" / "double_odd"
                qml.CZ(wires=[i, i + 1])
        for i in range(n):
            qml.Rot(*(x[3 * i:3 * i + 3] * om[layers, 3 * i:3 * i + 3] + th[i, layers]), wires=i)
        return [qml.expval(qml.PauliZ(i)) for i in range(n)]

    sim = M._simulator(M.data_reuploading_source(n, layers))
    got = sim.expval(np.concatenate([th.ravel(), om.ravel()]), X)
    np.testing.assert_allclose(got, np.array([np.array(ref(x), dtype=float).reshape(-1) for x in X]), atol=1e-8)


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_amplitude_embedding_state(qml, m):
    """The Mottonen angles reproduce PennyLane's AmplitudeEmbedding state (signs included)."""
    V = RNG.normal(size=(3, 2**m))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    src = "\n".join([f"qubit q[{m}];", f"input a[{2**m - 1}];"] + M._amplitude_lines(m) + ["measure q;"])
    import qcomp

    states = qcomp.compile(src, optimize=0).simulator().state(None, M.amplitude_angles(V))
    # qcomp's index bit k is qubit k; PennyLane's wire 0 is the most significant bit
    perm = [int(format(i, f"0{m}b")[::-1], 2) for i in range(2**m)]
    for v, s in zip(V, states):
        @qml.qnode(_dev(qml, m))
        def ref():
            qml.AmplitudeEmbedding(v, wires=range(m))
            return qml.state()

        np.testing.assert_allclose(s[perm], np.asarray(ref()), atol=1e-8)


@pytest.mark.parametrize("d, copies, layers", [(2, 2, 2), (3, 2, 1), (5, 2, 2), (4, 1, 3)])
def test_circuit_centric_circuit(qml, d, copies, layers):
    clf = M.CircuitCentricClassifier(n_input_copies=copies, n_layers=layers)
    m = math.ceil(math.log2(d))
    n = m * copies
    W = RNG.uniform(0, 2 * np.pi, size=(layers, n, 3))
    X = RNG.normal(size=(3, d))
    Xp = M._pad_normalise(X, 2**m)

    @qml.qnode(_dev(qml, n))
    def ref(x):
        t = x
        for _ in range(copies - 1):
            t = np.kron(t, x)
        qml.AmplitudeEmbedding(t, wires=range(n))
        qml.StronglyEntanglingLayers(W, wires=range(n))
        return qml.expval(qml.PauliZ(0))

    got = M._simulator(clf.source(d)).expval(W.ravel(), clf._transform(X))[:, 0]
    np.testing.assert_allclose(got, [float(ref(x)) for x in Xp], atol=1e-8)


@pytest.mark.parametrize("d", [2, 3, 5, 17])
def test_tree_tensor_circuit(qml, d):
    clf = M.TreeTensorClassifier()
    n = clf.n_qubits_for(d)
    w = RNG.uniform(0, 2 * np.pi, size=2 * n - 1)
    X = RNG.normal(size=(3, d))
    Xp = M._pad_normalise(X, 2**n)

    @qml.qnode(_dev(qml, n))
    def ref(x):
        qml.AmplitudeEmbedding(x, normalize=True, wires=range(n))
        count = 0
        for layer in range(int(np.log2(n))):
            for q in range(0, n, 2**layer):
                qml.RY(w[count], wires=q)
                count += 1
            for i in range(0, n, 2 ** (layer + 1)):
                qml.CNOT(wires=[i + 2**layer, i])
        qml.RY(w[count], wires=0)
        return qml.expval(qml.PauliZ(0))

    got = M._simulator(clf.source(d)).expval(w, clf._transform(X))[:, 0]
    np.testing.assert_allclose(got, [float(ref(x)) for x in Xp], atol=1e-8)


@pytest.mark.parametrize("n, layers", [(2, 2), (3, 3), (5, 1)])
def test_dressed_circuit(qml, n, layers):
    w = RNG.uniform(0, 2 * np.pi, size=(layers, n))
    A = RNG.uniform(-np.pi / 2, np.pi / 2, size=(3, n))

    @qml.qnode(_dev(qml, n))
    def ref(a):
        for i in range(n):
            qml.Hadamard(wires=i)
            qml.RY(a[i], wires=i)
        for layer in range(layers):
            for i in range(n):
                qml.RY(w[layer, i], wires=i)
            ring = [[0, 1]] if n == 2 else [[i, (i + 1) % n] for i in range(n)]  # broadcast "ring"
            for pair in ring:
                qml.CNOT(wires=pair)
        return [qml.expval(qml.PauliZ(i)) for i in range(n)]

    rows = np.column_stack([A, np.tile(w.ravel(), (3, 1))])
    got = M._simulator(M.dressed_source(n, layers)).expval(rows, None)
    np.testing.assert_allclose(got, np.array([np.array(ref(a), dtype=float) for a in A]), atol=1e-8)


@pytest.mark.parametrize("n, layers", [(3, 1), (4, 3)])
def test_separable_circuit(qml, n, layers):
    W = RNG.uniform(0, 2 * np.pi, size=(n, layers + 1, 3))
    X = RNG.uniform(-np.pi / 2, np.pi / 2, size=(4, n))

    @qml.qnode(_dev(qml, 1))
    def one(w, x):
        for layer in range(layers):
            qml.Rot(*w[layer], wires=0)
            qml.RY(x, wires=0)
        qml.Rot(*w[layers], wires=0)
        return qml.expval(qml.PauliZ(0))

    clf = M.SeparableVariationalClassifier(encoding_layers=layers)
    P, Xr = clf._rows(W, X)
    got = M._simulator(clf.source()).expval(P, Xr)[:, 0].reshape(4, n).mean(axis=1)
    want = [np.mean([float(one(W[i], x[i])) for i in range(n)]) for x in X]
    np.testing.assert_allclose(got, want, atol=1e-8)


@pytest.mark.parametrize("n, repeats", [(2, 1), (4, 2), (4, 5)])
def test_iqp_kernel_matches_reference_kernel_circuit(qml, n, repeats):
    X1 = RNG.uniform(-np.pi / 2, np.pi / 2, size=(3, n))
    X2 = RNG.uniform(-np.pi / 2, np.pi / 2, size=(4, n))

    @qml.qnode(_dev(qml, n))
    def ref(x, y):
        qml.IQPEmbedding(x, wires=range(n), n_repeats=repeats)
        qml.adjoint(qml.IQPEmbedding(y, wires=range(n), n_repeats=repeats))
        return qml.probs()

    clf = M.IQPKernelClassifier(repeats=repeats, max_state_bytes=16 * 2**n * 2)  # forces 2-row blocks
    K = clf.gram(X1, X2)
    want = np.array([[float(ref(x, y)[0]) for y in X2] for x in X1])
    np.testing.assert_allclose(K, want, atol=1e-8)
    # the kernel-circuit form of the .q program (inv @) agrees as well
    kern = M._simulator(M.iqp_embedding_source(n, repeats, kernel=True))
    rows = np.array([np.concatenate([x, y]) for x in X1 for y in X2])
    np.testing.assert_allclose(kern.probs(None, rows)[:, 0].reshape(K.shape), want, atol=1e-8)


def _iqp_pennylane_033(qml, x, n, repeats):
    """PennyLane 0.33's IQPEmbedding(x, n_repeats=repeats) written out with today's PennyLane: its
    default pattern was an itertools.combinations iterator, used up by the first repetition, so
    only that one has the MultiRZ layer (checked against PennyLane 0.33.1 itself, docs/results.md)."""
    qml.IQPEmbedding(x, wires=range(n), n_repeats=1)
    for _ in range(repeats - 1):
        for i in range(n):
            qml.Hadamard(wires=i)
            qml.RZ(x[i], wires=i)


@pytest.mark.parametrize("n, repeats", [(2, 1), (3, 2), (4, 5)])
def test_iqp_entangle_first_repeat_only_is_pennylane_033s_embedding(qml, n, repeats):
    X1 = RNG.uniform(-np.pi / 2, np.pi / 2, size=(3, n))
    X2 = RNG.uniform(-np.pi / 2, np.pi / 2, size=(2, n))

    @qml.qnode(_dev(qml, n))
    def ref(x, y):
        _iqp_pennylane_033(qml, x, n, repeats)
        qml.adjoint(_iqp_pennylane_033)(qml, y, n, repeats)
        return qml.probs()

    want = np.array([[float(ref(x, y)[0]) for y in X2] for x in X1])
    K = M.IQPKernelClassifier(repeats=repeats, entangle_first_repeat_only=True).gram(X1, X2)
    np.testing.assert_allclose(K, want, atol=1e-8)
    kern = M._simulator(M.iqp_embedding_source(n, repeats, kernel=True, entangle_first_repeat_only=True))
    rows = np.array([np.concatenate([x, y]) for x in X1 for y in X2])
    np.testing.assert_allclose(kern.probs(None, rows)[:, 0].reshape(K.shape), want, atol=1e-8)
    if repeats > 1:  # the default (today's PennyLane) is a different embedding
        assert np.abs(M.IQPKernelClassifier(repeats=repeats).gram(X1, X2) - want).max() > 1e-3

    W = RNG.uniform(0, 2 * np.pi, size=(2, n, 3))

    @qml.qnode(_dev(qml, n))
    def ref_var(x):
        _iqp_pennylane_033(qml, x, n, repeats)
        qml.StronglyEntanglingLayers(W, wires=range(n), imprimitive=qml.CZ)
        return qml.expval(qml.PauliZ(0) @ qml.PauliZ(1))

    src = M.IQPVariationalClassifier(repeats=repeats, n_layers=2, entangle_first_repeat_only=True).source(n)
    got = M._simulator(src).expval(W.ravel(), X1)[:, 0]
    np.testing.assert_allclose(got, [float(ref_var(x)) for x in X1], atol=1e-8)


def _projected_reference(qml, n, rot, steps, evol, interleaved):
    """The projected kernel's features in PennyLane: Rot on every qubit, then the Trotter layers
    (``interleaved``: the layers after each qubit's Rot, as the study's first public code had it)."""

    def trotter(x):
        for _ in range(steps):
            for j in range(n - 1):
                qml.IsingXX(x[j] * evol, wires=[j, j + 1])
                qml.IsingYY(x[j] * evol, wires=[j, j + 1])
                qml.IsingZZ(x[j] * evol, wires=[j, j + 1])

    @qml.qnode(_dev(qml, n))
    def ref(x):
        for i in range(n):
            qml.Rot(*rot[i], wires=i)
            if interleaved:
                trotter(x)
        if not interleaved:
            trotter(x)
        return ([qml.expval(qml.PauliX(i)) for i in range(n)] + [qml.expval(qml.PauliY(i)) for i in range(n)]
                + [qml.expval(qml.PauliZ(i)) for i in range(n)])

    return ref


@pytest.mark.parametrize("d, steps, t", [(2, 5, 1 / 3), (4, 3, 0.7), (4, 5, 0.01)])
def test_projected_kernel_features(qml, d, steps, t):
    n = d + 1
    rot = RNG.uniform(0, 2 * np.pi, size=(n, 3))
    X = RNG.uniform(-np.pi / 2, np.pi / 2, size=(3, d))
    ref = _projected_reference(qml, n, rot, steps, t / steps * (n - 1), interleaved=False)
    got = M._simulator(M.projected_hamiltonian_source(n, steps, t)).expval(rot.ravel(), X)
    np.testing.assert_allclose(got, np.array([np.array(ref(x), dtype=float) for x in X]), atol=1e-8)


@pytest.mark.parametrize("d, steps, t", [(2, 1, 0.3), (4, 3, 0.01)])
def test_projected_kernel_trotter_after_each_rotation_is_the_studys_first_public_circuit(qml, d, steps, t):
    """XanaduAI/qml-benchmarks projected_quantum_kernel.py at f06e20c: the Trotter loop is indented
    inside the rotation loop. With it the study's linearly_separable 14 folds and its 5 seeds'
    train/test accuracies are reproduced exactly (docs/results.md; 15 qubits, too slow for a test)."""
    n = d + 1
    rot = RNG.uniform(0, 2 * np.pi, size=(n, 3))
    X = RNG.uniform(-np.pi / 2, np.pi / 2, size=(3, d))
    ref = _projected_reference(qml, n, rot, steps, t / steps * (n - 1), interleaved=True)
    clf = M.ProjectedQuantumKernel(t=t, trotter_steps=steps, trotter_after_each_rotation=True)
    got = M._simulator(clf.source(d)).expval(rot.ravel(), X)
    want = np.array([np.array(ref(x), dtype=float) for x in X])
    np.testing.assert_allclose(got, want, atol=1e-8)
    default = M._simulator(M.ProjectedQuantumKernel(t=t, trotter_steps=steps).source(d)).expval(rot.ravel(), X)
    assert np.abs(default - want).max() > 1e-6


def test_projected_iqp_features(qml):
    n = 3
    X = RNG.uniform(-np.pi / 2, np.pi / 2, size=(2, n))

    @qml.qnode(_dev(qml, n))
    def ref(x):
        qml.IQPEmbedding(x, wires=range(n), n_repeats=2)
        return ([qml.expval(qml.PauliX(i)) for i in range(n)] + [qml.expval(qml.PauliY(i)) for i in range(n)]
                + [qml.expval(qml.PauliZ(i)) for i in range(n)])

    got = M._simulator(M.projected_iqp_source(n)).expval(None, X)
    np.testing.assert_allclose(got, np.array([np.array(ref(x), dtype=float) for x in X]), atol=1e-8)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_kitchen_sinks_distribution(qml, n):
    X = RNG.uniform(-3, 3, size=(3, n))

    @qml.qnode(_dev(qml, n))
    def ref(x):
        for i in range(n):
            qml.RX(x[i], wires=i)
        for i in range(0, n - 1, 2):  # broadcast "double"
            qml.CNOT(wires=[i, i + 1])
        for i in range(n - 2):
            qml.CNOT(wires=[i, i + 2])
        return qml.probs(wires=range(n))

    got = M._simulator(M.quantum_kitchen_sinks_source(n)).probs(None, X, qubits=list(range(n)))
    perm = [int(format(i, f"0{n}b")[::-1], 2) for i in range(2**n)]  # PennyLane: wire 0 most significant
    np.testing.assert_allclose(got[:, perm], np.array([np.asarray(ref(x)) for x in X]), atol=1e-8)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6])
def test_kitchen_sinks_shots_have_the_compiled_programs_distribution(n):
    """The O(n) sampler (independent RX bits pushed through the CNOT network) has exactly the
    output distribution of the compiled circuit."""
    X = RNG.uniform(-3, 3, size=(4, n))
    want = M._simulator(M.quantum_kitchen_sinks_source(n)).probs(None, X, qubits=list(range(n)))
    before = (np.arange(2**n)[:, None] >> np.arange(n)[None]) & 1  # bit k of the index is qubit k
    after = M.kitchen_sinks_cnots(before) @ (1 << np.arange(n))
    p1 = np.sin(X / 2) ** 2
    p_before = np.prod(np.where(before[None] == 1, p1[:, None, :], 1 - p1[:, None, :]), axis=2)
    got = np.zeros_like(want)
    for k in range(2**n):
        got[:, after[k]] += p_before[:, k]
    np.testing.assert_allclose(got, want, atol=1e-12)
    # and the sampler draws from it: a deterministic case (angles 0 and pi) and frequencies
    shots = M.kitchen_sinks_shots(np.array([[np.pi] + [0.0] * (n - 1)] * 3), np.random.default_rng(0))
    np.testing.assert_array_equal(shots, M.kitchen_sinks_cnots(np.array([[1] + [0] * (n - 1)] * 3)))
    many = M.kitchen_sinks_shots(np.repeat(X[:1], 20000, axis=0), np.random.default_rng(1))
    freq = np.bincount(many @ (1 << np.arange(n)), minlength=2**n) / 20000
    assert np.abs(freq - want[0]).max() < 0.02


def test_kitchen_sinks_shared_key_shots_are_the_studys_pennylane_033_shots():
    """``shared_shot_key``: the bits the study's code drew under PennyLane 0.33.1 (golden file,
    generated outside qcomp), reproduced exactly from the angles and the key's one uniform."""
    golden = json.loads((GOLDEN / "kitchen_sinks_pennylane033_shots.json").read_text())
    for case in golden["cases"]:
        angles, bits = np.array(case["angles"]), np.array(case["bits"])
        np.testing.assert_array_equal(M.kitchen_sinks_quantile_shots(angles, case["u"]), bits)
        assert not np.array_equal(M.kitchen_sinks_quantile_shots(angles, 1 - case["u"]), bits)


@pytest.mark.parametrize("n", [1, 2, 4, 7])
def test_kitchen_sinks_shared_key_shots_are_the_inverse_cdf(n):
    """The O(n) descent equals a search in the compiled program's cumulative distribution (basis
    order, qubit 0 most significant) at 1 - u, for many u."""
    X = RNG.uniform(-3, 3, size=(6, n))
    probs = M._simulator(M.quantum_kitchen_sinks_source(n)).probs(None, X, qubits=list(range(n)))
    perm = [int(format(i, f"0{n}b")[::-1], 2) for i in range(2**n)]  # qcomp: qubit 0 least significant
    cum = np.cumsum(probs[:, perm], axis=1)
    for u in np.random.default_rng(n).uniform(size=25):
        index = np.array([np.searchsorted(c, c[-1] * (1 - u)) for c in cum])
        want = (index[:, None] >> np.arange(n - 1, -1, -1)) & 1
        np.testing.assert_array_equal(M.kitchen_sinks_quantile_shots(X, u), want)


def test_kitchen_sinks_shared_key_is_deterministic_and_default_is_not():
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, size=(30, 4))
    y = np.where(X[:, 0] + X[:, 1] > 0, 1, -1)
    copies = np.repeat(X[:1], 200, axis=0)
    shared = M.QuantumKitchenSinks(n_episodes=5, shared_shot_key=True, random_state=1).fit(X, y)
    f = shared.quantum_features(shared.scaler_.transform(copies))
    assert len(np.unique(f, axis=0)) == 1
    np.testing.assert_array_equal(shared.quantum_features(shared.scaler_.transform(X)),
                                  shared.quantum_features(shared.scaler_.transform(X)))
    fresh = M.QuantumKitchenSinks(n_episodes=5, random_state=1).fit(X, y)
    assert len(np.unique(fresh.quantum_features(fresh.scaler_.transform(copies)), axis=0)) > 1


def test_kitchen_sinks_is_seeded_and_fast_at_many_qubits():
    """16 features, 'full': 16-qubit shots without a 2^16-amplitude simulation per shot."""
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, size=(40, 16))
    y = np.where(X[:, 0] > 0, 1, -1)
    a = M.QuantumKitchenSinks(n_episodes=50, random_state=7).fit(X, y)
    b = M.QuantumKitchenSinks(n_episodes=50, random_state=7).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert a.quantum_features(a.scaler_.transform(X)).shape == (40, 50 * 16)


# -- losses and their gradients against finite differences ------------------------------------------
VARIATIONAL = [
    (M.IQPVariationalClassifier, dict(n_layers=2, repeats=1), 3),
    (M.DataReuploadingClassifier, dict(n_layers=2, observable_type="full"), 5),
    (M.DataReuploadingClassifier, dict(n_layers=2, observable_type="half"), 7),
    (M.CircuitCentricClassifier, dict(n_layers=2), 3),
    (M.TreeTensorClassifier, dict(), 5),
    (M.DressedQuantumCircuitClassifier, dict(n_layers=2), 3),
    (M.SeparableVariationalClassifier, dict(encoding_layers=2), 3),
]


@pytest.mark.parametrize("cls, kw, d", VARIATIONAL, ids=lambda v: getattr(v, "__name__", str(v)))
def test_loss_gradient_finite_differences(monkeypatch, cls, kw, d):
    captured = {}

    def capture(self, X, y, params, loss_grad, rng):
        captured.update(X=X, y=y, params=params, loss_grad=loss_grad)
        return params

    monkeypatch.setattr(M._Variational, "_fit_params", capture)
    X = RNG.normal(size=(12, d))
    y = np.where(X[:, 0] > 0, 1, -1)
    cls(**kw).fit(X, y)
    p, lg = captured["params"], captured["loss_grad"]
    xb, yb = captured["X"][:6], captured["y"][:6]
    _, grads = lg(p, xb, yb)
    eps = 1e-6
    for name, value in p.items():
        flat = np.array(value, dtype=float).ravel()
        for k in RNG.choice(flat.size, size=min(flat.size, 5), replace=False):
            up, dn = flat.copy(), flat.copy()
            up[k] += eps
            dn[k] -= eps
            lu = lg({**p, name: up.reshape(np.shape(value))}, xb, yb)[0]
            ld = lg({**p, name: dn.reshape(np.shape(value))}, xb, yb)[0]
            assert np.ravel(grads[name])[k] == pytest.approx((lu - ld) / (2 * eps), abs=1e-6), (name, k)


def test_iqp_variational_loss_is_the_studys():
    clf = M.IQPVariationalClassifier(n_layers=1, max_steps=1, convergence_interval=None)
    X = RNG.normal(size=(8, 2))
    y = np.array([1, -1] * 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    f = clf.decision_function(X)
    assert np.all(np.abs(f) <= 1 + 1e-12)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], (1 + f) / 2)


# -- estimator behaviour ---------------------------------------------------------------------------
def _easy(n=60, d=2, seed=0):
    rng = np.random.default_rng(seed)
    # positive features: amplitude encodings see directions only (and kron(x, x) cannot tell x from -x)
    X = rng.uniform(0, 1, size=(n, d))
    return X, np.where(X[:, 0] > X[:, 1], 1, -1)


FAST = {
    "IQPVariationalClassifier": dict(n_layers=2, max_steps=150, convergence_interval=None, learning_rate=0.05),
    "DataReuploadingClassifier": dict(n_layers=2, max_steps=150, convergence_interval=None),
    "CircuitCentricClassifier": dict(n_layers=2, max_steps=150, convergence_interval=None, learning_rate=0.05),
    "DressedQuantumCircuitClassifier": dict(n_layers=1, max_steps=200, convergence_interval=None, learning_rate=0.05),
    "TreeTensorClassifier": dict(max_steps=150, convergence_interval=None, learning_rate=0.05),
    "SeparableVariationalClassifier": dict(max_steps=150, convergence_interval=None, learning_rate=0.05),
    "IQPKernelClassifier": dict(repeats=1),
    "ProjectedQuantumKernel": dict(),
    "QuantumKitchenSinks": dict(n_episodes=20),
}


@pytest.mark.parametrize("name", sorted(M.STUDY_MODELS))
def test_estimator_api(name):
    X, y = _easy()
    labels = np.where(y > 0, "pos", "neg")
    clf = M.STUDY_MODELS[name](**FAST[name])
    assert clone(clf).get_params() == clf.get_params()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, labels)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(axis=1), 1.0)
    pred = clf.predict(X)
    assert set(pred) <= {"neg", "pos"}
    assert list(clf.classes_) == ["neg", "pos"]
    # every model learns this linearly separable toy problem clearly above chance
    assert clf.score(X, labels) >= 0.7, name
    with pytest.raises(EstimatorDataError, match="features"):
        clf.predict(X[:, :1])


def test_variational_is_seeded_and_records_history():
    X, y = _easy(40)
    kw = dict(n_layers=1, max_steps=30, convergence_interval=None, random_state=3)
    a = M.DataReuploadingClassifier(**kw).fit(X, y)
    b = M.DataReuploadingClassifier(**kw).fit(X, y)
    np.testing.assert_array_equal(a.loss_history_, b.loss_history_)
    assert a.n_iter_ == 30 and not a.converged_


def test_convergence_rule_stops_early():
    X, y = _easy(40)
    clf = M.DressedQuantumCircuitClassifier(n_layers=1, learning_rate=0.05, convergence_interval=10, max_steps=2000)
    clf.fit(X, y)
    assert clf.converged_ and 21 < clf.n_iter_ < 2000


def test_not_converging_warns():
    X, y = _easy(20)
    with pytest.warns(Warning, match="has not converged after 5 steps"):
        M.TreeTensorClassifier(max_steps=5, convergence_interval=10).fit(X, y)


def test_grid_search_cv():
    X, y = _easy(48)
    grid = GridSearchCV(M.IQPKernelClassifier(), {"repeats": [1, 2], "C": [0.1, 10.0]}, cv=3)
    grid.fit(X, y)
    assert set(grid.best_params_) == {"repeats", "C"} and grid.best_score_ > 0.6


@pytest.mark.parametrize("bad, match", [
    (dict(y=[0, 1, 2] * 10), "exactly 2 classes"),
    (dict(X=[[np.nan, 1.0]] * 30), "NaN"),
])
def test_bad_data(bad, match):
    X, y = _easy(30)
    X = bad.get("X", X)
    y = bad.get("y", y)
    with pytest.raises(EstimatorDataError, match=match):
        M.TreeTensorClassifier(max_steps=2).fit(X, y)


@pytest.mark.parametrize("clf, match", [
    (M.DataReuploadingClassifier(observable_type="most", max_steps=2), "observable_type"),
    (M.ProjectedQuantumKernel(embedding="ZZ"), "embedding"),
    (M.IQPVariationalClassifier(n_layers=0), "n_layers"),
    (M.QuantumKitchenSinks(n_qfeatures="many"), "n_qfeatures"),
    (M.QuantumKitchenSinks(shared_shot_key="False"), "shared_shot_key"),
    (M.IQPKernelClassifier(entangle_first_repeat_only=1), "entangle_first_repeat_only"),
    (M.ProjectedQuantumKernel(trotter_after_each_rotation="yes"), "trotter_after_each_rotation"),
    (M.IQPKernelClassifier(max_state_bytes="1 GiB"), "max_state_bytes"),
    (M.IQPKernelClassifier(max_state_bytes=0), "max_state_bytes"),
])
def test_bad_hyperparameters(clf, match):
    X, y = _easy(20)
    with pytest.raises(QCompError, match=match):
        clf.fit(X, y)


def test_exported_from_qcomp_sklearn():
    import qcomp.sklearn as sk

    for name in M.STUDY_MODELS:
        assert getattr(sk, name) is M.STUDY_MODELS[name]


def _expected_examples() -> dict[str, str]:
    return M.example_sources()


def test_example_files_are_current():
    import qcomp

    for name, src in _expected_examples().items():
        path = EXAMPLES / name
        assert path.read_text() == src, f"{path} is stale"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = qcomp.compile(path)
            assert model.num_outputs >= 1 or model.program.measured


# -- the study runner (benchmarks/qml_study.py), small: two sizes, a few steps ----------------------
def _runner():
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "qml_study.py"
    spec = importlib.util.spec_from_file_location("qml_study_runner", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _fake_study_data(tmp_path, monkeypatch, sizes=(2,), seed=0) -> None:
    """linearly_separable train (40 rows) and test (20 rows) CSVs in the study's layout at ``sizes``,
    label = sign of the first feature, pointed to by $QCOMP_QML_BENCHMARKS_DATA."""
    root = tmp_path / "data"
    (root / "linearly_separable").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for d in sizes:
        for split, n in (("train", 40), ("test", 20)):
            X = rng.uniform(-1, 1, size=(n, d))
            np.savetxt(root / "linearly_separable" / f"linearly_separable_{d}d_{split}.csv",
                       np.column_stack([X, np.where(X[:, 0] > 0, 1.0, -1.0)]), delimiter=",")
    monkeypatch.setenv("QCOMP_QML_BENCHMARKS_DATA", str(root))


def test_study_runner_small_grid_resumes(tmp_path, monkeypatch, capsys):
    import csv

    _fake_study_data(tmp_path, monkeypatch, sizes=(2, 3), seed=1)
    runner = _runner()
    out = tmp_path / "results.csv"
    args = ["--cells", "linearly_separable:2-3", "--models", "IQPKernelClassifier,TreeTensorClassifier,SVC",
            "--max-steps", "5", "--results", str(out)]
    runner.main(args)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 6 and {r["model"] for r in rows} == {"IQPKernelClassifier", "TreeTensorClassifier", "SVC"}
    assert all(0.0 <= float(r["test_acc"]) <= 1.0 for r in rows)
    assert all(int(r["steps"]) <= 5 for r in rows if r["model"] == "TreeTensorClassifier")
    runner.main(args)  # resumes: nothing left to run
    assert "0 cells to run (6 already" in capsys.readouterr().out
    assert len(list(csv.DictReader(out.open()))) == 6
    runner.main(["--table", "--results", str(out)])
    assert "| linearly_separable | 2 | IQPKernelClassifier |" in capsys.readouterr().out
    pytest.importorskip("matplotlib")
    runner.main(["--plot-only", "--results", str(out), "--plot", str(tmp_path / "fig.png")])
    assert (tmp_path / "fig.png").stat().st_size > 1000


def test_study_runner_reruns_a_cell_when_its_hyperparameters_change(tmp_path, monkeypatch, capsys):
    """A cell that ran with the defaults is not 'done' once the study's best hyperparameters for it
    are transcribed: it runs again with them, and --table shows only the current setting."""
    import csv

    _fake_study_data(tmp_path, monkeypatch, seed=2)
    runner = _runner()
    pub = tmp_path / "published.csv"
    monkeypatch.setattr(runner, "PUBLISHED", pub)  # none yet: defaults
    out = tmp_path / "results.csv"
    args = ["--cells", "linearly_separable:2", "--models", "SVC,Perceptron", "--results", str(out)]
    runner.main(args)
    pub.write_text("model,family,size,params,published_cv_mean,published_cv_std,published_test_mean,"
                   "published_test_std,source\n"
                   "SVC,linearly_separable,2,\"{'C': 10.0, 'gamma': 0.1}\",0.9,0.01,,,made-up test row\n")
    capsys.readouterr()
    runner.main(args)
    assert "1 cells to run (2 already" in capsys.readouterr().out
    rows = list(csv.DictReader(out.open()))
    assert [(r["model"], r["hyperparams"]) for r in rows] == [
        ("SVC", "defaults"), ("Perceptron", "defaults"), ("SVC", "published best")]
    runner.main(args)
    assert "0 cells to run (3 already" in capsys.readouterr().out
    runner.main(["--table", "--results", str(out)])
    table = capsys.readouterr().out
    assert "| linearly_separable | 2 | SVC | C=10.0, gamma=0.1 |" in table
    assert "| linearly_separable | 2 | SVC | defaults |" not in table
    assert "| linearly_separable | 2 | Perceptron | defaults |" in table


def test_published_hyperparameters_are_valid_for_the_estimators():
    """Every row of benchmarks/qml_study_published.csv builds its estimator (no unknown names)."""
    runner = _runner()
    for (model, _, _), row in runner.published().items():
        import ast

        params = ast.literal_eval(row["params"])
        est = runner.make(model, params, seed=0, max_steps=None)
        for k, v in params.items():
            if k not in ("batch_size",) or model in runner.CLASSICAL:
                assert est.get_params()[k] == v, (model, k)


def _study_root():
    from qcomp.train.data import default_study_root

    root = default_study_root()
    if root is None or not (root / "linearly_separable").is_dir():
        pytest.skip("the study's datasets (shared/datasets/qml-benchmarks) are not present")
    return root


@pytest.mark.parametrize("d, folds", [
    # XanaduAI/qml-benchmarks paper/results/linearly_separable/IQPKernelClassifier/..._{d}d_GridSearchCV.csv,
    # row C=10, repeats=1: split0..4_test_accuracy of the study's 5-fold CV on the same training data
    (4, [0.9375, 0.875, 0.9375, 0.8541666666666666, 0.9166666666666666]),
    (10, [0.8333333333333334, 0.9166666666666666, 0.75, 0.7291666666666666, 0.8541666666666666]),
])
def test_iqp_kernel_reproduces_the_studys_cross_validation(d, folds):
    """The kernel model is deterministic, so the study's published per-fold accuracies (scikit-learn's
    default 5-fold split) are reproduced exactly by the same estimator on the same data."""
    from sklearn.model_selection import cross_val_score

    from qcomp.train.data import load_study_dataset

    ds = load_study_dataset("linearly_separable", d, root=_study_root())
    got = cross_val_score(M.IQPKernelClassifier(C=10.0, repeats=1), ds.x_train, ds.y_train, cv=5)
    np.testing.assert_allclose(got, folds, atol=1e-12)


@pytest.mark.parametrize("model, family, d, params, folds", [
    # XanaduAI/qml-benchmarks paper/results/<family>/<model>/..._GridSearchCV.csv: the rank-1 row's
    # split0..4_test_accuracy (the study's 5-fold CV on the same training data)
    ("IQPKernelClassifier", "hidden_manifold", 4, {"C": 1.0, "repeats": 1},
     [0.7708333333333334, 0.7291666666666666, 0.7083333333333334, 0.75, 0.7083333333333334]),
    ("IQPKernelClassifier", "linearly_separable", 6, {"C": 1.0, "repeats": 1},
     [0.8541666666666666, 0.8958333333333334, 0.875, 0.9166666666666666, 0.9583333333333334]),
    ("IQPKernelClassifier", "linearly_separable", 2, {"C": 100.0, "repeats": 1},
     [1.0, 0.9791666666666666, 0.9791666666666666, 1.0, 1.0]),
    # two_curves (degree 5) at 4 features: the study's grid for this cell ran with max_vmap=100
    ("ProjectedQuantumKernel", "two_curves", 4, {"C": 100.0, "gamma_factor": 10.0, "t": 0.1, "trotter_steps": 1},
     [0.9791666666666666, 0.9791666666666666, 0.9791666666666666, 1.0, 0.875]),
])
def test_kernels_reproduce_the_studys_cross_validation_on_more_cells(model, family, d, params, folds):
    """The same exactness on other datasets, for the projected kernel too (its random rotations are
    drawn from numpy's default_rng(42) in both implementations)."""
    from sklearn.model_selection import cross_val_score

    from qcomp.train.data import load_study_dataset

    ds = load_study_dataset(family, d, root=_study_root())
    got = cross_val_score(getattr(M, model)(**params), ds.x_train, ds.y_train, cv=5)
    np.testing.assert_allclose(got, folds, atol=1e-12)


@pytest.mark.parametrize("family, d, C, repeats, folds", [
    # XanaduAI/qml-benchmarks paper/results/<family>/IQPKernelClassifier/..._GridSearchCV.csv, the rows
    # with repeats > 1 (split0..4_test_accuracy); the study ran PennyLane 0.33, whose IQPEmbedding
    # entangled only in the first repetition (docs/results.md)
    ("hidden_manifold", 4, 1.0, 5, [0.6041666666666666, 0.6875, 0.625, 0.6041666666666666, 0.625]),
    ("hidden_manifold", 4, 100.0, 10, [0.625, 0.5833333333333334, 0.5416666666666666, 0.6458333333333334, 0.5]),
    ("linearly_separable", 6, 1.0, 5, [0.6458333333333334, 0.625, 0.6041666666666666, 0.6041666666666666, 0.5625]),
    # two_curves (degree 5) at 4 features: the study's best row (file named two_manifold-..., sic)
    ("two_curves", 4, 100.0, 5, [0.9166666666666666, 1.0, 0.9583333333333334, 1.0, 0.8958333333333334]),
    # the best rows of hidden_manifold 6 (C=1) and two_curves 6 (C=10; two_manifold-..., sic)
    ("hidden_manifold", 6, 1.0, 5, [0.8333333333333334, 0.8541666666666666, 0.7083333333333334, 0.7916666666666666,
                                    0.8333333333333334]),
    ("two_curves", 6, 10.0, 5, [1.0, 1.0, 0.9791666666666666, 0.9583333333333334, 0.9375]),
])
def test_iqp_kernel_reproduces_the_studys_repeats_rows_with_pennylane_033s_embedding(family, d, C, repeats, folds):
    """Opt-in ``entangle_first_repeat_only`` reproduces the study's per-fold CV accuracies of its
    repeats > 1 rows exactly; the default (IQPEmbedding as PennyLane >= 0.34 defines it) does not."""
    from sklearn.model_selection import cross_val_score

    from qcomp.train.data import load_study_dataset

    ds = load_study_dataset(family, d, root=_study_root())
    got = cross_val_score(M.IQPKernelClassifier(C=C, repeats=repeats, entangle_first_repeat_only=True),
                          ds.x_train, ds.y_train, cv=5)
    np.testing.assert_allclose(got, folds, atol=1e-12)
    default = cross_val_score(M.IQPKernelClassifier(C=C, repeats=repeats), ds.x_train, ds.y_train, cv=5)
    assert np.abs(default - folds).max() > 0.01


def test_iqp_variational_linearly_separable_2_reaches_the_studys_cv_and_the_test_split_is_lower():
    """The study's best row at 2 features (learning_rate=0.01, n_layers=10, repeats=1) has CV 0.825 +- 0.034
    (folds 0.833, 0.8125, 0.771, 0.875, 0.833) and no published test accuracy. qcomp's CV on the same
    training data is at that level; its test accuracy is about 0.67, as the study's own code gets on this
    test split (re-typed f06e20c under PennyLane 0.33.1, seeds 0-4: 0.700, 0.683, 0.650, 0.700, 0.650;
    docs/results.md). So the gap in the results table is the test split, not the model."""
    from sklearn.model_selection import cross_val_score

    from qcomp.train.data import load_study_dataset

    ds = load_study_dataset("linearly_separable", 2, root=_study_root())
    est = M.IQPVariationalClassifier(learning_rate=0.01, n_layers=10, repeats=1)
    cv = cross_val_score(est, ds.x_train, ds.y_train, cv=5)
    assert abs(cv.mean() - 0.825) <= 2 * 0.034, cv
    test = est.fit(ds.x_train, ds.y_train).score(ds.x_test, ds.y_test)
    assert test < 0.75, test


def test_study_runner_agreement_column():
    runner = _runner()
    assert runner.agreement(0.9, {"published_test_mean": "0.8933", "published_test_std": "0.0226"}) == "+0.007 ✓"
    assert runner.agreement(0.75, {"published_test_mean": "0.9000", "published_test_std": "0.0200"}) == "-0.150 ✗"
    assert runner.agreement(0.95, {"published_test_mean": "", "published_cv_mean": "0.9625",
                                   "published_cv_std": "0.0000"}) == "-0.013 cv ✓"  # within one test sample
    assert runner.agreement(0.95, {}) == ""
    # one test sample off, as the 4-decimal CSV values give it (1.0000 - 0.9833 > 1/60)
    assert runner.agreement(0.9833, {"published_cv_mean": "1.0000", "published_cv_std": "0.0000"}) == "-0.017 cv ✓"
    assert runner.agreement(0.9667, {"published_cv_mean": "1.0000", "published_cv_std": "0.0000"}) == "-0.033 cv ✗"


def test_iqp_kernel_blocked_training_gram_is_the_unblocked_one_and_symmetric():
    """The training Gram matrix in 2-row blocks (upper blocks simulated, lower ones mirrored) equals
    the one-block matrix, symmetric (mirrored blocks exactly), with a unit diagonal; test-vs-train
    blocks likewise."""
    n = 3
    X = RNG.uniform(-np.pi / 2, np.pi / 2, size=(7, n))
    Y = RNG.uniform(-np.pi / 2, np.pi / 2, size=(5, n))
    whole = M.IQPKernelClassifier(repeats=2)
    blocked = M.IQPKernelClassifier(repeats=2, max_state_bytes=16 * 2**n * 2)
    K = blocked.gram(X, X)
    np.testing.assert_allclose(K, whole.gram(X, X), atol=1e-12)
    assert np.array_equal(K[2:, :2], K[:2, 2:].T)  # mirrored blocks
    np.testing.assert_allclose(K, K.T, atol=1e-14)
    np.testing.assert_allclose(np.diag(K), 1.0, atol=1e-12)
    np.testing.assert_allclose(blocked.gram(Y, X), whole.gram(Y, X), atol=1e-12)


@pytest.mark.parametrize("rows_per_chunk", [6, 7])
def test_separable_step_is_the_same_when_chunks_split_the_batch(monkeypatch, rows_per_chunk):
    """The separable model's step takes loss and gradient from one sweep when every memory chunk
    holds whole samples (rows per chunk a multiple of the qubits), else from expval + vjp: both
    give the fit of one unchunked sweep."""
    import qcomp

    X = RNG.uniform(-1, 1, size=(20, 3))
    y = np.where(X.sum(axis=1) > 0, 1, -1)
    kw = dict(encoding_layers=2, max_steps=5, convergence_interval=None, learning_rate=0.05, batch_size=8)
    want = M.SeparableVariationalClassifier(**kw).fit(X, y)
    chunked = qcomp.compile(M.separable_source(2), cache=False).simulator(batch_size=rows_per_chunk)
    assert chunked.memory_plan(8 * 3, gradient=True)["chunks"] > 1
    monkeypatch.setattr(M, "_simulator", lambda source: chunked)
    got = M.SeparableVariationalClassifier(**kw).fit(X, y)
    np.testing.assert_allclose(got.loss_history_, want.loss_history_, rtol=0, atol=1e-13)
    np.testing.assert_allclose(got.params_["weights"], want.params_["weights"], rtol=0, atol=1e-13)


def test_study_runner_reruns_a_capped_cell_with_a_larger_cap(tmp_path, monkeypatch, capsys):
    """A variational cell that stopped at its step cap is done only for runs with no larger cap: a
    larger cap (or none) runs it again, and --table shows the rerun's row, not both."""
    import csv

    _fake_study_data(tmp_path, monkeypatch, seed=3)
    runner = _runner()
    monkeypatch.setattr(runner, "PUBLISHED", tmp_path / "none.csv")
    out = tmp_path / "results.csv"
    base = ["--cells", "linearly_separable:2", "--models", "TreeTensorClassifier,SVC", "--results", str(out)]
    runner.main([*base, "--max-steps", "3"])
    capsys.readouterr()
    runner.main([*base, "--max-steps", "3"])  # same cap: nothing to do
    assert "0 cells to run (2 already" in capsys.readouterr().out
    runner.main([*base, "--max-steps", "5"])  # larger cap: the capped cell again, not SVC
    assert "1 cells to run (2 already" in capsys.readouterr().out
    rows = list(csv.DictReader(out.open()))
    assert [(r["model"], r["steps"], r["converged"]) for r in rows][-1] == ("TreeTensorClassifier", "5", "False")
    assert len(rows) == 3
    runner.main([*base, "--max-steps", "4"])  # smaller cap than the latest row: done
    assert "0 cells to run (2 already" in capsys.readouterr().out
    runner.main(["--table", "--results", str(out)])
    table = [line for line in capsys.readouterr().out.splitlines() if "TreeTensorClassifier" in line]
    assert len(table) == 1 and table[0].rstrip(" |").endswith("5*"), table


@pytest.mark.parametrize("argv, message", [
    (["--models", "Foo"], "unknown model(s) Foo"),
    (["--cells", "linearly_separable:x"], "bad size range 'x'"),
    (["--cells", "linearly_separable:4-2"], "bad size range '4-2'"),
    (["--cells", "circles:2"], "unknown dataset family 'circles'"),
    (["--repeats", "0"], "must be at least 1"),
    (["--max-steps", "0"], "must be at least 1"),
])
def test_study_runner_rejects_bad_arguments_before_any_work(tmp_path, capsys, argv, message):
    out = tmp_path / "results.csv"
    with pytest.raises(SystemExit) as e:
        _runner().main([*argv, "--results", str(out)])
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert not out.exists()


def test_study_runner_checks_every_dataset_file_before_the_first_cell(tmp_path, monkeypatch):
    _fake_study_data(tmp_path, monkeypatch, seed=4)
    out = tmp_path / "results.csv"
    with pytest.raises(SystemExit) as e:  # size 2 exists, size 3 does not: nothing runs
        _runner().main(["--cells", "linearly_separable:2-3", "--models", "SVC", "--results", str(out)])
    assert "2 dataset file(s) not found" in str(e.value.code) and "linearly_separable_3d" in str(e.value.code)
    assert not out.exists()
