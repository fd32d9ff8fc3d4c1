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

# -- constant arrays, summed terms and declared outputs (issue 15, part B) -------------------
@dataclass(frozen=True)
class Index2(Node):
    """``name[row][col]``: an element of a 2-D constant array."""

    name: str
    row: Node
    col: Node
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class ArrayLit(Node):
    """``[a, b, ...]`` (rows are ArrayLits too); only a const's value or hermitian()'s matrix."""

    items: tuple[Node, ...]
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class SumFor(Node):
    """One ``for var in range(...)`` clause of a sum."""

    var: str
    range_args: tuple[Node, ...]
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class SumOver(Node):
    """``sum(body for k in range(...) [for ...] [if cond])``: one term per iteration, added."""

    body: Node
    loops: tuple[SumFor, ...]
    cond: Node | None
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class Hermitian(Node):
    """``hermitian(M) q[0], q[1]``: the observable given by a constant 2**k x 2**k matrix."""

    matrix: Node
    qargs: tuple[QArg, ...]
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class Var(Node):
    """``var O;``: the variance of an observable (a Pauli sum or a Hermitian)."""

    expr: Node
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class Probs(Node):
    """``probs q[0], q[2];``: the joint outcome probabilities of the qubits (bit k is the k-th)."""

    qargs: tuple[QArg, ...]
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class Sample(Node):
    """``sample(shots) q;``: ``shots`` measured outcomes of the qubits per row, as integers."""

    shots: Node | None
    qargs: tuple[QArg, ...]
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class BitDecl(Node):
    """``bit c;`` / ``bit c[2];`` / ``bit[2] c;``: classical bits that mid-circuit measurements write."""

    name: str
    size: Node | None
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class MeasureAssign(Node):
    """``c[0] = measure q[0];`` / ``c = measure q;``: a mid-circuit measurement into bits."""

    target: QArg  # the bit or bit register (same shape as a qubit argument)
    qarg: QArg
    span: Span | None = field(**_SPAN)


@dataclass(frozen=True)
class Reset(Node):
    """``reset q[0];`` / ``reset q;``: put qubits back in |0> (mid-circuit)."""

    qargs: tuple[QArg, ...]
    span: Span | None = field(**_SPAN)
