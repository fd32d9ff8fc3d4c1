"""qcomp.from_pennylane / import_tape: PennyLane tapes and QNodes as qcomp IR, checked against default.qubit."""

from __future__ import annotations

import numpy as np
import pytest

qml = pytest.importorskip("pennylane")
from pennylane import numpy as pnp  # noqa: E402

import qcomp  # noqa: E402
from qcomp.backends.simulator import Simulator  # noqa: E402
from qcomp.bridges.pennylane_import import import_tape  # noqa: E402
from qcomp.errors import InputError, UnsupportedError  # noqa: E402


def _reverse_bits(n: int) -> np.ndarray:
    """qcomp index (bit k = qubit k) -> PennyLane index (first wire most significant)."""
    return np.array([int(format(i, f"0{n}b")[::-1], 2) for i in range(2**n)])


def _circuit(x, w):
    qml.RX(x, wires="a")
    qml.Rot(w[0], w[1], w[2], wires=1)
    qml.CRot(w[1], w[2], w[0], wires=["a", 1])  # decomposed by PennyLane, params kept symbolic
    qml.IsingXX(w[3], wires=[1, "c"])
    qml.U3(0.2, w[0], 0.7, wires="c")
    qml.CNOT(wires=["c", "a"])
    qml.QFT(wires=["a", 1, "c"])  # constant decomposition
    qml.adjoint(qml.S)(wires=1)
    qml.MultiRZ(w[4], wires=["a", 1, "c"])


def _qnode(measure):
    dev = qml.device("default.qubit", wires=["a", 1, "c"])

    @qml.qnode(dev)
    def f(x, w):
        _circuit(x, w)
        return measure()

    return f


def _expvals():
    return (qml.expval(qml.Z("a") @ qml.X("c")), qml.expval(0.5 * qml.Y(1) - 1.5 * qml.Z("a")),
            qml.expval(qml.Hamiltonian([0.3, -0.2], [qml.X(1), qml.Z("a") @ qml.Z(1) @ qml.Y("c")])))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_qnode_expvals_and_gradients_match_default_qubit(seed):
    rng = np.random.default_rng(seed)
    x = pnp.array(rng.uniform(-np.pi, np.pi), requires_grad=False)
    w = pnp.array(rng.uniform(-np.pi, np.pi, 5), requires_grad=True)
    f = _qnode(_expvals)
    imported = import_tape(f, x, w)
    prog = qcomp.from_pennylane(f, x, w)
    tape = qml.workflow.construct_tape(f)(x, w)
    # every trainable tape parameter is one param element (w[0] appears in Rot, CRot and U3): 9
    assert prog.num_params == len(tape.trainable_params) == 9 and prog.num_qubits == 3 and prog.num_outputs == 3
    assert imported.wires == ("a", 1, "c")
    assert imported.trainable_params == imported.param_indices == tuple(tape.trainable_params)
    values = np.array(tape.get_parameters(trainable_only=True), dtype=float)
    np.testing.assert_allclose(imported.param_values, values)
    sim = Simulator(prog)
    dev = qml.device("default.qubit", wires=["a", 1, "c"])
    np.testing.assert_allclose(sim.expval(values), np.array(f(x, w)), atol=1e-10)
    # qcomp's adjoint gradient w.r.t. theta[j] = d/d(tape trainable parameter j), by central differences
    g = np.asarray(sim.gradient(values))  # (outputs, params)
    h = 1e-6
    for j in range(len(values)):
        e = np.zeros(len(values))
        e[j] = h
        plus = dev.execute(tape.bind_new_parameters(list(values + e), tape.trainable_params))
        minus = dev.execute(tape.bind_new_parameters(list(values - e), tape.trainable_params))
        np.testing.assert_allclose(g[:, j], (np.array(plus) - np.array(minus)) / (2 * h), atol=1e-6)


def test_raw_tape_all_trainable_with_var_probs_sample_state():
    ops = [qml.Hadamard(0), qml.RY(0.4, 1), qml.CRX(1.1, [0, 2]), qml.IsingZZ(0.3, [1, 2]), qml.RX(-0.8, 2)]
    tape = qml.tape.QuantumScript(ops, [qml.expval(qml.X(0) @ qml.Z(2)), qml.var(qml.Y(2) + 0.5 * qml.Z(1)),
                                        qml.probs(wires=[2, 0]), qml.state()])
    imported = import_tape(tape)
    assert imported.param_indices == (0, 1, 2, 3) and imported.program.num_params == 4
    sim = Simulator(imported.program)
    got = sim.outputs(imported.param_values, outputs=imported.outputs)
    want = qml.device("default.qubit", wires=3).execute(tape)
    np.testing.assert_allclose(got[0], want[0], atol=1e-10)
    np.testing.assert_allclose(got[1], want[1], atol=1e-10)
    np.testing.assert_allclose(got[2], want[2], atol=1e-10)  # probs(wires=[2, 0]): same index order
    state = np.asarray(got[3])[_reverse_bits(3)]  # little-endian -> PennyLane's order
    phase = want[3][np.argmax(np.abs(want[3]))] / state[np.argmax(np.abs(want[3]))]
    np.testing.assert_allclose(state * phase, want[3], atol=1e-10)
    with pytest.raises(UnsupportedError, match="import_tape"):
        qcomp.from_pennylane(tape)


def test_samples_follow_the_probabilities():
    tape = qml.tape.QuantumScript([qml.RY(1.0, 0), qml.CNOT([0, 1])], [qml.sample(wires=[0, 1])], shots=4000)
    imported = import_tape(tape)
    (out,) = Simulator(imported.program).outputs(imported.param_values, outputs=imported.outputs, seed=3)
    assert out.shape == (4000,)
    # only 00 and 11; P(11) = sin(0.5)**2
    assert set(np.unique(out)) <= {0, 3}
    assert abs(np.mean(out == 3) - np.sin(0.5) ** 2) < 0.04


def test_non_trainable_numbers_are_constants_and_broadcast_is_refused():
    f = _qnode(_expvals)
    x = pnp.array(0.3, requires_grad=False)
    w = pnp.array([0.1, 0.2, 0.3, 0.4, 0.5], requires_grad=False)
    prog = qcomp.from_pennylane(f, x, w)
    assert prog.num_params == 0
    np.testing.assert_allclose(Simulator(prog).expval(None), np.array(f(x, w)), atol=1e-10)
    with pytest.raises(UnsupportedError, match="broadcast"):
        qcomp.from_pennylane(qml.tape.QuantumScript([qml.RX(np.array([0.1, 0.2]), 0)], [qml.expval(qml.Z(0))]))


def test_errors_are_qcomp_errors():
    with pytest.raises(InputError, match="QNode"):
        qcomp.from_pennylane("not a tape")
    tape = qml.tape.QuantumScript([qml.RX(0.1, 0)], [qml.expval(qml.Hermitian(np.eye(2), wires=0))])
    with pytest.raises(UnsupportedError, match="Pauli"):
        qcomp.from_pennylane(tape)
    with pytest.raises(InputError, match="arguments"):
        qcomp.from_pennylane(tape, 0.3)


def test_device_still_uses_the_shared_lowering():
    from qcomp.bridges import pennylane as device_module
    from qcomp.bridges import pennylane_import

    assert device_module.accepts_operation is pennylane_import.accepts_operation
    dev = qml.device("qcomp.qubit", wires=2)

    @qml.qnode(dev)
    def g(t):
        qml.CRot(t, 0.2, 0.3, wires=[0, 1])
        return qml.expval(qml.Z(1))

    ref = qml.QNode(g.func, qml.device("default.qubit", wires=2))
    assert abs(float(g(0.7)) - float(ref(0.7))) < 1e-10


def test_templates_with_tensor_weights_and_state_preparation():
    """A template's trainable weights tensor is one tape parameter: its elements become params in C order."""
    dev = qml.device("default.qubit", wires=3)
    shape = qml.StronglyEntanglingLayers.shape(n_layers=2, n_wires=3)
    weights = pnp.array(np.random.default_rng(4).uniform(-np.pi, np.pi, shape), requires_grad=True)
    state = np.array([1, 1j, -1, 0.5, 0, 0, 0.3, 1]) / np.linalg.norm([1, 1j, -1, 0.5, 0, 0, 0.3, 1])

    @qml.qnode(dev)
    def f(w):
        qml.StatePrep(state, wires=[0, 1, 2])
        qml.StronglyEntanglingLayers(w, wires=[0, 1, 2])
        return qml.expval(qml.Z(0) @ qml.Y(2)), qml.expval(qml.X(1))

    imported = import_tape(f, weights)
    assert imported.program.num_params == weights.size == 18
    np.testing.assert_allclose(imported.param_values, np.asarray(weights).reshape(-1))
    sim = Simulator(imported.program)
    np.testing.assert_allclose(sim.expval(imported.param_values), np.array(f(weights)), atol=1e-10)
    jac = np.array(qml.jacobian(lambda w: qml.math.stack(f(w)))(weights)).reshape(2, -1)
    np.testing.assert_allclose(np.asarray(sim.gradient(imported.param_values)), jac, atol=1e-8)
