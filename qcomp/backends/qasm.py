"""OpenQASM 3 / 2 emitter: builds an ``openqasm3.ast`` tree and prints it with openqasm3's printer.

Qubit order: one register ``qubit[n] q;`` where ``q[k]`` is flat qubit k, i.e. bit k of the
state-vector index (Qiskit's order). Trainable params become ``input float[64] p_<name>_<i>;``,
data inputs ``input float[64] x_<name>_<i>;`` and hoisted non-polynomial functions of inputs
``input float[64] d_<k>;`` computed host-side (``QasmResult.derived_input_values``, or
``qcomp.hardware.manifest.compute_derived_inputs`` for a manifest read from disk). The JSON
manifest maps every declared name back to the .q names and lists the outputs.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import openqasm3
from openqasm3 import ast
from openqasm3.printer import Printer

from .._version import __version__
from ..errors import ExportError, InputError, Span
from ..ir.circuit import Circuit
from ..ir.expr import Binary, CompiledExprs, Const, Expr, Func, Neg, Sym, iter_nodes, to_text
from ..ir.ops import Operation, ValueDecl
from ..ir.program import Program
from ..ir.values import bind_values, element_names
from ..ir.gates import GateTableError, is_fence
from .qasm_gates import ARG_NAMES, definition, definitions_for, gate_name, gate_names, modifiers_of, needs_definition

__all__ = [
    "QasmResult",
    "emit_qasm",
    "resolve_param_values",
    "resolve_input_values",
    "MANIFEST_FORMAT",
]

MANIFEST_FORMAT = "qcomp-qasm-manifest/1"
QUBIT_REG = "q"
BIT_REG = "c"
# Largest integer power expanded into repeated multiplication (Qiskit cannot load '**').
MAX_EXPANDED_POWER = 8
# Names the emitted file must not declare: OpenQASM 3 keywords, built-ins, registers (and the gate
# names of qasm_gates.gate_names(), read at use so that gates added to the library count too).
RESERVED = frozenset(
    """OPENQASM include defcalgrammar def cal defcal gate extern box let break continue if else end
    return for while in switch case default input output const readonly mutable qreg qubit creg bool bit
    int uint float angle complex array void duration stretch gphase inv pow ctrl negctrl dim durationof
    delay reset measure barrier true false pi tau euler im sin cos tan arcsin arccos arctan exp log sqrt
    ceiling floor mod popcount rotl rotr real imag sizeof U CX u1 u2 u3 cu1 cu3 cu phase cphase""".split()
) | frozenset({QUBIT_REG, BIT_REG})


@dataclass(frozen=True)
class QasmResult:
    """The emitted program text, its JSON-serializable manifest and, for :meth:`derived_input_values`,
    the derived inputs' expressions and the program's input declarations."""

    text: str
    manifest: dict[str, Any]
    derived: tuple[Expr, ...] = ()
    input_decls: tuple[ValueDecl, ...] = ()

    def derived_input_values(self, inputs: Any) -> np.ndarray:
        """Values of the derived inputs ``d_<k>``, (B, n_derived) for a batch of inputs or
        (n_derived,) for one row, evaluated from the IR (a manifest read from disk is evaluated by
        :func:`qcomp.hardware.manifest.compute_derived_inputs`)."""
        if len(self.derived) != len(self.manifest.get("derived_inputs", ())):
            raise ExportError("this QasmResult does not carry its derived inputs' expressions; evaluate its "
                              "manifest with qcomp.hardware.manifest.compute_derived_inputs")
        X, batched = bind_values(self.input_decls, inputs, "input")
        if not self.derived:
            out = np.zeros((X.shape[0], 0))
        else:
            cols = CompiledExprs(self.derived)(np.zeros((X.shape[0], 0)), X)
            out = np.ascontiguousarray(np.broadcast_to(cols, (len(self.derived), X.shape[0])).T)
        return out if batched else out[0]


# -- names -------------------------------------------------------------------------------------


def _sanitize(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def declared_names(program: Program) -> tuple[list[str], list[str]]:
    """The OpenQASM names of the flat params and inputs (``p_w_3``, ``x_pixel_0``), collision-free."""
    used: set[str] = set(RESERVED) | gate_names()
    out: list[list[str]] = []
    for prefix, decls in (("p", program.params), ("x", program.inputs)):
        names = []
        for d in decls:
            for i in range(d.size):
                base = f"{prefix}_{_sanitize(d.name)}" + ("" if d.scalar else f"_{i}")
                name = base
                while name in used:  # e.g. param 'w_3' next to param 'w' of size > 3
                    name += "_"
                used.add(name)
                names.append(name)
        out.append(names)
    return out[0], out[1]


# -- value resolution ----------------------------------------------------------------------


def resolve_param_values(program: Program, values: Any) -> np.ndarray:
    """Flat parameter values (P,) from an array (flat, length P) or a mapping by name."""
    return _resolve(program, values, "param")


def resolve_input_values(program: Program, values: Any) -> np.ndarray:
    """Flat input values (I,) for one sample from an array or a mapping by name."""
    return _resolve(program, values, "input")


def _resolve(program: Program, values: Any, kind: str) -> np.ndarray:
    """One row bound by :func:`qcomp.ir.values.bind_values`; a mapping may also use the emitted
    names (``p_w_3``)."""
    decls = program.params if kind == "param" else program.inputs
    if isinstance(values, Mapping):
        emitted = declared_names(program)[0 if kind == "param" else 1]
        known = {d.name for d in decls} | set(element_names(decls))
        to_element = {e: n for e, n in zip(emitted, element_names(decls)) if e not in known}
        twice = [k for k in values if k in to_element and to_element[k] in values]
        if twice:
            raise InputError(f"{kind} '{to_element[twice[0]]}' is given twice: as '{to_element[twice[0]]}' and '{twice[0]}'")
        values = {to_element.get(k, k): v for k, v in values.items()}
    arr, _ = bind_values(decls, values, kind)
    if arr.shape[0] != 1:
        raise InputError(f"{kind} values have {arr.shape[0]} rows; a program binds one row of "
                         f"{arr.shape[1]} {kind} value(s)")
    return arr[0]


# -- expressions -----------------------------------------------------------------------------


def _is_int_power(e: Binary) -> bool:
    r = e.right
    return (
        isinstance(r, Const) and r.val == int(r.val) and 0 < abs(r.val) <= MAX_EXPANDED_POWER
    )


def _expressible(e: Expr) -> bool:
    """Whether Qiskit's importer can load ``e`` as written (+ - * /, unary minus, small powers)."""
    if isinstance(e, (Const, Sym)):
        return True
    if isinstance(e, Neg):
        return _expressible(e.arg)
    if isinstance(e, Binary):
        if e.op in ("+", "-", "*", "/"):
            return _expressible(e.left) and _expressible(e.right)
        if e.op == "**" and _is_int_power(e):
            return _expressible(e.left)
    return False


_PI_FORMS: list[tuple[float, int, int]] = []
for _m in (1, 2, 3, 4, 6, 8, 12, 16):
    for _k in range(1, 33):
        if math.gcd(_k, _m) == 1:
            _PI_FORMS.append(((_k * math.pi) / _m if _k != 1 else math.pi / _m, _k, _m))


def _number(v: float) -> ast.Expression:
    if not math.isfinite(v):
        raise ExportError(f"angle evaluates to {v}, which cannot be written in OpenQASM")
    mag = abs(v)
    node: ast.Expression | None = None
    for val, k, m in _PI_FORMS:
        if val == mag:
            node = ast.Identifier("pi")
            if k != 1:
                node = ast.BinaryExpression(ast.BinaryOperator["*"], ast.IntegerLiteral(k), node)
            if m != 1:
                node = ast.BinaryExpression(ast.BinaryOperator["/"], node, ast.IntegerLiteral(m))
            break
    if node is None:
        node = ast.IntegerLiteral(int(mag)) if mag == int(mag) and mag < 1e15 else ast.FloatLiteral(mag)
    return ast.UnaryExpression(ast.UnaryOperator["-"], node) if v < 0 else node


class _ExprConverter:
    """IR expression -> openqasm3 AST, hoisting non-polynomial functions of inputs into derived inputs."""

    def __init__(self, names: dict[Sym, str], input_name, allow_hoist: bool, source: Program | None = None):
        self.names = names
        self.input_name = input_name  # Sym -> .q element name, for formulas
        self.allow_hoist = allow_hoist
        self.derived: dict[Expr, str] = {}
        self.derived_formulas: list[tuple[str, str]] = []
        self.op: Operation | None = None
        self.source = source  # the program before optimisation, to locate errors

    def _span(self, e: Expr) -> Span | None:
        """Where ``e`` comes from: the gate's own span, or (when a pass rewrote the gate and the
        span was lost) the first gate of the source program whose angle contains ``e``."""
        if self.op is not None and self.op.span is not None:
            return self.op.span
        if self.source is None:
            return None
        ops = [op for op in self.source.circuit.ops() if op.span is not None and op.angles]
        for op in ops:
            if any(node == e for a in op.angles for node in iter_nodes(a)):
                return op.span
        kind = "param" if e.depends_on("param") else "input"
        for op in ops:  # simplification may have rewritten e: the first angle of the same trouble
            if any(not _expressible(a) and a.depends_on(kind) for a in op.angles):
                return op.span
        return None

    def convert(self, e: Expr) -> ast.Expression:
        if isinstance(e, Const):
            return _number(e.val)
        if isinstance(e, Sym):
            return ast.Identifier(self.names[e])
        if isinstance(e, Neg):
            return ast.UnaryExpression(ast.UnaryOperator["-"], self.convert(e.arg))
        if isinstance(e, Binary) and e.op in ("+", "-", "*", "/"):
            return ast.BinaryExpression(ast.BinaryOperator[e.op], self.convert(e.left), self.convert(e.right))
        if isinstance(e, Binary) and e.op == "**" and _is_int_power(e) and _expressible(e.left):
            n = int(e.right.val)
            base = self.convert(e.left)
            node = base
            for _ in range(abs(n) - 1):
                node = ast.BinaryExpression(ast.BinaryOperator["*"], node, self.convert(e.left))
            if n < 0:
                node = ast.BinaryExpression(ast.BinaryOperator["/"], ast.IntegerLiteral(1), node)
            return node
        return self._hoist(e)

    def _hoist(self, e: Expr) -> ast.Expression:
        construct = f"{e.fn}(...)" if isinstance(e, Func) else f"'{e.op}'" if isinstance(e, Binary) else type(e).__name__
        span = self._span(e)
        if e.depends_on("param"):
            raise ExportError(
                f"{construct} of a trainable parameter ({to_text(e)}) cannot be expressed in OpenQASM that"
                " Qiskit loads (only + - * / of parameters); bind the params (--bind-params) or rewrite the angle",
                span,
            )
        if not self.allow_hoist:
            raise ExportError(f"{construct} of inputs ({to_text(e)}) needs a derived input, which OpenQASM 2 cannot declare", span)
        if e not in self.derived:
            name = f"d_{len(self.derived)}"
            self.derived[e] = name
            self.derived_formulas.append((name, to_text(e, self.input_name)))
        return ast.Identifier(self.derived[e])


# -- gates ---------------------------------------------------------------------------------


def _ident(name: str) -> ast.Identifier:
    return ast.Identifier(name)


def _qubit(k: int) -> ast.IndexedIdentifier:
    return ast.IndexedIdentifier(_ident(QUBIT_REG), [[ast.IntegerLiteral(k)]])


def _u_angles(m: np.ndarray) -> tuple[float, float, float]:
    """(theta, phi, lambda) with m = e^{i alpha} U(theta, phi, lambda)."""
    a, b, c, d = m[0, 0], m[0, 1], m[1, 0], m[1, 1]
    theta = 2 * math.atan2(abs(c), abs(a))
    eps = 1e-12
    if abs(c) < eps:  # diagonal
        return 0.0, 0.0, float(np.angle(d) - np.angle(a))
    if abs(a) < eps:  # anti-diagonal
        return math.pi, 0.0, float(np.angle(-b) - np.angle(c))
    return theta, float(np.angle(c) - np.angle(a)), float(np.angle(-b) - np.angle(a))


def _definition(name: str, version: int, conv: _ExprConverter) -> ast.QuantumGateDefinition:
    angle_args, qubit_args, body = definition(name)
    stmts = []
    for gname, angles, qs in body:
        gname = gate_name(gname, 2) if version == 2 else gname
        stmts.append(
            ast.QuantumGate(
                [], _ident(gname), [conv.convert(a) for a in angles], [_ident(qubit_args[i]) for i in qs]
            )
        )
    return ast.QuantumGateDefinition(
        _ident(name), [_ident(a) for a in angle_args], [_ident(q) for q in qubit_args], stmts
    )


class _Qasm2Printer(Printer):
    """openqasm3's printer with OpenQASM 2 declarations (qreg/creg) and arrow measurements."""

    def __init__(self, stream):
        super().__init__(stream, old_measurement=True)

    def visit_QubitDeclaration(self, node, context):
        self._start_line(context)
        self.stream.write("qreg ")
        self.visit(node.qubit, context)
        self.stream.write("[")
        self.visit(node.size)
        self.stream.write("]")
        self._end_statement(context)

    def visit_BranchingStatement(self, node, context):
        # OpenQASM 2: 'if(creg==value) statement;' per statement (_if_blocks writes only that form)
        assert not node.else_block
        for st in node.if_block:
            self._start_line(context)
            self.stream.write("if(")
            self.visit(node.condition.lhs, context)
            self.stream.write("==")
            self.visit(node.condition.rhs, context)
            self.stream.write(") ")
            inner = io.StringIO()
            sub = _Qasm2Printer(inner)
            sub.visit(st)
            self.stream.write(inner.getvalue().strip() + "\n")

    def visit_ClassicalDeclaration(self, node, context):
        assert isinstance(node.type, ast.BitType)
        self._start_line(context)
        self.stream.write("creg ")
        self.visit(node.identifier, context)
        self.stream.write("[")
        self.visit(node.type.size)
        self.stream.write("]")
        self._end_statement(context)


# -- dynamic circuits ----------------------------------------------------------------------


def _bit_identifiers(work: Program, taken: set[str], version: int = 3) -> list[ast.Expression]:
    """Per flat bit its OpenQASM l-value/expression (``c_[0]``, ``d``): each bit register keeps its
    name unless OpenQASM or the emitted file uses it (the terminal measurement register is ``c``),
    then it gets trailing underscores."""
    used = set(RESERVED) | gate_names() | taken
    out: list[ast.Expression] = [None] * work.num_bits  # type: ignore[list-item]
    for r in work.bits:
        name = _sanitize(r.name)
        while name in used:
            name += "_"
        used.add(name)
        for i in range(r.size):
            # OpenQASM 2 has no single bits: a scalar bit is a creg of size 1
            out[r.offset + i] = _ident(name) if r.scalar and version == 3 else \
                ast.IndexedIdentifier(_ident(name), [[ast.IntegerLiteral(i)]])
    return out


def _bit_register_name(bit_ids: list[ast.Expression], r) -> str:
    e = bit_ids[r.offset]
    return e.name if isinstance(e, ast.Identifier) else e.name.name  # type: ignore[union-attr]


def _translate_conditioned(work: Program, translate, basis: set[str]) -> Program:
    """Basis translation of classically conditioned gates: each translated alone, the pieces keeping
    its condition (a branch's global phase is not observable)."""
    out: list[Operation] = []
    for op in work.circuit.ops():
        if not op.cond or op.name in basis:
            out.append(op)
            continue
        one = work.with_circuit(Circuit.from_ops(work.num_qubits, [op.with_cond(None)]), observables=(),
                                measured=(), declared=None)
        out.extend(o.with_cond(op.cond) for o in translate.run(one).circuit.ops())
    return work.with_circuit(Circuit.from_ops(work.num_qubits, out))


def _register_of(work: Program, bits: tuple[int, ...]):
    for r in work.bits:
        if tuple(range(r.offset, r.offset + r.size)) == tuple(bits):
            return r
    return None


def _bit_expr(bit_ids, b: int) -> ast.Expression:
    e = bit_ids[b]
    if isinstance(e, ast.IndexedIdentifier):
        return ast.IndexExpression(e.name, [ast.IntegerLiteral(e.indices[0][0].value)])
    return e


def _literal_expr(bit_ids, b: int, v: int) -> ast.Expression:
    """A one-bit test as Qiskit's importer reads it: ``c[0]`` or ``!c[0]``."""
    e = _bit_expr(bit_ids, b)
    return e if v else ast.UnaryExpression(ast.UnaryOperator["!"], e)


def _nest(clauses: list, stmts: list[ast.Statement], work: Program, bit_ids, version: int, span) -> list[ast.Statement]:
    """``stmts`` under the conjunction of ``clauses`` as nested if blocks of the forms
    ``qiskit.qasm3.loads`` reads: ``reg == int``, ``bit``, ``!bit``; a ``!=`` is the else branch
    of the ``==`` (OpenQASM 2: only ``if(creg==int)`` of whole registers)."""
    if not clauses:
        return stmts
    (bits, value, equal), rest = clauses[0], clauses[1:]
    reg = _register_of(work, bits)
    if version == 2:
        if reg is None or not equal or len(clauses) > 1:
            raise ExportError("OpenQASM 2 can only condition a gate on one whole creg equal to an integer"
                              " ('if(c==3)'); this condition reads single bits of a register, joins conditions or uses"
                              " '!=': give each tested bit its own register, or emit OpenQASM 3", span)
        return [ast.BranchingStatement(ast.BinaryExpression(ast.BinaryOperator["=="],
                                                            _ident(_bit_register_name(bit_ids, reg)),
                                                            ast.IntegerLiteral(value)), stmts, [])]
    if reg is not None and not reg.scalar:
        test = ast.BinaryExpression(ast.BinaryOperator["=="], _ident(_bit_register_name(bit_ids, reg)),
                                    ast.IntegerLiteral(value))
    elif len(bits) == 1:
        test = _literal_expr(bit_ids, bits[0], value)
    elif equal:  # a conjunction of single bits
        lits = [((b,), (value >> k) & 1, True) for k, b in enumerate(bits)]
        return _nest(lits + rest, stmts, work, bit_ids, version, span)
    else:  # not (l1 and l2 ...) = not l1, or l1 and not (l2 ...)
        b0, v0 = bits[0], value & 1
        tail = ((tuple(bits[1:]), value >> 1, False),)
        inner = _nest(list(tail) + rest, stmts, work, bit_ids, version, span)
        other = _nest(rest, stmts, work, bit_ids, version, span)
        return [ast.BranchingStatement(_literal_expr(bit_ids, b0, v0), inner, other)]
    inner = _nest(rest, stmts, work, bit_ids, version, span)
    return [ast.BranchingStatement(test, inner, []) if equal else ast.BranchingStatement(test, [], inner)]


def _if_blocks(items: list, work: Program, bit_ids, version: int) -> list[ast.Statement]:
    """Statements with consecutive equally-conditioned gates regrouped into one if block, and an
    if whose next group has the complementary one-clause condition merged into its else."""
    spans = {id(st): op.span for st, op in zip((st for _, st in items), work.circuit.ops())}
    groups: list[tuple[Any, list[ast.Statement]]] = []
    for cond, st in items:
        if cond and groups and groups[-1][0] == cond and version == 3:
            groups[-1][1].append(st)
        else:
            groups.append((cond, [st]))
    out: list[ast.Statement] = []
    i = 0
    while i < len(groups):
        cond, stmts = groups[i]
        if not cond:
            out.extend(stmts)
            i += 1
            continue
        span = spans.get(id(stmts[0]))
        nxt = groups[i + 1] if i + 1 < len(groups) else None
        if version == 3 and nxt is not None and nxt[0] and len(cond) == 1 and len(nxt[0]) == 1 and \
                _complementary(cond[0], nxt[0][0]):
            # the branches exclude each other, so which is written first does not matter: the
            # '==' one is the if block
            first, second = (cond, stmts), nxt
            if not cond[0][2]:
                first, second = nxt, (cond, stmts)
            (block,) = _nest(list(first[0]), first[1], work, bit_ids, version, span)
            if isinstance(block, ast.BranchingStatement) and not block.else_block and \
                    not any(isinstance(s, ast.BranchingStatement) for s in block.if_block):
                block.else_block = second[1]
                out.append(block)
                i += 2
                continue
        out.extend(_nest(list(cond), stmts, work, bit_ids, version, span))
        i += 1
    return out


def _complementary(a, b) -> bool:
    (ba, va, ea), (bb, vb, eb) = a, b
    if len(ba) == 1 and ba == bb and ea and eb:
        return va != vb
    return ba == bb and va == vb and ea != eb


# -- the emitter ---------------------------------------------------------------------------


def emit_qasm(
    program: Program,
    *,
    version: int = 3,
    bind_params: Any = None,
    bind_inputs: Any = None,
    inputs_mode: str = "symbolic",
    basis: Sequence[str] | str | None = None,
    source: Program | None = None,
) -> QasmResult:
    """Emit ``program`` as OpenQASM ``version`` (3 or 2) text plus a JSON-ready manifest.

    ``bind_params``: flat array (P,) or mapping by name, folded in as numbers. ``bind_inputs``: one
    sample (I,) or a mapping, folded in (implies ``inputs_mode="bound"``). ``basis``: gate names to
    translate to (runs the ``basis-translation`` pass). ``source``: the program before
    optimisation; an angle that cannot be exported is reported at its gate there when the
    optimised gate no longer carries a source location.
    """
    if version not in (2, 3):
        raise ExportError(f"unsupported OpenQASM version {version!r} (use 2 or 3)")
    if inputs_mode not in ("symbolic", "bound"):
        raise ExportError(f"inputs mode must be 'symbolic' or 'bound', got {inputs_mode!r}")
    if bind_inputs is not None:
        inputs_mode = "bound"
    if inputs_mode == "bound" and bind_inputs is None and program.num_inputs:
        raise ExportError("inputs mode 'bound' needs input values (bind_inputs / --bind-inputs)")
    param_names, input_names = declared_names(program)
    pvals = resolve_param_values(program, bind_params) if bind_params is not None else None
    xvals = resolve_input_values(program, bind_inputs) if bind_inputs is not None else None
    if version == 2:
        if program.num_params and pvals is None:
            raise ExportError(
                f"OpenQASM 2 has no inputs, so the {program.num_params} trainable param(s) must be bound"
                " (bind_params / --bind-params), or emit OpenQASM 3"
            )
        if program.num_inputs and xvals is None:
            raise ExportError(
                f"OpenQASM 2 has no inputs, so the {program.num_inputs} input(s) must be bound"
                " (bind_inputs / --bind-inputs), or emit OpenQASM 3"
            )

    # Fold bound values into the angles.
    mapping: dict[Sym, Expr] = {}
    if pvals is not None:
        mapping.update({s: Const(float(v)) for s, v in zip(program.param_symbols(), pvals)})
    if xvals is not None:
        mapping.update({s: Const(float(v)) for s, v in zip(program.input_symbols(), xvals)})
    work = program
    if mapping:
        ops = [op.with_angles([a.subs(mapping) for a in op.angles]) for op in program.circuit.ops()]
        work = program.with_circuit(Circuit.from_ops(program.num_qubits, ops))
    basis_list: list[str] | None = None
    if basis is not None:
        basis_list = [b for b in (basis.replace(";", ",").split(",") if isinstance(basis, str) else basis) if b]
        from qcomp.passes import make_pass

        translate = make_pass("basis-translation", {"basis": ";".join(basis_list)})
        work = translate.apply(work)
        if any(op.cond for op in work.circuit.ops()):
            work = _translate_conditioned(work, translate, set(basis_list))
        outside = sorted({op.name for op in work.circuit.ops() if not is_fence(op.name)} - set(basis_list))
        if outside:
            raise ExportError(f"basis translation left gates outside the basis {basis_list}: {', '.join(outside)}")

    names: dict[Sym, str] = {}
    names.update(zip(program.param_symbols(), param_names))
    names.update(zip(program.input_symbols(), input_names))
    input_display = {s: s.name for s in program.input_symbols()}
    conv = _ExprConverter(names, lambda s: input_display.get(s, s.name), allow_hoist=(version == 3), source=source)

    # Gate statements, in the circuit's deterministic topological order; classically conditioned
    # ones are collected as (condition, statement) and written as if blocks (_if_blocks).
    bit_ids = _bit_identifiers(work, set(param_names) | set(input_names), version)
    items: list[tuple[Any, ast.Statement]] = []
    used: set[str] = set()
    for op in work.circuit.ops():
        conv.op = op
        if op.name == "measure":
            items.append((op.cond, ast.QuantumMeasurementStatement(ast.QuantumMeasurement(_qubit(op.qubits[0])),
                                                                   bit_ids[op.bit])))
            continue
        if op.name == "reset":
            items.append((op.cond, ast.QuantumReset(_qubit(op.qubits[0]))))
            continue
        body: list[ast.Statement] = []
        if op.name == "unitary":
            if op.num_qubits != 1:
                raise ExportError(
                    f"a fused {op.num_qubits}-qubit 'unitary' block cannot be written as OpenQASM gates;"
                    " compile without fuse-blocks for the qasm target",
                    op.span,
                )
            angles = [_number(v) for v in _u_angles(np.array(op.matrix, dtype=complex))]
            gname = "U" if version == 3 else "u3"
            body.append(ast.QuantumGate([], _ident(gname), angles, [_qubit(op.qubits[0])]))
            items.append((op.cond, body[0]))
            continue
        if is_fence(op.name):
            if op.name != "barrier":
                raise ExportError(f"'{op.name}' has no OpenQASM form", op.span)
            body.append(ast.QuantumBarrier([_qubit(q) for q in op.qubits]))
            items.append((None, body[0]))
            continue
        if op.gate is None:
            raise ExportError(f"gate '{op.name}' has no OpenQASM form", op.span)
        args = [conv.convert(a) for a in op.angles]
        if version == 3 and op.gate.base is not None:
            # a derived gate (qcomp.ir.modifiers) is written as its OpenQASM 3 modifiers
            mods, base = modifiers_of(op.name)
            if needs_definition(base, version):
                used.add(base)
            body.append(ast.QuantumGate(mods, _ident(gate_name(base, version)), args, [_qubit(q) for q in op.qubits]))
            items.append((op.cond, body[0]))
            continue
        gname = gate_name(op.name, version)
        if needs_definition(op.name, version):
            used.add(op.name)
        body.append(ast.QuantumGate([], _ident(gname), args, [_qubit(q) for q in op.qubits]))
        items.append((op.cond, body[0]))
    conv.op = None
    body = _if_blocks(items, work, bit_ids, version)

    # Measurements: one register-wide statement when every qubit is measured in order.
    measured = list(work.measured)
    meas: list[ast.Statement] = []
    if measured:
        if measured == list(range(work.num_qubits)):
            meas.append(ast.QuantumMeasurementStatement(ast.QuantumMeasurement(_ident(QUBIT_REG)), _ident(BIT_REG)))
        else:
            for j, qk in enumerate(measured):
                meas.append(
                    ast.QuantumMeasurementStatement(
                        ast.QuantumMeasurement(_qubit(qk)),
                        ast.IndexedIdentifier(_ident(BIT_REG), [[ast.IntegerLiteral(j)]]),
                    )
                )

    stmts: list[ast.Statement] = []
    stmts.append(ast.Include("stdgates.inc" if version == 3 else "qelib1.inc"))
    dconv = _ExprConverter(dict(ARG_NAMES), lambda s: s.name, allow_hoist=False)
    try:
        defined = definitions_for(used, version)
    except GateTableError as e:  # a derived gate without a decomposition (pow of a multi-qubit gate)
        raise ExportError(f"{e.message}; export OpenQASM 3, which writes it as modifiers") from None
    for gname in defined:
        stmts.append(_definition(gname, version, dconv))
    params_declared = pvals is None
    inputs_declared = xvals is None
    if version == 3:
        # Every param/input is declared when symbolic (stable interface even if a pass removed a use).
        float64 = ast.FloatType(ast.IntegerLiteral(64))
        if params_declared:
            for n in param_names:
                stmts.append(ast.IODeclaration(ast.IOKeyword.input, float64, _ident(n)))
        if inputs_declared:
            for n in input_names:
                stmts.append(ast.IODeclaration(ast.IOKeyword.input, float64, _ident(n)))
        for n, _ in conv.derived_formulas:
            stmts.append(ast.IODeclaration(ast.IOKeyword.input, float64, _ident(n)))
    stmts.append(ast.QubitDeclaration(_ident(QUBIT_REG), ast.IntegerLiteral(work.num_qubits)))
    for r in work.bits:
        size = None if r.scalar and version == 3 else ast.IntegerLiteral(r.size)
        stmts.append(ast.ClassicalDeclaration(ast.BitType(size), _ident(_bit_register_name(bit_ids, r)), None))
    if measured:
        stmts.append(ast.ClassicalDeclaration(ast.BitType(ast.IntegerLiteral(len(measured))), _ident(BIT_REG), None))
    stmts.extend(body)
    stmts.extend(meas)
    tree = ast.Program(statements=stmts, version="3.0" if version == 3 else "2.0")
    if version == 3:
        text = openqasm3.dumps(tree, indent="  ")
    else:
        stream = io.StringIO()
        _Qasm2Printer(stream).visit(tree)
        text = stream.getvalue()

    manifest = _manifest(
        program, work, version, param_names if params_declared else [], input_names if inputs_declared else [],
        conv.derived_formulas, measured, defined, basis_list, pvals is not None,
        xvals,
    )
    return QasmResult(text, manifest, tuple(conv.derived), tuple(program.inputs))


def _manifest(program, work, version, param_names, input_names, derived, measured, defined, basis, params_bound, xvals):
    names = work.qubit_names()
    n = work.num_qubits
    pnames = program.param_names()
    inames = program.input_names()
    outputs = []
    for i, o in enumerate(work.observables):
        outputs.append(
            {
                "index": i,
                "text": o.text,
                "terms": [
                    {
                        "coeff": t.coeff,
                        "paulis": [[q, p] for q, p in t.paulis],
                        "qiskit_label": t.label(n),
                    }
                    for t in o.terms
                ],
            }
        )
    return {
        "format": MANIFEST_FORMAT,
        "qcomp_version": __version__,
        "source": program.source_name,
        "qasm_version": "3.0" if version == 3 else "2.0",
        "qubit_order": (
            f"one register {QUBIT_REG}[{n}]; {QUBIT_REG}[k] is flat qubit k = bit k of the state-vector index"
            " (Qiskit order: the rightmost character of a Pauli label is qubit 0)"
        ),
        "num_qubits": n,
        "qubits": names,
        "original_qubits": list(work.qubit_map) if work.qubit_map is not None else None,
        "params": dict(zip(param_names, pnames)) if param_names else {},
        "params_bound": params_bound,
        "unused_params": [] if params_bound else _unused_params(work, pnames),
        "inputs": dict(zip(input_names, inames)) if input_names else {},
        "inputs_bound": xvals is not None,
        "bound_inputs": [float(v) for v in xvals] if xvals is not None else None,
        "input_decls": [{"name": d.name, "size": d.size, "scalar": d.scalar} for d in program.inputs],
        "param_decls": [{"name": d.name, "size": d.size, "scalar": d.scalar} for d in program.params],
        "derived_inputs": [{"name": name, "formula": f} for name, f in derived],
        "outputs": outputs,
        "measurement_groups": _measurement_groups(work),

        # var/probs/sample outputs as positions in "outputs" (absent: one expectation per output);
        # qcomp.hardware.manifest.declared_from_counts computes them from counts
        **({"declared_outputs": [d.to_json() for d in work.declared]} if work.declared is not None else {}),
        "measured": {
            "register": BIT_REG if measured else None,
            "qubits": measured,
            "names": [names[q] for q in measured],
        },
        "gate_definitions": defined,
        "basis": basis,
        # dynamic circuits: the bit registers mid-circuit measurements write (exported name -> .q name)
        **({"bits": {_bit_register_name(_bit_identifiers(work, set(param_names) | set(input_names)), r): r.name
                     for r in work.bits}} if work.bits else {}),
    }


def _measurement_groups(work) -> list[dict[str, Any]]:
    """The outputs' Pauli terms in qubit-wise commuting groups (qcomp.passes.group_measurements): per
    group the measured qubits (outcome bit j is qubits[j]), the basis per qubit, its Qiskit-style
    label and the [output, term] pairs it measures; a hardware run costs one circuit per group."""
    from ..passes.group_measurements import group_observables

    return group_observables(work.observables, work.num_qubits).to_json(work.observables)


def _unused_params(work, pnames: list[str]) -> list[str]:
    """Model names of params no emitted gate depends on (e.g. removed by light-cone): their
    gradient is identically zero."""
    used = {s.index for op in work.circuit.ops() for a in op.angles for s in a.symbols() if s.kind == "param"}
    return [name for i, name in enumerate(pnames) if i not in used]
