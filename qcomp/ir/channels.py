"""The channel table: noise channels used like gates (Kraus operators, superoperators, parameter checks).

A channel is an ``Operation`` whose name is in ``CHANNELS``; its ``angles`` are the channel's
parameters (constants, params or inputs). Conventions (docs/language.md "Noise channels"):

- ``depolarizing(p)``: (1 - p) rho + p/3 (X rho X + Y rho Y + Z rho Z), as PennyLane's
  ``DepolarizingChannel``; Qiskit's ``depolarizing_error(lam, 1)`` is the same channel with
  ``lam = 4 p / 3``.
- ``bit_flip(p)``: (1 - p) rho + p X rho X; ``phase_flip(p)``: (1 - p) rho + p Z rho Z.
- ``pauli_channel(px, py, pz)``: (1 - px - py - pz) rho + px X rho X + py Y rho Y + pz Z rho Z.
- ``amplitude_damping(gamma)``: K0 = [[1, 0], [0, sqrt(1 - gamma)]], K1 = [[0, sqrt(gamma)], [0, 0]].
- ``phase_damping(gamma)``: K0 = [[1, 0], [0, sqrt(1 - gamma)]], K1 = [[0, 0], [0, sqrt(gamma)]].
- ``thermal_relaxation(t1, t2, time)``: relaxation to |0> (Qiskit Aer's ``thermal_relaxation_error``
  with excited-state population 0): populations decay by exp(-time/t1), coherences by
  exp(-time/t2); requires 0 < t1, 0 < t2 <= 2 t1, time >= 0.
- general Kraus channels from constant matrices: ``register_kraus_channel(name, matrices)``.

Superoperators act on the vectorised density matrix with index ``(row << k) | col`` (row and
column indices in argument order, first qubit most significant): ``S = sum_k K_k (x) conj(K_k)``,
so ``vec(K rho K^dagger) = S vec(rho)``. Every function takes parameter values that are floats or
arrays of shape (B,) and returns arrays with that batch shape in front.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..errors import QCompError

__all__ = ["CHANNELS", "ChannelDef", "ChannelError", "is_channel", "kraus_superop", "register_kraus_channel",
           "remove_channel", "READOUT_ERROR"]


class ChannelError(QCompError):
    """A channel is used with invalid parameters, or a channel added to the table is malformed."""


# The name of the readout-error statement: it acts on measurement outcomes, not on the state, so
# it is an Operation the noisy simulators apply to probabilities and samples (never a superoperator).
READOUT_ERROR = "readout_error"


@dataclass(frozen=True)
class ChannelDef:
    """One channel of the table.

    ``superop(*values)`` and ``dsuperop(k, *values)`` (derivative with respect to parameter k) are
    (..., 4**q, 4**q); ``kraus(*values)`` a list of (..., 2**q, 2**q) operators; ``check(*values)``
    returns a message for the first invalid value (values are arrays) or None.
    """

    name: str
    num_qubits: int
    param_names: tuple[str, ...]
    superop_fn: Callable[..., np.ndarray]
    dsuperop_fn: Callable[..., np.ndarray] | None
    kraus_fn: Callable[..., list[np.ndarray]]
    check_fn: Callable[..., str | None]
    doc: str = ""
    # a Pauli channel's probabilities (I, X, Y, Z) as a function of the parameters: trajectories
    # then draw the Pauli without looking at the state
    pauli_probs: Callable[..., np.ndarray] | None = field(default=None)

    @property
    def num_params(self) -> int:
        return len(self.param_names)

    def superop(self, *values) -> np.ndarray:
        return self.superop_fn(*values)

    def dsuperop(self, k: int, *values) -> np.ndarray:
        if self.dsuperop_fn is None:
            raise QCompError(f"channel '{self.name}' has no parameters to differentiate")
        return self.dsuperop_fn(k, *values)

    def kraus(self, *values) -> list[np.ndarray]:
        return self.kraus_fn(*values)

    def check(self, *values) -> str | None:
        vals = [np.asarray(v, dtype=float) for v in values]
        for name, v in zip(self.param_names, vals):
            if not np.all(np.isfinite(v)):
                return f"parameter {name} of '{self.name}' is not finite"
        return self.check_fn(*vals)


def kraus_superop(kraus: Sequence[np.ndarray]) -> np.ndarray:
    """sum_k K_k (x) conj(K_k) for (..., d, d) operators: (..., d*d, d*d)."""
    out = None
    for K in kraus:
        K = np.asarray(K, dtype=complex)
        term = np.einsum("...ab,...cd->...acbd", K, K.conj())
        term = term.reshape(K.shape[:-2] + (K.shape[-1] ** 2, K.shape[-1] ** 2))
        out = term if out is None else out + term
    assert out is not None
    return out


def _full(shape, value=0.0) -> np.ndarray:
    return np.full(shape + (4, 4), value, dtype=complex)


def _bshape(*values) -> tuple[int, ...]:
    return np.broadcast_shapes(*(np.shape(v) for v in values))


def _pauli_superop(pi, px, py, pz) -> np.ndarray:
    """The superoperator of pi rho + px X rho X + py Y rho Y + pz Z rho Z (index (r << 1) | c)."""
    pi, px, py, pz = (np.asarray(v, dtype=float) for v in (pi, px, py, pz))
    S = _full(_bshape(pi, px, py, pz))
    # diagonal entries rho00, rho11: I and Z keep them, X and Y swap them
    S[..., 0, 0] = S[..., 3, 3] = pi + pz
    S[..., 0, 3] = S[..., 3, 0] = px + py
    # coherences rho01 (index 1), rho10 (index 2): I keeps, Z negates, X swaps, Y swaps and negates
    S[..., 1, 1] = S[..., 2, 2] = pi - pz
    S[..., 1, 2] = S[..., 2, 1] = px - py
    return S


_I2 = np.eye(2, dtype=complex)
_X = np.array([[0, 1], [1, 0]], dtype=complex)
_Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
_Z = np.array([[1, 0], [0, -1]], dtype=complex)


def _pauli_kraus(pi, px, py, pz) -> list[np.ndarray]:
    out = []
    for p, P in ((pi, _I2), (px, _X), (py, _Y), (pz, _Z)):
        p = np.asarray(p, dtype=float)
        out.append(np.sqrt(np.clip(p, 0, None))[..., None, None] * P)
    return out


def _prob_check(name: str, pname: str, hi: float = 1.0) -> Callable[..., str | None]:
    def check(p):
        bad = (p < 0) | (p > hi)
        if np.any(bad):
            v = float(np.asarray(p)[bad].flat[0]) if np.ndim(p) else float(p)
            return f"'{name}' needs 0 <= {pname} <= {hi:g}, got {v:g}"
        return None

    return check


# -- depolarizing, bit flip, phase flip, Pauli channel ---------------------------------------
def _depol_probs(p):
    p = np.asarray(p, dtype=float)
    return np.stack([1 - p, p / 3, p / 3, p / 3], axis=-1)


def _dep_super(p):
    return _pauli_superop(*np.moveaxis(_depol_probs(p), -1, 0))


def _dep_dsuper(k, p):
    return _pauli_superop(np.full(np.shape(p), -1.0), *(np.full(np.shape(p), 1 / 3),) * 3)


def _bf_probs(p):
    p = np.asarray(p, dtype=float)
    z = np.zeros_like(p)
    return np.stack([1 - p, p, z, z], axis=-1)


def _pf_probs(p):
    p = np.asarray(p, dtype=float)
    z = np.zeros_like(p)
    return np.stack([1 - p, z, z, p], axis=-1)


def _unit_dsuper(index: int) -> Callable:
    def d(k, p):
        p = np.asarray(p, dtype=float)
        one, z = np.ones_like(p), np.zeros_like(p)
        args = [-one, z, z, z]
        args[index] = one
        return _pauli_superop(*args)

    return d


def _pc_probs(px, py, pz):
    px, py, pz = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (px, py, pz)))
    return np.stack([1 - px - py - pz, px, py, pz], axis=-1)


def _pc_dsuper(k, px, py, pz):
    shape = _bshape(px, py, pz)
    one, z = np.ones(shape), np.zeros(shape)
    args = [-one, z, z, z]
    args[k + 1] = one
    return _pauli_superop(*args)


def _pc_check(px, py, pz):
    for name, v in (("px", px), ("py", py), ("pz", pz)):
        if np.any((v < 0) | (v > 1)):
            return f"'pauli_channel' needs 0 <= {name} <= 1, got {float(np.min(v) if np.any(v < 0) else np.max(v)):g}"
    total = px + py + pz
    if np.any(total > 1 + 1e-12):
        return f"'pauli_channel' needs px + py + pz <= 1, got {float(np.max(total)):g}"
    return None


# -- damping channels --------------------------------------------------------------------------
def _damp_super(gamma, amplitude: bool) -> np.ndarray:
    g = np.asarray(gamma, dtype=float)
    S = _full(g.shape)
    s = np.sqrt(np.clip(1 - g, 0, None))
    S[..., 0, 0] = 1
    S[..., 1, 1] = S[..., 2, 2] = s
    if amplitude:
        S[..., 0, 3] = g
        S[..., 3, 3] = 1 - g
    else:
        S[..., 3, 3] = 1
    return S


def _damp_dsuper(gamma, amplitude: bool) -> np.ndarray:
    g = np.asarray(gamma, dtype=float)
    S = _full(g.shape)
    with np.errstate(divide="ignore"):
        ds = -0.5 / np.sqrt(np.clip(1 - g, 0, None))
    S[..., 1, 1] = S[..., 2, 2] = ds
    if amplitude:
        S[..., 0, 3] = 1
        S[..., 3, 3] = -1
    return S


def _damp_kraus(gamma, amplitude: bool) -> list[np.ndarray]:
    g = np.asarray(gamma, dtype=float)
    K0 = np.zeros(g.shape + (2, 2), dtype=complex)
    K1 = np.zeros(g.shape + (2, 2), dtype=complex)
    K0[..., 0, 0] = 1
    K0[..., 1, 1] = np.sqrt(np.clip(1 - g, 0, None))
    if amplitude:
        K1[..., 0, 1] = np.sqrt(np.clip(g, 0, None))
    else:
        K1[..., 1, 1] = np.sqrt(np.clip(g, 0, None))
    return [K0, K1]


# -- thermal relaxation ------------------------------------------------------------------------
def _tr_parts(t1, t2, time):
    t1, t2, time = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t1, t2, time)))
    a = np.exp(-time / t1)  # population left in |1>
    c = np.exp(-time / t2)  # coherence factor
    return t1, t2, time, a, c


def _tr_super(t1, t2, time):
    _, _, _, a, c = _tr_parts(t1, t2, time)
    S = _full(a.shape)
    S[..., 0, 0] = 1
    S[..., 0, 3] = 1 - a
    S[..., 3, 3] = a
    S[..., 1, 1] = S[..., 2, 2] = c
    return S


def _tr_dsuper(k, t1, t2, time):
    t1, t2, time, a, c = _tr_parts(t1, t2, time)
    # d a / d (t1, t2, time) and d c / d (t1, t2, time)
    da = (a * time / t1**2, np.zeros_like(a), -a / t1)[k]
    dc = (np.zeros_like(c), c * time / t2**2, -c / t2)[k]
    S = _full(a.shape)
    S[..., 0, 3] = -da
    S[..., 3, 3] = da
    S[..., 1, 1] = S[..., 2, 2] = dc
    return S


def _tr_kraus(t1, t2, time):
    # K0 = diag(1, c) keeps the coherence c, K1 moves 1 - a of |1> to |0>, K2 = diag(0, sqrt(a - c**2))
    # tops the |1> population up to a (c**2 <= a because t2 <= 2 t1)
    _, _, _, a, c = _tr_parts(t1, t2, time)
    K0 = np.zeros(a.shape + (2, 2), dtype=complex)
    K1 = np.zeros(a.shape + (2, 2), dtype=complex)
    K2 = np.zeros(a.shape + (2, 2), dtype=complex)
    K0[..., 0, 0] = 1
    K0[..., 1, 1] = c
    K1[..., 0, 1] = np.sqrt(1 - a)
    K2[..., 1, 1] = np.sqrt(np.clip(a - c**2, 0, None))
    return [K0, K1, K2]


def _tr_check(t1, t2, time):
    if np.any(t1 <= 0):
        return f"'thermal_relaxation' needs t1 > 0, got {float(np.min(t1)):g}"
    if np.any(t2 <= 0):
        return f"'thermal_relaxation' needs t2 > 0, got {float(np.min(t2)):g}"
    if np.any(t2 > 2 * t1 * (1 + 1e-12)):
        i = np.argmax(np.broadcast_to(t2 - 2 * t1, np.broadcast_shapes(t1.shape, t2.shape)))
        return (f"'thermal_relaxation' needs t2 <= 2 t1 (a physical qubit), got t1 = "
                f"{float(np.broadcast_to(t1, np.broadcast_shapes(t1.shape, t2.shape)).flat[i]):g}, t2 = "
                f"{float(np.broadcast_to(t2, np.broadcast_shapes(t1.shape, t2.shape)).flat[i]):g}")
    if np.any(time < 0):
        return f"'thermal_relaxation' needs time >= 0, got {float(np.min(time)):g}"
    return None


def _pauli_def(name, params, probs_fn, dsuper, check, doc) -> ChannelDef:
    return ChannelDef(
        name, 1, params,
        superop_fn=lambda *v: _pauli_superop(*np.moveaxis(probs_fn(*v), -1, 0)),
        dsuperop_fn=dsuper,
        kraus_fn=lambda *v: _pauli_kraus(*np.moveaxis(probs_fn(*v), -1, 0)),
        check_fn=check, doc=doc, pauli_probs=probs_fn)


_LIBRARY: list[ChannelDef] = [
    _pauli_def("depolarizing", ("p",), _depol_probs, _dep_dsuper, _prob_check("depolarizing", "p"),
               "(1 - p) rho + p/3 (X rho X + Y rho Y + Z rho Z); Qiskit depolarizing_error(4 p / 3, 1)"),
    _pauli_def("bit_flip", ("p",), _bf_probs, _unit_dsuper(1), _prob_check("bit_flip", "p"),
               "(1 - p) rho + p X rho X"),
    _pauli_def("phase_flip", ("p",), _pf_probs, _unit_dsuper(3), _prob_check("phase_flip", "p"),
               "(1 - p) rho + p Z rho Z"),
    _pauli_def("pauli_channel", ("px", "py", "pz"), _pc_probs, _pc_dsuper, _pc_check,
               "(1 - px - py - pz) rho + px X rho X + py Y rho Y + pz Z rho Z"),
    ChannelDef("amplitude_damping", 1, ("gamma",), lambda g: _damp_super(g, True),
               lambda k, g: _damp_dsuper(g, True), lambda g: _damp_kraus(g, True),
               _prob_check("amplitude_damping", "gamma"), "decay |1> -> |0> with probability gamma"),
    ChannelDef("phase_damping", 1, ("gamma",), lambda g: _damp_super(g, False),
               lambda k, g: _damp_dsuper(g, False), lambda g: _damp_kraus(g, False),
               _prob_check("phase_damping", "gamma"), "coherences scaled by sqrt(1 - gamma)"),
    ChannelDef("thermal_relaxation", 1, ("t1", "t2", "time"), _tr_super, _tr_dsuper, _tr_kraus, _tr_check,
               "populations relax to |0> by exp(-time/t1), coherences decay by exp(-time/t2)"),
]

CHANNELS: dict[str, ChannelDef] = {c.name: c for c in _LIBRARY}
BUILTIN = frozenset(CHANNELS)


def _register_fences(*names: str) -> None:
    """Channels are fences for the passes (``qcomp.ir.gates.is_fence``): no gate moves, merges,
    cancels or fuses across one; the passes that handle fences themselves know channels
    (light-cone widens through multi-qubit channels, dead-qubits keeps their qubits)."""
    from .gates import register_fence

    for name in names:
        register_fence(name)


_register_fences(*CHANNELS, READOUT_ERROR)


def is_channel(name: str) -> bool:
    """Whether an operation name is a noise channel (or the readout-error statement)."""
    return name in CHANNELS or name == READOUT_ERROR


def register_kraus_channel(name: str, kraus: Sequence[np.ndarray] | Sequence[Sequence[Sequence[complex]]],
                           *, atol: float = 1e-10, replace: bool = False) -> ChannelDef:
    """Add a general channel from constant Kraus matrices (argument order, first qubit most
    significant); afterwards ``name q;`` (``name a, b;`` for two qubits) applies it in .q programs.

    The matrices must be square, of one size 2**k, and complete: sum_k K^dagger K = I (within atol).
    """
    from .gates import ALIASES, GATES

    if not isinstance(name, str) or not name.isidentifier():
        raise ChannelError(f"channel name must be an identifier, got {name!r}")
    if name in GATES or name in ALIASES or name == READOUT_ERROR or (name in BUILTIN):
        raise ChannelError(f"'{name}' is already a gate or a built-in channel")
    if name in CHANNELS and not replace:
        raise ChannelError(f"channel '{name}' is already registered (pass replace=True)")
    try:
        mats = [np.array(k, dtype=complex) for k in kraus]
    except (TypeError, ValueError) as e:
        raise ChannelError(f"Kraus matrices of '{name}' must be complex square matrices ({e})") from None
    if not mats:
        raise ChannelError(f"channel '{name}' needs at least one Kraus matrix")
    d = mats[0].shape[0] if mats[0].ndim == 2 else 0
    k = int(round(math.log2(d))) if d > 0 else 0
    if d < 2 or 2**k != d or any(m.shape != (d, d) for m in mats):
        raise ChannelError(f"Kraus matrices of '{name}' must all be square of size 2**k, got shapes "
                           f"{[m.shape for m in mats]}")
    if not all(np.all(np.isfinite(m)) for m in mats):
        raise ChannelError(f"Kraus matrices of '{name}' contain NaN or infinite entries")
    total = sum(m.conj().T @ m for m in mats)
    err = float(np.max(np.abs(total - np.eye(d))))
    if err > atol:
        raise ChannelError(f"Kraus matrices of '{name}' are not trace preserving: "
                           f"max |sum K^dagger K - I| = {err:.3g}")
    for m in mats:
        m.setflags(write=False)
    S = kraus_superop(mats)
    S.setflags(write=False)
    c = ChannelDef(name, k, (), lambda: S, None, lambda: list(mats), lambda: None,
                   f"general Kraus channel with {len(mats)} operators")
    CHANNELS[name] = c
    _register_fences(name)
    return c


def remove_channel(name: str) -> None:
    """Remove a channel added with ``register_kraus_channel`` (built-in channels stay)."""
    if name in BUILTIN:
        raise ChannelError(f"'{name}' is a built-in channel")
    if name not in CHANNELS:
        raise ChannelError(f"no channel '{name}'")
    del CHANNELS[name]
    from .gates import FENCES, notify_changed

    FENCES.discard(name)
    notify_changed()
