"""The ``param-shift`` pass: a symbolic parameter-shift GradientProgram (shifted circuits + coefficients)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from qcomp.errors import PassError
from qcomp.ir.circuit import Circuit
from qcomp.ir.expr import ZERO, Const, Expr, Sym, add, mul
from qcomp.ir.gates import GATES
from qcomp.ir.ops import Operation, ValueDecl
from qcomp.ir.program import Program
from qcomp.ir.shift_rules import ShiftRule, canonical_shift, compose, frequencies_from_spectrum, period, shift_rule

from .base import Pass

Slot = tuple[int, int]  # (operation position in topological order, angle index)
Shift = tuple[tuple[int, float], ...]  # sparse shift vector: ((slot index, shift), ...) sorted by slot

WRT_CHOICES = ("params", "inputs", "both")


@dataclass(frozen=True)
class GradientProgram:
    """Derivatives of every output as linear combinations of shifted-circuit expectation values.

    ``circuits[c]`` is a sparse shift vector over ``slots`` (the empty one is the unshifted
    circuit). For order 1, ``terms[(o, j)]`` lists ``(c, coeff)`` with
    ``d out_o / d wrt_j = sum coeff(params, inputs) * <out_o>_{circuit c}``; for order 2 the keys
    are ``(o, i, j)`` with ``i <= j``. Missing keys are exact zeros (outside the light cone).
    """

    program: Program = field(compare=False)
    wrt: tuple[Sym, ...]
    order: int
    slots: tuple[Slot, ...]
    circuits: tuple[Shift, ...]
    terms: dict = field(compare=False)

    @property
    def num_circuits(self) -> int:
        return len(self.circuits)

    @property
    def num_slots(self) -> int:
        return len(self.slots)

    def shift_matrix(self) -> np.ndarray:
        """Dense shifts, shape (num_circuits, num_slots)."""
        m = np.zeros((len(self.circuits), len(self.slots)))
        for c, shifts in enumerate(self.circuits):
            for s, x in shifts:
                m[c, s] = x
        return m

    def shifted_ops(self, c: int) -> list[Operation]:
        """The operations of shifted circuit ``c`` (angles ``a + shift`` at its slots)."""
        return _shifted_ops(self.program.circuit.ops(), self.slots, self.circuits[c])

    def shifted_program(self, c: int) -> Program:
        """Shifted circuit ``c`` as a Program with the same declarations and outputs."""
        circ = Circuit.from_ops(self.program.num_qubits, self.shifted_ops(c))
        return self.program.with_circuit(circ)

    def slot_program(self) -> Program:
        """One Program for all shifted circuits: every slot angle gets ``+ shift[k]``, a trailing
        param, so shifted circuit c is this program with params ``concat(params, shift_matrix[c])``."""
        p = self.program
        names = {d.name for d in p.params + p.inputs}
        name = "qcomp_shift"
        while name in names:
            name += "_"
        decl = ValueDecl("param", name, len(self.slots), p.num_params)
        syms = [decl.symbol(k) for k in range(len(self.slots))]
        ops = p.circuit.ops()
        by_pos = {}
        for k, (pos, a) in enumerate(self.slots):
            by_pos.setdefault(pos, {})[a] = syms[k]
        new_ops = []
        for pos, op in enumerate(ops):
            if pos in by_pos:
                angles = list(op.angles)
                for a, sym in by_pos[pos].items():
                    angles[a] = add(angles[a], sym)
                op = op.with_angles(angles)
            new_ops.append(op)
        return p.with_circuit(Circuit.from_ops(p.num_qubits, new_ops), params=p.params + ((decl,) if self.slots else ()))

    def coefficient_exprs(self) -> list[Expr]:
        """Every distinct coefficient expression, in first-appearance order."""
        seen: dict[Expr, None] = {}
        for lst in self.terms.values():
            for _, e in lst:
                seen.setdefault(e, None)
        return list(seen)

    def wrt_names(self) -> list[str]:
        return [s.name for s in self.wrt]

    def summary(self) -> str:
        n_terms = sum(len(v) for v in self.terms.values())
        return (
            f"gradient program (order {self.order}) of {self.program.source_name}: "
            f"{len(self.wrt)} variables, {len(self.slots)} differentiable angles, "
            f"{len(self.circuits)} distinct circuits, {n_terms} terms"
        )


def _shifted_ops(ops: Sequence[Operation], slots: Sequence[Slot], shifts: Shift) -> list[Operation]:
    out = list(ops)
    for s, x in shifts:
        pos, a = slots[s]
        op = out[pos]
        angles = list(op.angles)
        angles[a] = add(angles[a], Const(x))
        out[pos] = op.with_angles(angles)
    return out


def wrt_symbols(program: Program, wrt: str) -> list[Sym]:
    if wrt not in WRT_CHOICES:
        raise PassError(f"cannot differentiate with respect to '{wrt}'; choose one of {', '.join(WRT_CHOICES)}")
    out: list[Sym] = []
    if wrt in ("params", "both"):
        out += program.param_symbols()
    if wrt in ("inputs", "both"):
        out += program.input_symbols()
    return out


def light_cones(program: Program) -> list[set[int]]:
    """Per output, positions (in topological order) of the operations in its backward light cone.

    One reverse sweep per output: an operation is in the cone when it touches a live qubit, and
    then all its qubits become live (the ancestors of the output qubits in the DAG). In a dynamic
    circuit the bits a conditioned operation in the cone reads become live too, and so do the
    qubits of the measurements that write them (classical feed-forward).
    """
    ops = program.circuit.ops()
    cones = []
    for obs in program.observables:
        live = set(obs.qubits)
        live_bits: set[int] = set()  # dynamic circuits: bits a conditioned op in the cone reads
        cone: set[int] = set()
        for pos in range(len(ops) - 1, -1, -1):
            op = ops[pos]
            qs = op.qubits
            if live.intersection(qs) or (op.bit is not None and op.bit in live_bits):
                cone.add(pos)
                live.update(qs)
                for bits, _, _ in op.cond or ():
                    live_bits.update(bits)
        cones.append(cone)
    return cones


def _rule_for(op: Operation, a: int) -> tuple[ShiftRule, float | None]:
    g = GATES.get(op.name)
    if g is None or a >= len(g.spectra):
        raise PassError(f"cannot differentiate angle {a} of gate '{op.name}': no generator spectrum", op.span)
    freqs = frequencies_from_spectrum(g.spectra[a])
    return shift_rule(freqs), period(freqs)


def build_gradient_program(program: Program, wrt: str = "params", order: int = 1) -> GradientProgram:
    """Derive the parameter-shift GradientProgram of ``program`` (first or second order)."""
    if order not in (1, 2):
        raise PassError(f"gradient order must be 1 or 2, got {order}")
    syms = wrt_symbols(program, wrt)
    col = {s: j for j, s in enumerate(syms)}
    ops = program.circuit.ops()
    cones = light_cones(program)
    needed = set().union(*cones) if cones else set()

    # Differentiable slots: angles that depend on a wrt variable, inside some output's light cone.
    slots: list[Slot] = []
    rules: list[ShiftRule] = []
    periods: list[float | None] = []
    dtheta: list[dict[int, Expr]] = []  # per slot: wrt column -> d angle / d var
    for p_i, op in enumerate(ops):
        if p_i not in needed:
            continue
        for a, ang in enumerate(op.angles):
            ds = {col[s]: ang.diff(s) for s in ang.symbols() if s in col}
            ds = {j: d for j, d in ds.items() if d != ZERO}
            if not ds:
                continue
            r, T = _rule_for(op, a)
            slots.append((p_i, a))
            rules.append(r)
            periods.append(T)
            dtheta.append(ds)
    slot_cone = [[k for k, (p_i, _) in enumerate(slots) if p_i in cone] for cone in cones]

    acc: dict[tuple, dict[Shift, Expr]] = {}

    def put(key: tuple, shift: Shift, coeff: Expr) -> None:
        d = acc.setdefault(key, {})
        d[shift] = add(d[shift], coeff) if shift in d else coeff

    def first(key: tuple, k: int, scale: Expr) -> None:
        for x, c in rules[k]:
            put(key, ((k, canonical_shift(x, periods[k])),), mul(Const(c), scale))

    if order == 1:
        for o, sc in enumerate(slot_cone):
            for k in sc:
                for j, d in dtheta[k].items():
                    first((o, j), k, d)
    else:
        seconds = {k: compose(rules[k], rules[k], periods[k]) for k in range(len(slots))}
        for o, sc in enumerate(slot_cone):
            for k in sc:
                # chain rule, second-order part: d2 angle / d wi d wj times the first-order rule
                for i, di in dtheta[k].items():
                    for j in dtheta[k]:
                        if i <= j:
                            d2 = di.diff(syms[j])
                            if d2 != ZERO:
                                first((o, i, j), k, d2)
                for l in sc:
                    for i, di in dtheta[k].items():
                        for j, dj in dtheta[l].items():
                            if i > j:
                                continue
                            scale = mul(di, dj)
                            if k == l:
                                for x, c in seconds[k]:
                                    sh = () if x == 0.0 else ((k, x),)
                                    put((o, i, j), sh, mul(Const(c), scale))
                            else:
                                for x, cx in rules[k]:
                                    for y, cy in rules[l]:
                                        sh = tuple(sorted(((k, canonical_shift(x, periods[k])),
                                                           (l, canonical_shift(y, periods[l])))))
                                        put((o, i, j), sh, mul(Const(cx * cy), scale))

    # Deduplicate identical circuits (the unshifted one first, then by first appearance).
    circuits: list[Shift] = []
    index: dict[tuple, int] = {}
    shift_index: dict[Shift, int] = {}
    all_shifts = [sh for d in acc.values() for sh in d]
    if () in all_shifts:
        all_shifts.insert(0, ())
    for sh in all_shifts:
        if sh in shift_index:
            continue
        key = tuple(_shifted_ops(ops, slots, sh)) if sh else ()
        if key not in index:
            index[key] = len(circuits)
            circuits.append(sh)
        shift_index[sh] = index[key]
    terms: dict[tuple, tuple[tuple[int, Expr], ...]] = {}
    for key, d in acc.items():
        merged: dict[int, Expr] = {}
        for sh, e in d.items():
            c = shift_index[sh]
            merged[c] = add(merged[c], e) if c in merged else e
        lst = tuple((c, e.simplify()) for c, e in merged.items())
        lst = tuple((c, e) for c, e in lst if not (e.is_constant and abs(e.value()) < 1e-15))
        if lst:
            terms[key] = lst
    return GradientProgram(program, tuple(syms), order, tuple(slots), tuple(circuits), terms)


@dataclass(frozen=True)
class ParamShift(Pass):
    """Parameter-shift gradient program; run() gives the shift-slot program, build() the GradientProgram."""

    name = "param-shift"
    preserves = "nothing"
    fence_aware = True  # shifts angles in place; fences have none and keep their places
    order: int = 1
    wrt: str = "params"

    def build(self, program: Program) -> GradientProgram:
        return build_gradient_program(program, self.wrt, self.order)

    def run(self, program: Program) -> Program:
        return self.build(program).slot_program()
