"""fuse-blocks: merge constant gates into dense ``unitary`` blocks on at most k qubits (plus the shared grouping rule)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from qcomp.ir.circuit import Circuit
from qcomp.ir.ops import Operation, make_unitary_op
from qcomp.ir.program import Program
from qcomp.ir.unitary import block_matrix

from .base import Pass


@dataclass
class Block:
    """A group of operations (indices into the op list, in application order) on ``qubits``."""

    ops: list[int]
    qubits: set[int]
    diagonal: bool


def group_ops(
    ops: Sequence[Operation],
    joinable: Callable[[Operation], bool],
    max_qubits: int,
    max_diagonal_qubits: int | None = None,
) -> list[Block]:
    """Greedy DAG-aware grouping of ``ops`` (a topological order) into blocks.

    An op may join the latest block among those last on its qubits (nothing else touches
    those qubits in between, so moving it there is exact). Other blocks that are last on all
    their qubits commute with that block and may be absorbed too. Dense blocks stay within
    ``max_qubits``; all-diagonal blocks within ``max_diagonal_qubits`` (default: same).
    Ops for which ``joinable`` is false always form a block of their own. Blocks are
    returned in a valid application order.
    """
    kd = max_qubits if max_diagonal_qubits is None else max_diagonal_qubits
    blocks: list[Block | None] = []
    last: dict[int, int] = {}  # qubit -> index of the last block on it

    def limit(diag: bool) -> int:
        return kd if diag else max_qubits

    def is_last_everywhere(b: int) -> bool:
        blk = blocks[b]
        return blk is not None and all(last.get(q) == b for q in blk.qubits)

    for i, op in enumerate(ops):
        q_op = set(op.qubits)
        diag = bool(op.gate is not None and op.gate.diagonal)
        cands = sorted({last[q] for q in op.qubits if q in last})
        target = None
        if joinable(op) and cands and blocks[cands[-1]] is not None and blocks[cands[-1]].ops and joinable_block(blocks[cands[-1]], ops, joinable):
            b = cands[-1]
            blk = blocks[b]
            new_q = blk.qubits | q_op
            new_diag = blk.diagonal and diag
            if len(new_q) <= limit(new_diag):
                target = b
                # absorb other blocks that commute with b (last on all their qubits)
                for c in cands[:-1]:
                    other = blocks[c]
                    if other is None or not is_last_everywhere(c) or not joinable_block(other, ops, joinable):
                        continue
                    merged_q = new_q | other.qubits
                    merged_diag = new_diag and other.diagonal
                    if len(merged_q) <= limit(merged_diag):
                        blk.ops.extend(other.ops)
                        new_q, new_diag = merged_q, merged_diag
                        for q in other.qubits:
                            last[q] = b
                        blocks[c] = None
                blk.ops.append(i)
                blk.qubits = new_q
                blk.diagonal = new_diag
        if target is None:
            blocks.append(Block([i], set(q_op), diag))
            target = len(blocks) - 1
        for q in op.qubits:
            last[q] = target
    return [b for b in blocks if b is not None]


def joinable_block(block: Block, ops: Sequence[Operation], joinable: Callable[[Operation], bool]) -> bool:
    return all(joinable(ops[j]) for j in block.ops)


def rebuild(program: Program, ops: Sequence[Operation], blocks: Sequence[Block], fuse_single: bool = False) -> Program:
    """A Program whose circuit applies each block (>= 2 ops, or 1 op when fuse_single) as one unitary."""
    out = Circuit(program.num_qubits)
    for blk in blocks:
        if len(blk.ops) == 1 and not fuse_single:
            out.add(ops[blk.ops[0]])
            continue
        members = [ops[j] for j in blk.ops]
        qubits = sorted(blk.qubits, reverse=True)
        out.add(make_unitary_op(block_matrix(members, qubits), qubits))
    return program.with_circuit(out)


def is_constant_op(op: Operation) -> bool:
    return not op.is_parametric


@dataclass(frozen=True)
class FuseBlocks(Pass):
    """Merge runs of constant gates into dense unitary blocks acting on at most k qubits."""

    name = "fuse-blocks"
    k: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.k <= 10:
            raise ValueError(f"k must be between 1 and 10, got {self.k}")

    def run(self, program: Program) -> Program:
        ops = program.circuit.ops()
        blocks = group_ops(ops, is_constant_op, self.k)
        return rebuild(program, ops, blocks)
