"""Shift rules derived from generator spectra, checked against matrix derivatives and trig polynomials."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcomp.ir.gates import GATES, gate_period, gate_rule
from qcomp.ir.shift_rules import (
    common_base,
    compose,
    equidistant_rule,
    frequencies_from_spectrum,
    general_rule,
    period,
    second_rule,
    shift_rule,
)

PARAMETRIC = [(g.name, k) for g in GATES.values() for k in range(g.num_angles)]


def _random_unitary(d: int, rng) -> np.ndarray:
    z = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    q, r = np.linalg.qr(z)
    return q * (np.diag(r) / np.abs(np.diag(r)))


def _matrix_derivative(fn, t: float, order: int = 1) -> np.ndarray:
    """d^order U / dt^order by 8th-order central differences of the (exact) matrix entries."""
    h = 1e-2 if order == 1 else 2e-2
    if order == 1:
        c = {1: 4 / 5, 2: -1 / 5, 3: 4 / 105, 4: -1 / 280}
        return sum(w * (fn(t + k * h) - fn(t - k * h)) for k, w in c.items()) / h
    c = {0: -205 / 72, 1: 8 / 5, 2: -1 / 5, 3: 8 / 315, 4: -1 / 560}
    return (c[0] * fn(t) + sum(w * (fn(t + k * h) + fn(t - k * h)) for k, w in c.items() if k)) / h**2


def _setup(name: str, k: int, seed: int):
    g = GATES[name]
    rng = np.random.default_rng(seed)
    d = 2**g.num_qubits
    angles = list(rng.uniform(-math.pi, math.pi, g.num_angles))
    V, W = _random_unitary(d, rng), _random_unitary(d, rng)
    psi = W @ (rng.normal(size=d) + 1j * rng.normal(size=d))
    psi /= np.linalg.norm(psi)
    A = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    O = V.conj().T @ (A + A.conj().T) @ V  # a random Hermitian observable seen through V

    def U(t):
        a = list(angles)
        a[k] = t
        return g.matrix(*a)

    def f(t):
        phi = U(t) @ psi
        return float(np.real(np.conj(phi) @ O @ phi))

    return angles[k], U, psi, O, f


@pytest.mark.parametrize("name,k", PARAMETRIC)
def test_rule_matches_matrix_derivative(name, k):
    t0, U, psi, O, f = _setup(name, k, seed=zlib.crc32(f'{name}{k}'.encode()))
    dU = _matrix_derivative(U, t0)
    u = U(t0) @ psi
    exact = 2 * float(np.real(np.conj(dU @ psi) @ O @ u))
    rule = gate_rule(name, k)
    assert abs(sum(c * f(t0 + x) for x, c in rule) - exact) < 1e-9


@pytest.mark.parametrize("name,k", PARAMETRIC)
def test_second_rule_matches_matrix_second_derivative(name, k):
    t0, U, psi, O, f = _setup(name, k, seed=zlib.crc32(f'{name}{k}!'.encode()))
    dU = _matrix_derivative(U, t0)
    d2U = _matrix_derivative(U, t0, order=2)
    u = U(t0) @ psi
    exact = 2 * float(np.real(np.conj(d2U @ psi) @ O @ u)) + 2 * float(np.real(np.conj(dU @ psi) @ O @ (dU @ psi)))
    rule = compose(gate_rule(name, k), gate_rule(name, k), gate_period(name, k))
    assert abs(sum(c * f(t0 + x) for x, c in rule) - exact) < 1e-6


def test_rotation_generators_are_exact():
    # exp(-i t P/2): dU/dt = -i P/2 U exactly; ties the spectra to the matrices without differences.
    paulis = {"X": [[0, 1], [1, 0]], "Y": [[0, -1j], [1j, 0]], "Z": [[1, 0], [0, -1]]}
    for g in GATES.values():
        if g.hermitian_generator:
            P = np.array([[1]])
            for ch in g.hermitian_generator:
                P = np.kron(P, np.array(paulis[ch]))
            t = 0.37
            assert np.allclose(-0.5j * P @ g.matrix(t), (g.matrix(t + 1e-6) - g.matrix(t - 1e-6)) / 2e-6, atol=1e-8)
            assert sorted(np.linalg.eigvalsh(P / 2).round(12)) == sorted(np.round(g.spectra[0], 12))


def test_known_rules():
    for name in ("rx", "ry", "rz", "p", "rxx", "ryy", "rzz", "u", "cp"):
        rule = dict(gate_rule(name))
        assert rule == {math.pi / 2: 0.5, -math.pi / 2: -0.5}, name
    # cp: a controlled gate with a single frequency, so two terms are exact
    assert frequencies_from_spectrum(GATES["cp"].spectra[0]) == (1.0,)
    s2 = math.sqrt(2)
    for name in ("crx", "cry", "crz"):
        rule = dict(gate_rule(name))
        assert len(rule) == 4
        assert rule[math.pi / 2] == pytest.approx((s2 + 1) / (4 * s2), abs=1e-15)
        assert rule[-math.pi / 2] == pytest.approx(-(s2 + 1) / (4 * s2), abs=1e-15)
        assert rule[3 * math.pi / 2] == pytest.approx(-(s2 - 1) / (4 * s2), abs=1e-15)
        assert rule[-3 * math.pi / 2] == pytest.approx((s2 - 1) / (4 * s2), abs=1e-15)
        assert gate_period(name) == pytest.approx(4 * math.pi)
    assert dict(second_rule((1.0,))) == {0.0: -0.5, math.pi: 0.5}


def test_frequency_helpers():
    assert frequencies_from_spectrum((0, 0, -0.5, 0.5)) == (0.5, 1.0)
    assert common_base((0.5, 1.0)) == 0.5
    assert common_base((2.0, 3.0)) == 1.0
    assert common_base((1.0, math.sqrt(2))) is None
    assert period((1.0,)) == pytest.approx(2 * math.pi)
    assert shift_rule(()) == ()


def _trig(freqs, coeffs):
    a0, a, b = coeffs

    def f(x):
        return a0 + sum(ai * math.cos(w * x) + bi * math.sin(w * x) for w, ai, bi in zip(freqs, a, b))

    def df(x):
        return sum(-ai * w * math.sin(w * x) + bi * w * math.cos(w * x) for w, ai, bi in zip(freqs, a, b))

    def d2f(x):
        return sum(-(w**2) * (ai * math.cos(w * x) + bi * math.sin(w * x)) for w, ai, bi in zip(freqs, a, b))

    return f, df, d2f


@settings(max_examples=40, deadline=None)
@given(
    freqs=st.lists(st.floats(0.2, 3.0), min_size=1, max_size=4, unique=True).filter(
        lambda fs: all(abs(a - b) > 0.1 for a in fs for b in fs if a != b)
    ),
    seed=st.integers(0, 2**31),
    x0=st.floats(-3, 3),
)
def test_general_rule_exact_on_trig_polynomials(freqs, seed, x0):
    rng = np.random.default_rng(seed)
    R = len(freqs)
    coeffs = (rng.normal(), rng.normal(size=R), rng.normal(size=R))
    f, df, _ = _trig(freqs, coeffs)
    shifts = [(2 * mu - 1) * math.pi / (2 * R * max(freqs)) for mu in range(1, R + 1)]
    try:
        rule = general_rule(freqs, shifts)
    except ValueError:
        return  # ill-conditioned shift choice for nearly dependent frequencies: refused, not wrong
    assert sum(c * f(x0 + x) for x, c in rule) == pytest.approx(df(x0), abs=1e-6 * (1 + sum(abs(c) for _, c in rule)))


@settings(max_examples=30, deadline=None)
@given(base=st.floats(0.25, 2.0), R=st.integers(1, 5), seed=st.integers(0, 2**31), x0=st.floats(-3, 3))
def test_equidistant_rule_first_and_second_derivative(base, R, seed, x0):
    rng = np.random.default_rng(seed)
    freqs = [base * (l + 1) for l in range(R)]
    f, df, d2f = _trig(freqs, (rng.normal(), rng.normal(size=R), rng.normal(size=R)))
    rule = equidistant_rule(base, R)
    assert len(rule) == 2 * R
    assert sum(c * f(x0 + x) for x, c in rule) == pytest.approx(df(x0), abs=1e-9)
    # the closed form agrees with the linear-system rule at the same shifts
    pos = sorted(x for x, _ in rule if x > 0)
    gen = dict(general_rule(freqs, pos))
    for x, c in rule:
        assert gen[min(gen, key=lambda s: abs(s - x))] == pytest.approx(c, abs=1e-9)
    # the rule applied twice (shifts merged modulo the period) is the second derivative
    r2 = compose(rule, rule, period(freqs))
    assert sum(c * f(x0 + x) for x, c in r2) == pytest.approx(d2f(x0), abs=1e-8)
