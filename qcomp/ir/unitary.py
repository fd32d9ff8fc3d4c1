"""The unitary of a short op sequence (fused blocks, equivalence checks, small-circuit oracles)."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from .expr import Const
from .ops import Operation


def _values(a, what: str) -> np.ndarray | None:
    if a is None:
        return None
    arr = np.asarray(a, dtype=float)
    if arr.ndim == 2:
        if arr.shape[0] != 1:
            raise ValueError(f"the unitary takes one row of {what}, got {arr.shape[0]}")
        arr = arr[0]
    return arr


def block_matrix(ops: Iterable[Operation], qubits: Sequence[int], params=None, inputs=None) -> np.ndarray:
    """The matrix of ``ops`` applied in order, in argument order of ``qubits`` (``qubits[0]`` is the
    most significant bit, like ``GateDef.matrix``), angles evaluated at one row of params/inputs."""
    return apply_block(ops, qubits, np.eye(2 ** len(qubits), dtype=complex), params, inputs)


def apply_block(ops: Iterable[Operation], qubits: Sequence[int], vectors: np.ndarray, params=None,
                inputs=None) -> np.ndarray:
    """``block_matrix(ops, qubits) @ vectors`` for a (2**k, r) array, without forming the matrix:
    r columns cost r / 2**k of it (how wide decompositions are checked)."""
    p, x = _values(params, "params"), _values(inputs, "inputs")
    k = len(qubits)
    d = 2**k
    r = vectors.shape[1]
    axis = {q: i for i, q in enumerate(qubits)}  # tensor axis i is qubits[i] (msb first)
    m = np.asarray(vectors, dtype=complex).reshape((2,) * k + (r,))
    for op in ops:
        g = op.unitary() if p is None and x is None else op.unitary(p, x)
        kg = len(op.qubits)
        axes = [axis[q] for q in op.qubits]
        gt = g.reshape((2,) * (2 * kg))
        m = np.tensordot(gt, m, axes=(list(range(kg, 2 * kg)), axes))
        m = np.moveaxis(m, list(range(kg)), axes)
    return m.reshape(d, r)


def ops_unitary(ops: Iterable[Operation], num_qubits: int, params=None, inputs=None) -> np.ndarray:
    """The 2**n x 2**n unitary of ``ops`` on qubits 0..n-1 (columns are images of basis states;
    index bit k is qubit k, Qiskit's order)."""
    return block_matrix(ops, tuple(range(num_qubits - 1, -1, -1)), params, inputs)


def gates_unitary(gates: Iterable[tuple[str, Sequence[float], Sequence[int]]], num_qubits: int,
                  vectors: np.ndarray | None = None) -> np.ndarray:
    """The matrix of library gates ``(name, angle values, qubits)`` in argument order (qubit 0 most
    significant, like ``GateDef.matrix``, so a gate's decomposition compares directly); with
    ``vectors`` (2**n, r), that matrix times them."""
    ops = [Operation(name, tuple(qs), tuple(Const(float(a)) for a in angles)) for name, angles, qs in gates]
    if vectors is not None:
        return apply_block(ops, tuple(range(num_qubits)), vectors)
    return block_matrix(ops, tuple(range(num_qubits)))
