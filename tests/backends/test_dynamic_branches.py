"""The branch simulator of dynamic circuits (qcomp.backends.dynamic_sim) against the branch-enumerating
oracle and the deferred-measurement simulator: outputs, density matrices, samples, gradients, noise,
the automatic choice, resource limits, the CLI and training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qcomp
from qcomp.backends.dynamic_sim import BranchSimulator, branch_plan, prefers_branches
from qcomp.backends.simulator import Simulator
from qcomp.errors import InputError, QCompError, ResourceLimitError, UnsupportedError
from qcomp.pipeline import STATE_TARGET

from test_dynamic_sim import FEED, TELEPORT, _fd, dynamic_programs, oracle_expvals, oracle_probs, oracle_rho

# eight resets and two measurements on three qubits: deferral would add an ancilla each, 3 + 10
# qubits in all (more ancillas than qubits, over 12), so the automatic choice is the branch simulator
RESETS = """
qubit q[3];
bit c[2];
param w[3];
ry(w[0]) q[0];
cx q[0], q[1];
reset q[0];
rx(w[1]) q[0];
cx q[0], q[2];
c[0] = measure q[1];
reset q[1];
if (c[0] == 1) { ry(w[2]) q[2]; } else { rx(w[2] * 0.5) q[2]; }
reset q[1];
h q[1];
reset q[1];
ry(w[1]) q[1];
reset q[1];
h q[1];
reset q[1];
h q[1];
reset q[0];
crz(w[0] + 0.2) q[1], q[2];
reset q[1];
c[1] = measure q[2];
if (c == 2) { x q[0]; }
expect z(q[2]);
expect z(q[0]) + 0.5 * x(q[1]) @ z(q[2]);
"""


def _deferred(model):
    """The statevector simulator of the model's measurements deferred to ancillas (whatever the
    automatic choice), on the program that keeps every declared qubit."""
    return Simulator(model.optimized(STATE_TARGET))


@pytest.mark.parametrize("level", [0, 1, 2, 3])
@pytest.mark.parametrize("src", [FEED, TELEPORT, RESETS], ids=["feed", "teleport", "resets"])
def test_outputs_match_the_oracle_and_deferral(src: str, level: int) -> None:
    w = np.random.default_rng(level).uniform(-np.pi, np.pi, 4)
    model = qcomp.compile(src + "probs q;\n", optimize=level, cache=False)
    w = w[: model.num_params]
    sim = model.simulator(method="branches")
    assert sim.method == "branches"
    base = qcomp.compile(src + "probs q;\n", optimize=0, cache=False).program
    outs = sim.outputs(w)
    nobs = len(outs) - 1
    np.testing.assert_allclose([outs[k] for k in range(nobs)], oracle_expvals(base, w)[:nobs], atol=1e-10)
    np.testing.assert_allclose(outs[-1], oracle_probs(base, w, (0, 1, 2)), atol=1e-10)
    for a, b in zip(outs, _deferred(model).outputs(w)):
        np.testing.assert_allclose(a, b, atol=1e-10)


def test_density_matrix_is_the_mixture() -> None:
    w = np.array([0.4, -1.2, 2.0, 0.8])
    model = qcomp.compile(FEED, optimize=0, cache=False)
    np.testing.assert_allclose(model.simulator(method="branches").density_matrix(w), oracle_rho(model.program, w),
                               atol=1e-12)
    with pytest.raises(UnsupportedError, match="mixture of branches"):
        model.simulator(method="branches").state(w)


def test_batched_rows_and_shapes() -> None:
    rng = np.random.default_rng(5)
    W = rng.uniform(-np.pi, np.pi, (5, 4))
    model = qcomp.compile(FEED, cache=False)
    sim = model.simulator(method="branches", batch_size=2)  # rows run in chunks of two
    got = sim.expval(W)
    assert got.shape == (5, 2)
    for b in range(5):
        np.testing.assert_allclose(got[b], oracle_expvals(model.program, W[b]), atol=1e-10)
    g = sim.gradient(W)
    assert g.shape == (5, 2, 4)
    np.testing.assert_allclose(g[3], _fd(lambda v: oracle_expvals(model.program, v), W[3]), atol=1e-6)


@pytest.mark.parametrize("src", [FEED, RESETS], ids=["feed", "resets"])
def test_gradients_match_finite_differences(src: str) -> None:
    model = qcomp.compile(src, cache=False)
    w = np.array([0.3, -0.8, 1.1, 0.45])[: model.num_params]
    sim = model.simulator(method="branches")
    want = _fd(lambda v: oracle_expvals(model.program, v), w)
    assert np.all(np.abs(want).max(axis=0) > 1e-3)  # every param moves some output
    np.testing.assert_allclose(sim.gradient(w), want, atol=1e-6)
    np.testing.assert_allclose(sim.gradient(w, method="parameter-shift"), want, atol=1e-6)
    v, g = sim.value_and_gradient(w)
    np.testing.assert_allclose(g, want, atol=1e-6)
    cot = np.array([0.7, -1.3])
    np.testing.assert_allclose(sim.vjp(w, None, cot), cot @ want, atol=1e-6)
    with pytest.raises(UnsupportedError, match="parameter shift"):
        sim.gradient(w, method="adjoint")


def test_input_gradients_match_finite_differences() -> None:
    src = ("qubit q[2];\nbit c;\ninput x;\nparam w;\nry(x) q[0];\nc = measure q[0];\nreset q[0];\n"
           "if (c) { rx(w * x) q[1]; }\nry(x + w) q[0];\nexpect z(q[1]) + x(q[0]);\n")
    model = qcomp.compile(src, cache=False)
    sim = model.simulator(method="branches")
    w, x = np.array([0.7]), np.array([[0.9]])
    got = sim.input_vjp(w, x, np.ones((1, 1)))
    h = 1e-6
    fd = (sim.expval(w, x + h) - sim.expval(w, x - h))[0, 0] / (2 * h)
    np.testing.assert_allclose(got[0, 0], fd, atol=1e-6)


def test_samples_follow_the_mixture() -> None:
    model = qcomp.compile(RESETS + "measure q;\n", cache=False)
    w = np.array([0.9, -0.4, 1.3])
    p = oracle_probs(model.program, w, (0, 1, 2))
    shots = 20000
    counts = model.simulator(method="branches").sample(w, shots=shots, seed=3)
    freq = np.zeros(8)
    for k, v in counts.items():
        freq[int(k, 2)] = v
    mask = p > 1e-12
    chi2 = float((((freq - shots * p) ** 2)[mask] / (shots * p[mask])).sum())
    assert chi2 < 30.0, (freq / shots, p)  # at most 7 degrees of freedom: p < 1e-4 at 29.9
    assert np.all(freq[~mask] == 0)


def test_shots_estimates_are_close() -> None:
    model = qcomp.compile(FEED, cache=False)
    w = np.array([0.4, -1.2, 2.0, 0.8])
    est = model.simulator(method="branches", shots=40000, seed=2).estimate(w)
    exact = oracle_expvals(model.program, w)
    for v, e, x in zip(est.values, est.stderr, exact):
        assert abs(float(v) - x) < 5 * float(e) + 1e-9


def test_noise_models_apply_to_the_branches() -> None:
    src = ("qubit q[2];\nbit c;\nparam w;\nry(w) q[0];\nbit_flip(0.1) q[0];\nc = measure q[0];\n"
           "if (c) { x q[1]; }\nreset q[0];\nexpect z(q[1]);\nexpect z(q[0]);\n")
    model = qcomp.compile(src, cache=False)
    w = np.array([0.9])
    p1 = 0.9 * np.sin(w[0] / 2) ** 2 + 0.1 * np.cos(w[0] / 2) ** 2
    sim = model.simulator(method="branches")
    np.testing.assert_allclose(sim.expval(w), [1 - 2 * p1, 1.0], atol=1e-12)
    from qcomp.noise import Channel, NoiseModel

    noise = NoiseModel().add_all_qubit_error(Channel("depolarizing", 0.05), ["ry"])
    a = model.simulator(method="branches", noise=noise).expval(w)
    b = model.simulator(method="density_matrix", noise=noise).expval(w)
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_automatic_choice() -> None:
    big = qcomp.compile(RESETS, cache=False)
    assert big.runs_branches and type(big.simulator()).__name__ == "BranchModelSimulator"
    small = qcomp.compile(FEED, cache=False)  # 3 qubits + 3 ancillas: deferral is no larger
    assert not small.runs_branches and type(small.simulator()).__name__ == "ModelSimulator"
    static = qcomp.compile("qubit q[2];\nh q[0];\ncx q[0], q[1];\nexpect z(q[0]);\n", cache=False)
    assert not static.runs_branches
    # over the qubit limit deferral is refused, the branches run
    tight = qcomp.compile(TELEPORT, cache=False, max_qubits=4)
    assert tight.runs_branches
    np.testing.assert_allclose(tight.simulator().expval([0.7, -1.3]),
                               [np.cos(0.7), np.sin(0.7) * np.cos(-1.3), np.sin(0.7) * np.sin(-1.3)], atol=1e-12)
    assert type(big.simulator(method="defer")).__name__ == "ModelSimulator"
    np.testing.assert_allclose(big.simulator(method="defer").expval([0.3, 0.2, -0.1]),
                               big.simulator().expval([0.3, 0.2, -0.1]), atol=1e-10)
    ops = big.program.circuit.ops()
    assert prefers_branches(big.program, 4096) and branch_plan(ops).bits == 2


def test_declared_qubits_after_output_passes() -> None:
    # -O2 drops the idle qubit q[3] from the "sim" program; probs and sample still describe q[0..3]
    src = RESETS.replace("qubit q[3];", "qubit q[4];")
    model = qcomp.compile(src, optimize=2, cache=False)
    w = np.array([0.9, -0.4, 1.3])
    sim = model.simulator()
    assert sim.method == "branches"
    np.testing.assert_allclose(sim.probs(w, qubits=[0, 1, 2, 3]), oracle_probs(model.program, w, (0, 1, 2, 3)),
                               atol=1e-10)
    np.testing.assert_allclose(sim.expval(w), oracle_expvals(model.program, w), atol=1e-10)


def test_memory_limit_is_checked_before_work_and_located() -> None:
    src = "qubit q[6];\nbit c[6];\n" + "".join(f"h q[{k}];\nc[{k}] = measure q[{k}];\n" for k in range(6)) + \
          "if (c == 5) { x q[0]; }\nexpect z(q[0]);\n"
    model = qcomp.compile(src, cache=False)
    sim = model.simulator(method="branches")
    assert sim.memory_plan(1)["record_bits"] == 6
    with pytest.raises(ResourceLimitError, match="branches") as info:
        model.simulator(method="branches", max_memory_bytes=16 * 4**6 * 10)
    assert info.value.span is not None and info.value.span.line == 14  # the last measurement: 2**6 records
    assert isinstance(info.value, QCompError)


def test_bad_options() -> None:
    model = qcomp.compile(RESETS, cache=False)
    with pytest.raises(UnsupportedError, match="double precision"):
        model.simulator(precision="single")
    with pytest.raises(InputError, match="unknown option 'engine'"):
        model.simulator(engine="numpy")
    with pytest.raises(InputError, match="Dask executor"):
        model.simulator(executor=object())
    with pytest.raises(InputError, match="threads"):
        model.simulator(threads=0)
    with pytest.raises(InputError, match="batch_size"):
        BranchSimulator(model.program, batch_size=0)
    with pytest.raises(UnsupportedError, match="Hessians"):
        model.hessian([0.1, 0.2, 0.3])


def test_cli_run_uses_the_branches(tmp_path: Path, capsys) -> None:
    from qcomp.cli import main

    path = tmp_path / "resets.q"
    path.write_text(RESETS)
    params = tmp_path / "w.json"
    w = np.array([0.9, -0.4, 1.3])
    params.write_text(json.dumps(w.tolist()))
    want = oracle_expvals(qcomp.compile(RESETS, cache=False).program, w)
    for extra in ([], ["--noise-method", "branches"]):
        assert main(["run", str(path), "--params", str(params), *extra]) == 0
        values = [float(v) for v in capsys.readouterr().out.split()[-2:]]
        np.testing.assert_allclose(values, want, atol=1e-9)


def test_training_runs_on_the_branches() -> None:
    from qcomp.train import Adam, Dataset, fit

    model = qcomp.compile(Path(__file__).resolve().parents[2] / "examples" / "feedforward_classifier.q", cache=False)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (32, 2))
    y = np.where(x[:, 0] * x[:, 1] > 0, 1.0, -1.0)
    data = Dataset(x[:24], y[:24], x[24:], y[24:])
    p0 = rng.normal(0, 0.3, model.program.num_params)
    sim = model.simulator(method="branches")
    deferred = model.simulator()
    np.testing.assert_allclose(sim.gradient(p0, x[:3]), deferred.gradient(p0, x[:3]), atol=1e-10)
    res = fit(sim, p0, data, loss="hinge", optimizer=Adam(lr=0.1), epochs=2, batch_size=8, seed=1, progress=False)
    assert len(res.history) == 2 and np.isfinite(res.history[-1]["loss"])


@pytest.mark.filterwarnings("ignore::qcomp.frontend.lower.UnusedDeclarationWarning")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(src=dynamic_programs(), seed=st.integers(0, 2**16), level=st.integers(0, 3))
def test_random_dynamic_programs_match_oracle_and_deferral(src: str, seed: int, level: int) -> None:
    w = np.random.default_rng(seed).uniform(-np.pi, np.pi, 4)
    base = qcomp.compile(src, optimize=0, cache=False)
    model = qcomp.compile(src, optimize=level, cache=False)
    outs = model.simulator(method="branches").outputs(w)
    want_e = oracle_expvals(base.program, w)[:2]
    want_p = oracle_probs(base.program, w, tuple(range(base.program.num_qubits)))
    np.testing.assert_allclose([outs[0], outs[1]], want_e, atol=1e-10, err_msg=f"-O{level}\n{src}")
    np.testing.assert_allclose(outs[2], want_p, atol=1e-10, err_msg=f"-O{level}\n{src}")
    for a, b in zip(outs, _deferred(model).outputs(w)):
        np.testing.assert_allclose(a, b, atol=1e-10, err_msg=f"-O{level}\n{src}")
    grad = base.simulator(method="branches").gradient(w)[:2]
    np.testing.assert_allclose(grad, _fd(lambda v: oracle_expvals(base.program, v)[:2], w), atol=1e-6, err_msg=src)
