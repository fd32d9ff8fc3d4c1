"""The surface AST of .q programs: frozen dataclasses with source spans (excluded from equality)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Span

_SPAN = dict(default=None, compare=False, hash=False, repr=False)


# -- expressions ----------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    pass


@dataclass(frozen=True)
class Num(Node):
    value: float
    is_int: bool
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class Name(Node):
    id: str
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class Index(Node):
    name: str
    index: Node
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class Call(Node):
    fn: str
    arg: Node
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class BinOp(Node):
    op: str  # + - * / % ** @ == != < <= > >= && ||
    left: Node
    right: Node
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class UnOp(Node):
    op: str  # - + !
    operand: Node
    span: Span | None = field(**_SPAN)


# -- statements -------------------------------------------------------------------------
@dataclass(frozen=True)
class ConstDecl(Node):
    name: str
    value: Node
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class QubitDecl(Node):
    name: str
    size: Node | None
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class ValueDeclStmt(Node):
    kind: str  # "param" | "input"
    name: str
    size: Node | None
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class QArg(Node):
    name: str
    index: Node | None
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class Modifier(Node):
    """One gate modifier: ``inv``, ``pow`` (arg the exponent), ``ctrl`` / ``negctrl`` (arg the count or None)."""

    kind: str
    arg: Node | None
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class GateCall(Node):
    name: str
    inverses: int  # number of ``inv @`` modifiers
    args: tuple[Node, ...]
    qargs: tuple[QArg, ...]
    span: Span | None = field(**_SPAN)
    name_span: Span | None = field(**_SPAN)
    modifiers: tuple[Modifier, ...] = ()  # all modifiers as written, outermost first


@dataclass(frozen=True)
class GateDef(Node):
    name: str
    params: tuple[str, ...]
    qubits: tuple[str, ...]
    body: tuple[Node, ...]
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class For(Node):
    var: str
    range_args: tuple[Node, ...]
    body: tuple[Node, ...]
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class If(Node):
    cond: Node
    then: tuple[Node, ...]
    orelse: tuple[Node, ...]
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class Expect(Node):
    expr: Node
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class Measure(Node):
    qargs: tuple[QArg, ...]
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class Include(Node):
    path: str
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class Module(Node):
    """A parsed file: its statements, file name and source text."""

    statements: tuple[Node, ...]
    file: str
    source: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class Barrier(Node):
    """``barrier q, r[0];`` (``qargs`` empty: every qubit)."""

    qargs: tuple[QArg, ...]
    span: Span | None = field(**_SPAN)
