"""qcomp.qiskit.EstimatorV2 / SamplerV2 against Qiskit's StatevectorEstimator / StatevectorSampler.

Cases follow Qiskit's own test/python/primitives/test_statevector_estimator.py (same circuits,
observables, values and expected numbers), plus broadcasting, shot noise and the sampler.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("qiskit")
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister  # noqa: E402
from qiskit.circuit import Parameter  # noqa: E402
from qiskit.circuit.library import real_amplitudes  # noqa: E402
from qiskit.primitives import BaseEstimatorV2, BaseSamplerV2, StatevectorEstimator, StatevectorSampler  # noqa: E402
from qiskit.primitives.containers.bindings_array import BindingsArray  # noqa: E402
from qiskit.primitives.containers.estimator_pub import EstimatorPub  # noqa: E402
from qiskit.primitives.containers.observables_array import ObservablesArray  # noqa: E402
from qiskit.quantum_info import SparsePauliOp  # noqa: E402

import qcomp.qiskit as qq  # noqa: E402
from qcomp.errors import InputError, QCompError, UnsupportedError  # noqa: E402


def _ra(reps: int) -> QuantumCircuit:
    qc = QuantumCircuit(2)
    qc.append(real_amplitudes(num_qubits=2, reps=reps), [0, 1])
    return qc


PSI = (_ra(2), _ra(3))
HAM = (
    SparsePauliOp.from_list([("II", 1), ("IZ", 2), ("XI", 3)]),
    SparsePauliOp.from_list([("IZ", 1)]),
    SparsePauliOp.from_list([("ZI", 1), ("ZZ", 1)]),
)
THETA = ([0, 1, 1, 2, 3, 5], [0, 1, 1, 2, 3, 5, 8, 13], [1, 2, 3, 4, 5, 6])
H2 = SparsePauliOp.from_list([("II", -1.052373245772859), ("IZ", 0.39793742484318045), ("ZI", -0.39793742484318045),
                              ("ZZ", -0.01128010425623538), ("XX", 0.18093119978423156)])


def test_implements_the_v2_interfaces():
    assert isinstance(qq.EstimatorV2(), BaseEstimatorV2)
    assert isinstance(qq.SamplerV2(), BaseSamplerV2)


def test_estimator_run_qiskit_cases():
    est = qq.EstimatorV2()
    psi1, psi2 = PSI
    h1, h2, h3 = HAM
    t1, t2, t3 = THETA
    np.testing.assert_allclose(est.run([(psi1, h1, [t1])]).result()[0].data.evs, [1.5555572817900956], rtol=1e-10)
    np.testing.assert_allclose(est.run([(psi2, h1, t2)]).result()[0].data.evs, [2.97797666], rtol=1e-7)
    np.testing.assert_allclose(est.run([(psi1, [h2, h3], t1)]).result()[0].data.evs, [-0.551653, 0.07535239], rtol=1e-5)
    r4 = est.run([(psi1, [h1, h3], [t1, t3]), (psi2, h2, t2)]).result()
    np.testing.assert_allclose(r4[0].data.evs, [1.55555728, -1.08766318], rtol=1e-7)
    np.testing.assert_allclose(r4[1].data.evs, [0.17849238], rtol=1e-7)


def test_estimator_with_explicit_pubs():
    psi1, psi2 = PSI
    h1, h2, h3 = HAM
    t1, t2, t3 = THETA
    pub1 = EstimatorPub(psi1, ObservablesArray.coerce([h1, h3]), BindingsArray.coerce({tuple(psi1.parameters): [t1, t3]}))
    pub2 = EstimatorPub(psi2, ObservablesArray.coerce(h2), BindingsArray.coerce({tuple(psi2.parameters): t2}))
    r = qq.EstimatorV2().run([pub1, pub2]).result()
    np.testing.assert_allclose(r[0].data.evs, [1.55555728, -1.08766318], rtol=1e-7)
    np.testing.assert_allclose(r[1].data.evs, [0.17849238], rtol=1e-7)


def test_no_params_and_value_forms():
    est = qq.EstimatorV2()
    circuit = PSI[0].assign_parameters([0, 1, 1, 2, 3, 5])
    np.testing.assert_allclose(est.run([(circuit, H2)]).result()[0].data.evs, [-1.284366511861733], rtol=1e-10)
    qc = QuantumCircuit(1)
    qc.x(0)
    for val in [None, [], [[]], np.array([]), np.array([[]]), [np.array([])]]:
        r = est.run([(qc, SparsePauliOp("Z"), val)]).result()[0]
        ref = StatevectorEstimator().run([(qc, SparsePauliOp("Z"), val)]).result()[0]
        assert r.data.evs.shape == ref.data.evs.shape
        np.testing.assert_allclose(r.data.evs, -1)
        assert r.metadata["target_precision"] == 0
    x = Parameter("x")
    qc = QuantumCircuit(1)
    qc.ry(x, 0)
    for val in [[np.pi], np.array([np.pi])]:
        np.testing.assert_allclose(est.run([(qc, SparsePauliOp("Z"), val)]).result()[0].data.evs, -1, atol=1e-12)
    for val in [THETA[0], [THETA[0]], np.array(THETA[0]), np.array([THETA[0]]), [np.array(THETA[0])]]:
        ours = est.run([(PSI[0], HAM[0], val)]).result()[0].data.evs
        ref = StatevectorEstimator().run([(PSI[0], HAM[0], val)]).result()[0].data.evs
        assert ours.shape == ref.shape
        np.testing.assert_allclose(ours, ref, atol=1e-10)


@pytest.mark.parametrize("nq", [1, 2])
def test_endianness(nq):
    est = qq.EstimatorV2()
    qc, qc2 = QuantumCircuit(nq), QuantumCircuit(nq)
    qc2.x(0)
    for op in (["I", "Z"] if nq == 1 else ["II", "ZI", "IZ"]):
        for c in (qc, qc2):
            ours = est.run([(c, SparsePauliOp(op))]).result()[0].data.evs
            ref = StatevectorEstimator().run([(c, SparsePauliOp(op))]).result()[0].data.evs
            np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_errors_like_qiskit():
    qc, qc2 = QuantumCircuit(1), QuantumCircuit(2)
    op, op2 = SparsePauliOp("I"), SparsePauliOp("II")
    est = qq.EstimatorV2()
    for pubs, kw in [([(qc, op2)], {}), ([(qc, op, [[1e4]])], {}), ([(qc2, op2, [[1, 2]])], {}),
                     ([(qc, [op, op2], [[1]])], {}), ([(qc, op)], {"precision": -1}), ([(qc, 1j * op)], {"precision": 0.1})]:
        with pytest.raises(ValueError):
            est.run(pubs, **kw).result()
    with pytest.raises(ValueError, match="An invalid Estimator pub-like was given"):
        est.run((qc, op)).result()
    # a projector term Qiskit accepts but qcomp cannot measure: a qcomp error that is also a ValueError
    from qiskit.quantum_info import SparseObservable

    with pytest.raises(qq.ObservableError, match="not a Pauli word") as info:
        est.run([(qc, SparseObservable("0"))]).result()
    assert isinstance(info.value, QCompError) and isinstance(info.value, ValueError)
    with pytest.raises(InputError):
        qq.EstimatorV2(default_precision=-0.1)
    with pytest.raises(InputError):
        qq.EstimatorV2(simulator_options={"nope": 1})
    with pytest.raises(InputError):
        qq.SamplerV2(default_shots=0)


def test_metadata_like_qiskit():
    qc, qc2 = QuantumCircuit(2), QuantumCircuit(2)
    qc2.metadata = {"a": 1}
    r = qq.EstimatorV2().run([(qc, "ZZ"), (qc2, "ZZ")]).result()
    ref = StatevectorEstimator().run([(qc, "ZZ"), (qc2, "ZZ")]).result()
    assert r.metadata == ref.metadata == {"version": 2}
    for a, b in zip(r, ref):
        assert a.metadata == b.metadata
    noisy = qq.EstimatorV2().run([(qc2, "ZZ")], precision=0.1).result()[0]
    assert noisy.metadata == {"target_precision": 0.1, "circuit_metadata": {"a": 1}, "shots": 100}


@pytest.mark.parametrize("obs_shape, val_shape", [((), (5,)), ((3,), ()), ((4, 1), (1, 6)), ((2, 3), (2, 3)),
                                                  ((3, 1), (2, 3, 1)), ((1,), (4, 2))])
def test_broadcasting_matches_statevector_estimator(obs_shape, val_shape):
    rng = np.random.default_rng(7)
    qc = real_amplitudes(3, reps=2)
    labels = ["ZZI", "IXY", "YIZ", "XXX", "IIZ", "ZIZ"]
    obs = np.empty(obs_shape, dtype=object)
    for i, pos in enumerate(np.ndindex(*obs_shape)):
        obs[pos] = SparsePauliOp.from_list([(labels[i % 6], 1.0 + i), (labels[(i + 2) % 6], -0.5)])
    obs = obs.tolist() if obs_shape else obs[()]
    vals = rng.uniform(-np.pi, np.pi, val_shape + (qc.num_parameters,))
    ours = qq.EstimatorV2().run([(qc, obs, vals)]).result()[0]
    ref = StatevectorEstimator().run([(qc, obs, vals)]).result()[0]
    assert ours.data.evs.shape == ref.data.evs.shape == ours.data.stds.shape
    np.testing.assert_allclose(ours.data.evs, ref.data.evs, atol=1e-10)
    np.testing.assert_array_equal(ours.data.stds, 0.0)


def test_each_circuit_converted_once(monkeypatch):
    import qcomp.bridges.qiskit_primitives as prim

    calls = []
    real = prim.convert
    monkeypatch.setattr(prim, "convert", lambda c, *a, **k: calls.append(c) or real(c, *a, **k))
    est = qq.EstimatorV2()
    qc = real_amplitudes(3, reps=1)
    vals = np.random.default_rng(0).normal(size=(4, qc.num_parameters))
    for _ in range(3):
        est.run([(qc, "ZZZ", vals), (qc.copy(), "XXI", vals)]).result()
    assert len(calls) == 1  # the copy has the same structure
    other = real_amplitudes(3, reps=2)
    est.run([(other, "ZZZ", np.zeros(other.num_parameters))]).result()
    assert len(calls) == 2


def test_rows_run_as_one_batch(monkeypatch):
    from qcomp.backends.simulator import Simulator

    seen = []
    real = Simulator.expval
    monkeypatch.setattr(Simulator, "expval", lambda self, p=None, x=None: seen.append(np.shape(p)) or real(self, p, x))
    qc = real_amplitudes(3, reps=1)
    vals = np.random.default_rng(0).normal(size=(2, 5, qc.num_parameters))
    qq.EstimatorV2().run([(qc, [["ZZZ"], ["XIX"]], vals)]).result()
    assert seen == [(10, qc.num_parameters)]


def test_precision_gives_shot_noise_with_the_stated_error():
    qc = real_amplitudes(3, reps=2)
    obs = SparsePauliOp.from_list([("ZZI", 0.8), ("IXX", -0.6), ("YIY", 0.3), ("III", 0.25)])
    vals = np.random.default_rng(2).uniform(-2, 2, (400, qc.num_parameters))
    exact = StatevectorEstimator().run([(qc, obs, vals)]).result()[0].data.evs
    precision = 0.02
    r = qq.EstimatorV2(seed=11).run([(qc, obs, vals)], precision=precision).result()[0]
    assert r.metadata["shots"] == math.ceil(1 / precision ** 2)
    z = (r.data.evs - exact) / r.data.stds
    # unbiased, with the stated standard error: z-scores are ~N(0, 1) over 400 draws
    assert abs(z.mean()) < 4 / math.sqrt(400)
    assert 0.8 < z.std() < 1.2
    assert np.all(r.data.stds <= precision * math.sqrt(0.8 ** 2 + 0.6 ** 2 + 0.3 ** 2) + 1e-12)
    # seeded: the same seed gives the same estimates, equal PUBs in one run too (as Qiskit's)
    r2 = qq.EstimatorV2(seed=11).run([(qc, obs, vals), (qc, obs, vals)], precision=precision).result()
    np.testing.assert_array_equal(r2[0].data.evs, r.data.evs)
    np.testing.assert_array_equal(r2[1].data.evs, r.data.evs)
    # precision 0 is exact again
    r0 = qq.EstimatorV2(default_precision=0.1, seed=1).run([(qc, obs, vals[:3])], precision=0).result()[0]
    np.testing.assert_allclose(r0.data.evs, exact[:3], atol=1e-10)


def _measured_circuit():
    qr = QuantumRegister(3, "q")
    a, b = ClassicalRegister(2, "alpha"), ClassicalRegister(3, "beta")
    qc = QuantumCircuit(qr, a, b)
    qc.compose(real_amplitudes(3, reps=2), inplace=True)
    qc.measure(qr[0], a[1])
    qc.measure(qr[2], a[0])
    qc.measure(qr[1], b[2])  # beta[0], beta[1] never measured: they read 0
    return qc


def test_sampler_matches_statevector_sampler_distribution():
    qc = _measured_circuit()
    vals = np.random.default_rng(5).uniform(-2, 2, (3, qc.num_parameters))
    shots = 20000
    ours = qq.SamplerV2(seed=3).run([(qc, vals)], shots=shots).result()[0]
    ref = StatevectorSampler(seed=3).run([(qc, vals)], shots=shots).result()[0]
    assert ours.metadata == {"shots": shots, "circuit_metadata": {}}
    assert set(ours.data.keys()) == {"alpha", "beta"}
    for reg in ("alpha", "beta"):
        ba, rb = getattr(ours.data, reg), getattr(ref.data, reg)
        assert ba.shape == rb.shape == (3,) and ba.num_shots == shots and ba.num_bits == rb.num_bits
    exact = StatevectorEstimator()
    for i in range(3):
        counts = ours.data.alpha.get_counts(i)
        # P(alpha = b1 b0) from exact probabilities: bit 1 is qubit 0, bit 0 is qubit 2
        from qiskit.quantum_info import Statevector

        p = Statevector(qc.remove_final_measurements(inplace=False).assign_parameters(vals[i])).probabilities([2, 0])
        for k in range(4):
            n = counts.get(format(k, "02b"), 0)
            sd = math.sqrt(shots * p[k] * (1 - p[k])) + 1e-9
            assert abs(n - shots * p[k]) < 5 * sd
        assert set(ours.data.beta.get_counts(i)) <= {"000", "100"}
    del exact


def test_sampler_shapes_seed_and_no_measurements():
    qc = _measured_circuit()
    vals = np.random.default_rng(0).uniform(-1, 1, (2, 1, qc.num_parameters))
    s = qq.SamplerV2(seed=9, default_shots=64)
    r1 = s.run([(qc, vals), (qc, vals[0, 0])]).result()
    r2 = s.run([(qc, vals), (qc, vals[0, 0])]).result()
    assert r1[0].data.alpha.shape == (2, 1) and r1[1].data.alpha.shape == ()
    assert r1[0].data.alpha.num_shots == 64
    np.testing.assert_array_equal(r1[0].data.alpha.array, r2[0].data.alpha.array)
    bell = QuantumCircuit(2, 2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure([0, 1], [0, 1])
    counts = qq.SamplerV2(seed=1).run([bell], shots=1000).result()[0].data.c.get_counts()
    assert set(counts) == {"00", "11"}
    none = QuantumCircuit(1, 1)
    none.h(0)
    assert qq.SamplerV2().run([none], shots=10).result()[0].data.c.get_counts() == {"0": 10}


def test_sampler_refuses_mid_circuit_measurement():
    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    qc.h(0)
    with pytest.raises(UnsupportedError, match="mid-circuit"):
        qq.SamplerV2().run([qc]).result()


def test_public_module_is_the_bridge():
    import qcomp.bridges.qiskit_primitives as prim

    assert qq is prim
    assert qq.EstimatorV2 is prim.EstimatorV2


def test_shared_columns_run_as_params():
    # a QNN batch: weights equal in every row, inputs per row; and a PUB whose rows are all equal
    qc = real_amplitudes(3, reps=2)
    rng = np.random.default_rng(4)
    vals = np.repeat(rng.uniform(-2, 2, (1, qc.num_parameters)), 6, axis=0)
    vals[:, :3] = rng.uniform(-2, 2, (6, 3))
    obs = [SparsePauliOp("ZZI"), SparsePauliOp.from_list([("XIY", 0.5), ("IZZ", -1.0)])]
    for v in (vals, np.repeat(vals[:1], 4, axis=0)):
        ours = qq.EstimatorV2().run([(qc, [[o] for o in obs], v)]).result()[0].data.evs
        ref = StatevectorEstimator().run([(qc, [[o] for o in obs], v)]).result()[0].data.evs
        np.testing.assert_allclose(ours, ref, atol=1e-10)
