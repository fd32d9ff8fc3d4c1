"""Parse .q source text into the AST with lark (LALR), turning lark errors into located ParseErrors."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterator

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError
from lark.lexer import PatternStr

from ..errors import ParseError, QCompError, ResourceLimitError, Span
from . import ast


MODIFIERS = ("inv", "pow", "ctrl", "negctrl")


@lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark.open_from_package(
        "qcomp.grammar",
        "qcomp.lark",
        ("",),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
    )


class _Builder(Transformer):
    """Lark tree -> AST, attaching spans that carry the source line for diagnostics."""

    def __init__(self, file: str, lines: list[str]):
        super().__init__()
        self.file = file
        self.lines = lines

    def _span(self, line: int, col: int, end_line: int | None = None, end_col: int | None = None) -> Span:
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        end = end_col if end_line == line else None
        return Span(self.file, line, col, end, text)

    def _meta(self, meta) -> Span | None:
        if getattr(meta, "empty", True):
            return None
        return self._span(meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok(self, tok: Token) -> Span:
        return self._span(tok.line, tok.column, tok.end_line, tok.end_column)

    # -- statements
    def start(self, children):
        return tuple(children)

    @v_args(meta=True)
    def const_decl(self, meta, c):
        return ast.ConstDecl(str(c[0]), c[1], self._meta(meta))

    @v_args(meta=True)
    def qubit_decl(self, meta, c):
        return ast.QubitDecl(str(c[0]), c[1] if len(c) > 1 else None, self._meta(meta))

    @v_args(meta=True)
    def param_decl(self, meta, c):
        return ast.ValueDeclStmt("param", str(c[0]), c[1] if len(c) > 1 else None, self._meta(meta))

    @v_args(meta=True)
    def input_decl(self, meta, c):
        return ast.ValueDeclStmt("input", str(c[0]), c[1] if len(c) > 1 else None, self._meta(meta))

    def size(self, c):
        return c[0]

    def name_list(self, c):
        return tuple(str(t) for t in c)

    def gate_params(self, c):
        return ("params", c[0] if c and c[0] is not None else ())

    def block(self, c):
        return tuple(c)

    @v_args(meta=True)
    def gate_def(self, meta, c):
        name = str(c[0])
        params: tuple[str, ...] = ()
        rest = c[1:]
        if rest and isinstance(rest[0], tuple) and rest[0][:1] == ("params",):
            params = rest[0][1]
            rest = rest[1:]
        qubits, body = rest
        return ast.GateDef(name, params, qubits, body, self._meta(meta))

    @v_args(meta=True)
    def modifier(self, meta, c):
        kind = str(c[0])
        arg = c[1] if len(c) > 1 else None
        span = self._meta(meta)
        if kind not in MODIFIERS:
            raise ParseError(f"unknown gate modifier '{kind}' (modifiers: {', '.join(MODIFIERS)})", self._tok(c[0]))
        if kind == "inv" and arg is not None:
            raise ParseError("'inv' takes no argument", span)
        if kind == "pow" and arg is None:
            raise ParseError("'pow' needs an exponent: pow(k) @", span)
        return ast.Modifier(kind, arg, span)

    def call_args(self, c):
        return ("args", tuple(x for x in c if x is not None))

    def qarg_list(self, c):
        return tuple(c)

    @v_args(meta=True)
    def qarg(self, meta, c):
        return ast.QArg(str(c[0]), c[1] if len(c) > 1 else None, self._meta(meta))

    @v_args(meta=True)
    def gate_call(self, meta, c):
        i = 0
        while isinstance(c[i], ast.Modifier):
            i += 1
        modifiers = tuple(c[:i])
        inverses = sum(m.kind == "inv" for m in modifiers)
        name_tok = c[i]
        args: tuple = ()
        rest = c[i + 1 :]
        if rest and isinstance(rest[0], tuple) and rest[0][:1] == ("args",):
            args = rest[0][1]
            rest = rest[1:]
        qargs = rest[0] if rest else ()
        return ast.GateCall(str(name_tok), inverses, args, qargs, self._meta(meta), self._tok(name_tok), modifiers)

    @v_args(meta=True)
    def barrier_stmt(self, meta, c):
        return ast.Barrier(c[0] if c else (), self._meta(meta))

    @v_args(meta=True)
    def for_loop(self, meta, c):
        return ast.For(str(c[0]), tuple(c[1:-1]), c[-1], self._meta(meta))

    @v_args(meta=True)
    def if_stmt(self, meta, c):
        orelse: tuple = ()
        if len(c) > 2:
            orelse = c[2] if isinstance(c[2], tuple) else (c[2],)
        return ast.If(c[0], c[1], orelse, self._meta(meta))

    @v_args(meta=True)
    def expect_stmt(self, meta, c):
        return ast.Expect(c[0], self._meta(meta))

    @v_args(meta=True)
    def hermitian_obs(self, meta, c):
        return ast.Hermitian(c[0], c[1], self._meta(meta))

    @v_args(meta=True)
    def var_stmt(self, meta, c):
        return ast.Var(c[0], self._meta(meta))

    @v_args(meta=True)
    def probs_stmt(self, meta, c):
        return ast.Probs(c[0], self._meta(meta))

    @v_args(meta=True)
    def sample_stmt(self, meta, c):
        return ast.Sample(c[0] if len(c) > 1 else None, c[-1], self._meta(meta))

    @v_args(meta=True)
    def measure_stmt(self, meta, c):
        return ast.Measure(c[0], self._meta(meta))

    @v_args(meta=True)
    def bit_decl(self, meta, c):
        return ast.BitDecl(str(c[0]), c[1] if len(c) > 1 else None, self._meta(meta))

    @v_args(meta=True)
    def bit_decl_typed(self, meta, c):
        return ast.BitDecl(str(c[1]), c[0], self._meta(meta))

    @v_args(meta=True)
    def measure_assign(self, meta, c):
        name = c[0]
        index = c[1] if len(c) > 2 else None
        end = c[1].span if index is not None and getattr(c[1], "span", None) else None
        target_span = self._span(name.line, name.column, name.end_line,
                                 (end.end_column + 1) if end is not None and end.end_column else name.end_column)
        return ast.MeasureAssign(ast.QArg(str(name), index, target_span), c[-1], self._meta(meta))

    @v_args(meta=True)
    def reset_stmt(self, meta, c):
        return ast.Reset(c[0], self._meta(meta))

    @v_args(meta=True)
    def include_stmt(self, meta, c):
        return ast.Include(str(c[0])[1:-1], self._meta(meta))

    # -- expressions
    @v_args(meta=True)
    def number(self, meta, c):
        text = str(c[0])
        # float() rounds a digit string exactly as float(int()) would, without Python's limit on
        # converting over 4300 digits to int; a literal too large becomes inf, refused where used.
        return ast.Num(float(text), text.isdigit(), self._meta(meta))

    @v_args(meta=True)
    def name(self, meta, c):
        return ast.Name(str(c[0]), self._meta(meta))

    @v_args(meta=True)
    def index(self, meta, c):
        return ast.Index(str(c[0]), c[1], self._meta(meta))

    @v_args(meta=True)
    def index2(self, meta, c):
        return ast.Index2(str(c[0]), c[1], c[2], self._meta(meta))

    @v_args(meta=True)
    def array(self, meta, c):
        return ast.ArrayLit(tuple(x for x in c if x is not None), self._meta(meta))

    @v_args(meta=True)
    def sum_for(self, meta, c):
        return ast.SumFor(str(c[0]), tuple(c[1:]), self._meta(meta))

    @v_args(meta=True)
    def sum_over(self, meta, c):
        loops = tuple(x for x in c[1:] if isinstance(x, ast.SumFor))
        rest = [x for x in c[1:] if not isinstance(x, ast.SumFor)]
        return ast.SumOver(c[0], loops, rest[0] if rest else None, self._meta(meta))

    @v_args(meta=True)
    def call(self, meta, c):
        return ast.Call(str(c[0]), c[1], self._meta(meta))

    @v_args(meta=True)
    def binop(self, meta, c):
        return ast.BinOp(str(c[1]), c[0], c[2], self._meta(meta))

    @v_args(meta=True)
    def unop(self, meta, c):
        return ast.UnOp(str(c[0]), c[1], self._meta(meta))


def _describe(term_name: str) -> str:
    friendly = {
        "NAME": "a name",
        "NUMBER": "a number",
        "STRING": "a string",
        "$END": "end of input",
        "ADD_OP": "'+' or '-'",
        "MUL_OP": "'*', '/' or '%'",
        "COMPARE": "a comparison",
    }
    if term_name in friendly:
        return friendly[term_name]
    try:
        pat = _lark().get_terminal(term_name).pattern
    except KeyError:
        return term_name
    if isinstance(pat, PatternStr):
        return f"'{pat.value}'"
    return term_name.lower()


def _expected(names) -> str:
    items = sorted({_describe(n) for n in names})
    if not items:
        return ""
    if len(items) == 1:
        return f"; expected {items[0]}"
    return "; expected one of " + ", ".join(items)


RECURSION_LIMIT = 20_000


@contextmanager
def deep_recursion(file: str) -> Iterator[None]:
    """Allow long expressions (a Hamiltonian with thousands of terms is one left-deep tree);
    beyond that, report a located-by-file error instead of crashing with RecursionError."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, RECURSION_LIMIT))
    try:
        yield
    except RecursionError:
        raise ResourceLimitError(
            f"{file}: expression or nesting too deep to compile; split long sums into several statements"
        ) from None
    finally:
        sys.setrecursionlimit(old)


def parse_source(source: str, file: str = "<string>") -> ast.Module:
    """Parse ``source`` (the text of ``file``) into an AST module or raise ParseError."""
    stmts = transform_source(_lark(), _Builder, source, file)
    return ast.Module(tuple(stmts), file, source)


def transform_source(parser: Any, builder: Any, source: str, file: str) -> Any:
    """``builder(file, lines).transform(parser.parse(source))`` with located errors: lark's syntax
    errors become ParseError, and a QCompError (or deep nesting) raised while building is re-raised
    as itself rather than wrapped in lark's VisitError."""
    lines = source.split("\n")
    with deep_recursion(file):
        try:
            tree = parser.parse(source)
        except UnexpectedInput as e:
            raise _parse_error(e, source, file, lines) from None
        try:
            return builder(file, lines).transform(tree)
        except VisitError as e:
            if isinstance(e.orig_exc, (QCompError, RecursionError)):
                raise e.orig_exc from None
            raise


def _parse_error(e: UnexpectedInput, source: str, file: str, lines: list[str]) -> ParseError:
    line = getattr(e, "line", None) or 1
    col = getattr(e, "column", None) or 1
    if line < 1:
        line, col = len(lines), len(lines[-1]) + 1
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    if isinstance(e, UnexpectedEOF) or (isinstance(e, UnexpectedToken) and e.token.type == "$END"):
        # Point just past the last non-blank character.
        stripped = source.rstrip()
        line = stripped.count("\n") + 1
        text = lines[line - 1]
        col = len(text.rstrip()) + 1
        expected = e.expected if isinstance(e, UnexpectedEOF) else e.expected
        msg = "unexpected end of input" + _expected(expected)
        return ParseError(msg, Span(file, line, col, None, text))
    if isinstance(e, UnexpectedToken):
        tok = e.token
        if tok.start_pos is not None and source.startswith("/*", tok.start_pos):
            # The block-comment pattern did not match, so '/' was lexed as division.
            return ParseError("unterminated comment: '/*' has no closing '*/'", Span(file, line, col, None, text))
        prev = (getattr(e, "token_history", None) or [None])[-1]
        if "SEMICOLON" in (e.accepts or e.expected) and prev is not None and prev.end_line is not None \
                and tok.line > prev.end_line:
            # A statement left open at the end of a line: point just past it, not at the next line.
            pline = prev.end_line
            ptext = lines[pline - 1] if 0 < pline <= len(lines) else ""
            msg = f"missing ';' after '{prev}' (the next line starts with '{tok}')"
            return ParseError(msg, Span(file, pline, prev.end_column, None, ptext))
        shown = str(tok)
        msg = f"unexpected '{shown}'" + _expected(e.accepts or e.expected)
        end = tok.end_column if tok.end_line == tok.line else None
        return ParseError(msg, Span(file, line, col, end, text))
    if isinstance(e, UnexpectedCharacters):
        ch = source[e.pos_in_stream] if e.pos_in_stream < len(source) else "?"
        if source.startswith("/*", e.pos_in_stream):
            return ParseError("unterminated comment: '/*' has no closing '*/'", Span(file, line, col, None, text))
        if ch == '"':
            return ParseError("unterminated string", Span(file, line, col, None, text))
        return ParseError(f"unexpected character {ch!r}", Span(file, line, col, None, text))
    return ParseError(str(e), Span(file, line, col, None, text))
