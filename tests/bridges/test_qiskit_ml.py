"""qiskit-machine-learning on qcomp's primitives: EstimatorQNN + TorchConnector, and VQC, train as on Qiskit's."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qiskit")
pytest.importorskip("qiskit_machine_learning")
from qiskit import QuantumCircuit  # noqa: E402
from qiskit.circuit.library import real_amplitudes, zz_feature_map  # noqa: E402
from qiskit.primitives import StatevectorEstimator, StatevectorSampler  # noqa: E402
from qiskit.quantum_info import SparsePauliOp  # noqa: E402
from qiskit_machine_learning.gradients import ParamShiftEstimatorGradient  # noqa: E402
from qiskit_machine_learning.neural_networks import EstimatorQNN  # noqa: E402

import qcomp.qiskit as qq  # noqa: E402


def _data(n: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 2))
    y = np.where(x[:, 0] * x[:, 1] > 0, 1.0, -1.0)
    return x, y


def _qnn_parts() -> tuple[QuantumCircuit, list, list, SparsePauliOp]:
    fm = zz_feature_map(2, reps=1)
    ansatz = real_amplitudes(2, reps=2)
    qc = QuantumCircuit(2)
    qc.compose(fm, inplace=True)
    qc.compose(ansatz, inplace=True)
    return qc, list(fm.parameters), list(ansatz.parameters), SparsePauliOp("ZZ")


def _qnn(estimator, gradient) -> EstimatorQNN:
    qc, inputs, weights, obs = _qnn_parts()
    return EstimatorQNN(circuit=qc, observables=obs, input_params=inputs, weight_params=weights,
                        estimator=estimator, gradient=gradient, default_precision=0.0)


def test_estimator_gradient_matches_param_shift_and_input_gradients():
    qc, inputs, weights, obs = _qnn_parts()
    rng = np.random.default_rng(1)
    vals = rng.uniform(-1, 1, (5, qc.num_parameters))
    ours = qq.EstimatorGradient().run([qc] * 5, [obs] * 5, vals).result().gradients
    ref = ParamShiftEstimatorGradient(StatevectorEstimator()).run([qc] * 5, [obs] * 5, vals).result().gradients
    np.testing.assert_allclose(np.array(ours), np.array(ref), atol=1e-10)
    sub = [weights[::2]] * 5
    ours = qq.EstimatorGradient().run([qc] * 5, [obs] * 5, vals, parameters=sub).result()
    ref = ParamShiftEstimatorGradient(StatevectorEstimator()).run([qc] * 5, [obs] * 5, vals, parameters=sub).result()
    np.testing.assert_allclose(np.array(ours.gradients), np.array(ref.gradients), atol=1e-10)
    assert ours.metadata[0]["parameters"] == sub[0]

    qnn = _qnn(qq.EstimatorV2(), qq.EstimatorGradient())
    qnn.input_gradients = True
    x, _ = _data(4)
    w = rng.uniform(-1, 1, len(weights))
    gi, gw = qnn.backward(x, w)
    ref_qnn = _qnn(StatevectorEstimator(), ParamShiftEstimatorGradient(StatevectorEstimator()))
    ref_qnn.input_gradients = True
    ri, rw = ref_qnn.backward(x, w)
    np.testing.assert_allclose(gi, ri, atol=1e-10)
    np.testing.assert_allclose(gw, rw, atol=1e-10)
    np.testing.assert_allclose(qnn.forward(x, w), ref_qnn.forward(x, w), atol=1e-10)


def test_backward_is_one_gradient_call_not_shifted_estimator_runs(monkeypatch):
    est = qq.EstimatorV2()
    runs = []
    real = qq.EstimatorV2.run
    monkeypatch.setattr(qq.EstimatorV2, "run", lambda self, pubs, **kw: runs.append(1) or real(self, pubs, **kw))
    qnn = _qnn(est, qq.EstimatorGradient(est))
    x, _ = _data(8)
    qnn.backward(x, np.zeros(qnn.num_weights))
    assert runs == []  # the adjoint sweep, no Estimator calls at shifted points


def _train_torch(estimator, gradient, steps: int = 8) -> list[float]:
    torch = pytest.importorskip("torch")
    from qiskit_machine_learning.connectors import TorchConnector

    torch.manual_seed(0)
    qnn = _qnn(estimator, gradient)
    model = TorchConnector(qnn, initial_weights=np.linspace(-0.5, 0.5, qnn.num_weights))
    x, y = _data(16)
    X, Y = torch.tensor(x), torch.tensor(y).reshape(-1, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(X), Y)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return losses


def test_torch_connector_trains_like_statevector_estimator():
    ours = _train_torch(qq.EstimatorV2(), qq.EstimatorGradient())
    ref = _train_torch(StatevectorEstimator(), ParamShiftEstimatorGradient(StatevectorEstimator()))
    assert ours[-1] < ours[0] - 0.05  # it learns
    np.testing.assert_allclose(ours, ref, atol=1e-8)  # and follows the same trajectory exactly


def _vqc_fit(sampler) -> tuple[list[float], float]:
    from qiskit_machine_learning.algorithms import VQC
    from qiskit_machine_learning.optimizers import COBYLA

    losses: list[float] = []
    x, y = _data(20, seed=3)
    labels = (y > 0).astype(int)
    vqc = VQC(feature_map=zz_feature_map(2, reps=1), ansatz=real_amplitudes(2, reps=1), sampler=sampler,
              optimizer=COBYLA(maxiter=20), initial_point=np.full(4, 0.3),
              callback=lambda w, v: losses.append(float(v)))
    vqc.fit(x, labels)
    return losses, float(vqc.score(x, labels))


def test_vqc_trains_on_qcomp_sampler():
    ours, score = _vqc_fit(qq.SamplerV2(seed=4, default_shots=4096))
    ref, ref_score = _vqc_fit(StatevectorSampler(seed=4, default_shots=4096))
    assert min(ours[-5:]) < ours[0]  # the loss decreases
    # shot noise differs between the samplers (different draws): the runs agree to sampling tolerance
    assert abs(ours[0] - ref[0]) < 0.05
    assert abs(min(ours) - min(ref)) < 0.1
    assert abs(score - ref_score) <= 0.2


def test_estimator_gradient_needs_a_qcomp_estimator():
    from qcomp.errors import InputError

    with pytest.raises(InputError, match="qcomp.qiskit.EstimatorV2"):
        qq.EstimatorGradient(StatevectorEstimator())


def test_estimator_gradient_on_an_equal_circuit_built_anew():
    est = qq.EstimatorV2()
    grad = qq.EstimatorGradient(est)
    first, _, w1, obs = _qnn_parts()
    again, _, w2, _ = _qnn_parts()  # same structure and names, new Parameter objects
    vals = np.random.default_rng(2).uniform(-1, 1, (2, first.num_parameters))
    g1 = grad.run([first] * 2, [obs] * 2, vals, parameters=[w1] * 2).result().gradients
    g2 = grad.run([again] * 2, [obs] * 2, vals, parameters=[w2] * 2).result().gradients
    np.testing.assert_allclose(np.array(g1), np.array(g2), atol=1e-12)
    assert len(est._cache._items) == 1
