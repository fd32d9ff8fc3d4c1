"""merge-rotations: add the angles of same-axis rotations on the same wires, across commuting gates."""

from __future__ import annotations

from dataclasses import dataclass

from qcomp.ir.circuit import Circuit
from qcomp.ir.program import Program

from .base import Pass
from .commutation import cancel_and_merge


@dataclass(frozen=True)
class MergeRotations(Pass):
    """Merge rotations of one kind on the same wires (rx rx, rzz rzz, cp cp, ...) into one, angles added symbolically."""

    name = "merge-rotations"
    window: int = 64

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError("window must be at least 1")

    def run(self, program: Program) -> Program:
        ops = program.circuit.ops()
        out = cancel_and_merge(ops, program.num_qubits, cancel=False, merge=True, window=self.window)
        return program.with_circuit(Circuit.from_ops(program.num_qubits, out, checked=True))
