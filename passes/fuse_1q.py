"""fuse-1q: merge runs of adjacent constant single-qubit gates on one wire into one ``unitary`` 2x2."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcomp.ir.circuit import Circuit
from qcomp.ir.ops import Operation, make_unitary_op
from qcomp.ir.program import Program

from .base import Pass


def _fusable(op: Operation) -> bool:
    return len(op.qubits) == 1 and not op.is_parametric


@dataclass(frozen=True)
class Fuse1Q(Pass):
    """Merge runs of constant single-qubit gates into one 2x2 unitary (identity runs are dropped).

    Symbolic runs (angles with params or inputs) are left alone: the simulator's kernel plan
    fuses those per batch row at run time.
    """

    name = "fuse-1q"

    def run(self, program: Program) -> Program:
        out = Circuit(program.num_qubits)
        pending: dict[int, list[Operation]] = {}

        def flush(q: int) -> None:
            run = pending.pop(q, [])
            if len(run) == 1:
                out.add(run[0])
            elif run:
                m = np.eye(2, dtype=complex)
                for op in run:
                    m = op.unitary() @ m
                if not np.allclose(m, np.eye(2), rtol=0, atol=1e-14):
                    out.add(make_unitary_op(m, run[0].qubits))

        for op in program.circuit.ops():
            if _fusable(op):
                pending.setdefault(op.qubits[0], []).append(op)
                continue
            for q in op.qubits:
                flush(q)
            out.add(op)
        for q in sorted(pending):
            flush(q)
        return program.with_circuit(out)
