"""The equivalence table: each gate as cx and one-qubit library gates, written once (after Qiskit's EquivalenceLibrary)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Sequence

import numpy as np

from .expr import Const, Expr, Sym, mul, neg
from .gates import GATES, QELIB1, STDGATES, GateTableError, notify_changed

# Basis translation expands a gate through its entry (recursively, until only cx and one-qubit gates
# are left) and the OpenQASM emitter writes the entry as the ``gate`` definition of every gate its
# standard include lacks. Global phase is exact and stated per entry: gate = exp(i phase) * body as
# matrices. Every built-in entry has phase 0 (``check`` verifies it), so the definitions written to
# OpenQASM files are exact, not merely equal up to a phase.

# One gate of a body: (library gate, angles, qubit positions of the defined gate: 0, 1, ...).
BodyGate = tuple[str, tuple[Expr, ...], tuple[int, ...]]
Body = Callable[[Sequence[Expr]], list[BodyGate]]

ANGLE_NAMES = ("theta", "phi", "lambda")  # the angle arguments of written definitions, in order
QUBIT_NAMES = ("a", "b", "c", "d")
# The angle arguments as expressions (their own kind, never equal to a param or an input).
ARGS = tuple(Sym("gate-arg", k, n) for k, n in enumerate(ANGLE_NAMES))


@dataclass(frozen=True)
class Equivalence:
    """``gate`` equals ``exp(i phase)`` times the gates of ``body(angles)`` applied in order.

    A body may use cx, one-qubit library gates and gates whose own entries come earlier in the
    table; an OpenQASM definition may only call gates of both standard includes or gates defined
    before it, so bodies meant for OpenQASM use only those."""

    gate: str
    body: Body
    phase: float = 0.0

    def expand(self, angles: Sequence[Expr]) -> list[BodyGate]:
        return self.body(tuple(angles))

    def definition(self) -> tuple[tuple[str, ...], tuple[str, ...], list[BodyGate]]:
        """(angle argument names, qubit argument names, body over the argument symbols)."""
        g = GATES[self.gate]
        return ANGLE_NAMES[: g.num_angles], QUBIT_NAMES[: g.num_qubits], self.expand(ARGS[: g.num_angles])


def _half(t: Expr) -> Expr:
    return mul(Const(0.5), t)


_PI2 = math.pi / 2
_PI4 = math.pi / 4


def _ccx(a: Sequence[Expr]) -> list[BodyGate]:
    return [
        ("h", (), (2,)), ("cx", (), (1, 2)), ("tdg", (), (2,)), ("cx", (), (0, 2)), ("t", (), (2,)),
        ("cx", (), (1, 2)), ("tdg", (), (2,)), ("cx", (), (0, 2)), ("t", (), (1,)), ("t", (), (2,)),
        ("h", (), (2,)), ("cx", (), (0, 1)), ("t", (), (0,)), ("tdg", (), (1,)), ("cx", (), (0, 1)),
    ]


def _words(text: str) -> Body:
    """A constant body written as ``name:q:q`` or ``name(angle/pi):q`` words (qelib1.inc's definitions)."""
    gates: list[BodyGate] = []
    for word in text.split():
        head, *qs = word.split(":")
        if "(" in head:
            name, frac = head[:-1].split("(")
            angles: tuple[Expr, ...] = (Const(float(Fraction(frac)) * math.pi),)
        else:
            name, angles = head, ()
        gates.append((name, angles, tuple(int(q) for q in qs)))
    return lambda a: list(gates)


_C3X = ("h:3 p(1/8):0 p(1/8):1 p(1/8):2 p(1/8):3 cx:0:1 p(-1/8):1 cx:0:1 cx:1:2 p(-1/8):2 cx:0:2 p(1/8):2 cx:1:2"
        " p(-1/8):2 cx:0:2 cx:2:3 p(-1/8):3 cx:1:3 p(1/8):3 cx:2:3 p(-1/8):3 cx:0:3 p(1/8):3 cx:2:3 p(-1/8):3 cx:1:3"
        " p(1/8):3 cx:2:3 p(-1/8):3 cx:0:3 h:3")
_C3SQRTX = ("h:3 cp(1/8):0:3 h:3 cx:0:1 h:3 cp(-1/8):1:3 h:3 cx:0:1 h:3 cp(1/8):1:3 h:3 cx:1:2 h:3 cp(-1/8):2:3 h:3"
            " cx:0:2 h:3 cp(1/8):2:3 h:3 cx:1:2 h:3 cp(-1/8):2:3 h:3 cx:0:2 h:3 cp(1/8):2:3 h:3")


# Table order is the order of the definitions in an OpenQASM file.
_LIBRARY: tuple[Equivalence, ...] = (
    Equivalence("sx", lambda a: [("h", (), (0,)), ("s", (), (0,)), ("h", (), (0,))]),
    Equivalence("sxdg", lambda a: [("h", (), (0,)), ("sdg", (), (0,)), ("h", (), (0,))]),
    Equivalence("cz", lambda a: [("h", (), (1,)), ("cx", (), (0, 1)), ("h", (), (1,))]),
    Equivalence("cy", lambda a: [("sdg", (), (1,)), ("cx", (), (0, 1)), ("s", (), (1,))]),
    # ry(pi/4) z ry(-pi/4) = h on the target
    Equivalence("ch", lambda a: [("ry", (Const(-_PI4),), (1,)), ("h", (), (1,)), ("cx", (), (0, 1)), ("h", (), (1,)),
                                 ("ry", (Const(_PI4),), (1,))]),
    Equivalence("swap", lambda a: [("cx", (), (0, 1)), ("cx", (), (1, 0)), ("cx", (), (0, 1))]),
    Equivalence("crz", lambda a: [("rz", (_half(a[0]),), (1,)), ("cx", (), (0, 1)), ("rz", (neg(_half(a[0])),), (1,)),
                                  ("cx", (), (0, 1))]),
    Equivalence("crx", lambda a: [("h", (), (1,)), ("crz", (a[0],), (0, 1)), ("h", (), (1,))]),
    Equivalence("cry", lambda a: [("ry", (_half(a[0]),), (1,)), ("cx", (), (0, 1)), ("ry", (neg(_half(a[0])),), (1,)),
                                  ("cx", (), (0, 1))]),
    Equivalence("cp", lambda a: [("p", (_half(a[0]),), (0,)), ("cx", (), (0, 1)), ("p", (neg(_half(a[0])),), (1,)),
                                 ("cx", (), (0, 1)), ("p", (_half(a[0]),), (1,))]),
    Equivalence("ccx", _ccx),
    Equivalence("cswap", lambda a: [("cx", (), (2, 1)), ("ccx", (), (0, 1, 2)), ("cx", (), (2, 1))]),
    Equivalence("iswap", lambda a: [("s", (), (0,)), ("s", (), (1,)), ("h", (), (0,)), ("cx", (), (0, 1)),
                                    ("cx", (), (1, 0)), ("h", (), (1,))]),
    Equivalence("rxx", lambda a: [("h", (), (0,)), ("h", (), (1,)), ("cx", (), (0, 1)), ("rz", (a[0],), (1,)),
                                  ("cx", (), (0, 1)), ("h", (), (0,)), ("h", (), (1,))]),
    Equivalence("ryy", lambda a: [("rx", (Const(_PI2),), (0,)), ("rx", (Const(_PI2),), (1,)), ("cx", (), (0, 1)),
                                  ("rz", (a[0],), (1,)), ("cx", (), (0, 1)), ("rx", (Const(-_PI2),), (0,)),
                                  ("rx", (Const(-_PI2),), (1,))]),
    Equivalence("rzz", lambda a: [("cx", (), (0, 1)), ("rz", (a[0],), (1,)), ("cx", (), (0, 1))]),
    # the rest of qelib1.inc, with Qiskit's definitions (u2(0,pi) = h, u1 = p)
    Equivalence("csx", _words("h:1 cp(1/2):0:1 h:1")),
    Equivalence("rccx", _words("h:2 t:2 cx:1:2 tdg:2 cx:0:2 t:2 cx:1:2 tdg:2 h:2")),
    Equivalence("rc3x", _words("h:3 t:3 cx:2:3 tdg:3 h:3 cx:0:3 t:3 cx:1:3 tdg:3 cx:0:3 t:3 cx:1:3 tdg:3 h:3 t:3"
                               " cx:2:3 tdg:3 h:3")),
    Equivalence("c3x", _words(_C3X)),
    Equivalence("c3sqrtx", _words(_C3SQRTX)),
    Equivalence("c4x", _words("h:4 cp(1/2):3:4 h:4 c3x:0:1:2:3 h:4 cp(-1/2):3:4 h:4 c3x:0:1:2:3 c3sqrtx:0:1:2:4")),
)

EQUIVALENCES: dict[str, Equivalence] = {e.gate: e for e in _LIBRARY}
def body_matrix(eq: Equivalence, angles: Sequence[float], vectors: np.ndarray | None = None) -> np.ndarray:
    """The matrix of ``eq``'s body at numeric ``angles``, argument order (like GateDef.matrix); with
    ``vectors`` (2**k, r), that matrix times them."""
    from .unitary import gates_unitary

    g = GATES[eq.gate]
    body = eq.expand(tuple(Const(float(v)) for v in angles))
    return gates_unitary([(n, tuple(a.value() for a in ang), qs) for n, ang, qs in body], g.num_qubits, vectors)


# Above this many qubits a body is checked on random vectors, not as a whole matrix: the body of a
# many-controlled gate has hundreds of gates, each a 4**k product as a matrix (ctrl(9) @ x took
# 95 s to declare); a wrong body agrees with the gate on 4 random complex vectors with probability 0.
_MATRIX_CHECK_QUBITS = 5


def check(eq: Equivalence, trials: int = 2) -> None:
    """Raise GateTableError unless ``eq.body`` equals ``exp(i phase)`` times the gate's matrix."""
    g = GATES.get(eq.gate)
    if g is None:
        raise GateTableError(f"equivalence for unknown gate {eq.gate!r}")
    rng = np.random.default_rng(7)
    for _ in range(trials):
        angles = rng.uniform(-3, 3, g.num_angles)
        try:
            body = eq.expand(tuple(Const(float(v)) for v in angles))
        except (IndexError, TypeError) as e:
            raise GateTableError(f"equivalence for {eq.gate}: its body fails on {g.num_angles} angles ({e})") from None
        for name, ang, qs in body:
            sub = GATES.get(name)
            if sub is None or sub.num_angles != len(ang) or sub.num_qubits != len(qs) or \
                    not all(0 <= q < g.num_qubits for q in qs) or len(set(qs)) != len(qs):
                raise GateTableError(f"equivalence for {eq.gate}: bad body gate {name} {ang} on {qs}")
            if sub.num_qubits > 1 and name != "cx" and name not in EQUIVALENCES:
                raise GateTableError(f"equivalence for {eq.gate}: {name} has no equivalence of its own")
        want = np.exp(1j * eq.phase) * np.asarray(g.matrix(*angles))
        if g.num_qubits > _MATRIX_CHECK_QUBITS:
            v = rng.normal(size=(want.shape[0], 4)) + 1j * rng.normal(size=(want.shape[0], 4))
            got, want = body_matrix(eq, angles, v), want @ v
        else:
            got = body_matrix(eq, angles)
        if not np.allclose(got, want, atol=1e-9):
            raise GateTableError(f"equivalence for {eq.gate}: body differs from exp(i phase) * {eq.gate}")


def register_equivalence(eq: Equivalence, verify: bool = True) -> None:
    """Add the decomposition of a gate already in the library (checked numerically, phase included,
    unless ``verify`` is false: see qcomp.ir.modifiers.derived_gate)."""
    if eq.gate in EQUIVALENCES:
        raise GateTableError(f"gate {eq.gate!r} already has an equivalence")
    if verify:
        check(eq)
    EQUIVALENCES[eq.gate] = eq
    notify_changed()


def remove_equivalence(gate: str) -> None:
    """Take gate ``gate``'s entry out of the table again."""
    if EQUIVALENCES.pop(gate, None) is None:
        raise GateTableError(f"no equivalence for gate {gate!r}")
    notify_changed()


def needs_definition(name: str, version: int) -> bool:
    """True when an OpenQASM ``version`` file must define library gate ``name`` (its include lacks it)."""
    g = GATES[name]
    if version == 3:
        return g.qasm_name is None and name not in STDGATES
    return g.qasm2_name is None and name not in QELIB1


def definitions_for(names: set[str] | frozenset[str], version: int) -> list[str]:
    """The gates to define for a file using ``names``: those plus any defined gate their bodies
    call, in table order (a definition only calls gates defined before it)."""
    todo = [n for n in names if needs_definition(n, version)]
    need: set[str] = set()
    while todo:
        n = todo.pop()
        if n in need:
            continue
        eq = EQUIVALENCES.get(n)
        if eq is None:
            raise GateTableError(f"gate {n} is in no OpenQASM {version} include and has no equivalence to define it")
        need.add(n)
        todo.extend(b for b, _, _ in eq.definition()[2] if needs_definition(b, version))
    order = list(EQUIVALENCES)
    return sorted(need, key=order.index)
