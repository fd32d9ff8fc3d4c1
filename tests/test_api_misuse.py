"""Misuse of the public Python API raises a QCompError subclass with a message, never a raw
TypeError/ValueError/RuntimeError/AttributeError from numpy or the framework underneath."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qcomp
from qcomp.errors import InputError, QCompError

MODEL = Path(__file__).parent / "bridges" / "reupload.q"  # 3 qubits, x[2], w[9], 2 outputs
W = np.linspace(0.1, 0.9, 9)
X = np.array([0.3, -0.2])


@pytest.fixture(scope="module")
def model():
    return qcomp.compile(MODEL, cache=False)


@pytest.fixture(scope="module")
def sim(model):
    return model.simulator()


def _ragged():
    return [[0.1, 0.2], [0.3]]


SIM_CASES = {
    "expval params string": lambda s: s.expval("0.1", X),
    "expval params numeric string": lambda s: s.expval(["0.1"] * 9, X),
    "expval params None": lambda s: s.expval(None, X),
    "expval inputs None": lambda s: s.expval(W, None),
    "expval inputs ragged": lambda s: s.expval(W, _ragged()),
    "expval params complex": lambda s: s.expval(W.astype(complex), X),
    "expval inputs complex with zero imag": lambda s: s.expval(W, X + 0j),
    "expval params object": lambda s: s.expval(object(), X),
    "expval params dict of strings": lambda s: s.expval({"w": "abc"}, X),
    "expval params dict of None": lambda s: s.expval({"w": None}, X),
    "expval params dict of complex": lambda s: s.expval({"w": W * 1j}, X),
    "expval params dict unknown name": lambda s: s.expval({"v": W}, X),
    "expval params set": lambda s: s.expval({0.1, 0.2}, X),
    "expval params 3-d": lambda s: s.expval(np.zeros((1, 1, 9)), X),
    "expval inputs wrong length": lambda s: s.expval(W, [0.1, 0.2, 0.3]),
    "state params string": lambda s: s.state("w", X),
    "probs qubits strings": lambda s: s.probs(W, X, qubits=["a"]),
    "probs qubits float": lambda s: s.probs(W, X, qubits=[0.5]),
    "probs qubits None entry": lambda s: s.probs(W, X, qubits=[None]),
    "probs qubits int": lambda s: s.probs(W, X, qubits=3),
    "probs qubit out of range": lambda s: s.probs(W, X, qubits=[7]),
    "sample negative shots": lambda s: s.sample(W, X, shots=-5),
    "sample float shots": lambda s: s.sample(W, X, shots=10.0),
    "sample string shots": lambda s: s.sample(W, X, shots="10"),
    "sample bool shots": lambda s: s.sample(W, X, shots=True),
    "sample string seed": lambda s: s.sample(W, X, shots=10, seed="x"),
    "sample qubits strings": lambda s: s.sample(W, X, shots=10, qubits=["a"]),
    "gradient bad method": lambda s: s.gradient(W, X, method="magic"),
    "gradient params complex": lambda s: s.gradient(W * 1j, X),
    "vjp cotangent wrong shape": lambda s: s.vjp(W, X, np.ones(5)),
    "vjp cotangent string": lambda s: s.vjp(W, X, "abc"),
    "vjp cotangent None": lambda s: s.vjp(W, X, None),
    "vjp cotangent complex": lambda s: s.vjp(W, X, np.ones(2) * 1j),
    "vjp cotangent ragged": lambda s: s.vjp(W, X, [[1.0], [1.0, 2.0]]),
    "value_and_vjp cotangent_fn not callable": lambda s: s.value_and_vjp(W, X, 3),
    "value_and_vjp params None": lambda s: s.value_and_vjp(None, X, lambda v, rows: np.ones_like(v)),
}


@pytest.mark.parametrize("case", sorted(SIM_CASES))
def test_simulator_misuse_raises_qcomp_error(sim, case):
    with pytest.raises(QCompError) as info:
        SIM_CASES[case](sim)
    assert info.value.message


def test_complex_values_are_refused_by_name(sim):
    with pytest.raises(InputError, match="params have complex values; qcomp takes real values"):
        sim.expval(W + 0j, X)
    with pytest.raises(InputError, match="inputs have complex values"):
        sim.expval(W, X * 1j)
    with pytest.raises(InputError, match="param 'w' has complex values"):
        sim.expval({"w": W + 1j}, X)
    with pytest.raises(InputError, match="cotangent has complex values"):
        sim.vjp(W, X, np.ones(2) + 0j)


MODEL_CASES = {
    "compile optimize string": lambda: qcomp.compile(MODEL, optimize="2", cache=False),
    "compile optimize float": lambda: qcomp.compile(MODEL, optimize=2.5, cache=False),
    "compile passes int": lambda: qcomp.compile(MODEL, passes=3, cache=False).simulator(),
    "compile passes unknown": lambda: qcomp.compile(MODEL, passes="no-such-pass", cache=False).simulator(),
    "compile source None": lambda: qcomp.compile(None, cache=False),
    "compile source int": lambda: qcomp.compile(3, cache=False),
    "compile missing file": lambda: qcomp.compile("missing.q", cache=False),
    "compile max_qubits string": lambda: qcomp.compile(MODEL, max_qubits="many", cache=False),
    "compile max_ops negative": lambda: qcomp.compile(MODEL, max_ops=-1, cache=False),
}


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_compile_misuse_raises_qcomp_error(case):
    with pytest.raises(QCompError):
        MODEL_CASES[case]()


OPTION_CASES = {
    "simulator unknown option": lambda m: m.simulator(no_such_option=1),
    "simulator precision": lambda m: m.simulator(precision="quad"),
    "simulator batch_size string": lambda m: m.simulator(batch_size="8"),
    "simulator threads string": lambda m: m.simulator(threads="x"),
    "simulator max_memory_bytes string": lambda m: m.simulator(max_memory_bytes="1G"),
    "hessian params string": lambda m: m.hessian("abc", X),
    "hessian params complex": lambda m: m.hessian(W * 1j, X),
    "qasm version": lambda m: m.qasm(version=5),
    "qasm version string": lambda m: m.qasm(version="3"),
    "qasm unknown option": lambda m: m.qasm(no_such_option=True),
}


@pytest.mark.parametrize("case", sorted(OPTION_CASES))
def test_model_misuse_raises_qcomp_error(model, case):
    with pytest.raises(QCompError):
        OPTION_CASES[case](model)


def test_torch_tensors(sim):
    torch = pytest.importorskip("torch")
    w = torch.tensor(W, requires_grad=True)
    with pytest.raises(InputError, match="requires grad"):
        sim.expval(w, X)
    with pytest.raises(InputError, match="requires grad"):
        sim.vjp(w, X, np.ones(2))
    with pytest.raises(InputError, match="complex"):
        sim.expval(torch.tensor(W, dtype=torch.complex128), X)
    # a tensor outside autograd is an array like any other
    np.testing.assert_allclose(sim.expval(torch.tensor(W), torch.tensor(X)), sim.expval(W, X))


def test_torch_bridge_misuse():
    torch = pytest.importorskip("torch")
    from qcomp.torch import QLayer

    for bad in (lambda: QLayer(3), lambda: QLayer(MODEL, init="abc"), lambda: QLayer(MODEL, init=np.ones(4)),
                lambda: QLayer(MODEL, input_diff_method="magic"), lambda: QLayer("missing.q")):
        with pytest.raises(QCompError):
            bad()
    layer = QLayer(MODEL)
    for bad_inputs in ("abc", torch.ones(3, dtype=torch.float64), torch.ones(2, dtype=torch.complex128), None, [[0.1], [0.2, 0.3]]):
        with pytest.raises(QCompError):
            layer(bad_inputs)


def test_jax_bridge_misuse():
    pytest.importorskip("jax")
    from qcomp.jax import make_jax_function

    for bad in (lambda: make_jax_function(3), lambda: make_jax_function("missing.q")):
        with pytest.raises(QCompError):
            bad()
    f = make_jax_function(MODEL)
    for p, x in (("abc", X), (W, "abc"), (W, None), (W[:4], X), (W, np.ones(3)), (W * 1j, X), (W, [[0.1], [0.2, 0.3]])):
        with pytest.raises(QCompError):
            f(p, x)
