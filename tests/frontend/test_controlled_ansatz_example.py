"""examples/controlled_ansatz.q: parses, matches a Qiskit oracle, differentiates three ways, exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qcomp
from qcomp.backends import reference
from qcomp.backends.simulator import Simulator
from qcomp.gradients import finite_diff_gradient, parameter_shift_gradient

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "controlled_ansatz.q"


def _program():
    return qcomp.parse(EXAMPLE.read_text(), name=str(EXAMPLE))


def _qiskit_energy(theta: np.ndarray) -> float:
    qiskit = pytest.importorskip("qiskit")
    from qiskit.circuit.library import RXGate, RYGate, RZGate
    from qiskit.quantum_info import SparsePauliOp, Statevector

    n, per = 4, 2 * 4 + 2
    qc = qiskit.QuantumCircuit(n)
    qc.x(range(n))
    for layer in range(2):
        o = layer * per
        for i in range(n):
            qc.ry(theta[o + i], i)
        for i in range(n):
            qc.append(RYGate(theta[o + n + i]).control(1), [i, (i + 1) % n])
        qc.append(RZGate(theta[o + 2 * n]).control(2), [0, 1, 2])
        qc.append(RXGate(theta[o + 2 * n + 1]).control(1, ctrl_state=0), [3, 0])
        t = theta[o]
        mix = qiskit.QuantumCircuit(2, global_phase=t / 2)
        mix.cx(0, 1); mix.ry(t, 0); mix.cx(0, 1)
        qc.append(mix.to_gate().control(1), [2, 3, 1])
    terms = []
    for i in range(n):
        j = (i + 1) % n
        for p in "XYZ":
            label = ["I"] * n
            label[n - 1 - i] = label[n - 1 - j] = p
            terms.append(("".join(label), 1.0))
    return Statevector(qc).expectation_value(SparsePauliOp.from_list(terms)).real


def test_example_matches_qiskit_and_differentiates() -> None:
    program = _program()
    assert program.num_params == 20
    names = {op.name for op in program.circuit.ops()}
    assert {"cry", "c_c_rz", "negc_rx", "barrier", "ccx", "p"} <= names
    theta = np.random.default_rng(3).uniform(-np.pi, np.pi, 20)
    np.testing.assert_allclose(reference.expvals(program, theta)[0, 0], _qiskit_energy(theta), atol=1e-10)
    fd = finite_diff_gradient(program, theta)
    ps = parameter_shift_gradient(program, theta)
    adj = Simulator(program).gradient(theta)
    np.testing.assert_allclose(ps, fd, atol=1e-6)
    np.testing.assert_allclose(adj, ps.reshape(adj.shape), atol=1e-9)


def test_example_exports() -> None:
    from qcomp.backends.qasm import emit_qasm

    program = _program()
    text = emit_qasm(program, version=3).text
    assert "ctrl(2) @ rz(" in text and "negctrl @ rx(" in text and "barrier q[0], q[1], q[2], q[3];" in text
    theta = np.linspace(-1, 1, 20)
    text2 = emit_qasm(program, version=2, bind_params=theta).text
    assert "gate c_c_rz(theta) a, b, c {" in text2
