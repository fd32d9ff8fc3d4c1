"""fuse-diagonal: merge constant diagonal gates (z, s, t, cz, rz(c), cp(c), rzz(c), ...) into diagonal unitary blocks."""

from __future__ import annotations

from dataclasses import dataclass

from qcomp.ir.ops import Operation
from qcomp.ir.program import Program

from .base import Pass
from .fuse_blocks import group_ops, rebuild


def _const_diagonal(op: Operation) -> bool:
    return op.gate is not None and op.gate.diagonal and not op.is_parametric


@dataclass(frozen=True)
class FuseDiagonal(Pass):
    """Merge constant diagonal gates that are adjacent in the DAG into one diagonal block on at most k qubits.

    The result is a ``unitary`` op whose matrix is diagonal. Symbolic diagonal layers are
    fused by the simulator's kernel plan into one phase array per batch row.
    """

    name = "fuse-diagonal"
    k: int = 6

    def __post_init__(self) -> None:
        if not 1 <= self.k <= 12:
            raise ValueError(f"k must be between 1 and 12, got {self.k}")

    def run(self, program: Program) -> Program:
        ops = program.circuit.ops()
        blocks = group_ops(ops, _const_diagonal, self.k)
        return rebuild(program, ops, blocks)
