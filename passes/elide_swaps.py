"""elide-swaps: drop swap gates by relabelling the wires after them (outputs are renumbered)."""

from __future__ import annotations

from dataclasses import dataclass

from qcomp.ir.ops import Observable, Operation, PauliTerm
from qcomp.ir.circuit import Circuit
from qcomp.ir.program import Program

from .base import Pass


@dataclass(frozen=True)
class ElideSwaps(Pass):
    """Remove swap gates by relabelling later gates, observables and measured qubits (programs with outputs only)."""

    name = "elide-swaps"
    preserves = "outputs"
    fence_aware = True  # fences are relabelled like every gate; no gate moves

    def run(self, program: Program) -> Program:
        ops = program.circuit.ops()
        if (not program.observables and not program.measured) or not any(op.name == "swap" for op in ops):
            # without outputs the whole state is the result: a relabelled state would differ
            return program.with_circuit(program.circuit.copy())
        wire = list(range(program.num_qubits))  # wire[q]: where qubit q's state is now
        out = []
        at = wire.__getitem__
        single = [(q,) for q in wire]  # single[q] == (wire[q],), kept in step with wire
        for op in ops:
            qs = op.qubits
            if len(qs) == 1:
                new = single[qs[0]]
            elif op.name == "swap" and not op.cond:  # a conditioned swap happens in some branches only
                a, b = qs
                wire[a], wire[b] = wire[b], wire[a]
                single[a], single[b] = single[b], single[a]
                continue
            else:
                new = tuple(map(at, qs))
            out.append(op if new == qs else op.with_qubits(new))
        observables = tuple(
            Observable(
                tuple(PauliTerm(t.coeff, tuple(sorted((wire[q], p) for q, p in t.paulis))) for t in o.terms),
                o.span,
                "",  # the source text names the old wires; print from the terms instead
            )
            for o in program.observables
        )
        return program.with_circuit(
            Circuit.from_ops(program.num_qubits, out, checked=True),
            observables=observables,
            measured=tuple(wire[q] for q in program.measured),
        )
