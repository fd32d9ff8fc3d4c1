"""dead-qubits: remove qubits with no gates that are neither observed nor measured, renumbering the rest."""

from __future__ import annotations

from dataclasses import dataclass

from qcomp.ir.channels import is_channel
from qcomp.ir.ops import Observable, PauliTerm
from qcomp.ir.circuit import Circuit
from qcomp.ir.gates import DYNAMIC_OPS, FENCES
from qcomp.ir.program import Program

from .base import Pass


@dataclass(frozen=True)
class DeadQubits(Pass):
    """Remove idle, unobserved qubits; Program.qubit_map keeps each remaining qubit's original index."""

    name = "dead-qubits"
    preserves = "outputs"
    # a barrier does not make a qubit used, it loses the removed qubits; a noise channel on several
    # qubits uses them all (cut down to the kept ones it would be another channel), a one-qubit
    # channel on an otherwise unused qubit goes with it (trace preserving: nothing observes it)
    fence_aware = True

    def run(self, program: Program) -> Program:
        ops = program.circuit.ops()
        # a mid-circuit measure or reset uses its qubit; a barrier does not; see above for channels
        used = {q for op in ops
                if op.name not in FENCES or op.name in DYNAMIC_OPS or (len(op.qubits) > 1 and is_channel(op.name))
                for q in op.qubits}
        used |= set(program.measured)
        for o in program.observables:
            used |= o.qubits
        n = program.num_qubits
        if len(used) == n:
            return program.with_circuit(program.circuit.copy())
        keep = sorted(used) or [0]  # a program keeps at least one qubit
        new_index = {q: i for i, q in enumerate(keep)}
        old_map = program.qubit_map or tuple(range(n))
        new_ops = [op.with_qubits(tuple(new_index[q] for q in op.qubits if q in new_index)) for op in ops
                   if op.name not in FENCES or any(q in new_index for q in op.qubits)]
        observables = tuple(
            Observable(
                tuple(PauliTerm(t.coeff, tuple((new_index[q], p) for q, p in t.paulis)) for t in o.terms),
                o.span,
                o.text,
            )
            for o in program.observables
        )
        return program.with_circuit(
            Circuit.from_ops(len(keep), new_ops),
            observables=observables,
            measured=tuple(new_index[q] for q in program.measured),
            qubit_map=tuple(old_map[q] for q in keep),
            ancillas=sum(1 for q in keep if q >= n - program.ancillas),
        )
