"""cancel-inverses: remove gate/inverse pairs, also across gates that commute with them."""

from __future__ import annotations

from dataclasses import dataclass

from qcomp.ir.circuit import Circuit
from qcomp.ir.program import Program

from .base import Pass
from .commutation import cancel_and_merge


@dataclass(frozen=True)
class CancelInverses(Pass):
    """Cancel inverse pairs (h h, cx cx, s sdg, rx(a) rx(-a), ...) across commuting gates (window = gates looked past per wire)."""

    name = "cancel-inverses"
    window: int = 64
    merge: bool = False  # also merge rotations in the same sweep (what the presets use)

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError("window must be at least 1")

    def run(self, program: Program) -> Program:
        ops = program.circuit.ops()
        out = cancel_and_merge(ops, program.num_qubits, cancel=True, merge=self.merge, window=self.window)
        return program.with_circuit(Circuit.from_ops(program.num_qubits, out, checked=True))
