"""light-cone: drop gates that cannot affect any expectation value or measured probability."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qcomp.ir.expr import Sym
from qcomp.ir.channels import READOUT_ERROR, is_channel
from qcomp.ir.dynamic import is_dynamic
from qcomp.ir.gates import FENCES, GATES
from qcomp.ir.ops import Operation
from qcomp.ir.circuit import Circuit
from qcomp.ir.program import Program

from .base import Pass
from .commutation import GENERIC_ANGLES, PAULI_MATRICES

log = logging.getLogger(__name__)

_BIT = {"X": 1, "Y": 2, "Z": 4}


def used_symbols(program: Program) -> frozenset[Sym]:
    out: set[Sym] = set()
    for op in program.circuit.ops():
        for a in op.angles:
            out |= a.symbols()
    return frozenset(out)


def unused_params(program: Program) -> list[str]:
    """Names of declared params no gate depends on (their gradient is identically zero)."""
    used = {s.index for s in used_symbols(program) if s.kind == "param"}
    return [s.name for s in program.param_symbols() if s.index not in used]


@lru_cache(maxsize=4096)
def _word_matrix(word: tuple[int, ...]) -> np.ndarray:
    m = np.eye(1, dtype=complex)
    for b in word:
        m = np.kron(m, PAULI_MATRICES[b] if b else np.eye(2))
    return m


@lru_cache(maxsize=None)
def _generic_matrix(name: str) -> tuple[np.ndarray, ...]:
    g = GATES[name]
    return tuple(
        np.asarray(g.matrix(*[a + s for a in GENERIC_ANGLES[: g.num_angles]])) for s in (0.0, 0.9)
    )


def _op_matrices(op: Operation) -> tuple[np.ndarray, ...]:
    """Matrices that stand for ``op`` whatever its parameters: constant ones as they are,
    symbolic ones at two generic angle points (commuting there means the generator commutes)."""
    if op.matrix is not None:
        return (np.array(op.matrix, dtype=complex),)
    if all(a.is_constant for a in op.angles):
        return (np.asarray(GATES[op.name].matrix(*[a.value() for a in op.angles])),)
    return _generic_matrix(op.name)


def commutes_with_words(op: Operation, words: set[tuple[int, ...]]) -> bool:
    """``op`` commutes with every Pauli word (one code per gate argument, 0 = identity)."""
    mats = _op_matrices(op)
    for w in words:
        p = _word_matrix(w)
        for m in mats:
            if not np.allclose(m @ p, p @ m, rtol=0, atol=1e-10):  # rtol would pass rz(1e-5)
                return False
    return True


@dataclass(frozen=True)
class LightCone(Pass):
    """Keep only gates in the backward light cone of the observed qubits, dropping trailing gates that commute with the observables."""

    name = "light-cone"
    preserves = "outputs"
    fence_aware = True

    def run(self, program: Program) -> Program:
        if not program.observables and not program.measured or is_dynamic(program.circuit.ops()):
            # no outputs declared: the whole state is the result, keep everything. A dynamic
            # circuit too: a gate outside the cone may feed a measured bit that a condition reads
            # (the simulator's pipeline defers measurements first, so the cone applies there)
            return program.with_circuit(program.circuit.copy())
        n = program.num_qubits
        # what each qubit is observed with at the end: Pauli words by term, Z for measurement
        term_paulis: list[dict[int, int]] = []
        for o in program.observables:
            for t in o.terms:
                if t.paulis:
                    term_paulis.append({q: _BIT[p] for q, p in t.paulis})
        measured = set(program.measured)
        live = [False] * n
        for t in term_paulis:
            for q in t:
                live[q] = True
        for q in measured:
            live[q] = True
        pristine = [True] * n  # no kept gate after this point on the wire
        open_wires = n  # wires still pristine or not live: while > 0 gates may be dropped
        ops = program.circuit.ops()
        keep = [False] * len(ops)
        commutes = self._commutes_at_end
        for i in range(len(ops) - 1, -1, -1):
            if open_wires == 0:
                # every wire is live and has a kept gate after this point: the rest all stay
                for k in range(i + 1):
                    keep[k] = True
                break
            op = ops[i]
            qs = op.qubits
            if op.name in FENCES:
                if not is_channel(op.name) or op.name == READOUT_ERROR:
                    # a barrier, or readout error (classical, on measured bits): kept, no wider cone
                    keep[i] = True
                    continue
                # a noise channel: trace preserving, so one on qubits no output depends on is
                # dropped; otherwise it is kept, pulls all its qubits into the cone (a two-qubit
                # channel correlates them) and ends their pristine tails (the gates before it no
                # longer face the bare observable, so commuting with it says nothing)
                if not any(live[q] for q in qs):
                    continue
                keep[i] = True
                for q in qs:
                    if pristine[q] or not live[q]:
                        live[q] = True
                        pristine[q] = False
                        open_wires -= 1
                continue
            for q in qs:
                if live[q]:
                    break
            else:
                continue
            if all(pristine[q] for q in qs) and commutes(op, term_paulis, measured):
                continue
            keep[i] = True
            for q in qs:
                if pristine[q] or not live[q]:
                    live[q] = True
                    pristine[q] = False
                    open_wires -= 1
        out = [op for op, k in zip(ops, keep) if k]
        result = program.with_circuit(Circuit.from_ops(n, out, checked=True))
        if log.isEnabledFor(logging.INFO) and program.num_params:
            dropped = sorted(set(unused_params(result)) - set(unused_params(program)))
            if dropped:
                log.info("light-cone: params no longer affecting any output: %s", ", ".join(dropped))
        return result

    @staticmethod
    def _commutes_at_end(op: Operation, terms: list[dict[int, int]], measured: set[int]) -> bool:
        qs = op.qubits
        words: set[tuple[int, ...]] = set()
        for t in terms:
            w = tuple(t.get(q, 0) for q in qs)
            if any(w):
                words.add(w)
        for k, q in enumerate(qs):
            if q in measured:
                words.add(tuple(4 if j == k else 0 for j in range(len(qs))))
        if not words:
            return True  # only unobserved wires (cannot happen for a live gate) or identity terms
        if op.name != "unitary" and GATES[op.name].diagonal and all(set(w) <= {0, 4} for w in words):
            return True
        return commutes_with_words(op, words)
