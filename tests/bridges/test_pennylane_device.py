"""qcomp.qubit, the PennyLane device: results and derivatives against default.qubit, shots, batching, errors."""

from __future__ import annotations


import numpy as np
import pytest

qml = pytest.importorskip("pennylane")
from pennylane import numpy as pnp  # noqa: E402

from qcomp.bridges.pennylane import QCompDeviceError, QCompQubit  # noqa: E402
from qcomp.errors import QCompError  # noqa: E402

ONE_QUBIT = [qml.RX, qml.RY, qml.RZ, qml.PhaseShift, qml.Hadamard, qml.S, qml.T, qml.SX, qml.PauliY]
TWO_QUBIT = [qml.CNOT, qml.CZ, qml.CRX, qml.CRY, qml.IsingXX, qml.IsingYY, qml.IsingZZ, qml.SWAP, qml.ISWAP,
             qml.ControlledPhaseShift, qml.CY, qml.CH]


def random_ops(seed: int, n: int, depth: int, x=None):
    """A random circuit as a list of (gate, wires, uses_param) steps; ``x`` feeds every angle."""
    rng = np.random.default_rng(seed)
    steps = []
    for _ in range(depth):
        if rng.random() < 0.5:
            gate = ONE_QUBIT[rng.integers(len(ONE_QUBIT))]
            wires = [int(rng.integers(n))]
        else:
            gate = TWO_QUBIT[rng.integers(len(TWO_QUBIT))]
            wires = [int(w) for w in rng.choice(n, size=2, replace=False)]
        steps.append((gate, wires, float(rng.uniform(-np.pi, np.pi))))
    return steps


def apply(steps, w):
    """Apply steps; parametric gates take angle ``scale * w[k % len(w)]`` (w may be broadcast)."""
    k = 0
    for gate, wires, scale in steps:
        if gate.num_params:
            gate(scale * w[..., k % w.shape[-1]] if hasattr(w, "shape") else w, wires=wires)
            k += 1
        else:
            gate(wires=wires)
    # extras that qcomp lacks and PennyLane decomposes, or that lower to several gates
    qml.Rot(w[..., 0], 0.3, w[..., 1], wires=0)
    qml.MultiRZ(0.7, wires=[0, 1, 2])
    qml.adjoint(qml.S(1))
    qml.U2(0.2, -0.4, wires=2)
    qml.PauliRot(0.5, "XY", wires=[0, 2])


def measured(kind):
    if kind == "expval":
        return [qml.expval(qml.PauliZ(0) @ qml.PauliX(1)), qml.expval(0.5 * qml.PauliY(2) + qml.PauliZ(1)),
                qml.expval(qml.Hermitian(np.array([[1.0, 0.5], [0.5, -1.0]]), wires=2))]
    if kind == "var":
        return [qml.var(qml.PauliX(0)), qml.var(qml.PauliZ(0) @ qml.PauliZ(2) + 0.3 * qml.PauliY(1))]
    if kind == "probs":
        return [qml.probs(wires=[2, 0]), qml.probs(wires=[1])]
    return [qml.state()]


@pytest.fixture(scope="module")
def dev():
    return QCompQubit(wires=3, seed=7)


@pytest.fixture(scope="module")
def ref():
    return qml.device("default.qubit", wires=3)


def run(device, steps, w, kind, **kw):
    @qml.qnode(device, **kw)
    def circuit(w):
        apply(steps, w)
        return tuple(measured(kind))

    return circuit(w)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", ["expval", "var", "probs", "state"])
def test_random_circuits_match_default_qubit(dev, ref, seed, kind):
    steps = random_ops(seed, 3, 14)
    w = np.random.default_rng(seed).uniform(-2, 2, size=4)
    got, want = run(dev, steps, w, kind), run(ref, steps, w, kind)
    for g, r in zip(got, want):
        assert np.shape(g) == np.shape(r)
        assert np.allclose(g, r, atol=1e-10)


@pytest.mark.parametrize("kind", ["expval", "var", "probs", "state"])
def test_broadcasting_is_one_batched_simulation(ref, kind):
    device = QCompQubit(wires=3)
    steps = random_ops(11, 3, 12)
    w = np.random.default_rng(1).uniform(-2, 2, size=(5, 4))
    calls = []
    original = device._sims.get

    def counting_get(low, observables):
        sim = original(low, observables)
        calls.append(low.batch_size)
        return sim

    device._sims.get = counting_get
    got, want = run(device, steps, w, kind), run(ref, steps, w, kind)
    for g, r in zip(got, want):
        assert np.shape(g) == np.shape(r) and np.allclose(g, r, atol=1e-10)
    assert calls == [5], "a broadcast tape is one simulation of 5 rows"


def test_many_tapes_of_one_structure_run_as_one_batch(ref):
    device = QCompQubit(wires=2)
    tapes = [qml.tape.QuantumScript([qml.RX(a, 0), qml.CNOT([0, 1]), qml.RY(2 * a, 1)],
                                    [qml.expval(qml.PauliZ(1)), qml.probs(wires=[0, 1])]) for a in (0.1, 0.5, 0.9)]
    tapes.append(qml.tape.QuantumScript([qml.RX(np.array([0.2, 0.4]), 0), qml.CNOT([0, 1]), qml.RY(0.3, 1)],
                                        [qml.expval(qml.PauliZ(1)), qml.probs(wires=[0, 1])]))
    fixed = qml.tape.QuantumScript([qml.Hadamard(0), qml.CNOT([0, 1])], [qml.expval(qml.PauliZ(1)), qml.probs(wires=[0, 1])])
    tapes += [fixed, fixed]
    got = device.execute(tapes)
    want = ref.execute(tapes)
    for g, r in zip(got, want):
        for a, b in zip(g, r):
            assert np.allclose(a, b, atol=1e-12)
    # the three unbroadcast tapes share one simulator; the broadcast one has the angle as an input
    assert len(device._sims._cache) == 3


def test_global_phase_and_matrices_without_decomposition(ref):
    u = qml.matrix(qml.Rot(0.3, 0.4, 0.5, wires=0) @ qml.CRY(0.8, wires=[1, 0]))

    def circuit():
        qml.Hadamard(0)
        qml.QubitUnitary(u, wires=[0, 1])
        qml.BlockEncode(np.array([[0.2, 0.1], [0.1, 0.3]]), wires=[1, 2])
        qml.GlobalPhase(0.7)
        return qml.state()

    got = qml.QNode(circuit, QCompQubit(wires=3))()
    assert np.allclose(got, qml.QNode(circuit, ref)(), atol=1e-12)


def test_custom_wire_labels(ref):
    def circuit(x):
        qml.RX(x, "a")
        qml.CNOT(["a", 7])
        qml.RY(0.4, "c")
        return qml.expval(qml.PauliZ(7)), qml.probs(wires=["c", "a"]), qml.state()

    got = qml.QNode(circuit, QCompQubit(wires=["c", "a", 7]))(0.3)
    want = qml.QNode(circuit, qml.device("default.qubit", wires=["c", "a", 7]))(0.3)
    for g, r in zip(got, want):
        assert np.allclose(g, r, atol=1e-12)


# -- derivatives ---------------------------------------------------------------------------

def grad_circuit(x, w):
    qml.RX(x, 0)
    qml.IsingXX(w[0], wires=[0, 1])
    qml.Rot(w[1], w[2], w[0], wires=2)
    qml.CRZ(w[2], wires=[2, 0])
    qml.MultiRZ(w[1], wires=[0, 1, 2])
    qml.PauliRot(x, "XZ", wires=[1, 2])
    qml.ctrl(qml.RY(w[0], 1), control=2)
    return qml.expval(qml.PauliZ(0) @ qml.PauliZ(1)), qml.expval(0.5 * qml.PauliX(2) - qml.PauliY(1))


@pytest.mark.parametrize("diff_method", ["adjoint", "device"])
@pytest.mark.parametrize("device_vjp", [False, True])
def test_autograd_gradients_match_backprop(ref, diff_method, device_vjp):
    x = pnp.array(0.4, requires_grad=True)
    w = pnp.array([0.3, -1.1, 0.8], requires_grad=True)
    f = qml.QNode(grad_circuit, QCompQubit(wires=3), diff_method=diff_method, device_vjp=device_vjp)
    g = qml.QNode(grad_circuit, ref, diff_method="backprop")

    def cost(fn):
        return lambda x, w: fn(x, w)[0] * 2 + fn(x, w)[1] ** 2

    got = qml.grad(cost(f))(x, w)
    want = qml.grad(cost(g))(x, w)
    for a, b in zip(got, want):
        assert np.allclose(a, b, atol=1e-10)
    jac = qml.jacobian(lambda x, w: pnp.stack(f(x, w)))(x, w)
    jref = qml.jacobian(lambda x, w: pnp.stack(g(x, w)))(x, w)
    for a, b in zip(jac, jref):
        assert np.allclose(a, b, atol=1e-10)


@pytest.mark.parametrize("device_vjp", [False, True])
def test_autograd_broadcast_gradients(ref, device_vjp):
    """Broadcast inputs that are not trained (fast path) and broadcast parameters that are."""
    x = pnp.array([0.1, 0.7, -0.4], requires_grad=False)
    w = pnp.array([0.3, -1.1, 0.8], requires_grad=True)
    f = qml.QNode(grad_circuit, QCompQubit(wires=3), diff_method="adjoint", device_vjp=device_vjp)
    g = qml.QNode(grad_circuit, ref, diff_method="backprop")

    def cost(fn):
        return lambda x, w: pnp.sum(fn(x, w)[0] * pnp.array([1.0, 2.0, 3.0])) + pnp.sum(fn(x, w)[1] ** 2)

    assert np.allclose(qml.grad(cost(f))(x, w), qml.grad(cost(g))(x, w), atol=1e-10)
    xt = pnp.array([0.1, 0.7, -0.4], requires_grad=True)
    got, want = qml.grad(cost(f))(xt, w), qml.grad(cost(g))(xt, w)
    for a, b in zip(got, want):
        assert np.shape(a) == np.shape(b) and np.allclose(a, b, atol=1e-10)


@pytest.mark.parametrize("grad_on_execution", [True, False])
def test_one_sweep_training_step(ref, grad_on_execution, monkeypatch):
    """One expectation value with device VJPs: the forward call's adjoint sweep keeps the rows'
    gradients and the VJP needs no further simulation (unless grad_on_execution=False)."""
    def circuit(x, w):
        qml.RX(np.pi * x[..., 0], 0)
        qml.RX(np.pi * x[..., 1], 1)
        qml.IsingXX(w[0], wires=[0, 2])
        qml.IsingZZ(w[1], wires=[1, 2])
        qml.RY(w[2], 2)
        return qml.expval(qml.PauliZ(2))

    from qcomp.backends.simulator import Simulator

    calls = []
    for name in ("expval", "_adjoint"):
        real = getattr(Simulator, name)
        monkeypatch.setattr(Simulator, name, lambda self, *a, _real=real, _name=name, **k:
                            calls.append(_name) or _real(self, *a, **k))
    device = QCompQubit(wires=3)
    f = qml.QNode(circuit, device, diff_method="adjoint", device_vjp=True, grad_on_execution=grad_on_execution)
    g = qml.QNode(circuit, ref, diff_method="backprop")
    x = pnp.array([[0.0, 1.0], [1.0, 1.0], [0.3, 0.0], [1.0, 0.0]], requires_grad=False)
    y = pnp.array([1.0, -1.0, 1.0, -1.0], requires_grad=False)
    w = pnp.array([0.4, -0.9, 1.3], requires_grad=True)
    loss = lambda fn: (lambda w: pnp.mean((fn(x, w) - y) ** 2))
    assert np.allclose(qml.grad(loss(f))(w), qml.grad(loss(g))(w), atol=1e-10)
    assert calls == (["_adjoint"] if grad_on_execution else ["expval", "_adjoint"])
    xt = pnp.array([0.2, 0.6], requires_grad=True)
    both = lambda fn: (lambda x, w: pnp.sum(fn(pnp.stack([x, x]).T, w) * pnp.array([1.0, -2.0])))
    for a, b in zip(qml.grad(both(f))(xt, w), qml.grad(both(g))(xt, w)):
        assert np.allclose(a, b, atol=1e-10)


@pytest.mark.parametrize("diff_method", ["adjoint", "device"])
def test_jax_gradients_match_backprop(ref, diff_method):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    f = qml.QNode(grad_circuit, QCompQubit(wires=3), diff_method=diff_method, interface="jax")
    g = qml.QNode(grad_circuit, ref, diff_method="backprop", interface="jax")
    x, w = jax.numpy.array(0.4), jax.numpy.array([0.3, -1.1, 0.8])

    def cost(fn):
        return lambda x, w: fn(x, w)[0] * 2 + fn(x, w)[1] ** 2

    for jit in (False, True):
        gf = jax.grad(cost(f), argnums=(0, 1))
        gg = jax.grad(cost(g), argnums=(0, 1))
        if jit:
            gf = jax.jit(gf)
        for a, b in zip(gf(x, w), gg(x, w)):
            assert np.allclose(a, b, atol=1e-10)
    xb = jax.numpy.array([0.1, 0.7, -0.4])
    jb = jax.jacobian(lambda w: f(xb, w)[0])(w)
    assert np.allclose(jb, jax.jacobian(lambda w: g(xb, w)[0])(w), atol=1e-10)


def test_torch_gradients_match_backprop(ref):
    torch = pytest.importorskip("torch")
    x = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    w = torch.tensor([0.3, -1.1, 0.8], dtype=torch.float64, requires_grad=True)
    f = qml.QNode(grad_circuit, QCompQubit(wires=3), diff_method="adjoint", interface="torch")
    loss = f(x, w)[0] * 2 + f(x, w)[1] ** 2
    loss.backward()
    g = qml.QNode(grad_circuit, ref, diff_method="backprop")
    xr, wr = pnp.array(0.4, requires_grad=True), pnp.array([0.3, -1.1, 0.8], requires_grad=True)
    want = qml.grad(lambda a, b: g(a, b)[0] * 2 + g(a, b)[1] ** 2)(xr, wr)
    assert np.allclose(x.grad.numpy(), want[0], atol=1e-10)
    assert np.allclose(w.grad.numpy(), want[1], atol=1e-10)


def test_compute_derivatives_and_vjp_formats():
    device = QCompQubit(wires=2)
    ref = qml.device("default.qubit", wires=2)
    cfg = qml.devices.ExecutionConfig(gradient_method="adjoint")
    one = qml.tape.QuantumScript([qml.RX(0.3, 0), qml.CNOT([0, 1]), qml.RY(0.2, 1)], [qml.expval(qml.PauliZ(1))])
    two = qml.tape.QuantumScript([qml.RX(0.3, 0), qml.CNOT([0, 1]), qml.RY(0.2, 1)],
                                 [qml.expval(qml.PauliZ(1)), qml.expval(qml.PauliX(0))], trainable_params=[1])
    for tape in (one, two):
        got, want = device.compute_derivatives(tape, cfg), ref.compute_derivatives(tape, cfg)
        assert np.allclose(np.array(got, dtype=float), np.array(want, dtype=float), atol=1e-12)
        res, jac = device.execute_and_compute_derivatives(tape, cfg)
        assert np.allclose(np.array(res), np.array(ref.execute(tape)), atol=1e-12)
    vjp = device.compute_vjp([one, two], [np.array(2.0), (np.array(1.0), np.array(-1.0))], cfg)
    rvjp = ref.compute_vjp([one, two], [np.array(2.0), (np.array(1.0), np.array(-1.0))], cfg)
    for a, b in zip(vjp, rvjp):
        assert np.allclose(np.array(a), np.array(b), atol=1e-12)
    _, jvp = device.execute_and_compute_jvp([one], [(0.5, -1.0)], cfg)
    _, rjvp = ref.execute_and_compute_jvp([one], [(0.5, -1.0)], cfg)
    assert np.allclose(jvp[0], rjvp[0], atol=1e-12)


# -- shots ---------------------------------------------------------------------------------

HERMITIAN = np.array([[2.0, 1.0], [1.0, 0.0]])


def shot_gates(x):
    qml.RX(x, 0)
    qml.CNOT([0, 1])
    qml.RY(0.9, 1)
    qml.Hadamard(2)


def shot_circuit(x):
    shot_gates(x)
    return (qml.expval(qml.PauliZ(0) @ qml.PauliX(1) + 0.5 * qml.PauliY(2) - qml.PauliX(0)), qml.var(qml.PauliX(1)),
            qml.probs(wires=[1, 0]), qml.sample(wires=[0, 1]), qml.counts(qml.PauliZ(0)),
            qml.expval(qml.Hermitian(HERMITIAN, wires=2)))


def analytic_circuit(x):
    shot_gates(x)
    return (qml.expval(qml.PauliZ(0) @ qml.PauliX(1) + 0.5 * qml.PauliY(2) - qml.PauliX(0)), qml.var(qml.PauliX(1)),
            qml.probs(wires=[1, 0]), qml.expval(qml.PauliZ(0)), qml.expval(qml.Hermitian(HERMITIAN, wires=2)))


def test_shots_statistics_match_analytic(ref):
    shots = 40000
    got = qml.set_shots(qml.QNode(shot_circuit, QCompQubit(wires=3, seed=3)), shots=shots)(0.8)
    exact = qml.QNode(analytic_circuit, ref)(0.8)
    tol = 5 / np.sqrt(shots)  # five standard errors of a +-1 variable
    assert abs(got[0] - exact[0]) < 3 * tol and abs(got[1] - exact[1]) < tol
    assert np.allclose(got[2], exact[2], atol=tol)
    assert got[3].shape == (shots, 2) and set(np.unique(got[3])) <= {0, 1}
    # probs over [1, 0] index 2 b1 + b0; the samples' columns are b0, b1
    assert np.allclose(got[3].mean(axis=0), [exact[2][1] + exact[2][3], exact[2][2] + exact[2][3]], atol=tol)
    assert sum(got[4].values()) == shots and set(got[4]) <= {-1, 1}
    assert abs((got[4].get(1, 0) - got[4].get(-1, 0)) / shots - exact[3]) < tol
    assert abs(got[5] - exact[4]) < 3 * tol


def test_shots_are_reproducible_with_a_seed_and_support_shot_vectors():
    f = lambda seed: qml.set_shots(qml.QNode(shot_circuit, QCompQubit(wires=3, seed=seed)), shots=200)(0.3)
    a, b, c = f(5), f(5), f(6)
    assert np.array_equal(a[3], b[3]) and not np.array_equal(a[3], c[3])
    vec = qml.set_shots(qml.QNode(shot_circuit, QCompQubit(wires=3, seed=1)), shots=[(100, 2), 50])(0.3)
    assert len(vec) == 3 and vec[0][3].shape == (100, 2) and vec[2][3].shape == (50, 2)


def test_broadcast_shots():
    dev = QCompQubit(wires=2, seed=2)

    @qml.set_shots(shots=5000)
    @qml.qnode(dev)
    def circuit(x):
        qml.RY(x, 0)
        return qml.expval(qml.PauliZ(0)), qml.sample(wires=0)

    x = np.array([0.0, np.pi / 2, np.pi])
    ev, samples = circuit(x)
    assert ev.shape == (3,) and samples.shape == (3, 5000, 1)
    assert np.allclose(ev, np.cos(x), atol=0.06)
    assert np.allclose(samples.mean(axis=(1, 2)), np.sin(x / 2) ** 2, atol=0.03)


# -- errors --------------------------------------------------------------------------------

def test_entry_point_registers_the_device():
    from importlib.metadata import entry_points

    names = {e.name: e.value for e in entry_points(group="pennylane.plugins")}
    if "qcomp.qubit" not in names:
        pytest.skip("qcomp is installed without its pennylane.plugins entry point (reinstall it)")
    assert names["qcomp.qubit"] == "qcomp.bridges.pennylane:QCompQubit"
    assert isinstance(qml.device("qcomp.qubit", wires=2), QCompQubit)


def test_docs_example_runs_and_matches_default_qubit():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "bridges.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "qcomp.qubit" in b)
    ours, theirs = {}, {}
    exec(block, ours)  # noqa: S102 - the project's own documentation
    exec(block.replace('"qcomp.qubit"', '"default.qubit"').replace('"adjoint"', '"backprop"'), theirs)  # noqa: S102
    assert np.allclose(ours["values"], theirs["values"], atol=1e-12) and np.ptp(ours["values"]) > 0.01
    assert np.allclose(ours["grad"], theirs["grad"], atol=1e-10)


def test_errors():
    for seed in ("abc", -1, 1.5, True):
        with pytest.raises(QCompError, match="seed"):
            QCompQubit(wires=1, seed=seed)
    with pytest.raises(QCompError, match="max_cached_simulators"):
        QCompQubit(wires=1, max_cached_simulators=0)
    assert issubclass(QCompDeviceError, qml.exceptions.DeviceError)
    dev = QCompQubit(wires=2)

    def probs(x):
        qml.RX(x, 0)
        return qml.probs(wires=0)

    with pytest.raises(qml.exceptions.QuantumFunctionError, match="adjoint"):
        qml.grad(qml.QNode(probs, dev, diff_method="adjoint"))(pnp.array(0.2, requires_grad=True))
    sampled = qml.set_shots(qml.QNode(lambda x: (qml.RX(x, 0), qml.expval(qml.PauliZ(0)))[1:][0], dev,
                                      diff_method="adjoint"), shots=10)
    with pytest.raises(qml.exceptions.QuantumFunctionError):
        qml.grad(sampled)(pnp.array(0.2, requires_grad=True))
    with pytest.raises(qml.exceptions.DeviceError):  # counts need shots
        qml.QNode(lambda: qml.counts(wires=0), dev)()
    with pytest.raises(qml.exceptions.WireError):
        qml.QNode(lambda: (qml.RX(0.1, 5), qml.expval(qml.PauliZ(5)))[1], dev)()
    with pytest.raises(QCompDeviceError, match="mcm_method"):
        dev.setup_execution_config(qml.devices.ExecutionConfig(
            mcm_config=qml.devices.MCMConfig(mcm_method="one-shot")))
    with pytest.raises(QCompDeviceError, match="complex"):
        from qcomp.bridges.pennylane import lower_tape

        lower_tape(qml.tape.QuantumScript([qml.RX(1j, 0)]))
    # the device reports no derivatives where it cannot take them, so PennyLane falls back
    cfg = qml.devices.ExecutionConfig(gradient_method="adjoint")
    herm = qml.tape.QuantumScript([qml.RX(0.1, 0)], [qml.expval(qml.Hermitian(np.eye(2), 0))])
    assert not dev.supports_derivatives(cfg, herm)
    assert dev.supports_derivatives(cfg, qml.tape.QuantumScript([qml.RX(0.1, 0)], [qml.expval(qml.PauliZ(0))]))
    assert not dev.supports_derivatives(qml.devices.ExecutionConfig(gradient_method="backprop"))


def test_mid_circuit_measurements_are_deferred(ref):
    def circuit(x):
        qml.RX(x, 0)
        m = qml.measure(0)
        qml.cond(m, qml.RY)(0.7, 1)
        return qml.expval(qml.PauliZ(1)), qml.probs(wires=[0, 1])

    got = qml.QNode(circuit, QCompQubit(wires=3))(0.9)
    want = qml.QNode(circuit, qml.device("default.qubit", wires=3))(0.9)
    for g, r in zip(got, want):
        assert np.allclose(g, r, atol=1e-12)
