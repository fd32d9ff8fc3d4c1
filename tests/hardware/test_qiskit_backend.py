"""Qiskit execution of compiled OpenQASM 3: exact statevector, Aer shots, any EstimatorV2, gradient programs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qiskit")
pytest.importorskip("qiskit_qasm3_import")

import qcomp
from qcomp.errors import InputError
from qcomp.hardware.qiskit import (
    EstimatorExecutor,
    QiskitAerExecutor,
    QiskitStatevectorExecutor,
    run_for_cli,
    run_on_qiskit,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ["hea_vqe", "mnist_qnn", "qaoa_maxcut", "quantum_kernel", "reuploading_classifier"]


@pytest.fixture(autouse=True)
def _no_disk_cache(monkeypatch):
    monkeypatch.setenv("QCOMP_NO_CACHE", "1")


def rows(m, B, seed=0):
    rng = np.random.default_rng(seed)
    P = rng.uniform(-np.pi, np.pi, (B, m.num_params))
    X = rng.uniform(-1, 1, (B, m.num_inputs)) if m.num_inputs else None
    return P, X


def bound(m, shots):
    """5 sigma of the shot estimate of each output: sd <= sum |coeff| / sqrt(shots)."""
    return np.array([5 * sum(abs(t.coeff) for t in o.terms) / np.sqrt(shots) for o in m.program.observables])


@pytest.mark.parametrize("name", NAMES)
def test_statevector_matches_simulator(name):
    m = qcomp.compile(EXAMPLES / f"{name}.q")
    P, X = rows(m, 1 if name == "mnist_qnn" else 3)  # 17 qubits: Qiskit's Statevector is slow
    got = run_on_qiskit(m, P, X, "qiskit-statevector")
    want = m.simulator().expval(P, X)
    assert got.shape == want.shape == (P.shape[0], m.num_outputs)
    np.testing.assert_allclose(got, want, atol=1e-10, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_aer_shots_within_statistical_bound(name):
    pytest.importorskip("qiskit_aer")
    m = qcomp.compile(EXAMPLES / f"{name}.q")
    P, X = rows(m, 2 if name == "mnist_qnn" else 4, seed=1)
    shots = 4000
    got = run_on_qiskit(m, P, X, "qiskit-aer", shots=shots, seed=7)
    want = m.simulator().expval(P, X)
    assert got.shape == want.shape
    assert np.all(np.abs(got - want) <= bound(m, shots)[None, :])
    assert not np.allclose(got, want, atol=1e-9)  # really sampled, not exact
    # the seed makes it reproducible
    np.testing.assert_array_equal(run_on_qiskit(m, P, X, "qiskit-aer", shots=shots, seed=7), got)


def test_aer_pauli_grouping_with_x_y_terms():
    pytest.importorskip("qiskit_aer")
    m = qcomp.compile("qubit q[3]; param w[2]; ry(w[0]) q[0]; cx q[0], q[1]; rx(w[1]) q[2];"
                      "expect 0.7 * x(q[0]) @ x(q[1]) - 0.4 * y(q[2]) + z(q[1]) + 0.25;"
                      "expect y(q[0]) @ z(q[2]);")
    P = np.array([[0.4, 1.3], [2.0, -0.6], [-1.0, 0.2]])
    shots = 20000
    got = QiskitAerExecutor(shots, seed=3).expval(m.qasm_result(), P)
    want = m.simulator().expval(P)
    sd = bound(m, shots) / 5
    assert np.all(np.abs(got - want) <= 5 * sd)


def test_estimator_executor_with_statevector_estimator_and_layout():
    from qiskit.primitives import StatevectorEstimator
    from qiskit.transpiler import CouplingMap, generate_preset_pass_manager

    m = qcomp.compile(EXAMPLES / "reuploading_classifier.q")
    P, X = rows(m, 3)
    want = m.simulator().expval(P, X)
    np.testing.assert_allclose(run_on_qiskit(m, P, X, estimator=StatevectorEstimator()), want, atol=1e-10)
    # as for hardware: transpile to a 4-qubit line in a restricted basis, observables follow the layout
    pm = generate_preset_pass_manager(optimization_level=1, coupling_map=CouplingMap.from_line(4),
                                      basis_gates=["rz", "sx", "x", "cx"], seed_transpiler=1)
    ex = EstimatorExecutor(StatevectorEstimator(), pass_manager=pm)
    np.testing.assert_allclose(ex.expval(m.qasm_result(), P, X, m.program), want, atol=1e-10)
    with pytest.raises(InputError, match="not an Estimator"):
        EstimatorExecutor(object())


def _measured_model():
    return qcomp.compile("qubit q[3]; param w[2]; input x; ry(w[0]) q[0]; cx q[0], q[1]; rx(x * w[1]) q[2];"
                         "h q[1]; measure q[0], q[2];")


@pytest.mark.parametrize("backend", ["qiskit-statevector", "qiskit-aer"])
def test_counts_match_simulator_probabilities(backend):
    if backend == "qiskit-aer":
        pytest.importorskip("qiskit_aer")
    m = _measured_model()
    P, X = np.array([1.0, 2.0]), np.array([[0.3], [1.2]])
    shots = 4000
    counts = run_on_qiskit(m, P, X, backend, shots=shots, seed=11, counts=True)
    probs = m.simulator().probs(P, X)  # (B, 4), index bit j = measured qubit j, as Qiskit's bitstrings
    assert len(counts) == 2
    for c, p in zip(counts, probs):
        assert sum(c.values()) == shots and all(len(k) == 2 for k in c)
        freq = np.array([c.get(format(i, "02b"), 0) for i in range(4)]) / shots
        assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / shots) + 1e-12)
    kind, out = run_for_cli(m, P, X, backend, shots, 11)
    assert kind == "counts" and out == counts


GRAD_SRC = """qubit q[3];
param w[3];
input x;
ry(w[0]) q[0];
cx q[0], q[1];
rx(w[1] * x) q[2];
crz(w[2]) q[1], q[2];
expect 0.5 * x(q[0]) @ z(q[2]) + z(q[1]);
expect y(q[2]);
"""


def test_gradient_program_through_qiskit(tmp_path):
    import json

    from qcomp.cli import main
    from qcomp.hardware import QcompExecutor, parse_coefficients, run_gradient_program

    src = tmp_path / "g.q"
    src.write_text(GRAD_SRC)
    out = tmp_path / "g"
    assert main(["grad", str(src), "-o", str(out)]) == 0
    P, X = np.array([0.4, -1.2, 2.1]), np.array([[0.7], [-0.3]])
    want = run_gradient_program(out, QcompExecutor(), P, X)
    np.testing.assert_allclose(run_gradient_program(out, QiskitStatevectorExecutor(), P, X), want, atol=1e-10)
    pytest.importorskip("qiskit_aer")
    shots = 4000
    got = run_gradient_program(out, QiskitAerExecutor(shots, seed=5), P, X)
    assert got.shape == want.shape == (2, 2, 3)
    # d out / d w = sum_t c_t <O>_t, so its sd <= sum_t |c_t| * sum |coeff of O| / sqrt(shots)
    man = json.loads((out / "manifest.json").read_text())
    for e in man["derivatives"]:
        norm = sum(abs(cf) for _, cf in man["outputs"][e["output"]]["pauli"])
        exprs = parse_coefficients(man, [t["coeff"] for t in e["terms"]])
        c = np.array([np.broadcast_to(np.asarray(x.evaluate(P[None, :], X), dtype=float), (2,)) for x in exprs])
        tol = 5 * np.abs(c).sum(axis=0) * norm / np.sqrt(shots)
        i, j = e["output"], e["wrt_index"][0]
        assert np.all(np.abs(got[:, i, j] - want[:, i, j]) <= tol)
    assert not np.allclose(got, want, atol=1e-9)


def test_errors():
    m = qcomp.compile(EXAMPLES / "reuploading_classifier.q")
    P, X = rows(m, 2)
    with pytest.raises(InputError, match="param"):
        run_on_qiskit(m, None, X)
    with pytest.raises(InputError, match="input"):
        run_on_qiskit(m, P, None)
    with pytest.raises(InputError, match=r"params have shape \(2, 3\); expected \(batch, 24\)"):
        run_on_qiskit(m, P[:, :3], X)
    with pytest.raises(InputError, match="must match"):
        run_on_qiskit(m, P, np.zeros((3, 2)))
    with pytest.raises(InputError, match="needs --backend qiskit-aer"):
        run_on_qiskit(m, P, X, "qiskit-statevector", shots=100)
    with pytest.raises(InputError, match="unknown Qiskit backend"):
        run_on_qiskit(m, P, X, "ibm-brisbane")
    with pytest.raises(InputError, match="shots must be a positive integer"):
        run_on_qiskit(m, P, X, "qiskit-aer", shots=0)
    kind, vals = run_for_cli(m.program, P, X, "qiskit-statevector")
    assert kind == "values" and vals.shape == (2, 2)


def test_cli_values_by_name():
    m = qcomp.compile(EXAMPLES / "reuploading_classifier.q")
    P, X = rows(m, 3)
    kind, vals = run_for_cli(m.program, {"w": P[0]}, {"x": X}, "qiskit-statevector")
    assert kind == "values"
    np.testing.assert_allclose(vals, m.simulator().expval(P[0], X), atol=1e-10)
    with pytest.raises(InputError, match="unknown param 'v'"):
        run_for_cli(m.program, {"w": P[0], "v": 1.0}, X, "qiskit-statevector")
    with pytest.raises(InputError, match="missing input 'x'"):
        run_for_cli(m.program, P[0], {}, "qiskit-statevector")
