"""Output kinds as types: what a program returns (expectation, variance, probabilities, samples, state).

An output kind is one class. It says what it needs from a backend (``needs``: expectation values of
Pauli sums, probabilities of some qubits, or the state), its shape per batch row, whether it is
differentiable, and how it turns what the backend measured into its value (``finish``). Backends
implement the few measurement verbs once (:func:`qcomp.backends.outputs.evaluate`), so a new kind
(say, a covariance of two Pauli sums) is one new class here and no backend change.
"""

from __future__ import annotations

from dataclasses import dataclass
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
