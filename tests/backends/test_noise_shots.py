"""Shots on the noisy simulators (density matrix and trajectories): estimates against exact noisy
values computed by an independent numpy oracle from Qiskit Aer's density matrix (z-scores at fixed
seeds), counts against exact probabilities and against Aer's own noisy sampling (chi-square),
standard errors against the spread of repeated estimates, shot gradients against the exact adjoint
gradient, and reproducibility with seeds."""

from __future__ import annotations

import numpy as np
import pytest

import qcomp
from qcomp.backends.density import DensityMatrixSimulator
from qcomp.backends.trajectories import TrajectorySimulator
from qcomp.errors import InputError, UnsupportedError
from qcomp.ir.outputs import Expectation, Probabilities, Samples, Variance
from qcomp.noise import Channel, NoiseModel

from noise_oracles import aer_density_matrix, random_noisy_source

stats = pytest.importorskip("scipy.stats")
pytest.importorskip("qiskit_aer")

SRC = """qubit q[3]; param w[3];
ry(w[0]) q[0]; rx(w[1]) q[1]; cx q[0], q[1]; rz(w[2]) q[2]; h q[2]; rzz(w[2] * 0.5 + 0.2) q[1], q[2];
ry(w[1]) q[2];
expect z(q[0]) @ z(q[1]) + 0.5 * x(q[2]); expect 0.7 * y(q[1]) - x(q[0]) @ z(q[2]); measure q;"""
W = np.array([[0.4, -1.2, 0.8], [1.0, 0.3, -0.5]])


def noise_model(readout: bool = True) -> NoiseModel:
    m = (NoiseModel()
         .add_all_qubit_error("depolarizing", ["ry", "rx"], params=[0.06])
         .add_all_qubit_error(Channel("amplitude_damping", 0.15), ["cx", "rzz"])
         .add_all_qubit_error(Channel("phase_damping", 0.1), ["rz"]))
    return m.add_readout_error(0.03, 0.08) if readout else m


def compiled():
    return qcomp.compile(SRC, cache=False, optimize=0)


# -- the numpy oracle ------------------------------------------------------------------------

_H = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
_ROT = {"I": np.eye(2), "Z": np.eye(2), "X": _H, "Y": _H @ np.diag([1, -1j])}


def measured_probabilities(rho: np.ndarray, n: int, basis: dict[int, str], readout: dict[int, tuple[float, float]]):
    """Probabilities (2**n,) of all qubits (index bit k = qubit k) after rotating qubit q into
    ``basis[q]`` and through the per-qubit readout confusion matrices."""
    U = np.array([[1.0]])
    for q in range(n - 1, -1, -1):  # kron: the most significant factor is qubit n - 1
        U = np.kron(U, _ROT[basis.get(q, "Z")])
    p = np.real(np.diag(U @ rho @ U.conj().T)).reshape((2,) * n)
    for q, (p01, p10) in readout.items():
        M = np.array([[1 - p01, p10], [p01, 1 - p10]])
        ax = n - 1 - q
        p = np.moveaxis(np.tensordot(M, p, axes=([1], [ax])), 0, ax)
    return p.reshape(-1)


def measured_expectation(rho, n, observable, readout) -> float:
    """What a shot estimate of ``observable`` converges to: every term measured in its basis,
    its value (-1)**parity of the measured (readout-corrupted) bits."""
    total = 0.0
    s = np.arange(2**n)
    for t in observable.terms:
        p = measured_probabilities(rho, n, dict(t.paulis), readout)
        mask = sum(1 << q for q, _ in t.paulis)
        sign = 1 - 2 * (np.array([bin(v).count("1") for v in (s & mask)]) % 2)
        total += float(np.real(t.coeff)) * float(p @ sign)
    return total


def aer_rho(model, noise, w):
    """Aer's density matrix of the program with the noise model applied (channels as Kraus)."""
    return aer_density_matrix(noise.apply(model.program), w)


READOUT = {q: (0.03, 0.08) for q in range(3)}


# -- estimates against exact noisy values ----------------------------------------------------

@pytest.mark.parametrize("method,shots,seed", [("density_matrix", 4000, 1), ("density_matrix", 4000, 2),
                                               ("trajectories", 1500, 3)])
def test_estimates_match_exact_noisy_values_within_standard_errors(method, shots, seed):
    model, noise = compiled(), noise_model()
    sim = model.simulator(noise=noise, method=method, shots=shots, seed=seed)
    ob = model.program.observables[0]
    outs = [Expectation(ob), Expectation(model.program.observables[1]), Variance(ob), Probabilities((2, 0))]
    est = sim.estimate(W, outputs=outs)
    for b, w in enumerate(W):
        rho = aer_rho(model, noise, w)
        e0 = measured_expectation(rho, 3, ob, READOUT)
        e1 = measured_expectation(rho, 3, model.program.observables[1], READOUT)
        sq = Variance(ob).needs().observables[1]  # O**2 as a Pauli sum, measured with O
        var = measured_expectation(rho, 3, sq, READOUT) - e0**2
        p = measured_probabilities(rho, 3, {}, READOUT).reshape(2, 2, 2)  # axes: q2, q1, q0
        p20 = p.sum(axis=1).T.reshape(-1)  # bit 0 = qubit 2, bit 1 = qubit 0
        for k, exact in enumerate([e0, e1, var]):
            assert est.stderr[k][b] > 0
            assert abs(est.values[k][b] - exact) < 4.5 * est.stderr[k][b], (k, est.values[k][b], exact)
        assert np.all(np.abs(est.values[3][b] - p20) <= 4.5 * est.stderr[3][b] + 1e-12)


def test_without_readout_error_estimates_converge_to_the_exact_expval():
    model = compiled()
    sim = model.simulator(noise=noise_model(readout=False), shots=20000, seed=5)
    exact = model.simulator(noise=noise_model(readout=False)).expval(W)
    values, stderr = sim.estimate(W)
    for k in range(2):
        assert np.all(np.abs(values[k] - exact[:, k]) < 4.5 * stderr[k])


@pytest.mark.parametrize("method", ["density_matrix", "trajectories"])
def test_chi_square_of_counts_against_exact_probabilities(method):
    model, noise = compiled(), noise_model()
    shots = 3000
    sim = model.simulator(noise=noise, method=method, shots=shots, seed=11)
    exact = model.simulator(noise=noise).probs(W)  # readout included, checked against Aer below
    counts = sim.sample(W, shots=shots, seed=4)
    for row, p in zip(counts, exact):
        obs = np.array([row.get(format(k, "03b"), 0) for k in range(8)])
        assert obs.sum() == shots
        assert stats.chisquare(obs, p * shots).pvalue > 1e-3
    freq = sim.probs(W)
    for f, p in zip(freq, exact):
        assert stats.chisquare(np.rint(f * shots), p * shots).pvalue > 1e-3


def test_counts_match_aer_noisy_sampling():
    """Two-sample chi-square: qcomp's noisy shots (density matrix and trajectories) against
    ``AerSimulator(method="density_matrix", noise_model=noise.to_qiskit())`` counts, readout included."""
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator

    model, noise = compiled(), noise_model()
    w = W[0]
    qc = QuantumCircuit(3)
    qc.ry(w[0], 0)
    qc.rx(w[1], 1)
    qc.cx(0, 1)
    qc.rz(w[2], 2)
    qc.h(2)
    qc.rzz(w[2] * 0.5 + 0.2, 1, 2)
    qc.ry(w[1], 2)
    qc.measure_all()
    shots = 20000
    aer = AerSimulator(method="density_matrix", noise_model=noise.to_qiskit(), seed_simulator=3)
    ac = aer.run(qc, shots=shots).result().get_counts()
    a = np.array([ac.get(format(k, "03b"), 0) for k in range(8)])
    for method, n in (("density_matrix", 20000), ("trajectories", 4000)):
        c = model.simulator(noise=noise, method=method, shots=n, seed=2).sample(w, shots=n, seed=9)
        q = np.array([c.get(format(k, "03b"), 0) for k in range(8)])
        table = np.array([a, q])
        table = table[:, table.sum(axis=0) > 0]
        assert stats.chi2_contingency(table).pvalue > 1e-3, (method, a, q)


def test_standard_errors_match_the_spread_of_repeats():
    model, noise = compiled(), noise_model()
    w = W[1]
    outs = [Expectation(model.program.observables[0]), Expectation(model.program.observables[1]),
            Variance(model.program.observables[1]), Probabilities((1,))]
    sim = model.simulator(noise=noise, shots=400, seed=21)
    reps = [sim.estimate(w, outputs=outs) for _ in range(300)]
    for k in range(3):
        spread = np.std([r.values[k] for r in reps], ddof=1)
        mean_err = np.mean([r.stderr[k] for r in reps])
        assert abs(mean_err / spread - 1) < 0.15, (k, mean_err, spread)
    spread = np.std([r.values[3][0] for r in reps], ddof=1)
    assert abs(np.mean([r.stderr[3][0] for r in reps]) / spread - 1) < 0.15


def test_trajectory_shots_have_the_density_matrix_spread():
    """One trajectory per shot: the shot estimate's spread over repeats is the density matrix's
    (exact draws from the noisy distribution), and its standard error says so."""
    model, noise = compiled(), noise_model()
    w = W[0]
    ob = [Expectation(model.program.observables[0])]
    tr = model.simulator(noise=noise, method="trajectories", shots=150, seed=8)
    reps = [tr.estimate(w, outputs=ob) for _ in range(120)]
    spread = np.std([r.values[0] for r in reps], ddof=1)
    mean_err = np.mean([r.stderr[0] for r in reps])
    assert abs(mean_err / spread - 1) < 0.25, (mean_err, spread)
    exact = measured_expectation(aer_rho(model, noise, w), 3, model.program.observables[0], READOUT)
    pooled = np.mean([r.values[0] for r in reps])
    assert abs(pooled - exact) < 4.5 * spread / np.sqrt(len(reps))


def test_random_noisy_programs_shot_estimates():
    """Random noisy programs (every channel kind) with readout errors: estimates within 4.5
    standard errors of the oracle's measured expectation."""
    for seed in range(6):
        n = 1 + seed % 3
        src = random_noisy_source(seed, n, 10).replace("measure q;", f"readout_error(0.04, 0.07) q[0];\nmeasure q;")
        model = qcomp.compile(src, cache=False, optimize=0)
        w = np.random.default_rng(seed).uniform(-np.pi, np.pi, 3)
        est = model.simulator(method="density_matrix", shots=5000, seed=seed).estimate(w)
        rho = aer_density_matrix(model.program, w)
        for k, ob in enumerate(model.program.observables):
            exact = measured_expectation(rho, n, ob, {0: (0.04, 0.07)})
            assert abs(est.values[k] - exact) <= 4.5 * est.stderr[k] + 1e-12, (seed, k)


# -- gradients -------------------------------------------------------------------------------

@pytest.mark.parametrize("method,shots", [("density_matrix", 6000), ("trajectories", 800)])
def test_shot_gradients_within_standard_errors_of_the_adjoint(method, shots):
    model, noise = compiled(), noise_model(readout=False)
    exact = model.simulator(noise=noise).gradient(W)
    sim = model.simulator(noise=noise, method=method, shots=shots, seed=13)
    g, err = sim.gradient_estimate(W)
    assert g.shape == err.shape == exact.shape == (2, 2, 3)
    assert np.all(err > 0)
    assert np.all(np.abs(g - exact) < 4.5 * err), np.abs(g - exact) / err
    assert sim.gradient(W).shape == (2, 2, 3)


def test_shot_gradient_standard_errors_match_the_spread():
    model, noise = compiled(), noise_model(readout=False)
    sim = model.simulator(noise=noise, shots=300, seed=17)
    reps = [sim.gradient_estimate(W[0]) for _ in range(150)]
    spread = np.std([g for g, _ in reps], axis=0, ddof=1)
    mean_err = np.mean([e for _, e in reps], axis=0)
    assert np.all(np.abs(mean_err / spread - 1) < 0.25), mean_err / spread


def test_vjp_and_training_with_shots_are_reproducible():
    from qcomp.train import Dataset, fit

    model, noise = compiled(), noise_model()
    a = model.simulator(noise=noise, shots=200, seed=3)
    b = model.simulator(noise=noise, shots=200, seed=3)
    cot = np.array([[1.0, -0.5], [0.2, 0.3]])
    assert np.array_equal(a.vjp(W, None, cot), b.vjp(W, None, cot))
    va, ga = a.value_and_vjp(W, None, lambda v, rows: np.ones_like(v))
    vb, gb = b.value_and_vjp(W, None, lambda v, rows: np.ones_like(v))
    assert np.array_equal(va, vb) and np.array_equal(ga, gb) and ga.shape == (2, 3)
    assert not np.array_equal(a.expval(W), a.expval(W))  # consecutive calls draw anew, as on a device
    # a loss that needs the shots: the noisy expectation values estimated from 200 shots
    src = """qubit q[1]; param w[2]; input x[1]; ry(x[0] * w[0] + w[1]) q[0]; expect z(q[0]);"""
    m = qcomp.compile(src, cache=False)
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (16, 1))
    y = np.where(X[:, 0] > 0, 1.0, -1.0)
    runs = []
    for _ in range(2):
        sim = m.simulator(noise=NoiseModel().add_all_qubit_error("depolarizing", ["ry"], params=[0.05]),
                          shots=100, seed=4)
        data = Dataset(X, y, X[:4], y[:4])
        runs.append(fit(sim, np.array([0.1, 0.0]), data, loss="squared", epochs=2, batch_size=8, seed=1).params)
    assert np.array_equal(runs[0], runs[1])


def test_channel_parameters_on_params_are_refused_with_shots():
    src = "qubit q[1];\nparam w[2];\nry(w[0]) q[0];\ndepolarizing(w[1] * 0.1) q[0];\nexpect z(q[0]);"
    sim = qcomp.compile(src, cache=False).simulator(shots=100, seed=0)
    assert sim.expval([0.3, 0.5]).shape == (1,)  # values are fine
    with pytest.raises(UnsupportedError) as e:
        sim.gradient([0.3, 0.5])
    msg = str(e.value)
    assert "<string>:4:1" in msg and "depolarizing(w[1] * 0.1) q[0];" in msg and "^" in msg
    assert "no rule for channel parameters" in msg


# -- API -------------------------------------------------------------------------------------

def test_shot_vectors_seeds_and_shapes():
    model, noise = compiled(), noise_model()
    vec = model.simulator(noise=noise, shots=[100, 10000], seed=7)
    low, high = vec.estimate(W[0])
    assert np.all(np.asarray(high.stderr[:2]) < np.asarray(low.stderr[:2]))
    assert isinstance(vec.expval(W[0]), tuple) and vec.expval(W[0])[1].shape == (2,)
    one = model.simulator(noise=noise, shots=100, seed=7)
    assert one.expval(W[0]).shape == (2,) and one.expval(W).shape == (2, 2)
    assert one.probs(W, qubits=[0]).shape == (2, 2)
    a = model.simulator(noise=noise, shots=100, seed=7).outputs(W)
    b = model.simulator(noise=noise, shots=100, seed=7).outputs(W)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    est = one.estimate(W, outputs=[Samples((0, 1), 50)], seed=3)
    assert est.values[0].shape == (2, 50) and set(np.unique(est.values[0])) <= set(range(4))
    direct = qcomp.noise.simulator(model.program, noise, method="density_matrix", shots=100, seed=7)
    assert isinstance(direct, DensityMatrixSimulator) and direct.shots == 100
    tr = qcomp.noise.simulator(model.program, noise, method="trajectories", shots=50, seed=7)
    assert isinstance(tr, TrajectorySimulator) and tr.expval(W[0]).shape == (2,)
    with pytest.raises(InputError, match="shots must be a positive integer"):
        model.simulator(noise=noise, shots=0)
    with pytest.raises(UnsupportedError, match="parameter shift"):
        one.gradient(W, method="adjoint")
    with pytest.raises(UnsupportedError, match="inputs"):
        one.input_vjp(W, None, np.ones((2, 2)))


def test_trajectory_shots_reproducible_across_threads():
    model, noise = compiled(), noise_model()
    a = model.simulator(noise=noise, method="trajectories", shots=300, seed=5, threads=1).estimate(W)
    b = model.simulator(noise=noise, method="trajectories", shots=300, seed=5, threads=2).estimate(W)
    assert all(np.array_equal(x, y) for x, y in zip(a.values, b.values))
