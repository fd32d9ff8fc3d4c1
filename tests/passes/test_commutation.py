"""passes/commutation.py: the commutation test is sound, FastCircuit behaves like Circuit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qcomp.backends.reference import unitary
from qcomp.ir import GATES, Circuit, Const, Operation
from qcomp.passes.commutation import FastCircuit, circuit_ops, commute, gate_masks, same_wires

X, Y, Z = 1, 2, 4


def test_masks():
    assert gate_masks("cx") == (Z, X)
    assert gate_masks("rz") == (Z,) and gate_masks("rx") == (X,) and gate_masks("h") == (0,)
    assert gate_masks("rzz") == (Z, Z) and gate_masks("crx") == (Z, X) and gate_masks("ccx") == (Z, Z, X)
    assert gate_masks("swap") == (0, 0)


def test_same_wires():
    assert same_wires(Operation("cz", (0, 1)), Operation("cz", (1, 0)))
    assert not same_wires(Operation("cx", (0, 1)), Operation("cx", (1, 0)))
    assert same_wires(Operation("cswap", (0, 1, 2)), Operation("cswap", (0, 2, 1)))
    assert not same_wires(Operation("cswap", (0, 1, 2)), Operation("cswap", (1, 0, 2)))


@st.composite
def _op(draw, n=3):
    name = draw(st.sampled_from(sorted(GATES)))
    g = GATES[name]
    qubits = tuple(draw(st.permutations(range(n)))[: g.num_qubits])
    angles = tuple(Const(draw(st.floats(-4, 4, allow_nan=False))) for _ in range(g.num_angles))
    return Operation(name, qubits, angles)


@settings(max_examples=400, deadline=None)
@given(a=_op(), b=_op())
def test_commute_is_sound(a, b):
    if commute(a, b):
        ab = unitary(Circuit.from_ops(3, [a, b]))
        ba = unitary(Circuit.from_ops(3, [b, a]))
        assert np.allclose(ab, ba, atol=1e-9), f"{a} and {b} reported as commuting"


def test_commute_finds_the_cases_of_the_issue():
    cx = Operation("cx", (0, 1))
    assert commute(cx, Operation("rz", (0,), (Const(0.3),)))  # diagonal on the control
    assert commute(cx, Operation("x", (1,)))  # X-type on the target
    assert commute(cx, Operation("cx", (0, 2)))  # shared control
    assert commute(cx, Operation("cx", (2, 1)))  # shared target
    assert commute(Operation("rzz", (0, 1), (Const(0.2),)), Operation("cz", (1, 2)))
    assert commute(cx, Operation("h", (2,)))  # disjoint
    assert not commute(cx, Operation("cx", (1, 0)))
    assert not commute(cx, Operation("h", (0,)))


def test_fast_circuit_matches_circuit():
    rng = np.random.default_rng(0)
    ops = []
    for _ in range(60):
        name = rng.choice(["h", "cx", "rz", "ccx", "swap"])
        g = GATES[name]
        qs = tuple(int(q) for q in rng.permutation(4)[: g.num_qubits])
        ops.append(Operation(str(name), qs, tuple(Const(0.5) for _ in range(g.num_angles))))
    ref = Circuit.from_ops(4, ops)
    fast = FastCircuit(4, ops)
    assert isinstance(fast, Circuit)
    assert fast.ops() == ref.ops() and fast.items() == ref.items() and len(fast) == len(ref)
    assert fast.count_ops() == ref.count_ops() and fast.depth() == ref.depth()
    copy = fast.copy()
    # graph methods build the graph lazily; it is the same graph
    assert fast.predecessor(10, ops[10].qubits[0]) == ref.predecessor(10, ops[10].qubits[0])
    assert sorted(fast.to_networkx().edges(keys=True), key=str) == sorted(ref.to_networkx().edges(keys=True), key=str)
    fast.verify()
    n = fast.add(Operation("h", (3,)))
    fast.remove(5)
    fast.verify()
    assert fast.ops()[-1] == Operation("h", (3,)) and n in fast and 5 not in fast
    assert copy.ops() == ref.ops()  # the copy is independent
    # circuit_ops after graph surgery equals ops()
    ref.insert_before(7, Operation("x", (ops[7].qubits[0],)))
    ref._order = None
    assert circuit_ops(ref) == ref.ops()
