"""passes/commutation.py: the commutation test is sound, the lazy Circuit behaves like a graph-built one."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qcomp.backends.reference import unitary
from qcomp.ir import GATES, Circuit, Const, Operation
from qcomp.passes.commutation import commute, gate_masks, same_wires

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
    name = draw(st.sampled_from(sorted(n for n, g in GATES.items() if g.num_qubits <= 3 and g.base is None)))
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


def test_lazy_circuit_matches_graph_built_circuit():
    """Circuit keeps an op list until a graph query; both forms must behave the same."""
    rng = np.random.default_rng(0)
    ops = []
    for _ in range(60):
        name = rng.choice(["h", "cx", "rz", "ccx", "swap"])
        g = GATES[name]
        qs = tuple(int(q) for q in rng.permutation(4)[: g.num_qubits])
        ops.append(Operation(str(name), qs, tuple(Const(0.5) for _ in range(g.num_angles))))
    ref = Circuit(4)
    ref.graph_view()  # a graph view materializes the graph (wire queries use the op-list index), so the adds below edit networkx
    for op in ops:
        ref.add(op)
    lazy = Circuit.from_ops(4, ops)
    assert lazy._graph is None and ref._graph is not None
    assert lazy.ops() == ref.ops() and lazy.items() == ref.items() and len(lazy) == len(ref)
    assert lazy.count_ops() == ref.count_ops() and lazy.depth() == ref.depth()
    copy = lazy.copy()
    assert lazy.predecessor(10, ops[10].qubits[0]) == ref.predecessor(10, ops[10].qubits[0])
    assert sorted(lazy.to_networkx().edges(keys=True), key=str) == sorted(ref.to_networkx().edges(keys=True), key=str)
    lazy.verify()
    n = lazy.add(Operation("h", (3,)))
    lazy.remove(5)
    lazy.verify()
    assert lazy.ops()[-1] == Operation("h", (3,)) and n in lazy and 5 not in lazy
    assert copy.ops() == ops  # the copy is independent
