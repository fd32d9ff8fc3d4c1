"""constant-fold: simplify angle expressions and drop gates that are the identity up to a global phase."""

from __future__ import annotations

import math
from dataclasses import dataclass

from qcomp.ir.expr import Const, Expr, Sym
from qcomp.ir.gates import ROTATIONS
from qcomp.ir.ops import Operation
from qcomp.ir.circuit import Circuit
from qcomp.ir.program import Program

from .base import Pass
from .commutation import ANGLE_TOL, ROTATION_PERIOD, rem

_TOL = 1e-12


def _fold(e: Expr) -> Expr:
    if isinstance(e, (Const, Sym)):
        return e
    s = e.simplify()
    return Const(s.value()) if s.is_constant and not isinstance(s, Const) else s


def is_identity(op: Operation) -> bool:
    """True when ``op`` is the identity up to a global phase (constant angles only)."""
    if op.name == "id":
        return True
    if op.name in ROTATIONS:
        a = op.angles[0]
        if not isinstance(a, Const):
            return False
        return abs(rem(a.val, ROTATION_PERIOD[op.name])) <= ANGLE_TOL * max(1.0, abs(a.val))
    if op.name == "u":
        if not all(isinstance(a, Const) for a in op.angles):
            return False
        theta, phi, lam = (a.val for a in op.angles)
        if not math.isfinite(theta):
            return False  # not an identity; basis translation reports the angle
        # u(theta, phi, lam) ~ I iff sin(theta/2) = 0 and the relative phase of the diagonal is 1
        if abs(math.sin(theta / 2)) > _TOL:
            return False
        return abs(rem(phi + lam, 2 * math.pi)) <= 1e-12 * max(1.0, abs(phi + lam))
    if op.name == "unitary" and op.matrix is not None:
        m = op.matrix
        d = len(m)
        m00 = m[0][0]
        if abs(abs(m00) - 1.0) > 1e-12:
            return False
        return all(abs(m[i][j] - (m00 if i == j else 0)) <= 1e-12 for i in range(d) for j in range(d))
    return False


def _normalize(op: Operation) -> Operation:
    """Constant rotation angles reduced to (-period/2, period/2] (same gate up to a global phase)."""
    a = op.angles[0]
    period = ROTATION_PERIOD[op.name]
    v = rem(a.val, period)
    if v == -period / 2:
        v = period / 2
    return op if v == a.val else op.with_angles((Const(v),))


@dataclass(frozen=True)
class ConstantFold(Pass):
    """Simplify angles (constant expressions become numbers) and remove id and identity rotations (mod 2pi, crx/cry/crz mod 4pi)."""

    name = "constant-fold"
    fence_aware = True  # rewrites one gate at a time; fences (no angles) pass through
    normalize: bool = True  # reduce constant rotation angles into (-period/2, period/2]

    def run(self, program: Program) -> Program:
        out = []
        changed = False
        for op in program.circuit.ops():
            if not op.angles and op.name != "id" and op.name != "unitary":
                out.append(op)  # fixed gates (most of a circuit) are never identities
                continue
            period = ROTATION_PERIOD.get(op.name)
            if period is not None and type(op.angles[0]) is Const:  # the common numeric rotation, inline
                v = op.angles[0].val
                r = rem(v, period)
                if abs(r) <= ANGLE_TOL * max(1.0, abs(v)):
                    changed = True
                    continue
                if self.normalize:
                    if r == -period / 2:
                        r = period / 2
                    if r != v:
                        op = op.with_angles((Const(r),))
                        changed = True
                out.append(op)
                continue
            new = op
            if op.angles:
                angles = tuple(_fold(a) for a in op.angles)
                if any(a is not b for a, b in zip(angles, op.angles)):  # _fold returns numbers and symbols as is
                    new = op.with_angles(angles)
            if is_identity(new):
                changed = True
                continue
            if self.normalize and new.name in ROTATIONS and isinstance(new.angles[0], Const):
                new = _normalize(new)
            changed = changed or new is not op
            out.append(new)
        if not changed:
            return program.with_circuit(program.circuit.copy())
        return program.with_circuit(Circuit.from_ops(program.num_qubits, out, checked=True))
