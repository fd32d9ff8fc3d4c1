"""merge-rotations: exact before/after on small circuits, and random-circuit equivalence."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcomp.ir import Const, Operation, Sym
from qcomp.ir.expr import to_text
from qcomp.passes.merge_rotations import MergeRotations

W0 = Sym("param", 0, "w[0]")
W1 = Sym("param", 1, "w[1]")


def op(name, *qubits, angles=()):
    return Operation(name, tuple(qubits), tuple(angles))


def run(make_program, n, ops):
    prog = make_program(n, ops)
    out = MergeRotations().run(prog)
    assert prog.circuit.ops() == ops
    return out.circuit.ops()


@pytest.mark.parametrize("name", ["rx", "ry", "rz", "p"])
def test_single_qubit_symbolic(make_program, name):
    out = run(make_program, 1, [op(name, 0, angles=(W0,)), op(name, 0, angles=(W1 * 2,))])
    assert len(out) == 1 and out[0].name == name
    assert to_text(out[0].angles[0]) == "w[0] + 2 * w[1]"


@pytest.mark.parametrize("name", ["rxx", "ryy", "rzz", "cp", "crz", "crx", "cry"])
def test_two_qubit(make_program, name):
    out = run(make_program, 2, [op(name, 0, 1, angles=(W0,)), op(name, 0, 1, angles=(Const(0.5),))])
    assert out == [op(name, 0, 1, angles=(W0 + 0.5,))]


def test_qubit_order_matters_only_for_asymmetric(make_program):
    assert run(make_program, 2, [op("rzz", 0, 1, angles=(W0,)), op("rzz", 1, 0, angles=(W1,))]) == [
        op("rzz", 0, 1, angles=(W0 + W1,))
    ]
    ops = [op("crz", 0, 1, angles=(W0,)), op("crz", 1, 0, angles=(W1,))]
    assert run(make_program, 2, ops) == ops


def test_zero_sum_removed_with_the_right_period(make_program):
    assert run(make_program, 1, [op("rz", 0, angles=(W0,)), op("rz", 0, angles=(-W0,))]) == []
    assert run(make_program, 1, [op("rx", 0, angles=(Const(math.pi),)), op("rx", 0, angles=(Const(math.pi),))]) == []
    # crz(2 pi) = z on the control: must stay
    out = run(make_program, 2, [op("crz", 0, 1, angles=(Const(math.pi),)), op("crz", 0, 1, angles=(Const(math.pi),))])
    assert out == [op("crz", 0, 1, angles=(Const(2 * math.pi),))]


def test_across_commuting_gates(make_program):
    # rz on a cx control merges across the cx; rx on its target too
    ops = [op("rz", 0, angles=(W0,)), op("cx", 0, 1), op("rz", 0, angles=(W1,))]
    assert run(make_program, 2, ops) == [op("rz", 0, angles=(W0 + W1,)), op("cx", 0, 1)]
    ops = [op("rx", 1, angles=(W0,)), op("cx", 0, 1), op("rx", 1, angles=(W1,))]
    assert run(make_program, 2, ops) == [op("rx", 1, angles=(W0 + W1,)), op("cx", 0, 1)]
    # rzz merges across diagonal gates
    ops = [op("rzz", 0, 1, angles=(W0,)), op("cz", 1, 2), op("t", 0), op("rzz", 0, 1, angles=(W1,))]
    assert run(make_program, 3, ops) == [op("rzz", 0, 1, angles=(W0 + W1,)), op("cz", 1, 2), op("t", 0)]
    # not across a gate that does not commute
    ops = [op("rz", 0, angles=(W0,)), op("h", 0), op("rz", 0, angles=(W1,))]
    assert run(make_program, 1, ops) == ops


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_circuits_equivalent(data, random_program, check_equivalent):
    prog = data.draw(random_program())
    out = MergeRotations().run(prog)
    assert len(out.circuit) <= len(prog.circuit)
    check_equivalent(prog, out)
