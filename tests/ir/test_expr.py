"""Expressions: evaluation vs numpy, derivatives vs finite differences, simplification, printing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import qcomp
from qcomp.ir import expr as E
from qcomp.ir.expr import Binary, CompiledExprs, Const, Func, Neg, Sym, to_text

W = [Sym("param", i, f"w[{i}]") for i in range(3)]
X = [Sym("input", i, f"x[{i}]") for i in range(2)]
DECLS = "qubit q;\nparam w[3];\ninput x[2];\n"
RNG = np.random.default_rng(1234)


def parse_angle(text: str) -> E.Expr:
    """The angle expression of ``rx(text) q;`` after parsing and lowering."""
    (op,) = qcomp.parse(DECLS + f"rx({text}) q;").circuit.ops()
    return op.angles[0]


# -- evaluation -------------------------------------------------------------------------------
NUMPY = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
    "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan, "abs": np.abs,
}


@pytest.mark.parametrize("fn", sorted(NUMPY))
def test_function_evaluation_matches_numpy_batched(fn: str) -> None:
    x = RNG.uniform(0.05, 0.95, size=(7, 2))  # inside every domain
    e = E.func(fn, X[1])
    np.testing.assert_allclose(e.evaluate(np.zeros(3), x), NUMPY[fn](x[:, 1]), rtol=1e-14)
    # scalar path (math module) agrees with numpy
    assert e.evaluate(np.zeros(3), x[0]) == pytest.approx(NUMPY[fn](x[0, 1]), rel=1e-14)
    assert E.func(fn, Const(0.3)) == Const(pytest.approx(float(NUMPY[fn](0.3)), rel=1e-15))


def test_binary_ops_match_numpy_with_param_batch() -> None:
    p = RNG.uniform(0.5, 2.0, size=(5, 3))
    x = RNG.uniform(0.5, 2.0, size=(5, 2))
    a, b = W[0], X[1]
    got = {op: E.binary(op, a, b).evaluate(p, x) for op in "+-*/%"}
    got["**"] = E.power(a, b).evaluate(p, x)
    want = {"+": p[:, 0] + x[:, 1], "-": p[:, 0] - x[:, 1], "*": p[:, 0] * x[:, 1], "/": p[:, 0] / x[:, 1],
            "%": np.mod(p[:, 0], x[:, 1]), "**": p[:, 0] ** x[:, 1]}
    for op in want:
        np.testing.assert_allclose(got[op], want[op], rtol=1e-14, err_msg=op)
    # (P,) params broadcast against (B, I) inputs
    np.testing.assert_allclose((W[2] * X[0]).evaluate(p[0], x), p[0, 2] * x[:, 0])


def test_out_of_domain_is_nan_not_an_exception() -> None:
    assert math.isnan(E.func("log", Const(-1.0)).value())
    assert math.isnan(E.func("arcsin", W[0]).evaluate(np.array([2.0, 0, 0]), np.zeros(2)))
    assert math.isnan(E.mod(Const(1.0), Const(0.0)).value())
    assert E.div(Const(1.0), Const(0.0)).value() == math.inf


def test_constant_folding_and_identities() -> None:
    w = W[0]
    assert Const(2.0) * Const(3.0) == Const(6.0)
    assert w + 0 == w and 0 + w == w and w * 1 == w and w * 0 == Const(0.0) and w ** 1 == w and w ** 0 == Const(1.0)
    assert w - w == Const(0.0) and -(-w) == w and w * -1 == Neg(w)
    assert w * 2 == Binary("*", Const(2.0), w)  # constants first
    assert w / 2 == Binary("*", Const(0.5), w)  # exact for powers of two
    assert w / 3 == Binary("/", w, Const(3.0))
    assert w + (-2.0) == Binary("-", w, Const(2.0))


def test_simplify_canonical_linear_form() -> None:
    w0, w1 = W[0], W[1]
    assert ((w0 + w1) - (w1 + w0)).simplify() == Const(0.0)
    assert (2 * w0 + 3 * w0 - w1 + w1).simplify() == Binary("*", Const(5.0), w0)
    assert ((w0 + 1) - 1).simplify() == w0
    s = (E.func("sin", w0) * 2 - E.func("sin", w0) + 4).simplify()
    assert s == Binary("+", E.func("sin", w0), Const(4.0))


def test_symbols_subs_value_polynomial() -> None:
    e = W[0] * X[1] + E.func("sin", W[2])
    assert e.symbols() == frozenset({W[0], X[1], W[2]}) and not e.is_constant
    assert e.depends_on("input") and e.depends_on("param")
    bound = e.subs({W[0]: 2.0, X[1]: 3.0, W[2]: 0.0})
    assert bound.is_constant and bound.value() == 6.0
    assert e.subs({X[1]: W[1]}).symbols() == frozenset({W[0], W[1], W[2]})
    with pytest.raises(ValueError):
        e.value()
    assert (W[0] * W[1] - 3 * W[0] + W[1] / 2).is_polynomial()
    assert not e.is_polynomial() and not (W[0] / W[1]).is_polynomial()


# -- derivatives -------------------------------------------------------------------------------
def fd(e: E.Expr, sym: Sym, p: np.ndarray, x: np.ndarray, h: float = 1e-6) -> float:
    arr = p if sym.kind == "param" else x
    up, dn = arr.copy(), arr.copy()
    up[sym.index] += h
    dn[sym.index] -= h
    if sym.kind == "param":
        return (float(e.evaluate(up, x)) - float(e.evaluate(dn, x))) / (2 * h)
    return (float(e.evaluate(p, up)) - float(e.evaluate(p, dn))) / (2 * h)


def _one_sided_gap(e: E.Expr, sym: Sym, p: np.ndarray, x: np.ndarray, h: float) -> float:
    """|forward - backward difference|: large at a kink or jump."""
    arr = p if sym.kind == "param" else x

    def at(delta: float) -> float:
        a = arr.copy()
        a[sym.index] += delta
        return float(e.evaluate(a, x) if sym.kind == "param" else e.evaluate(p, a))

    mid = at(0.0)
    return abs((at(h) - mid) / h - (mid - at(-h)) / h)


@pytest.mark.parametrize("fn", sorted(NUMPY))
def test_function_derivatives_vs_finite_differences(fn: str) -> None:
    e = E.func(fn, 0.7 * W[0] - 0.2)  # argument in (-1, 1) and > 0 where needed
    for v in (0.4, 0.9, 1.2):
        p = np.array([v, 0.0, 0.0])
        assert float(e.diff(W[0]).evaluate(p, np.zeros(2))) == pytest.approx(fd(e, W[0], p, np.zeros(2)), rel=1e-6)
    assert e.diff(W[1]) == Const(0.0) and e.diff(X[0]) == Const(0.0)


def test_operator_derivatives_vs_finite_differences() -> None:
    a, b = W[0], X[1]
    p, x = np.array([1.3, 0.0, 0.0]), np.array([0.0, 0.7])
    for e in (a + b, a - b, a * b, a / b, a ** b, b ** a, a ** 3, -a * b, E.mod(a, b), E.mod(a * b, Const(0.5))):
        for s in (a, b):
            assert float(e.diff(s).evaluate(p, x)) == pytest.approx(fd(e, s, p, x), rel=1e-6, abs=1e-9), (e, s)


def test_symbolic_derivative_forms() -> None:
    w = W[0]
    assert (3 * w + 1).diff(w) == Const(3.0)
    assert E.func("sin", w).diff(w) == E.func("cos", w)
    assert (w * w).diff(w) == Binary("*", Const(2.0), w)
    assert E.func("abs", w).diff(w) == E.func("sign", w)


# -- CompiledExprs -----------------------------------------------------------------------------
def test_compiled_exprs_matches_evaluate_and_shares_subexpressions() -> None:
    s = E.func("sin", W[0] * X[0])
    exprs = [s + 1, s * W[1], Const(2.5), X[1], W[2] ** 2]
    p = RNG.normal(size=3)
    x = RNG.normal(size=(4, 2))
    got = CompiledExprs(exprs)(p, x)
    assert got.shape == (5, 4)
    for k, e in enumerate(exprs):
        np.testing.assert_allclose(got[k], np.broadcast_to(e.evaluate(p, x), (4,)), rtol=1e-14)
    assert CompiledExprs(exprs).source.count("np.sin") == 1
    assert CompiledExprs([W[0]])(p).shape == (1, 1)


# -- printing ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    ["w[0] - (w[1] - w[2])", "-w[0] ** 2", "(-w[0]) ** 2", "2 ** (-w[0])", "w[0] ** w[1] ** w[2]", "(w[0] ** w[1]) ** w[2]",
     "w[0] / (w[1] * w[2])", "w[0] / w[1] * w[2]", "-(w[0] + x[1])", "w[0] % (x[0] + 1)", "sin(-x[0]) * cos(x[1] / 3)",
     "pi / 2 * w[0]", "-pi * x[0]", "3 * pi / 4 + w[0]", "1e-05 * w[0]", "1.5e+20 * w[0]"],
)
def test_print_parse_round_trip_examples(text: str) -> None:
    e = parse_angle(text)
    again = parse_angle(to_text(e))
    assert again == e, (text, to_text(e))


def test_to_text_pi_multiples_and_numbers() -> None:
    assert to_text(Const(math.pi / 2)) == "pi / 2" and to_text(Const(-math.pi)) == "-pi"
    assert to_text(Const(3 * math.pi / 4)) == "3 * pi / 4" and to_text(Const(2.0)) == "2"
    assert to_text(Const(0.1)) == "0.1" and to_text(W[0], sym_name=lambda s: f"theta_{s.index}") == "theta_0"
    with pytest.raises(ValueError):
        to_text(Const(math.nan))


# -- hypothesis: random expression trees on safe domains --------------------------------------
LEAVES = st.one_of(st.sampled_from(W + X), st.sampled_from([0.5, 2.0, 3.0, -1.5, math.pi]).map(Const))


def _safe_func(name: str, a: E.Expr) -> E.Expr:
    """``name`` applied to an argument transformed into the function's smooth domain."""
    s, c = E.func("sin", a), E.func("cos", a)
    arg = {
        "log": 1.5 + s, "sqrt": 1.5 + s, "arcsin": 0.5 * s, "arccos": 0.5 * c, "tan": 0.5 * s,
        "exp": s, "abs": (2.0 if name == "abs" else 0) + s,
    }.get(name, a)
    return E.func(name, arg)


def _extend(children):
    unary = st.builds(_safe_func, st.sampled_from(sorted(NUMPY)), children)
    neg = children.map(E.neg)
    arith = st.builds(E.binary, st.sampled_from(["+", "-", "*"]), children, children)
    divide = st.builds(lambda a, b: E.div(a, 2.0 + E.func("cos", b)), children, children)
    pow_ = st.builds(lambda a, b: E.power(1.5 + E.func("sin", a), E.func("sin", b)), children, children)
    ipow = st.builds(lambda a, k: E.power(a, Const(k)), children, st.sampled_from([2.0, 3.0]))
    mod = st.builds(lambda a, b: E.mod(a, 2.0 + E.func("cos", b)), children, children)
    return st.one_of(unary, neg, arith, divide, pow_, ipow, mod)


EXPRS = st.recursive(LEAVES, _extend, max_leaves=8)
POINT = st.tuples(
    st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3), st.lists(st.floats(-1.5, 1.5), min_size=2, max_size=2)
)


@settings(max_examples=150, deadline=None)
@given(EXPRS, POINT, st.sampled_from(W + X))
def test_property_derivative_matches_finite_difference(e: E.Expr, point, sym: Sym) -> None:
    p, x = np.array(point[0]), np.array(point[1])
    value = float(e.evaluate(p, x))
    assume(math.isfinite(value) and abs(value) < 1e6)
    d1, d2 = fd(e, sym, p, x, 1e-5), fd(e, sym, p, x, 1e-6)
    # Skip points at a jump or kink (of %): there step sizes or one-sided differences disagree.
    kink = _one_sided_gap(e, sym, p, x, 1e-5)
    assume(abs(d1 - d2) <= 1e-3 * (1 + abs(d1)) and kink <= 1e-3 * (1 + abs(d1)))
    got = float(e.diff(sym).evaluate(p, x))
    assert got == pytest.approx(d2, rel=1e-4, abs=1e-4), (to_text(e), sym)


@settings(max_examples=150, deadline=None)
@given(EXPRS, POINT)
def test_property_print_parse_round_trip(e: E.Expr, point) -> None:
    if isinstance(e, Const) and not math.isfinite(e.val):
        return
    text = to_text(e)
    again = parse_angle(text)
    p, x = np.array(point[0]), np.array(point[1])
    v1, v2 = float(e.evaluate(p, x)), float(again.evaluate(p, x))
    assert (math.isnan(v1) and math.isnan(v2)) or v1 == pytest.approx(v2, rel=1e-12, abs=1e-12), text
    assert again == e, text
    assert to_text(again) == text


@settings(max_examples=60, deadline=None)
@given(EXPRS, POINT)
def test_property_simplify_preserves_value(e: E.Expr, point) -> None:
    p, x = np.array(point[0]), np.array(point[1])
    v1, v2 = float(e.evaluate(p, x)), float(e.simplify().evaluate(p, x))
    assume(math.isfinite(v1) and abs(v1) < 1e6)
    assert v2 == pytest.approx(v1, rel=1e-9, abs=1e-9)


# -- long sums ----------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, E.BALANCE_ABOVE, E.BALANCE_ABOVE + 1, 1000])
def test_signed_sum_value_and_depth(n: int) -> None:
    rng = np.random.default_rng(n)
    negs = rng.random(n) < 0.4
    terms = [(bool(s), Func("sin", W[i % 3]) * X[i % 2] + Const(float(i))) for i, s in enumerate(negs)]
    e = E.signed_sum(terms)
    w, x = rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 2)
    want = sum((-1 if s else 1) * (np.sin(w[i % 3]) * x[i % 2] + i) for i, s in enumerate(negs))
    assert e.evaluate(w, x) == pytest.approx(want, rel=1e-12, abs=1e-9)
    if n > E.BALANCE_ABOVE:
        assert E.depth(e) <= E.BALANCE_ABOVE + math.ceil(math.log2(n)) + 4  # chunks of <= 32, then halving
    else:  # short sums keep the left-to-right chain (and its printed form)
        left = terms[0][1] if not terms[0][0] else -terms[0][1]
        for s, t in terms[1:]:
            left = left - t if s else left + t
        assert e == left


def test_long_left_deep_sums_simplify_without_recursion() -> None:
    # built term by term through the Python API: one left-deep chain 6000 levels deep
    e: E.Expr = Const(0.0)
    for i in range(3000):
        e = e + Func("cos", W[i % 3] * (i % 5 + 1)) - X[i % 2] * 0.5
    assert E.depth(e) > 5000
    s = e.simplify()
    assert E.depth(s) < 40
    w, x = RNG.uniform(-1, 1, 3), RNG.uniform(-1, 1, 2)
    assert s.evaluate(w, x) == pytest.approx(
        sum(np.cos(w[i % 3] * (i % 5 + 1)) - 0.5 * x[i % 2] for i in range(3000)), rel=1e-10)
    d = s.diff(W[1])
    h = 1e-6
    fd = (s.evaluate(w + [0, h, 0], x) - s.evaluate(w - [0, h, 0], x)) / (2 * h)
    assert d.evaluate(w, x) == pytest.approx(fd, rel=1e-6)
    assert parse_angle(to_text(s)).evaluate(w, x) == pytest.approx(s.evaluate(w, x), rel=1e-12)


def test_long_constant_sums_fold_left_to_right() -> None:
    # compile-time values (const, if, indices) must not change with the tree shape: 45 x 0.2
    # added left to right is exactly 9.0, pairwise it is 9.000000000000004
    text = " + ".join(["0.2"] * 45)
    assert parse_angle(text) == Const(9.0)
    assert qcomp.parse(f"const c = {text};\nqubit q[10];\nif (c == 9) {{ x q[c]; }}").circuit.ops()[0].qubits == (9,)


def test_long_canonical_forms_are_stable() -> None:
    # a cancelling pair must not change the form, and simplifying twice changes nothing
    base = [Const(-2.0) * W[0]] + [Func("sin", X[0] * float(k)) for k in range(1, 40)]
    e = base[0]
    for t in base[1:]:
        e = e + t
    with_pair = e + W[2] - W[2]
    s = e.simplify()
    assert s.simplify() == s and with_pair.simplify() == s
    assert to_text(s).startswith("-2 * w[0] + ")


def test_depth_visits_shared_subexpressions_once() -> None:
    e: E.Expr = W[0]
    for _ in range(200):  # 2**200 root-to-leaf paths, 201 levels
        e = Binary("*", e, e)
    assert E.depth(e) == 201
