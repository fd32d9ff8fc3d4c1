"""Angle expressions: a small frozen expression tree, vectorized evaluation, derivatives, printing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Iterable, Mapping, Sequence, Union

import numpy as np

Number = Union[int, float]

# Functions of one argument the language accepts; "sign" and "floor" appear in derivatives.
FUNCTIONS: dict[str, Callable] = {
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
    "arctan": np.arctan,
    "abs": np.abs,
    "sign": np.sign,
    "floor": np.floor,
}
_MATH: dict[str, Callable[[float], float]] = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "arcsin": math.asin,
    "arccos": math.acos,
    "arctan": math.atan,
    "abs": abs,
    "sign": lambda v: float(np.sign(v)),
    "floor": lambda v: float(math.floor(v)),
}
# Polynomial (+ - * and integer powers) is what Qiskit's OpenQASM 3 importer can load.
POLYNOMIAL_OPS = frozenset("+-*")

_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "%": 2, "neg": 3, "**": 4}


class Expr:
    """Base class of angle expressions. Instances are immutable and hashable."""

    __slots__ = ()

    # -- construction sugar ------------------------------------------------
    def __add__(self, other: "Expr | Number") -> "Expr":
        return add(self, as_expr(other))

    def __radd__(self, other: "Expr | Number") -> "Expr":
        return add(as_expr(other), self)

    def __sub__(self, other: "Expr | Number") -> "Expr":
        return sub(self, as_expr(other))

    def __rsub__(self, other: "Expr | Number") -> "Expr":
        return sub(as_expr(other), self)

    def __mul__(self, other: "Expr | Number") -> "Expr":
        return mul(self, as_expr(other))

    def __rmul__(self, other: "Expr | Number") -> "Expr":
        return mul(as_expr(other), self)

    def __truediv__(self, other: "Expr | Number") -> "Expr":
        return div(self, as_expr(other))

    def __rtruediv__(self, other: "Expr | Number") -> "Expr":
        return div(as_expr(other), self)

    def __pow__(self, other: "Expr | Number") -> "Expr":
        return power(self, as_expr(other))

    def __neg__(self) -> "Expr":
        return neg(self)

    # -- queries -------------------------------------------------------------
    def children(self) -> tuple["Expr", ...]:
        return ()

    @cached_property
    def _symbols(self) -> frozenset["Sym"]:
        out: set[Sym] = set()
        for c in self.children():
            out |= c.symbols()
        return frozenset(out)

    def symbols(self) -> frozenset["Sym"]:
        """All parameter and input references in this expression."""
        return self._symbols

    @property
    def is_constant(self) -> bool:
        return not self.symbols()

    def depends_on(self, kind: str) -> bool:
        return any(s.kind == kind for s in self.symbols())

    def value(self) -> float:
        """The numeric value of a constant expression (raises ValueError otherwise)."""
        if not self.is_constant:
            raise ValueError(f"expression {self} is not constant")
        return float(self.evaluate(np.zeros(0), np.zeros(0)))

    # -- evaluation ------------------------------------------------------------
    def evaluate(self, params: np.ndarray, inputs: np.ndarray) -> np.ndarray | float:
        """Evaluate with flat ``params`` (shape (P,) or (B, P)) and ``inputs`` ((I,) or (B, I)).

        The result broadcasts against the batch dimension (a float when constant).
        """
        raise NotImplementedError

    def diff(self, sym: "Sym") -> "Expr":
        """The symbolic derivative with respect to ``sym``, simplified."""
        return _canonical(self._d(sym))

    def _d(self, sym: "Sym") -> "Expr":
        raise NotImplementedError

    def subs(self, mapping: Mapping["Sym", "Expr | Number"]) -> "Expr":
        """Substitute symbols (e.g. bind parameter values); the result is simplified."""
        raise NotImplementedError

    def simplify(self) -> "Expr":
        return _canonical(self)

    def map_children(self, fn: Callable[["Expr"], "Expr"]) -> "Expr":
        return self

    def __str__(self) -> str:
        return to_text(self)

    def is_polynomial(self) -> bool:
        """True when only + - * and constants appear (what Qiskit's importer loads)."""
        return _is_poly(self)


@dataclass(frozen=True, eq=True, repr=True, slots=True, init=False)
class Const(Expr):
    """A real number."""

    val: float

    is_constant = True  # class attribute: passes ask this ~100k times per 20k-gate compile

    def __new__(cls, val: float) -> "Const":
        # built through a mutable twin with the same slot (like Operation): a plain attribute
        # store instead of the frozen class's object.__setattr__, and no instance __dict__
        if cls is not Const:  # a subclass has its own layout: the generic (slower) way
            c = _new_twin(cls)
            object.__setattr__(c, "val", val)
            return c
        c = _new_twin(_MutableConst)
        c.val = val
        c.__class__ = cls
        return c

    _symbols = frozenset()  # Expr's cached property needs a __dict__; a number has no symbols

    def __reduce__(self):
        return (type(self), (self.val,))

    def evaluate(self, params, inputs):
        return self.val

    def _d(self, sym):
        return ZERO

    def subs(self, mapping):
        return self

    def value(self) -> float:
        return self.val

    def symbols(self):
        return frozenset()


class _MutableConst(Expr):
    """Const's construction twin."""

    __slots__ = ("val",)


_new_twin = object.__new__


@dataclass(frozen=True, eq=True, repr=True)
class Sym(Expr):
    """A reference to one flat parameter (kind "param") or input (kind "input")."""

    kind: str
    index: int
    name: str

    def evaluate(self, params, inputs):
        arr = params if self.kind == "param" else inputs
        return arr[..., self.index]

    def _d(self, sym):
        return ONE if sym == self else ZERO

    def subs(self, mapping):
        if self in mapping:
            return as_expr(mapping[self])
        return self

    def symbols(self):
        return frozenset((self,))


@dataclass(frozen=True, eq=True, repr=True)
class Binary(Expr):
    """A binary arithmetic operation: one of + - * / ** %."""

    op: str
    left: Expr
    right: Expr

    def children(self):
        return (self.left, self.right)

    def map_children(self, fn):
        return _BINARY[self.op](fn(self.left), fn(self.right))

    def evaluate(self, params, inputs):
        a = self.left.evaluate(params, inputs)
        b = self.right.evaluate(params, inputs)
        op = self.op
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.divide(a, b) if isinstance(a, np.ndarray) or isinstance(b, np.ndarray) else _fdiv(a, b)
        if op == "**":
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                return np.power(a, b) if isinstance(a, np.ndarray) or isinstance(b, np.ndarray) else _fpow(a, b)
        if op == "%":
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.mod(a, b) if isinstance(a, np.ndarray) or isinstance(b, np.ndarray) else _fmod(a, b)
        raise AssertionError(op)

    def _d(self, sym):
        a, b = self.left, self.right
        if sym not in self.symbols():
            return ZERO
        da, db = a._d(sym), b._d(sym)
        op = self.op
        if op == "+":
            return add(da, db)
        if op == "-":
            return sub(da, db)
        if op == "*":
            return add(mul(da, b), mul(a, db))
        if op == "/":
            return sub(div(da, b), div(mul(a, db), power(b, Const(2.0))))
        if op == "**":
            term = ZERO
            if da != ZERO:
                term = mul(mul(b, power(a, sub(b, ONE))), da)
            if db != ZERO:
                term = add(term, mul(mul(self, func("log", a)), db))
            return term
        if op == "%":
            return sub(da, mul(func("floor", div(a, b)), db))
        raise AssertionError(op)

    def subs(self, mapping):
        return self.map_children(lambda c: c.subs(mapping))


@dataclass(frozen=True, eq=True, repr=True)
class Neg(Expr):
    """Unary minus."""

    arg: Expr

    def children(self):
        return (self.arg,)

    def map_children(self, fn):
        return neg(fn(self.arg))

    def evaluate(self, params, inputs):
        return -self.arg.evaluate(params, inputs)

    def _d(self, sym):
        return neg(self.arg._d(sym))

    def subs(self, mapping):
        return neg(self.arg.subs(mapping))


@dataclass(frozen=True, eq=True, repr=True)
class Func(Expr):
    """A function of one argument (sin, cos, ..., see FUNCTIONS)."""

    fn: str
    arg: Expr

    def children(self):
        return (self.arg,)

    def map_children(self, fn):
        return func(self.fn, fn(self.arg))

    def evaluate(self, params, inputs):
        v = self.arg.evaluate(params, inputs)
        if isinstance(v, np.ndarray):
            with np.errstate(all="ignore"):
                return FUNCTIONS[self.fn](v)
        return _fcall(self.fn, v)

    def _d(self, sym):
        if sym not in self.symbols():
            return ZERO
        a = self.arg
        da = a._d(sym)
        outer = _DERIVATIVES[self.fn](a)
        return mul(outer, da)

    def subs(self, mapping):
        return func(self.fn, self.arg.subs(mapping))


ZERO = Const(0.0)
ONE = Const(1.0)
PI = Const(math.pi)


def _fdiv(a: float, b: float) -> float:
    if b == 0:
        return math.copysign(math.inf, a) if a != 0 else math.nan
    return a / b


def _fpow(a: float, b: float) -> float:
    try:
        r = a**b
    except (OverflowError, ZeroDivisionError):
        return math.nan
    return r if isinstance(r, float | int) else math.nan


def _fmod(a: float, b: float) -> float:
    return math.nan if b == 0 else float(np.mod(a, b))


def _fcall(name: str, v: float) -> float:
    try:
        return float(_MATH[name](v))
    except (ValueError, OverflowError):
        return math.nan


_DERIVATIVES: dict[str, Callable[[Expr], Expr]] = {
    "sin": lambda a: func("cos", a),
    "cos": lambda a: neg(func("sin", a)),
    "tan": lambda a: add(ONE, power(func("tan", a), Const(2.0))),
    "exp": lambda a: func("exp", a),
    "log": lambda a: div(ONE, a),
    "sqrt": lambda a: div(Const(0.5), func("sqrt", a)),
    "arcsin": lambda a: div(ONE, func("sqrt", sub(ONE, power(a, Const(2.0))))),
    "arccos": lambda a: neg(div(ONE, func("sqrt", sub(ONE, power(a, Const(2.0)))))),
    "arctan": lambda a: div(ONE, add(ONE, power(a, Const(2.0)))),
    "abs": lambda a: func("sign", a),
    "sign": lambda a: ZERO,
    "floor": lambda a: ZERO,
}


# -- smart constructors: fold constants and trivial identities -------------------


def as_expr(v: "Expr | Number") -> Expr:
    if isinstance(v, Expr):
        return v
    if isinstance(v, (int, float, np.integer, np.floating)):
        return Const(float(v))
    raise TypeError(f"cannot make an expression from {v!r}")


def add(a: Expr, b: Expr) -> Expr:
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(a.val + b.val)
    if a == ZERO:
        return b
    if b == ZERO:
        return a
    if isinstance(b, Neg):
        return sub(a, b.arg)
    if isinstance(b, Const) and b.val < 0:
        return Binary("-", a, Const(-b.val))
    return Binary("+", a, b)


def sub(a: Expr, b: Expr) -> Expr:
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(a.val - b.val)
    if b == ZERO:
        return a
    if a == ZERO:
        return neg(b)
    if a == b:
        return ZERO
    if isinstance(b, Neg):
        return add(a, b.arg)
    return Binary("-", a, b)


def mul(a: Expr, b: Expr) -> Expr:
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(a.val * b.val)
    if a == ZERO or b == ZERO:
        return ZERO
    if a == ONE:
        return b
    if b == ONE:
        return a
    if a == Const(-1.0):
        return neg(b)
    if b == Const(-1.0):
        return neg(a)
    if isinstance(b, Const) and not isinstance(a, Const):
        a, b = b, a  # constants first: 2 * w, not w * 2
    if isinstance(a, Neg):
        return neg(mul(a.arg, b))
    if isinstance(b, Neg):
        return neg(mul(a, b.arg))
    return Binary("*", a, b)


def div(a: Expr, b: Expr) -> Expr:
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(_fdiv(a.val, b.val))
    if b == ONE:
        return a
    if a == ZERO and not (isinstance(b, Const) and b.val == 0):
        return ZERO
    if isinstance(b, Const) and b.val != 0 and math.isfinite(1.0 / b.val):
        # Dividing by a power of two is exact as a multiplication.
        inv = 1.0 / b.val
        if inv * b.val == 1.0 and math.frexp(b.val)[0] in (0.5, -0.5):
            return mul(Const(inv), a)
    return Binary("/", a, b)


def power(a: Expr, b: Expr) -> Expr:
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(_fpow(a.val, b.val))
    if b == ONE:
        return a
    if b == ZERO:
        return ONE
    return Binary("**", a, b)


def mod(a: Expr, b: Expr) -> Expr:
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(_fmod(a.val, b.val))
    return Binary("%", a, b)


def neg(a: Expr) -> Expr:
    if isinstance(a, Const):
        return Const(-a.val)
    if isinstance(a, Neg):
        return a.arg
    if isinstance(a, Binary) and a.op == "-":
        return sub(a.right, a.left)  # via sub so that e.g. -(-w - w) folds to w + w
    return Neg(a)


def func(name: str, a: Expr) -> Expr:
    if name not in FUNCTIONS:
        raise ValueError(f"unknown function {name!r}")
    if isinstance(a, Const):
        return Const(_fcall(name, a.val))
    return Func(name, a)


_BINARY: dict[str, Callable[[Expr, Expr], Expr]] = {
    "+": add,
    "-": sub,
    "*": mul,
    "/": div,
    "**": power,
    "%": mod,
}


def binary(op: str, a: Expr, b: Expr) -> Expr:
    """Build ``a op b`` with constant folding."""
    return _BINARY[op](a, b)


# -- long sums ---------------------------------------------------------------------------

# Sums of more terms than this are built as balanced trees (depth log2 n) instead of left-deep
# chains: every algorithm on expressions recurses once per level, and a 3000-term left-deep sum
# overflowed Python's stack in simplification, printing and pickling. Shorter sums keep the
# left-to-right order (and its rounding), so their printed form does not change.
BALANCE_ABOVE = 16


def signed_sum(terms: Sequence[tuple[bool, Expr]]) -> Expr:
    """Sum of ``(negate, term)`` pairs: left to right when short or all numbers (compile-time
    values keep their left-to-right rounding), a balanced tree when long."""
    if not terms:
        return ZERO
    if len(terms) <= BALANCE_ABOVE or all(type(t) is Const for _, t in terms):
        neg0, out = terms[0]
        out = neg(out) if neg0 else out
        for negate, t in terms[1:]:
            out = sub(out, t) if negate else add(out, t)
        return out
    mid = len(terms) // 2
    left, right = signed_sum(terms[:mid]), terms[mid:]
    if right[0][0]:  # left - (t_mid - ...): flip the right half's signs
        return sub(left, signed_sum([(not n, t) for n, t in right]))
    return add(left, signed_sum(right))


def _fold(e: Expr, combine: Callable[[list[int]], int]) -> int:
    """combine(children's values) bottom-up over the DAG of ``e``, each shared node once, without
    recursion (user gates that reuse a parameter build DAGs with exponentially many paths)."""
    memo: dict[int, int] = {}
    stack = [(e, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in memo:
            continue
        kids = node.children()
        if done or not kids:
            memo[id(node)] = combine([memo[id(c)] for c in kids])
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in kids if id(c) not in memo)
    return memo[id(e)]


def depth(e: Expr) -> int:
    """Levels of the expression tree (a leaf is 1), each shared subexpression visited once."""
    return _fold(e, lambda kids: 1 + max(kids, default=0))


def unique_nodes(e: Expr) -> list[Expr]:
    """Every distinct node of ``e`` once (shared subexpressions once), without recursion."""
    seen: set[int] = set()
    out: list[Expr] = []
    stack = [e]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        out.append(node)
        stack.extend(node.children())
    return out


def tree_size(e: Expr, limit: int) -> int:
    """Nodes of ``e`` written out as a tree (a shared subexpression counts at every use), capped
    at ``limit + 1``; linear in the number of distinct nodes, without recursion."""
    cap = limit + 1
    return _fold(e, lambda kids: min(cap, 1 + sum(kids)))


# -- canonical form: linear combination of non-linear terms ---------------------


def _linear_terms(e: Expr, scale: float, acc: dict[Expr, float]) -> None:
    """Accumulate ``scale * e`` as {term: coefficient}; the constant term is keyed by ONE.

    Walks sums with an explicit stack (left operand first, so terms keep their order of first
    appearance): a sum built term by term through the Python API is one left-deep chain."""
    stack = [(e, scale)]
    while stack:
        e, scale = stack.pop()
        if isinstance(e, Const):
            acc[ONE] = acc.get(ONE, 0.0) + scale * e.val
        elif isinstance(e, Neg):
            stack.append((e.arg, -scale))
        elif isinstance(e, Binary) and e.op in "+-":
            stack.append((e.right, scale if e.op == "+" else -scale))
            stack.append((e.left, scale))
        elif isinstance(e, Binary) and e.op == "*" and isinstance(e.left, Const):
            stack.append((e.right, scale * e.left.val))
        elif isinstance(e, Binary) and e.op == "*" and isinstance(e.right, Const):
            stack.append((e.left, scale * e.right.val))
        elif isinstance(e, Binary) and e.op == "/" and isinstance(e.right, Const) and e.right.val != 0:
            stack.append((e.left, scale / e.right.val))
        else:
            t = e.map_children(_canonical)
            if isinstance(t, Const):
                acc[ONE] = acc.get(ONE, 0.0) + scale * t.val
            elif isinstance(t, Neg) or (isinstance(t, Binary) and t.op in "+-"):
                stack.append((t, scale))
            else:
                acc[t] = acc.get(t, 0.0) + scale


def _canonical(e: Expr) -> Expr:
    if isinstance(e, (Const, Sym)):
        return e
    acc: dict[Expr, float] = {}
    _linear_terms(e, 1.0, acc)
    const = acc.pop(ONE, 0.0)
    nonzero = [(term, c) for term, c in acc.items() if c != 0.0]
    if len(nonzero) > BALANCE_ABOVE:
        # the first term written as the short path below writes it (-2 * w, not -(2 * w)), so
        # simplifying the result again gives the same tree
        (t0, c0), rest = nonzero[0], nonzero[1:]
        first = (c0 == -1.0, t0 if abs(c0) == 1.0 else mul(Const(c0), t0))
        terms = [first] + [(c < 0, term if abs(c) == 1.0 else mul(Const(abs(c)), term)) for term, c in rest]
        return add(signed_sum(terms), Const(const)) if const != 0.0 else signed_sum(terms)
    # Order terms deterministically by first appearance (dicts keep insertion order).
    out: Expr = ZERO
    for term, coeff in acc.items():
        if coeff == 0.0:
            continue
        piece = mul(Const(coeff), term) if coeff not in (1.0, -1.0) else term
        if coeff == -1.0:
            out = sub(out, piece)
        elif coeff < 0 and out != ZERO:
            out = sub(out, mul(Const(-coeff), term))
        else:
            out = add(out, piece)
    if const != 0.0:
        out = add(out, Const(const))
    return out


def _is_poly(e: Expr) -> bool:
    if isinstance(e, (Const, Sym)):
        return True
    if isinstance(e, Neg):
        return _is_poly(e.arg)
    if isinstance(e, Binary):
        if e.op in POLYNOMIAL_OPS:
            return _is_poly(e.left) and _is_poly(e.right)
        if e.op == "/" and isinstance(e.right, Const):
            return _is_poly(e.left)
        return False
    return False


# -- printing (the .q syntax, so that print -> parse round-trips) -----------------


def format_number(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        raise ValueError(f"cannot print non-finite number {v}")
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def _pi_multiple(v: float) -> tuple[str, int] | None:
    """Print k*pi/m for small k, m when that text evaluates back to exactly ``v``."""
    if v == 0 or not math.isfinite(v):
        return None
    for m in (1, 2, 3, 4, 6, 8, 12, 16):
        for k in range(1, 33):
            if math.gcd(k, m) != 1:
                continue
            mag = (k * math.pi) / m if m != 1 else k * math.pi
            if k == 1:
                mag = math.pi / m if m != 1 else math.pi
            if mag == abs(v):
                text = ("pi" if k == 1 else f"{k} * pi") + ("" if m == 1 else f" / {m}")
                prec = 9 if (k == 1 and m == 1) else _PREC["*"]
                if v < 0:
                    # "-k * pi / m" parses as ((-k) * pi) / m, the same float by symmetry
                    return ("-" + text, _PREC["neg"] if prec == 9 else prec)
                return (text, prec)
    return None


def to_text(e: Expr, sym_name: Callable[[Sym], str] | None = None) -> str:
    """Print ``e`` in .q syntax; ``sym_name`` renames symbols (the QASM emitter uses it)."""
    return _fmt(e, sym_name or (lambda s: s.name))[0]


def _fmt(e: Expr, names: Callable[[Sym], str]) -> tuple[str, int]:
    if isinstance(e, Const):
        pi_form = _pi_multiple(e.val)
        if pi_form is not None:
            return pi_form
        s = format_number(e.val)
        return (s, _PREC["neg"] if e.val < 0 else 9)
    if isinstance(e, Sym):
        return (names(e), 9)
    if isinstance(e, Neg):
        s, p = _fmt(e.arg, names)
        if p <= _PREC["neg"]:
            s = f"({s})"
        return ("-" + s, _PREC["neg"])
    if isinstance(e, Func):
        return (f"{e.fn}({_fmt(e.arg, names)[0]})", 9)
    if isinstance(e, Binary):
        p = _PREC[e.op]
        ls, lp = _fmt(e.left, names)
        rs, rp = _fmt(e.right, names)
        if e.op == "**":
            # right-associative, and binds tighter than unary minus on its left
            if lp <= p:
                ls = f"({ls})"
            if rp < p:
                rs = f"({rs})"
            return (f"{ls} ** {rs}", p)
        if lp < p:
            ls = f"({ls})"
        if rp <= p:
            rs = f"({rs})"
        return (f"{ls} {e.op} {rs}", p)
    raise AssertionError(type(e))


# -- vectorized evaluation of many expressions ------------------------------------


def iter_nodes(e: Expr) -> Iterable[Expr]:
    """Post-order traversal."""
    for c in e.children():
        yield from iter_nodes(c)
    yield e


class CompiledExprs:
    """Many expressions compiled into one numpy function with shared subexpressions.

    ``f(params, inputs)`` with params (P,) or (B, P) and inputs (B, I) or (I,) returns an
    array of shape (n_exprs, B) (B = 1 when nothing is batched).
    """

    def __init__(self, exprs: Iterable[Expr]):
        self.exprs = tuple(exprs)
        lines: list[str] = []
        names: dict[Expr, str] = {}
        consts: dict[str, float] = {}

        def visit(e: Expr) -> str:
            if e in names:
                return names[e]
            if isinstance(e, Const):
                name = f"c{len(consts)}"
                consts[name] = e.val
                names[e] = name
                return name
            if isinstance(e, Sym):
                arr = "P" if e.kind == "param" else "X"
                code = f"{arr}[:, {e.index}]"
            elif isinstance(e, Neg):
                code = f"-{visit(e.arg)}"
            elif isinstance(e, Func):
                code = f"np.{FUNCTIONS[e.fn].__name__}({visit(e.arg)})"
            elif isinstance(e, Binary):
                a, b = visit(e.left), visit(e.right)
                code = {
                    "+": f"{a} + {b}",
                    "-": f"{a} - {b}",
                    "*": f"{a} * {b}",
                    "/": f"np.divide({a}, {b})",
                    "**": f"np.power({a}, {b})",
                    "%": f"np.mod({a}, {b})",
                }[e.op]
            else:
                raise AssertionError(type(e))
            name = f"t{len(lines)}"
            lines.append(f"    {name} = {code}")
            names[e] = name
            return name

        # bare params and inputs (most angles of a variational circuit) fill their rows with one
        # fancy-indexed copy per array instead of a Python line each
        # (and constants, most derivative expressions, with one broadcast assignment)
        bare: dict[str, tuple[list[int], list[int]]] = {"P": ([], []), "X": ([], [])}
        const_rows: list[int] = []
        const_vals: list[float] = []
        rest: list[tuple[int, Expr]] = []
        for i, e in enumerate(self.exprs):
            if isinstance(e, Sym):
                rows, cols = bare["P" if e.kind == "param" else "X"]
                rows.append(i)
                cols.append(e.index)
            elif isinstance(e, Const) and len(self.exprs) > 1:
                const_rows.append(i)
                const_vals.append(float(e.val))
            else:
                rest.append((i, e))
        outs = [(i, visit(e)) for i, e in rest]
        body = "\n".join(lines)
        # row assignments broadcast scalars and (1,) columns in place: one array, no temporaries
        fills = "".join(f"    out[{i}] = {o}\n" for i, o in outs)
        index: dict[str, object] = {}

        def idx(name: str, v: list[int]) -> str:
            if v == list(range(v[0], v[0] + len(v))):
                return f"{v[0]}:{v[0] + len(v)}"
            index[name] = np.array(v, dtype=np.intp)
            return name

        for arr, (rows, cols) in bare.items():
            if len(rows) == 1:
                fills += f"    out[{rows[0]}] = {arr}[:, {cols[0]}]\n"
            elif rows:
                fills += f"    out[{idx('_r' + arr, rows)}] = {arr}[:, {idx('_c' + arr, cols)}].T\n"
        if const_rows:
            index["_vC"] = np.array(const_vals, dtype=float)[:, None]
            fills += f"    out[{idx('_rC', const_rows)}] = _vC\n"
        src = (
            "def _f(P, X, B):\n"
            + (body + "\n" if body else "")
            + f"    out = np.empty(({len(self.exprs)}, B))\n" + fills + "    return out\n"
        )
        glb: dict = {"np": np, **consts, **index}
        exec(compile(src, "<qcomp-exprs>", "exec"), glb)  # noqa: S102 - generated from our own tree
        self._fn = glb["_f"]
        self.source = src

    def __call__(self, params: np.ndarray, inputs: np.ndarray | None = None) -> np.ndarray:
        P = np.atleast_2d(np.asarray(params, dtype=float))
        X = np.atleast_2d(np.asarray(inputs if inputs is not None else np.zeros(0), dtype=float))
        B = max(P.shape[0], X.shape[0])
        with np.errstate(all="ignore"):
            return self._fn(P, X, B)


def param_derivatives(exprs: Sequence[Expr]) -> tuple[dict[int, list[tuple[int, int]]], CompiledExprs]:
    """For each expression, [(param index, derivative slot)], and the derivatives compiled."""
    dexprs: list[Expr] = []
    dslots: dict[int, list[tuple[int, int]]] = {}
    for s, e in enumerate(exprs):
        for sym in sorted((y for y in e.symbols() if y.kind == "param"), key=lambda y: y.index):
            dslots.setdefault(s, []).append((sym.index, len(dexprs)))
            dexprs.append(e.diff(sym))
    return dslots, CompiledExprs(dexprs)


def intern_angles(angles: Sequence[Expr], slot_of: dict[Expr, int], exprs: list[Expr]) -> tuple[int, ...]:
    """Slots of ``angles`` in a table of distinct expressions (``exprs``, indexed by ``slot_of``),
    adding the new ones: equal angles share one evaluation."""
    out = []
    for a in angles:
        if a not in slot_of:
            slot_of[a] = len(exprs)
            exprs.append(a)
        out.append(slot_of[a])
    return tuple(out)
