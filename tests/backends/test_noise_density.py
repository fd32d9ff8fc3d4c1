"""Density-matrix simulation of noisy programs against Qiskit Aer, PennyLane default.mixed and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import qcomp
from qcomp.backends.density import DensityMatrixSimulator
from qcomp.errors import QCompError, ResourceLimitError, UnsupportedError

from noise_oracles import aer_density_matrix, expval_of, random_noisy_source

pytest.importorskip("qiskit_aer")


def _program(src: str):
    return qcomp.compile(src, cache=False, optimize=0).program


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 3), length=st.integers(1, 14))
def test_random_noisy_programs_match_aer(seed, n, length):
    prog = _program(random_noisy_source(seed, n, length))
    params = np.random.default_rng(seed).uniform(-np.pi, np.pi, 3)
    sim = DensityMatrixSimulator(prog)
    rho = sim.density_matrix(params)
    ref = aer_density_matrix(prog, params)
    assert np.abs(rho - ref).max() < 1e-10
    ev = sim.expval(params)
    for k, ob in enumerate(prog.observables):
        assert abs(ev[k] - expval_of(ref, ob, n)) < 1e-10
    # probabilities: result bit j is qubit j, as Aer's diagonal (index bit k = qubit k)
    assert np.abs(sim.probs(params, qubits=list(range(n))) - np.real(np.diag(ref))).max() < 1e-10
    if n > 1:
        p01 = np.real(np.diag(ref)).reshape((2,) * n).transpose(*range(n - 1, -1, -1))
        marg = p01.sum(axis=tuple(range(2, n))) if n > 2 else p01  # axes: qubit 0, qubit 1, ...
        assert np.abs(sim.probs(params, qubits=[1, 0]) - marg.ravel()).max() < 1e-10


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 3), length=st.integers(1, 10))
def test_adjoint_gradient_matches_finite_differences(seed, n, length):
    prog = _program(random_noisy_source(seed, n, length))
    w = np.random.default_rng(seed + 1).uniform(-np.pi, np.pi, 3)
    sim = DensityMatrixSimulator(prog)
    g = sim.gradient(w)
    h = 1e-6
    fd = np.stack([(sim.expval(w + h * e) - sim.expval(w - h * e)) / (2 * h) for e in np.eye(3)], axis=-1)
    assert np.abs(g - fd).max() < 1e-6
    cot = np.random.default_rng(seed).normal(size=prog.num_outputs)
    assert np.allclose(sim.vjp(w, None, cot), cot @ g, atol=1e-10)


def test_channel_parameters_are_differentiable():
    src = """qubit q[2]; param w[4]; input x[1];
    ry(w[0]) q[0]; depolarizing(w[1]) q[0]; cx q[0], q[1]; amplitude_damping(w[2] * x[0]) q[1];
    thermal_relaxation(50, 60, w[3]) q[0]; phase_damping(0.2) q[1]; rx(x[0]) q[1];
    expect z(q[0]) + x(q[1]); expect y(q[1]) @ z(q[0]);"""
    prog = _program(src)
    sim = DensityMatrixSimulator(prog)
    w = np.array([0.7, 0.2, 0.4, 8.0])
    X = np.array([[0.5], [0.9], [0.2]])
    g = sim.gradient(w, X)
    assert g.shape == (3, 2, 4)
    h = 1e-6
    fd = np.stack([(sim.expval(w + h * e, X) - sim.expval(w - h * e, X)) / (2 * h) for e in np.eye(4)], axis=-1)
    assert np.abs(g - fd).max() < 1e-6
    # batched params: one gradient row per row
    W = np.stack([w, w + 0.05])
    gb = sim.gradient(W, X[:2])
    assert np.allclose(gb[0], g[0]) and gb.shape == (2, 2, 4)


def test_bound_channel_parameter_out_of_range_is_a_clear_error():
    prog = _program("qubit q; param p; depolarizing(p) q; expect z(q);")
    sim = DensityMatrixSimulator(prog)
    assert np.isclose(sim.expval([0.3])[0], 1 - 4 * 0.3 / 3)
    with pytest.raises(QCompError, match=r"depolarizing.*0 <= p <= 1, got 1\.5 \(the channel at <string>:1:\d+\)"):
        sim.expval([1.5])


def test_matches_pennylane_default_mixed():
    qml = pytest.importorskip("pennylane")
    src = """qubit q[3]; param w[3];
    ry(w[0]) q[0]; depolarizing(0.1) q[0]; rx(w[1]) q[1]; bit_flip(0.05) q[1]; cx q[0], q[1];
    amplitude_damping(0.2) q[1]; crx(w[2]) q[1], q[2]; phase_damping(0.3) q[2]; phase_flip(0.15) q[0];
    thermal_relaxation(40, 50, 7) q[2]; h q[2];
    expect z(q[0]) @ z(q[1]); expect x(q[2]);"""
    prog = _program(src)
    w = np.array([0.4, -1.2, 0.8])
    dev = qml.device("default.mixed", wires=3)

    def body():
        qml.RY(w[0], wires=0)
        qml.DepolarizingChannel(0.1, wires=0)
        qml.RX(w[1], wires=1)
        qml.BitFlip(0.05, wires=1)
        qml.CNOT(wires=[0, 1])
        qml.AmplitudeDamping(0.2, wires=1)
        qml.CRX(w[2], wires=[1, 2])
        qml.PhaseDamping(0.3, wires=2)
        qml.PhaseFlip(0.15, wires=0)
        qml.ThermalRelaxationError(0.0, 40, 50, 7, wires=2)
        qml.Hadamard(wires=2)

    @qml.qnode(dev)
    def ev():
        body()
        return qml.expval(qml.PauliZ(0) @ qml.PauliZ(1)), qml.expval(qml.PauliX(2))

    @qml.qnode(dev)
    def pr():
        body()
        return qml.probs(wires=[2, 1, 0])  # PennyLane's first wire is the most significant bit

    sim = DensityMatrixSimulator(prog)
    assert np.allclose(sim.expval(w), np.array(ev()), atol=1e-10)
    assert np.allclose(sim.probs(w), np.asarray(pr()), atol=1e-10)


def test_noise_model_matches_aer_noise_model():
    from qiskit_aer.noise import NoiseModel as AerNoiseModel, amplitude_damping_error, depolarizing_error
    from qiskit_aer.noise import thermal_relaxation_error

    from qcomp.noise import NoiseModel

    prog = _program("""qubit q[3]; param w[3];
    ry(w[0]) q[0]; rx(w[1]) q[1]; cx q[0], q[1]; rzz(w[2]) q[1], q[2]; h q[2]; cx q[2], q[0];
    expect z(q[0]) + 0.3 * x(q[1]) @ y(q[2]); expect z(q[2]);""")
    aer = AerNoiseModel()
    aer.add_all_qubit_quantum_error(depolarizing_error(0.05, 1), ["ry", "rx", "h"])
    aer.add_all_qubit_quantum_error(depolarizing_error(0.08, 2), ["cx"])
    aer.add_quantum_error(amplitude_damping_error(0.1).tensor(thermal_relaxation_error(50, 60, 10)), ["rzz"], [1, 2])
    aer.add_quantum_error(thermal_relaxation_error(50, 30, 5), ["ry"], [0])  # replaces the all-qubit one
    w = np.array([0.3, 1.1, -0.7])
    noisy = NoiseModel.from_qiskit(aer).apply(prog)
    sim = DensityMatrixSimulator(noisy)
    ref = aer_density_matrix(prog, w, noise_model=aer)
    assert np.abs(sim.density_matrix(w) - ref).max() < 1e-10
    for k, ob in enumerate(prog.observables):
        assert abs(sim.expval(w)[k] - expval_of(ref, ob, 3)) < 1e-10


def test_memory_guard_refuses_before_work():
    prog = _program("qubit q[6]; depolarizing(0.1) q; expect z(q[0]);")
    sim = DensityMatrixSimulator(prog, max_memory_bytes=100_000)
    with pytest.raises(ResourceLimitError, match="density-matrix simulation needs"):
        sim.expval()
    with pytest.raises(ResourceLimitError, match="trajectories"):
        sim.gradient()


def test_state_is_refused_and_outputs_work():
    prog = _program("qubit q[2]; param w; rx(w) q[0]; bit_flip(0.1) q[1]; expect z(q[0]); measure q;")
    sim = DensityMatrixSimulator(prog)
    with pytest.raises(UnsupportedError, match="density_matrix"):
        sim.state([0.1])
    from qcomp.ir.outputs import Probabilities, Variance

    var, probs = sim.outputs([0.4], None, [Variance(prog.observables[0]), Probabilities((0, 1))])
    z = np.cos(0.4)
    assert np.isclose(var, 1 - z**2)
    assert np.allclose(probs, sim.probs([0.4], qubits=[0, 1]))
    assert np.isclose(probs[2] + probs[3], 0.1)  # qubit 1 reads 1 with the flip probability


def test_readout_error_changes_probabilities_not_expectations():
    prog = _program("qubit q[2]; param w; rx(w) q[0]; readout_error(0.1, 0.2) q[0]; expect z(q[0]); measure q;")
    sim = DensityMatrixSimulator(prog)
    p1 = np.sin(0.7 / 2) ** 2
    probs = sim.probs([0.7], qubits=[0])
    assert np.allclose(probs, [(1 - p1) * 0.9 + p1 * 0.2, (1 - p1) * 0.1 + p1 * 0.8])
    assert np.isclose(sim.expval([0.7])[0], np.cos(0.7))
    counts = sim.sample([0.7], shots=20000, seed=5, qubits=[0])
    assert abs(counts.get("1", 0) / 20000 - probs[1]) < 5 * np.sqrt(probs[1] * probs[0] / 20000)


def test_model_simulator_routes_noisy_programs_and_trains():
    m = qcomp.compile("qubit q; param w; rx(w) q; depolarizing(0.2) q; expect z(q);", cache=False)
    sim = m.simulator()
    assert isinstance(sim, DensityMatrixSimulator)
    v, g = sim.value_and_gradient([0.5])
    assert np.allclose(v, (1 - 0.8 / 3) * np.cos(0.5)) and np.allclose(g, -(1 - 0.8 / 3) * np.sin(0.5))
    with pytest.raises(QCompError, match="unknown noisy simulator option"):
        m.simulator(batch_size=4)


def test_input_gradients_and_torch_bridge_on_a_noisy_model():
    torch = pytest.importorskip("torch")
    src = """qubit q[2]; param w[2]; input x[2];
    ry(x[0]) q[0]; depolarizing(0.05) q; rx(w[0]) q[1]; cx q[0], q[1]; amplitude_damping(0.2 * x[1] * x[1]) q[1];
    rz(w[1] * x[1]) q[1]; h q[1]; expect z(q[0]) @ z(q[1]) + x(q[1]);"""
    m = qcomp.compile(src, cache=False)
    sim = m.simulator()
    w = np.array([0.3, -0.8])
    X = np.array([[0.4, 0.7], [1.1, -0.5]])
    cot = np.array([[1.0], [-2.0]])
    h = 1e-6
    fd = np.stack([(sim.expval(w, X + h * e) - sim.expval(w, X - h * e)) / (2 * h) for e in np.eye(2)], axis=-1)
    assert np.allclose(sim.input_vjp(w, X, cot), np.einsum("bo,boi->bi", cot, fd), atol=1e-7)
    from qcomp.torch import QLayer

    layer = QLayer(m, init=w)
    xt = torch.tensor(X, requires_grad=True)
    out = layer(xt)
    (out[:, 0] * torch.tensor(cot[:, 0])).sum().backward()
    assert np.allclose(out.detach().numpy(), sim.expval(w, X))
    assert np.allclose(xt.grad.numpy(), np.einsum("bo,boi->bi", cot, fd), atol=1e-7)
    assert np.allclose(layer.weight.grad.numpy(), sim.vjp(w, X, cot), atol=1e-10)


def test_split_rows_over_threads_give_the_same_values():
    # 8 qubits: a 4**8 density matrix is where one row's passes are split over the threads
    src = "qubit q[8]; param w[8]; for i in range(8) { ry(w[i]) q[i]; } depolarizing(0.05) q;" \
          "for i in range(7) { cx q[i], q[i + 1]; } amplitude_damping(0.1) q; expect z(q[0]) @ z(q[7]) + x(q[3]);"
    prog = _program(src)
    w = np.linspace(-1, 1, 8)
    one = DensityMatrixSimulator(prog, threads=1).expval(w)
    two = DensityMatrixSimulator(prog, threads=2).expval(w)
    assert np.allclose(one, two, atol=1e-12)
    from noise_oracles import aer_density_matrix, expval_of

    ref = aer_density_matrix(prog, w)
    assert abs(one[0] - expval_of(ref, prog.observables[0], 8)) < 1e-10


def test_statevector_paths_refuse_noisy_programs_clearly():
    from qcomp.backends.simulator import Simulator

    m = qcomp.compile("qubit q; param w; rx(w) q;\ndepolarizing(0.1) q; expect z(q);", cache=False)
    with pytest.raises(UnsupportedError, match=r"<string>:2:1: error: 'depolarizing' is a noise channel"):
        Simulator(m.program)
    with pytest.raises(UnsupportedError, match="Hessians of noisy programs"):
        m.hessian([0.3])
    with pytest.raises(UnsupportedError, match="adjoint"):
        m.simulator().gradient([0.3], method="parameter-shift")
    with pytest.raises(QCompError, match="Dask executor"):
        m.simulator(executor=object())
