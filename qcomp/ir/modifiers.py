"""OpenQASM 3 gate modifiers (inv, pow, ctrl, negctrl) and gphase: derived gates and their decompositions."""

from __future__ import annotations

import cmath
import math
from typing import Sequence

import numpy as np

from ..errors import QCompError
from . import expr as E
from .equivalences import EQUIVALENCES, Equivalence, register_equivalence
from .gates import GATES, RESOLVERS, GateDef, inverse as gate_inverse, register_gate

# A gate sequence on local qubits 0..m-1: (gate, angles, qubits). ``GPHASE`` entries (no qubits,
# one angle) carry a global phase exp(i t); it matters once the sequence is controlled.
Seq = list[tuple[str, tuple[E.Expr, ...], tuple[int, ...]]]
GPHASE = "gphase"
# One modifier as written: ("inv", None), ("pow", k), ("ctrl", n) or ("negctrl", n).
Modifier = tuple[str, "float | int | None"]


class ModifierError(QCompError):
    """A gate modifier cannot be applied (the caller adds the source location)."""


# Library gates that are controlled versions of another library gate: gate -> (base, controls).
LIBRARY_CONTROLLED: dict[str, tuple[str, str]] = {
    "cx": ("x", "c"), "ccx": ("x", "cc"), "c3x": ("x", "ccc"), "c4x": ("x", "cccc"), "cy": ("y", "c"),
    "cz": ("z", "c"), "ch": ("h", "c"), "cswap": ("swap", "c"), "crx": ("rx", "c"), "cry": ("ry", "c"),
    "crz": ("rz", "c"), "cp": ("p", "c"), "csx": ("sx", "c"), "c3sqrtx": ("sx", "ccc"),
}
_CONTROLLED_NAME = {v: k for k, v in LIBRARY_CONTROLLED.items()}
_ONE_Q_ROTATIONS = ("rx", "ry", "rz", "p")


def split(name: str) -> tuple[str, str, float | None]:
    """(base gate, control pattern, power) of a gate: ``cx`` -> (x, "c", None), a derived gate's
    own fields, any other gate -> (itself, "", None)."""
    if name in LIBRARY_CONTROLLED:
        base, ctl = LIBRARY_CONTROLLED[name]
        return base, ctl, None
    g = GATES[name]
    if g.base is not None:
        return g.base, g.controls, g.power
    return name, "", None


def _fmt_power(k: float) -> str:
    return f"{k:.12g}".replace("-", "m").replace(".", "p").replace("+", "")


def derived_name(base: str, controls: str, power: float | None) -> str:
    """The library name of ``base`` under ``power`` then ``controls`` ("c" ctrl, "n" negctrl, first
    qubit first): a library gate when one exists (x, "cc" -> ccx), else e.g. ``c_c_ry``, ``negc_x``."""
    if power is None:
        if not controls:
            return base
        lib = _CONTROLLED_NAME.get((base, controls))
        if lib is not None:
            return lib
    parts = ["c" if c == "c" else "negc" for c in controls]
    if power is not None:
        parts.append(f"pow_{_fmt_power(power)}")
    return "_".join(parts + [base])


def ensure_gate(name: str) -> bool:
    """Register the derived gate called ``name`` (``negc_ry``, ``c_c_rz``, ``pow_0p5_x``) if it is
    not in the library yet: a Program read back from the compile cache (or any pickle) names
    derived gates that a new process has not built. False when ``name`` is no derived gate name."""
    if name in GATES:
        return True
    tokens = name.split("_")
    controls = ""
    i = 0
    while i < len(tokens) and tokens[i] in ("c", "negc"):
        controls += "c" if tokens[i] == "c" else "n"
        i += 1
    power = None
    if i + 1 < len(tokens) and tokens[i] == "pow":
        try:
            power = float(tokens[i + 1].replace("m", "-").replace("p", "."))
        except ValueError:
            return False
        i += 2
    base = "_".join(tokens[i:])
    if not base or base not in GATES or (not controls and power is None):
        return False
    try:
        return derived_gate(base, controls, power) == name
    except QCompError:  # ModifierError, or a decomposition the gate table refuses
        return False


def _principal_power(m: np.ndarray, k: float) -> np.ndarray:
    """m**k on the principal branch (arguments in (-pi, pi]; -1 stays at +pi), like Qiskit's Gate.power."""
    w, v = np.linalg.eig(m)
    args = np.angle(w)
    args[np.abs(args + math.pi) < 1e-9] = math.pi
    out = v @ np.diag(np.exp(1j * k * args)) @ np.linalg.inv(v)
    return out


def _embed(u: np.ndarray, controls: str) -> np.ndarray:
    """``u`` (..., d, d) controlled on qubits before it, one letter per control ("c": on |1>, "n": on |0>)."""
    u = np.asarray(u, dtype=complex)
    d = u.shape[-1]
    c = len(controls)
    size = d * 2 ** c
    out = np.zeros(u.shape[:-2] + (size, size), dtype=complex)
    idx = np.arange(size)
    out[..., idx, idx] = 1
    at = int("".join("1" if x == "c" else "0" for x in controls), 2) * d if c else 0
    out[..., at:at + d, at:at + d] = u
    return out


RESOLVERS.append(ensure_gate)

# Derived gates up to this many qubits have their decomposition checked numerically on registration
# (above 5 qubits on random vectors, qcomp.ir.equivalences.check: 0.3 s at 10 qubits); the language
# builds none wider (qcomp.frontend.lower.MAX_MODIFIED_QUBITS), deferred measurements may.
CHECKED_WIDTH = 10


def derived_gate(base: str, controls: str, power: float | None = None) -> str:
    """The name of ``base`` under ``power`` then ``controls``, registering the derived gate (and its
    decomposition when it has one) on first use."""
    name = derived_name(base, controls, power)
    if name in GATES:
        return name
    b = GATES[base]
    if power is not None and b.num_angles:
        raise ModifierError(f"'pow' with a non-integer exponent on the parametric gate '{base}' is not supported")
    n = b.num_qubits
    extra = 2 ** (n + len(controls)) - 2 ** n
    if power is None:
        def matrix_fn(*angles, _b=b, _c=controls):
            return _embed(_b.matrix_fn(*angles), _c)
    else:
        fixed = _embed(_principal_power(np.asarray(b.matrix(), dtype=complex), power), controls)
        fixed.setflags(write=False)

        def matrix_fn(_m=fixed):
            return _m
    inverse_fn = None
    self_inv = power is None and b.self_inverse
    if not self_inv and not b.rotation:
        if power is not None:
            def inverse_fn(angles, _b=base, _c=controls, _k=power):
                return [(derived_gate(_b, _c, -_k), ())]
        else:
            def inverse_fn(angles, _b=base, _c=controls):
                return [(derived_gate(_plain(g), _c), a) for g, a in gate_inverse(_b, angles)]
    same = len(controls) > 1 and controls[0] == controls[1]  # the first two controls may be swapped
    labels = tuple("●" if x == "c" else "○" for x in controls)
    target = b.labels if b.labels else ((base,) if n == 1 else tuple(f"{base}#{i}" for i in range(n)))
    if power is not None:
        target = tuple(t if t in ("●", "○", "×") else f"{t}^{power:g}" for t in target)
    g = GateDef(
        name, n + len(controls), b.num_angles, matrix_fn, diagonal=b.diagonal, self_inverse=self_inv,
        rotation=b.rotation and power is None, inverse_fn=inverse_fn,
        spectra=tuple(tuple(s) + (0.0,) * extra for s in b.spectra) if power is None else (),
        symmetric=(0, 1) if same else (), labels=labels + tuple(target),
        base=base, controls=controls, power=power,
    )
    register_gate(g)
    if power is None or n == 1:
        # Gates wider than CHECKED_WIDTH (deferred measurements can make them: one control per bit
        # a condition reads) use the same ``decompose`` that the check covers at every narrower width.
        register_equivalence(Equivalence(name, lambda a, _b=base, _c=controls, _k=power: decompose(_b, a, _c, _k)),
                             verify=n + len(controls) <= CHECKED_WIDTH)
    return name


def _plain(name: str) -> str:
    # the inverse rules of the library give plain (uncontrolled) gates for plain gates
    assert split(name) == (name, "", None), name
    return name


# -- decompositions into cx and library gates (basis translation, OpenQASM 2 definitions) ----------------

def _zyz(m: np.ndarray) -> tuple[float, float, float, float]:
    """(alpha, theta, phi, lambda) with m = exp(i alpha) u(theta, phi, lambda) (u = p(phi) ry(theta) p(lambda))."""
    det = np.linalg.det(m)
    alpha = cmath.phase(det) / 2
    su = m * cmath.exp(-1j * alpha)  # det 1: [[a, -conj(b)], [b, conj(a)]]
    a, b = su[0, 0], su[1, 0]
    theta = 2 * math.atan2(abs(b), abs(a))
    # su = exp(-i (phi + lam)/2) u(theta, phi, lam): a = e^{-i(phi+lam)/2} cos, b = e^{i(phi-lam)/2} sin
    s = -2 * cmath.phase(a) if abs(a) > 1e-12 else 0.0
    d = 2 * cmath.phase(b) if abs(b) > 1e-12 else 0.0
    phi, lam = (s + d) / 2, (s - d) / 2
    return alpha - (phi + lam) / 2, theta, phi, lam


def _mcx(ctl: Sequence[int], tgt: int) -> Seq:
    """X on ``tgt`` controlled by all of ``ctl`` (library gates up to four controls)."""
    if not ctl:
        return [("x", (), (tgt,))]
    name = _CONTROLLED_NAME.get(("x", "c" * len(ctl)))
    if name is not None:
        return [(name, (), tuple(ctl) + (tgt,))]
    # X = exp(i pi/2) rx(pi)
    return _mc_rotation("rx", E.Const(math.pi), ctl, tgt) + _mc_phase(E.Const(math.pi / 2), ctl)


def _zero(t: E.Expr) -> bool:
    return t.is_constant and abs(t.value()) < 1e-15


def _mc_phase(t: E.Expr, ctl: Sequence[int]) -> Seq:
    """exp(i t) when every qubit of ``ctl`` is |1> (a global phase when ``ctl`` is empty)."""
    if not ctl or _zero(t):
        return []
    return _mc_rotation("p", t, ctl[:-1], ctl[-1])


def _mc_rotation(r: str, t: E.Expr, ctl: Sequence[int], tgt: int) -> Seq:
    """Rotation ``r(t)`` on ``tgt`` controlled by all of ``ctl`` (Barenco et al. lemma 7.9 with V = r(t/2))."""
    if _zero(t):
        return []
    if not ctl:
        return [(r, (t,), (tgt,))]
    if len(ctl) == 1:
        return [(_CONTROLLED_NAME[(r, "c")], (t,), (ctl[0], tgt))]
    half = E.mul(E.Const(0.5), t)
    last, rest = ctl[-1], list(ctl[:-1])
    return ([(_CONTROLLED_NAME[(r, "c")], (half,), (last, tgt))] + _mcx(rest, last)
            + [(_CONTROLLED_NAME[(r, "c")], (E.neg(half),), (last, tgt))] + _mcx(rest, last)
            + _mc_rotation(r, half, rest, tgt))


def _mc_one_qubit(name: str, angles: tuple[E.Expr, ...], ctl: Sequence[int], tgt: int) -> Seq:
    if name in _ONE_Q_ROTATIONS:
        return _mc_rotation(name, angles[0], ctl, tgt)
    if name == "x":
        return _mcx(ctl, tgt)
    lib = _CONTROLLED_NAME.get((name, "c" * len(ctl)))
    if lib is not None:
        return [(lib, angles, tuple(ctl) + (tgt,))]
    if name == "u":  # u(theta, phi, lam) = p(phi) ry(theta) p(lam) exactly
        theta, phi, lam = angles
        return _mc_rotation("p", lam, ctl, tgt) + _mc_rotation("ry", theta, ctl, tgt) + _mc_rotation("p", phi, ctl, tgt)
    g = GATES[name]
    if g.num_angles:
        raise ModifierError(f"no decomposition of the controlled parametric gate '{name}'")
    alpha, theta, phi, lam = _zyz(np.asarray(g.matrix(), dtype=complex))
    return _mc_one_qubit("u", (E.Const(theta), E.Const(phi), E.Const(lam)), ctl, tgt) + _mc_phase(E.Const(alpha), ctl)


def decompose(base: str, angles: Sequence[E.Expr], controls: str, power: float | None) -> Seq:
    """``base`` under ``power`` then ``controls`` as cx, one-qubit and controlled library gates
    (exact, phase included), on qubits 0.. (controls first)."""
    c = len(controls)
    angles = tuple(angles)
    if not c and power is None:
        return [(base, angles, tuple(range(GATES[base].num_qubits)))]
    neg = [i for i, x in enumerate(controls) if x == "n"]
    flips: Seq = [("x", (), (i,)) for i in neg]
    ctl = list(range(c))
    g = GATES[base]
    if power is not None:
        if g.num_qubits != 1:
            raise ModifierError(f"no decomposition of a power of the {g.num_qubits}-qubit gate '{base}'")
        m = _principal_power(np.asarray(g.matrix(), dtype=complex), power)
        alpha, theta, phi, lam = _zyz(m)
        body = _mc_one_qubit("u", (E.Const(theta), E.Const(phi), E.Const(lam)), ctl, c) + _mc_phase(E.Const(alpha), ctl)
    elif g.num_qubits == 1:
        body = _mc_one_qubit(base, angles, ctl, c)
    else:
        eq = EQUIVALENCES.get(base)
        lib = _CONTROLLED_NAME.get((base, "c" * c))
        if lib is not None:
            body = [(lib, angles, tuple(range(c + g.num_qubits)))]
        elif eq is None:
            raise ModifierError(f"no decomposition of the controlled gate '{base}'")
        else:  # control every gate of its equivalence: C(AB) = C(A) C(B), the entry's phase on the controls
            body = []
            for name, a, qs in eq.expand(angles):
                b, k, p = split(name)
                inner = decompose(b, a, "c" * c + k, p)
                where = ctl + [c + q for q in qs]
                body += [(n2, a2, tuple(where[i] for i in q2)) for n2, a2, q2 in inner]
            body += _mc_phase(E.Const(eq.phase), ctl)
    return flips + body + flips


# -- applying modifiers to a gate sequence -------------------------------------------------------------------

def _invert(seq: Seq) -> Seq:
    out: Seq = []
    for name, angles, qs in reversed(seq):
        if name == GPHASE:
            out.append((GPHASE, (E.neg(angles[0]),), ()))
            continue
        out.extend((n, a, qs) for n, a in gate_inverse(name, angles))
    return out


def _seq_matrix(seq: Seq, k: int) -> np.ndarray:
    from .unitary import gates_unitary

    phase = sum(a[0].value() for n, a, _ in seq if n == GPHASE)
    gates = [(n, tuple(x.value() for x in a), qs) for n, a, qs in seq if n != GPHASE]
    return cmath.exp(1j * phase) * gates_unitary(gates, k)


def _power(seq: Seq, k: float, nq: int) -> Seq:
    if float(k).is_integer():
        k = int(k)
        base = seq if k >= 0 else _invert(seq)
        return [g for _ in range(abs(k)) for g in base]
    gates = [g for g in seq if g[0] != GPHASE]
    phases = [g for g in seq if g[0] == GPHASE]
    scaled = [(GPHASE, (E.mul(E.Const(k), a[0]),), ()) for _, a, _ in phases]
    if len(gates) == 1 and GATES[gates[0][0]].rotation:
        name, (t,), qs = gates[0]
        return [(name, (E.mul(E.Const(k), t),), qs)] + scaled
    if not all(x.is_constant for _, a, _ in seq for x in a):
        raise ModifierError("'pow' with a non-integer exponent needs a rotation or constant angles")
    if nq == 1:
        m = _principal_power(_seq_matrix(seq, 1), k)
        alpha, theta, phi, lam = _zyz(m)
        return [("u", (E.Const(theta), E.Const(phi), E.Const(lam)), (0,))] + _phase(alpha)
    if len(gates) == 1 and gates[0][2] == tuple(range(nq)):
        b, pat, p = split(gates[0][0])
        if p is None:
            if pat and GATES[b].num_qubits == 1:  # C(U)^k = C(U^k): a one-qubit power, controlled
                sub = _power([(b, gates[0][1], (0,))], k, 1)
                return _control(sub, pat, 1) + scaled
            return [(derived_gate(b, pat, k), (), gates[0][2])] + scaled
    raise ModifierError("'pow' with a non-integer exponent on a gate of several operations is not supported")


def _phase(alpha: float) -> Seq:
    return [(GPHASE, (E.Const(alpha),), ())] if abs(alpha) > 1e-15 else []


def _control(seq: Seq, pattern: str, nq: int) -> Seq:
    """``seq`` on qubits 0..nq-1 controlled by len(pattern) new qubits placed first."""
    c = len(pattern)
    out: Seq = []
    for name, angles, qs in seq:
        if name == GPHASE:
            # exp(i t) when the controls match: a phase on the controls
            if _zero(angles[0]):
                continue
            if c == 1 and pattern == "c":
                out.append(("p", angles, (0,)))
            else:
                last = pattern[-1]
                rest = pattern[:-1]
                flip = [("x", (), (c - 1,))] if last == "n" else []
                core = (derived_gate("p", rest), angles, tuple(range(c))) if rest else ("p", angles, (c - 1,))
                out += flip + [core] + flip
            continue
        b, pat, p = split(name)
        out.append((derived_gate(b, pattern + pat, p), angles, tuple(range(c)) + tuple(q + c for q in qs)))
    return out


def apply_modifiers(modifiers: Sequence[Modifier], seq: Seq, num_qubits: int) -> tuple[Seq, int]:
    """``seq`` (a gate's operations on qubits 0..num_qubits-1, GPHASE entries included) under
    ``modifiers`` as written (outermost first). Returns the new sequence and its qubit count:
    control qubits come first, in the order the modifiers name them."""
    nq = num_qubits
    for kind, arg in reversed(modifiers):
        if kind == "inv":
            seq = _invert(seq)
        elif kind == "pow":
            seq = _power(seq, float(arg), nq)
        elif kind in ("ctrl", "negctrl"):
            n = int(arg)
            seq = _control(seq, ("c" if kind == "ctrl" else "n") * n, nq)
            nq += n
        else:
            raise ModifierError(f"unknown modifier '{kind}'")
    return seq, nq
