"""qcomp.ir.outputs helpers of declared outputs: the Hermitian Pauli decomposition (vs Qiskit's
SparsePauliOp), the parity-to-probabilities map, DeclaredOutput.build."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from qcomp.ir.ops import Observable, PauliTerm, normalize_pauli_sum
from qcomp.ir.outputs import (DeclaredOutput, Expectation, Probabilities, Samples, Variance, hermitian_terms,
                              parity_observables, parity_to_probs, z_qubit)


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 3), seed=st.integers(0, 10**6))
def test_hermitian_decomposition_rebuilds_the_matrix(k: int, seed: int) -> None:
    qiskit_qi = pytest.importorskip("qiskit.quantum_info")
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(2**k, 2**k)) + 1j * rng.normal(size=(2**k, 2**k))
    m = a + a.conj().T
    n = k + 1
    qubits = tuple(int(q) for q in rng.permutation(n)[:k])
    terms = hermitian_terms(m, qubits)
    full = qiskit_qi.SparsePauliOp.from_list(
        [("".join(w.get(q, "I") for q in reversed(range(n))), c) for c, w in terms]).to_matrix()
    # the expected operator on n qubits: M with its index bit j on qubits[j], identity elsewhere
    want = np.zeros((2**n, 2**n), dtype=complex)
    rest = [q for q in range(n) if q not in qubits]
    for r in range(2**n):
        for c in range(2**n):
            if any((r >> q & 1) != (c >> q & 1) for q in rest):
                continue
            ri = sum((r >> q & 1) << j for j, q in enumerate(qubits))
            ci = sum((c >> q & 1) << j for j, q in enumerate(qubits))
            want[r, c] = m[ri, ci]
    np.testing.assert_allclose(full, want, atol=1e-12)


@pytest.mark.parametrize("matrix, qubits, message", [
    ([[1, 2], [3, 1]], (0,), "not Hermitian"),
    ([[1, 0], [0, 1]], (0, 1), "needs a 4 x 4 matrix"),
    ([[1, 0, 0], [0, 1, 0]], (0,), "square matrix"),
    ([[np.inf, 0], [0, 1]], (0,), "non-finite"),
    (np.eye(2**9), tuple(range(9)), "at most 8 qubits"),
])
def test_hermitian_checks(matrix, qubits, message) -> None:
    with pytest.raises(ValueError, match=message):
        hermitian_terms(matrix, qubits)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_parities_give_probabilities(k: int) -> None:
    rng = np.random.default_rng(k)
    p = rng.dirichlet(np.ones(2**k))
    b = np.arange(2**k)
    parities = [1.0] + [float(sum(p[i] * (-1) ** bin(i & s).count("1") for i in b)) for s in range(1, 2**k)]
    np.testing.assert_allclose(parity_to_probs(k) @ np.array(parities), p, atol=1e-14)
    obs = parity_observables((5, 2, 7)[:k])
    assert len(obs) == 2**k - 1 and obs[0].terms[0].paulis == ((5, "Z"),)


def test_declared_output_build_and_z_qubit() -> None:
    obs = (Observable(normalize_pauli_sum([(1.0, {0: "X"})])),
           Observable((PauliTerm(1.0, ((3, "Z"),)),)), Observable((PauliTerm(1.0, ((1, "Z"),)),)))
    assert DeclaredOutput("expectation", (0,)).build(obs) == Expectation(obs[0])
    assert DeclaredOutput("variance", (0,)).build(obs) == Variance(obs[0])
    assert DeclaredOutput("probabilities", (1, 2)).build(obs) == Probabilities((3, 1))
    assert DeclaredOutput("samples", (2,), 9).build(obs) == Samples((1,), 9)
    with pytest.raises(ValueError, match="not z"):
        z_qubit(obs[0])
    assert DeclaredOutput("samples", (2,), 9, "a").to_json() == {"kind": "samples", "observables": [2], "text": "a", "shots": 9}
