"""qcomp.from_qiskit on dynamic circuits (mid-circuit measure, reset, if_test/if_else on clbits,
registers and expressions, else branches, nesting) against an exact oracle on Qiskit's own circuit."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import qcomp
from qcomp.api import Model
from qcomp.errors import UnsupportedError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backends"))
qiskit = pytest.importorskip("qiskit")
from dynamic_oracles import qiskit_branch_probs  # noqa: E402
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister  # noqa: E402
from qiskit.circuit import Parameter  # noqa: E402
from qiskit.circuit.classical import expr  # noqa: E402
from qiskit.circuit.random import random_circuit  # noqa: E402


def _probs(program, level: int, **options) -> np.ndarray:
    return Model(program, level).simulator(**options).probs(qubits=list(range(program.num_qubits)))


def _feed_forward() -> QuantumCircuit:
    q, c, d = QuantumRegister(3, "q"), ClassicalRegister(2, "c"), ClassicalRegister(1, "d")
    qc = QuantumCircuit(q, c, d)
    qc.h(0)
    qc.measure(0, c[0])
    qc.ry(0.7, 1)
    qc.cx(1, 2)
    qc.measure(1, c[1])
    qc.reset(1)
    with qc.if_test((c, 3)) as else_:
        qc.x(2)
    with else_:
        qc.h(2)
        with qc.if_test((c[0], 1)):
            qc.reset(0)
            qc.measure(2, d[0])
    with qc.if_test(expr.logic_and(expr.logic_not(c[0]), expr.equal(c, 2))) as else_:
        qc.ry(0.3, 0)
    with else_:
        qc.rx(0.5, 1)
    with qc.if_test(expr.not_equal(d, 1)):
        qc.cx(0, 1)
    with qc.if_test(expr.lift(d[0])):
        qc.s(2)
        qc.h(2)
    return qc


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_if_else_registers_and_expressions(level: int) -> None:
    qc = _feed_forward()
    program = qcomp.from_qiskit(qc)
    assert [r.name for r in program.bits] == ["c", "d"]
    ops = program.circuit.ops()
    assert sum(op.name == "measure" for op in ops) == 3 and sum(op.name == "reset" for op in ops) == 2
    want = qiskit_branch_probs(qc)
    np.testing.assert_allclose(_probs(program, level), want, atol=1e-10)
    np.testing.assert_allclose(_probs(program, level, method="branches"), want, atol=1e-10)
    # the program text parses back to the same operations
    assert qcomp.compile(program.to_text(), optimize=0, cache=False).program.circuit.ops() == ops


def test_final_measurements_stay_outputs() -> None:
    qc = _feed_forward()
    qc.measure_all()
    program = qcomp.from_qiskit(qc)
    assert program.measured == (0, 1, 2)
    np.testing.assert_allclose(_probs(program, 0), qiskit_branch_probs(qc), atol=1e-10)


@pytest.mark.parametrize("n, depth, seed", [(3, 3, 11), (4, 3, 7), (5, 4, 2), (6, 3, 16), (7, 2, 5), (8, 4, 0)])
def test_random_dynamic_circuits(n: int, depth: int, seed: int) -> None:
    qc = random_circuit(n, depth, seed=seed, conditional=True, reset=True, measure=True)
    program = qcomp.from_qiskit(qc)
    want = qiskit_branch_probs(qc)
    for level in (0, 3):
        np.testing.assert_allclose(_probs(program, level), want, atol=1e-9, err_msg=f"-O{level}")


def test_parameters_inside_branches_differentiate() -> None:
    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(2, 1)
    qc.ry(a, 0)
    qc.measure(0, 0)
    qc.reset(0)
    with qc.if_test((qc.clbits[0], 1)) as else_:
        qc.rx(b, 1)
    with else_:
        qc.ry(2 * b, 1)
    qc.rx(a + b, 0)
    program = qcomp.from_qiskit(qc, observables=["ZI", "IZ"])
    sim = qcomp.Model(program, 2).simulator(method="branches")
    w = np.array([0.8, -0.5])
    p1 = np.sin(w[0] / 2) ** 2
    want = [p1 * np.cos(w[1]) + (1 - p1) * np.cos(2 * w[1]), np.cos(w[0] + w[1])]
    np.testing.assert_allclose(sim.expval(w), want, atol=1e-12)
    h = 1e-6
    fd = np.stack([(sim.expval(w + e) - sim.expval(w - e)) / (2 * h) for e in np.eye(2) * h], axis=-1)
    np.testing.assert_allclose(sim.gradient(w), fd, atol=1e-6)


def test_unsupported_conditions_are_refused() -> None:
    c, d = ClassicalRegister(2, "c"), ClassicalRegister(1, "d")
    qc = QuantumCircuit(QuantumRegister(2, "q"), c, d)
    qc.measure(0, c[0])
    qc.measure(1, d[0])
    cond = expr.logic_and(expr.not_equal(c, 2), expr.lift(d[0]))
    with qc.if_test(cond) as else_:
        qc.x(0)
    with else_:
        qc.x(1)
    with pytest.raises(UnsupportedError, match="else branch"):
        qcomp.from_qiskit(qc)
    qc = QuantumCircuit(1, 2)
    qc.measure(0, 0)
    with qc.if_test(expr.less(qc.cregs[0], 2)):
        qc.x(0)
    with pytest.raises(UnsupportedError, match="condition"):
        qcomp.from_qiskit(qc)
