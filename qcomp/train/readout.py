"""A readout rule: one output of a multi-output model as a single-output model for qcomp.train."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from qcomp.train.errors import TrainConfigError

__all__ = ["OutputSelection"]


@dataclass(frozen=True)
class OutputSelection:
    """Output ``output`` (of ``n_outputs``) of ``model`` as a one-output Differentiable: a binary
    classifier of a model with several ``expect`` lines reads that expectation value only, and
    the other outputs get no gradient. Keeps ``value_and_vjp`` (one adjoint sweep per step) when
    the model has it."""

    model: Any
    output: int
    n_outputs: int

    def __post_init__(self) -> None:
        if not 0 <= self.output < self.n_outputs:
            raise TrainConfigError(f"output {self.output} does not exist: the model has {self.n_outputs} "
                                   f"output{'' if self.n_outputs == 1 else 's'} (0 to {self.n_outputs - 1})")

    def expval(self, params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.expval(params, inputs))[:, self.output : self.output + 1]

    def vjp(self, params: np.ndarray, inputs: np.ndarray, cotangent: np.ndarray) -> np.ndarray:
        return self.model.vjp(params, inputs, _embed(cotangent, self.output, self.n_outputs))

    def __getattr__(self, name: str) -> Any:
        # value_and_vjp only when the wrapped model has it (fit checks with hasattr); read through
        # __dict__ because while unpickling the fields are not set yet
        if name == "value_and_vjp" and hasattr(self.__dict__.get("model"), "value_and_vjp"):
            return self._value_and_vjp
        raise AttributeError(name)

    def _value_and_vjp(self, params: np.ndarray, inputs: np.ndarray,
                       cotangent_fn: Callable[[np.ndarray, slice], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        k = self.output
        values, g = self.model.value_and_vjp(params, inputs, _FullCotangent(cotangent_fn, k, self.n_outputs))
        return np.asarray(values)[:, k : k + 1], g


def _embed(cotangent: np.ndarray, k: int, n: int) -> np.ndarray:
    """A one-output cotangent (B, 1) as the full (B, n) one: zero on every other output."""
    c = np.asarray(cotangent, dtype=np.float64)
    full = np.zeros((c.shape[0], n))
    full[:, k] = c[:, 0]
    return full


@dataclass(frozen=True)
class _FullCotangent:
    """The loss's cotangent function on output k, for the whole model; a plain object (not a
    closure over the model) so that a distributed simulator can ship it to its workers."""

    fn: Callable[[np.ndarray, slice], np.ndarray]
    k: int
    n: int

    def __call__(self, values: np.ndarray, rows: slice) -> np.ndarray:
        return _embed(self.fn(values[:, self.k : self.k + 1], rows), self.k, self.n)
