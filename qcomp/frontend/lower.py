"""Lower the AST to the IR: resolve names, unroll loops, expand user gates and inverses, check limits."""

from __future__ import annotations

import difflib
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import IncludeError, ResourceLimitError, SemanticError, Span
from ..ir import expr as E
from ..ir.channels import is_channel
from ..ir.circuit import Circuit
from ..ir.gc_pause import paused_gc
from ..ir.gates import ALIASES, GATES, GateDef as LibraryGate, inverse as gate_inverse
from ..ir.modifiers import GPHASE, ModifierError, apply_modifiers
from ..ir.ops import Observable, Operation, PauliTerm, Register, ValueDecl, normalize_pauli_sum
from ..ir.outputs import DeclaredOutput, hermitian_terms
from ..ir.program import Program
from . import ast
from .channel_call import is_channel_call, lower_channel_call
from .parser import deep_recursion, parse_source
from .source import Q_SUFFIXES, read_source

DEFAULT_MAX_OPS = 10_000_000
DEFAULT_MAX_QUBITS = 4096
# Angle expressions deeper than this are refused where they are written: simplification,
# differentiation, printing and pickling recurse once or more per level, and a depth-200 chain of
# nested calls overflowed Python's stack in a second-order gradient. Long sums do not count
# against it beyond 16 + log2(terms) levels (they are built as balanced trees); real nesting
# does: sin(sin(...)), w * w * ...
MAX_ANGLE_DEPTH = 64
# Angle expressions larger than this (counted as a tree, every use of a shared part again) are
# refused too: depth alone misses a parameter doubled at each of 30 nested gate levels.
MAX_ANGLE_NODES = 100_000
# The widest gate ctrl/negctrl modifiers may build (controls plus the gate's qubits): a derived
# gate is registered with its 2**k x 2**k matrix and checked against its decomposition.
MAX_MODIFIED_QUBITS = 10
BUILTIN_CONSTANTS = {"pi": math.pi, "tau": 2 * math.pi, "e": math.e}
PAULI_NAMES = {"i": "I", "x": "X", "y": "Y", "z": "Z"}
DEFAULT_SAMPLE_SHOTS = 1024  # ``sample q;`` without a count (Qiskit's long-standing default)


@dataclass(frozen=True)
class ConstArray:
    """A constant array: ``values`` are floats (1-D) or rows of floats (2-D, rectangular)."""

    values: tuple
    ndim: int
    span: Span | None = None

    def __len__(self) -> int:
        return len(self.values)


def sum_chain(node, split) -> list:
    """The terms of a left-deep chain a + b - c ... as ``(negate, node)`` pairs in source order;
    ``split(node)`` gives ``(negate, left, right)`` for a + or - node, else None. Shared by the
    .q front end and the OpenQASM importer (their ASTs differ), walked without recursion."""
    chain = []
    while (parts := split(node)) is not None:
        negate, node, right = parts
        chain.append((negate, right))
    chain.append((False, node))
    chain.reverse()
    return chain


def check_angle_depth(angle: E.Expr, gate: str, span: Span | None) -> None:
    """Refuse an angle nested deeper than MAX_ANGLE_DEPTH, at ``span`` (the argument)."""
    d = E.depth(angle)
    if d > MAX_ANGLE_DEPTH:
        raise ResourceLimitError(
            f"angle of gate '{gate}' is nested {d} levels deep, over the limit of {MAX_ANGLE_DEPTH}"
            " (a sum of more than 16 terms counts 16 + log2(terms) levels; each call or product a level)",
            span,
        )


def check_division(op: str, a: E.Expr, b: E.Expr, span: Span | None) -> None:
    """Refuse ``a / 0`` and ``a % 0`` with a symbolic ``a`` where written: it would stay in the
    angle and fail only when evaluated (a constant ``1 / 0`` folds to inf, refused where used)."""
    if op in ("/", "%") and type(b) is E.Const and b.val == 0 and not a.is_constant:
        raise SemanticError("division by zero" if op == "/" else "remainder of a division by zero", span)


def check_angle(angle: E.Expr, gate: str, span: Span | None) -> None:
    """Refuse an angle that later stages cannot handle, at ``span`` (the argument): nested too
    deeply, too large written out as a tree, or holding a number that is not finite."""
    if type(angle) is E.Sym or (type(angle) is E.Const and math.isfinite(angle.val)):
        return  # the common case: nothing to walk
    check_angle_depth(angle, gate, span)
    # Gates that pass a parameter on twice (g(t + t)) build a shared DAG whose tree doubles per
    # level; every later stage walks the tree, so its size is what must be bounded.
    n = E.tree_size(angle, MAX_ANGLE_NODES)
    if n > MAX_ANGLE_NODES:
        raise ResourceLimitError(
            f"angle of gate '{gate}' has more than {MAX_ANGLE_NODES} terms and operations when written out"
            " (a gate angle passed on twice per nesting level doubles at each level)",
            span,
        )
    if angle.is_constant and not math.isfinite(angle.value()):
        raise SemanticError(f"angle of gate '{gate}' is not a finite number ({angle.value()})", span)
    bad = next((c.val for c in E.unique_nodes(angle) if type(c) is E.Const and not math.isfinite(c.val)), None)
    if bad is not None:  # w * (1 / 0): every later stage would evaluate or print it
        raise SemanticError(f"angle of gate '{gate}' contains a non-finite number ({bad})", span)


_STATEMENT_NAMES = {
    ast.ConstDecl: "const declaration",
    ast.QubitDecl: "qubit declaration",
    ast.ValueDeclStmt: "declaration",
    ast.GateDef: "gate definition",
    ast.Include: "include",
    ast.BitDecl: "bit declaration",
}


class _PricedOut(Exception):
    """Pricing alone took more steps than the iterations left (see _price)."""

def check_unroll_budget(limit: int, iterations: int, ops: int, iters: int, done: int, what: str,
                        span: Span | None) -> None:
    """Refuse, before unrolling, what would take the program past ``limit`` operations (``done``
    emitted so far) or its loops past ``limit`` iterations (``iterations`` so far)."""
    if done + ops > limit:
        raise ResourceLimitError(
            f"program unrolls to more than {limit} operations: {what} alone unrolls to"
            f" {'more than ' + str(limit) if ops > limit else ops}"
            + (f" after {done} already" if done else "")
            + " (raise the limit with max_ops= / --max-ops)",
            span,
        )
    if iterations + iters > limit:
        raise ResourceLimitError(
            f"loops unroll to more than {limit} iterations in total: {what} alone takes"
            f" {'more than ' + str(limit) if iters > limit else iters}"
            + (f" after {iterations} already" if iterations else "")
            + " (a user-gate call that emits nothing counts as one; raise the limit with max_ops= / --max-ops)",
            span,
        )


def price_statement(lowerer, st, scope, limit: int) -> tuple[int, int]:
    """(operations, iterations) a top-level statement unrolls to, from ``lowerer._cost_stmt``.

    Every step of pricing (a gate priced for new parameter values, a loop iteration whose
    variable steers control flow) stands for at least one step of the unrolling, so pricing that
    takes more steps than the iterations left proves the unrolling would exceed them too: it stops
    there, never slower than the limit allows."""
    lowerer.price_steps = 0
    try:
        return lowerer._cost_stmt(st, scope)
    except _PricedOut:
        return 0, limit + 1



@dataclass(frozen=True)
class Limits:
    """Resource limits checked while lowering (before any simulation work)."""

    max_ops: int = DEFAULT_MAX_OPS
    max_qubits: int = DEFAULT_MAX_QUBITS


@dataclass
class Scope:
    """Value-namespace bindings: consts/loop vars (numbers), gate angle params (exprs), qubit params."""

    values: dict[str, E.Expr] = field(default_factory=dict)
    qubits: dict[str, int] = field(default_factory=dict)
    parent: "Scope | None" = None

    def lookup_value(self, name: str) -> E.Expr | None:
        s: Scope | None = self
        while s is not None:
            if name in s.values:
                return s.values[name]
            s = s.parent
        return None

    def lookup_qubit(self, name: str) -> int | None:
        s: Scope | None = self
        while s is not None:
            if name in s.qubits:
                return s.qubits[name]
            s = s.parent
        return None


class _Lowerer:
    def __init__(self, limits: Limits):
        self.limits = limits
        self.consts: dict[str, float] = {}
        self.arrays: dict[str, ConstArray] = {}
        self.declared: list[DeclaredOutput] = []
        self.plain_expects = True  # every output statement so far is a Pauli-sum 'expect'
        self.registers: dict[str, Register] = {}
        self.values: dict[str, ValueDecl] = {}
        self.gates: dict[str, ast.GateDef] = {}
        self.declared_at: dict[str, Span | None] = {}
        self.num_qubits = 0
        self.num_params = 0
        self.num_inputs = 0
        self.ops: list[Operation] = []
        self.observables: list[Observable] = []
        self.measured: list[int] = []
        self.measured_set: set[int] = set()
        # dynamic circuits: classical bit registers (flat bit offsets) and the depth of runtime ifs
        self.bit_regs: dict[str, Register] = {}
        self.num_bits = 0
        self.runtime_if = 0
        self.include_stack: list[str] = []
        self.gate_stack: list[str] = []
        self.iterations = 0  # loop iterations unrolled so far (empty bodies cost time too)
        # Unrolling is priced before it is done (see _cost_block): inside a priced region nothing
        # is priced again, and operations take the span of the outermost user-gate call.
        self.priced = False
        self.call_span: Span | None = None
        self.gate_costs: dict[tuple, tuple[int, int]] = {}
        self.relevant: dict[str, frozenset[int]] = {}
        self.cost_stack: list[str] = []
        self.price_steps = 0  # work done pricing the current top-level statement
        # > 0 while a user gate's body is expanded for modifiers: its gphase statements are kept
        # (as GPHASE operations) because a control turns them into a phase on the control qubits
        self.collect_phase = 0

    # -- names --------------------------------------------------------------------------
    def _declare(self, name: str, span: Span | None) -> None:
        if name in BUILTIN_CONSTANTS:
            raise SemanticError(f"'{name}' is a built-in constant and cannot be redeclared", span)
        if name in self.declared_at:
            prev = self.declared_at[name]
            notes = (f"previous declaration at {prev}",) if prev else ()
            raise SemanticError(f"redeclaration of '{name}'", span, notes)
        self.declared_at[name] = span

    def _suggest(self, name: str, candidates) -> tuple[str, ...]:
        close = difflib.get_close_matches(name, sorted(candidates), n=1)
        return (f"did you mean '{close[0]}'?",) if close else ()

    # -- expressions ---------------------------------------------------------------------
    def expr(self, node: ast.Node, scope: Scope) -> E.Expr:
        """Lower an angle/compile-time expression to an IR expression."""
        if isinstance(node, ast.Num):
            return E.Const(node.value)
        if isinstance(node, ast.Name):
            v = scope.lookup_value(node.id)
            if v is not None:
                return v
            if node.id in self.consts:
                return E.Const(self.consts[node.id])
            if node.id in BUILTIN_CONSTANTS:
                return E.Const(BUILTIN_CONSTANTS[node.id])
            if node.id in self.values:
                d = self.values[node.id]
                if not d.scalar:
                    raise SemanticError(f"'{node.id}' is an array of {d.size}; index it, e.g. {node.id}[0]", node.span)
                return d.symbol(0)
            if node.id in self.arrays:
                a = self.arrays[node.id]
                how = f"{node.id}[i]" if a.ndim == 1 else f"{node.id}[i][j]"
                raise SemanticError(f"'{node.id}' is a constant array; index it ({how}) or take len({node.id})", node.span)
            if node.id in self.registers or scope.lookup_qubit(node.id) is not None:
                raise SemanticError(f"qubit '{node.id}' used as a value", node.span)
            if node.id in self.bit_regs:
                raise SemanticError(f"bit '{node.id}' is known only when the circuit runs: it can be read only in"
                                    " an 'if' condition", node.span)
            raise SemanticError(
                f"undeclared name '{node.id}'",
                node.span,
                self._suggest(node.id, list(self.consts) + list(self.arrays) + list(self.values) + list(BUILTIN_CONSTANTS)),
            )
        if isinstance(node, ast.Index) and node.name in self.arrays and scope.lookup_value(node.name) is None:
            a = self.arrays[node.name]
            if a.ndim == 2:
                raise SemanticError(f"'{node.name}' is a 2-D constant array; index it twice, {node.name}[i][j]", node.span)
            return E.Const(a.values[self._array_index(a, node.name, node.index, scope, "length")])
        if isinstance(node, ast.Index2):
            return E.Const(self._element2(node, scope))
        if isinstance(node, ast.ArrayLit):
            raise SemanticError("an array literal is only allowed as the value of a 'const' or the matrix of"
                                " 'hermitian(...)'", node.span)
        if isinstance(node, ast.SumOver):
            return E.signed_sum([(False, self.expr(node.body, sc)) for sc in self._sum_scopes(node, scope)])
        if isinstance(node, ast.Call) and node.fn == "len":
            return E.Const(float(self._len(node, scope)))
        if isinstance(node, ast.Index):
            if node.name in self.values:
                d = self.values[node.name]
                i = self.int_expr(node.index, scope, what="index")
                if d.scalar:
                    raise SemanticError(f"'{node.name}' is not an array", node.span)
                if not 0 <= i < d.size:
                    raise SemanticError(
                        f"index {i} out of range for {d.kind} '{node.name}' of size {d.size}", node.index.span or node.span
                    )
                return d.symbol(i)
            if node.name in self.registers:
                raise SemanticError(f"qubit '{node.name}[...]' used as a value", node.span)
            if node.name in self.bit_regs:
                raise SemanticError(f"bit '{node.name}[...]' is known only when the circuit runs: it can be read"
                                    " only in an 'if' condition", node.span)
            raise SemanticError(
                f"undeclared name '{node.name}'", node.span, self._suggest(node.name, list(self.values) + list(self.arrays))
            )
        if isinstance(node, ast.Call):
            if node.fn not in E.FUNCTIONS:
                if node.fn in PAULI_NAMES:
                    raise SemanticError(f"Pauli operator '{node.fn}(...)' is only allowed in 'expect'", node.span)
                raise SemanticError(
                    f"unknown function '{node.fn}'", node.span, self._suggest(node.fn, E.FUNCTIONS)
                )
            return E.func(node.fn, self.expr(node.arg, scope))
        if isinstance(node, ast.UnOp):
            a = self.expr(node.operand, scope)
            if node.op == "-":
                return E.neg(a)
            if node.op == "+":
                return a
            if node.op == "!":
                return E.Const(float(not self._const_value(a, node, "condition")))
        if isinstance(node, ast.BinOp):
            if node.op == "@":
                raise SemanticError("'@' (tensor product) is only allowed in 'expect'", node.span)
            if node.op in ("+", "-"):
                # a chain a + b - c ... parses left-deep; lowered as one signed sum (balanced when
                # long) without recursing once per term
                chain = sum_chain(node, lambda n: (n.op == "-", n.left, n.right)
                                  if isinstance(n, ast.BinOp) and n.op in ("+", "-") else None)
                return E.signed_sum([(negate, self.expr(t, scope)) for negate, t in chain])
            a = self.expr(node.left, scope)
            b = self.expr(node.right, scope)
            if node.op in ("+", "-", "*", "/", "**", "%"):
                check_division(node.op, a, b, node.span)
                return E.binary(node.op, a, b)
            # comparisons and logic: compile-time only
            x = self._const_value(a, node.left, "condition")
            y = self._const_value(b, node.right, "condition")
            r = {
                "==": x == y,
                "!=": x != y,
                "<": x < y,
                "<=": x <= y,
                ">": x > y,
                ">=": x >= y,
                "&&": bool(x) and bool(y),
                "||": bool(x) or bool(y),
            }[node.op]
            return E.Const(float(r))
        raise AssertionError(node)

    def _const_value(self, e: E.Expr, node: ast.Node, what: str) -> float:
        if not e.is_constant:
            kinds = sorted({s.kind for s in e.symbols()})
            raise SemanticError(
                f"{what} must be a compile-time constant, but depends on {' and '.join(k + 's' for k in kinds)}"
                f" ({', '.join(sorted(s.name for s in e.symbols()))})",
                node.span,
            )
        return e.value()

    def int_expr(self, node: ast.Node, scope: Scope, what: str = "index") -> int:
        e = self.expr(node, scope)
        if not e.is_constant:
            names = ", ".join(sorted(s.name for s in e.symbols()))
            raise SemanticError(
                f"{what} must be an integer compile-time expression; params and inputs cannot be used ({names})",
                node.span,
            )
        v = e.value()
        if not math.isfinite(v) or v != int(v):
            raise SemanticError(f"{what} must be an integer, got {E.format_number(v) if math.isfinite(v) else v}", node.span)
        return int(v)

    # -- constant arrays and sums ------------------------------------------------------------
    def _array_index(self, a: ConstArray, name: str, node: ast.Node, scope: Scope, what: str, size: int | None = None) -> int:
        i = self.int_expr(node, scope, what="array index")
        n = len(a) if size is None else size
        if not 0 <= i < n:
            raise SemanticError(f"index {i} out of range for constant array '{name}' of {what} {n}", node.span)
        return i

    def _element2(self, node: ast.Index2, scope: Scope) -> float:
        a = self.arrays.get(node.name)
        if a is None:
            if node.name in self.values or node.name in self.registers:
                raise SemanticError(f"'{node.name}' is a one-dimensional {self._kind_of(node.name)}; index it once,"
                                    f" {node.name}[i]", node.span)
            raise SemanticError(f"undeclared constant array '{node.name}'", node.span,
                                self._suggest(node.name, list(self.arrays)))
        if a.ndim == 1:
            raise SemanticError(f"'{node.name}' is a 1-D constant array; index it once, {node.name}[i]", node.span)
        i = self._array_index(a, node.name, node.row, scope, "rows")
        j = self._array_index(a, node.name, node.col, scope, "row length", len(a.values[0]))
        return a.values[i][j]

    def _len(self, node: ast.Call, scope: Scope) -> int:
        """len(a) of a constant array (rows of a 2-D one), len(a[i]) of a 2-D array's row, len(r) of a
        qubit register or a param/input array."""
        arg = node.arg
        if isinstance(arg, ast.Name):
            if arg.id in self.arrays:
                return len(self.arrays[arg.id])
            if arg.id in self.registers:
                return self.registers[arg.id].size
            if arg.id in self.values:
                return self.values[arg.id].size
        if isinstance(arg, ast.Index) and arg.name in self.arrays and self.arrays[arg.name].ndim == 2:
            a = self.arrays[arg.name]
            self._array_index(a, arg.name, arg.index, scope, "rows")
            return len(a.values[0])
        raise SemanticError("len(...) takes a constant array, a row of a 2-D constant array, a qubit register or a"
                            " param/input array", arg.span or node.span)

    def _sum_scopes(self, node: ast.SumOver, scope: Scope):
        """One scope per term of ``sum(... for ... [if ...])``: the loops nested left to right, the
        condition checked in each; refused past max_ops terms (each term is work at least once)."""
        count = 0

        def walk(k: int, sc: Scope):
            nonlocal count
            if k == len(node.loops):
                if node.cond is None or self._const_value(self.expr(node.cond, sc), node.cond, "sum condition"):
                    count += 1
                    if count > self.limits.max_ops:
                        raise ResourceLimitError(
                            f"sum has more than {self.limits.max_ops} terms (raise the limit with max_ops= / --max-ops)",
                            node.span)
                    yield sc
                return
            loop = node.loops[k]
            if loop.var in self.declared_at or loop.var in BUILTIN_CONSTANTS or sc.lookup_value(loop.var) is not None:
                raise SemanticError(f"sum variable '{loop.var}' shadows a declared name or an enclosing loop variable",
                                    loop.span or node.span)
            start, stop, step, _ = self._range(loop, sc)
            for v in range(start, stop, step):
                yield from walk(k + 1, Scope(values={loop.var: E.Const(float(v))}, parent=sc))

        yield from walk(0, scope)

    def _const_array(self, name: str, node: ast.ArrayLit, scope: Scope) -> ConstArray:
        """A const array literal, checked: numbers or rows of numbers, rectangular, not empty."""
        items = node.items
        if not items:
            raise SemanticError(f"const '{name}' is an empty array", node.span)
        rows = [isinstance(it, ast.ArrayLit) for it in items]
        if any(rows) and not all(rows):
            bad = items[rows.index(not rows[0])]
            raise SemanticError(
                "array mixes numbers and rows; write a 1-D array [a, b] or a 2-D array [[a, b], [c, d]]",
                bad.span or node.span)

        def number(it: ast.Node) -> float:
            if isinstance(it, ast.ArrayLit):
                raise SemanticError("arrays have at most two dimensions", it.span or node.span)
            v = self._const_value(self.expr(it, scope), it, "array element")
            if not math.isfinite(v):
                raise SemanticError(f"array element is not a finite number ({v})", it.span or node.span)
            return v

        if not rows[0]:
            return ConstArray(tuple(number(it) for it in items), 1, node.span)
        width = len(items[0].items)  # type: ignore[attr-defined]
        if width == 0:
            raise SemanticError(f"const '{name}' has an empty row", items[0].span or node.span)
        out = []
        for k, row in enumerate(items):
            if len(row.items) != width:  # type: ignore[attr-defined]
                raise SemanticError(
                    f"ragged array: row {k} has {len(row.items)} element{'s' if len(row.items) != 1 else ''},"  # type: ignore[attr-defined]
                    f" row 0 has {width}", row.span or node.span)
            out.append(tuple(number(it) for it in row.items))  # type: ignore[attr-defined]
        return ConstArray(tuple(out), 2, node.span)

    def _matrix(self, node: ast.Node, scope: Scope) -> list[list[float]]:
        """The matrix of hermitian(...): a 2-D const array or an inline 2-D array literal."""
        if isinstance(node, ast.Name) and node.id in self.arrays:
            a = self.arrays[node.id]
        elif isinstance(node, ast.ArrayLit):
            a = self._const_array("hermitian", node, scope)
        else:
            raise SemanticError("hermitian(...) takes a 2-D constant array, e.g. const M = [[1, 0], [0, -1]];",
                                node.span)
        if a.ndim != 2:
            raise SemanticError("hermitian(...) needs a 2-D (square) array, got a 1-D one", node.span)
        return [list(r) for r in a.values]

    def _output_qubits(self, qargs, scope: Scope, what: str, span: Span | None) -> tuple[int, ...]:
        qs: list[int] = []
        for q in qargs:
            for flat in self.qarg(q, scope):
                if flat in qs:
                    raise SemanticError(f"qubit {self._qubit_name(flat)} appears twice in '{what}'", q.span or span)
                qs.append(flat)
        return tuple(qs)

    # -- qubits --------------------------------------------------------------------------
    def qarg(self, q: ast.QArg, scope: Scope) -> list[int]:
        """Flat qubits named by a qubit argument (a whole register broadcasts)."""
        bound = scope.lookup_qubit(q.name)
        if bound is not None:
            if q.index is not None:
                raise SemanticError(f"gate qubit argument '{q.name}' is a single qubit and cannot be indexed", q.span)
            return [bound]
        reg = self.registers.get(q.name)
        if reg is not None and self.gate_stack:
            # A gate acts only on its qubit arguments (as in OpenQASM), so that it can be reused and inverted.
            g = self.gates[self.gate_stack[-1]]
            raise SemanticError(
                f"gate '{g.name}' can only act on its qubit arguments ({', '.join(g.qubits)}),"
                f" not on the register '{q.name}'",
                q.span,
            )
        if reg is None:
            if q.name in self.values or q.name in self.consts or q.name in self.arrays:
                raise SemanticError(f"'{q.name}' is a {self._kind_of(q.name)}, not a qubit register", q.span)
            raise SemanticError(
                f"undeclared qubit register '{q.name}'",
                q.span,
                self._suggest(q.name, list(self.registers) + list(scope.qubits)),
            )
        if q.index is None:
            return [reg.offset + i for i in range(reg.size)]
        if reg.scalar:
            raise SemanticError(f"qubit '{q.name}' is not a register and cannot be indexed", q.span)
        v = q.index.value if type(q.index) is ast.Num else None
        if type(v) is int or (type(v) is float and v.is_integer()):
            i = int(v)  # a literal index: no expression to build and check
        else:
            i = self.int_expr(q.index, scope, what="qubit index")
        if not 0 <= i < reg.size:
            raise SemanticError(
                f"qubit index {i} out of range for register '{q.name}' of size {reg.size}", q.index.span or q.span
            )
        return [reg.offset + i]

    def _kind_of(self, name: str) -> str:
        if name in self.consts:
            return "constant"
        if name in self.arrays:
            return "constant array"
        if name in self.registers:
            return "qubit register"
        return self.values[name].kind

    # -- statements ------------------------------------------------------------------------
    def block(self, stmts, scope: Scope, out: list[Operation], in_gate: str | None, base_dir: Path) -> None:
        for s in stmts:
            self.statement(s, scope, out, in_gate, base_dir)

    def statement(self, s: ast.Node, scope: Scope, out: list[Operation], in_gate: str | None, base_dir: Path) -> None:
        if type(s) is ast.GateCall:  # nearly every statement of a large unrolled program
            if s.modifiers and any(m.kind != "inv" for m in s.modifiers) or s.name == GPHASE:
                self._modified_call(s, scope, out, base_dir)
            else:
                self._gate_call(s, scope, out, base_dir)
            return
        if type(s) is ast.Barrier:
            self._barrier(s, scope, out, in_gate)
            return
        top = in_gate is None and scope.parent is None
        if isinstance(s, (ast.ConstDecl, ast.QubitDecl, ast.ValueDeclStmt, ast.GateDef, ast.Include, ast.BitDecl)):
            if not top:
                where = f"gate '{in_gate}'" if in_gate else "a loop or if block"
                what = f"{s.kind} declaration" if isinstance(s, ast.ValueDeclStmt) else _STATEMENT_NAMES[type(s)]
                raise SemanticError(f"{what} is not allowed inside {where}; move it to the top level", s.span)
        if isinstance(s, ast.ConstDecl) and (isinstance(s.value, ast.ArrayLit) or (
                isinstance(s.value, ast.Name) and s.value.id in self.arrays)):
            arr = self._const_array(s.name, s.value, scope) if isinstance(s.value, ast.ArrayLit) else self.arrays[s.value.id]
            self._declare(s.name, s.span)
            self.arrays[s.name] = arr
        elif isinstance(s, ast.ConstDecl):
            e = self.expr(s.value, scope)
            v = self._const_value(e, s.value, "const value")
            if not math.isfinite(v):
                raise SemanticError(f"const '{s.name}' is not a finite number ({v})", s.value.span or s.span)
            self._declare(s.name, s.span)
            self.consts[s.name] = v
        elif isinstance(s, ast.QubitDecl):
            size = 1 if s.size is None else self.int_expr(s.size, scope, what="register size")
            if size < 1:
                raise SemanticError(f"register size must be positive, got {size}", s.size.span if s.size else s.span)
            if self.num_qubits + size > self.limits.max_qubits:
                raise ResourceLimitError(
                    f"program declares {self.num_qubits + size} qubits, over the limit of {self.limits.max_qubits}"
                    " (raise it with max_qubits= / --max-qubits)",
                    s.span,
                )
            self._declare(s.name, s.span)
            self.registers[s.name] = Register(s.name, size, self.num_qubits, s.size is None, s.span)
            self.num_qubits += size
        elif isinstance(s, ast.ValueDeclStmt):
            size = 1 if s.size is None else self.int_expr(s.size, scope, what=f"{s.kind} size")
            if size < 1:
                raise SemanticError(f"{s.kind} size must be positive, got {size}", s.size.span if s.size else s.span)
            total = size + (self.num_params if s.kind == "param" else self.num_inputs)
            if total > self.limits.max_ops:  # every element becomes a symbol, a name and a column
                raise ResourceLimitError(
                    f"{s.kind}s would number {total}, over the limit of {self.limits.max_ops}"
                    " (the operation limit; raise it with max_ops= / --max-ops)",
                    s.size.span if s.size else s.span,
                )
            self._declare(s.name, s.span)
            offset = self.num_params if s.kind == "param" else self.num_inputs
            self.values[s.name] = ValueDecl(s.kind, s.name, size, offset, s.size is None, s.span)
            if s.kind == "param":
                self.num_params += size
            else:
                self.num_inputs += size
        elif isinstance(s, ast.GateDef):
            self._gate_def(s)
        elif isinstance(s, ast.GateCall):
            self._gate_call(s, scope, out, base_dir)
        elif isinstance(s, ast.For):
            self._for(s, scope, out, in_gate, base_dir)
        elif isinstance(s, ast.If):
            if self._mentions_bits(s.cond, scope):
                self._runtime_if(s, scope, out, in_gate, base_dir)
                return
            c = self._const_value(self.expr(s.cond, scope), s.cond, "'if' condition")
            self.block(s.then if c else s.orelse, Scope(parent=scope), out, in_gate, base_dir)
        elif isinstance(s, (ast.Expect, ast.Var, ast.Probs, ast.Sample)):
            what = {ast.Expect: "expect", ast.Var: "var", ast.Probs: "probs", ast.Sample: "sample"}[type(s)]
            if in_gate:
                raise SemanticError(f"'{what}' is not allowed inside gate '{in_gate}'", s.span)
            if self.runtime_if:
                raise SemanticError(f"'{what}' is not allowed inside a runtime 'if' (one whose condition reads a"
                                    " bit): outputs describe the whole program; move it to the top level", s.span)
            self._output(s, scope)
        elif isinstance(s, ast.BitDecl):
            size = 1 if s.size is None else self.int_expr(s.size, scope, what="bit register size")
            if size < 1:
                raise SemanticError(f"bit register size must be positive, got {size}", s.size.span if s.size else s.span)
            if self.num_bits + size > self.limits.max_ops:
                raise ResourceLimitError(f"bits would number {self.num_bits + size}, over the limit of "
                                         f"{self.limits.max_ops} (the operation limit; raise it with max_ops= / --max-ops)",
                                         s.span)
            self._declare(s.name, s.span)
            self.bit_regs[s.name] = Register(s.name, size, self.num_bits, s.size is None, s.span)
            self.num_bits += size
        elif isinstance(s, (ast.MeasureAssign, ast.Reset)):
            self._dynamic_stmt(s, scope, out, in_gate)
        elif isinstance(s, ast.Measure):
            if in_gate:
                raise SemanticError(f"'measure' is not allowed inside gate '{in_gate}'", s.span)
            if self.runtime_if:
                raise SemanticError("a terminal 'measure' is not allowed inside a runtime 'if'; measure into a bit"
                                    " ('c[0] = measure q[0];') or move it to the end", s.span)
            for q in s.qargs:
                for flat in self.qarg(q, scope):
                    if flat not in self.measured_set:
                        self.measured_set.add(flat)
                        self.measured.append(flat)
        elif isinstance(s, ast.Include):
            self._include(s, scope, out, base_dir)
        else:
            raise AssertionError(s)

    # -- dynamic circuits -------------------------------------------------------------------
    def bitarg(self, q: ast.QArg, scope: Scope) -> list[int]:
        """Flat bits named by a bit argument (a whole bit register broadcasts)."""
        reg = self.bit_regs.get(q.name)
        if reg is None:
            if q.name in self.registers:
                raise SemanticError(f"'{q.name}' is a qubit register, not a bit register; declare bits with"
                                    f" 'bit c[n];'", q.span)
            if q.name in self.values or q.name in self.consts or q.name in self.arrays:
                raise SemanticError(f"'{q.name}' is a {self._kind_of(q.name)}, not a bit register", q.span)
            raise SemanticError(f"undeclared bit register '{q.name}' (declare it with 'bit {q.name}[n];')", q.span,
                                self._suggest(q.name, self.bit_regs))
        if q.index is None:
            return [reg.offset + i for i in range(reg.size)]
        if reg.scalar:
            raise SemanticError(f"bit '{q.name}' is not a register and cannot be indexed", q.span)
        i = self.int_expr(q.index, scope, what="bit index")
        if not 0 <= i < reg.size:
            raise SemanticError(f"bit index {i} out of range for bit register '{q.name}' of size {reg.size}",
                                q.index.span or q.span)
        return [reg.offset + i]

    def _bit_name(self, flat: int) -> str:
        for r in self.bit_regs.values():
            if r.offset <= flat < r.offset + r.size:
                return r.qubit_name(flat - r.offset)
        return f"b{flat}"

    def _dynamic_stmt(self, s: ast.MeasureAssign | ast.Reset, scope: Scope, out: list[Operation],
                      in_gate: str | None) -> None:
        what = "measure" if isinstance(s, ast.MeasureAssign) else "reset"
        if in_gate:
            raise SemanticError(f"'{what}' is not allowed inside gate '{in_gate}' (gates are unitaries)", s.span)
        if isinstance(s, ast.MeasureAssign):
            bits = self.bitarg(s.target, scope)
            qubits = self.qarg(s.qarg, scope)
            if len(bits) != len(qubits):
                raise SemanticError(f"measuring {len(qubits)} qubit(s) into {len(bits)} bit(s): the sizes must be"
                                    " equal", s.span)
            pairs = list(zip(qubits, bits))
        else:
            pairs = []
            for q in s.qargs:
                for flat in self.qarg(q, scope):
                    if flat not in [p for p, _ in pairs]:
                        pairs.append((flat, None))
        for q, b in pairs:
            if q in self.measured_set:
                raise SemanticError(
                    f"'{what}' on {self._qubit_name(q)} after its terminal 'measure'; qcomp measures at the end"
                    " of the circuit, so move 'measure' last (or measure into a bit: 'c[0] = measure q[0];')",
                    s.span)
            self._emit(out, Operation(what, (q,), (), s.span, None, None, b))

    def _mentions_bits(self, node: ast.Node, scope: Scope) -> bool:
        """Whether an expression reads a classical bit (then an ``if`` on it is a runtime if)."""
        if not self.bit_regs:
            return False
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, (ast.Name, ast.Index)):
                name = n.id if isinstance(n, ast.Name) else n.name
                if name in self.bit_regs and scope.lookup_value(name) is None:
                    return True
            for f in getattr(n, "__dataclass_fields__", ()):
                v = getattr(n, f)
                if isinstance(v, ast.Node):
                    stack.append(v)
                elif isinstance(v, tuple):
                    stack.extend(x for x in v if isinstance(x, ast.Node))
        return False

    def _bit_operand(self, node: ast.Node, scope: Scope) -> tuple[int, ...] | None:
        """The flat bits of ``c`` / ``c[i]`` when ``node`` names bits, else None."""
        if isinstance(node, ast.Name) and node.id in self.bit_regs and scope.lookup_value(node.id) is None:
            return tuple(self.bitarg(ast.QArg(node.id, None, node.span), scope))
        if isinstance(node, ast.Index) and node.name in self.bit_regs and scope.lookup_value(node.name) is None:
            return tuple(self.bitarg(ast.QArg(node.name, node.index, node.span), scope))
        return None

    _COND_HELP = ("a runtime condition compares bits or bit registers with integers: 'c[0] == 1', 'c == 3', 'c != 0',"
                  " 'c[0]', '!c[0]', joined by '&&'")

    def _condition(self, node: ast.Node, scope: Scope) -> "tuple | bool":
        """A runtime condition as clauses (bits, value, equal), or a bool when it does not read bits."""
        if not self._mentions_bits(node, scope):
            return bool(self._const_value(self.expr(node, scope), node, "'if' condition"))
        if isinstance(node, ast.BinOp) and node.op == "&&":
            a, b = self._condition(node.left, scope), self._condition(node.right, scope)
            if a is False or b is False:
                return False
            return b if a is True else a if b is True else a + b  # type: ignore[operator]
        if isinstance(node, ast.UnOp) and node.op == "!":
            inner = self._condition(node.operand, scope)
            if isinstance(inner, bool):
                return not inner
            return (self._negate(inner, node),)
        bits = self._bit_operand(node, scope)
        if bits is not None:  # truthiness: a bit is 1, a register is nonzero
            return (((bits, 1, True),) if len(bits) == 1 else ((bits, 0, False),))
        if isinstance(node, ast.BinOp) and node.op in ("==", "!="):
            left, right = node.left, node.right
            bits = self._bit_operand(left, scope)
            if bits is None:
                left, right = right, left
                bits = self._bit_operand(left, scope)
            if bits is None or self._mentions_bits(right, scope):
                raise SemanticError(f"unsupported runtime condition: {self._COND_HELP}", node.span)
            v = self._const_value(self.expr(right, scope), right, "compared value")
            if not float(v).is_integer() or not 0 <= v < 2 ** len(bits):
                raise SemanticError(f"{self._bit_name(bits[0]) if len(bits) == 1 else left.id} holds {len(bits)} bit(s)"  # type: ignore[attr-defined]
                                    f" and cannot equal {v:g}; compare with an integer in [0, {2 ** len(bits)})",
                                    right.span or node.span)
            clause = (bits, int(v), node.op == "==")
            if len(bits) == 1 and not clause[2]:
                clause = (bits, 1 - clause[1], True)
            return (clause,)
        raise SemanticError(f"unsupported runtime condition: {self._COND_HELP}", node.span)

    def _negate(self, clauses: tuple, node: ast.Node) -> tuple:
        """The one clause that is the negation of a conjunction of clauses."""
        if len(clauses) == 1:
            bits, v, eq = clauses[0]
            if len(bits) == 1:
                return (bits, 1 - v, True) if eq else (bits, v, True)
            return (bits, v, not eq)
        if not all(eq for _, _, eq in clauses):
            raise SemanticError("cannot negate a runtime condition that joins a '!=' with '&&'; nest the 'if's"
                                " instead", node.span)
        lits: dict[int, int] = {}
        for bits, v, _ in clauses:
            for k, b in enumerate(bits):
                bv = (v >> k) & 1
                if lits.get(b, bv) != bv:  # never true: its negation always holds
                    return ((), 0, False)
                lits[b] = bv
        order = tuple(lits)
        return (order, sum(lits[b] << k for k, b in enumerate(order)), False)

    def _runtime_if(self, s: ast.If, scope: Scope, out: list[Operation], in_gate: str | None, base_dir: Path) -> None:
        """``if`` on bits: both branches lowered, each operation classically conditioned (the else
        branch on the negated condition)."""
        if in_gate:
            raise SemanticError(f"a runtime 'if' (on a bit) is not allowed inside gate '{in_gate}' (gates are"
                                " unitaries); put it between calls", s.span)
        cond = self._condition(s.cond, scope)
        if isinstance(cond, bool):  # the bits cancel out of the condition (e.g. 'c[0] == 1 && 0')
            self.block(s.then if cond else s.orelse, Scope(parent=scope), out, in_gate, base_dir)
            return
        branches = [(s.then, cond)]
        if s.orelse:
            neg = self._negate(cond, s.cond)
            if neg[0]:
                branches.append((s.orelse, (neg,)))
            else:
                branches.append((s.orelse, None))  # the condition never holds: the else always runs
        for stmts, c in branches:
            body: list[Operation] = []
            self.runtime_if += 1
            try:
                self.block(stmts, Scope(parent=scope), body, in_gate, base_dir)
            finally:
                self.runtime_if -= 1
            for op in body:
                if c is None or op.name == "barrier":
                    self._emit(out, op)
                elif is_channel(op.name):
                    raise SemanticError(f"noise channel '{op.name}' inside a runtime 'if' is not supported",
                                        op.span or s.span)
                else:
                    self._emit(out, op.with_cond(c + (op.cond or ())))

    def _gate_def(self, s: ast.GateDef) -> None:
        if s.name in GATES or s.name in ALIASES:
            raise SemanticError(f"gate '{s.name}' is a built-in gate and cannot be redefined", s.span)
        if s.name in self.gates:
            prev = self.gates[s.name].span
            raise SemanticError(
                f"redefinition of gate '{s.name}'", s.span, (f"previous definition at {prev}",) if prev else ()
            )
        for names, what in ((s.params, "angle parameter"), (s.qubits, "qubit argument")):
            if len(set(names)) != len(names):
                raise SemanticError(f"gate '{s.name}' repeats a {what} name", s.span)
        if set(s.params) & set(s.qubits):
            raise SemanticError(f"gate '{s.name}' uses a name both as angle and as qubit", s.span)
        self.gates[s.name] = s

    def _emit(self, out: list[Operation], op: Operation) -> None:
        out.append(op)
        if len(out) > self.limits.max_ops:
            raise ResourceLimitError(
                f"program unrolls to more than {self.limits.max_ops} operations (raise the limit with max_ops= / --max-ops)",
                op.span,
            )

    def _resolve_gate(self, s: ast.GateCall, controls: int | None = 0
                      ) -> tuple[str, LibraryGate | None, ast.GateDef | None]:
        """The library gate or user gate ``s`` calls, with its arity checked (its qubits with
        ``controls`` more for the control modifiers; None: not known yet, not checked)."""
        name = ALIASES.get(s.name, s.name)
        lib = GATES.get(name)
        user = self.gates.get(s.name)
        if name == GPHASE:
            if len(s.args) != 1:
                raise SemanticError(f"'gphase' takes 1 angle, got {len(s.args)}", s.span)
            if controls is not None and len(s.qargs) != controls:
                raise SemanticError(
                    f"'gphase' under {controls} control{'s' if controls != 1 else ''} takes {controls}"
                    f" qubit{'s' if controls != 1 else ''}, got {len(s.qargs)}", s.span)
            return name, None, None
        if lib is None and user is None:
            candidates = list(GATES) + list(ALIASES) + list(self.gates)
            raise SemanticError(f"unknown gate '{s.name}'", s.name_span or s.span, self._suggest(s.name, candidates))
        n_angles = lib.num_angles if lib else len(user.params)
        n_qubits = lib.num_qubits if lib else len(user.qubits)
        if len(s.args) != n_angles:
            raise SemanticError(
                f"gate '{s.name}' takes {n_angles} angle{'s' if n_angles != 1 else ''}, got {len(s.args)}", s.span
            )
        if controls is None:
            return name, lib, user
        if controls and len(s.qargs) != n_qubits + controls:
            raise SemanticError(
                f"gate '{s.name}' under {controls} control{'s' if controls != 1 else ''} takes"
                f" {controls} + {n_qubits} qubits, got {len(s.qargs)}", s.span
            )
        if len(s.qargs) != n_qubits + controls:
            raise SemanticError(
                f"gate '{s.name}' takes {n_qubits} qubit{'s' if n_qubits != 1 else ''}, got {len(s.qargs)}", s.span
            )
        return name, lib, user

    # -- modifiers, gphase, barrier ---------------------------------------------------------
    def _modifiers(self, s: ast.GateCall, scope: Scope) -> list[tuple[str, float | int | None]]:
        """The modifiers of ``s`` with their compile-time arguments evaluated and checked."""
        out: list[tuple[str, float | int | None]] = []
        for m in s.modifiers:
            if m.kind == "inv":
                out.append(("inv", None))
            elif m.kind == "pow":
                k = self._const_value(self.expr(m.arg, scope), m.arg, "'pow' exponent")
                if not math.isfinite(k):
                    raise SemanticError(f"'pow' exponent is not a finite number ({k})", m.arg.span or m.span)
                if k.is_integer() and abs(k) > self.limits.max_ops:
                    raise ResourceLimitError(
                        f"'pow' repeats the gate {abs(int(k))} times, over the unrolling limit of {self.limits.max_ops}"
                        " operations (raise the limit with max_ops= / --max-ops)", m.arg.span or m.span)
                out.append(("pow", k))
            else:
                n = 1 if m.arg is None else self.int_expr(m.arg, scope, what=f"'{m.kind}' count")
                if n < 1:
                    raise SemanticError(f"'{m.kind}' count must be at least 1, got {n}", m.arg.span or m.span)
                out.append((m.kind, n))
        return out

    def _literal_controls(self, s: ast.GateCall) -> int | None:
        """The number of control qubits of ``s`` when its counts are literals (body checks), else None."""
        n = 0
        for m in s.modifiers:
            if m.kind in ("ctrl", "negctrl"):
                if m.arg is None:
                    n += 1
                elif type(m.arg) is ast.Num and m.arg.value == int(m.arg.value):
                    n += int(m.arg.value)
                else:
                    return None
        return n

    def _modified_call(self, s: ast.GateCall, scope: Scope, out: list[Operation], base_dir: Path) -> None:
        """A call with ctrl / negctrl / pow modifiers, or gphase: the gate's operations on local
        qubits, the modifiers applied (qcomp.ir.modifiers), then mapped onto the call's qubits."""
        mods = self._modifiers(s, scope)
        controls = sum(int(a) for k, a in mods if k in ("ctrl", "negctrl"))
        name, lib, user = self._resolve_gate(s, controls)
        if user is not None and not self.priced:
            ops, iters = self._price(s, scope)
            self._check_budget(ops, iters, len(out), f"gate '{s.name}'", s.span)
            self.iterations += iters
        angles = tuple(self.expr(a, scope) for a in s.args)
        for node, a in zip(s.args, angles):
            check_angle(a, s.name, node.span or s.span)
        span = self.call_span or s.span
        if lib is not None:
            n = lib.num_qubits
            seq = [(name, angles, tuple(range(n)))]
        elif user is not None:
            n = len(user.qubits)
            body: list[Operation] = []
            saved = self.measured_set
            self.measured_set, self.collect_phase = set(), self.collect_phase + 1  # local qubits 0..n-1
            try:
                self._expand_user_gate(user, angles, tuple(range(n)), s, base_dir, body)
            finally:
                self.measured_set, self.collect_phase = saved, self.collect_phase - 1
            seq = [(op.name, op.angles, op.qubits) for op in body]
        else:
            n = 0
            seq = [(GPHASE, angles, ())]
        if controls and n + controls > MAX_MODIFIED_QUBITS:
            # checked before any work: a derived gate's matrix, spectra and decomposition check grow
            # as 4**k, and its controlled decomposition roughly doubles with each further control
            raise ResourceLimitError(f"'{s.name}' under {controls} controls acts on {n + controls} qubits; a "
                                f"controlled gate acts on at most {MAX_MODIFIED_QUBITS} (its matrix has "
                                f"4**k entries)", s.span)
        try:
            seq, nq = apply_modifiers(mods, seq, n)
        except ModifierError as e:
            raise SemanticError(f"{e.message} (in '{s.name}')", s.span) from None
        groups = [self.qarg(q, scope) for q in s.qargs]
        sizes = {len(g) for g in groups if len(g) > 1}
        if len(sizes) > 1:
            raise SemanticError(
                f"registers of different sizes ({', '.join(str(len(g)) for g in groups)}) cannot be broadcast together",
                s.span,
            )
        width = sizes.pop() if sizes else 1
        for k in range(width):
            qubits = tuple(g[k] if len(g) > 1 else g[0] for g in groups)
            if len(set(qubits)) != len(qubits):
                dup = [q for q in qubits if qubits.count(q) > 1][0]
                raise SemanticError(
                    f"qubit {self._qubit_name(dup)} is used twice in one '{s.name}' gate"
                    " (a control qubit must differ from the others)", s.span
                )
            after = [q for q in qubits if q in self.measured_set]
            if after:
                raise SemanticError(
                    f"gate '{s.name}' on {self._qubit_name(after[0])} after it was measured;"
                    " qcomp measures at the end of the circuit, so move 'measure' last",
                    s.span,
                )
            for g, a, qs in seq:
                if g == GPHASE:
                    if self.collect_phase:  # kept for a control applied further out
                        self._emit(out, Operation(GPHASE, (), a, span))
                    continue  # a global phase: no observable effect
                self._emit(out, Operation(g, tuple(qubits[q] for q in qs), a, span))

    def _barrier(self, s: ast.Barrier, scope: Scope, out: list[Operation], in_gate: str | None) -> None:
        if in_gate:
            raise SemanticError(f"'barrier' is not allowed inside gate '{in_gate}' (gates are unitaries that"
                                " modifiers may invert or control); put it between calls", s.span)
        if s.qargs:
            qubits: list[int] = []
            for q in s.qargs:
                for flat in self.qarg(q, scope):
                    if flat not in qubits:
                        qubits.append(flat)
        else:
            qubits = list(range(self.num_qubits))
        if qubits:
            self._emit(out, Operation("barrier", tuple(qubits), (), s.span))

    def _gate_call(self, s: ast.GateCall, scope: Scope, out: list[Operation], base_dir: Path) -> None:
        if is_channel_call(self, s):  # noise channels (qcomp.frontend.channel_call)
            return lower_channel_call(self, s, scope, out, check_angle)
        name, lib, user = self._resolve_gate(s)
        if user is not None and not self.priced:
            ops, iters = self._price(s, scope)
            self._check_budget(ops, iters, len(out), f"gate '{s.name}'", s.span)
            self.iterations += iters
        angles = tuple(self.expr(a, scope) for a in s.args)
        for node, a in zip(s.args, angles):
            check_angle(a, s.name, node.span or s.span)
        groups = [self.qarg(q, scope) for q in s.qargs]
        sizes = {len(g) for g in groups if len(g) > 1}
        if len(sizes) > 1:
            raise SemanticError(
                f"registers of different sizes ({', '.join(str(len(g)) for g in groups)}) cannot be broadcast together",
                s.span,
            )
        width = sizes.pop() if sizes else 1
        if width > 1 and len(out) + width > self.limits.max_ops:
            self._emit(out, Operation("id", (0,), (), s.span))  # reports the limit
        for k in range(width):
            qubits = tuple(g[k] if len(g) > 1 else g[0] for g in groups)
            if len(set(qubits)) != len(qubits):
                dup = [q for q in qubits if qubits.count(q) > 1][0]
                raise SemanticError(
                    f"qubit {self._qubit_name(dup)} is used twice in one '{s.name}' gate", s.span
                )
            # Measurement is terminal: a gate written after 'measure' would silently move before it.
            after = [q for q in qubits if q in self.measured_set]
            if after:
                raise SemanticError(
                    f"gate '{s.name}' on {self._qubit_name(after[0])} after it was measured;"
                    " qcomp measures at the end of the circuit, so move 'measure' last",
                    s.span,
                )
            span = self.call_span or s.span
            if lib is not None:
                ops = [Operation(name, qubits, angles, span)]
                if s.inverses % 2 == 1:
                    ops = _invert(ops)
                for op in ops:
                    self._emit(out, op)
            elif s.inverses % 2 == 1:
                body: list[Operation] = []
                self._expand_user_gate(user, angles, qubits, s, base_dir, body)
                for op in _invert(body):
                    self._emit(out, op)
            else:
                self._expand_user_gate(user, angles, qubits, s, base_dir, out)

    def _qubit_name(self, flat: int) -> str:
        for r in self.registers.values():
            if r.offset <= flat < r.offset + r.size:
                return r.qubit_name(flat - r.offset)
        return f"q{flat}"

    def _expand_user_gate(
        self, g: ast.GateDef, angles: tuple[E.Expr, ...], qubits: tuple[int, ...], call: ast.GateCall,
        base_dir: Path, out: list[Operation],
    ) -> None:
        if g.name in self.gate_stack:
            chain = " -> ".join(self.gate_stack + [g.name])
            raise SemanticError(f"recursive gate '{g.name}' ({chain})", call.span)
        scope = Scope(values=dict(zip(g.params, angles)), qubits=dict(zip(g.qubits, qubits)))
        self.gate_stack.append(g.name)
        # Operations take the outermost call's span so diagnostics point at the user's call site;
        # they go straight to ``out`` (no copy per nesting level).
        saved = self.priced, self.call_span
        self.priced, self.call_span = True, self.call_span or call.span
        try:
            self.block(g.body, scope, out, g.name, base_dir)
        finally:
            self.gate_stack.pop()
            self.priced, self.call_span = saved

    # -- gate bodies ------------------------------------------------------------------------------
    def check_gate_bodies(self) -> None:
        """Check the body of every gate, called or not, once all gates are defined (a body may call
        gates defined after it): gate names and arities, qubit and value names, statements allowed."""
        for g in self.gates.values():
            self._check_body(g, g.body, set(g.params))

    def _check_body(self, g: ast.GateDef, stmts, values: set[str]) -> None:
        for st in stmts:
            if isinstance(st, ast.Barrier):
                raise SemanticError(f"'barrier' is not allowed inside gate '{g.name}' (gates are unitaries that"
                                    " modifiers may invert or control); put it between calls", st.span)
            if isinstance(st, ast.GateCall):
                self._resolve_gate(st, self._literal_controls(st))
                for m in st.modifiers:
                    if m.arg is not None:
                        self._check_names(m.arg, values)
                for a in st.args:
                    self._check_names(a, values)
                for q in st.qargs:
                    if q.name in g.qubits:
                        if q.index is not None:
                            raise SemanticError(
                                f"gate qubit argument '{q.name}' is a single qubit and cannot be indexed", q.span
                            )
                    elif q.name in self.registers:
                        raise SemanticError(
                            f"gate '{g.name}' can only act on its qubit arguments ({', '.join(g.qubits)}),"
                            f" not on the register '{q.name}'",
                            q.span,
                        )
                    else:
                        raise SemanticError(
                            f"undeclared qubit register '{q.name}'", q.span, self._suggest(q.name, g.qubits)
                        )
            elif isinstance(st, ast.For):
                for a in st.range_args:
                    self._check_names(a, values)
                self._check_body(g, st.body, values | {st.var})
            elif isinstance(st, (ast.MeasureAssign, ast.Reset)):
                what = "measure" if isinstance(st, ast.MeasureAssign) else "reset"
                raise SemanticError(f"'{what}' is not allowed inside gate '{g.name}' (gates are unitaries)", st.span)
            elif isinstance(st, ast.If):
                if self._mentions_bits(st.cond, Scope(values={v: E.ZERO for v in values})):
                    raise SemanticError(f"a runtime 'if' (on a bit) is not allowed inside gate '{g.name}' (gates"
                                        " are unitaries); put it between calls", st.span)
                self._check_names(st.cond, values)
                self._check_body(g, st.then, values)
                self._check_body(g, st.orelse, values)
            elif isinstance(st, (ast.Expect, ast.Measure, ast.Var, ast.Probs, ast.Sample)):
                what = {ast.Expect: "expect", ast.Measure: "measure", ast.Var: "var", ast.Probs: "probs",
                        ast.Sample: "sample"}[type(st)]
                raise SemanticError(f"'{what}' is not allowed inside gate '{g.name}'", st.span)
            else:  # declarations, gate definitions, include
                what = f"{st.kind} declaration" if isinstance(st, ast.ValueDeclStmt) else _STATEMENT_NAMES[type(st)]
                raise SemanticError(f"{what} is not allowed inside gate"
                                    f" '{g.name}'; move it to the top level", st.span)

    def _check_names(self, node: ast.Node, values: set[str]) -> None:
        """Every name an expression in a gate body reads exists (a parameter, loop variable, const,
        param, input or built-in constant), and every function it calls is known."""
        known = values | set(self.consts) | set(self.values) | set(BUILTIN_CONSTANTS)
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, ast.SumOver):
                inner = values | {lp.var for lp in n.loops}
                for lp in n.loops:
                    for a in lp.range_args:
                        self._check_names(a, inner)
                for part in (n.body, n.cond):
                    if part is not None:
                        self._check_names(part, inner)
                continue
            if isinstance(n, ast.Index2):
                if n.name not in self.arrays:
                    raise SemanticError(f"undeclared constant array '{n.name}'", n.span, self._suggest(n.name, list(self.arrays)))
                stack.extend((n.row, n.col))
                continue
            if isinstance(n, ast.ArrayLit):
                raise SemanticError("an array literal is only allowed as the value of a 'const' or the matrix of"
                                    " 'hermitian(...)'", n.span)
            if isinstance(n, ast.Call) and n.fn == "len":
                continue  # its argument names an array or register, checked where the call is lowered
            if isinstance(n, ast.Name) and n.id in self.arrays:
                continue  # refused where lowered, with the indexing hint
            if isinstance(n, ast.Index) and n.name in self.arrays:
                stack.append(n.index)
                continue
            if isinstance(n, ast.Name) and n.id not in known:
                what = "qubit" if n.id in self.registers else None
                if what:
                    raise SemanticError(f"qubit '{n.id}' used as a value", n.span)
                raise SemanticError(f"undeclared name '{n.id}'", n.span, self._suggest(n.id, known))
            if isinstance(n, ast.Index):
                if n.name not in self.values:
                    raise SemanticError(f"undeclared name '{n.name}'", n.span, self._suggest(n.name, list(self.values)))
                stack.append(n.index)
            elif isinstance(n, ast.Call):
                if n.fn not in E.FUNCTIONS:
                    if n.fn in PAULI_NAMES:
                        raise SemanticError(f"Pauli operator '{n.fn}(...)' is only allowed in 'expect'", n.span)
                    raise SemanticError(f"unknown function '{n.fn}'", n.span, self._suggest(n.fn, E.FUNCTIONS))
                stack.append(n.arg)
            elif isinstance(n, ast.BinOp):
                if n.op == "@":
                    raise SemanticError("'@' (tensor product) is only allowed in 'expect'", n.span)
                stack.extend((n.left, n.right))
            elif isinstance(n, ast.UnOp):
                stack.append(n.operand)

    # -- pricing: what a gate call or loop unrolls to, computed before unrolling it ----------------
    def _check_budget(self, ops: int, iters: int, done: int, what: str, span: Span | None) -> None:
        check_unroll_budget(self.limits.max_ops, self.iterations, ops, iters, done, what, span)

    def _price(self, st, scope: Scope) -> tuple[int, int]:
        return price_statement(self, st, scope, self.limits.max_ops)

    def _price_step(self) -> None:
        self.price_steps += 1
        if self.price_steps + self.iterations > self.limits.max_ops:
            raise _PricedOut

    def _cost_block(self, stmts, scope: Scope) -> tuple[int, int]:
        """(operations, loop iterations) that unrolling ``stmts`` produces, each capped at
        max_ops + 1. Mirrors the lowering's control flow without building anything: a user gate
        is priced once per value of the parameters its control flow reads (memoised), a loop whose
        body does not read its variable as trip count x one body."""
        cap = self.limits.max_ops + 1
        ops = iters = 0
        for st in stmts:
            o, i = self._cost_stmt(st, scope)
            ops, iters = min(cap, ops + o), min(cap, iters + i)
            if ops >= cap or iters >= cap:
                break
        return ops, iters

    def _cost_stmt(self, st: ast.Node, scope: Scope) -> tuple[int, int]:
        cap = self.limits.max_ops + 1
        if isinstance(st, ast.GateCall):
            mods = self._modifiers(st, scope) if st.modifiers else []
            controls = sum(int(a) for k, a in mods if k in ("ctrl", "negctrl"))
            name, lib, user = self._resolve_gate(st, controls)
            width = 1
            for q in st.qargs:
                reg = self.registers.get(q.name)
                if q.index is None and reg is not None and scope.lookup_qubit(q.name) is None:
                    width = max(width, reg.size)
            repeat = 1
            for k, a in mods:
                if k == "pow" and float(a).is_integer():
                    repeat *= abs(int(a))
            if lib is not None:
                per = len(gate_inverse(name, (E.ZERO,) * lib.num_angles)) if st.inverses % 2 else 1
                return min(cap, width * per * repeat), 0
            if user is None:  # gphase: at most a controlled phase gate
                return width, 0
            ops, iters = self._cost_gate(user, st, scope)
            ops, iters = min(cap, ops * repeat), min(cap, iters * repeat)
            # expanding a gate is work even when it emits nothing: such a call counts as an iteration
            return min(cap, ops * width), min(cap, (iters + (ops == 0)) * width)
        if isinstance(st, ast.For):
            start, stop, step, trips = self._range(st, scope)
            if trips == 0:
                return 0, 0
            if trips >= cap:
                return cap, cap
            if st.var not in self._control_names(st.body):
                inner = Scope(values={st.var: E.Const(float(start))}, parent=scope)
                o, i = self._cost_block(st.body, inner)
                return min(cap, o * trips), min(cap, (i + 1) * trips)
            ops, iters = 0, 0
            for v in range(start, stop, step):
                self._price_step()
                o, i = self._cost_block(st.body, Scope(values={st.var: E.Const(float(v))}, parent=scope))
                ops, iters = min(cap, ops + o), min(cap, iters + i + 1)
                if ops >= cap or iters >= cap:
                    break
            return ops, iters
        if isinstance(st, ast.If):
            if self._mentions_bits(st.cond, scope):  # a runtime if: both branches are emitted
                o1, i1 = self._cost_block(st.then, Scope(parent=scope))
                o2, i2 = self._cost_block(st.orelse, Scope(parent=scope))
                return min(cap, o1 + o2), min(cap, i1 + i2)
            c = self._const_value(self.expr(st.cond, scope), st.cond, "'if' condition")
            return self._cost_block(st.then if c else st.orelse, Scope(parent=scope))
        if isinstance(st, (ast.MeasureAssign, ast.Reset)):
            return 1, 0
        return 0, 0

    def _cost_gate(self, g: ast.GateDef, call: ast.GateCall, scope: Scope) -> tuple[int, int]:
        if g.name in self.cost_stack or g.name in self.gate_stack:
            chain = " -> ".join(self.gate_stack + self.cost_stack + [g.name])
            raise SemanticError(f"recursive gate '{g.name}' ({chain})", call.span)
        relevant = self._relevant_params(g)
        values: dict[str, E.Expr] = {}
        key_parts = []
        for i, p in enumerate(g.params):
            if i in relevant:
                values[p] = self.expr(call.args[i], scope)
                key_parts.append(values[p])
            else:
                values[p] = E.ZERO  # never read by control flow, so any value prices the same
        memo = all(type(v) is E.Const for v in key_parts)
        key = (g.name, tuple(v.val for v in key_parts)) if memo else None
        if key is not None and key in self.gate_costs:
            return self.gate_costs[key]
        self._price_step()
        self.cost_stack.append(g.name)
        try:
            cost = self._cost_block(g.body, Scope(values=values, qubits=dict.fromkeys(g.qubits, 0)))
        finally:
            self.cost_stack.pop()
        if key is not None:
            self.gate_costs[key] = cost
        return cost

    def _relevant_params(self, g: ast.GateDef) -> frozenset[int]:
        """Indices of the parameters of ``g`` that its control flow (loop ranges, conditions,
        such parameters of the gates it calls) may read; a superset is always safe."""
        if g.name in self.relevant:
            return self.relevant[g.name]
        self.relevant[g.name] = frozenset(range(len(g.params)))  # a cycle: assume all
        names = self._control_names(g.body)
        result = frozenset(i for i, p in enumerate(g.params) if p in names)
        self.relevant[g.name] = result
        return result

    def _control_names(self, stmts) -> set[str]:
        """Names whose values may change how many operations or iterations ``stmts`` unroll to."""
        names: set[str] = set()
        for st in stmts:
            if isinstance(st, ast.GateCall):
                user = self.gates.get(st.name)
                if user is None or len(user.params) != len(st.args):
                    continue  # a library gate, or an error at the call
                for i in self._relevant_params(user):
                    names |= _free_names(st.args[i])
            elif isinstance(st, ast.For):
                for a in st.range_args:
                    names |= _free_names(a)
                names |= self._control_names(st.body)
            elif isinstance(st, ast.If):
                names |= _free_names(st.cond)
                names |= self._control_names(st.then) | self._control_names(st.orelse)
        return names

    def _range(self, s: ast.For, scope: Scope) -> tuple[int, int, int, int]:
        """start, stop, step and trip count of a loop, from range arithmetic (nothing materialised)."""
        args = [self.int_expr(a, scope, what="range bound") for a in s.range_args]
        if len(args) == 1:
            start, stop, step = 0, args[0], 1
        elif len(args) == 2:
            start, stop, step = args[0], args[1], 1
        else:
            start, stop, step = args
        if step == 0:
            raise SemanticError("range step must not be zero", s.range_args[2].span)
        trips = max(0, -(-(stop - start) // step))  # len(range(...)), which overflows past 2**63
        return start, stop, step, trips

    def _for(self, s: ast.For, scope: Scope, out: list[Operation], in_gate: str | None, base_dir: Path) -> None:
        start, stop, step, trips = self._range(s, scope)
        if trips > self.limits.max_ops:
            raise ResourceLimitError(
                f"loop runs {trips} times, over the unrolling limit of {self.limits.max_ops} operations", s.span
            )
        if s.var in self.declared_at or s.var in BUILTIN_CONSTANTS:
            raise SemanticError(f"loop variable '{s.var}' shadows a declared name", s.span)
        saved = self.priced
        if not self.priced:
            ops, iters = self._price(s, scope)
            self._check_budget(ops, iters, len(out), "this loop", s.span)
            self.iterations += iters
            self.priced = True
        try:
            for i in range(start, stop, step):
                inner = Scope(values={s.var: E.Const(float(i))}, parent=scope)
                self.block(s.body, inner, out, in_gate, base_dir)
        finally:
            self.priced = saved

    def _observable(self, s: ast.Expect | ast.Var, scope: Scope) -> Observable:
        if isinstance(s.expr, ast.Hermitian):
            h = s.expr
            qubits = self._output_qubits(h.qargs, scope, "hermitian", h.span)
            try:
                terms = hermitian_terms(self._matrix(h.matrix, scope), qubits)
            except ValueError as err:
                raise SemanticError(f"hermitian(...): {err}", h.matrix.span or h.span) from None
        else:
            terms = self._pauli_sum(s.expr, scope)
        if any(not math.isfinite(c) for c, _ in terms):
            raise SemanticError("observable coefficient is not finite", s.expr.span or s.span)
        normalized = normalize_pauli_sum(terms)
        text = _render_observable(normalized, self._qubit_name)
        return Observable(normalized, s.span, text)

    def _output(self, s: ast.Node, scope: Scope) -> None:
        """Record one output statement: its observables, and its DeclaredOutput entry."""
        start = len(self.observables)
        if isinstance(s, (ast.Expect, ast.Var)):
            self.observables.append(self._observable(s, scope))
            hermitian = isinstance(s.expr, ast.Hermitian)
            text = ""
            if hermitian:
                h = s.expr
                names = [self._qubit_name(q) for q in self._output_qubits(h.qargs, scope, "hermitian", h.span)]
                m = h.matrix.id if isinstance(h.matrix, ast.Name) else "[...]"
                text = f"hermitian({m}) {', '.join(names)}"
            kind = "expectation" if isinstance(s, ast.Expect) else "variance"
            self.plain_expects &= kind == "expectation" and not hermitian
            self.declared.append(DeclaredOutput(kind, (start,), None, text))
            return
        what = "probs" if isinstance(s, ast.Probs) else "sample"
        qubits = self._output_qubits(s.qargs, scope, what, s.span)
        shots = None
        if isinstance(s, ast.Sample):
            shots = DEFAULT_SAMPLE_SHOTS
            if s.shots is not None:
                shots = self.int_expr(s.shots, scope, what="sample count")
                if not 1 <= shots <= self.limits.max_ops:
                    raise SemanticError(f"sample count must be between 1 and {self.limits.max_ops}, got {shots}",
                                        s.shots.span or s.span)
        for q in qubits:  # z(q) per qubit: the qubits survive every renumbering pass as observables
            self.observables.append(Observable((PauliTerm(1.0, ((q, "Z"),)),), s.span, f"z({self._qubit_name(q)})"))
        self.plain_expects = False
        self.declared.append(DeclaredOutput("probabilities" if what == "probs" else "samples",
                                            tuple(range(start, start + len(qubits))), shots))

    def _pauli_sum(self, node: ast.Node, scope: Scope) -> list[tuple[float, dict[int, str]]]:
        if isinstance(node, ast.Call) and node.fn in PAULI_NAMES:
            arg = node.arg
            if isinstance(arg, ast.Name):
                qs = self.qarg(ast.QArg(arg.id, None, arg.span), scope)
            elif isinstance(arg, ast.Index):
                qs = self.qarg(ast.QArg(arg.name, arg.index, arg.span), scope)
            else:
                raise SemanticError(f"'{node.fn}(...)' takes one qubit", node.span)
            if len(qs) != 1:
                raise SemanticError(
                    f"'{node.fn}({arg.id if isinstance(arg, ast.Name) else ''})' needs one qubit, but the register has {len(qs)};"
                    " index it or use '@' for a product",
                    node.span,
                )
            return [(1.0, {qs[0]: PAULI_NAMES[node.fn]})]
        if isinstance(node, ast.BinOp) and node.op in ("+", "-"):
            left = self._pauli_sum(node.left, scope)
            right = self._pauli_sum(node.right, scope)
            sign = 1.0 if node.op == "+" else -1.0
            return left + [(sign * c, w) for c, w in right]
        if isinstance(node, ast.UnOp) and node.op in ("-", "+"):
            inner = self._pauli_sum(node.operand, scope)
            return [(-c if node.op == "-" else c, w) for c, w in inner]
        if isinstance(node, ast.BinOp) and node.op in ("*", "@", "/"):
            left = self._pauli_sum(node.left, scope)
            right = self._pauli_sum(node.right, scope)
            if node.op == "/":
                if any(w for _, w in right):
                    raise SemanticError("cannot divide by a Pauli operator", node.right.span)
                d = sum(c for c, _ in right)
                if d == 0:
                    raise SemanticError("division by zero in observable coefficient", node.right.span)
                return [(c / d, w) for c, w in left]
            scalar_left = all(not w for _, w in left)
            scalar_right = all(not w for _, w in right)
            if node.op == "*" and not (scalar_left or scalar_right):
                raise SemanticError(
                    "'*' between Pauli operators is not supported; use '@' for the tensor product of different qubits",
                    node.span,
                )
            result = []
            for c1, w1 in left:
                for c2, w2 in right:
                    overlap = set(w1) & set(w2)
                    if overlap:
                        q = min(overlap)
                        raise SemanticError(
                            f"qubit {self._qubit_name(q)} appears twice in a Pauli product", node.span
                        )
                    result.append((c1 * c2, {**w1, **w2}))
            return result
        if isinstance(node, ast.SumOver):
            return [t for sc in self._sum_scopes(node, scope) for t in self._pauli_sum(node.body, sc)]
        if isinstance(node, ast.Hermitian):
            raise SemanticError("hermitian(...) is a whole output: write 'expect hermitian(M) q[0], q[1];'", node.span)
        # a real coefficient
        e = self.expr(node, scope)
        if not e.is_constant:
            raise SemanticError(
                "observable coefficients must be compile-time constants (params and inputs are not allowed)", node.span
            )
        v = e.value()
        if not math.isfinite(v):
            raise SemanticError("observable coefficient is not finite", node.span)
        return [(v, {})]

    def _include_qasm(self, s: ast.Include, out: list[Operation], base_dir: Path) -> None:
        """``include "circuit.qasm";``: the OpenQASM file's registers, ``input float`` params (as
        scalar params), gates and terminal measurements join the program, which may then add
        gates and outputs on those registers."""
        if QASM_IMPORTER is None:
            raise IncludeError("OpenQASM includes need qcomp.frontend (its package sets the importer)", s.span)
        text, path = read_source(base_dir / s.path, name=s.path, span=s.span, suffixes=QASM_SUFFIXES,
                                 missing=f"cannot find include file '{s.path}' (looked in {base_dir})")
        prog = QASM_IMPORTER(text, str(path), max_qubits=max(1, self.limits.max_qubits - self.num_qubits),
                           max_ops=self.limits.max_ops)
        base = self.num_qubits
        for r in prog.registers:
            self._declare(r.name, s.span)
            self.registers[r.name] = Register(r.name, r.size, base + r.offset, r.scalar, s.span)
        self.num_qubits += prog.num_qubits
        mapping: dict[E.Sym, E.Expr] = {}
        for d in prog.params:
            self._declare(d.name, s.span)
            new = ValueDecl("param", d.name, d.size, self.num_params, d.scalar, s.span)
            self.values[d.name] = new
            self.num_params += d.size
            mapping.update({d.symbol(i): new.symbol(i) for i in range(d.size)})
        for op in prog.circuit.ops():
            angles = tuple(a.subs(mapping) for a in op.angles) if mapping else op.angles
            self._emit(out, Operation(op.name, tuple(base + q for q in op.qubits), angles, op.span))
        for q in prog.measured:
            if base + q not in self.measured_set:
                self.measured_set.add(base + q)
                self.measured.append(base + q)

    def _include(self, s: ast.Include, scope: Scope, out: list[Operation], base_dir: Path) -> None:
        if Path(s.path).suffix in QASM_SUFFIXES:
            self._include_qasm(s, out, base_dir)
            return
        # read_source refuses NUL bytes, symlink loops, FIFOs, devices, huge and non-.q files (located)
        text, path = read_source(base_dir / s.path, name=s.path, span=s.span, suffixes=Q_SUFFIXES,
                                 missing=f"cannot find include file '{s.path}' (looked in {base_dir})")
        key = str(path)
        if key in self.include_stack:
            chain = " -> ".join(os.path.basename(p) for p in self.include_stack + [key])
            raise IncludeError(f"include cycle: {chain}", s.span)
        module = parse_source(text, str(s.path if not Path(s.path).is_absolute() else path))
        self.include_stack.append(key)
        try:
            self.block(module.statements, scope, out, None, path.parent)
        finally:
            self.include_stack.pop()


QASM_SUFFIXES = (".qasm", ".qasm2", ".qasm3")
# OpenQASM import for ``include "x.qasm";``, set by the qcomp.frontend package: the importer
# builds on this module, so this module may not import it (the layers stay acyclic).
QASM_IMPORTER: Callable[..., Program] | None = None


def _free_names(node: ast.Node) -> set[str]:
    """Names an expression reads, without recursion."""
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Index):
            out.add(n.name)
            stack.append(n.index)
        elif isinstance(n, ast.Call):
            stack.append(n.arg)
        elif isinstance(n, ast.BinOp):
            stack.extend((n.left, n.right))
        elif isinstance(n, ast.UnOp):
            stack.append(n.operand)
        elif isinstance(n, ast.Index2):
            out.add(n.name)
            stack.extend((n.row, n.col))
        elif isinstance(n, ast.ArrayLit):
            stack.extend(n.items)
        elif isinstance(n, ast.SumOver):  # a superset is safe: the loop variables too
            stack.append(n.body)
            if n.cond is not None:
                stack.append(n.cond)
            for lp in n.loops:
                stack.extend(lp.range_args)
    return out


def _render_observable(terms, qubit_name) -> str:
    parts: list[str] = []
    for t in terms:
        word = " @ ".join(f"{p.lower()}({qubit_name(q)})" for q, p in t.paulis)
        c = t.coeff
        mag = abs(c)
        coeff = E.format_number(mag)
        body = word if (word and mag == 1.0) else (f"{coeff} * {word}" if word else coeff)
        if not parts:
            parts.append(("-" if c < 0 else "") + body)
        else:
            parts.append(("- " if c < 0 else "+ ") + body)
    return " ".join(parts) if parts else "0"


def _invert(ops: list[Operation]) -> list[Operation]:
    out: list[Operation] = []
    for op in reversed(ops):
        if op.name == GPHASE:  # kept only while a body is collected for modifiers
            out.append(Operation(GPHASE, (), (E.neg(op.angles[0]),), op.span))
            continue
        for name, angles in gate_inverse(op.name, op.angles):
            out.append(Operation(name, op.qubits, angles, op.span))
    return out


def lower_module(
    module: ast.Module,
    *,
    limits: Limits | None = None,
    base_dir: str | os.PathLike | None = None,
) -> Program:
    """Lower a parsed module to a verified Program."""
    lw = _Lowerer(limits or Limits())
    if module.file not in ("<string>", "<stdin>"):
        lw.include_stack.append(str(Path(module.file).resolve()))
    bd = Path(base_dir) if base_dir is not None else (
        Path(module.file).resolve().parent if module.file not in ("<string>", "<stdin>") else Path.cwd()
    )
    ops: list[Operation] = []
    with deep_recursion(module.file), paused_gc():
        lw.block(module.statements, Scope(), ops, None, bd)
        lw.check_gate_bodies()
    if lw.num_qubits == 0:
        lines = module.source.split("\n") if module.source else [""]
        raise SemanticError(
            "empty program: declare at least one qubit (e.g. 'qubit q[2];')",
            Span(module.file, 1, 1, None, lines[0]),
        )
    circuit = Circuit.from_ops(lw.num_qubits, ops)  # one qubit sweep, not a check per add()
    regs = tuple(lw.registers.values())
    params = tuple(d for d in lw.values.values() if d.kind == "param")
    inputs = tuple(d for d in lw.values.values() if d.kind == "input")
    program = Program(
        circuit=circuit,
        registers=regs,
        params=params,
        inputs=inputs,
        observables=tuple(lw.observables),
        measured=tuple(lw.measured),
        source_name=module.file,
        bits=tuple(lw.bit_regs.values()),
        declared=None if lw.plain_expects else tuple(lw.declared),
    )
    warn_unused_declarations(program)
    return program


class UnusedDeclarationWarning(UserWarning):
    """A declared param or input that no gate angle uses (a typo, or a leftover): training it, or
    feeding it data, has no effect on any output."""


def unused_declarations(program: Program) -> list[str]:
    """One message per param or input declaration whose elements no gate angle uses (all of them,
    or the listed ones), in declaration order, located at the declaration when known."""
    used = {(s.kind, s.index) for op in program.circuit.ops() for a in op.angles for s in a.symbols()}
    messages = []
    for d in program.params + program.inputs:
        idle = [i for i in range(d.size) if (d.kind, d.offset + i) not in used]
        if not idle:
            continue
        where = f"{d.span}: " if d.span is not None else ""
        if len(idle) == d.size:
            what = f"{d.kind} '{d.name}' is declared but no gate uses it"
        else:
            shown = ", ".join(d.element_name(i) for i in idle[:4]) + (f" and {len(idle) - 4} more" if len(idle) > 4 else "")
            what = f"{d.kind} '{d.name}': no gate uses {shown}"
        messages.append(f"{where}{what}; it does not affect any output")
    return messages


def warn_unused_declarations(program: Program, stacklevel: int = 3) -> None:
    """``UnusedDeclarationWarning`` for each message of :func:`unused_declarations`."""
    for message in unused_declarations(program):
        warnings.warn(message, UnusedDeclarationWarning, stacklevel=stacklevel)
