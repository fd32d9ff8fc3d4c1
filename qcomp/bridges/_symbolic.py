"""sympy expressions (Cirq symbols, Qiskit's ParameterExpression.sympify) to qcomp IR angle expressions."""

from __future__ import annotations

import math
from typing import Any, Callable

from ..errors import UnsupportedError
from ..ir.expr import Const, Expr, div, func, mod, mul, power, signed_sum

IRExpr = Expr

# sympy function class name -> qcomp IR function name (qcomp.ir.expr.FUNCTIONS)
_FUNCS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "exp": "exp", "log": "log",
    "asin": "arcsin", "acos": "arccos", "atan": "arctan", "Abs": "abs", "sign": "sign", "floor": "floor",
}


def sympy_to_expr(expr: Any, lookup: Callable[[str], IRExpr]) -> IRExpr:
    """The qcomp IR expression of the sympy expression ``expr``.

    ``lookup(name)`` gives the IR expression of each free symbol (a qcomp param or input ``Sym``,
    or any expression). Plain Python numbers are accepted too. Only real-valued expressions built
    from ``+ - * / ** %``, ``pi``, ``E`` and the functions qcomp's IR has (sin cos tan exp log sqrt
    asin acos atan Abs sign floor) convert; anything else is an ``UnsupportedError`` naming it.
    """
    import sympy

    def walk(e: Any) -> Expr:
        if isinstance(e, sympy.Symbol):
            return lookup(e.name)
        if e is sympy.pi:
            return Const(math.pi)
        if e is sympy.E:
            return Const(math.e)
        if isinstance(e, sympy.Number):
            if not e.is_finite:
                raise UnsupportedError(f"non-finite constant {e} in a parameter expression")
            return Const(float(e))
        if e.is_number:  # a constant subtree (sqrt(2), cos(pi/8), ...): one value, complex refused
            v = complex(e.evalf())
            if v.imag != 0.0:
                raise UnsupportedError(f"complex constant {e} in a parameter expression (qcomp angles are real)")
            return Const(v.real)
        if isinstance(e, sympy.Add):
            # sympy's argument order is canonical (deterministic); long sums become balanced trees
            return signed_sum([(False, walk(a)) for a in e.args])
        if isinstance(e, sympy.Mul):
            # a * b**-k reads as a division (exact for the common x/pi, and prints as one)
            num: Expr = Const(1.0)
            den: Expr = Const(1.0)
            for a in e.args:
                if isinstance(a, sympy.Pow) and a.exp.is_number and a.exp.is_negative:
                    den = mul(den, walk(a.base ** (-a.exp)))
                else:
                    num = mul(num, walk(a))
            return num if den == Const(1.0) else div(num, den)
        if isinstance(e, sympy.Pow):
            if e.exp == sympy.Rational(1, 2):
                return func("sqrt", walk(e.base))
            if e.exp.is_number and e.exp.is_negative:
                return div(Const(1.0), walk(e.base ** (-e.exp)))
            return power(walk(e.base), walk(e.exp))
        if isinstance(e, sympy.Mod):
            return mod(walk(e.args[0]), walk(e.args[1]))
        name = type(e).__name__
        if isinstance(e, sympy.Function) and name in _FUNCS and len(e.args) == 1:
            return func(_FUNCS[name], walk(e.args[0]))
        raise UnsupportedError(f"cannot convert '{e}' ({name}) to a qcomp angle expression; supported: "
                               f"+ - * / ** %, pi, E and {', '.join(sorted(_FUNCS))}")

    try:
        tree = sympy.sympify(expr)
    except (sympy.SympifyError, TypeError) as exc:
        raise UnsupportedError(f"cannot read {expr!r} as a sympy expression: {exc}") from None
    return walk(tree)


__all__ = ["sympy_to_expr"]
