"""``qcomp.from_cirq``: a Cirq circuit with sympy symbols (a TensorFlow Quantum model) as a qcomp Program, symbolically."""

from __future__ import annotations

import keyword
import math
import re
from typing import Any, Callable, Iterable, Sequence

import cirq
import numpy as np
import sympy

from ..errors import InputError, UnsupportedError
from ..ir.circuit import Circuit
from ..ir.expr import FUNCTIONS, Const, Expr, Sym, neg
from ..ir.ops import Observable, Operation, Register, ValueDecl, make_unitary_op, normalize_pauli_sum
from ..ir.program import Program
from ._symbolic import sympy_to_expr

# a gate as qcomp gates on its own qubits (0..k-1) times exp(i * phase): cirq's gates differ from
# qcomp's rotations by global phases, which matter once the gate is controlled
Local = list[tuple[str, tuple[int, ...], tuple[Expr, ...]]]

# a MatrixGate of more qubits than this is refused
MAX_MATRIX_QUBITS = 2
# a constant gate with neither a lowering nor a decomposition becomes gates synthesized from its
# matrix (1-3 qubits) or one ``unitary`` block (4) up to this many qubits
MAX_CONTROLLED_MATRIX_QUBITS = 4

_RESERVED = frozenset({"const", "qubit", "param", "input", "gate", "for", "in", "range", "if", "else", "expect",
                       "measure", "include", "inv", "ctrl", "pow", "pi", "e", "tau", "euler"}) | frozenset(FUNCTIONS)

# one-qubit qcomp gate -> its controlled version (name, extra angle for the named-phase gates)
_CONTROLLED = {"x": ("cx", None), "y": ("cy", None), "z": ("cz", None), "h": ("ch", None),
               "rx": ("crx", None), "ry": ("cry", None), "rz": ("crz", None), "p": ("cp", None),
               "s": ("cp", math.pi / 2), "sdg": ("cp", -math.pi / 2),
               "t": ("cp", math.pi / 4), "tdg": ("cp", -math.pi / 4)}


def _identifier(name: str, taken: set[str]) -> str:
    """A ``.q`` identifier for a symbol name (TFQ names such as ``xx1-0`` are not): other
    characters become ``_``; reserved words and collisions get a suffix."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name) or "_"
    if ident[0].isdigit():
        ident = "_" + ident
    if ident in _RESERVED or keyword.iskeyword(ident):
        ident += "_"
    base, k = ident, 2
    while ident in taken:
        ident = f"{base}_{k}"
        k += 1
    taken.add(ident)
    return ident


def _is_const(x: Any) -> bool:
    return not cirq.is_parameterized(x)


def _equals(x: Any, value: float, period: float | None = None) -> bool:
    if not _is_const(x):
        return False
    v = float(x)
    if period is None:
        return abs(v - value) < 1e-12
    return abs((v - value + period / 2) % period - period / 2) < 1e-12


class _Lowerer:
    def __init__(self, lookup: Callable[[str], Expr]) -> None:
        self.lookup = lookup

    def expr(self, x: Any) -> Expr:
        if isinstance(x, (int, float, np.integer, np.floating)):
            return Const(float(x))
        return sympy_to_expr(x, self.lookup)

    def pi_times(self, x: Any, factor: float = 1.0) -> Expr:
        # through sympy, so cirq.rx(theta)'s exponent theta/pi gives back theta exactly
        if _is_const(x):
            return Const(math.pi * float(x) * factor)
        # the factor as the decimal it prints as (0.5 -> 1/2): exact for the usual shifts, and cheap
        return self.expr(sympy.pi * x if factor == 1.0 else sympy.pi * x * sympy.Rational(repr(float(factor))))

    def exact(self, gate: cirq.Gate, where: str, need_phase: bool = False) -> tuple[Local, Expr]:
        """``gate`` as qcomp gates (qubits local to the gate) and the global phase making it exact
        (``need_phase``: for a controlled gate, where it becomes a relative phase)."""
        t = getattr(gate, "exponent", None)
        s = float(getattr(gate, "global_shift", 0.0) or 0.0)
        zero = Const(0.0)
        if isinstance(gate, cirq.IdentityGate):
            return [], zero
        if isinstance(gate, cirq.GlobalPhaseGate):
            c = gate.coefficient
            if not _is_const(c):
                if need_phase:  # cirq writes it as a power of a complex number: no real angle to read
                    raise _Unknown(where)
                return [], zero
            return [], Const(float(np.angle(complex(c))))
        # X**t = exp(i pi t / 2) rx(pi t), and global_shift s multiplies by exp(i pi t s)
        for cls, name, rot in ((cirq.XPowGate, "x", "rx"), (cirq.YPowGate, "y", "ry")):
            if isinstance(gate, cls):
                if _equals(t, 1.0, 2.0) and s == 0.0:
                    return [(name, (0,), ())], zero
                return [(rot, (0,), (self.pi_times(t),))], self.pi_times(t, s + 0.5)
        if isinstance(gate, cirq.ZPowGate):  # Z**t = diag(1, exp(i pi t)) = p(pi t), exactly
            if s == 0.0:
                for value, name in ((1.0, "z"), (0.5, "s"), (-0.5, "sdg"), (0.25, "t"), (-0.25, "tdg")):
                    if _equals(t, value, 2.0):
                        return [(name, (0,), ())], zero
            return [("p", (0,), (self.pi_times(t),))], self.pi_times(t, s)
        if isinstance(gate, cirq.HPowGate):
            if _equals(t, 1.0, 2.0) and s == 0.0:
                return [("h", (0,), ())], zero
            # H**t = exp(i pi t/2) exp(-i pi t H/2), and H = ry(pi/4) Z ry(-pi/4)
            return ([("ry", (0,), (Const(-math.pi / 4),)), ("rz", (0,), (self.pi_times(t),)),
                     ("ry", (0,), (Const(math.pi / 4),))], self.pi_times(t, s + 0.5))
        if isinstance(gate, cirq.CZPowGate):
            if _equals(t, 1.0, 2.0) and s == 0.0:
                return [("cz", (0, 1), ())], zero
            return [("cp", (0, 1), (self.pi_times(t),))], self.pi_times(t, s)
        if isinstance(gate, cirq.CXPowGate):
            if _equals(t, 1.0, 2.0) and s == 0.0:
                return [("cx", (0, 1), ())], zero
            # controlled (exp(i pi t/2) rx(pi t)): the phase lands on the control
            return ([("p", (0,), (self.pi_times(t, 0.5),)), ("crx", (0, 1), (self.pi_times(t),))],
                    self.pi_times(t, s))
        for cls, rot in ((cirq.XXPowGate, "rxx"), (cirq.YYPowGate, "ryy"), (cirq.ZZPowGate, "rzz")):
            if isinstance(gate, cls):  # XX**t = exp(i pi t/2) rxx(pi t) (eigenvalues +-1, as X)
                return [(rot, (0, 1), (self.pi_times(t),))], self.pi_times(t, s + 0.5)
        if isinstance(gate, cirq.SwapPowGate):
            if _equals(t, 1.0, 2.0) and s == 0.0:
                return [("swap", (0, 1), ())], zero
            # SWAP**t = exp(i pi t/4) exp(-i pi t (XX + YY + ZZ)/4); the three terms commute
            a = self.pi_times(t, 0.5)
            return ([("rxx", (0, 1), (a,)), ("ryy", (0, 1), (a,)), ("rzz", (0, 1), (a,))],
                    self.pi_times(t, s + 0.25))
        if isinstance(gate, cirq.ISwapPowGate):
            if _equals(t, 1.0, 4.0) and s == 0.0:
                return [("iswap", (0, 1), ())], zero
            # ISWAP**t = exp(i pi t (XX + YY)/4)
            a = self.pi_times(t, -0.5)
            return [("rxx", (0, 1), (a,)), ("ryy", (0, 1), (a,))], self.pi_times(t, s)
        if isinstance(gate, cirq.PhasedXPowGate):
            # Z**p X**t Z**-p, global_shift s on the X**t part
            p = gate.phase_exponent
            return ([("p", (0,), (neg(self.pi_times(p)),)), ("rx", (0,), (self.pi_times(t),)),
                     ("p", (0,), (self.pi_times(p),))], self.pi_times(t, s + 0.5))
        if isinstance(gate, cirq.FSimGate):
            # fsim(theta, phi) = exp(-i theta (XX + YY)/2) then diag(1, 1, 1, exp(-i phi))
            th, ph = self.expr(gate.theta), self.expr(gate.phi)
            return [("rxx", (0, 1), (th,)), ("ryy", (0, 1), (th,)), ("cp", (0, 1), (neg(ph),))], zero
        if isinstance(gate, cirq.CCXPowGate) and _equals(t, 1.0, 2.0) and s == 0.0:
            return [("ccx", (0, 1, 2), ())], zero
        if isinstance(gate, cirq.CCZPowGate) and _equals(t, 1.0, 2.0) and s == 0.0:
            return [("h", (2,), ()), ("ccx", (0, 1, 2), ()), ("h", (2,), ())], zero
        if isinstance(gate, cirq.CSwapGate):
            return [("cswap", (0, 1, 2), ())], zero
        if isinstance(gate, cirq.ControlledGate):
            return self.controlled(gate, where)
        raise _Unknown(where)

    def controlled(self, gate: cirq.ControlledGate, where: str) -> tuple[Local, Expr]:
        sub = gate.sub_gate
        nc = gate.num_controls()
        if any(d != 2 for d in gate.control_qid_shape):
            raise UnsupportedError(f"{where}: qudit controls are not supported")
        values = [tuple(v) for v in gate.control_values.expand()] if hasattr(gate.control_values, "expand") else None
        if values is None or len(values) != 1:
            raise _Unknown(where)
        flips = [c for c, v in enumerate(values[0]) if v == 0]
        if nc != 1 or cirq.num_qubits(sub) != 1:
            raise _Unknown(where)
        inner, phase = self.exact(sub, where, need_phase=True)
        out: Local = [("x", (c,), ()) for c in flips]
        # C(exp(i a) U1 U2 ...) = p(a) on the control, then C-U1, C-U2, ...
        if not (isinstance(phase, Const) and phase.val == 0.0):
            out.append(("p", (0,), (phase,)))
        for name, qs, angles in inner:
            if name not in _CONTROLLED:
                raise _Unknown(where)
            cname, fixed = _CONTROLLED[name]
            out.append((cname, (0, 1 + qs[0]), (Const(fixed),) if fixed is not None else angles))
        out.extend(("x", (c,), ()) for c in flips)
        return out, Const(0.0)


class _Unknown(Exception):
    """No symbolic lowering: the caller tries cirq's decomposition or the constant matrix."""


def _observable(obs: Any, index: dict) -> Observable:
    if isinstance(obs, cirq.PauliString):
        strings = [obs]
    elif isinstance(obs, cirq.PauliSum):
        strings = list(obs)
    else:
        raise InputError(f"from_cirq: an observable must be a cirq.PauliString or cirq.PauliSum, got {type(obs).__name__}")
    terms = []
    for ps in strings:
        c = ps.coefficient
        if cirq.is_parameterized(c):
            raise UnsupportedError(f"from_cirq: observable {ps} has a symbolic coefficient; qcomp's are numbers")
        c = complex(c)
        if abs(c.imag) > 1e-12:
            raise UnsupportedError(f"from_cirq: observable {ps} has a complex coefficient; qcomp measures Hermitian Pauli sums")
        word = {}
        for q, p in ps.items():
            if q not in index:
                raise InputError(f"from_cirq: observable qubit {q} is not among the qubits {list(index)}")
            word[index[q]] = {cirq.X: "X", cirq.Y: "Y", cirq.Z: "Z"}[p]
        terms.append((c.real, word))
    return Observable(normalize_pauli_sum(terms))  # no text: Program prints it in .q syntax


def _as_list(observables: Any) -> list:
    if observables is None:
        return []
    if isinstance(observables, (cirq.PauliString, cirq.PauliSum)):
        return [observables]
    try:
        return list(observables)
    except TypeError:
        raise InputError(f"from_cirq: observables must be a PauliString, PauliSum or a list of them, "
                         f"got {type(observables).__name__}") from None


def _input_rule(inputs: Any, names: Sequence[str]) -> Callable[[str], bool]:
    if inputs is None:
        return lambda name: False
    if callable(inputs):
        return lambda name: bool(inputs(name))
    if isinstance(inputs, (str, sympy.Symbol)):
        inputs = [inputs]
    wanted = {i.name if isinstance(i, sympy.Symbol) else str(i) for i in inputs}
    unknown = sorted(wanted - set(names))
    if unknown:
        raise InputError(f"from_cirq: inputs {unknown} are not symbols of the circuit (its symbols: {sorted(names)})")
    return lambda name: name in wanted


def from_cirq(circuit: Any, observables: Any = None, *, name: str | None = None,
              inputs: Iterable[str | sympy.Symbol] | Callable[[str], bool] | None = None,
              qubits: Sequence[cirq.Qid] | None = None) -> Program:
    """``qcomp.from_cirq``: a ``cirq.Circuit`` (sympy symbols in exponents and angles) as a qcomp Program.

    * Qubits: flat qubit k is ``sorted(circuit.all_qubits() | observable qubits)[k]`` (cirq's
      order: GridQubits by row then column, so TFQ's readout ``GridQubit(-1, -1)`` comes first),
      or ``qubits[k]`` when an order is given. qcomp's state index is little-endian (bit k = qubit
      k) while cirq's puts its first qubit in the most significant bit.
    * Symbols: each distinct symbol becomes a scalar ``param`` in sorted name order (the order of
      TFQ's ``PQC`` weights), named like the symbol (characters a ``.q`` name cannot hold become
      ``_``). Symbols that ``inputs`` names (or for which the callable ``inputs(name)`` is true)
      become ``input``s instead, sorted likewise: data fed through symbols.
    * Gates, symbolic: X/Y/Z/H/CZ/CX/XX/YY/ZZ/SWAP/ISWAP powers (global shift included), PhasedXPow,
      FSim, rx/ry/rz, CCX/CCZ/CSWAP, single-control ControlledGates of one-qubit gates (global phases
      kept exact where they matter), GlobalPhase and identities (dropped), measurements (terminal).
      Other constant gates decompose with cirq's own decomposition or become one matrix
      (MatrixGate: 1-2 qubits; other gates up to 4); other symbolic ones are refused.
    * ``observables``: a ``cirq.PauliString``/``PauliSum`` or a list of them, one output each.
    """
    if not isinstance(circuit, cirq.AbstractCircuit):
        raise InputError(f"from_cirq takes a cirq.Circuit, got {type(circuit).__name__}")
    circuit = cirq.unroll_circuit_op(circuit, deep=True, tags_to_check=None)
    obs_list = _as_list(observables)
    if qubits is None:
        found = set(circuit.all_qubits())
        for o in obs_list:
            if isinstance(o, (cirq.PauliString, cirq.PauliSum)):
                found |= set(o.qubits)
        order = sorted(found)
    else:
        order = list(qubits)
        if len(set(order)) != len(order):
            raise InputError("from_cirq: qubits lists a qubit twice")
        missing = sorted(set(circuit.all_qubits()) - set(order))
        if missing:
            raise InputError(f"from_cirq: circuit qubits {missing} are not in qubits")
    index = {q: i for i, q in enumerate(order)}
    n = max(1, len(order))

    names = sorted(cirq.parameter_names(circuit))
    is_input = _input_rule(inputs, names)
    taken: set[str] = set()
    decls: dict[str, list[ValueDecl]] = {"param": [], "input": []}
    sym: dict[str, Sym] = {}
    for kind in ("param", "input"):
        for nm in names:
            if (kind == "input") == is_input(nm):
                d = ValueDecl(kind, _identifier(nm, taken), 1, len(decls[kind]), scalar=True)
                decls[kind].append(d)
                sym[nm] = d.symbol(0)
    low = _Lowerer(lambda nm: sym[nm])

    ops: list[Operation] = []
    measured: list[int] = []
    for op in circuit.all_operations():
        _lower_operation(op, low, index, ops, measured, depth=0)

    outputs = tuple(_observable(o, index) for o in obs_list)
    return Program(Circuit.from_ops(n, ops), (Register("q", n, 0),), params=tuple(decls["param"]),
                   inputs=tuple(decls["input"]), observables=outputs, measured=tuple(measured),
                   source_name=name or "<cirq circuit>")


def _lower_operation(op: cirq.Operation, low: _Lowerer, index: dict, ops: list[Operation],
                     measured: list[int], depth: int) -> None:
    op = op.untagged
    where = f"operation {op}"
    qs = tuple(index[q] for q in op.qubits)
    if measured and any(q in measured for q in qs):
        raise UnsupportedError(f"{where} acts on a measured qubit; qcomp measures at the end of the circuit, "
                               "so measurements must come last")
    gate = op.gate
    if isinstance(gate, cirq.MeasurementGate):
        measured.extend(q for q in qs if q not in measured)
        return
    if isinstance(op, cirq.ClassicallyControlledOperation):
        raise UnsupportedError(f"{where}: classically controlled operations are not supported by from_cirq")
    if isinstance(gate, cirq.MatrixGate):
        if len(qs) > MAX_MATRIX_QUBITS:
            raise UnsupportedError(f"{where}: a MatrixGate on {len(qs)} qubits; qcomp imports constant matrices of "
                                   f"1 or {MAX_MATRIX_QUBITS} qubits")
        _matrix(op, low, index, ops, measured, depth)
        return
    try:
        if gate is None:
            raise _Unknown(where)
        local, _ = low.exact(gate, where)
        ops.extend(Operation(name, tuple(qs[i] for i in lq), tuple(angles)) for name, lq, angles in local)
        return
    except _Unknown:
        pass
    parts = cirq.decompose_once(op, default=None) if depth < 32 else None
    if parts is not None:
        for p in parts:
            _lower_operation(p, low, index, ops, measured, depth + 1)
        return
    if not cirq.is_parameterized(op) and cirq.has_unitary(op) and len(qs) <= MAX_CONTROLLED_MATRIX_QUBITS:
        _matrix(op, low, index, ops, measured, depth)
        return
    if not cirq.is_parameterized(op) and not cirq.has_unitary(op):
        raise UnsupportedError(f"{where} is not unitary (noise channels and resets are not supported by from_cirq)")
    raise UnsupportedError(f"{where}: gate {type(gate).__name__ if gate is not None else type(op).__name__} "
                           "with symbols has no qcomp lowering (supported: X/Y/Z/H/CX/CZ/XX/YY/ZZ/SWAP/ISWAP powers, "
                           "PhasedXPow, FSim, rx/ry/rz, one-control ControlledGates of them, and gates cirq decomposes "
                           "into these)")


# synthesis tolerance: cirq drops gates closer than this to the identity
_SYNTH_ATOL = 1e-13


def _matrix(op: cirq.Operation, low: _Lowerer, index: dict, ops: list[Operation], measured: list[int],
            depth: int) -> None:
    """A constant unitary as library gates (cirq's synthesis, exact up to a global phase), so the
    program exports to OpenQASM; a 4-qubit matrix stays one ``unitary`` block (simulation only)."""
    u = cirq.unitary(op)
    q = op.qubits
    if len(q) == 1:
        parts = [g.on(q[0]) for g in cirq.single_qubit_matrix_to_phased_x_z(u, atol=_SYNTH_ATOL)]
    elif len(q) == 2:
        parts = cirq.two_qubit_matrix_to_cz_operations(q[0], q[1], u, allow_partial_czs=False, atol=_SYNTH_ATOL)
    elif len(q) == 3:
        parts = cirq.three_qubit_matrix_to_operations(q[0], q[1], q[2], u, atol=_SYNTH_ATOL)
    else:
        ops.append(make_unitary_op(u, tuple(index[x] for x in q)))
        return
    for p in parts:
        _lower_operation(p, low, index, ops, measured, depth + 1)


__all__ = ["from_cirq"]
