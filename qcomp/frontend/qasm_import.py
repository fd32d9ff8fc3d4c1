"""Import OpenQASM 3 (and 2) through ``openqasm3.parse`` into the qcomp IR.

Supported: qubit/qreg registers, bit/creg registers, ``input float``/``input angle`` (become scalar
params), ``const`` declarations, stdgates.inc and qelib1.inc gates (plus U, CX, u1/u2/u3, cu1/cu3/cu,
phase/cphase), gate definitions (expanded; a definition equal to a library gate up to global phase,
checked numerically, becomes that gate), ``inv @`` and ``pow(k) @`` with integer k, broadcast over
registers, ``for`` loops over constant ranges (unrolled), ``measure`` (into bits: mid-circuit unless
nothing later touches the qubit or reads the bit, then terminal), ``reset``, ``if``/``else`` on bits
and bit registers (``c == 3``, ``c[0]``, ``!c[0]``, ``c[0] == true``, ``&&``; OpenQASM 2
``if(c==3) gate;``), ``barrier`` (ignored) and ``gphase`` (dropped: the IR has no global phase).
Everything else raises UnsupportedError with its line.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import math
import re
from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np
import openqasm3
from openqasm3 import ast

from ..errors import IncludeError, ParseError, QCompError, ResourceLimitError, SemanticError, Span, UnsupportedError
from ..ir import expr as E
from ..ir.circuit import Circuit
from ..ir.gates import ALIASES, GATES, QASM_NAMES, inverse as gate_inverse
from ..ir.modifiers import GPHASE, ModifierError, apply_modifiers
from ..ir.ops import Operation, Register, ValueDecl
from ..ir.program import Program
from ..ir.unitary import ops_unitary
from .lower import (DEFAULT_MAX_OPS, DEFAULT_MAX_QUBITS, Scope, _PricedOut, check_angle, check_division,
                    check_unroll_budget, price_statement, sum_chain)
from .parser import deep_recursion
from .source import QASM_INCLUDE_SUFFIXES, read_source

__all__ = ["import_qasm", "QASM_GATES"]

STANDARD_INCLUDES = ("stdgates.inc", "qelib1.inc")
CONSTANTS = {"pi": math.pi, "π": math.pi, "tau": 2 * math.pi, "τ": 2 * math.pi, "euler": math.e, "ℇ": math.e}
FUNCTIONS = {"sin": "sin", "cos": "cos", "tan": "tan", "exp": "exp", "ln": "log", "log": "log", "sqrt": "sqrt",
             "arcsin": "arcsin", "arccos": "arccos", "arctan": "arctan"}

Expansion = Callable[[tuple[E.Expr, ...]], list[tuple[str, tuple[E.Expr, ...], tuple[int, ...]]]]


def _half(e: E.Expr) -> E.Expr:
    return E.mul(E.Const(0.5), e)


def _cu(a: tuple[E.Expr, ...]):
    """Controlled U(theta, phi, lambda) with phase gamma on the control (Qiskit's CUGate definition)."""
    theta, phi, lam, gamma = a
    return [
        ("p", (gamma,), (0,)),
        ("p", (_half(E.add(lam, phi)),), (0,)),
        ("p", (_half(E.sub(lam, phi)),), (1,)),
        ("cx", (), (0, 1)),
        ("u", (E.neg(_half(theta)), E.Const(0.0), E.neg(_half(E.add(phi, lam)))), (1,)),
        ("cx", (), (0, 1)),
        ("u", (_half(theta), phi, E.Const(0.0)), (1,)),
    ]


def _direct(name: str, nq: int) -> Expansion:
    return lambda a: [(name, tuple(a), tuple(range(nq)))]


# OpenQASM names that are no library gate, its alias or its OpenQASM 3/2 name (those come from the
# gate table at use, so a gate added later imports too) -> (angles, qubits, expansion into library
# gates on local qubits 0..k-1)
_QASM_EXTRA: dict[str, tuple[int, int, Expansion]] = {
    "u2": (2, 1, lambda a: [("u", (E.Const(math.pi / 2), a[0], a[1]), (0,))]),
    "u0": (1, 1, lambda a: [("id", (), (0,))]),  # qelib1.inc: U(0,0,0) whatever the argument
    "CX": (0, 2, _direct("cx", 2)),
    "cphase": (1, 2, _direct("cp", 2)),
    "cu3": (3, 2, lambda a: _cu((a[0], a[1], a[2], E.Const(0.0)))),
    "cu": (4, 2, _cu),
}


class _QasmGates(Mapping[str, tuple[int, int, Expansion]]):
    """OpenQASM gate name -> (angles, qubits, expansion into library gates)."""

    def __getitem__(self, name: str) -> tuple[int, int, Expansion]:
        extra = _QASM_EXTRA.get(name)
        if extra is not None:
            return extra
        lib = name if name in GATES else ALIASES.get(name) or QASM_NAMES[name]
        g = GATES[lib]
        return g.num_angles, g.num_qubits, _direct(lib, g.num_qubits)

    def __iter__(self) -> Iterator[str]:
        names = list(GATES) + list(ALIASES) + list(QASM_NAMES) + list(_QASM_EXTRA)
        return iter(dict.fromkeys(names))

    def __len__(self) -> int:
        return sum(1 for _ in self)


QASM_GATES = _QasmGates()


_UNSUPPORTED = {
    ast.WhileLoop: "'while' loops",
    ast.SwitchStatement: "'switch'",
    ast.SubroutineDefinition: "subroutine definitions ('def')",
    ast.CalibrationDefinition: "pulse-level calibrations ('defcal')",
    ast.CalibrationStatement: "pulse-level 'cal' blocks",
    ast.CalibrationGrammarDeclaration: "'defcalgrammar'",
    ast.DelayInstruction: "'delay'",
    ast.Box: "'box'",
    ast.ExternDeclaration: "'extern' declarations",
    ast.ClassicalAssignment: "classical assignments",
    ast.ReturnStatement: "'return'",
    ast.BreakStatement: "'break'",
    ast.ContinueStatement: "'continue'",
    ast.EndStatement: "'end'",
    ast.ExpressionStatement: "expression statements",
}


class _Importer:
    def __init__(self, name: str, text: str, max_qubits: int, max_ops: int, base_dir: Path):
        self.file = name
        self.lines = text.split("\n")
        self.max_qubits = max_qubits
        self.max_ops = max_ops
        self.base_dir = base_dir
        self.registers: dict[str, Register] = {}
        self.bits: dict[str, int] = {}
        self.bit_regs: dict[str, Register] = {}  # flat bit offsets (dynamic circuits)
        self.num_bits = 0
        self.in_if = 0
        self.params: dict[str, ValueDecl] = {}
        self.consts: dict[str, float] = {}
        self.gates: dict[str, ast.QuantumGateDefinition] = {}
        self.library_alias: dict[str, str] = {}  # user definitions equal to a library gate
        self.num_qubits = 0
        self.ops: list[Operation] = []
        self.measured: list[int] = []
        self.measured_set: set[int] = set()
        self.include_stack: list[str] = []
        self.gate_stack: list[str] = []
        self.current: ast.Statement | None = None  # the statement being imported, for diagnostics
        self.iterations = 0  # loop iterations unrolled so far (empty bodies cost time too)
        # Unrolling is priced before it is done (see _cost_stmts); inside a priced region nothing
        # is priced again.
        self.priced = False
        self.call_span: Span | None = None
        self.gate_costs: dict[tuple, tuple[int, int]] = {}
        self.relevant: dict[str, frozenset[int]] = {}
        self.cost_stack: list[str] = []
        self.price_steps = 0  # work done pricing the current top-level statement
        self.aliases: dict[str, list[int]] = {}  # ``let`` names -> flat qubits
        # > 0 while a definition is expanded for ctrl / pow modifiers: its gphase is kept (as a
        # GPHASE operation), since a control turns it into a phase on the control qubits
        self.collect_phase = 0

    # -- diagnostics -------------------------------------------------------------------------
    def span(self, node: ast.QASMNode | None) -> Span | None:
        s = getattr(node, "span", None)
        line = self.lines[s.start_line - 1] if s is not None and 0 < s.start_line <= len(self.lines) else None
        if s is None or line is None or s.start_column >= len(line) or isinstance(node, ast.Identifier):
            # openqasm3 gives some identifiers bogus columns: fall back to the enclosing statement
            if node is not self.current and self.current is not None:
                return self.span(self.current)
            return None
        end = s.end_column + 2 if s.end_line == s.start_line and s.end_column >= s.start_column else None
        return Span(self.file, s.start_line, s.start_column + 1, end, line)

    def unsupported(self, what: str, node) -> UnsupportedError:
        return UnsupportedError(f"not supported in imported OpenQASM: {what}", self.span(node))

    # -- expressions -------------------------------------------------------------------------
    def expr(self, node: ast.Expression, scope: Scope) -> E.Expr:
        if isinstance(node, ast.IntegerLiteral):
            return E.Const(float(node.value))
        if isinstance(node, ast.FloatLiteral):
            return E.Const(float(node.value))
        if isinstance(node, ast.Identifier):
            v = scope.lookup_value(node.name)
            if v is not None:
                return v
            if node.name in self.consts:
                return E.Const(self.consts[node.name])
            if node.name in CONSTANTS:
                return E.Const(CONSTANTS[node.name])
            if node.name in self.params:
                return self.params[node.name].symbol(0)
            close = difflib.get_close_matches(node.name, list(self.consts) + list(self.params) + list(CONSTANTS), n=1)
            raise SemanticError(f"undeclared name '{node.name}'", self.span(node),
                                (f"did you mean '{close[0]}'?",) if close else ())
        if isinstance(node, ast.UnaryExpression):
            if node.op.name == "-":
                return E.neg(self.expr(node.expression, scope))
            raise self.unsupported(f"unary operator '{node.op.name}'", node)
        if isinstance(node, ast.BinaryExpression):
            op = node.op.name
            if op in ("+", "-"):  # a left-deep chain: one signed sum, balanced when long (as for .q)
                chain = sum_chain(node, lambda n: (n.op.name == "-", n.lhs, n.rhs)
                                  if isinstance(n, ast.BinaryExpression) and n.op.name in ("+", "-") else None)
                return E.signed_sum([(negate, self.expr(t, scope)) for negate, t in chain])
            if op in ("*", "/", "**", "%"):
                a, b = self.expr(node.lhs, scope), self.expr(node.rhs, scope)
                check_division(op, a, b, self.span(node))
                return E.binary(op, a, b)
            raise self.unsupported(f"operator '{op}' in an angle", node)
        if isinstance(node, ast.FunctionCall):
            fn = FUNCTIONS.get(node.name.name)
            if fn is None or len(node.arguments) != 1:
                raise self.unsupported(f"function '{node.name.name}'", node)
            return E.func(fn, self.expr(node.arguments[0], scope))
        if isinstance(node, ast.Cast) and isinstance(node.type, (ast.FloatType, ast.AngleType)):
            return self.expr(node.argument, scope)
        raise self.unsupported(f"expression '{type(node).__name__}'", node)

    def int_expr(self, node: ast.Expression, scope: Scope, what: str) -> int:
        e = self.expr(node, scope)
        if not e.is_constant:
            raise SemanticError(f"{what} must be a constant integer", self.span(node))
        v = e.value()
        if not math.isfinite(v) or v != int(v):
            raise SemanticError(f"{what} must be an integer, got {E.format_number(v) if math.isfinite(v) else v}",
                                self.span(node))
        return int(v)

    # -- qubits ----------------------------------------------------------------------------
    def alias(self, s: ast.AliasStatement, scope: Scope) -> None:
        """``let a = q[1:2] ++ r;``: a name for a list of qubits (Qiskit writes these for registers
        that share qubits)."""
        name = s.target.name
        self._declare(name, s)
        stack = [s.value]
        flat: list[int] = []
        while stack:
            v = stack.pop(0)
            if isinstance(v, ast.Concatenation):
                stack[:0] = [v.lhs, v.rhs]
            elif isinstance(v, ast.IndexExpression) and isinstance(v.collection, ast.Identifier):
                node = ast.IndexedIdentifier(v.collection, [v.index])
                node.span = v.span
                flat += self.qubits_of(node, scope)
            elif isinstance(v, (ast.Identifier, ast.IndexedIdentifier)):
                flat += self.qubits_of(v, scope)
            else:
                raise self.unsupported(f"'let' of '{type(v).__name__}'", s)
        if len(set(flat)) != len(flat):
            raise SemanticError(f"'let {name}' names a qubit twice", self.span(s))
        self.aliases[name] = flat

    def qubits_of(self, node, scope: Scope) -> list[int]:
        if isinstance(node, ast.IndexedIdentifier) and node.name.name in self.aliases:
            flat = self.aliases[node.name.name]
            reg = Register(node.name.name, len(flat), 0)
            return [flat[i] for i in self._qubits_of(node, scope, reg)]
        if isinstance(node, ast.Identifier) and node.name in self.aliases and scope.lookup_qubit(node.name) is None:
            return list(self.aliases[node.name])
        return self._qubits_of(node, scope)

    def _qubits_of(self, node, scope: Scope, alias: Register | None = None) -> list[int]:
        if isinstance(node, ast.Identifier):
            q = scope.lookup_qubit(node.name)
            if q is not None:
                return [q]
            reg = self.registers.get(node.name)
            if reg is None:
                self._undeclared_register(node.name, node, scope)
            return [reg.offset + i for i in range(reg.size)]
        if isinstance(node, ast.IndexedIdentifier):
            reg = alias or self.registers.get(node.name.name)
            if reg is None:
                self._undeclared_register(node.name.name, node, scope)
            if len(node.indices) != 1:
                raise self.unsupported("multi-dimensional qubit indexing", node)
            index = node.indices[0]
            out: list[int] = []
            items = index.values if isinstance(index, ast.DiscreteSet) else index
            for item in items:
                if isinstance(item, ast.RangeDefinition):
                    start = 0 if item.start is None else self.int_expr(item.start, scope, "range start")
                    end = reg.size - 1 if item.end is None else self.int_expr(item.end, scope, "range end")
                    step = 1 if item.step is None else self.int_expr(item.step, scope, "range step")
                    if step == 0:
                        raise SemanticError("range step must not be zero", self.span(item))
                    idx = range(start, end + (1 if step > 0 else -1), step)  # OpenQASM ranges are inclusive
                    # bounds-check the ends before listing the indices: a slice may name 10**12 of them
                    for i in (idx[0], idx[-1]) if len(idx) else ():
                        if not 0 <= i < reg.size:
                            raise SemanticError(
                                f"qubit index {i} out of range for register '{reg.name}' of size {reg.size}",
                                self.span(node))
                else:
                    idx = [self.int_expr(item, scope, "qubit index")]
                for i in idx:
                    if not 0 <= i < reg.size:
                        raise SemanticError(f"qubit index {i} out of range for register '{reg.name}' of size {reg.size}",
                                            self.span(node))
                    out.append(reg.offset + i)
            return out
        raise self.unsupported(f"qubit operand '{type(node).__name__}'", node)

    def _undeclared_register(self, name: str, node, scope: Scope):
        close = difflib.get_close_matches(name, list(self.registers) + list(scope.qubits), n=1)
        raise SemanticError(f"undeclared qubit register '{name}'", self.span(node),
                            (f"did you mean '{close[0]}'?",) if close else ())

    # -- statements -----------------------------------------------------------------------------
    def statements(self, stmts, scope: Scope, out: list[Operation], in_gate: str | None) -> None:
        for s in stmts:
            self.statement(s, scope, out, in_gate)

    def statement(self, s: ast.Statement, scope: Scope, out: list[Operation], in_gate: str | None) -> None:
        top = in_gate is None and scope.parent is None
        if in_gate is None:
            self.current = s
        if isinstance(s, ast.QuantumGate):
            self.gate_call(s, scope, out)
        elif isinstance(s, ast.QuantumPhase):
            self.phase(s, scope, out)
        elif isinstance(s, ast.QuantumBarrier):
            qubits: list[int] = []
            for q in s.qubits:
                qubits += [f for f in self.qubits_of(q, scope) if f not in qubits]
            if not s.qubits:
                qubits = list(range(self.num_qubits))
            if in_gate is None and qubits:  # in a gate body it has no meaning under modifiers: ignored
                out.append(Operation("barrier", tuple(qubits), (), self.span(s)))
        elif isinstance(s, ast.AliasStatement):
            if not top:
                raise SemanticError("'let' is only allowed at the top level", self.span(s))
            self.alias(s, scope)
        elif isinstance(s, (ast.Include, ast.QubitDeclaration, ast.IODeclaration, ast.ConstantDeclaration,
                            ast.ClassicalDeclaration, ast.QuantumGateDefinition)):
            if not top:
                raise SemanticError(f"{type(s).__name__} is only allowed at the top level", self.span(s))
            self.declaration(s, scope)
        elif isinstance(s, ast.QuantumMeasurementStatement):
            if in_gate:
                raise SemanticError(f"'measure' inside gate '{in_gate}'", self.span(s))
            self.measure(s.measure, scope, s.target, out)
        elif isinstance(s, ast.QuantumReset):
            if in_gate:
                raise SemanticError(f"'reset' inside gate '{in_gate}'", self.span(s))
            for q in self.qubits_of(s.qubits, scope):
                if q in self.measured_set:
                    raise UnsupportedError("'reset' after a terminal 'measure' of its qubit (measure into a bit"
                                           " for a mid-circuit measurement)", self.span(s))
                out.append(Operation("reset", (q,), (), self.span(s)))
        elif isinstance(s, ast.BranchingStatement):
            if in_gate:
                raise self.unsupported(f"'if' inside gate '{in_gate}'", s)
            self.branch(s, scope, out)
        elif isinstance(s, ast.ForInLoop):
            self.for_loop(s, scope, out, in_gate)
        elif isinstance(s, ast.Pragma):
            return
        else:
            what = _UNSUPPORTED.get(type(s), f"'{type(s).__name__}'")
            raise self.unsupported(what, s)

    def declaration(self, s, scope: Scope) -> None:
        if isinstance(s, ast.Include):
            self.include(s)
        elif isinstance(s, ast.QubitDeclaration):
            size = 1 if s.size is None else self.int_expr(s.size, scope, "register size")
            if size < 1:
                raise SemanticError(f"register size must be positive, got {size}", self.span(s))
            if self.num_qubits + size > self.max_qubits:
                raise ResourceLimitError(
                    f"program declares {self.num_qubits + size} qubits, over the limit of {self.max_qubits}"
                    " (raise it with max_qubits= / --max-qubits)", self.span(s))
            self._declare(s.qubit.name, s)
            self.registers[s.qubit.name] = Register(s.qubit.name, size, self.num_qubits, s.size is None, self.span(s))
            self.num_qubits += size
        elif isinstance(s, ast.IODeclaration):
            if s.io_identifier != ast.IOKeyword.input:
                raise self.unsupported("'output' declarations", s)
            if not isinstance(s.type, (ast.FloatType, ast.AngleType)):
                raise self.unsupported(f"input of type '{type(s.type).__name__}' (only float and angle)", s)
            self._declare(s.identifier.name, s)
            self.params[s.identifier.name] = ValueDecl("param", s.identifier.name, 1, len(self.params), True, self.span(s))
        elif isinstance(s, ast.ConstantDeclaration):
            e = self.expr(s.init_expression, scope)
            if not e.is_constant:
                raise SemanticError(f"const '{s.identifier.name}' must be a compile-time constant", self.span(s))
            self._declare(s.identifier.name, s)
            self.consts[s.identifier.name] = e.value()
        elif isinstance(s, ast.ClassicalDeclaration):
            if not isinstance(s.type, ast.BitType):
                raise self.unsupported("classical variables (declare them 'const')", s)
            size = 1 if s.type.size is None else self.int_expr(s.type.size, scope, "bit register size")
            self._declare(s.identifier.name, s)
            self.bits[s.identifier.name] = size
            self.bit_regs[s.identifier.name] = Register(s.identifier.name, size, self.num_bits, s.type.size is None,
                                                        self.span(s))
            self.num_bits += size
            if isinstance(s.init_expression, ast.QuantumMeasurement):
                self.measure(s.init_expression, scope, s.identifier, self.ops)
            elif s.init_expression is not None:
                raise self.unsupported("initialized bit registers", s)
        elif isinstance(s, ast.QuantumGateDefinition):
            self.gate_definition(s)

    def _declare(self, name: str, node) -> None:
        if name in self.registers or name in self.params or name in self.consts or name in self.bits \
                or name in self.aliases:
            raise SemanticError(f"redeclaration of '{name}'", self.span(node))

    def include(self, s: ast.Include) -> None:
        if s.filename in STANDARD_INCLUDES:
            return
        text, path = read_source(self.base_dir / s.filename, name=s.filename, span=self.span(s),
                                 suffixes=QASM_INCLUDE_SUFFIXES,
                                 missing=f"cannot find include file '{s.filename}' (looked in {self.base_dir})")
        if str(path) in self.include_stack:
            raise IncludeError(f"include cycle through '{s.filename}'", self.span(s))
        program = _parse(text, s.filename)
        # An include shares this file's declarations: run it with our state and its own diagnostics.
        saved = (self.file, self.lines, self.base_dir)
        self.file, self.lines, self.base_dir = s.filename, text.split("\n"), path.parent
        self.include_stack.append(str(path))
        try:
            self.statements([st for st in program.statements], Scope(), self.ops, None)
        finally:
            self.include_stack.pop()
            self.file, self.lines, self.base_dir = saved

    def gate_definition(self, s: ast.QuantumGateDefinition) -> None:
        name = s.name.name
        if name in self.gates:
            raise SemanticError(f"redefinition of gate '{name}'", self.span(s))
        saved = self.current
        try:
            self._check_body(s, s.body, {a.name for a in s.arguments})
        finally:
            self.current = saved
        self.gates[name] = s
        # A definition of a known gate (Qiskit writes rzz, sxdg, ... this way) that matches it becomes that gate.
        known = QASM_GATES.get(name)
        if known and known[0] == len(s.arguments) and known[1] == len(s.qubits) and self._matches_library(s, known):
            self.library_alias[name] = name

    def _check_body(self, g: ast.QuantumGateDefinition, stmts, values: set[str]) -> None:
        """Check a gate body where it is defined (OpenQASM gates are defined before use), called
        or not: gate names and arities, qubit operands, names in angles."""
        qubits = {q.name for q in g.qubits}
        for st in stmts:
            self.current = st
            if isinstance(st, ast.QuantumGate):
                name = st.name.name
                if name == g.name.name:
                    raise SemanticError(f"recursive gate '{name}'", self.span(st))
                user = self.gates.get(name)
                known = QASM_GATES.get(name)
                if user is None and known is None:
                    close = difflib.get_close_matches(name, sorted(set(QASM_GATES) | set(self.gates)), n=1)
                    raise SemanticError(f"unknown gate '{name}'", self.span(st),
                                        (f"did you mean '{close[0]}'?",) if close else ())
                n_angles = len(user.arguments) if user else known[0]
                n_qubits = len(user.qubits) if user else known[1]
                if len(st.arguments) != n_angles:
                    raise SemanticError(f"gate '{name}' takes {n_angles} angle(s), got {len(st.arguments)}", self.span(st))
                if len(st.qubits) != n_qubits + self._controls(st):
                    raise SemanticError(f"gate '{name}' takes {n_qubits + self._controls(st)} qubit(s),"
                                        f" got {len(st.qubits)}", self.span(st))
                for a in list(st.arguments) + [m.argument for m in st.modifiers if m.argument is not None]:
                    self._check_names(a, values, st)
                for q in st.qubits:
                    qname = q.name if isinstance(q, ast.Identifier) else getattr(getattr(q, "name", None), "name", None)
                    if not isinstance(q, ast.Identifier) or qname not in qubits:
                        raise SemanticError(
                            f"gate '{g.name.name}' can only act on its qubit arguments ({', '.join(sorted(qubits))}),"
                            f" not on '{qname}'" + ("[...]" if not isinstance(q, ast.Identifier) else ""), self.span(st))
            elif isinstance(st, ast.ForInLoop):
                self._check_names(st.set_declaration, values, st)
                self._check_body(g, st.block, values | {st.identifier.name})

    def _check_names(self, node, values: set[str], st) -> None:
        known = values | set(self.consts) | set(self.params) | set(CONSTANTS)
        for name in _identifiers(node):
            if name not in known:
                close = difflib.get_close_matches(name, sorted(known), n=1)
                raise SemanticError(f"undeclared name '{name}'", self.span(st), (f"did you mean '{close[0]}'?",) if close else ())

    def _matches_library(self, s: ast.QuantumGateDefinition, known) -> bool:
        n_angles, n_qubits, expand = known
        rng = np.random.default_rng(1234)
        for _ in range(2):
            angles = tuple(E.Const(float(v)) for v in rng.uniform(-3, 3, n_angles))
            # definition qubit i -> flat qubit (k-1-i): the unitary is then in argument order like GATES matrices
            local = tuple(range(n_qubits - 1, -1, -1))
            try:
                body = self._expand_definition(s, angles, local, s)
                lib = [Operation(g, tuple(local[i] for i in qs), a) for g, a, qs in expand(angles)]
            except (SemanticError, UnsupportedError):
                return False
            u1 = ops_unitary(body, n_qubits)
            u2 = ops_unitary(lib, n_qubits)
            k = np.unravel_index(np.argmax(np.abs(u2)), u2.shape)
            if abs(u1[k]) < 1e-9:
                return False
            ph = u2[k] / u1[k]
            if abs(abs(ph) - 1) > 1e-9 or np.max(np.abs(u1 * ph - u2)) > 1e-9:
                return False
        return True

    def _expand_definition(self, g: ast.QuantumGateDefinition, angles, qubits, call,
                           out: list[Operation] | None = None) -> list[Operation]:
        """Expand a definition into ``out`` (a new list if None) and return that list."""
        name = g.name.name
        if name in self.gate_stack:
            raise SemanticError(f"recursive gate '{name}'", self.span(call))
        scope = Scope(values=dict(zip((a.name for a in g.arguments), angles)),
                       qubits=dict(zip((q.name for q in g.qubits), qubits)))
        body: list[Operation] = [] if out is None else out
        self.gate_stack.append(name)
        try:
            self.statements(g.body, scope, body, name)
        finally:
            self.gate_stack.pop()
        return body

    def _modifiers(self, s, scope: Scope) -> list[tuple[str, float | int | None]]:
        """The modifiers of a gate call or gphase, arguments evaluated (compile-time constants)."""
        out: list[tuple[str, float | int | None]] = []
        for m in s.modifiers:
            kind = m.modifier.name
            if kind == "inv":
                out.append(("inv", None))
            elif kind == "pow":
                k = self.expr(m.argument, scope)
                if k.is_constant and not math.isfinite(k.value()):
                    raise SemanticError(f"'pow' exponent is not a finite number ({k.value()})",
                                        self.span(m.argument) or self.span(s))
                if not k.is_constant:
                    raise SemanticError("'pow' exponent must be a constant", self.span(m.argument) or self.span(s))
                v = k.value()
                if v == int(v) and abs(v) > self.max_ops:
                    raise ResourceLimitError(
                        f"'pow' repeats the gate {abs(int(v))} times, over the unrolling limit of {self.max_ops}"
                        " operations (raise the limit with max_ops= / --max-ops)", self.span(m.argument) or self.span(s))
                out.append(("pow", v))
            elif kind in ("ctrl", "negctrl"):
                n = 1 if m.argument is None else self.int_expr(m.argument, scope, f"'{kind}' count")
                if n < 1:
                    raise SemanticError(f"'{kind}' count must be at least 1, got {n}", self.span(m.argument) or self.span(s))
                out.append((kind, n))
            else:
                raise self.unsupported(f"'{kind} @' modifiers", s)
        return out

    def _power(self, s: ast.QuantumGate, scope: Scope) -> int:
        """How many times the modifiers repeat the gate's operations, negative for its inverse."""
        power = 1
        for kind, v in self._modifiers(s, scope):
            if kind == "inv":
                power = -power
            elif kind == "pow" and float(v).is_integer():
                power *= int(v)
                if abs(power) > self.max_ops:
                    raise ResourceLimitError(
                        f"'pow' repeats the gate {abs(power)} times, over the unrolling limit of {self.max_ops}"
                        " operations (raise the limit with max_ops= / --max-ops)", self.span(s))
        return power

    def _controls(self, s) -> int:
        """Control qubits the modifiers of ``s`` add, when their counts are literals (else 0)."""
        n = 0
        for m in s.modifiers:
            if m.modifier.name in ("ctrl", "negctrl"):
                if m.argument is None:
                    n += 1
                elif isinstance(m.argument, ast.IntegerLiteral):
                    n += m.argument.value
        return n

    def phase(self, s: ast.QuantumPhase, scope: Scope, out: list[Operation]) -> None:
        """``gphase(t)``: dropped (a global phase) unless controlled, or collected for a control further out."""
        t = self.expr(s.argument, scope)
        check_angle(t, "gphase", self.span(s.argument) or self.span(s))
        mods = self._modifiers(s, scope)
        controls = sum(int(v) for k, v in mods if k in ("ctrl", "negctrl"))
        if len(s.qubits) != controls:
            raise SemanticError(f"'gphase' under {controls} control(s) takes {controls} qubit(s), got {len(s.qubits)}",
                                self.span(s))
        self._emit_modified(s, "gphase", mods, [(GPHASE, (t,), ())], 0, s.qubits, scope, out)

    def _emit_modified(self, s, name: str, mods, seq, n: int, qargs, scope: Scope, out: list[Operation]) -> None:
        """``seq`` (on local qubits 0..n-1) under ``mods``, broadcast onto ``qargs`` and emitted."""
        try:
            seq, nq = apply_modifiers(mods, seq, n)
        except ModifierError as e:
            raise SemanticError(f"{e.message} (in '{name}')", self.span(s)) from None
        groups = [self.qubits_of(q, scope) for q in qargs]
        sizes = {len(g) for g in groups if len(g) > 1}
        if len(sizes) > 1:
            raise SemanticError("registers of different sizes cannot be broadcast together", self.span(s))
        width = sizes.pop() if sizes else 1
        span = self.call_span or self.span(s)
        for k in range(width):
            qubits = tuple(g[k] if len(g) > 1 else g[0] for g in groups)
            if len(set(qubits)) != len(qubits):
                raise SemanticError(f"a qubit is used twice in one '{name}' gate", span)
            after = [q for q in qubits if q in self.measured_set]
            if after:
                raise UnsupportedError(f"gate '{name}' after measuring its qubit: mid-circuit measurement is not supported", span)
            for g, a, qs in seq:
                if g == GPHASE:
                    if self.collect_phase:
                        out.append(Operation(GPHASE, (), a, span))
                    continue
                out.append(Operation(g, tuple(qubits[q] for q in qs), a, span))
            self._check_emitted(out, span)

    def gate_call(self, s: ast.QuantumGate, scope: Scope, out: list[Operation]) -> None:
        mods = self._modifiers(s, scope)
        general = any(k in ("ctrl", "negctrl") or (k == "pow" and not float(v).is_integer()) for k, v in mods)
        controls = sum(int(v) for k, v in mods if k in ("ctrl", "negctrl"))
        power = 1 if general else self._power(s, scope)
        name = s.name.name
        user = self.gates.get(name) if name not in self.library_alias else None
        known = QASM_GATES.get(name)
        if user is None and known is None:
            candidates = sorted(set(QASM_GATES) | set(self.gates))
            close = difflib.get_close_matches(name, candidates, n=1)
            raise SemanticError(f"unknown gate '{name}'", self.span(s.name) or self.span(s),
                                (f"did you mean '{close[0]}'?",) if close else ())
        n_angles = len(user.arguments) if user else known[0]
        n_qubits = len(user.qubits) if user else known[1]
        if len(s.arguments) != n_angles:
            raise SemanticError(f"gate '{name}' takes {n_angles} angle(s), got {len(s.arguments)}", self.span(s))
        if len(s.qubits) != n_qubits + controls:
            under = f" under {controls} control(s)" if controls else ""
            raise SemanticError(f"gate '{name}'{under} takes {n_qubits + controls} qubit(s), got {len(s.qubits)}",
                                self.span(s))
        angles = tuple(self.expr(a, scope) for a in s.arguments)
        for node, a in zip(s.arguments, angles):
            check_angle(a, name, self.span(node) or self.span(s))
        if not self.priced:
            ops, iters = self._price(s, scope)
            self._check_budget(ops, iters, len(out), f"gate '{name}'", self.span(s))
            self.iterations += iters
        if general:  # ctrl / negctrl / a non-integer pow: the gate's operations on local qubits, modified
            local = tuple(range(n_qubits))
            if user is not None:
                saved = self.priced, self.call_span, self.measured_set
                self.priced, self.call_span, self.measured_set = True, self.call_span or self.span(s), set()
                self.collect_phase += 1
                try:
                    body = self._expand_definition(user, angles, local, s)
                finally:
                    self.priced, self.call_span, self.measured_set = saved
                    self.collect_phase -= 1
                seq = [(op.name, op.angles, op.qubits) for op in body]
            else:
                seq = known[2](angles)
            self._emit_modified(s, name, mods, seq, n_qubits, s.qubits, scope, out)
            return
        groups = [self.qubits_of(q, scope) for q in s.qubits]
        sizes = {len(g) for g in groups if len(g) > 1}
        if len(sizes) > 1:
            raise SemanticError("registers of different sizes cannot be broadcast together", self.span(s))
        width = sizes.pop() if sizes else 1
        # Operations take the outermost call's span so diagnostics point at the user's call site.
        span = self.call_span or self.span(s)
        for k in range(width):
            qubits = tuple(g[k] if len(g) > 1 else g[0] for g in groups)
            if len(set(qubits)) != len(qubits):
                raise SemanticError(f"a qubit is used twice in one '{name}' gate", span)
            after = [q for q in qubits if q in self.measured_set]
            if after:
                raise UnsupportedError(f"gate '{name}' after measuring its qubit: mid-circuit measurement is not supported", span)
            if user is not None:
                saved = self.priced, self.call_span
                self.priced, self.call_span = True, span
                try:
                    if power == 1:  # straight into ``out``: no copy per nesting level
                        self._expand_definition(user, angles, qubits, s, out)
                        self._check_emitted(out, span)
                        continue
                    ops = self._expand_definition(user, angles, qubits, s)
                finally:
                    self.priced, self.call_span = saved
            else:
                ops = [Operation(g, tuple(qubits[i] for i in qs), a, span) for g, a, qs in known[2](angles)]
            if power < 0:
                ops = _invert(ops)
            for _ in range(abs(power)):
                out.extend(ops)
                self._check_emitted(out, span)

    def _check_emitted(self, out: list[Operation], span: Span | None) -> None:
        if len(out) > self.max_ops:
            raise ResourceLimitError(
                f"program unrolls to more than {self.max_ops} operations (raise the limit with max_ops= / --max-ops)",
                span)

    def measure(self, m: ast.QuantumMeasurement, scope: Scope, target=None, out: list[Operation] | None = None) -> None:
        qubits = self.qubits_of(m.qubit, scope)
        if target is None:  # 'measure q;': terminal
            if self.in_if:
                raise self.unsupported("a terminal 'measure' inside 'if'", self.current)
            for q in qubits:
                if q not in self.measured_set:
                    self.measured_set.add(q)
                    self.measured.append(q)
            return
        bits = self.bits_of(target, scope)
        if len(bits) != len(qubits):
            raise SemanticError(f"measuring {len(qubits)} qubit(s) into {len(bits)} bit(s)", self.span(self.current))
        for q, b in zip(qubits, bits):
            if q in self.measured_set:
                raise UnsupportedError("'measure' after a terminal 'measure' of the same qubit", self.span(self.current))
            # a measurement into a bit; import_qasm makes it terminal when nothing later needs it
            out.append(Operation("measure", (q,), (), self.span(self.current), None, None, b))  # type: ignore[union-attr]

    # -- dynamic circuits --------------------------------------------------------------------
    def bits_of(self, node, scope: Scope) -> list[int]:
        """Flat bits of ``c``, ``c[i]`` (also as an index expression) or ``c[i:j]``."""
        if isinstance(node, ast.IndexExpression) and isinstance(node.collection, ast.Identifier):
            node = ast.IndexedIdentifier(node.collection, [node.index] if not isinstance(node.index, list) else [node.index])
        name = node.name if isinstance(node, ast.Identifier) else node.name.name
        reg = self.bit_regs.get(name)
        if reg is None:
            close = difflib.get_close_matches(name, list(self.bit_regs), n=1)
            raise SemanticError(f"undeclared bit register '{name}'", self.span(node),
                                (f"did you mean '{close[0]}'?",) if close else ())
        if isinstance(node, ast.Identifier):
            return [reg.offset + i for i in range(reg.size)]
        if len(node.indices) != 1:
            raise self.unsupported("multi-dimensional bit indexing", node)
        index = node.indices[0]
        items = index.values if isinstance(index, ast.DiscreteSet) else index
        out: list[int] = []
        for item in items:
            if isinstance(item, ast.RangeDefinition):
                start = 0 if item.start is None else self.int_expr(item.start, scope, "range start")
                end = reg.size - 1 if item.end is None else self.int_expr(item.end, scope, "range end")
                idx = list(range(start, end + 1))
            else:
                idx = [self.int_expr(item, scope, "bit index")]
            for i in idx:
                if not 0 <= i < reg.size:
                    raise SemanticError(f"bit index {i} out of range for '{name}' of size {reg.size}", self.span(node))
                out.append(reg.offset + i)
        return out

    def _bit_operand(self, node, scope: Scope):
        if isinstance(node, ast.Identifier) and node.name in self.bit_regs:
            return tuple(self.bits_of(node, scope))
        if isinstance(node, ast.IndexExpression) and isinstance(node.collection, ast.Identifier) \
                and node.collection.name in self.bit_regs:
            return tuple(self.bits_of(node, scope))
        if isinstance(node, ast.IndexedIdentifier) and node.name.name in self.bit_regs:
            return tuple(self.bits_of(node, scope))
        return None

    def condition(self, node, scope: Scope) -> tuple:
        """Clauses (bits, value, equal) of a condition on bits (qcomp.ir.dynamic)."""
        if isinstance(node, ast.BinaryExpression) and node.op.name == "&&":
            return self.condition(node.lhs, scope) + self.condition(node.rhs, scope)
        if isinstance(node, ast.UnaryExpression) and node.op.name == "!":
            inner = self.condition(node.expression, scope)
            if len(inner) != 1:
                raise self.unsupported("negating a condition joined with '&&'", node)
            return (_negate(inner[0]),)
        bits = self._bit_operand(node, scope)
        if bits is not None:
            return (((bits, 1, True),) if len(bits) == 1 else ((bits, 0, False),))
        if isinstance(node, ast.BinaryExpression) and node.op.name in ("==", "!="):
            lhs, rhs = node.lhs, node.rhs
            bits = self._bit_operand(lhs, scope)
            if bits is None:
                lhs, rhs = rhs, lhs
                bits = self._bit_operand(lhs, scope)
            if bits is not None:
                if isinstance(rhs, ast.BooleanLiteral):
                    v = int(rhs.value)
                else:
                    v = self.int_expr(rhs, scope, "compared value")
                if not 0 <= v < 2 ** len(bits):
                    # Qiskit compares as integers: a value that does not fit is never equal
                    return (((bits, 0, True), (bits, 1 % 2 ** len(bits), True)) if node.op.name == "==" else ())
                clause = (bits, v, node.op.name == "==")
                return ((_negate(clause) if len(bits) == 1 and not clause[2] else clause),)
        raise self.unsupported("this 'if' condition (supported: bits and bit registers compared with integers,"
                               " '!', '&&')", node)

    def branch(self, s: ast.BranchingStatement, scope: Scope, out: list[Operation]) -> None:
        cond = self.condition(s.condition, scope)
        if not cond:  # always true
            branches = [(s.if_block, ())]
        else:
            branches = [(s.if_block, cond)]
            if s.else_block:
                if len(cond) != 1:
                    raise self.unsupported("'else' after a condition joined with '&&'", s)
                branches.append((s.else_block, (_negate(cond[0]),)))
        for stmts, c in branches:
            body: list[Operation] = []
            self.in_if += 1
            try:
                self.statements(stmts, Scope(parent=scope), body, None)
            finally:
                self.in_if -= 1
            for op in body:
                out.append(op if op.name == "barrier" or not c else op.with_cond(c + (op.cond or ())))
            self._check_emitted(out, self.span(s))

    def _loop_values(self, s: ast.ForInLoop, scope: Scope) -> range | list[int]:
        """The values a loop runs over, as a range where possible (nothing materialised)."""
        it = s.set_declaration
        if isinstance(it, ast.RangeDefinition):
            if it.start is None or it.end is None:
                raise SemanticError("a loop range needs a start and an end", self.span(it))
            start = self.int_expr(it.start, scope, "range start")
            end = self.int_expr(it.end, scope, "range end")
            step = 1 if it.step is None else self.int_expr(it.step, scope, "range step")
            if step == 0:
                raise SemanticError("range step must not be zero", self.span(it))
            return range(start, end + (1 if step > 0 else -1), step)  # OpenQASM ranges are inclusive
        if isinstance(it, ast.DiscreteSet):
            return [self.int_expr(v, scope, "loop value") for v in it.values]
        raise self.unsupported("loops over non-constant sets", s)

    def for_loop(self, s: ast.ForInLoop, scope: Scope, out: list[Operation], in_gate: str | None) -> None:
        values = self._loop_values(s, scope)
        trips = _length(values)
        if trips > self.max_ops:
            raise ResourceLimitError(f"loop runs {trips} times, over the unrolling limit of {self.max_ops}", self.span(s))
        saved = self.priced
        if not self.priced:
            ops, iters = self._price(s, scope)
            self._check_budget(ops, iters, len(out), "this loop", self.span(s))
            self.iterations += iters
            self.priced = True
        try:
            for v in values:
                inner = Scope(values={s.identifier.name: E.Const(float(v))}, parent=scope)
                self.statements(s.block, inner, out, in_gate)
        finally:
            self.priced = saved

    # -- pricing: what a gate call or loop unrolls to, computed before unrolling it ----------------
    def _check_budget(self, ops: int, iters: int, done: int, what: str, span: Span | None) -> None:
        check_unroll_budget(self.max_ops, self.iterations, ops, iters, done, what, span)

    def _price(self, st, scope: Scope) -> tuple[int, int]:
        return price_statement(self, st, scope, self.max_ops)

    def _price_step(self) -> None:
        self.price_steps += 1
        if self.price_steps + self.iterations > self.max_ops:
            raise _PricedOut

    def _cost_stmts(self, stmts, scope: Scope) -> tuple[int, int]:
        """(operations, loop iterations) that importing ``stmts`` unrolls to, each capped at
        max_ops + 1, without building anything (as lower._Lowerer._cost_block for .q)."""
        cap = self.max_ops + 1
        ops = iters = 0
        for st in stmts:
            o, i = self._cost_stmt(st, scope)
            ops, iters = min(cap, ops + o), min(cap, iters + i)
            if ops >= cap or iters >= cap:
                break
        return ops, iters

    def _cost_stmt(self, st, scope: Scope) -> tuple[int, int]:
        cap = self.max_ops + 1
        if isinstance(st, ast.QuantumGate):
            power = abs(self._power(st, scope))
            name = st.name.name
            user = self.gates.get(name) if name not in self.library_alias else None
            known = QASM_GATES.get(name)
            width = max([1] + [self._width(q, scope) for q in st.qubits])
            if user is not None and len(st.arguments) == len(user.arguments):
                ops, iters = self._cost_gate(user, st, scope)
                iters += ops == 0  # expanding a gate is work even when it emits nothing: an iteration
            elif known is not None:
                ops, iters = len(known[2]((E.ZERO,) * known[0])), 0
            else:
                return 0, 0  # an error when imported
            return min(cap, ops * power * width), min(cap, iters * power * width)
        if isinstance(st, ast.ForInLoop):
            values = self._loop_values(st, scope)
            trips = _length(values)
            if trips == 0:
                return 0, 0
            if trips >= cap:
                return cap, cap
            var = st.identifier.name
            if var not in self._control_names(st.block):
                first = values[0]
                o, i = self._cost_stmts(st.block, Scope(values={var: E.Const(float(first))}, parent=scope))
                return min(cap, o * trips), min(cap, (i + 1) * trips)
            ops = iters = 0
            for v in values:
                self._price_step()
                o, i = self._cost_stmts(st.block, Scope(values={var: E.Const(float(v))}, parent=scope))
                ops, iters = min(cap, ops + o), min(cap, iters + i + 1)
                if ops >= cap or iters >= cap:
                    break
            return ops, iters
        return 0, 0

    def _width(self, q, scope: Scope) -> int:
        """How many qubits an operand names (a broadcast's width), by range arithmetic."""
        if isinstance(q, ast.Identifier):
            reg = self.registers.get(q.name)
            return reg.size if reg is not None and scope.lookup_qubit(q.name) is None else 1
        reg = self.registers.get(q.name.name) if isinstance(q, ast.IndexedIdentifier) else None
        if reg is None or len(q.indices) != 1:
            return 1  # an error when imported
        index = q.indices[0]
        n = 0
        for item in index.values if isinstance(index, ast.DiscreteSet) else index:
            if isinstance(item, ast.RangeDefinition):
                start = 0 if item.start is None else self.int_expr(item.start, scope, "range start")
                end = reg.size - 1 if item.end is None else self.int_expr(item.end, scope, "range end")
                step = 1 if item.step is None else self.int_expr(item.step, scope, "range step")
                n += _length(range(start, end + (1 if step > 0 else -1), step)) if step else 0
            else:
                n += 1
        return min(n, reg.size)  # more is an index error when imported

    def _cost_gate(self, g: ast.QuantumGateDefinition, call: ast.QuantumGate, scope: Scope) -> tuple[int, int]:
        name = g.name.name
        if name in self.cost_stack or name in self.gate_stack:
            raise SemanticError(f"recursive gate '{name}'", self.span(call))
        relevant = self._relevant_params(g)
        values: dict[str, E.Expr] = {}
        key_parts = []
        for i, a in enumerate(g.arguments):
            if i in relevant:
                values[a.name] = self.expr(call.arguments[i], scope)
                key_parts.append(values[a.name])
            else:
                values[a.name] = E.ZERO  # never read by control flow, so any value prices the same
        key = (name, tuple(v.val for v in key_parts)) if all(type(v) is E.Const for v in key_parts) else None
        if key is not None and key in self.gate_costs:
            return self.gate_costs[key]
        self._price_step()
        self.cost_stack.append(name)
        try:
            cost = self._cost_stmts(g.body, Scope(values=values, qubits=dict.fromkeys((q.name for q in g.qubits), 0)))
        finally:
            self.cost_stack.pop()
        if key is not None:
            self.gate_costs[key] = cost
        return cost

    def _relevant_params(self, g: ast.QuantumGateDefinition) -> frozenset[int]:
        """Indices of the parameters of ``g`` its control flow (loop sets, pow exponents, such
        parameters of the gates it calls) may read; a superset is always safe."""
        name = g.name.name
        if name in self.relevant:
            return self.relevant[name]
        self.relevant[name] = frozenset(range(len(g.arguments)))  # a cycle: assume all
        names = self._control_names(g.body)
        result = frozenset(i for i, a in enumerate(g.arguments) if a.name in names)
        self.relevant[name] = result
        return result

    def _control_names(self, stmts) -> set[str]:
        names: set[str] = set()
        for st in stmts:
            if isinstance(st, ast.QuantumGate):
                for m in st.modifiers:
                    if m.argument is not None:
                        names |= _identifiers(m.argument)
                for q in st.qubits:  # a slice's bounds set the broadcast width
                    if isinstance(q, ast.IndexedIdentifier):
                        names |= _identifiers(q.indices)
                user = self.gates.get(st.name.name)
                if user is not None and len(user.arguments) == len(st.arguments):
                    for i in self._relevant_params(user):
                        names |= _identifiers(st.arguments[i])
            elif isinstance(st, ast.ForInLoop):
                names |= _identifiers(st.set_declaration)
                names |= self._control_names(st.block)
        return names


def _length(values: range | list[int]) -> int:
    """len() of a range too long for len() (past 2**63)."""
    if isinstance(values, range):
        return max(0, -(-(values.stop - values.start) // values.step))
    return len(values)


def _identifiers(node) -> set[str]:
    """Names of the identifiers anywhere in an OpenQASM AST node, without recursion."""
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Identifier):
            out.add(n.name)
        elif isinstance(n, (list, tuple)):
            stack.extend(n)
        elif isinstance(n, ast.QASMNode):
            stack.extend(v for k, v in vars(n).items() if k != "span")
    return out


def _invert(ops: list[Operation]) -> list[Operation]:
    out: list[Operation] = []
    for op in reversed(ops):
        if op.name == GPHASE:  # collected for a control further out
            out.append(Operation(GPHASE, (), (E.neg(op.angles[0]),), op.span))
            continue
        for name, angles in gate_inverse(op.name, op.angles):
            out.append(Operation(name, op.qubits, angles, op.span))
    return out


_ANTLR_MSG = re.compile(r"line (\d+):(\d+) (.*)")
_OPENQASM3_MSG = re.compile(r"L(\d+):C(\d+): (.*)", re.S)


def _parse(text: str, name: str) -> ast.Program:
    err = io.StringIO()
    try:
        # the ANTLR parser recurses once per operator of a left-deep sum: a few hundred terms
        # overflowed the default limit; deep_recursion raises it and reports what is still too deep
        with deep_recursion(name), contextlib.redirect_stderr(err):
            return openqasm3.parse(text)
    except QCompError:
        raise
    except Exception as exc:  # the ANTLR front end raises its own exception types
        lines = text.split("\n")
        long_int = _LONG_INT.search(text) if "digits" in str(exc) else None
        if long_int:  # Python refuses to convert more than 4300 digits to an int
            line = text.count("\n", 0, long_int.start()) + 1
            col = long_int.start() - (text.rfind("\n", 0, long_int.start()) + 1) + 1
            raise ParseError(f"integer literal of {long_int.end() - long_int.start()} digits is too long"
                             " (at most 4300)", Span(name, line, col, None, lines[line - 1])) from None
        if not text.strip():
            raise ParseError("OpenQASM syntax error: the file is empty", Span(name, 1, 1, None, lines[0])) from None
        m = _OPENQASM3_MSG.match(str(exc))
        if m:  # openqasm3's own checks: "L3:C21: gate definitions must be global" (0-based column)
            line, col = int(m.group(1)), int(m.group(2)) + 1
            src = lines[line - 1] if 0 < line <= len(lines) else None
            raise ParseError(f"OpenQASM syntax error: {m.group(3)}", Span(name, line, col, None, src)) from None
        m = _ANTLR_MSG.search(err.getvalue())
        if m:
            line, col = int(m.group(1)), int(m.group(2)) + 1
            src = lines[line - 1] if 0 < line <= len(lines) else None
            raise ParseError(f"OpenQASM syntax error: {m.group(3)}", Span(name, line, col, None, src)) from None
        # openqasm3 1.x: QASM3ParsingError from ParseCancellationException(<ANTLR error with the token>)
        cause = exc.__cause__
        inner = cause.args[0] if cause is not None and cause.args else None
        tok = getattr(inner, "offendingToken", None)
        if tok is not None and getattr(tok, "line", None):
            line, col = tok.line, tok.column + 1
            src = lines[line - 1] if 0 < line <= len(lines) else None
            what = "end of file" if tok.text == "<EOF>" else f"'{tok.text}'"
            raise ParseError(f"OpenQASM syntax error: unexpected {what}", Span(name, line, col, None, src)) from None
        raise ParseError(f"OpenQASM syntax error in {name}: {exc or type(exc).__name__}") from None


def _check_version(tree: ast.Program, text: str, name: str) -> None:
    """Refuse an ``OPENQASM x.y;`` header other than 2.x or 3.x, at the header."""
    version = getattr(tree, "version", None)
    if version is None or str(version).split(".")[0] in ("2", "3"):
        return
    lines = text.split("\n")
    for i, line in enumerate(lines):
        col = line.find("OPENQASM")
        if col >= 0:
            end = line.find(";", col)
            span = Span(name, i + 1, col + 1, end + 2 if end >= 0 else None, line)
            break
    else:
        span = None
    raise UnsupportedError(f"OpenQASM version {version} is not supported (only 2.x and 3.x)", span)


_LONG_INT = re.compile(r"\d[\d_]{4300,}")


def _negate(clause):
    bits, v, eq = clause
    if len(bits) == 1:
        return (bits, 1 - v, True) if eq else (bits, v, True)
    return (bits, v, not eq)


def _terminal_measurements(ops: list[Operation], measured: list[int]) -> tuple[list[Operation], list[int]]:
    """Measurements into bits that nothing later needs (no later operation on the qubit, no later
    condition reading the bit) become terminal: dropped from the circuit and added to ``measured``
    (probabilities of measured qubits are then what a backend reports)."""
    touched: set[int] = set()
    read: set[int] = set()
    terminal: list[int] = []
    keep = [True] * len(ops)
    for i in range(len(ops) - 1, -1, -1):
        op = ops[i]
        if op.name == "measure" and op.qubits[0] not in touched and op.bit not in read:
            keep[i] = False
            terminal.append(i)
        elif op.name != "barrier":
            touched.update(op.qubits)
        for bits, _, _ in op.cond or ():
            read.update(bits)
    out_measured = list(measured)
    for i in reversed(terminal):
        q = ops[i].qubits[0]
        if q not in out_measured:
            out_measured.append(q)
    return [op for op, k in zip(ops, keep) if k], out_measured


def import_qasm(text: str, name: str = "<string>", *, max_qubits: int = DEFAULT_MAX_QUBITS,
                max_ops: int = DEFAULT_MAX_OPS) -> Program:
    """Parse OpenQASM 3 (or 2) text and build a Program; ``input float`` declarations become params."""
    tree = _parse(text, name)
    _check_version(tree, text, name)
    base = Path(name).resolve().parent if name not in ("<string>", "<stdin>") else Path.cwd()
    imp = _Importer(name, text, max_qubits, max_ops, base)
    if name not in ("<string>", "<stdin>"):
        imp.include_stack.append(str(Path(name).resolve()))
    with deep_recursion(name):
        imp.statements(tree.statements, Scope(), imp.ops, None)
    if imp.num_qubits == 0:
        raise SemanticError("empty program: no qubits declared", Span(name, 1, 1, None, imp.lines[0] if imp.lines else None))
    ops, measured = _terminal_measurements(imp.ops, imp.measured)
    circuit = Circuit(imp.num_qubits)
    for op in ops:
        circuit.add(op)
    return Program(
        circuit=circuit,
        registers=tuple(imp.registers.values()),
        params=tuple(imp.params.values()),
        inputs=(),
        observables=(),
        measured=tuple(measured),
        source_name=name,
        bits=tuple(imp.bit_regs.values()),
    )
