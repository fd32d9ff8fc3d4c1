"""``--verify-each``: check after every pass that the program still computes the same thing."""

from __future__ import annotations

import numpy as np

from .backends import reference
from .errors import PassError
from .ir.program import Program

MAX_QUBITS = 12


def _global_phase_fidelity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.min(np.abs(np.sum(np.conj(a) * b, axis=1))))


def statevector_equivalence_check(before: Program, after: Program, pass_=None, *, seed: int = 1234,
                                  atol: float = 1e-9) -> None:
    """Compare before/after on random params and inputs (programs of at most 12 qubits), as far
    as the pass declares it keeps them (``Pass.preserves``).

    "state" (and the same qubits): statevectors equal up to global phase; "state" and "outputs":
    expectation values and measured-qubit probabilities agree; "nothing" (param-shift): no check.
    """
    preserves = getattr(pass_, "preserves", "state")
    if preserves == "nothing" or max(before.num_qubits, after.num_qubits) > MAX_QUBITS:
        return
    rng = np.random.default_rng(seed)
    params = rng.uniform(-np.pi, np.pi, size=(2, before.num_params))
    inputs = rng.uniform(-1, 1, size=(2, before.num_inputs))
    name = getattr(pass_, "name", "pass")
    same_shape = before.num_qubits == after.num_qubits and before.qubit_map == after.qubit_map
    if _noisy(before) or _noisy(after):  # the reference simulator ignores channels: density matrices
        _density_check(before, after, name, preserves, same_shape, params, inputs, atol)
        return
    if same_shape and preserves == "state":
        sa = reference.simulate(before, params, inputs)
        sb = reference.simulate(after, params, inputs)
        fid = _global_phase_fidelity(sa, sb)
        if fid < 1 - atol:
            raise PassError(f"--verify-each: pass '{name}' changed the state (overlap {fid:.12f})")
    ea = reference.expvals(before, params, inputs)
    eb = reference.expvals(after, params, inputs)
    if ea.shape != eb.shape or not np.allclose(ea, eb, atol=1e-8):
        raise PassError(f"--verify-each: pass '{name}' changed the expectation values")
    if before.measured:
        pa = reference.probabilities(reference.simulate(before, params, inputs), before.measured)
        pb = reference.probabilities(reference.simulate(after, params, inputs), after.measured)
        if pa.shape != pb.shape or not np.allclose(pa, pb, atol=1e-8):
            raise PassError(f"--verify-each: pass '{name}' changed the measurement probabilities")



def _noisy(program: Program) -> bool:
    from .ir.channels import is_channel

    return any(is_channel(op.name) for op in program.circuit.ops())


def _density_check(before: Program, after: Program, name: str, preserves: str, same_shape: bool,
                   params: np.ndarray, inputs: np.ndarray, atol: float) -> None:
    """``statevector_equivalence_check`` for programs with noise channels, on the exact density matrix
    (readout errors included in the probabilities)."""
    from .backends.density import DensityMatrixSimulator

    if max(before.num_qubits, after.num_qubits) > 6:  # 4**n per row: keep the check cheap
        return
    a, b = DensityMatrixSimulator(before), DensityMatrixSimulator(after)
    if same_shape and preserves == "state":
        if np.abs(a.density_matrix(params, inputs) - b.density_matrix(params, inputs)).max() > atol:
            raise PassError(f"--verify-each: pass '{name}' changed the density matrix")
    ea, eb = a.expval(params, inputs), b.expval(params, inputs)
    if ea.shape != eb.shape or not np.allclose(ea, eb, atol=1e-8):
        raise PassError(f"--verify-each: pass '{name}' changed the expectation values")
    if before.measured:
        pa, pb = a.probs(params, inputs, before.measured), b.probs(params, inputs, after.measured)
        if pa.shape != pb.shape or not np.allclose(pa, pb, atol=1e-8):
            raise PassError(f"--verify-each: pass '{name}' changed the measurement probabilities")
