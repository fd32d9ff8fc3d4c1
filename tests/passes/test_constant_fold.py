"""constant-fold: angle simplification and identity removal with the right periods."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcomp.ir import Const, Operation, Sym
from qcomp.ir.expr import func
from qcomp.passes.constant_fold import ConstantFold, is_identity

W0 = Sym("param", 0, "w[0]")
PI = math.pi


def op(name, *qubits, angles=()):
    return Operation(name, tuple(qubits), tuple(Const(a) if isinstance(a, float) else a for a in angles))


def run(make_program, n, ops, **kw):
    prog = make_program(n, ops)
    out = ConstantFold(**kw).run(prog)
    assert prog.circuit.ops() == ops
    return out.circuit.ops()


def test_expressions_fold(make_program):
    ops = [op("rx", 0, angles=(W0 - W0 + Const(1.0) * 2,)), op("ry", 0, angles=(func("sin", W0) * 1 + 0,))]
    out = run(make_program, 1, ops)
    assert out == [op("rx", 0, angles=(2.0,)), op("ry", 0, angles=(func("sin", W0),))]


@pytest.mark.parametrize(
    "gate,removed",
    [
        (op("id", 0), True),
        (op("rz", 0, angles=(0.0,)), True),
        (op("rx", 0, angles=(2 * PI,)), True),  # -I: a global phase
        (op("p", 0, angles=(2 * PI,)), True),
        (op("p", 0, angles=(PI,)), False),
        (op("rzz", 0, 1, angles=(-2 * PI,)), True),
        (op("cp", 0, 1, angles=(2 * PI,)), True),
        (op("crz", 0, 1, angles=(2 * PI,)), False),  # controlled -I = z on the control
        (op("crx", 0, 1, angles=(4 * PI,)), True),
        (op("cry", 0, 1, angles=(2 * PI,)), False),
        (op("u", 0, angles=(0.0, 0.3, -0.3)), True),
        (op("u", 0, angles=(0.0, 0.3, 0.3)), False),
        (op("u", 0, angles=(2 * PI, 0.0, 0.0)), True),
        (op("rx", 0, angles=(W0 - W0,)), True),
        (op("rx", 0, angles=(W0,)), False),
    ],
)
def test_identity_removal(make_program, gate, removed):
    n = len(gate.qubits)
    out = run(make_program, n, [gate])
    assert (out == []) == removed
    if removed:
        assert is_identity(gate.with_angles(tuple(a.simplify() for a in gate.angles)))


def test_angles_normalized(make_program):
    assert run(make_program, 1, [op("rz", 0, angles=(5 * PI / 2,))]) == [op("rz", 0, angles=(PI / 2,))]
    assert run(make_program, 2, [op("crz", 0, 1, angles=(5 * PI,))]) == [op("crz", 0, 1, angles=(PI,))]
    assert run(make_program, 1, [op("rz", 0, angles=(5 * PI / 2,))], normalize=False) == [op("rz", 0, angles=(5 * PI / 2,))]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_circuits_equivalent(data, random_program, check_equivalent):
    prog = data.draw(random_program())
    out = ConstantFold().run(prog)
    check_equivalent(prog, out)
    assert all(op.name != "id" for op in out.circuit.ops())
