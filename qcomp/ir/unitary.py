"""The unitary of a short op sequence, by applying each gate to the identity (small circuits only)."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from .gates import GATES
from .ops import Operation


def apply_matrix(state: np.ndarray, u: np.ndarray, qubits: Sequence[int]) -> np.ndarray:
    """``u`` (d, d) or (B|1, d, d) on ``qubits`` of batched states (B, 2**n), state bit k = qubit k.

    The gate's first qubit is the most significant bit of its matrix index (GateDef order)."""
    B, dim = state.shape
    n = dim.bit_length() - 1
    k = len(qubits)
    if u.ndim == 2:
        u = u[None]
    u = np.broadcast_to(u, (B,) + u.shape[-2:])
    psi = state.reshape((B,) + (2,) * n)
    axes = [1 + (n - 1 - q) for q in qubits]
    psi = np.moveaxis(psi, axes, list(range(n + 1 - k, n + 1)))
    shape = psi.shape
    psi = np.einsum("bij,brj->bri", u, psi.reshape(B, -1, 2**k))
    psi = np.moveaxis(psi.reshape(shape), list(range(n + 1 - k, n + 1)), axes)
    return np.ascontiguousarray(psi.reshape(B, dim))


def ops_unitary(ops: Iterable[Operation], num_qubits: int, params=None, inputs=None) -> np.ndarray:
    """The 2**n x 2**n unitary of ``ops`` (columns are images of basis states; index bit k = qubit k,
    Qiskit's order) at one row of ``params`` / ``inputs``."""
    p = np.zeros((1, 0)) if params is None else np.atleast_2d(np.asarray(params, dtype=float))
    x = np.zeros((1, 0)) if inputs is None else np.atleast_2d(np.asarray(inputs, dtype=float))
    if p.shape[0] != 1 or x.shape[0] != 1:
        raise ValueError("ops_unitary takes one row of params and inputs")
    state = np.eye(2**num_qubits, dtype=complex)
    for op in ops:
        state = apply_matrix(state, op.unitary(p, x), op.qubits)
    return state.T


def gates_unitary(gates: Iterable[tuple[str, Sequence[float], Sequence[int]]], num_qubits: int) -> np.ndarray:
    """The matrix of library gates ``(name, angle values, qubits)`` in argument order: qubit 0 is
    the most significant bit, like ``GateDef.matrix`` (so a gate's definition compares directly)."""
    state = np.eye(2**num_qubits, dtype=complex)
    for name, angles, qubits in gates:
        u = np.asarray(GATES[name].matrix(*angles), dtype=complex)
        state = apply_matrix(state, u, [num_qubits - 1 - q for q in qubits])
    return state.T
