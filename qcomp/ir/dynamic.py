"""Dynamic circuits: mid-circuit measurement, reset and classically conditioned gates, and their deferral.

In the IR a mid-circuit measurement is ``Operation("measure", (q,), bit=k)`` (qubit q's Z-basis
outcome written to flat bit k), a reset is ``Operation("reset", (q,))`` and a conditioned gate is
a library gate with ``cond`` set: clauses ``(bits, value, equal)``, all of which must hold, where
``bits`` are read as an integer with bit k = bits[k] (OpenQASM 3 / Qiskit register comparison).
A bit that no measurement wrote yet reads 0 (as in OpenQASM and Qiskit).

``defer_measurements`` turns such a program into a unitary one by the deferred-measurement
principle: each measurement copies its qubit into a fresh ancilla (``cx q, a``), the bit's value
is then that ancilla's Z value; a reset is a measurement into a fresh ancilla followed by
``cx a, q``; a condition becomes controls (ctrl for 1, negctrl for 0) on the ancillas of the bits
it reads. The ancillas are never touched again, so tracing them out gives the mixture over the
classical branches: expectation values and probabilities of the original qubits are exact, and
the gradients of the unitary circuit are the gradients of that mixture.
"""

from __future__ import annotations

from itertools import combinations
from typing import Iterable, Sequence

from ..errors import ResourceLimitError
from .circuit import Circuit
from .expr import to_text
from .gates import DYNAMIC_OPS, inverse as gate_inverse
from .modifiers import GPHASE, apply_modifiers
from .ops import Clause, Condition, Operation, Register

__all__ = ["is_dynamic_op", "is_dynamic", "clause_literals", "defer_measurements", "op_text", "clause_text",
           "ANCILLA_REGISTER"]

ANCILLA_REGISTER = "anc"


def is_dynamic_op(op: Operation) -> bool:
    """A mid-circuit measurement, a reset or a classically conditioned gate."""
    return bool(op.cond) or op.name in DYNAMIC_OPS


def is_dynamic(ops: Iterable[Operation]) -> bool:
    return any(op.cond or op.name in DYNAMIC_OPS for op in ops)


def clause_literals(clause: Clause) -> dict[int, int]:
    """The (bit -> required value) literals whose conjunction is ``bits == value``."""
    bits, value, _ = clause
    return {b: (value >> k) & 1 for k, b in enumerate(bits)}


# -- text form ---------------------------------------------------------------------------
def clause_text(clause: Clause, bit_names: Sequence[str], bit_regs: Sequence[Register]) -> str:
    """A clause in .q syntax: ``c == 3`` for a whole register, ``c[0] == 1`` for one bit, else a
    conjunction of bits (negated for ``!=``); parses back to the same clause."""
    bits, value, equal = clause
    for r in bit_regs:
        if tuple(range(r.offset, r.offset + r.size)) == tuple(bits):
            return f"{r.name} {'==' if equal else '!='} {value}"
    if len(bits) == 1:
        return f"{bit_names[bits[0]]} {'==' if equal else '!='} {value}"
    conj = " && ".join(f"{bit_names[b]} == {(value >> k) & 1}" for k, b in enumerate(bits))
    return conj if equal else f"!({conj})"


def op_text(op: Operation, qubit_names: Sequence[str], bit_names: Sequence[str],
            bit_regs: Sequence[Register] = ()) -> str:
    """One operation as a .q statement (Program.to_text)."""
    qs = ", ".join(qubit_names[q] for q in op.qubits)
    if op.name == "measure":
        text = f"{bit_names[op.bit]} = measure {qs};"  # type: ignore[index]
    else:
        args = "(" + ", ".join(to_text(a) for a in op.angles) + ")" if op.angles else ""
        text = f"{op.name}{args} {qs};"
    if op.cond:
        cond = " && ".join(clause_text(c, bit_names, bit_regs) for c in op.cond)
        text = f"if ({cond}) {{ {text} }}"
    return text


# -- deferral ----------------------------------------------------------------------------
def _resolve(cond: Condition, latest: dict[int, int]) -> tuple[dict[int, int], list[dict[int, int]]] | None:
    """(literals that must hold, literal sets whose conjunction must not hold) on bits that a
    measurement wrote (unwritten bits are the constant 0); None when the condition is never true."""
    must: dict[int, int] = {}
    must_not: list[dict[int, int]] = []
    for clause in cond:
        lits = clause_literals(clause)
        if clause[2]:
            for b, v in lits.items():
                if b not in latest:
                    if v:
                        return None
                    continue
                if must.get(b, v) != v:
                    return None
                must[b] = v
        else:
            if any(v and b not in latest for b, v in lits.items()):
                continue  # the conjunction is false, so its negation always holds
            live = {b: v for b, v in lits.items() if b in latest}
            if not live:
                return None  # bits == value always: the '!=' never holds
            must_not.append(live)
    return must, must_not


def _controlled(op: Operation, controls: list[tuple[int, int]], inverse: bool) -> list[Operation]:
    """``op`` (or its inverse) controlled on (ancilla, value) pairs, as library gates. A control on
    0 is an x on its ancilla before and after a control on 1 (the ancillas hold classical values),
    so a gate needs one derived gate per number of controls rather than one per pattern (each
    derived gate is built and checked once, at a cost that grows with its width)."""
    k = len(op.qubits)
    seq = [(g, a, tuple(range(k))) for g, a in gate_inverse(op.name, op.angles)] if inverse else \
        [(op.name, op.angles, tuple(range(k)))]
    seq, _ = apply_modifiers([("ctrl", len(controls))], seq, k)
    wires = [a for a, _ in controls] + list(op.qubits)
    flips = [Operation("x", (a,), (), op.span) for a, v in controls if not v]
    body = [Operation(g, tuple(wires[q] for q in qs), a, op.span) for g, a, qs in seq if g != GPHASE]
    return flips + body + flips


def _terms(cond: Condition, latest: dict[int, int]) -> list[tuple[dict[int, int], bool]]:
    """The condition as signed terms: 1[E and not N1 and ... not Nk] = sum over subsets S of
    (-1)^|S| 1[E and N_S]; each term is (ancilla -> required value, inverse) with ``inverse`` for
    odd |S|. Applying the gate (its inverse for odd terms) controlled on each term's literals gives
    the conditioned gate: the terms are powers of one gate controlled in the computational basis
    of ancillas nothing else acts on, so they commute and their exponents add up to the indicator."""
    resolved = _resolve(cond, latest)
    if resolved is None:
        return []
    must, must_not = resolved
    out = []
    for size in range(len(must_not) + 1):
        for subset in combinations(must_not, size):
            lits = dict(must)
            ok = True
            for s in subset:
                for b, v in s.items():
                    if lits.get(b, v) != v:
                        ok = False
                    lits[b] = v
            if ok:
                out.append(({latest[b]: v for b, v in sorted(lits.items())}, size % 2 == 1))
    return out


def _conditioned(op: Operation, latest: dict[int, int]) -> list[Operation]:
    assert op.matrix is None, "fused blocks are never conditioned"
    plain = op.with_cond(None)
    out: list[Operation] = []
    for controls, inverse in _terms(op.cond, latest):  # type: ignore[arg-type]
        if controls:
            out += _controlled(plain, list(controls.items()), inverse)
        elif not inverse:
            out.append(plain)
        else:
            out += [Operation(g, plain.qubits, a, op.span) for g, a in gate_inverse(plain.name, plain.angles)]
    return out


def _conditioned_copy(src: int, dst: int, cond: Condition, latest: dict[int, int], span) -> list[Operation]:
    """``dst ^= src`` where ``cond`` holds; ``src`` may be an ancilla the condition reads (then,
    in a term that requires it to be 1, the copy is an x on ``dst``; requiring 0, nothing)."""
    out: list[Operation] = []
    for controls, _ in _terms(cond, latest):  # cx is its own inverse
        if src in controls:
            if controls[src]:
                out += _controlled(Operation("x", (dst,), (), span), list(controls.items()), False)
            continue
        cx = Operation("cx", (src, dst), (), span)
        out += _controlled(cx, list(controls.items()), False) if controls else [cx]
    return out


def count_ancillas(ops: Iterable[Operation]) -> int:
    """The ancilla qubits deferral adds: one per mid-circuit measurement and per reset, except a
    measurement of a qubit nothing touched since its last measurement (it reuses that ancilla)."""
    m = 0
    copied: set[int] = set()
    for op in ops:
        if op.name == "measure" and not op.cond:
            if op.qubits[0] not in copied:
                m += 1
                copied.add(op.qubits[0])
            continue
        copied.difference_update(op.qubits)
        m += op.name in DYNAMIC_OPS
    return m


def defer_measurements(program, max_qubits: int | None = None):
    """The unitary program equivalent to dynamic ``program`` on its qubits (module docstring);
    ``program`` itself when it has no dynamic operations. The ancillas are appended after the
    qubits (``Program.ancillas``) in a register named ``anc`` (``anc_``... if taken).

    ``max_qubits``: refuse (ResourceLimitError at the first measurement or reset) when the
    enlarged circuit would have more qubits, before any work."""
    ops = program.circuit.ops()
    if not is_dynamic(ops):
        return program
    n = program.num_qubits
    m = count_ancillas(ops)
    if max_qubits is not None and n + m > max_qubits:
        first = next(op for op in ops if op.name in DYNAMIC_OPS)
        raise ResourceLimitError(
            f"simulating this dynamic circuit defers its {m} mid-circuit measurement(s)/reset(s) to one "
            f"ancilla qubit each: {n} + {m} = {n + m} qubits, over the limit of {max_qubits} "
            "(raise it with max_qubits= / --max-qubits)", first.span)
    latest: dict[int, int] = {}
    out: list[Operation] = []
    a = n
    # copied[q]: the ancilla holding qubit q's Z value from its last measurement, while nothing has
    # acted on q since: measuring q again gives that same value, so the bit aliases the ancilla
    copied: dict[int, int] = {}
    for op in ops:
        if op.name == "measure" and not op.cond and op.qubits[0] in copied:
            latest[op.bit] = copied[op.qubits[0]]  # type: ignore[index]
            continue
        if op.name != "measure" or op.cond:
            for q in op.qubits:
                copied.pop(q, None)
        if op.name == "measure" and op.cond:
            # the bit becomes the qubit's value where the condition holds and keeps its old value
            # elsewhere: copy the old ancilla, undo the copy where the condition holds, copy the qubit
            old = latest.get(op.bit)  # type: ignore[arg-type]
            if old is not None:
                out.append(Operation("cx", (old, a), (), op.span))
                out.extend(_conditioned_copy(old, a, op.cond, latest, op.span))
            out.extend(_conditioned_copy(op.qubits[0], a, op.cond, latest, op.span))
            latest[op.bit] = a  # type: ignore[index]
            a += 1
        elif op.name == "measure":
            out.append(Operation("cx", (op.qubits[0], a), (), op.span))
            latest[op.bit] = a  # type: ignore[index]
            copied[op.qubits[0]] = a
            a += 1
        elif op.name == "reset":
            q = op.qubits[0]
            for pair in ((q, a), (a, q)):
                cx = Operation("cx", pair, (), op.span, None, op.cond)
                out.extend(_conditioned(cx, latest) if op.cond else [cx])
            a += 1
        elif op.cond:
            out.extend(_conditioned(op, latest))
        else:
            out.append(op)
    taken = {r.name for r in program.registers} | {r.name for r in program.bits} | \
        {d.name for d in program.params + program.inputs}
    name = ANCILLA_REGISTER
    while name in taken:
        name += "_"
    # the ancillas' original numbering starts after every register (dead-qubit removal may have
    # renumbered the current qubits)
    base = max([r.offset + r.size for r in program.registers] + [n])
    registers = program.registers + ((Register(name, m, base),) if m else ())
    qubit_map = None if program.qubit_map is None and base == n else \
        (program.qubit_map or tuple(range(n))) + tuple(range(base, base + m))
    return program.with_circuit(Circuit.from_ops(n + m, out), registers=registers,
                                ancillas=program.ancillas + m, qubit_map=qubit_map)
