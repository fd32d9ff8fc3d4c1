"""The circuit graph: a networkx MultiDiGraph of operations behind a small, deterministic API."""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Iterator, Sequence

import heapq

import networkx as nx

from .ops import Operation

Node = int | tuple  # op nodes are ints; boundaries are ("in", q) and ("out", q)


def _qubits_ok(ops: list[Operation], n: int) -> bool:
    for op in ops:
        qs = op.qubits
        if type(qs) is not tuple:
            return False
        if len(qs) == 1:
            if not 0 <= qs[0] < n:
                return False
        elif len(set(qs)) != len(qs) or min(qs, default=0) < 0 or max(qs, default=0) >= n:
            return False
    return True


class Circuit:
    """A DAG of operations on ``num_qubits`` wires.

    One node per operation plus an input and an output node per qubit; each edge carries one
    qubit wire (its key). Iteration is in a deterministic topological order (ties broken by
    insertion order), so everything derived from a circuit is byte-stable.
    """

    def __init__(self, num_qubits: int):
        self.num_qubits = int(num_qubits)
        # A circuit is held either as a plain op list in topological order (cheap to build, read
        # and append to; node ids are list positions) or as the networkx graph, which is built
        # from the list on the first structural query or edit. Passes that rewrite whole
        # circuits thus hand lists along without paying ~20 us per gate for networkx.
        self._ops: list[Operation] | None = []
        self._graph: nx.MultiDiGraph | None = None
        self._next = 0
        self._order: list[int] | None = None
        self._index: WireIndex | None = None

    @property
    def _g(self) -> nx.MultiDiGraph:
        if self._graph is None:
            self._index = None
            self._graph = _build_graph(self.num_qubits, self._ops or [])
            self._order = list(range(len(self._ops or [])))
            self._ops = None
        return self._graph

    # -- construction --------------------------------------------------------------
    @classmethod
    def from_ops(cls, num_qubits: int, ops: Iterable[Operation], *, checked: bool = False) -> "Circuit":
        """A circuit of ``ops``, given in an order where each op follows the ones before it on its wires.

        ``checked=True`` skips the qubit sweep: for passes whose ops reuse or permute the wires of
        a circuit that was already checked (the IR verifier, ``--verify-each``, still checks)."""
        c = cls(num_qubits)
        ops = list(ops)
        if not checked and not _qubits_ok(ops, c.num_qubits):  # one cheap sweep; the per-op check names the culprit
            for op in ops:
                c._check_qubits(op)
        c._ops = ops
        c._next = len(ops)
        return c

    def _check_qubits(self, op: Operation) -> None:
        assert isinstance(op.qubits, tuple) and isinstance(op.angles, tuple), f"non-tuple fields in {op!r}"
        assert len(set(op.qubits)) == len(op.qubits), f"repeated qubit in {op}"
        for q in op.qubits:
            if not 0 <= q < self.num_qubits:
                raise IndexError(f"qubit {q} out of range for a {self.num_qubits}-qubit circuit")

    def _new_node(self, op: Operation) -> int:
        self._check_qubits(op)
        self._g  # materialize the graph before editing it
        n = self._next
        self._next += 1
        self._g.add_node(n, op=op)
        self._order = None
        return n

    def _splice(self, n: int, q: int, before: Node) -> None:
        """Put node ``n`` on wire ``q`` just before ``before``."""
        pred = self._wire_pred(before, q)
        self._g.remove_edge(pred, before, key=q)
        self._g.add_edge(pred, n, key=q)
        self._g.add_edge(n, before, key=q)

    def add(self, op: Operation) -> int:
        """Append ``op`` at the end of its wires; returns its node id."""
        if self._ops is not None:
            self._check_qubits(op)
            self._ops.append(op)
            self._next += 1
            self._index = None
            return self._next - 1
        n = self._new_node(op)
        for q in op.qubits:
            self._splice(n, q, ("out", q))
        return n

    def insert_before(self, node: int, op: Operation) -> int:
        """Insert ``op`` just before ``node``; ``op`` must act on a subset of node's qubits."""
        assert set(op.qubits) <= set(self.op(node).qubits)
        n = self._new_node(op)
        for q in op.qubits:
            self._splice(n, q, node)
        return n

    def insert_after(self, node: int, op: Operation) -> int:
        """Insert ``op`` just after ``node``; ``op`` must act on a subset of node's qubits."""
        assert set(op.qubits) <= set(self.op(node).qubits)
        n = self._new_node(op)
        for q in op.qubits:
            self._splice(n, q, self._wire_succ(node, q))
        return n

    def remove(self, node: int) -> None:
        """Delete an operation, reconnecting each of its wires."""
        op = self.op(node)
        for q in op.qubits:
            pred, succ = self._wire_pred(node, q), self._wire_succ(node, q)
            self._g.add_edge(pred, succ, key=q)
        self._g.remove_node(node)
        self._order = None

    def replace(self, node: int, ops: Operation | Sequence[Operation]) -> list[int]:
        """Replace ``node`` by ``ops`` (in order, each on a subset of its qubits)."""
        if isinstance(ops, Operation):
            if self._ops is not None and set(ops.qubits) == set(self._ops[node].qubits):
                self._ops[node] = ops
                self._index = None  # wire positions of ops.qubits may be in another order
                return [node]
            if set(ops.qubits) == set(self.op(node).qubits):
                self._g.nodes[node]["op"] = ops  # same wires: keep the node
                self._order = None
                return [node]
            ops = [ops]
        new = [self.insert_before(node, o) for o in ops]
        self.remove(node)
        return new

    # -- queries ----------------------------------------------------------------------
    def op(self, node: int) -> Operation:
        if self._ops is not None:
            return self._ops[node]
        return self._g.nodes[node]["op"]

    def __contains__(self, node: object) -> bool:
        if self._ops is not None:
            return isinstance(node, int) and 0 <= node < len(self._ops)
        return isinstance(node, int) and node in self._g

    def _wire_pred(self, node: Node, q: int) -> Node:
        for u, _, k in self._g.in_edges(node, keys=True):
            if k == q:
                return u
        raise KeyError(f"node {node} is not on wire {q}")

    def _wire_succ(self, node: Node, q: int) -> Node:
        for _, v, k in self._g.out_edges(node, keys=True):
            if k == q:
                return v
        raise KeyError(f"node {node} is not on wire {q}")

    def wire_index(self) -> "WireIndex":
        """The per-wire neighbours of every operation (the DAG's edges), built once and shared by
        every query and pass until the circuit changes; ids are positions in ``ops()``."""
        if self._index is None:
            self._index = WireIndex.of(self.ops(), self.num_qubits)
        return self._index

    def predecessor(self, node: int, qubit: int) -> int | None:
        """The operation before ``node`` on ``qubit``'s wire (None at the circuit input)."""
        if self._ops is not None:
            return self.wire_index().neighbour(self._ops, node, qubit, before=True)
        u = self._wire_pred(node, qubit)
        return u if isinstance(u, int) else None

    def successor(self, node: int, qubit: int) -> int | None:
        """The operation after ``node`` on ``qubit``'s wire (None at the circuit output)."""
        if self._ops is not None:
            return self.wire_index().neighbour(self._ops, node, qubit, before=False)
        v = self._wire_succ(node, qubit)
        return v if isinstance(v, int) else None

    def first_on(self, qubit: int) -> int | None:
        if self._ops is not None:
            v = self.wire_index().first[qubit]
            return None if v < 0 else v
        v = self._wire_succ(("in", qubit), qubit)
        return v if isinstance(v, int) else None

    def last_on(self, qubit: int) -> int | None:
        if self._ops is not None:
            u = self.wire_index().last[qubit]
            return None if u < 0 else u
        u = self._wire_pred(("out", qubit), qubit)
        return u if isinstance(u, int) else None

    def wire(self, qubit: int) -> list[int]:
        """Operation nodes along ``qubit``'s wire, input to output."""
        out = []
        n = self.first_on(qubit)
        while n is not None:
            out.append(n)
            n = self.successor(n, qubit)
        return out

    def nodes(self) -> list[int]:
        """Operation nodes in deterministic topological order."""
        if self._ops is not None:
            return list(range(len(self._ops)))
        if self._order is None:
            self._order = self._topo()
        return list(self._order)

    def _topo(self) -> list[int]:
        # Kahn's algorithm on networkx's raw adjacency dicts (the public API is ~5x slower).
        g = self._g
        pred, succ = g._pred, g._succ
        indeg = {
            n: sum(len(keys) for u, keys in pred[n].items() if type(u) is int)
            for n in g._node
            if type(n) is int
        }
        heap = [n for n, d in indeg.items() if d == 0]
        heapq.heapify(heap)
        out: list[int] = []
        while heap:
            n = heapq.heappop(heap)
            out.append(n)
            for v, keys in succ[n].items():
                if type(v) is int:
                    indeg[v] -= len(keys)
                    if indeg[v] == 0:
                        heapq.heappush(heap, v)
        assert len(out) == len(indeg), "circuit graph has a cycle"
        return out

    def items(self) -> list[tuple[int, Operation]]:
        return [(n, self.op(n)) for n in self.nodes()]

    def ops(self) -> list[Operation]:
        """Operations in deterministic topological order (a new list)."""
        if self._ops is not None:
            return list(self._ops)
        node = self._g._node
        return [node[n]["op"] for n in self.nodes()]

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.ops())

    def __len__(self) -> int:
        if self._ops is not None:
            return len(self._ops)
        return self._g.number_of_nodes() - 2 * self.num_qubits

    def count_ops(self) -> dict[str, int]:
        """Gate counts by name, sorted by name."""
        return dict(sorted(Counter(op.name for op in self.ops()).items()))

    def num_multi_qubit(self) -> int:
        return sum(1 for op in self.ops() if len(op.qubits) >= 2)

    def depth(self) -> int:
        level = [0] * self.num_qubits
        for op in self.ops():
            d = max(level[q] for q in op.qubits) + 1
            for q in op.qubits:
                level[q] = d
        return max(level, default=0)

    def active_qubits(self) -> set[int]:
        return {q for op in self.ops() for q in op.qubits}

    def copy(self) -> "Circuit":
        """An independent copy (operations are immutable and shared)."""
        if self._ops is not None:
            c = Circuit(self.num_qubits)  # the ops were checked when this circuit was built
            c._ops, c._next = list(self._ops), len(self._ops)
            return c
        c = Circuit(self.num_qubits)
        c._ops = None
        c._graph = self._g.copy()
        c._next = self._next
        c._order = list(self._order) if self._order is not None else None
        return c

    def to_networkx(self) -> nx.MultiDiGraph:
        """A copy of the underlying graph (node attribute "op" holds the Operation)."""
        return self._g.copy()

    def graph_view(self) -> nx.MultiDiGraph:
        """A read-only view of the graph for networkx algorithms (no copy; do not keep it across edits)."""
        return self._g.copy(as_view=True)

    def same_ops(self, other: "Circuit") -> bool:
        return self.num_qubits == other.num_qubits and self.ops() == other.ops()

    def verify(self) -> None:
        from .verify import verify_circuit

        verify_circuit(self)

    def __repr__(self) -> str:
        return f"Circuit(num_qubits={self.num_qubits}, ops={len(self)})"


class WireIndex:
    """Wire adjacency of an op list in topological order, without networkx: for op i and its j-th
    qubit, ``pred[i][j]`` / ``succ[i][j]`` is the previous / next op on that wire (-1 at the
    circuit's input / output); ``first[q]`` / ``last[q]`` the ends of wire q (-1 when idle)."""

    __slots__ = ("pred", "succ", "first", "last")

    def __init__(self, pred: list[tuple[int, ...]], succ: list[list[int]], first: list[int], last: list[int]):
        self.pred, self.succ, self.first, self.last = pred, succ, first, last

    @classmethod
    def of(cls, ops: Sequence[Operation], num_qubits: int) -> "WireIndex":
        last = [-1] * num_qubits
        first = [-1] * num_qubits
        pred: list[tuple[int, ...]] = []
        succ: list[list[int]] = []
        slot: list[tuple[int, int]] = [(-1, -1)] * num_qubits  # (op, position of q in its qubits)
        for i, op in enumerate(ops):
            qs = op.qubits
            pred.append(tuple(last[q] for q in qs))
            succ.append([-1] * len(qs))
            for j, q in enumerate(qs):
                u, ju = slot[q]
                if u < 0:
                    first[q] = i
                else:
                    succ[u][ju] = i
                slot[q] = (i, j)
                last[q] = i
        return cls(pred, succ, first, last)

    def neighbour(self, ops: Sequence[Operation], node: int, qubit: int, before: bool) -> int | None:
        try:
            j = ops[node].qubits.index(qubit)
        except ValueError:
            raise KeyError(f"node {node} is not on wire {qubit}") from None
        v = (self.pred if before else self.succ)[node][j]
        return None if v < 0 else v


def _build_graph(num_qubits: int, ops: list[Operation]) -> nx.MultiDiGraph:
    """The graph of ``ops`` appended in order, written straight into networkx's adjacency dicts
    (per-edge networkx calls cost ~20 us per gate); node ids are list positions."""
    g = nx.MultiDiGraph()
    nodes, succ, pred = g._node, g._succ, g._pred
    last: list[object] = []
    for q in range(num_qubits):
        i = ("in", q)
        nodes[i], succ[i], pred[i] = {}, {}, {}
        last.append(i)
    for n, op in enumerate(ops):
        nodes[n] = {"op": op}
        s_n: dict = {}
        p: dict = {}
        succ[n] = s_n
        pred[n] = p
        for q in op.qubits:
            u = last[q]
            su = succ[u]
            kd = su.get(n)
            if kd is None:
                # as in networkx, succ[u][v] and pred[v][u] are one shared key dict
                kd = su[n] = p[u] = {}
            kd[q] = {}
            last[q] = n
    for q in range(num_qubits):
        o = ("out", q)
        u = last[q]
        nodes[o] = {}
        succ[o] = {}
        kd = {q: {}}
        pred[o] = {u: kd}
        succ[u][o] = kd
    return g
