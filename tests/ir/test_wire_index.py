"""The op-list wire index answers wire queries exactly as the networkx graph does."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from qcomp.ir.circuit import Circuit, WireIndex
from qcomp.ir.ops import Operation


@st.composite
def circuits(draw):
    n = draw(st.integers(1, 5))
    ops = []
    for _ in range(draw(st.integers(0, 25))):
        k = draw(st.integers(1, min(3, n)))
        qs = tuple(draw(st.permutations(range(n)))[:k])
        ops.append(Operation({1: "h", 2: "cx", 3: "ccx"}[k], qs))
    return n, ops


@settings(max_examples=80, deadline=None, derandomize=True)
@given(circuits())
def test_list_queries_match_the_graph(case):
    n, ops = case
    listed = Circuit.from_ops(n, ops)
    graph = Circuit.from_ops(n, ops)
    graph.to_networkx()  # materialise the networkx graph; ids stay list positions
    assert listed._ops is not None and graph._ops is None
    for q in range(n):
        assert listed.first_on(q) == graph.first_on(q)
        assert listed.last_on(q) == graph.last_on(q)
        assert listed.wire(q) == graph.wire(q)
    for i, op in enumerate(ops):
        for q in op.qubits:
            assert listed.predecessor(i, q) == graph.predecessor(i, q)
            assert listed.successor(i, q) == graph.successor(i, q)


def test_index_follows_appends_and_is_shared():
    c = Circuit.from_ops(2, [Operation("h", (0,))])
    idx = c.wire_index()
    assert c.wire_index() is idx and c.last_on(1) is None
    c.add(Operation("cx", (0, 1)))
    assert c.wire_index() is not idx
    assert c.predecessor(1, 0) == 0 and c.predecessor(1, 1) is None and c.successor(0, 0) == 1
    assert isinstance(c.wire_index(), WireIndex) and c.wire_index().last == [1, 1]
