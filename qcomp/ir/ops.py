"""IR values: operations, observables and declarations (frozen; spans excluded from equality)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..errors import Span
from .expr import Expr, Sym, as_expr, to_text
from .gates import DYNAMIC_OPS, GATES, is_fence, resolve


@dataclass(frozen=True, slots=True, init=False)
class Operation:
    """One gate application: a library gate name, its qubits (flat indices) and angle expressions.

    ``matrix`` is set only for fused blocks made by passes (name "unitary" with a constant
    matrix); it is stored as nested tuples so the operation stays hashable.

    Dynamic circuits (``qcomp.ir.dynamic``): ``bit`` is the classical bit a mid-circuit ``measure``
    writes; ``cond`` makes a gate classically conditioned: a tuple of clauses ``(bits, value,
    equal)``, all of which must hold (``bits`` read as an integer, bit k of it = bits[k], compared
    ``==`` value when ``equal`` else ``!=``).
    """

    name: str
    qubits: tuple[int, ...]
    angles: tuple[Expr, ...] = ()
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)
    matrix: tuple[tuple[complex, ...], ...] | None = field(default=None, repr=False)
    cond: Condition | None = None
    bit: int | None = None

    def __new__(
        cls,
        name: str,
        qubits: tuple[int, ...],
        angles: tuple[Expr, ...] = (),
        span: Span | None = None,
        matrix: tuple[tuple[complex, ...], ...] | None = None,
        cond: "Condition | None" = None,
        bit: int | None = None,
    ) -> "Operation":
        # Passes build ~50k operations per 20k-gate compile. The fields are stored on a mutable
        # twin with the same slots, which then becomes an Operation: plain attribute stores instead
        # of the frozen class's object.__setattr__ per field (half the cost), and slots instead of
        # an instance __dict__ (attribute reads ~20 ns cheaper; read far more often than built).
        # No checks here: tuple fields and distinct in-range qubits are checked by
        # Circuit.from_ops/add and the IR verifier, and the front end reports repeated qubits in
        # user source with a location.
        if cls is not Operation:  # a subclass has its own layout: the generic (slower) way
            op = _new_twin(cls)
            for k, v in zip(_FIELDS, (name, qubits, angles, span, matrix, cond, bit)):
                object.__setattr__(op, k, v)
            return op
        op = _new_twin(_MutableOperation)
        op.name = name
        op.qubits = qubits
        op.angles = angles
        op.span = span
        op.matrix = matrix
        op.cond = cond
        op.bit = bit
        op.__class__ = cls
        return op

    def __reduce__(self):
        g = GATES.get(self.name)
        if type(self) is Operation and g is not None and g.base is not None:
            # a derived gate (ctrl/negctrl/pow, qcomp.ir.modifiers) is registered again on load
            return (_restore, (self.name, self.qubits, self.angles, self.span, self.matrix, self.cond, self.bit))
        return (type(self), (self.name, self.qubits, self.angles, self.span, self.matrix, self.cond, self.bit))

    @property
    def gate(self):
        return GATES.get(self.name)

    @property
    def num_qubits(self) -> int:
        return len(self.qubits)

    @property
    def is_parametric(self) -> bool:
        return any(not a.is_constant for a in self.angles)

    def symbols(self) -> frozenset[Sym]:
        out: frozenset[Sym] = frozenset()
        for a in self.angles:
            out |= a.symbols()
        return out

    def with_angles(self, angles: Sequence[Expr]) -> "Operation":
        return Operation(self.name, self.qubits, tuple(angles), self.span, self.matrix, self.cond, self.bit)

    def with_qubits(self, qubits: Sequence[int]) -> "Operation":
        return Operation(self.name, tuple(qubits), self.angles, self.span, self.matrix, self.cond, self.bit)

    def with_cond(self, cond: "Condition | None") -> "Operation":
        return Operation(self.name, self.qubits, self.angles, self.span, self.matrix, cond, self.bit)

    def unitary(self, params: np.ndarray | None = None, inputs: np.ndarray | None = None) -> np.ndarray:
        """The matrix in argument order (first qubit most significant), angles evaluated.

        With batched params/inputs the result has shape (B, d, d).
        """
        if self.matrix is not None:
            return np.array(self.matrix, dtype=complex)
        if self.cond or self.name in DYNAMIC_OPS:  # no matrix: see qcomp.ir.dynamic.defer_measurements
            raise ValueError(f"{self}: a dynamic-circuit operation has no matrix; defer measurements first")
        if is_fence(self.name):  # a barrier does nothing to the state
            return np.eye(2 ** len(self.qubits), dtype=complex)
        p = np.zeros(0) if params is None else np.asarray(params, dtype=float)
        x = np.zeros(0) if inputs is None else np.asarray(inputs, dtype=float)
        vals = [a.evaluate(p, x) for a in self.angles]
        return GATES[self.name].matrix(*vals)

    def __str__(self) -> str:
        args = ""
        if self.angles:
            args = "(" + ", ".join(to_text(a) for a in self.angles) + ")"
        text = f"{self.name}{args} " + ", ".join(f"q{q}" for q in self.qubits)
        if self.bit is not None:
            text = f"b{self.bit} = {text}"
        if self.cond:
            text = "if (" + " && ".join(
                "[" + ", ".join(f"b{b}" for b in bits) + f"] {'==' if eq else '!='} {v}" for bits, v, eq in self.cond
            ) + f") {text}"
        return text


def _restore(name, *fields) -> Operation:
    """Unpickle an Operation whose gate may be a derived gate the library has not built yet."""
    resolve(name)
    return Operation(name, *fields)


# A classical condition: clauses (bits, value, equal), all of which must hold.
Clause = tuple[tuple[int, ...], int, bool]
Condition = tuple[Clause, ...]


class _MutableOperation:
    """Operation's construction twin: same slots, ordinary (fast) attribute stores."""

    __slots__ = ("name", "qubits", "angles", "span", "matrix", "cond", "bit")


_new_twin = object.__new__
_FIELDS = ("name", "qubits", "angles", "span", "matrix", "cond", "bit")
assert Operation.__slots__ == _MutableOperation.__slots__


def make_unitary_op(matrix: np.ndarray, qubits: Sequence[int]) -> Operation:
    """A constant fused block (``unitary``) on ``qubits`` in argument order."""
    m = tuple(tuple(complex(v) for v in row) for row in np.asarray(matrix))
    return Operation("unitary", tuple(qubits), (), None, m)


PAULIS = "IXYZ"


@dataclass(frozen=True)
class PauliTerm:
    """coeff * P_{q0} P_{q1} ...: ``paulis`` are (qubit, "X"|"Y"|"Z") pairs sorted by qubit."""

    coeff: float
    paulis: tuple[tuple[int, str], ...]

    def label(self, num_qubits: int) -> str:
        """Qiskit-style label (rightmost character is qubit 0)."""
        chars = ["I"] * num_qubits
        for q, p in self.paulis:
            chars[num_qubits - 1 - q] = p
        return "".join(chars)


@dataclass(frozen=True)
class Observable:
    """One output: a real Pauli sum, the expectation value of which is returned."""

    terms: tuple[PauliTerm, ...]
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)
    text: str = field(default="", compare=False)

    @property
    def qubits(self) -> frozenset[int]:
        return frozenset(q for t in self.terms for q, _ in t.paulis)

    def sparse_pauli_list(self, num_qubits: int) -> list[tuple[str, float]]:
        """[(label, coeff)] for ``qiskit.quantum_info.SparsePauliOp.from_list``."""
        return [(t.label(num_qubits), t.coeff) for t in self.terms]


def normalize_pauli_sum(terms: Sequence[tuple[float, dict[int, str]]]) -> tuple[PauliTerm, ...]:
    """Merge equal Pauli words, keep first-appearance order, drop zero coefficients."""
    acc: dict[tuple[tuple[int, str], ...], float] = {}
    for coeff, word in terms:
        key = tuple(sorted((q, p) for q, p in word.items() if p != "I"))
        acc[key] = acc.get(key, 0.0) + float(coeff)
    return tuple(PauliTerm(c, k) for k, c in acc.items() if c != 0.0)


@dataclass(frozen=True)
class Register:
    """A named qubit register occupying flat qubits [offset, offset + size)."""

    name: str
    size: int
    offset: int
    scalar: bool = False  # declared as ``qubit q;`` (no brackets)
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def qubit_name(self, i: int) -> str:
        return self.name if self.scalar else f"{self.name}[{i}]"


@dataclass(frozen=True)
class ValueDecl:
    """A param or input declaration occupying flat indices [offset, offset + size)."""

    kind: str  # "param" | "input"
    name: str
    size: int
    offset: int
    scalar: bool = False
    span: Span | None = field(default=None, compare=False, hash=False, repr=False)

    def element_name(self, i: int) -> str:
        return self.name if self.scalar else f"{self.name}[{i}]"

    def symbol(self, i: int) -> Sym:
        return Sym(self.kind, self.offset + i, self.element_name(i))


__all__ = [
    "Operation",
    "Clause",
    "Condition",
    "make_unitary_op",
    "PauliTerm",
    "Observable",
    "normalize_pauli_sum",
    "Register",
    "ValueDecl",
    "as_expr",
]
