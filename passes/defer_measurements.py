"""defer-measurements: mid-circuit measurements, resets and classical conditions as ancillas and controls."""

from __future__ import annotations

from dataclasses import dataclass

from qcomp.ir.dynamic import defer_measurements
from qcomp.ir.program import Program

from .base import Pass


@dataclass(frozen=True)
class DeferMeasurements(Pass):
    """Defer mid-circuit measurements: one ancilla per measure/reset, conditions become controls (simulator only)."""

    name = "defer-measurements"
    preserves = "outputs"  # the outputs of the original qubits; the state gains the ancillas
    fence_aware = True  # it rewrites the dynamic fences themselves
    # refuse (a located ResourceLimitError) when the enlarged circuit has more qubits; 0: no limit
    max_qubits: int = 0

    def __post_init__(self) -> None:
        if self.max_qubits < 0:
            raise ValueError("max_qubits must be 0 (no limit) or positive")

    def run(self, program: Program) -> Program:
        return defer_measurements(program, self.max_qubits or None)
