"""Qiskit QuantumCircuit (with Parameters and ParameterExpressions) to a qcomp Program, symbolically."""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from ..errors import InputError, UnsupportedError
from ..ir.circuit import Circuit
from ..ir.expr import Const, Expr, Sym
from ..ir.gates import GATES
from ..ir.dynamic import is_dynamic
from ..ir.ops import Clause, Condition, Observable, Operation, Register, ValueDecl, normalize_pauli_sum
from ..ir.program import Program
from ._symbolic import sympy_to_expr

__all__ = ["QiskitImport", "convert", "from_qiskit", "observable_from_qiskit", "observables_from_qiskit"]

_HALF_PI = Const(math.pi / 2)
# Qiskit standard-gate names that are qcomp library gates under another name or angle form;
# every other standard gate whose name is in qcomp's gate table maps by name (same argument order:
# Qiskit and qcomp both list controls first, and both define a gate by its action on its arguments)
_RENAMED: dict[str, Callable[[tuple[Expr, ...]], tuple[str, tuple[Expr, ...]]]] = {
    "u1": lambda a: ("p", a),
    "u2": lambda a: ("u", (_HALF_PI, a[0], a[1])),
    "u3": lambda a: ("u", a),
    "cu1": lambda a: ("cp", a),
}
# no effect on a state vector up to a global phase (qcomp's IR has no barrier or global phase)
_DROPPED = frozenset({"barrier", "delay", "global_phase"})
MAX_DECOMPOSITION_DEPTH = 64


@dataclass(frozen=True)
class QiskitImport:
    """A converted circuit: the Program, the Qiskit Parameters in qcomp's flat param order (which is
    ``circuit.parameters``), and where each classical bit's final measurement comes from."""

    program: Program
    parameters: tuple[Any, ...]
    # per classical register: (name, size, flat qubit measured into each bit or None)
    clbits: tuple[tuple[str, int, tuple[int | None, ...]], ...]


def _identifier(name: str, used: set[str]) -> str:
    """A .q/OpenQASM identifier for a Qiskit name (θ -> theta), unique among ``used``."""
    parts = []
    for ch in name:
        if ch.isascii() and (ch.isalnum() or ch == "_"):
            parts.append(ch)
        elif ch.isalpha():  # a Greek letter and the like: its Unicode name's last word
            parts.append(unicodedata.name(ch, "x").split()[-1].lower())
        else:
            parts.append("_")
    ident = re.sub(r"_+", "_", "".join(parts)).strip("_") or "p"
    if not (ident[0].isalpha() or ident[0] == "_"):
        ident = "p_" + ident
    base, k = ident, 1
    while ident in used:
        ident = f"{base}_{k}"
        k += 1
    used.add(ident)
    return ident


def _param_decls(parameters: Sequence[Any]) -> tuple[tuple[ValueDecl, ...], dict[str, Sym]]:
    """One param declaration per ParameterVector used from element 0 on consecutively (so ``x[3]``
    keeps its index), a scalar one per other Parameter; flat order is ``parameters``' order."""
    from qiskit.circuit import ParameterVectorElement

    decls: list[ValueDecl] = []
    syms: dict[str, Sym] = {}
    used: set[str] = set()
    i = 0
    while i < len(parameters):
        p = parameters[i]
        run = 1
        if isinstance(p, ParameterVectorElement) and p.index == 0:
            vec = p.vector
            while (i + run < len(parameters) and isinstance(parameters[i + run], ParameterVectorElement)
                   and parameters[i + run].vector == vec and parameters[i + run].index == run):
                run += 1
            decl = ValueDecl("param", _identifier(vec.name, used), run, i, scalar=False)
        else:
            run = 1
            decl = ValueDecl("param", _identifier(p.name, used), 1, i, scalar=True)
        decls.append(decl)
        for k in range(run):
            syms[parameters[i + k].name] = decl.symbol(k)
        i += run
    return tuple(decls), syms


class _Angles:
    """Qiskit gate parameters to IR expressions (sympy walk once per distinct expression)."""

    def __init__(self, syms: Mapping[str, Sym]) -> None:
        self.syms = syms
        self.cache: dict[Any, Expr] = {}

    def lookup(self, name: str) -> Expr:
        try:
            return self.syms[name]
        except KeyError:
            raise InputError(f"parameter '{name}' is not a parameter of the circuit") from None

    def __call__(self, value: Any) -> Expr:
        from qiskit.circuit import Parameter, ParameterExpression

        if isinstance(value, Parameter):
            return self.lookup(value.name)
        if isinstance(value, ParameterExpression):
            if not value.parameters:
                return Const(_real(complex(value)))
            e = self.cache.get(value)
            if e is None:
                e = self.cache[value] = sympy_to_expr(_sympify(value), self.lookup)
            return e
        try:
            return Const(_real(complex(value)))
        except (TypeError, ValueError):
            raise UnsupportedError(f"gate parameter {value!r} is not a number or a parameter expression") from None


def _sympify(value: Any) -> Any:
    """``value.sympify()``, or its text parsed by sympy where Qiskit returns NotImplemented (Qiskit
    2.x does for a number to a parameter's power, ``2 ** a``)."""
    import sympy

    out = value.sympify()
    if isinstance(out, sympy.Basic):
        return out
    # names such as "θ[1]" are not sympy identifiers: parse with placeholders, longest name first
    text = str(value)
    names = sorted((p.name for p in value.parameters), key=len, reverse=True)
    local = {}
    for k, name in enumerate(names):
        text = re.sub(r"(?<![\w\]])" + re.escape(name) + r"(?![\w\[])", f"_qcomp_p{k}", text)
        local[f"_qcomp_p{k}"] = sympy.Symbol(name)
    try:
        return sympy.sympify(text, locals=local)
    except (sympy.SympifyError, SyntaxError, TypeError) as exc:
        raise UnsupportedError(f"cannot read the parameter expression '{value}': {exc}") from None


def _real(v: complex) -> float:
    if abs(v.imag) > 1e-12:
        raise UnsupportedError(f"complex gate angle {v} (qcomp angles are real)")
    return float(v.real)


@functools.cache
def _standard_gates() -> dict[str, Any]:
    from qiskit.circuit.library import get_standard_gate_name_mapping

    return get_standard_gate_name_mapping()  # builds ~55 gate objects: once


def _standard(op: Any) -> bool:
    """Whether ``op`` is Qiskit's own standard gate of its name (not a user gate with that name)."""
    ref = _standard_gates().get(op.name)
    return ref is not None and type(op) is type(ref) and getattr(op, "ctrl_state", None) == getattr(ref, "ctrl_state", None)


def _qcomp_name(name: str) -> str | None:
    if name in _RENAMED:
        return name
    return name if name in GATES and name != "unitary" else None


def _basis() -> list[str]:
    return sorted(n for n in GATES if n not in ("unitary", "id")) + sorted(_RENAMED)


def _lower(op: Any, qubits: tuple[int, ...], angles: _Angles, out: list[Operation], depth: int) -> None:
    """Append the qcomp operations of Qiskit gate ``op`` on flat ``qubits``."""
    name = op.name
    if name in _DROPPED:
        return
    if _qcomp_name(name) is not None and _standard(op):
        args = tuple(angles(v) for v in op.params)
        if name in _RENAMED:
            name, args = _RENAMED[name](args)
        if name != "id":
            out.append(Operation(name, qubits, args))
        return
    if depth >= MAX_DECOMPOSITION_DEPTH:
        raise UnsupportedError(f"gate '{op.name}' does not decompose into qcomp's gates "
                               f"within {MAX_DECOMPOSITION_DEPTH} levels")
    definition = op.definition
    if definition is None:
        # no definition (e.g. an opaque or unsynthesized gate): let Qiskit's basis translation try
        from qiskit import QuantumCircuit, transpile
        from qiskit.exceptions import QiskitError

        one = QuantumCircuit(op.num_qubits)
        one.append(op, range(op.num_qubits))
        try:
            definition = transpile(one, basis_gates=_basis(), optimization_level=0)
        except QiskitError as exc:
            raise UnsupportedError(f"gate '{op.name}' has no definition qcomp can use: {exc}") from None
    for inst in definition.data:
        if inst.operation.name in ("measure", "reset") or getattr(inst.operation, "blocks", None):
            raise UnsupportedError(f"gate '{op.name}' contains '{inst.operation.name}', which qcomp cannot simulate")
        inner = tuple(qubits[definition.find_bit(q).index] for q in inst.qubits)
        _lower(inst.operation, inner, angles, out, depth + 1)


def _registers(circuit: Any, used: set[str], kind: str = "q") -> tuple[Register, ...]:
    """Qiskit's quantum (``kind`` "q") or classical ("c") registers when they lay the bits out in
    order, else one register named ``kind``."""
    regs_in, total = (circuit.qregs, circuit.num_qubits) if kind == "q" else (circuit.cregs, circuit.num_clbits)
    offset, regs = 0, []
    for reg in regs_in:
        if any(circuit.find_bit(q).index != offset + i for i, q in enumerate(reg)):
            break
        regs.append(Register(_identifier(reg.name, used), reg.size, offset))
        offset += reg.size
    if offset == total and regs:
        return tuple(regs)
    if kind == "q":
        used.discard("q")
    return (Register(_identifier(kind, used), total, 0),)


def _pauli_items(obs: Any) -> list[tuple[str, complex]]:
    from qiskit.quantum_info import Pauli, SparsePauliOp

    if isinstance(obs, str):
        return [(obs, 1.0)]
    if isinstance(obs, Pauli):
        obs = SparsePauliOp(obs)
    if isinstance(obs, SparsePauliOp):
        return [(lab, complex(c)) for lab, c in zip(obs.paulis.to_labels(), obs.coeffs)]
    if isinstance(obs, Mapping):
        return [(str(k), complex(v)) for k, v in obs.items()]
    raise InputError(f"an observable must be a SparsePauliOp, a Pauli, a Pauli label or a {{label: coeff}} "
                     f"mapping, got {type(obs).__name__}")


def observable_from_qiskit(obs: Any, num_qubits: int) -> Observable:
    """A qcomp Observable of a Qiskit Pauli sum: label characters right to left are qubits 0, 1, ...
    (Qiskit's little-endian order, the same as qcomp's state-vector bits)."""
    terms: list[tuple[float, dict[int, str]]] = []
    for label, coeff in _pauli_items(obs):
        label = label.upper()
        if len(label) != num_qubits:
            raise InputError(f"observable '{label}' acts on {len(label)} qubits, the circuit has {num_qubits}")
        if set(label) - set("IXYZ"):
            raise UnsupportedError(f"observable term '{label}' is not a Pauli word (qcomp measures Pauli sums)")
        if abs(coeff.imag) > 1e-12 * max(1.0, abs(coeff.real)):
            raise UnsupportedError(f"observable term '{label}' has the complex coefficient {coeff}; "
                                   "expectation values need a Hermitian (real) Pauli sum")
        terms.append((coeff.real, {num_qubits - 1 - k: ch for k, ch in enumerate(label) if ch != "I"}))
    return Observable(normalize_pauli_sum(terms))


def observables_from_qiskit(observables: Any, num_qubits: int) -> tuple[Observable, ...]:
    """One Observable per item of ``observables`` (one observable alone is a list of one)."""
    from qiskit.quantum_info import Pauli, SparsePauliOp

    if observables is None:
        return ()
    if isinstance(observables, (str, Pauli, SparsePauliOp, Mapping)):
        observables = [observables]
    return tuple(observable_from_qiskit(o, num_qubits) for o in observables)


def _target_bits(target: Any, cmap: Mapping[Any, int]) -> tuple[int, ...]:
    """The flat bits of a condition's Clbit or ClassicalRegister (bit k of the value = element k)."""
    from qiskit.circuit import Clbit

    return (cmap[target],) if isinstance(target, Clbit) else tuple(cmap[b] for b in target)


def _condition(condition: Any, cmap: Mapping[Any, int]) -> Condition:
    """An IfElseOp condition as IR clauses: ``(Clbit or register, value)`` or a classical
    expression made of bits and registers compared with integers, ``!``/``~`` of a bit and ``&&``."""
    if isinstance(condition, tuple):
        target, value = condition
        return ((_target_bits(target, cmap), int(value), True),)
    return tuple(_one_bit_equal(c) for c in _expr_condition(condition, cmap))


def _one_bit_equal(clause: Clause) -> Clause:
    """``b != v`` of one bit as ``b == 1 - v`` (the form the .q and OpenQASM readers give)."""
    bits, v, eq = clause
    return (bits, 1 - v, True) if len(bits) == 1 and not eq and v in (0, 1) else clause


def _expr_condition(condition: Any, cmap: Mapping[Any, int]) -> Condition:
    from qiskit.circuit import ClassicalRegister, Clbit
    from qiskit.circuit.classical import expr

    def strip(e: Any) -> Any:
        while isinstance(e, expr.Cast):
            e = e.operand
        return e

    def clauses(e: Any) -> list[Clause]:
        e = strip(e)
        if isinstance(e, expr.Var) and isinstance(e.var, Clbit):
            return [((cmap[e.var],), 1, True)]
        if isinstance(e, expr.Unary) and e.op in (expr.Unary.Op.LOGIC_NOT, expr.Unary.Op.BIT_NOT):
            inner = strip(e.operand)
            if isinstance(inner, expr.Var) and isinstance(inner.var, Clbit):
                return [((cmap[inner.var],), 0, True)]
        if isinstance(e, expr.Binary):
            if e.op == expr.Binary.Op.LOGIC_AND:
                return clauses(e.left) + clauses(e.right)
            if e.op in (expr.Binary.Op.EQUAL, expr.Binary.Op.NOT_EQUAL):
                a, b = strip(e.left), strip(e.right)
                if isinstance(a, expr.Value):
                    a, b = b, a
                if isinstance(a, expr.Var) and isinstance(b, expr.Value) and \
                        isinstance(a.var, (Clbit, ClassicalRegister)):
                    return [(_target_bits(a.var, cmap), int(b.value), e.op == expr.Binary.Op.EQUAL)]
        raise UnsupportedError(f"the classical condition '{condition}' is not supported: qcomp conditions compare "
                               "bits or registers with integers (==, !=), negate a bit or join them with &&")

    return tuple(clauses(condition))


def _join(outer: Condition | None, inner: Condition) -> Condition | None:
    joined = inner if outer is None else outer + inner
    return joined or None  # an empty conjunction always holds


def _negation(cond: Condition, what: str) -> Condition:
    """The one clause that holds where ``cond`` fails (an else branch); conjunctions of equalities
    join into one comparison of their bits first."""
    if len(cond) == 1:
        bits, v, eq = cond[0]
        if len(bits) == 1 and eq:
            return ((bits, 1 - v, True),)
        return ((bits, v, not eq),)
    if all(eq for _, _, eq in cond):
        bits: list[int] = []
        value = 0
        for bs, v, _ in cond:
            for k, b in enumerate(bs):
                bit = (v >> k) & 1
                if b in bits:
                    if (value >> bits.index(b)) & 1 != bit:
                        return ()  # the condition never holds: the else branch always runs
                    continue
                value |= bit << len(bits)
                bits.append(b)
        return ((tuple(bits), value, False),)
    raise UnsupportedError(f"the else branch of '{what}' negates a conjunction with '!=': not expressible as one "
                           "qcomp condition; split the if into nested ones")


def _walk(block: Any, qmap: Mapping[Any, int], cmap: Mapping[Any, int], cond: Condition | None,
          angles: _Angles, ops: list[Operation]) -> None:
    """Append the operations of a circuit or if/else body: gates (under ``cond``), mid-circuit
    ``measure`` into flat bits, ``reset``, and the bodies of ``IfElseOp`` under their conditions."""
    from qiskit.circuit import IfElseOp

    for inst in block.data:
        op = inst.operation
        qs = tuple(qmap[q] for q in inst.qubits)
        if op.name == "barrier":
            continue
        if isinstance(op, IfElseOp):
            c = _condition(op.condition, cmap)
            bodies = [(op.params[0], _join(cond, c))]
            if op.params[1] is not None:
                bodies.append((op.params[1], _join(cond, _negation(c, str(op.condition)))))
            for body, bc in bodies:
                _walk(body, {bq: qmap[q] for bq, q in zip(body.qubits, inst.qubits)},
                      {bb: cmap[b] for bb, b in zip(body.clbits, inst.clbits)}, bc, angles, ops)
            continue
        if getattr(op, "blocks", None) or op.name in ("while_loop", "for_loop", "switch_case", "box"):
            raise UnsupportedError(f"control flow ('{op.name}') is not supported by qcomp's import (if/else is)")
        legacy = getattr(op, "condition", None)  # Qiskit 1.x c_if
        here = cond if legacy is None else _join(cond, _condition(legacy, cmap))
        if op.name == "measure":
            ops.append(Operation("measure", qs, (), None, None, here, cmap[inst.clbits[0]]))
            continue
        if op.name == "reset":
            ops.append(Operation("reset", qs, (), None, None, here))
            continue
        if inst.clbits:
            raise UnsupportedError(f"instruction '{op.name}' uses classical bits; qcomp imports measure, reset and "
                                   "if/else")
        before = len(ops)
        _lower(op, qs, angles, ops, 0)
        if here is not None:
            ops[before:] = [o.with_cond(here) for o in ops[before:]]


def _drop_initial_resets(ops: list[Operation]) -> list[Operation]:
    """Unconditioned resets of qubits nothing acted on yet (on |0>, they do nothing)."""
    touched: set[int] = set()
    out = []
    for op in ops:
        if op.name == "reset" and not op.cond and op.qubits[0] not in touched:
            continue
        touched.update(op.qubits)
        out.append(op)
    return out


def convert(circuit: Any, observables: Any = None, *, name: str | None = None) -> QiskitImport:
    """Convert ``circuit`` (see :func:`from_qiskit`), keeping what the primitives need besides the Program."""
    from qiskit import QuantumCircuit

    if not isinstance(circuit, QuantumCircuit):
        raise InputError(f"expected a qiskit QuantumCircuit, got {type(circuit).__name__}")
    n = circuit.num_qubits
    if n == 0:
        raise InputError("the circuit has no qubits")
    parameters = tuple(circuit.parameters)
    decls, syms = _param_decls(parameters)
    angles = _Angles(syms)
    all_ops: list[Operation] = []
    _walk(circuit, {q: circuit.find_bit(q).index for q in circuit.qubits},
          {b: circuit.find_bit(b).index for b in circuit.clbits}, None, angles, all_ops)
    all_ops = _drop_initial_resets(all_ops)
    # measurements that nothing later acts on or reads are the program's final measurements, the
    # rest stay mid-circuit (as the OpenQASM import does)
    from ..frontend.qasm_import import _terminal_measurements

    ops, measured_list = _terminal_measurements(all_ops, [])
    kept = {id(op) for op in ops}
    last: dict[int, int | None] = {}  # clbit -> qubit of its final measurement (None: a mid-circuit one)
    for op in all_ops:
        if op.name == "measure":
            last[op.bit] = None if id(op) in kept else op.qubits[0]  # type: ignore[index]
    measured = dict.fromkeys(measured_list)
    used: set[str] = {d.name for d in decls}
    registers = _registers(circuit, used)
    bit_regs = _registers(circuit, used | {r.name for r in registers}, "c") if is_dynamic(ops) else ()
    clbits = []
    for creg in circuit.cregs:
        bits = tuple(last.get(circuit.find_bit(b).index) for b in creg)
        clbits.append((creg.name, creg.size, bits))
    program = Program(
        Circuit.from_ops(n, ops),
        registers,
        params=decls,
        observables=observables_from_qiskit(observables, n),
        measured=tuple(measured),
        source_name=name or circuit.name or "<qiskit>",
        bits=bit_regs,
    )
    return QiskitImport(program, parameters, tuple(clbits))


def from_qiskit(circuit: Any, observables: Any = None, *, name: str | None = None) -> Program:
    """A qcomp Program of a Qiskit ``QuantumCircuit``, converted symbolically (no OpenQASM text).

    Every Parameter of the circuit becomes one qcomp param element, in ``circuit.parameters`` order
    (Qiskit's sorted order), so a values array binds as it does in ``circuit.assign_parameters``;
    ParameterVector elements used from index 0 on form one array declaration (``theta[0..k-1]``).
    ParameterExpressions become qcomp angle expressions (through ``sympify``). Standard gates qcomp
    has are kept by name; others are expanded through their Qiskit definitions (parameters stay
    symbolic). Barriers, delays and the global phase are dropped; final measurements become the
    program's ``measure``; a reset before any gate on its qubit is dropped. Dynamic circuits map
    onto qcomp's dynamic IR (docs/language.md "Dynamic circuits"): mid-circuit measurements into
    clbits (Qiskit's classical registers become bit registers), resets, and ``IfElseOp`` bodies
    (``if_test`` / ``if_else``, else branches, nesting) on a clbit or a register compared with an
    integer, or on expressions of those with ``==``, ``!=``, ``!`` and ``&&``. Other control flow
    (loops, switch, box) is an ``UnsupportedError``.

    ``observables``: a ``SparsePauliOp`` (or Pauli, label, ``{label: coeff}``) or a list of them,
    each one ``expect`` output; labels are little-endian as in Qiskit (rightmost is qubit 0).
    """
    return convert(circuit, observables, name=name).program
