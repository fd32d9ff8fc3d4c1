"""The IR verifier: structural invariants every pass must preserve."""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

from .gates import GATES

if TYPE_CHECKING:
    from .circuit import Circuit


class IRVerificationError(AssertionError):
    """An IR invariant is broken (a compiler bug, never a user mistake)."""


def verify_circuit(c: "Circuit") -> None:
    """Check: acyclic; each wire one path input -> output through exactly the ops on it; arities."""
    g = c._g
    if not nx.is_directed_acyclic_graph(g):
        raise IRVerificationError("circuit graph has a cycle")
    seen_on: dict[int, set[int]] = {q: set() for q in range(c.num_qubits)}
    for q in range(c.num_qubits):
        n = ("in", q)
        steps = 0
        while n != ("out", q):
            nxt = [v for _, v, k in g.out_edges(n, keys=True) if k == q]
            if len(nxt) != 1:
                raise IRVerificationError(f"wire {q} forks or breaks at {n}")
            n = nxt[0]
            if isinstance(n, int):
                seen_on[q].add(n)
            elif n != ("out", q):
                raise IRVerificationError(f"wire {q} ends at {n}")
            steps += 1
            if steps > g.number_of_nodes():
                raise IRVerificationError(f"wire {q} does not terminate")
    for n, data in g.nodes(data=True):
        if not isinstance(n, int):
            continue
        op = data["op"]
        if not isinstance(op.qubits, tuple) or len(set(op.qubits)) != len(op.qubits):
            raise IRVerificationError(f"{op}: qubits must be a tuple of distinct wires")
        for q in op.qubits:
            if not 0 <= q < c.num_qubits:
                raise IRVerificationError(f"{op}: qubit {q} out of range")
            if n not in seen_on[q]:
                raise IRVerificationError(f"{op}: not on wire {q}")
        in_keys = sorted(k for _, _, k in g.in_edges(n, keys=True))
        out_keys = sorted(k for _, _, k in g.out_edges(n, keys=True))
        if in_keys != sorted(op.qubits) or out_keys != sorted(op.qubits):
            raise IRVerificationError(f"{op}: edges {in_keys}/{out_keys} do not match qubits")
        if op.name == "unitary":
            d = 2 ** len(op.qubits)
            if op.matrix is None or len(op.matrix) != d:
                raise IRVerificationError(f"{op}: fused block has a bad matrix")
            continue
        gate = GATES.get(op.name)
        if gate is None:
            raise IRVerificationError(f"unknown gate {op.name!r} in IR")
        if gate.num_qubits != len(op.qubits) or gate.num_angles != len(op.angles):
            raise IRVerificationError(f"{op}: wrong arity for {op.name}")
