"""Shots on qcomp's simulator: chi-square tests of sampled counts against exact probabilities, z-score
tests of estimates (expectation values, variances, probabilities, parameter-shift gradients) against
exact values (the reference simulator and Qiskit's Statevector), and standard errors against the
spread of repeated estimates. Every test runs at fixed seeds, so it is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from qcomp.backends import reference
from qcomp.backends.simulator import Simulator
from qcomp.errors import InputError, QCompError, UnsupportedError
from qcomp.frontend import parse
from qcomp.ir.ops import Observable, PauliTerm
from qcomp.ir.outputs import Expectation, Probabilities, Samples, State, Variance

stats = pytest.importorskip("scipy.stats")

GATES_1 = ("rx", "ry", "rz")
GATES_2 = ("cx", "cz", "rzz", "ryy")


def random_program(seed: int, n: int = 4, depth: int = 12, terms: int = 6) -> tuple:
    """A random parametrized .q program with a random Pauli sum (and a second one) as outputs."""
    rng = np.random.default_rng(seed)
    lines = [f"qubit q[{n}];", f"param w[{depth}];"]
    for k in range(depth):
        if rng.random() < 0.5:
            lines.append(f"{rng.choice(GATES_1)}(w[{k}]) q[{rng.integers(n)}];")
        else:
            a, b = rng.choice(n, 2, replace=False)
            g = rng.choice(GATES_2)
            lines.append(f"{g}(w[{k}]) q[{a}], q[{b}];" if g in ("rzz", "ryy") else f"{g} q[{a}], q[{b}];")
            lines.append(f"ry(w[{k}] * 0.5) q[{a}];")
    for _ in range(2):
        parts = []
        for _ in range(terms):
            qs = rng.choice(n, int(rng.integers(1, 3)), replace=False)
            word = " @ ".join(f"{'xyz'[rng.integers(3)]}(q[{q}])" for q in sorted(qs))
            parts.append(f"{rng.uniform(-1, 1):.3f} * {word}")
        lines.append("expect " + " + ".join(parts) + ";")
    program = parse("\n".join(lines), name=f"random{seed}.q")
    return program, rng.uniform(-np.pi, np.pi, (3, depth))


@pytest.mark.parametrize("seed", range(6))
def test_chi_square_of_sampled_probabilities(seed):
    program, w = random_program(seed)
    shots = 4000
    sim = Simulator(program, shots=shots, seed=seed)
    exact = reference.probabilities(reference.simulate(program, w), (0, 1, 2))
    freq = sim.probs(w, qubits=(0, 1, 2))
    for row, p in zip(freq, exact):
        counts = np.rint(row * shots)
        assert counts.sum() == shots
        keep = p * shots > 5  # the chi-square approximation needs expected counts > 5: pool the rest
        obs = np.append(counts[keep], counts[~keep].sum())
        exp = np.append(p[keep] * shots, p[~keep].sum() * shots)
        if exp[-1] < 5:
            obs, exp = obs[:-1], exp[:-1]
            exp *= obs.sum() / exp.sum()
        assert stats.chisquare(obs, exp).pvalue > 1e-3


@pytest.mark.parametrize("seed", range(8))
def test_expectation_estimates_are_within_their_standard_errors(seed):
    qi = pytest.importorskip("qiskit.quantum_info")
    program, w = random_program(seed, n=5, terms=8)
    sim = Simulator(program, shots=3000, seed=100 + seed)
    values, stderr = sim.estimate(w)
    states = reference.simulate(program, w)
    for b in range(w.shape[0]):
        sv = qi.Statevector(states[b])
        for k, o in enumerate(program.observables):
            exact = sv.expectation_value(qi.SparsePauliOp.from_list(o.sparse_pauli_list(program.num_qubits))).real
            assert stderr[k][b] > 0
            assert abs(values[k][b] - exact) < 4.5 * stderr[k][b]


def test_standard_errors_match_the_spread_of_repeated_estimates():
    program, w = random_program(11, n=4, terms=7)
    sim = Simulator(program, shots=400, seed=5)
    rows = np.repeat(w[:1], 300, axis=0)  # 300 independent estimates of the same row
    est = sim.estimate(rows)
    exact = reference.expvals(program, w[:1])[0]
    for k in range(program.num_outputs):
        spread = est.values[k].std(ddof=1)
        mean_err = est.stderr[k].mean()
        assert spread == pytest.approx(mean_err, rel=0.15)
        # the mean of 300 estimates is 300x more precise
        assert abs(est.values[k].mean() - exact[k]) < 4.5 * mean_err / np.sqrt(300)


def test_variance_and_probability_outputs():
    program, w = random_program(3, n=4)
    obs = program.observables[0]
    sim = Simulator(program, shots=5000, seed=9)
    outputs = [Expectation(obs), Variance(obs), Probabilities((1, 2)), Samples((0,), 7)]
    est = sim.estimate(w, outputs=outputs)
    exact = Simulator(program).outputs(w, outputs=outputs[:3])
    for k in range(3):
        z = np.abs(est.values[k] - exact[k]) / np.maximum(est.stderr[k], 1e-12)
        assert np.all(z < 4.5), (k, z)
    assert est.values[1].shape == (3,) and est.values[2].shape == (3, 4) and est.values[3].shape == (3, 7)
    np.testing.assert_allclose(est.values[2].sum(axis=1), 1.0)
    # outputs() with shots returns the estimates (the values of estimate)
    vals = Simulator(program, shots=5000, seed=9).outputs(w, outputs=outputs[:3])
    for v, e in zip(vals, est.values[:3]):
        np.testing.assert_allclose(v, e)


def test_variance_stderr_matches_spread():
    program, w = random_program(4, n=3, terms=4)
    obs = program.observables[1]
    sim = Simulator(program, shots=300, seed=2)
    est = sim.estimate(np.repeat(w[:1], 300, axis=0), outputs=[Variance(obs)])
    assert est.values[0].std(ddof=1) == pytest.approx(est.stderr[0].mean(), rel=0.2)


def test_seeded_runs_are_reproducible_and_calls_differ():
    program, w = random_program(1)
    a = Simulator(program, shots=100, seed=42)
    b = Simulator(program, shots=100, seed=42)
    first = a.expval(w)
    np.testing.assert_array_equal(first, b.expval(w))
    assert not np.array_equal(first, a.expval(w))  # the generator moves on, as a device's
    assert not np.array_equal(first, Simulator(program, shots=100, seed=43).expval(w))


def test_shapes_follow_the_batch_rule_and_shot_vectors_give_tuples():
    program, w = random_program(2)
    sim = Simulator(program, shots=50, seed=0)
    assert sim.expval(w[0]).shape == (2,)
    assert sim.expval(w).shape == (3, 2)
    est = sim.estimate(w[0])
    assert np.shape(est.values[0]) == () and np.shape(est.stderr[0]) == ()
    vec = Simulator(program, shots=[10, 1000], seed=0)
    out = vec.expval(w)
    assert isinstance(out, tuple) and len(out) == 2 and out[1].shape == (3, 2)
    ests = vec.estimate(w)
    assert [e.shots for e in ests] == [10, 1000]
    assert np.all(ests[1].stderr[0] < ests[0].stderr[0])


def test_pure_z_observable_in_an_eigenstate_has_zero_error():
    program = parse("qubit q[2]; x q[0]; expect z(q[0]) @ z(q[1]) + 0.5 * z(q[1]) + 2;")
    values, stderr = Simulator(program, shots=10, seed=0).estimate()
    assert values[0] == pytest.approx(-1 + 0.5 + 2) and stderr[0] == 0


def test_layers_engine_matches_fused_engine_draws():
    program, w = random_program(5)
    a = Simulator(program, shots=200, seed=3, engine="layers").expval(w)
    b = Simulator(program, shots=200, seed=3, engine="fused").expval(w)
    np.testing.assert_allclose(a, b, atol=1e-12)  # same probabilities up to rounding: same draws


@pytest.mark.parametrize("seed", range(3))
def test_shot_parameter_shift_gradient_within_stderr(seed):
    program, w = random_program(20 + seed, n=3, depth=8, terms=4)
    exact = Simulator(program).gradient(w)
    from qcomp.gradients import shot_parameter_shift_gradient

    g, err = shot_parameter_shift_gradient(program, w, None, shots=4000, rng=seed)
    assert g.shape == err.shape == exact.shape
    z = np.abs(g - exact)[err > 0] / err[err > 0]
    assert z.max() < 5.0
    assert np.all(np.abs(g - exact)[err == 0] < 1e-9)  # derivatives of unused params are exact zeros


def test_shot_gradient_stderr_matches_spread():
    from qcomp.gradients import shot_parameter_shift_gradient

    program, w = random_program(30, n=3, depth=6, terms=3)
    rows = np.repeat(w[:1], 200, axis=0)
    g, err = shot_parameter_shift_gradient(program, rows, None, shots=300, rng=1)
    used = err[0] > 0
    np.testing.assert_allclose(g.std(axis=0, ddof=1)[used], err.mean(axis=0)[used], rtol=0.25)


def test_model_simulator_with_shots_gradients_and_training_interfaces():
    import qcomp

    model = qcomp.compile("examples/hea_vqe.q")
    w = np.random.default_rng(0).uniform(-1, 1, model.num_params)
    sim = model.simulator(shots=20000, seed=1)
    exact = model.simulator().gradient(w)
    g, err = sim.gradient_estimate(w)
    assert np.all(np.abs(g - exact) < 5 * err + 1e-12)
    assert sim.gradient(w).shape == exact.shape
    assert sim.vjp(w, None, [1.0]).shape == (model.num_params,)
    values, vjp = sim.value_and_vjp(w[None], None, lambda v, rows: np.ones_like(v))
    assert values.shape == (1, 1) and vjp.shape == (1, model.num_params)
    with pytest.raises(QCompError, match="parameter shift"):
        sim.gradient(w, method="adjoint")
    with pytest.raises(QCompError, match="Hessians with shots"):
        sim.hessian(w)


def test_mistakes_are_reported():
    program, w = random_program(0)
    for bad in (0, -3, 1.5, "100", True, []):
        with pytest.raises(InputError, match="shots"):
            Simulator(program, shots=bad)
    with pytest.raises(InputError, match="seed"):
        Simulator(program, shots=10, seed=-1)
    with pytest.raises(InputError, match="estimate needs shots"):
        Simulator(program).estimate(w)
    with pytest.raises(UnsupportedError, match="not measurable with shots"):
        Simulator(program, shots=10).estimate(w, outputs=[State()])
    with pytest.raises(UnsupportedError, match="parameter shift"):
        Simulator(program, shots=10).gradient(w)
    import qcomp

    with pytest.raises(InputError, match="Dask"):
        qcomp.compile("examples/hea_vqe.q").simulator(executor=object(), shots=10)


def test_constant_only_observable():
    program = parse("qubit q; h q; expect 0.25 + 0 * z(q);")
    v, e = Simulator(program, shots=5, seed=0).estimate()
    assert v[0] == pytest.approx(0.25) and e[0] == 0
    obs = Observable((PauliTerm(1.5, ()),))
    v, e = Simulator(program, shots=5, seed=0).estimate(outputs=[Expectation(obs)])
    assert v[0] == 1.5


@pytest.mark.parametrize("seed", range(4))
def test_simulator_and_hardware_estimators_agree_on_the_same_counts(seed):
    """Counts as arrays (the simulator's path) and as Qiskit bitstrings read through a manifest's
    groups (the hardware path) give the same estimates and errors; the estimator itself is checked
    by hand in tests/hardware/test_measurement_groups.py and against exact values above."""
    from qcomp.backends.shots import estimates_from_counts
    from qcomp.hardware.manifest import estimate_from_group_counts
    from qcomp.passes.group_measurements import group_observables

    program, _ = random_program(seed, n=5, terms=9)
    obs = list(program.observables) + [Observable(program.observables[0].terms + (PauliTerm(0.4, ()),))]
    n = program.num_qubits
    grouping = group_observables(obs, n)
    manifest = {"num_qubits": n, "measurement_groups": grouping.to_json(obs),
                "outputs": [{"terms": [{"coeff": t.coeff, "paulis": [[q, p] for q, p in t.paulis],
                                        "qiskit_label": t.label(n)} for t in o.terms]} for o in obs]}
    rng = np.random.default_rng(seed)
    shots, B = 500, 3
    counts = [rng.multinomial(shots, rng.dirichlet(np.ones(2 ** len(g.qubits))), size=B) for g in grouping.groups]
    mean, cov = estimates_from_counts(grouping, counts, shots)
    as_dicts = [[{format(k, f"0{len(g.qubits)}b"): int(c) for k, c in enumerate(row) if c} for row in cnt]
                for g, cnt in zip(grouping.groups, counts)]
    values, stderr = estimate_from_group_counts(manifest, as_dicts)
    np.testing.assert_allclose(values, mean, atol=1e-12)
    np.testing.assert_allclose(stderr, np.sqrt(np.diagonal(cov, axis1=1, axis2=2)), atol=1e-12)


def test_memory_guard_refuses_group_probabilities_that_do_not_fit():
    from qcomp.errors import ResourceLimitError

    program, w = random_program(0, n=4)
    sim = Simulator(program, shots=10, max_memory_bytes=4096)
    with pytest.raises(ResourceLimitError, match="measurement groups' probabilities"):
        sim.expval(np.repeat(w, 50, axis=0))
