"""group-measurements: Pauli terms in qubit-wise commuting groups, each measured once after basis rotations.

A Pauli sum cannot be measured in one basis unless its words commute qubit-wise (on every qubit the
words act with the same Pauli or the identity). Words that do share a basis: rotate each qubit of
the group (h for X, sdg then h for Y, nothing for Z), measure the group's qubits in the
computational basis, and every word's eigenvalue on an outcome is the parity of its qubits' bits,
(-1)**parity. The partition is a colouring of the conflict graph (an edge where two words differ
on a shared qubit), as in PennyLane's ``group_observables(grouping_type="qwc")`` and Qiskit's
``SparsePauliOp.group_commuting(qubit_wise=True)``: several greedy colourings (largest degree
first, as Qiskit's, DSATUR, and first appearance) are tried and the one with fewest groups kept,
so a program never costs more measured circuits than Qiskit's grouping of the same terms.

:func:`group_paulis` partitions words; :func:`measurement_groups` does it for a program's
observables. The pass ``group-measurements`` returns the basis-slot program (as param-shift
returns its shift-slot program): every observed qubit gets a trailing ``u`` whose angles are a
new param ``qcomp_basis[3 m]``, so group g is that program at ``MeasurementGrouping.basis_values()[g]``
with the observed qubits measured. Simulators and hardware exports use the groups directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from qcomp.errors import PassError
from qcomp.ir.circuit import Circuit
from qcomp.ir.ops import Observable, Operation, ValueDecl
from qcomp.ir.program import Program

from .base import Pass

Word = tuple[tuple[int, str], ...]  # a Pauli word: ((qubit, "X"|"Y"|"Z"), ...) sorted by qubit

_CODE = {"X": 1, "Y": 2, "Z": 3}
# u(theta, phi, lambda) angles of each basis rotation: X: h = u(pi/2, 0, pi); Y: h sdg = u(pi/2, 0, pi/2)
_U_ANGLES = {"X": (math.pi / 2, 0.0, math.pi), "Y": (math.pi / 2, 0.0, math.pi / 2), "Z": (0.0, 0.0, 0.0)}


@dataclass(frozen=True)
class MeasurementGroup:
    """Words measured together: ``qubits`` in outcome-bit order (bit j of an outcome is qubits[j]),
    ``basis[j]`` the Pauli measured on qubits[j], ``words`` the group's Pauli words."""

    qubits: tuple[int, ...]
    basis: tuple[str, ...]
    words: tuple[Word, ...]

    def rotation_ops(self) -> list[Operation]:
        """The basis-rotation suffix: h for X, sdg then h for Y (Z needs none)."""
        ops: list[Operation] = []
        for q, b in zip(self.qubits, self.basis):
            if b == "X":
                ops.append(Operation("h", (q,)))
            elif b == "Y":
                ops.extend((Operation("sdg", (q,)), Operation("h", (q,))))
        return ops

    def word_masks(self) -> np.ndarray:
        """Per word the bit mask over outcome bits of the qubits it acts on, shape (n_words,)."""
        pos = {q: j for j, q in enumerate(self.qubits)}
        return np.array([sum(1 << pos[q] for q, _ in w) for w in self.words], dtype=np.int64)

    def signs(self) -> np.ndarray:
        """Eigenvalue (+1 / -1) of every word on every outcome: shape (n_words, 2**len(qubits));
        the sign is (-1)**(parity of the outcome's bits on the word's qubits)."""
        outcomes = np.arange(2 ** len(self.qubits), dtype=np.int64)
        masks = self.word_masks()
        parity = np.zeros((len(masks), outcomes.size), dtype=np.int64)
        for j in range(len(self.qubits)):
            bit = (outcomes >> j) & 1
            parity ^= ((masks[:, None] >> j) & 1) * bit[None, :]
        return 1.0 - 2.0 * parity

    def label(self, num_qubits: int) -> str:
        """The group's measurement basis as a Qiskit-style label (rightmost character is qubit 0)."""
        chars = ["I"] * num_qubits
        for q, b in zip(self.qubits, self.basis):
            chars[num_qubits - 1 - q] = b
        return "".join(chars)


@dataclass(frozen=True)
class MeasurementGrouping:
    """The groups of a program's observables: ``groups``; ``terms[k]`` lists for observable k its
    terms as (group index, word index in the group, coefficient); ``constants[k]`` its identity part."""

    num_qubits: int
    groups: tuple[MeasurementGroup, ...]
    terms: tuple[tuple[tuple[int, int, float], ...], ...]
    constants: tuple[float, ...]

    @property
    def num_groups(self) -> int:
        return len(self.groups)

    def observed_qubits(self) -> tuple[int, ...]:
        return tuple(sorted({q for g in self.groups for q in g.qubits}))

    def basis_values(self) -> np.ndarray:
        """u angles (num_groups, 3 * m) of the basis-slot program, m = len(observed_qubits())
        (identity on qubits a group does not measure)."""
        observed = self.observed_qubits()
        out = np.zeros((len(self.groups), 3 * len(observed)))
        for g, grp in enumerate(self.groups):
            basis = dict(zip(grp.qubits, grp.basis))
            for j, q in enumerate(observed):
                out[g, 3 * j : 3 * j + 3] = _U_ANGLES[basis.get(q, "Z")]
        return out

    def members(self, observables: Sequence[Observable]) -> list[list[list[int]]]:
        """Per group the [observable index, term index] pairs it measures (terms of ``observables``,
        the ones grouped; identity terms are in no group)."""
        out: list[list[list[int]]] = [[] for _ in self.groups]
        for k, o in enumerate(observables):
            ts = [i for i, t in enumerate(o.terms) if t.paulis]
            for i, (g, _, _) in zip(ts, self.terms[k]):
                out[g].append([k, i])
        return out

    def to_json(self, observables: Sequence[Observable]) -> list[dict]:
        """The groups as JSON-ready dicts (what OpenQASM manifests record): ``qubits`` (outcome bit j
        is qubits[j]), ``basis``, a Qiskit-style ``label`` and the [output, term] pairs measured."""
        return [{"qubits": list(g.qubits), "basis": list(g.basis), "label": g.label(self.num_qubits), "terms": m}
                for g, m in zip(self.groups, self.members(observables))]

    def coefficient_matrix(self, g: int) -> np.ndarray:
        """(n_observables, n_words of group g): observable k's coefficient of each word of group g."""
        m = np.zeros((len(self.terms), len(self.groups[g].words)))
        for k, ts in enumerate(self.terms):
            for gg, w, c in ts:
                if gg == g:
                    m[k, w] += c
        return m


def _conflicts(codes: np.ndarray) -> np.ndarray:
    """(T, T) bool: words i and j differ on a qubit both act on (they do not commute qubit-wise)."""
    T = codes.shape[0]
    out = np.zeros((T, T), dtype=bool)
    step = max(1, (1 << 24) // max(1, T * codes.shape[1]))  # bounded temporaries for many terms
    for s in range(0, T, step):
        a = codes[s : s + step, None, :]
        b = codes[None, :, :]
        out[s : s + step] = np.any((a != 0) & (b != 0) & (a != b), axis=2)
    return out


def _greedy(adj: list[set[int]], order: Iterable[int]) -> list[int]:
    colour = [-1] * len(adj)
    for v in order:
        used = {colour[u] for u in adj[v] if colour[u] >= 0}
        c = 0
        while c in used:
            c += 1
        colour[v] = c
    return colour


def _dsatur(adj: list[set[int]]) -> list[int]:
    """DSATUR: colour next the vertex seeing the most distinct colours (ties: most neighbours)."""
    T = len(adj)
    colour = [-1] * T
    seen: list[set[int]] = [set() for _ in range(T)]
    left = set(range(T))
    while left:
        v = max(left, key=lambda u: (len(seen[u]), len(adj[u]), -u))
        c = 0
        while c in seen[v]:
            c += 1
        colour[v] = c
        left.discard(v)
        for u in adj[v]:
            seen[u].add(c)
    return colour


def group_paulis(words: Sequence[Word], num_qubits: int | None = None) -> list[list[int]]:
    """Partition ``words`` (distinct, non-identity) into qubit-wise commuting groups: lists of
    indices into ``words``, each sorted, groups ordered by their first word. The fewest groups of
    three greedy colourings (largest degree first, DSATUR, first appearance)."""
    T = len(words)
    if T == 0:
        return []
    n = num_qubits if num_qubits is not None else 1 + max((q for w in words for q, _ in w), default=0)
    codes = np.zeros((T, n), dtype=np.int8)
    for i, w in enumerate(words):
        for q, p in w:
            codes[i, q] = _CODE[p]
    conf = _conflicts(codes)
    adj = [set(map(int, np.flatnonzero(conf[i]))) for i in range(T)]
    degree = conf.sum(axis=1)
    candidates = [
        _greedy(adj, sorted(range(T), key=lambda v: (-degree[v], v))),  # largest first (Qiskit's)
        _dsatur(adj),
        _greedy(adj, range(T)),
    ]
    best = min(candidates, key=lambda c: max(c) + 1)
    groups: dict[int, list[int]] = {}
    for v, c in enumerate(best):
        groups.setdefault(c, []).append(v)
    return sorted(groups.values(), key=lambda g: g[0])


def _make_group(words: Sequence[Word]) -> MeasurementGroup:
    basis: dict[int, str] = {}
    for w in words:
        for q, p in w:
            if basis.setdefault(q, p) != p:  # a bug in the colouring, never a user error
                raise AssertionError(f"words {words} do not commute qubit-wise")
    qubits = tuple(sorted(basis))
    return MeasurementGroup(qubits, tuple(basis[q] for q in qubits), tuple(words))


def group_observables(observables: Sequence[Observable], num_qubits: int) -> MeasurementGrouping:
    """The grouping of the Pauli words of ``observables`` (a word shared by several observables is
    measured once)."""
    words: list[Word] = []
    index: dict[Word, int] = {}
    constants = []
    for o in observables:
        c0 = 0.0
        for t in o.terms:
            w = tuple(sorted(t.paulis))
            if not w:
                c0 += t.coeff
                continue
            if w not in index:
                index[w] = len(words)
                words.append(w)
        constants.append(c0)
    parts = group_paulis(words, num_qubits)
    where: dict[int, tuple[int, int]] = {}
    groups = []
    for g, members in enumerate(parts):
        for j, i in enumerate(members):
            where[i] = (g, j)
        groups.append(_make_group([words[i] for i in members]))
    terms = tuple(
        tuple((*where[index[tuple(sorted(t.paulis))]], float(t.coeff)) for t in o.terms if t.paulis)
        for o in observables
    )
    return MeasurementGrouping(num_qubits, tuple(groups), terms, tuple(constants))


def measurement_groups(program: Program) -> MeasurementGrouping:
    """The qubit-wise commuting groups of ``program``'s observables."""
    return group_observables(program.observables, program.num_qubits)


@dataclass(frozen=True)
class GroupMeasurements(Pass):
    """Group the observables' Pauli terms qubit-wise; return the basis-slot program (u rotations set by a trailing param)."""

    name = "group-measurements"
    preserves = "nothing"
    fence_aware = True  # only appends the basis rotations after every gate; fences keep their places

    def run(self, program: Program) -> Program:
        if not program.observables:
            raise PassError("group-measurements needs 'expect' outputs: the program has none to measure")
        grouping = measurement_groups(program)
        observed = grouping.observed_qubits()
        names = {d.name for d in program.params + program.inputs}
        name = "qcomp_basis"
        while name in names:
            name += "_"
        decl = ValueDecl("param", name, 3 * len(observed), program.num_params)
        ops = list(program.circuit.ops())
        for j, q in enumerate(observed):
            ops.append(Operation("u", (q,), tuple(decl.symbol(3 * j + a) for a in range(3))))
        return program.with_circuit(Circuit.from_ops(program.num_qubits, ops),
                                    params=program.params + (decl,), measured=observed)


__all__ = ["GroupMeasurements", "MeasurementGroup", "MeasurementGrouping", "group_observables", "group_paulis",
           "measurement_groups"]
