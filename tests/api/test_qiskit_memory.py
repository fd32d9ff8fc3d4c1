"""The qiskit-statevector backend refuses circuits whose state does not fit, before Qiskit allocates."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qiskit")
pytest.importorskip("qiskit_qasm3_import")

import qcomp
from qcomp.errors import ResourceLimitError
from qcomp.hardware.qiskit import QiskitStatevectorExecutor, run_for_cli, run_on_qiskit


def _wide(n: int, measure: bool = False) -> str:
    # every qubit observed, so no pass drops any
    gates = " ".join(f"h q[{i}];" for i in range(n))
    out = f"measure q;" if measure else "expect " + " @ ".join(f"z(q[{i}])" for i in range(n)) + ";"
    return f"qubit q[{n}]; {gates} {out}"


def test_statevector_estimate_over_budget_is_a_resource_error():
    m = qcomp.compile(_wide(12), cache=False)
    ex = QiskitStatevectorExecutor(max_memory_bytes=1 << 16)
    with pytest.raises(ResourceLimitError, match=r"simulating 12 qubits with qiskit-statevector needs 256\.0 KiB"):
        ex.expval(m.qasm_result(3))
    np.testing.assert_allclose(QiskitStatevectorExecutor().expval(m.qasm_result(3)), [[0.0]], atol=1e-12)


def test_statevector_sample_over_budget_is_a_resource_error():
    m = qcomp.compile(_wide(12, measure=True), cache=False)
    res = m.qasm_result(3)
    with pytest.raises(ResourceLimitError, match="12 qubits with qiskit-statevector"):
        QiskitStatevectorExecutor(max_memory_bytes=1 << 16).sample(res.text, {}, 10)


@pytest.mark.parametrize("measure", [False, True])
def test_forty_qubits_on_qiskit_statevector_is_refused(measure):
    m = qcomp.compile(_wide(40, measure), cache=False)
    with pytest.raises(ResourceLimitError, match="40 qubits with qiskit-statevector needs 64.0 TiB"):
        run_for_cli(m, None, None, "qiskit-statevector")
    if not measure:
        with pytest.raises(ResourceLimitError):
            run_on_qiskit(m)
