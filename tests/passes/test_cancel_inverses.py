"""cancel-inverses: exact before/after on small circuits, and random-circuit equivalence."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcomp.ir import Const, Operation, Sym
from qcomp.passes import REGISTRY
from qcomp.passes.cancel_inverses import CancelInverses

W0 = Sym("param", 0, "w[0]")
W1 = Sym("param", 1, "w[1]")


def op(name, *qubits, angles=()):
    return Operation(name, tuple(qubits), tuple(angles))


def run(make_program, n, ops, **kw):
    prog = make_program(n, ops)
    out = CancelInverses(**kw).run(prog)
    assert prog.circuit.ops() == ops, "the input program was mutated"
    return out.circuit.ops()


@pytest.mark.parametrize(
    "pair",
    [("h", "h"), ("x", "x"), ("s", "sdg"), ("sdg", "s"), ("t", "tdg"), ("sx", "sxdg"), ("y", "y"), ("z", "z")],
)
def test_adjacent_pairs(make_program, pair):
    assert run(make_program, 1, [op(pair[0], 0), op(pair[1], 0)]) == []


def test_two_qubit_pairs_and_symmetry(make_program):
    assert run(make_program, 2, [op("cx", 0, 1), op("cx", 0, 1)]) == []
    assert run(make_program, 2, [op("cz", 0, 1), op("cz", 1, 0)]) == []  # cz is symmetric
    assert run(make_program, 2, [op("swap", 0, 1), op("swap", 1, 0)]) == []
    assert run(make_program, 3, [op("ccx", 0, 1, 2), op("ccx", 1, 0, 2)]) == []
    kept = [op("cx", 0, 1), op("cx", 1, 0)]
    assert run(make_program, 2, kept) == kept  # reversed cx is not an inverse


def test_rotations_symbolic(make_program):
    assert run(make_program, 1, [op("rx", 0, angles=(W0,)), op("rx", 0, angles=(-W0,))]) == []
    assert run(make_program, 2, [op("rzz", 0, 1, angles=(W0 * 2 + 1,)), op("rzz", 1, 0, angles=(-1 - 2 * W0,))]) == []
    kept = [op("rx", 0, angles=(W0,)), op("rx", 0, angles=(-W1,))]
    assert run(make_program, 1, kept) == kept
    # crx(2 pi) is not the identity (a z on the control), crx(4 pi) is
    c = [op("crx", 0, 1, angles=(Const(math.pi),)), op("crx", 0, 1, angles=(Const(math.pi),))]
    assert run(make_program, 2, c) == c
    u = [op("u", 0, angles=(W0, W1, Const(0.5))), op("u", 0, angles=(-W0, Const(-0.5), -W1))]
    assert run(make_program, 1, u) == []


def test_across_commuting_gates(make_program):
    # rz on the control commutes with cx: cx rz(c) cx -> rz(c)
    ops = [op("cx", 0, 1), op("rz", 0, angles=(W0,)), op("cx", 0, 1)]
    assert run(make_program, 2, ops) == [op("rz", 0, angles=(W0,))]
    # x on the target commutes with cx
    assert run(make_program, 2, [op("cx", 0, 1), op("x", 1), op("cx", 0, 1)]) == [op("x", 1)]
    # diagonal gates commute with each other
    ops = [op("t", 0), op("cz", 0, 1), op("rzz", 0, 1, angles=(W1,)), op("tdg", 0)]
    assert run(make_program, 2, ops) == ops[1:3]
    # cx sharing a control commute: cx(0,1) cx(0,2) cx(0,1) -> cx(0,2)
    assert run(make_program, 3, [op("cx", 0, 1), op("cx", 0, 2), op("cx", 0, 1)]) == [op("cx", 0, 2)]
    # h does not commute with cx's control: nothing cancels
    ops = [op("cx", 0, 1), op("h", 0), op("cx", 0, 1)]
    assert run(make_program, 2, ops) == ops
    # rxx and ryy on the same pair commute (XX and YY commute)
    ops = [op("rxx", 0, 1, angles=(W0,)), op("ryy", 0, 1, angles=(W1,)), op("rxx", 0, 1, angles=(-W0,))]
    assert run(make_program, 2, ops) == [op("ryy", 0, 1, angles=(W1,))]


def test_pair_tables_see_argument_positions_and_shared_wires(make_program):
    # the engine keys commutation on (gate, position on the shared wire) and, for two-qubit pairs,
    # on whether the other wire is shared too
    ops = [op("cx", 0, 1), op("cx", 2, 0), op("cx", 0, 1)]  # control meets target: blocks
    assert run(make_program, 3, ops) == ops
    ops = [op("cx", 0, 1), op("cx", 1, 0), op("cx", 0, 1)]  # same pair, reversed: blocks
    assert run(make_program, 2, ops) == ops
    ops = [op("crz", 0, 1, angles=(W0,)), op("crz", 1, 0, angles=(W1,)), op("crz", 0, 1, angles=(-W0,))]
    assert run(make_program, 2, ops) == [op("crz", 1, 0, angles=(W1,))]  # diagonal, not the same wires
    ops = [op("x", 1), op("cx", 0, 1), op("x", 1)]  # x passes a target, but not a control
    assert run(make_program, 2, ops) == [op("cx", 0, 1)]
    ops = [op("x", 0), op("cx", 0, 1), op("x", 0)]
    assert run(make_program, 2, ops) == ops
    ops = [op("ccx", 0, 1, 2), op("z", 0), op("cx", 0, 3), op("ccx", 1, 0, 2)]
    assert run(make_program, 4, ops) == ops[1:3]
    ops = [op("ccx", 0, 1, 2), op("cx", 2, 1), op("ccx", 0, 1, 2)]
    assert run(make_program, 3, ops) == ops


def test_fused_unitaries_commute_by_their_masks(make_program):
    diag = tuple(tuple(complex(math.cos(k), math.sin(k)) if r == k else 0j for k in range(4)) for r in range(4))
    diag2 = tuple(tuple(v * v for v in row) for row in diag)
    u1 = Operation("unitary", (0, 1), (), None, diag)
    u2 = Operation("unitary", (1, 0), (), None, diag2)
    ops = [op("rz", 0, angles=(W0,)), u1, u2, op("rz", 0, angles=(-W0,))]
    assert run(make_program, 2, ops) == [u1, u2]
    swap = tuple(tuple(1 + 0j if (r, k) in ((0, 0), (1, 2), (2, 1), (3, 3)) else 0j for k in range(4)) for r in range(4))
    ops = [op("rz", 0, angles=(W0,)), Operation("unitary", (0, 1), (), None, swap), op("rz", 0, angles=(-W0,))]
    assert run(make_program, 2, ops) == ops


def test_chains_fold_in_one_run(make_program):
    ops = [op("h", 0), op("x", 0), op("s", 0), op("sdg", 0), op("x", 0), op("h", 0)]
    assert run(make_program, 1, ops) == []


def test_window_limits_lookback(make_program):
    ops = [op("cx", 0, 1)] + [op("rz", 0, angles=(Const(0.1 * k),)) for k in range(1, 5)] + [op("cx", 0, 1)]
    assert run(make_program, 2, ops, window=2) == ops
    assert run(make_program, 2, ops, window=8) == ops[1:5]


def test_registered():
    assert REGISTRY["cancel-inverses"] is CancelInverses
    with pytest.raises(ValueError):
        CancelInverses(window=0)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_circuits_equivalent(data, random_program, check_equivalent):
    prog = data.draw(random_program())
    out = CancelInverses().run(prog)
    assert len(out.circuit) <= len(prog.circuit)
    check_equivalent(prog, out)
