"""Parameter-shift rules derived from generator frequencies (Wierichs et al., "General parameter-shift rules").

For a gate ``U(t) = V exp(-i t G) W`` every expectation value is a trigonometric polynomial
``f(t) = a0 + sum_l a_l cos(w_l t) + b_l sin(w_l t)`` whose frequencies ``w_l`` are the distinct
positive differences of the eigenvalues of ``G``. A shift rule is a list of ``(shift, coeff)``
with ``f'(0) = sum coeff * f(shift)``; it is exact for every ``f`` with those frequencies.

* Equidistant frequencies ``{w, 2w, ..., Rw}`` (after filling gaps, which keeps exactness):
  the closed form with ``2R`` shifts ``x_mu = (2 mu - 1) pi / (2 R w)`` and coefficients
  ``w (-1)^(mu-1) / (4 R sin^2(w x_mu / 2))``. One frequency gives the two-term rule
  (shifts +-pi/(2w), coefficients +-w/2); ``{1/2, 1}`` (crx, cry, crz) gives
  the four-term rule with shifts +-pi/2, +-3pi/2.
* Arbitrary frequencies: ``R`` symmetric shift pairs solving ``2 sum_mu y_mu sin(w_l x_mu) = w_l``.

``cp`` has generator ``diag(0, 0, 0, -1)``: its only frequency is 1, so the two-term rule is exact
for it (the same as ``p``), although it is a controlled gate.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Sequence

import numpy as np

ShiftRule = tuple[tuple[float, float], ...]  # ((shift, coefficient), ...)

_TOL = 1e-9


def frequencies_from_spectrum(eigenvalues: Sequence[float]) -> tuple[float, ...]:
    """The distinct positive differences of generator eigenvalues, sorted."""
    ev = [float(v) for v in eigenvalues]
    out: list[float] = []
    for a in ev:
        for b in ev:
            d = abs(a - b)
            if d > _TOL and not any(abs(d - f) <= _TOL for f in out):
                out.append(d)
    return tuple(sorted(out))


def common_base(freqs: Sequence[float], max_denominator: int = 64) -> float | None:
    """The largest ``w`` with every frequency an integer multiple of it, or None (incommensurate)."""
    if not freqs:
        return None
    f0 = min(freqs)
    fracs = []
    for f in freqs:
        r = Fraction(f / f0).limit_denominator(max_denominator)
        if abs(float(r) - f / f0) > 1e-9:
            return None
        fracs.append(r)
    # base = f0 / lcm(denominators) * gcd of numerators scaled
    den = 1
    for r in fracs:
        den = den * r.denominator // math.gcd(den, r.denominator)
    nums = [int(r * den) for r in fracs]
    g = 0
    for n in nums:
        g = math.gcd(g, n)
    return f0 * g / den


def period(freqs: Sequence[float]) -> float | None:
    """The period ``2 pi / base`` of every trigonometric polynomial with these frequencies."""
    base = common_base(freqs)
    return None if base is None else 2 * math.pi / base


def equidistant_rule(base: float, R: int) -> ShiftRule:
    """Closed-form first-derivative rule for frequencies ``{base, 2 base, ..., R base}``."""
    rule = []
    for mu in range(1, 2 * R + 1):
        x = (2 * mu - 1) * math.pi / (2 * R)
        c = (-1) ** (mu - 1) / (4 * R * math.sin(x / 2) ** 2)
        rule.append((canonical_shift(_wrap(x, 2 * math.pi) / base, None), _clean(c * base)))
    return tuple(rule)


def general_rule(freqs: Sequence[float], shifts: Sequence[float] | None = None) -> ShiftRule:
    """First-derivative rule for arbitrary frequencies by solving the linear system.

    ``f(x) - f(-x) = 2 sum_l b_l sin(w_l x)`` and ``f'(0) = sum_l w_l b_l``, so symmetric pairs
    ``+-x_mu`` with ``2 sum_mu y_mu sin(w_l x_mu) = w_l`` give ``f'(0) = sum y_mu (f(x_mu) - f(-x_mu))``.
    """
    w = np.asarray(freqs, dtype=float)
    R = len(w)
    if shifts is None:
        shifts = [(2 * mu - 1) * math.pi / (2 * R * w.max()) for mu in range(1, R + 1)]
    x = np.asarray(shifts, dtype=float)
    S = 2 * np.sin(np.outer(w, x))  # (R freqs, R shifts)
    if np.linalg.cond(S) > 1e12:
        raise ValueError(f"shift points {list(x)} do not determine frequencies {list(w)}")
    y = np.linalg.solve(S, w)
    rule = []
    for xi, yi in zip(x, y):
        rule.append((float(xi), float(yi)))
        rule.append((float(-xi), float(-yi)))
    return tuple(rule)


def shift_rule(freqs: Sequence[float]) -> ShiftRule:
    """The first-derivative shift rule for a gate angle whose generator has these frequencies."""
    freqs = tuple(float(f) for f in freqs)
    if not freqs:
        return ()
    base = common_base(freqs)
    if base is not None:
        R = int(round(max(freqs) / base))
        if R <= 16:
            return equidistant_rule(base, R)
    return general_rule(freqs)


def spectrum_rule(eigenvalues: Sequence[float]) -> ShiftRule:
    """The shift rule of a generator given by its eigenvalues."""
    return shift_rule(frequencies_from_spectrum(eigenvalues))


def _wrap(x: float, T: float) -> float:
    """x reduced into (-T/2, T/2]."""
    r = math.fmod(x, T)
    if r > T / 2 + 1e-12:
        r -= T
    elif r <= -T / 2 + 1e-12:
        r += T
    return r


def _snap(v: float, unit: float, denominators: Sequence[int]) -> float:
    """``v`` replaced by the nearest ``k * unit / m`` when within rounding error (clean printing)."""
    for m in denominators:
        k = round(v * m / unit)
        if k != 0 and abs(v * m / unit - k) < 1e-11:
            return k * unit / m
    return v


def canonical_shift(x: float, T: float | None) -> float:
    """A shift reduced modulo the period (when known), snapped to exact multiples of pi/8 so
    that equal shifts compare equal and print as multiples of pi."""
    if T is not None:
        x = _wrap(x, T)
    if abs(x) < 1e-12:
        return 0.0
    return _snap(x, math.pi, (1, 2, 4, 8))


def _clean(c: float) -> float:
    return _snap(c, 1.0, (1, 2, 4, 8, 16, 32, 64)) if abs(c) > 1e-15 else 0.0


def compose(a: ShiftRule, b: ShiftRule, T: float | None) -> ShiftRule:
    """The rule applied twice to the same angle (a second derivative), equal shifts merged."""
    acc: dict[float, float] = {}
    for xa, ca in a:
        for xb, cb in b:
            s = canonical_shift(xa + xb, T)
            key = min(acc, key=lambda k: abs(k - s), default=None)
            if key is None or abs(key - s) > 1e-10:
                key = s
            acc[key] = acc.get(key, 0.0) + ca * cb
    return tuple((s, _clean(c)) for s, c in sorted(acc.items()) if abs(c) > 1e-14)


def second_rule(freqs: Sequence[float]) -> ShiftRule:
    """The second-derivative rule of one angle: the first-derivative rule applied twice."""
    r = shift_rule(freqs)
    return compose(r, r, period(freqs))


__all__ = [
    "ShiftRule",
    "frequencies_from_spectrum",
    "common_base",
    "period",
    "equidistant_rule",
    "general_rule",
    "shift_rule",
    "spectrum_rule",
    "canonical_shift",
    "compose",
    "second_rule",
]
