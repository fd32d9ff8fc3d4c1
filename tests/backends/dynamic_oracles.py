"""A fast exact oracle for Qiskit dynamic circuits: density matrices per full classical record, by tensor contractions."""

from __future__ import annotations

import numpy as np


def _apply(t: np.ndarray, u: np.ndarray, qubits: tuple[int, ...], n: int, offset: int) -> np.ndarray:
    """``u`` (little-endian: its qubit 0 is qubits[0]) on the row (offset 0) or column (offset n)
    axes of a (2,)*2n density tensor whose axis n-1-q (row) / 2n-1-q (column) is qubit q."""
    k = len(qubits)
    axes = [offset + n - 1 - q for q in reversed(qubits)]
    t = np.tensordot(u.reshape((2,) * (2 * k)), t, axes=(list(range(k, 2 * k)), axes))
    return np.moveaxis(t, list(range(k)), axes)


def _project(t: np.ndarray, q: int, v: int, n: int) -> np.ndarray:
    """P_v rho P_v on qubit q."""
    out = np.zeros_like(t)
    idx = [slice(None)] * (2 * n)
    idx[n - 1 - q] = v
    idx[2 * n - 1 - q] = v
    out[tuple(idx)] = t[tuple(idx)]
    return out


def qiskit_branch_rho(qc) -> np.ndarray:
    """The final density matrix (bit k = qubit k) of Qiskit circuit ``qc``: the mixture over its
    classical branches, one density matrix per value of all its clbits (branches with equal
    clbits added), each instruction read from Qiskit's circuit (Operator matrices, IfElseOp
    conditions evaluated on the record)."""
    from qiskit.circuit import IfElseOp
    from qiskit.quantum_info import Operator

    from test_dynamic_qasm import _cond_holds

    n = qc.num_qubits
    top = {c: i for i, c in enumerate(qc.clbits)}
    rho = np.zeros((2,) * (2 * n), complex)
    rho[(0,) * (2 * n)] = 1.0
    x = np.array([[0, 1], [1, 0]], complex)

    # a measurement after the last if/else whose qubit nothing acts on later only writes a clbit
    # that nothing reads: it leaves the qubits' mixture as it is (the final measurements)
    data = list(qc.data)
    last_if = max([i for i, inst in enumerate(data) if isinstance(inst.operation, IfElseOp)], default=-1)
    final = set()
    later: set = set()
    for i in range(len(data) - 1, last_if, -1):
        if data[i].operation.name == "measure" and data[i].qubits[0] not in later:
            final.add(i)
        later.update(data[i].qubits)

    # after top-level instruction i, the clbits nothing reads before a top-level measurement
    # overwrites them (or ever again) are set to 0, so branches that differ only there add up
    dead_after: list[set[int]] = [set() for _ in data]
    nxt_use: dict[int, str] = {}  # clbit -> "write" / "read": its next use after i
    for i in range(len(data) - 1, -1, -1):
        dead_after[i] = {c for c in range(len(qc.clbits)) if nxt_use.get(c, "write") == "write"}
        inst = data[i]
        if i in final:
            continue
        for c in inst.clbits:
            nxt_use[top[c]] = "write" if inst.operation.name == "measure" else "read"

    def run(circuit, qmap, cmap, records, skip=frozenset(), dead=None):
        for i, inst in enumerate(circuit.data):
            op = inst.operation
            if op.name == "barrier" or i in skip:
                continue
            qs = tuple(qmap[q] for q in inst.qubits)
            nxt: dict[tuple[int, ...], np.ndarray] = {}

            def add(key, r):
                if key in nxt:
                    nxt[key] = nxt[key] + r
                else:
                    nxt[key] = r

            if isinstance(op, IfElseOp):
                true_body, false_body = op.params
                for key, r in records.items():
                    # the condition names this circuit's clbits and registers
                    holds = _cond_holds(op.condition, {c: key[top[cmap[c]]] for c in circuit.clbits})
                    body = true_body if holds else false_body
                    if body is None:
                        add(key, r)
                        continue
                    sub = run(body, {bq: qmap[q] for bq, q in zip(body.qubits, inst.qubits)},
                              {bc: cmap[c] for bc, c in zip(body.clbits, inst.clbits)}, {key: r})
                    for k2, r2 in sub.items():
                        add(k2, r2)
            elif op.name in ("measure", "reset"):
                (q,) = qs
                for key, r in records.items():
                    for v in (0, 1):
                        rr = _project(r, q, v, n)
                        if op.name == "measure":
                            k2 = list(key)
                            k2[top[cmap[inst.clbits[0]]]] = v
                            add(tuple(k2), rr)
                        else:
                            if v:
                                rr = _apply(_apply(rr, x, (q,), n, 0), x, (q,), n, n)
                            add(key, rr)
            else:
                u = Operator(op).data
                for key, r in records.items():
                    add(key, _apply(_apply(r, u, qs, n, 0), u.conj(), qs, n, n))
            if dead is not None and dead[i]:
                merged: dict[tuple[int, ...], np.ndarray] = {}
                for key, r in nxt.items():
                    k2 = tuple(0 if c in dead[i] else v for c, v in enumerate(key))
                    merged[k2] = merged[k2] + r if k2 in merged else r
                nxt = merged
            records = nxt
        return records

    out = run(qc, {q: i for i, q in enumerate(qc.qubits)}, {c: c for c in qc.clbits},
              {(0,) * len(qc.clbits): rho}, final, dead_after)
    total = sum(out.values())
    return total.reshape(2**n, 2**n)


def qiskit_branch_probs(qc) -> np.ndarray:
    """Outcome probabilities of every qubit of ``qc`` (bit k = qubit k)."""
    return np.real(np.diag(qiskit_branch_rho(qc)))
