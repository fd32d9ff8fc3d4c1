"""Output kinds as types: what a program returns (expectation, variance, probabilities, samples, state).

An output kind is one class. It says what it needs from a backend (``needs``: expectation values of
Pauli sums, probabilities of some qubits, or the state), its shape per batch row, whether it is
differentiable, and how it turns what the backend measured into its value (``finish``). Backends
implement the few measurement verbs once (:func:`qcomp.backends.outputs.evaluate`), so a new kind
(say, a covariance of two Pauli sums) is one new class here and no backend change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .ops import Observable, PauliTerm, normalize_pauli_sum

# product of single-qubit Paulis: (a, b) -> (phase, c) with a b = phase c
_PAULI_PRODUCT: dict[tuple[str, str], tuple[complex, str]] = {
    ("X", "X"): (1, "I"), ("Y", "Y"): (1, "I"), ("Z", "Z"): (1, "I"),
    ("X", "Y"): (1j, "Z"), ("Y", "X"): (-1j, "Z"),
    ("Y", "Z"): (1j, "X"), ("Z", "Y"): (-1j, "X"),
    ("Z", "X"): (1j, "Y"), ("X", "Z"): (-1j, "Y"),
}


def pauli_product(a: PauliTerm, b: PauliTerm) -> tuple[complex, dict[int, str]]:
    """The product of two Pauli words as (coefficient, word); the coefficient includes both terms'."""
    coeff: complex = a.coeff * b.coeff
    word = dict(a.paulis)
    for q, p in b.paulis:
        if q not in word:
            word[q] = p
            continue
        phase, c = _PAULI_PRODUCT[(word[q], p)]
        coeff *= phase
        word[q] = c
    return coeff, {q: p for q, p in word.items() if p != "I"}


def square(obs: Observable) -> Observable:
    """The Pauli sum of obs**2 (Hermitian, so the imaginary parts of the products cancel)."""
    terms: list[tuple[float, dict[int, str]]] = []
    for a in obs.terms:
        for b in obs.terms:
            c, word = pauli_product(a, b)
            terms.append((c.real, word))
    return Observable(normalize_pauli_sum(terms), text=f"({obs.text})**2" if obs.text else "")


@dataclass(frozen=True)
class Needs:
    """What an output asks a backend for: expectation values, probabilities or the state."""

    observables: tuple[Observable, ...] = ()
    probabilities: tuple[int, ...] | None = None  # qubits whose joint distribution is needed
    state: bool = False


@dataclass(frozen=True)
class Output:
    """One declared output. Subclasses set ``kind`` and implement ``needs``, ``shape`` and ``finish``."""

    kind: ClassVar[str] = ""
    differentiable: ClassVar[bool] = False
    sampled: ClassVar[bool] = False  # draws from a random generator (takes ``shots``)

    def needs(self) -> Needs:  # pragma: no cover - abstract
        raise NotImplementedError

    def shape(self, num_qubits: int) -> tuple[int, ...]:  # pragma: no cover - abstract
        """The shape of one batch row's value."""
        raise NotImplementedError

    def finish(self, measured: dict[str, Any], rng: np.random.Generator | None = None) -> Any:
        """This output for a batch from what the backend measured: ``measured["expvals"]`` (B, k) for
        the needed observables in order, ``measured["probs"]`` (B, 2**m), ``measured["state"]`` (B, 2**n)."""
        raise NotImplementedError  # pragma: no cover - abstract


@dataclass(frozen=True)
class Expectation(Output):
    """<O> of a real Pauli sum O: shape ()."""

    observable: Observable
    kind: ClassVar[str] = "expectation"
    differentiable: ClassVar[bool] = True

    def needs(self) -> Needs:
        return Needs(observables=(self.observable,))

    def shape(self, num_qubits: int) -> tuple[int, ...]:
        return ()

    def finish(self, measured, rng=None):
        return measured["expvals"][:, 0]


@dataclass(frozen=True)
class Variance(Output):
    """<O**2> - <O>**2 of a real Pauli sum O: shape ()."""

    observable: Observable
    kind: ClassVar[str] = "variance"
    differentiable: ClassVar[bool] = True

    def needs(self) -> Needs:
        return Needs(observables=(self.observable, square(self.observable)))

    def shape(self, num_qubits: int) -> tuple[int, ...]:
        return ()

    def finish(self, measured, rng=None):
        e, e2 = measured["expvals"][:, 0], measured["expvals"][:, 1]
        return np.maximum(e2 - e * e, 0.0)  # clip rounding below zero: a variance is never negative


@dataclass(frozen=True)
class Probabilities(Output):
    """Joint probabilities of ``qubits`` (index bit k is qubits[k]): shape (2**len(qubits),)."""

    qubits: tuple[int, ...]
    kind: ClassVar[str] = "probabilities"
    differentiable: ClassVar[bool] = True

    def needs(self) -> Needs:
        return Needs(probabilities=self.qubits)

    def shape(self, num_qubits: int) -> tuple[int, ...]:
        return (2 ** len(self.qubits),)

    def finish(self, measured, rng=None):
        return measured["probs"]


@dataclass(frozen=True)
class Samples(Output):
    """``shots`` measurement outcomes of ``qubits`` per row, as integers (bit k is qubits[k]): shape (shots,)."""

    qubits: tuple[int, ...]
    shots: int
    kind: ClassVar[str] = "samples"
    sampled: ClassVar[bool] = True

    def needs(self) -> Needs:
        return Needs(probabilities=self.qubits)

    def shape(self, num_qubits: int) -> tuple[int, ...]:
        return (self.shots,)

    def finish(self, measured, rng=None):
        rng = rng if rng is not None else np.random.default_rng()
        probs = np.clip(np.asarray(measured["probs"], dtype=float), 0.0, None)
        probs /= probs.sum(axis=1, keepdims=True)
        return np.stack([rng.choice(probs.shape[1], size=self.shots, p=row) for row in probs])


@dataclass(frozen=True)
class State(Output):
    """The state vector over all qubits: shape (2**n,), complex."""

    kind: ClassVar[str] = "state"

    def needs(self) -> Needs:
        return Needs(state=True)

    def shape(self, num_qubits: int) -> tuple[int, ...]:
        return (2**num_qubits,)

    def finish(self, measured, rng=None):
        return measured["state"]


OUTPUT_KINDS: dict[str, type[Output]] = {
    cls.kind: cls for cls in (Expectation, Variance, Probabilities, Samples, State)
}


# -- declared outputs of a Program (issue 15) -------------------------------------------------
@dataclass(frozen=True)
class DeclaredOutput:
    """One output statement of a program, stored by position in ``Program.observables``.

    Every declared output is a function of expectation values of Pauli sums: ``expect O`` of
    <O>, ``var O`` of <O> and <O**2>, ``probs``/``sample`` of the Z parities of their qubits
    (P(b) = 2**-k sum_S (-1)**|b & S| <Z_S>). Storing the output as positions in the program's
    observables (``z(q)`` per probed qubit) keeps it right through every pass that renumbers
    qubits or prunes gates by what is observed, and through the OpenQASM manifest.
    """

    kind: str  # "expectation" | "variance" | "probabilities" | "samples"
    observables: tuple[int, ...]
    shots: int | None = None
    text: str = field(default="", compare=False)  # as written (``hermitian(M) q[0]``), for display

    def build(self, observables: tuple[Observable, ...]) -> Output:
        """The Output kind, about the program whose observables are ``observables``."""
        if self.kind == "expectation":
            return Expectation(observables[self.observables[0]])
        if self.kind == "variance":
            return Variance(observables[self.observables[0]])
        qubits = tuple(z_qubit(observables[i]) for i in self.observables)
        if self.kind == "probabilities":
            return Probabilities(qubits)
        if self.kind == "samples":
            return Samples(qubits, int(self.shots or 0))
        raise ValueError(f"unknown declared output kind {self.kind!r}")

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "observables": list(self.observables), "text": self.text}
        if self.shots is not None:
            d["shots"] = self.shots
        return d


def z_qubit(o: Observable) -> int:
    """The qubit of a one-term ``z(q)`` observable (how probs and sample record their qubits)."""
    if len(o.terms) != 1 or len(o.terms[0].paulis) != 1 or o.terms[0].paulis[0][1] != "Z" or o.terms[0].coeff != 1.0:
        raise ValueError(f"observable {o.text or o.terms!r} is not z(q) of one qubit")
    return o.terms[0].paulis[0][0]


def parity_observables(qubits: tuple[int, ...]) -> tuple[Observable, ...]:
    """Z_S for every non-empty subset S of ``qubits`` (S as a bit mask over positions, in order 1..2**k-1)."""
    out = []
    for mask in range(1, 2 ** len(qubits)):
        word = tuple(sorted((qubits[j], "Z") for j in range(len(qubits)) if mask >> j & 1))
        out.append(Observable((PauliTerm(1.0, word),)))
    return tuple(out)


def parity_to_probs(k: int) -> np.ndarray:
    """W (2**k, 2**k) with P = W @ [1, <Z_S> for S = 1..2**k-1]: W[b, S] = 2**-k (-1)**popcount(b & S)."""
    b = np.arange(2**k)
    bits = np.bitwise_and.outer(b, b)
    pop = np.zeros_like(bits)
    for j in range(k):
        pop += (bits >> j) & 1
    return np.where(pop % 2 == 0, 1.0, -1.0) / 2**k


_PAULI_MATRICES = np.array([[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])
MAX_HERMITIAN_QUBITS = 8  # 4**8 Pauli words: larger observables belong in a Pauli sum


def hermitian_terms(matrix: Any, qubits: tuple[int, ...], *, atol: float = 1e-10) -> list[tuple[float, dict[int, str]]]:
    """The Pauli decomposition M = sum_P tr(P M) / 2**k P of a Hermitian 2**k x 2**k matrix acting
    on ``qubits`` (matrix index bit j is qubits[j], qcomp's and Qiskit's order). Raises ValueError
    for a matrix that is not square, not 2**k on k qubits, not finite or not Hermitian."""
    m = np.asarray(matrix, dtype=complex)
    k = len(qubits)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"a Hermitian observable needs a square matrix, got shape {m.shape}")
    if m.shape[0] != 2**k:
        raise ValueError(f"a Hermitian observable on {k} qubit{'s' if k != 1 else ''} needs a {2**k} x {2**k}"
                         f" matrix, got {m.shape[0]} x {m.shape[1]}")
    if k > MAX_HERMITIAN_QUBITS:
        raise ValueError(f"a Hermitian observable acts on at most {MAX_HERMITIAN_QUBITS} qubits, got {k}")
    if not np.all(np.isfinite(m)):
        raise ValueError("the matrix of a Hermitian observable has non-finite entries")
    bad = np.abs(m - m.conj().T)
    if bad.max(initial=0.0) > atol * max(1.0, np.abs(m).max(initial=0.0)):
        i, j = np.unravel_index(int(np.argmax(bad)), bad.shape)
        def num(z: complex) -> str:
            return f"{z.real:g}" if z.imag == 0 else f"{z:g}"

        raise ValueError(f"the matrix is not Hermitian: M[{i}][{j}] = {num(m[i, j])} but M[{j}][{i}] = {num(m[j, i])}")
    # coeff[p_{k-1}..p_0] = 2**-k sum_{r,c} M[r, c] prod_j P_{p_j}[c_j, r_j]; reshape puts bit k-1 first
    t = m.reshape((2,) * (2 * k))
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    rows, cols, ps = letters[:k], letters[k:2 * k], letters[2 * k:3 * k]
    spec = rows + cols + "".join(f",{ps[i]}{cols[i]}{rows[i]}" for i in range(k)) + "->" + ps
    coeffs = np.einsum(spec, t, *([_PAULI_MATRICES] * k), optimize=True).real / 2**k if k else t.real.reshape(())
    terms: list[tuple[float, dict[int, str]]] = []
    for idx in np.ndindex(*coeffs.shape):
        c = float(coeffs[idx])
        if abs(c) > 1e-15:
            # idx[i] is the Pauli of bit k-1-i
            terms.append((c, {qubits[k - 1 - i]: "IXYZ"[p] for i, p in enumerate(idx) if p}))
    return terms
