"""The IR verifier: structural invariants every pass must preserve."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .channels import CHANNELS, READOUT_ERROR, is_channel
from .gates import DYNAMIC_OPS, GATES, is_fence

if TYPE_CHECKING:
    from .circuit import Circuit
    from .ops import Operation


class IRVerificationError(AssertionError):
    """An IR invariant is broken (a compiler bug, never a user mistake)."""


def verify_circuit(c: "Circuit") -> None:
    """Check: acyclic; each wire one path input -> output through exactly the ops on it; arities.

    A circuit still held as its op list is a valid graph by construction (node ids are list
    positions, each op follows the earlier ones on its wires), so only the ops are checked and the
    graph is not built. The graph is read through networkx's adjacency dicts: the view objects cost
    ~10 us per call, a verifier pass over 10^6 gates took minutes through them.
    """
    n_qubits = c.num_qubits
    if c._ops is not None:
        for op in c._ops:
            _check_op(op, n_qubits)
        return
    g = c._g
    nodes, succ, pred = g._node, g._succ, g._pred
    _check_acyclic(succ, pred)
    seen_on: list[set] = [set() for _ in range(n_qubits)]
    limit = len(nodes)
    for q in range(n_qubits):
        n: object = ("in", q)
        end = ("out", q)
        on = seen_on[q]
        steps = 0
        while n != end:
            nxt = [v for v, keys in succ[n].items() if q in keys]
            if len(nxt) != 1:
                raise IRVerificationError(f"wire {q} forks or breaks at {n}")
            n = nxt[0]
            if type(n) is int:
                on.add(n)
            elif n != end:
                raise IRVerificationError(f"wire {q} ends at {n}")
            steps += 1
            if steps > limit:
                raise IRVerificationError(f"wire {q} does not terminate")
    for n, data in nodes.items():
        if type(n) is not int:
            continue
        op = data["op"]
        _check_op(op, n_qubits)
        for q in op.qubits:
            if n not in seen_on[q]:
                raise IRVerificationError(f"{op}: not on wire {q}")
        wires = sorted(op.qubits)
        in_keys = sorted(k for keys in pred[n].values() for k in keys)
        out_keys = sorted(k for keys in succ[n].values() for k in keys)
        if in_keys != wires or out_keys != wires:
            raise IRVerificationError(f"{op}: edges {in_keys}/{out_keys} do not match qubits")


def _check_acyclic(succ: dict, pred: dict) -> None:
    """Kahn's algorithm on the adjacency dicts: every node is reached once its predecessors are."""
    indegree = {v: len(p) for v, p in pred.items()}
    ready = [v for v, d in indegree.items() if d == 0]
    done = 0
    while ready:
        u = ready.pop()
        done += 1
        for v in succ[u]:
            indegree[v] -= 1
            if indegree[v] == 0:
                ready.append(v)
    if done != len(indegree):
        raise IRVerificationError("circuit graph has a cycle")


def _check_op(op: "Operation", n_qubits: int) -> None:
    qs = op.qubits
    if type(qs) is not tuple or len(set(qs)) != len(qs):
        raise IRVerificationError(f"{op}: qubits must be a tuple of distinct wires")
    for q in qs:
        if not 0 <= q < n_qubits:
            raise IRVerificationError(f"{op}: qubit {q} out of range")
    if op.name in DYNAMIC_OPS:  # mid-circuit measure (into op.bit) and reset: one qubit each
        if len(qs) != 1 or op.angles or (op.bit is None) != (op.name == "reset"):
            raise IRVerificationError(f"{op}: malformed {op.name}")
        return
    if op.bit is not None:
        raise IRVerificationError(f"{op}: only 'measure' writes a bit")
    if op.cond and (is_fence(op.name) or is_channel(op.name)):
        raise IRVerificationError(f"{op}: only gates can be classically conditioned")
    if is_fence(op.name) and not is_channel(op.name):  # barrier (any arity, no angles); channels below
        if op.angles:
            raise IRVerificationError(f"{op}: a fence takes no angles")
        return
    if op.name == "unitary":
        d = 2 ** len(qs)
        if op.matrix is None or len(op.matrix) != d:
            raise IRVerificationError(f"{op}: fused block has a bad matrix")
        return
    if is_channel(op.name):  # noise channels: arity from the channel table
        nq, na = (1, 2) if op.name == READOUT_ERROR else (CHANNELS[op.name].num_qubits, CHANNELS[op.name].num_params)
        if nq != len(qs) or na != len(op.angles):
            raise IRVerificationError(f"{op}: wrong arity for {op.name}")
        return
    gate = GATES.get(op.name)
    if gate is None:
        raise IRVerificationError(f"unknown gate {op.name!r} in IR")
    if gate.num_qubits != len(qs) or gate.num_angles != len(op.angles):
        raise IRVerificationError(f"{op}: wrong arity for {op.name}")
