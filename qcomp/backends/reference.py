"""The reference simulator: plain numpy, one gate at a time. Slow and obviously right; the test oracle.

State-vector index bit k is flat qubit k (Qiskit's order). States are batched: shape (B, 2**n).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..ir.circuit import Circuit
from ..ir.dynamic import defer_measurements
from ..ir.gates import is_fence
from ..ir.ops import Observable, Operation
from ..ir.program import Program
from ..ir.unitary import ops_unitary


def _as_batch(a: np.ndarray | Sequence[float] | None, width: int) -> np.ndarray:
    if a is None:
        return np.zeros((1, width))
    arr = np.asarray(a, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    assert arr.shape[1] == width, f"expected {width} values per row, got {arr.shape[1]}"
    return arr


def apply_op(state: np.ndarray, op: Operation, params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """Apply ``op`` to a batched state (B, 2**n); params (B|1, P), inputs (B|1, I)."""
    B, dim = state.shape
    n = dim.bit_length() - 1
    k = len(op.qubits)
    u = op.unitary(params, inputs)  # (d, d) or (B', d, d) with B' in {1, B}
    if u.ndim == 2:
        u = u[None]
    u = np.broadcast_to(u, (B,) + u.shape[-2:])
    psi = state.reshape((B,) + (2,) * n)
    axes = [1 + (n - 1 - q) for q in op.qubits]  # first gate qubit = most significant matrix bit
    psi = np.moveaxis(psi, axes, list(range(n + 1 - k, n + 1)))
    shape = psi.shape
    psi = psi.reshape(B, -1, 2**k)
    psi = np.einsum("bij,brj->bri", u, psi)
    psi = psi.reshape(shape)
    psi = np.moveaxis(psi, list(range(n + 1 - k, n + 1)), axes)
    return np.ascontiguousarray(psi.reshape(B, dim))


def simulate_circuit(
    circuit: Circuit,
    params: np.ndarray | Sequence[float] | None = None,
    inputs: np.ndarray | Sequence[float] | None = None,
    num_params: int | None = None,
    num_inputs: int | None = None,
) -> np.ndarray:
    """Final states (B, 2**n) from |0...0>, B = the larger batch of params and inputs."""
    p = _as_batch(params, num_params if num_params is not None else (0 if params is None else np.shape(params)[-1]))
    x = _as_batch(inputs, num_inputs if num_inputs is not None else (0 if inputs is None else np.shape(inputs)[-1]))
    B = max(p.shape[0], x.shape[0])
    state = np.zeros((B, 2**circuit.num_qubits), dtype=complex)
    state[:, 0] = 1.0
    for op in circuit.ops():
        if is_fence(op.name):  # barrier: no effect on the state
            continue
        state = apply_op(state, op, p, x)
    return state


def simulate(program: Program, params=None, inputs=None) -> np.ndarray:
    """Final states (B, 2**n) of a program; a dynamic circuit's measurements are deferred first
    (qcomp.ir.dynamic), so its state includes the ancillas (marginalise them with ``probabilities``)."""
    program = defer_measurements(program)
    return simulate_circuit(program.circuit, params, inputs, program.num_params, program.num_inputs)


def apply_pauli(state: np.ndarray, paulis: Sequence[tuple[int, str]]) -> np.ndarray:
    """P |psi> for a Pauli word given as (qubit, "X"|"Y"|"Z") pairs; state (B, 2**n)."""
    B, dim = state.shape
    idx = np.arange(dim)
    out = state
    for q, p in paulis:
        bit = (idx >> q) & 1
        if p == "X":
            out = out[:, idx ^ (1 << q)]
        elif p == "Y":
            # Y|0> = i|1>, Y|1> = -i|0>: new[j] = (bit_j ? i : -i) * old[j ^ 1<<q]
            out = out[:, idx ^ (1 << q)] * np.where(bit == 1, 1j, -1j)
        elif p == "Z":
            out = out * np.where(bit == 1, -1.0, 1.0)
    return out


def expectation(state: np.ndarray, observable: Observable) -> np.ndarray:
    """<psi|O|psi> per batch row."""
    total = np.zeros(state.shape[0])
    for t in observable.terms:
        total += t.coeff * np.real(np.sum(np.conj(state) * apply_pauli(state, t.paulis), axis=1))
    return total


def expvals(program: Program, params=None, inputs=None) -> np.ndarray:
    """Expectation values of every ``expect`` output, shape (B, n_outputs)."""
    state = simulate(program, params, inputs)
    if not program.observables:
        return np.zeros((state.shape[0], 0))
    return np.stack([expectation(state, o) for o in program.observables], axis=1)


def probabilities(state: np.ndarray, qubits: Sequence[int] | None = None) -> np.ndarray:
    """Outcome probabilities (B, 2**len(qubits)); result bit j is qubits[j]."""
    probs = np.abs(state) ** 2
    if qubits is None:
        return probs
    B, dim = probs.shape
    n = dim.bit_length() - 1
    t = probs.reshape((B,) + (2,) * n)
    keep = [1 + (n - 1 - q) for q in qubits]
    drop = tuple(a for a in range(1, n + 1) if a not in keep)
    t = t.sum(axis=drop) if drop else t
    # remaining axes are in increasing original-axis order; reorder so qubits[0] is the lowest bit
    remaining = sorted(keep)
    order = [remaining.index(a) + 1 for a in reversed(keep)]
    t = np.transpose(t, [0] + order)
    return t.reshape(B, -1)


def unitary(circuit: Circuit, params=None, inputs=None) -> np.ndarray:
    """The full 2**n x 2**n unitary (columns are images of basis states); small circuits only."""
    return ops_unitary(circuit.ops(), circuit.num_qubits, params, inputs)
