"""Circuit graph API: edits keep the invariants, deterministic order, copies, verify catches corruption."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcomp.backends import reference
from qcomp.ir import Circuit, Const, IRVerificationError, Operation, make_unitary_op


def op(name: str, *qubits: int, angle: float | None = None) -> Operation:
    return Operation(name, tuple(qubits), () if angle is None else (Const(angle),))


def sample() -> tuple[Circuit, list[int]]:
    c = Circuit(3)
    nodes = [c.add(o) for o in (op("h", 0), op("cx", 0, 1), op("rz", 1, angle=0.5), op("x", 2), op("cz", 1, 2))]
    return c, nodes


def test_empty_circuit() -> None:
    c = Circuit(2)
    c.verify()
    assert len(c) == 0 and c.ops() == [] and c.depth() == 0 and c.first_on(0) is None and c.wire(1) == []


def test_add_wires_order_and_queries() -> None:
    c, (h, cx, rz, x, cz) = sample()
    c.verify()
    assert c.nodes() == [h, cx, rz, x, cz]
    assert c.wire(0) == [h, cx] and c.wire(1) == [cx, rz, cz] and c.wire(2) == [x, cz]
    assert c.predecessor(cx, 0) == h and c.predecessor(cx, 1) is None and c.successor(cx, 1) == rz
    assert c.successor(cz, 2) is None and c.first_on(2) == x and c.last_on(1) == cz
    assert c.count_ops() == {"cx": 1, "cz": 1, "h": 1, "rz": 1, "x": 1} and c.depth() == 4 and len(c) == 5
    assert c.num_multi_qubit() == 2 and c.active_qubits() == {0, 1, 2}
    assert c.op(rz) == op("rz", 1, angle=0.5) and rz in c and 99 not in c


def test_topological_order_ties_by_insertion() -> None:
    c = Circuit(3)
    a = c.add(op("x", 2))
    b = c.add(op("x", 0))
    d = c.add(op("cx", 0, 2))
    e = c.add(op("x", 1))
    assert c.nodes() == [a, b, d, e]
    # the same sequence always gives the same order
    assert Circuit.from_ops(3, c.ops()).ops() == c.ops()


def test_insert_before_after() -> None:
    c, (h, cx, rz, x, cz) = sample()
    n1 = c.insert_before(cx, op("s", 1))
    n2 = c.insert_after(cx, op("t", 0))
    n3 = c.insert_before(cz, op("cy", 2, 1))
    c.verify()
    assert c.wire(1) == [n1, cx, rz, n3, cz] and c.wire(0) == [h, cx, n2] and c.wire(2) == [x, n3, cz]
    with pytest.raises(AssertionError):
        c.insert_before(h, op("cx", 0, 1))  # not a subset of h's qubits


def test_remove_reconnects() -> None:
    c, (h, cx, rz, x, cz) = sample()
    c.remove(cx)
    c.verify()
    assert c.wire(0) == [h] and c.wire(1) == [rz, cz] and cx not in c
    c.remove(h)
    c.verify()
    assert c.wire(0) == [] and c.first_on(0) is None


def test_replace_same_wires_keeps_node_and_sequence() -> None:
    c, (h, cx, rz, x, cz) = sample()
    assert c.replace(rz, op("rx", 1, angle=0.1)) == [rz]
    assert c.op(rz).name == "rx"
    new = c.replace(cx, [op("h", 1), op("cz", 0, 1), op("h", 1)])
    c.verify()
    assert c.wire(1) == [new[0], new[1], new[2], rz, cz] and c.wire(0) == [h, new[1]]
    new2 = c.replace(cz, [])  # replace by nothing == remove
    c.verify()
    assert new2 == [] and cz not in c


def test_edits_preserve_unitary_semantics() -> None:
    c, (h, cx, rz, x, cz) = sample()
    before = reference.unitary(c)
    # cx = (I x H) cz (I x H)
    c.replace(cx, [op("h", 1), op("cz", 0, 1), op("h", 1)])
    np.testing.assert_allclose(reference.unitary(c), before, atol=1e-12)
    n = c.insert_after(x, op("x", 2))
    c.insert_after(n, op("x", 2))
    np.testing.assert_allclose(reference.unitary(c), before, atol=1e-12)


def test_copy_is_independent() -> None:
    c, (h, cx, rz, x, cz) = sample()
    d = c.copy()
    d.remove(cx)
    d.add(op("h", 2))
    c.verify()
    d.verify()
    assert len(c) == 5 and len(d) == 5 and cx in c and cx not in d
    # node ids keep growing independently and never reuse a removed node's id
    assert d.add(op("z", 0)) not in (h, cx, rz, x, cz) and len(c) == 5


def test_to_networkx_is_a_copy() -> None:
    c, (h, cx, *_rest) = sample()
    g = c.to_networkx()
    assert isinstance(g, nx.MultiDiGraph) and g.nodes[cx]["op"] == op("cx", 0, 1)
    g.remove_node(cx)
    g.add_edge(("in", 0), ("out", 0), key=0)
    c.verify()
    assert cx in c and len(c) == 5


def test_verify_catches_corruption() -> None:
    c, (h, cx, rz, x, cz) = sample()
    c._g.remove_edge(cx, rz, key=1)  # broken wire
    with pytest.raises(IRVerificationError, match="wire 1"):
        c.verify()
    c, (h, cx, rz, x, cz) = sample()
    c._g.add_edge(rz, h, key=0)  # cycle
    with pytest.raises(IRVerificationError, match="cycle"):
        c.verify()
    c, (h, cx, rz, x, cz) = sample()
    c._g.nodes[rz]["op"] = op("rz", 1)  # arity (missing angle)
    with pytest.raises(IRVerificationError, match="wrong arity"):
        c.verify()
    c, (h, cx, rz, x, cz) = sample()
    c._g.nodes[h]["op"] = op("foo", 0)
    with pytest.raises(IRVerificationError, match="unknown gate"):
        c.verify()
    c, (h, cx, rz, x, cz) = sample()
    c._g.nodes[x]["op"] = op("x", 1)  # op qubits differ from its edges
    with pytest.raises(IRVerificationError):
        c.verify()


def test_out_of_range_qubit_rejected() -> None:
    with pytest.raises(IndexError):
        Circuit(2).add(op("x", 2))


def test_fused_unitary_op() -> None:
    c = Circuit(2)
    c.add(make_unitary_op(np.kron(np.eye(2), [[0, 1], [1, 0]]), (0, 1)))
    c.verify()
    np.testing.assert_allclose(np.abs(reference.unitary(c)), np.abs(reference.unitary(Circuit.from_ops(2, [op("x", 1)]))))


# -- random edit sequences ----------------------------------------------------------------------
GATE_POOL = [("h", 1), ("x", 1), ("rz", 1), ("cx", 2), ("cz", 2), ("ccx", 3)]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_property_random_edits_keep_invariants(data) -> None:
    n = 4
    c = Circuit(n)
    shadow: dict[int, list[int]] = {q: [] for q in range(n)}  # expected wire contents
    for _ in range(data.draw(st.integers(1, 25))):
        action = data.draw(st.sampled_from(["add", "add", "insert", "remove", "replace"]))
        nodes = c.nodes()
        if action == "add" or not nodes:
            name, k = data.draw(st.sampled_from(GATE_POOL))
            qs = data.draw(st.permutations(range(n)))[:k]
            node = c.add(op(name, *qs, angle=0.3 if name == "rz" else None))
            for q in qs:
                shadow[q].append(node)
        else:
            target = data.draw(st.sampled_from(nodes))
            tq = c.op(target).qubits
            if action == "insert":
                q = data.draw(st.sampled_from(tq))
                before = data.draw(st.booleans())
                new = (c.insert_before if before else c.insert_after)(target, op("x", q))
                i = shadow[q].index(target)
                shadow[q].insert(i if before else i + 1, new)
            elif action == "remove":
                c.remove(target)
                for q in tq:
                    shadow[q].remove(target)
            else:
                new = c.replace(target, [op("x", q) for q in tq])
                for q, m in zip(tq, new):
                    shadow[q][shadow[q].index(target)] = m
        c.verify()
        assert all(c.wire(q) == shadow[q] for q in range(n))
    order = c.nodes()
    pos = {m: i for i, m in enumerate(order)}
    for q in range(n):
        assert [pos[m] for m in shadow[q]] == sorted(pos[m] for m in shadow[q])  # topological
    assert order == c.copy().nodes()
