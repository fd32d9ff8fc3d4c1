"""Hardware exports measure Pauli sums by qubit-wise commuting groups: the manifest records the groups
(no more than Qiskit's ``group_commuting(qubit_wise=True)``), and the group circuits run on Qiskit's
StatevectorSampler and Aer's SamplerV2 give the exact expectation values within their standard errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qiskit")
pytest.importorskip("qiskit_qasm3_import")

import qcomp  # noqa: E402
from qcomp.cli import main  # noqa: E402
from qcomp.hardware import (estimate_from_group_counts, manifest_measurement_groups,  # noqa: E402
                            measurement_circuits, run_measurement_groups)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MIXED = """qubit q[3];
param w[4];
input x;
ry(w[0] * x) q[0];
cx q[0], q[1];
rx(w[1]) q[2];
ry(w[2]) q[1];
cz q[1], q[2];
rz(w[3]) q[0];
expect z(q[0]) @ z(q[1]) + 0.5 * x(q[2]) - 0.25 * y(q[1]) @ x(q[2]) + 0.3;
expect x(q[0]) @ x(q[1]) - y(q[0]) + z(q[2]);
"""


def _qiskit_groups(manifest):
    from qiskit.quantum_info import SparsePauliOp

    n = manifest["num_qubits"]
    labels = sorted({t["qiskit_label"] for o in manifest["outputs"] for t in o["terms"]} - {"I" * n})
    return len(SparsePauliOp(labels).group_commuting(qubit_wise=True))


@pytest.mark.parametrize("example", ["hea_vqe.q", "qaoa_maxcut.q"])
def test_compile_manifest_records_no_more_groups_than_qiskit(example, tmp_path):
    out = tmp_path / "m.qasm"
    assert main(["compile", str(EXAMPLES / example), "-o", str(out)]) == 0
    manifest = json.loads((tmp_path / "m.qasm.json").read_text())
    groups = manifest["measurement_groups"]
    assert 1 <= len(groups) <= _qiskit_groups(manifest)
    # every term of every output is measured by exactly one group
    measured = sorted(tuple(t) for g in groups for t in g["terms"])
    expected = sorted((k, i) for k, o in enumerate(manifest["outputs"]) for i, t in enumerate(o["terms"]) if t["paulis"])
    assert measured == expected
    # an older manifest without groups gets the same groups computed
    del manifest["measurement_groups"]
    assert manifest_measurement_groups(manifest) == groups


def _exact(model, w, x):
    return np.atleast_2d(model.simulator().expval(w, x))


def test_group_circuits_on_statevector_sampler_give_the_exact_values(tmp_path):
    from qiskit.primitives import StatevectorSampler

    src = tmp_path / "m.q"
    src.write_text(MIXED)
    model = qcomp.compile(src)
    qres = model.qasm_result(3)
    assert len(qres.manifest["measurement_groups"]) <= _qiskit_groups(qres.manifest)
    rng = np.random.default_rng(1)
    w = rng.uniform(-2, 2, 4)
    x = rng.uniform(0, 1, (3, 1))
    values, stderr = run_measurement_groups(qres, StatevectorSampler(seed=5), 20000, w, x)
    exact = _exact(model, w, x)
    assert values.shape == stderr.shape == (3, 2)
    assert np.all(stderr > 0) and np.all(np.abs(values - exact) < 4.5 * stderr)


def test_group_circuits_on_aer_sampler(tmp_path):
    pytest.importorskip("qiskit_aer")
    from qiskit_aer.primitives import SamplerV2

    model = qcomp.compile(EXAMPLES / "hea_vqe.q")
    qres = model.qasm_result(3)
    w = np.random.default_rng(2).uniform(-1, 1, model.num_params)
    values, stderr = run_measurement_groups(qres, SamplerV2(seed=3), 20000, w)
    exact = _exact(model, w, None)
    assert len(measurement_circuits(qres)) == 2  # ZZ terms and X terms: 2 circuits for 7 terms
    assert np.all(np.abs(values - exact) < 4.5 * stderr)


def test_estimate_from_counts_by_hand():
    manifest = {"num_qubits": 2, "outputs": [{"terms": [
        {"coeff": 2.0, "paulis": [[0, "Z"], [1, "Z"]], "qiskit_label": "ZZ"},
        {"coeff": 1.0, "paulis": [[1, "Z"]], "qiskit_label": "ZI"},
        {"coeff": 0.5, "paulis": [], "qiskit_label": "II"}]}]}
    # outcomes over bits (q1 q0): "00" -> ZZ=+1, Z1=+1; "10" -> ZZ=-1, Z1=-1
    values, stderr = estimate_from_group_counts(manifest, [[{"00": 3, "10": 1}]])
    f = np.array([2 + 1, -2 - 1] * 1)
    mean = (3 * f[0] + 1 * f[1]) / 4
    assert values[0, 0] == pytest.approx(mean + 0.5)
    var = (3 * (f[0] - mean) ** 2 + (f[1] - mean) ** 2) / 3  # sample variance, ddof 1
    assert stderr[0, 0] == pytest.approx(np.sqrt(var / 4))
    with pytest.raises(qcomp.errors.InputError, match="measurement groups"):
        estimate_from_group_counts(manifest, [])


def test_aer_executor_groups_with_qcomps_grouping():
    pytest.importorskip("qiskit_aer")
    from qcomp.hardware.qiskit import _group_labels

    labels = ["ZZII", "IZZI", "IIZZ", "XIII", "IXII", "IIXI", "IIIX", "XXII", "YYII"]
    groups = _group_labels(labels, 4)
    from qiskit.quantum_info import SparsePauliOp

    assert sorted(sum(groups, [])) == sorted(labels)
    assert len(groups) <= len(SparsePauliOp(labels).group_commuting(qubit_wise=True))
    model = qcomp.compile(EXAMPLES / "hea_vqe.q")
    w = np.random.default_rng(4).uniform(-1, 1, model.num_params)
    est = qcomp.hardware.qiskit.run_on_qiskit(model, w, backend="qiskit-aer", shots=20000, seed=1)
    exact = _exact(model, w, None)
    # 7 terms of weight at most 1, 2 groups: the error is at most sum |c| / sqrt(shots)
    assert np.all(np.abs(est - exact) < 4.5 * 4.0 / np.sqrt(20000))
