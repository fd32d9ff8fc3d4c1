"""basis-translation: rewrite every gate into a hardware basis (default rz, sx, x, cx), exact up to global phase."""

from __future__ import annotations

import cmath
import functools
import math
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from qcomp.errors import PassError
from qcomp.ir.equivalences import EQUIVALENCES
from qcomp.ir.expr import Const, Expr
from qcomp.ir.gates import GATES, on_change
from qcomp.ir.ops import Operation
from qcomp.ir.circuit import Circuit
from qcomp.ir.program import Program

from .base import Pass
from .commutation import TWO_PI, angle_sum, rem

PI = math.pi
HALF_PI = math.pi / 2
_TOL = 1e-9

# Single-qubit families: which gates a basis needs to express any single-qubit unitary.
FAMILIES = {
    "zsx": ("rz", "sx"),  # rz sx rz sx rz (x used for pi rotations when in the basis)
    "zyz": ("rz", "ry"),
    "zxz": ("rz", "rx"),
    "u": ("u",),
}
SUPPORTED_EXAMPLES = ("rz,sx,x,cx", "rz,sx,x,cz", "rz,ry,cx", "rx,ry,rz,cx", "u,cx", "rx,rz,cz", "u,cz")

Mat = tuple[complex, complex, complex, complex]  # row-major 2x2


def parse_basis(basis: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(basis, str):
        basis = [b for b in re.split(r"[\s,;:]+", basis) if b]
    return tuple(basis)


@dataclass(frozen=True)
class BasisTranslation(Pass):
    """Translate to a hardware basis (default rz,sx,x,cx; also rz,ry,cx / u,cx / rx,rz,cz ...), resynthesising 1-qubit runs."""

    name = "basis-translation"
    basis: tuple[str, ...] = ("rz", "sx", "x", "cx")

    def __post_init__(self) -> None:
        basis = parse_basis(self.basis)
        object.__setattr__(self, "basis", basis)
        _plan(basis)  # validate early: a bad basis is a user error

    def run(self, program: Program) -> Program:
        plan = _plan(self.basis)
        ops = translate_ops(program.circuit.ops(), plan)
        return program.with_circuit(Circuit.from_ops(program.num_qubits, ops, checked=True))


@dataclass(frozen=True)
class _Plan:
    basis: frozenset[str]
    family: str
    entangler: str


@functools.lru_cache(maxsize=64)
def _plan(basis: tuple[str, ...]) -> _Plan:
    unknown = [b for b in basis if b not in GATES]
    if unknown:
        raise PassError(
            f"basis-translation: unknown gate(s) {', '.join(unknown)} in basis; gates: {', '.join(sorted(GATES))}"
        )
    bs = frozenset(basis)
    family = next((f for f, need in FAMILIES.items() if set(need) <= bs), None)
    entangler = "cx" if "cx" in bs else "cz" if "cz" in bs else None
    if family is None or entangler is None:
        raise PassError(
            f"basis-translation: unsupported basis '{','.join(basis)}': it needs cx or cz plus one of "
            f"rz+sx, rz+ry, rz+rx or u; supported examples: {'; '.join(SUPPORTED_EXAMPLES)}"
        )
    return _Plan(bs, family, entangler)


# -- stage 1: multi-qubit gates to cx + single-qubit gates --------------------------------


def decompose(op: Operation) -> list[Operation]:
    """``op`` as cx plus single-qubit library gates, from the equivalence table (exact, phase included)."""
    n, q = op.name, op.qubits
    if len(q) == 1 or n == "cx":
        return [op]
    if n == "unitary":
        raise PassError(
            f"basis-translation cannot decompose a fused {len(q)}-qubit 'unitary' block; "
            "fusion passes are for the simulator target"
        )
    eq = EQUIVALENCES.get(n)
    if eq is None:
        raise PassError(f"basis-translation: gate {n} has no entry in the equivalence table (qcomp.ir.equivalences)")
    out: list[Operation] = []
    for name, angles, local in eq.expand(op.angles):
        part = Operation(name, tuple(q[i] for i in local), angles)
        if len(local) == 1 or name == "cx":
            out.append(part)
        else:
            out.extend(decompose(part))
    return out


# -- stage 2: single-qubit runs ----------------------------------------------------------

_FIXED: dict[str, Mat] = {}


def _m(name: str, *angles: float) -> Mat:
    m = GATES[name].matrix(*angles)
    return (complex(m[0, 0]), complex(m[0, 1]), complex(m[1, 0]), complex(m[1, 1]))


def _mul(a: Mat, b: Mat) -> Mat:
    """a @ b."""
    return (
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
    )


def _rz(t: float) -> Mat:
    e = cmath.exp(-0.5j * t)
    return (e, 0j, 0j, e.conjugate())


def const_matrix(op: Operation) -> Mat:
    """The 2x2 matrix of a single-qubit op with constant angles."""
    if op.matrix is not None:
        (a, b), (c, d) = op.matrix
        return (a, b, c, d)
    name = op.name
    if not op.angles:
        m = _FIXED.get(name)
        if m is None:
            m = _FIXED[name] = _m(name)
        return m
    v = [a.value() for a in op.angles]
    if not all(math.isfinite(x) for x in v):
        raise PassError(f"basis-translation: gate {op.name} on qubit {op.qubits[0]} has a non-finite angle {v}")
    if name == "rz":
        return _rz(v[0])
    if name == "p":
        return (1 + 0j, 0j, 0j, cmath.exp(1j * v[0]))
    if name in ("rx", "ry"):
        c, s = math.cos(v[0] / 2), math.sin(v[0] / 2)
        return (complex(c), -1j * s, -1j * s, complex(c)) if name == "rx" else (complex(c), complex(-s), complex(s), complex(c))
    return _m(name, *v)


def zyz(m: Mat) -> tuple[float, float, float]:
    """(a, b, c) with m = phase * rz(a) ry(b) rz(c), b in [0, pi]."""
    det = m[0] * m[3] - m[1] * m[2]
    r = cmath.sqrt(det)
    m00, m10 = m[0] / r, m[2] / r  # now m = +-[[e^{-i(a+c)/2} cos, .], [e^{i(a-c)/2} sin, .]]
    b = 2.0 * math.atan2(abs(m10), abs(m00))
    hs = -cmath.phase(m00) if abs(m00) > _TOL else 0.0  # (a + c) / 2
    hd = cmath.phase(m10) if abs(m10) > _TOL else 0.0  # (a - c) / 2
    return hs + hd, b, hs - hd


_EIGHTHS = {k: k * PI / 8 for k in range(-8, 9)}
# one shared Const per multiple of pi/8 (_norm snaps to these): 40% of the angles a translation
# writes, mostly pi/2, need no object of their own
_SNAPPED = {v: Const(v) for v in _EIGHTHS.values()}


def _const(v: float) -> Const:
    c = _SNAPPED.get(v)
    return Const(v) if c is None else c


def _norm(v: float) -> float:
    """Angle in [-pi, pi]; multiples of pi/8 snapped to their exact value (prints as k * pi / 8)."""
    v = rem(v, 2 * PI)
    if not math.isfinite(v):
        return v
    k = round(v * 8 / PI)
    if abs(v - _EIGHTHS[k]) < 1e-12:
        return _EIGHTHS[k]
    return v


# Tokens of a synthesised run: ("z", Expr) merge by adding; ("g", Operation-template) are fixed.


def _const_tokens(m: Mat, plan: _Plan) -> list[tuple]:
    """Family form of a constant 2x2 unitary: z-slot, middle gates, z-slot (time order)."""
    a, b, c = zyz(m)
    fam = plan.family
    if b < _TOL:
        return [("z", Const(_norm(a + c)))]
    if fam in ("zyz", "u"):
        if abs(b - PI) < _TOL:
            a, c = a - c, 0.0
        mid = ("g", "ry", b) if fam == "zyz" else ("U", Const(b))
        return [("z", Const(_norm(c))), mid, ("z", Const(_norm(a)))]
    # ZXZ: rz(a) ry(b) rz(c) = rz(a + pi/2) rx(b) rz(c - pi/2)
    A, C = a + HALF_PI, c - HALF_PI
    if abs(b - PI) < _TOL:
        A, C = A - C, 0.0
    if fam == "zxz":
        return [("z", Const(_norm(C))), ("g", "rx", b), ("z", Const(_norm(A)))]
    # zsx: rx(pi/2) = sx, rx(pi) = x (up to phase); otherwise
    # rx(b) = rz(pi/2) sx rz(b + pi) sx rz(pi/2) (symmetric, so matrix and time order agree)
    if abs(b - HALF_PI) < _TOL:
        mid = [("g", "sx", None)]
    elif abs(b - PI) < _TOL:
        mid = [("g", "x", None)] if "x" in plan.basis else [("g", "sx", None), ("g", "sx", None)]
    else:
        mid = [("g", "sx", None), ("z", Const(_norm(b + PI))), ("g", "sx", None)]
        A, C = A + HALF_PI, C + HALF_PI
    return [("z", Const(_norm(C)))] + mid + [("z", Const(_norm(A)))]


_H: Mat = (complex(1 / math.sqrt(2)), complex(1 / math.sqrt(2)), complex(1 / math.sqrt(2)), complex(-1 / math.sqrt(2)))
_RXP: Mat = (complex(math.cos(PI / 4)), -1j * math.sin(PI / 4), -1j * math.sin(PI / 4), complex(math.cos(PI / 4)))
_RXM: Mat = (_RXP[0], -_RXP[1], -_RXP[2], _RXP[3])
_SP, _SM = _rz(HALF_PI), _rz(-HALF_PI)


def _symbolic_items(op: Operation, plan: _Plan) -> list[tuple]:
    """A single-qubit op with symbolic angles as constant matrices ("m") and native rotations."""
    name, fam = op.name, plan.family
    if name == "u":
        theta, phi, lam = op.angles
        items = [("z", lam)]
        items += [("m", const_matrix(Operation("ry", op.qubits, (theta,))))] if theta.is_constant else _axis("y", theta, fam)
        return items + [("z", phi)]
    if name in ("rz", "p"):
        return [("z", op.angles[0])]
    return _axis(name[1], op.angles[0], fam)


def _axis(axis: str, e: Expr, fam: str) -> list[tuple]:
    if axis == "y":
        if fam == "zyz":
            return [("g", "ry", e)]
        if fam == "u":
            return [("U", e)]
        if fam == "zxz":  # ry(e) = rz(pi/2) rx(e) rz(-pi/2)
            return [("z", Const(-HALF_PI)), ("g", "rx", e), ("z", Const(HALF_PI))]
        return [("m", _RXP), ("z", e), ("m", _RXM)]  # ry(e) = rx(-pi/2) rz(e) rx(pi/2)
    # axis x
    if fam == "zxz":
        return [("g", "rx", e)]
    if fam in ("zyz", "u"):  # rx(e) = rz(-pi/2) ry(e) rz(pi/2)
        return [("z", Const(HALF_PI))] + _axis("y", e, fam) + [("z", Const(-HALF_PI))]
    return [("m", _H), ("z", e), ("m", _H)]


_MIDDLE = {"zsx": ("sx", "x"), "zyz": ("ry",), "zxz": ("rx",), "u": ("u",)}


def _is_minimal(run: list[Operation], plan: _Plan) -> bool:
    """The run is already in the basis and as short as synthesis could make it: at most one
    non-rz gate with at most one rz on each side (x with rz on both sides folds to rz x), or the
    canonical rz sx rz sx rz form. One pass over the run: this is asked for every run."""
    n = len(run)
    if n == 1:
        op = run[0]
        if op.name not in plan.basis or op.name == "id":
            return False
        if op.name == "u" or not op.angles:
            return True
        a = op.angles[0]
        if not isinstance(a, Const):
            return True
        v = rem(a.val, 2 * PI)
        return v == v and abs(v) >= _TOL  # nan (from inf too) goes to synthesis, which reports it
    if n > 3:
        return plan.family == "zsx" and n <= 5 and _canonical_zsx(run, [op.name for op in run])
    basis = plan.basis
    mid = -1
    for i, op in enumerate(run):
        name = op.name
        if name not in basis:
            return False
        if name != "rz":
            if mid >= 0:  # two non-rz gates: only the canonical zsx form is minimal
                return plan.family == "zsx" and n == 3 and _canonical_zsx(run, [o.name for o in run])
            mid = i
        if op.angles and name != "u":
            for a in op.angles:
                if isinstance(a, Const) and abs(rem(a.val, 2 * PI)) < _TOL:
                    return False
    if mid < 0:
        return False  # several rz merge into one
    name = run[mid].name
    if name not in _MIDDLE[plan.family] or mid > 1 or n - mid > 2:
        return False
    return not (name == "x" and n == 3)


_MARGIN = 2 * _TOL  # wider than synthesis' own tolerance: borderline runs take the full path


def _canonical_zsx(run: list[Operation], names: list[str]) -> bool:
    """[rz(c)] sx rz(z) sx [rz(a)] as _zsx_ops writes it for a general unitary: z = b + pi - 2 pi
    with b in (0, pi) apart from pi/2, outer angles nonzero. Its ZYZ form is unique (b is not 0 or
    pi), so resynthesis gives the same gates: the common case after a first translation."""
    i = 1 if names[0] == "rz" else 0
    j = len(names) - 1 if names[-1] == "rz" and len(names) - i > 3 else len(names)
    if j - i != 3 or names[i] != "sx" or names[i + 1] != "rz" or names[i + 2] != "sx":
        return False
    for op in run:
        if op.name == "rz":
            a = op.angles[0]
            if type(a) is not Const or not abs(rem(a.val, 2 * PI)) >= _MARGIN:
                return False
    z = run[i + 1].angles[0].val
    return -PI + _MARGIN < z < -_MARGIN and abs(z + HALF_PI) > _MARGIN


_RUN_CACHE: dict[tuple, list[Operation]] = {}


def synthesize_run(run: list[Operation], plan: _Plan, batch: list | None = None) -> list[Operation] | None:
    """A run of single-qubit ops on one wire as basis gates, constants multiplied together.

    With ``batch`` (a list), a general constant run of the rz+sx family is appended to it and None
    returned: the caller synthesises those together with ``synthesize_batch``."""
    if _is_minimal(run, plan):
        return run
    q = run[0].qubits
    if len(run) == 1 and run[0].matrix is None:
        op = run[0]
        if not op.angles:  # single fixed gates repeat (h, s, t, ...): synthesise each placement once
            key = (plan, op.name, q)
            out = _RUN_CACHE.get(key)
            if out is None:
                if len(_RUN_CACHE) > 50_000:
                    _RUN_CACHE.clear()
                out = _RUN_CACHE[key] = _synthesize(run, q, plan)
            return out  # shared, never mutated: callers extend their own lists with it
        if op.name in ("rz", "p") and "rz" in plan.basis and type(op.angles[0]) is Const:
            v = op.angles[0].val  # p(v) = rz(v) up to a global phase
            if math.isfinite(v):
                z = _norm(v)
                return [Operation("rz", q, (_const(z),))] if abs(z) >= _TOL else []
    if batch is not None and plan.family == "zsx" and all(
        type(a) is Const for op in run for a in op.angles
    ):
        batch.append(run)
        return None
    return _synthesize(run, q, plan)


def _zsx_ops(m: Mat, q: tuple[int, ...], plan: _Plan) -> list[Operation]:
    """_emit(_const_tokens(m)) for the rz+sx family without the token machinery (the hot case)."""
    a, b, c = zyz(m)
    if b < _TOL:
        return _zsx_emit(q, 0, _norm(a + c), 0.0, 0.0, plan)
    A, C = a + HALF_PI, c - HALF_PI
    if abs(b - HALF_PI) < _TOL:
        form, z = 1, 0.0
    elif abs(b - PI) < _TOL:
        form, z = 2, 0.0
        A, C = A - C, 0.0
    else:
        form, z = 3, _norm(b + PI)
        A, C = A + HALF_PI, C + HALF_PI
    return _zsx_emit(q, form, z, _norm(A), _norm(C), plan)


def _zsx_emit(q: tuple[int, ...], form: int, z: float, A: float, C: float, plan: _Plan) -> list[Operation]:
    """Gates of a ZSX form (angles normalised): 0 rz(z); 1 rz(C) sx rz(A); 2 rz(C) x rz(A);
    3 rz(C) sx rz(z) sx rz(A); rotations by (about) zero left out."""
    if form == 0:
        return [Operation("rz", q, (_const(z),))] if abs(z) >= _TOL else []
    sx = _fixed_op("sx", q)
    if form == 1:
        res = [sx]
    elif form == 2:
        res = [_fixed_op("x", q)] if "x" in plan.basis else [sx, sx]
    elif abs(z) >= _TOL:
        res = [sx, Operation("rz", q, (_const(z),)), sx]
    else:
        res = [sx, sx]
    if abs(C) >= _TOL:
        res.insert(0, Operation("rz", q, (_const(C),)))
    if abs(A) >= _TOL:
        res.append(Operation("rz", q, (_const(A),)))
    return res


def _const_product(run: list[Operation]) -> Mat | None:
    """The run's matrix when every op is constant (later ops multiply on the left), else None.
    Fixed gates come from a table and rz/p are row scalings: this is asked for every run."""
    m0, m1, m2, m3 = 1 + 0j, 0j, 0j, 1 + 0j
    fixed = _FIXED
    for op in run:
        name = op.name
        angles = op.angles
        if not angles and op.matrix is None:
            if name == "id":
                continue
            g = fixed.get(name)
            if g is None:
                g = const_matrix(op)
        elif name == "rz" and type(angles[0]) is Const and math.isfinite(angles[0].val):
            e = cmath.exp(-0.5j * angles[0].val)
            f = e.conjugate()
            m0, m1, m2, m3 = e * m0, e * m1, f * m2, f * m3
            continue
        elif name == "p" and type(angles[0]) is Const and math.isfinite(angles[0].val):
            e = cmath.exp(1j * angles[0].val)
            m2, m3 = e * m2, e * m3
            continue
        else:
            for a in angles:
                if not a.is_constant:
                    return None
            g = const_matrix(op)
        g0, g1, g2, g3 = g
        m0, m1, m2, m3 = g0 * m0 + g1 * m2, g0 * m1 + g1 * m3, g2 * m0 + g3 * m2, g2 * m1 + g3 * m3
    return m0, m1, m2, m3


def _synthesize(run: list[Operation], q: tuple[int, ...], plan: _Plan) -> list[Operation]:
    if plan.family == "zsx":
        m = _const_product(run)
        if m is not None:
            out = _zsx_ops(m, q, plan)
            if len(run) <= len(out) and all(op.name in plan.basis for op in run):
                return list(run)  # already in the basis and no longer: keep as written
            return out
    items: list[tuple] = []
    for op in run:
        if op.name == "id":
            continue
        if all(a.is_constant for a in op.angles):
            m = const_matrix(op)
            if items and items[-1][0] == "m":
                items[-1] = ("m", _mul(m, items[-1][1]))
            else:
                items.append(("m", m))
        else:
            for it in _symbolic_items(op, plan):
                if it[0] == "m" and items and items[-1][0] == "m":
                    items[-1] = ("m", _mul(it[1], items[-1][1]))
                else:
                    items.append(it)
    tokens: list[tuple] = []
    for it in items:
        toks = _const_tokens(it[1], plan) if it[0] == "m" else [it]
        for t in toks:
            if t[0] == "z" and tokens and tokens[-1][0] == "z":
                tokens[-1] = ("z", angle_sum(tokens[-1][1], t[1]))
            elif t[0] == "g" and t[1] in ("rx", "ry") and tokens and tokens[-1][:2] == t[:2]:
                tokens[-1] = ("g", t[1], angle_sum(_ex(tokens[-1][2]), _ex(t[2])))
            else:
                tokens.append(t)
    out = _emit(tokens, q, plan)
    if all(op.name in plan.basis for op in run) and len(run) <= len(out):
        return list(run)  # already in the basis and no longer: keep as written
    return out


def _ex(v) -> Expr:
    return v if isinstance(v, Expr) else Const(float(v))


def _zero(e: Expr, period: float = 2 * PI) -> bool:
    return isinstance(e, Const) and abs(rem(e.val, period)) < _TOL


def _emit(tokens: list[tuple], q: tuple[int, ...], plan: _Plan) -> list[Operation]:
    out: list[Operation] = []
    if plan.family == "u":
        # fold z-slots into the neighbouring u: rz(phi) ry(theta) rz(lambda) = u(theta, phi, lambda)
        i = 0
        res: list[tuple] = []
        while i < len(tokens):
            t = tokens[i]
            if t[0] == "U":
                lam = res.pop()[1] if res and res[-1][0] == "z" else Const(0.0)
                phi = Const(0.0)
                if i + 1 < len(tokens) and tokens[i + 1][0] == "z":
                    phi = tokens[i + 1][1]
                    i += 1
                res.append(("u", t[1], phi, lam))
            else:
                res.append(t)
            i += 1
        for t in res:
            if t[0] == "u":
                out.append(Operation("u", q, (_fold(t[1]), _fold(t[2]), _fold(t[3]))))
            elif t[0] == "z" and not _zero(t[1]):
                z = _fold(t[1])
                if "rz" in plan.basis:
                    out.append(Operation("rz", q, (z,)))
                elif "p" in plan.basis:
                    out.append(Operation("p", q, (z,)))
                else:
                    out.append(Operation("u", q, (Const(0.0), Const(0.0), z)))
        return out
    for t in tokens:
        if t[0] == "z":
            if not _zero(t[1]):
                out.append(Operation("rz", q, (_fold(t[1]),)))
        elif t[2] is None:
            out.append(Operation(t[1], q))
        else:
            e = _ex(t[2])
            if not _zero(e):
                out.append(Operation(t[1], q, (_fold(e),)))
    return out


def _fold(e: Expr) -> Expr:
    return Const(_norm(e.val)) if isinstance(e, Const) else e


_FIXED_OPS: dict[tuple[str, tuple[int, ...]], Operation] = {}


def _fixed_op(name: str, q: tuple[int, ...]) -> Operation:
    """One shared object per angle-less gate placement (operations are immutable)."""
    op = _FIXED_OPS.get((name, q))
    if op is None:
        if len(_FIXED_OPS) > 50_000:
            _FIXED_OPS.clear()
        op = _FIXED_OPS[(name, q)] = Operation(name, q)
    return op


_BATCH_MIN = 48  # fewer runs than this: numpy's per-call overhead outweighs batching
_KIND = {"rz": 1, "p": 2, "rx": 3, "ry": 4}  # angle gates the batch evaluates itself


def _norm_array(v: np.ndarray) -> np.ndarray:
    """_norm over an array: fmod is exact and so is the one correction (Sterbenz), like math.remainder."""
    r = np.fmod(v, TWO_PI)
    r = np.where(r > PI, r - TWO_PI, np.where(r < -PI, r + TWO_PI, r))
    e = np.rint(r * 8 / PI) * PI / 8  # multiples of pi/8 snap to their exact value, as in _norm
    return np.where(np.abs(r - e) < 1e-12, e, r)


def synthesize_batch(runs: list[list[Operation]], plan: _Plan) -> list[list[Operation]]:
    """``_synthesize`` of many constant runs (rz+sx family): the 2x2 products, ZYZ angles and their
    normalisation as array operations over all runs; only the output gates are built one by one.
    The same formulas as the scalar path; numpy's exp/angle/arctan2 may round the last bit of an
    angle differently from cmath's, which is far inside every tolerance the passes use."""
    if len(runs) < _BATCH_MIN:
        return [_synthesize(r, r[0].qubits, plan) for r in runs]
    table: list[Mat] = [(1 + 0j, 0j, 0j, 1 + 0j)]  # matrices of fixed gates and other ops, by index
    index: dict[str, int] = {"id": 0}
    kinds: list[int] = []
    vals: list[float] = []
    lengths: list[int] = []
    for run in runs:
        lengths.append(len(run))
        for op in run:
            k = _KIND.get(op.name, 0) if op.matrix is None else 0
            if k:
                kinds.append(k)
                vals.append(op.angles[0].val)
                continue
            kinds.append(0)
            if not op.angles and op.matrix is None:
                i = index.get(op.name)
                if i is None:
                    i = index[op.name] = len(table)
                    table.append(const_matrix(op))
                vals.append(i)
            else:  # u or a fused matrix: evaluated here (const_matrix reports non-finite angles)
                vals.append(len(table))
                table.append(const_matrix(op))
    kind = np.array(kinds, dtype=np.int8)
    val = np.array(vals, dtype=float)
    if not np.isfinite(val).all():  # the scalar path names the gate with the bad angle
        return [_synthesize(r, r[0].qubits, plan) for r in runs]
    g = np.empty((len(kinds), 4), dtype=complex)
    m = kind == 0
    g[m] = np.array(table, dtype=complex)[val[m].astype(np.intp)]
    for k, fill in ((1, "rz"), (2, "p"), (3, "rx"), (4, "ry")):
        m = kind == k
        if not m.any():
            continue
        t = val[m]
        if fill == "rz":
            e = np.exp(-0.5j * t)
            g[m] = np.stack([e, 0 * e, 0 * e, e.conj()], axis=1)
        elif fill == "p":
            e = np.exp(1j * t)
            g[m] = np.stack([np.ones_like(e), 0 * e, 0 * e, e], axis=1)
        else:
            c, sn = np.cos(t / 2), np.sin(t / 2)
            if fill == "rx":
                g[m] = np.stack([c + 0j, -1j * sn, -1j * sn, c + 0j], axis=1)
            else:
                g[m] = np.stack([c + 0j, -sn + 0j, sn + 0j, c + 0j], axis=1)
    length = np.array(lengths, dtype=np.intp)
    start = np.concatenate(([0], np.cumsum(length)[:-1]))
    m0 = np.ones(len(runs), dtype=complex)
    m1 = np.zeros(len(runs), dtype=complex)
    m2 = np.zeros(len(runs), dtype=complex)
    m3 = np.ones(len(runs), dtype=complex)
    for k in range(int(length.max())):  # later gates multiply on the left, position by position
        rr = np.nonzero(length > k)[0]
        gk = g[start[rr] + k]
        a0, a1, a2, a3 = m0[rr], m1[rr], m2[rr], m3[rr]
        g0, g1, g2, g3 = gk[:, 0], gk[:, 1], gk[:, 2], gk[:, 3]
        m0[rr], m1[rr] = g0 * a0 + g1 * a2, g0 * a1 + g1 * a3
        m2[rr], m3[rr] = g2 * a0 + g3 * a2, g2 * a1 + g3 * a3
    # zyz(), vectorised
    r = np.sqrt(m0 * m3 - m1 * m2)
    u00, u10 = m0 / r, m2 / r
    b = 2.0 * np.arctan2(np.abs(u10), np.abs(u00))
    hs = np.where(np.abs(u00) > _TOL, -np.angle(u00), 0.0)
    hd = np.where(np.abs(u10) > _TOL, np.angle(u10), 0.0)
    a, c = hs + hd, hs - hd
    # _zsx_ops, vectorised: form 0 a z rotation, 1 sx in the middle, 2 x, 3 sx rz sx
    form = np.where(b < _TOL, 0, np.where(np.abs(b - HALF_PI) < _TOL, 1, np.where(np.abs(b - PI) < _TOL, 2, 3)))
    A, C = a + HALF_PI, c - HALF_PI
    A, C = np.where(form == 2, A - C, A), np.where(form == 2, 0.0, C)
    A, C = np.where(form == 3, A + HALF_PI, A), np.where(form == 3, C + HALF_PI, C)
    z = _norm_array(np.where(form == 0, a + c, b + PI))
    A, C = _norm_array(A), _norm_array(C)
    basis = plan.basis
    out: list[list[Operation]] = []
    for run, f, zv, Av, Cv in zip(runs, form.tolist(), z.tolist(), A.tolist(), C.tolist()):
        res = _zsx_emit(run[0].qubits, f, zv, Av, Cv, plan)
        if len(run) <= len(res) and all(op.name in basis for op in run):
            res = list(run)  # already in the basis and no longer: keep as written
        out.append(res)
    return out


_DECOMPOSED: dict[tuple[str, tuple[int, ...]], list[Operation]] = {}  # ops are immutable: shared safely
# (name, qubits) of a one-angle gate -> its decomposition as (op, factor): factor None for a gate
# that does not depend on the angle (shared), else the new angle is factor * angle
_TEMPLATES: dict[tuple[str, tuple[int, ...]], list[tuple[Operation, float | None]] | None] = {}


def _forget() -> None:
    """Drop everything cached per gate name: the gate and equivalence tables changed."""
    for cache in (_DECOMPOSED, _TEMPLATES, _RUN_CACHE, _FIXED, _FIXED_OPS):
        cache.clear()
    _plan.cache_clear()


on_change(_forget)


def _decompose_const(op: Operation) -> list[Operation]:
    """decompose() of a gate with one constant angle, from a per-placement template: the fixed gates
    (cx, h, rx(pi/2) ...) are shared and only the angle-dependent ones built. The factors are read
    off decompositions at angles 1 and 2 (every rule here is linear in the angle); factor * t is
    bit-identical to decompose()'s Const arithmetic (0.5 * t, -(0.5 * t), t)."""
    key = (op.name, op.qubits)
    tpl = _TEMPLATES.get(key, False)
    if tpl is False:
        one = decompose(op.with_angles((Const(1.0),)))
        two = decompose(op.with_angles((Const(2.0),)))
        tpl = []
        for o1, o2 in zip(one, two):
            if not o1.angles or o1.angles == o2.angles:
                tpl.append((o1, None))
            elif len(o1.angles) == 1 and o2.angles[0].val == 2 * o1.angles[0].val:
                tpl.append((o1, o1.angles[0].val))
            else:  # an equivalence not linear in the angle: no template, decompose each time
                tpl = None
                break
        if len(_TEMPLATES) > 50_000:
            _TEMPLATES.clear()
        _TEMPLATES[key] = tpl
    if tpl is None:
        return decompose(op)
    t = op.angles[0].val
    return [o if f is None else Operation(o.name, o.qubits, (Const(f * t),)) for o, f in tpl]


def translate_ops(ops: Sequence[Operation], plan: _Plan) -> list[Operation]:
    """All ops in the basis: multi-qubit gates decomposed, single-qubit runs resynthesised per wire."""
    out: list[Operation] = []
    pending: dict[int, list[Operation]] = {}

    # a lone fixed basis gate (sx, x after a first translation) is its own minimal run: no call
    keep1 = frozenset(n for n in plan.basis if n in GATES and GATES[n].num_qubits == 1
                      and not GATES[n].num_angles and n != "id")

    batch: list[list[Operation]] = []  # general constant runs, synthesised together at the end
    rz_ok = "rz" in plan.basis

    def emit(run: list[Operation]) -> None:
        if len(run) == 1:
            op = run[0]
            if op.matrix is None:
                if op.name in keep1:
                    out.append(op)
                    return
                if op.name == "rz" and rz_ok:  # a lone nonzero numeric rz (rzz's middle) is minimal
                    a = op.angles[0]
                    if type(a) is Const and abs(rem(a.val, 2 * PI)) >= _TOL:
                        out.append(op)
                        return
        res = synthesize_run(run, plan, batch)
        if res is None:
            out.append(None)  # type: ignore[arg-type]  # the batch's slot
        else:
            out.extend(res)

    def flush(q: int) -> None:
        run = pending.pop(q, None)
        if run:
            emit(run)

    basis = plan.basis
    pop = pending.pop
    for op in ops:
        qs = op.qubits
        if len(qs) == 1:
            run = pending.get(qs[0])
            if run is None:
                pending[qs[0]] = [op]
            else:
                run.append(op)
            continue
        if op.name in basis:  # cx (everything after a first translation): no list, no calls
            for q in qs:
                run = pop(q, None)
                if run:
                    emit(run)
            out.append(op)
            continue
        if op.angles:
            if len(op.angles) == 1 and type(op.angles[0]) is Const:
                parts = _decompose_const(op)
            else:
                parts = decompose(op)
        else:  # fixed multi-qubit gates repeat (cz, swap, ...): decompose each placement once
            key = (op.name, qs)
            parts = _DECOMPOSED.get(key)
            if parts is None:
                if len(_DECOMPOSED) > 50_000:
                    _DECOMPOSED.clear()
                parts = _DECOMPOSED[key] = decompose(op)
        for p in parts:
            if len(p.qubits) == 1:
                run = pending.get(p.qubits[0])
                if run is None:
                    pending[p.qubits[0]] = [p]
                else:
                    run.append(p)
                continue
            if p.name == "cx" and "cx" not in plan.basis:  # the entangler is cz: cx = h cz h
                a, b = p.qubits
                pending.setdefault(b, []).append(Operation("h", (b,)))
                flush(a)
                flush(b)
                out.append(Operation("cz", (a, b)))
                pending[b] = [Operation("h", (b,))]
                continue
            for q in p.qubits:
                flush(q)
            out.append(p)
    for q in sorted(pending):
        flush(q)
    if not batch:
        return out
    done = iter(synthesize_batch(batch, plan))
    flat: list[Operation] = []
    for op in out:
        if op is None:
            flat.extend(next(done))
        else:
            flat.append(op)
    return flat
