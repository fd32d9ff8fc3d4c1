"""Parse a bare .q expression (a manifest's derived-input formula or gradient coefficient) to an IR expression."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

from lark import Lark

from ..errors import ResourceLimitError, SemanticError, Span
from ..ir import expr as E
from ..ir.ops import ValueDecl
from .lower import BUILTIN_CONSTANTS, MAX_ANGLE_DEPTH, Limits, Scope, _Lowerer
from .parser import _Builder, deep_recursion, transform_source

__all__ = ["parse_expression"]


@lru_cache(maxsize=1)
def _lark() -> Lark:
    # the language's grammar entered at its 'formula' rule: the same expression rules as in a program
    return Lark.open_from_package("qcomp.grammar", "qcomp.lark", ("",), parser="lalr", start="formula",
                                  propagate_positions=True, maybe_placeholders=False)


class _FormulaBuilder(_Builder):
    def formula(self, children):
        return children[0]


def parse_expression(text: str, decls: Sequence[ValueDecl] = (), *, name: str = "<expression>",
                     what: str = "expression") -> E.Expr:
    """The IR expression of ``text``, written in .q syntax over the declarations ``decls`` (params
    and/or inputs: ``sin(x[0]) * w``) and the built-in constants.

    Errors are located ParseError / SemanticError whose span points into ``text`` (shown as file
    ``name``): a syntax error, an undeclared name, an index out of range, a non-finite constant.

    >>> from qcomp.ir.ops import ValueDecl
    >>> parse_expression("2 * x[1]", [ValueDecl("input", "x", 2, 0)]).evaluate([], [[0.5, 0.25]])
    array([0.5])
    """
    lines = text.split("\n")
    lw = _Lowerer(Limits())
    for d in decls:
        if d.name in BUILTIN_CONSTANTS or d.name in lw.values:
            raise SemanticError(f"'{d.name}' cannot be declared in a {what}: "
                                f"{'a built-in constant' if d.name in BUILTIN_CONSTANTS else 'declared twice'}")
        lw.values[d.name] = d
    node = transform_source(_lark(), _FormulaBuilder, text, name)
    with deep_recursion(name):
        out = lw.expr(node, Scope())
    span = node.span or Span(name, 1, 1, None, lines[0])
    if E.depth(out) > MAX_ANGLE_DEPTH:  # later evaluation and printing recurse once per level
        raise ResourceLimitError(f"{what} is nested {E.depth(out)} levels deep, over the limit of {MAX_ANGLE_DEPTH}", span)
    bad = next((c.val for c in E.unique_nodes(out) if type(c) is E.Const and not math.isfinite(c.val)), None)
    if bad is not None:
        raise SemanticError(f"{what} contains a number that is not finite ({bad})", span)
    return out
