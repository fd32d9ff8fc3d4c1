"""Simulator kernels (strided block views, dense blocks, phases, Paulis, marginals) vs the reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qcomp.backends import kernels as K
from qcomp.backends import reference as R
from qcomp.backends import sim_plan as SP
from qcomp.ir.expr import Const
from qcomp.ir.gates import GATES
from qcomp.ir.ops import Operation, PauliTerm, Observable


def _state(rng, B, n):
    s = rng.normal(size=(B, 2**n)) + 1j * rng.normal(size=(B, 2**n))
    return s / np.linalg.norm(s, axis=1, keepdims=True)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 7), st.data())
def test_apply_dense_matches_reference(n, data):
    k = data.draw(st.integers(1, min(n, 3)))
    qs = tuple(data.draw(st.permutations(range(n)))[:k])
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    B = data.draw(st.sampled_from([1, 3]))
    X = _state(rng, B, n)
    m = rng.normal(size=(B, 2**k, 2**k)) + 1j * rng.normal(size=(B, 2**k, 2**k))
    bv = K.BlockView(n, qs)
    Y = np.empty_like(X)
    K.apply_dense(X, Y, bv, m, np.ones((2**k, 2**k), bool))
    # the same matrix as a reference op: local bit i = sorted(qs)[i] -> argument order = descending qubits
    for b in range(B):
        op = Operation("unitary", tuple(sorted(qs, reverse=True)), (), None,
                       tuple(tuple(complex(v) for v in r) for r in m[b]))
        np.testing.assert_allclose(Y[b], R.apply_op(X[b:b + 1], op, np.zeros((1, 0)), np.zeros((1, 0)))[0], atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.data())
def test_pauli_marginal_and_expval(n, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    X = _state(rng, 2, n)
    word = tuple(sorted((q, data.draw(st.sampled_from("XYZ"))) for q in data.draw(st.permutations(range(n)))[: data.draw(st.integers(1, n))]))
    np.testing.assert_allclose(K.apply_pauli(X, n, word), R.apply_pauli(X, word), atol=1e-12)
    qs = list(data.draw(st.permutations(range(n))))[: data.draw(st.integers(1, n))]
    np.testing.assert_allclose(K.marginal(K.probabilities(X), qs, n), R.probabilities(X, qs), atol=1e-12)
    obs = Observable((PauliTerm(0.5, word), PauliTerm(-1.0, ((0, "Z"),)), PauliTerm(0.25, ())))
    np.testing.assert_allclose(K.expval_terms(X, n, [obs])[:, 0], R.expectation(X, obs), atol=1e-12)


def test_matrix_frequency_derivatives_are_exact():
    rng = np.random.default_rng(0)
    for name, freqs in SP.MATRIX_FREQ.items():
        g = GATES[name]
        angles = rng.uniform(-2, 2, g.num_angles)
        op = Operation(name, tuple(range(g.num_qubits)), tuple(Const(float(a)) for a in angles))
        ref = SP.OpRef(op, tuple(range(g.num_angles)), False, False)
        table = angles[:, None]
        for k in range(g.num_angles):
            d = SP.op_dmatrix(ref, table, k)[0]
            h = 1e-6
            plus, minus = angles.copy(), angles.copy()
            plus[k] += h
            minus[k] -= h
            fd = (g.matrix(*plus) - g.matrix(*minus)) / (2 * h)
            np.testing.assert_allclose(d, fd, atol=1e-8, err_msg=f"{name} angle {k}")


def test_embed_and_phase():
    n = 3
    h = np.array([[0.1, 0.2, 0.3, 0.4]])  # op on (2, 0): index msb = qubit 2
    e = K.embed(h, (2, 0), n)
    assert e.shape == (1, 2, 1, 2)
    full = np.broadcast_to(e, (1, 2, 2, 2)).reshape(1, 8)
    for idx in range(8):
        b2, b0 = (idx >> 2) & 1, idx & 1
        assert full[0, idx] == h[0, 2 * b2 + b0]
