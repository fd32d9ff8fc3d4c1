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

    def _full(self, cotangent: np.ndarray) -> np.ndarray:
        c = np.asarray(cotangent, dtype=np.float64)
        full = np.zeros((c.shape[0], self.n_outputs))
        full[:, self.output] = c[:, 0]
        return full

    def vjp(self, params: np.ndarray, inputs: np.ndarray, cotangent: np.ndarray) -> np.ndarray:
        return self.model.vjp(params, inputs, self._full(cotangent))

    def __getattr__(self, name: str) -> Any:
        # value_and_vjp only when the wrapped model has it (fit checks with hasattr)
        # (read through __dict__: while unpickling, the fields are not set yet)
        if name == "value_and_vjp" and hasattr(self.__dict__.get("model"), "value_and_vjp"):
            return self._value_and_vjp
        raise AttributeError(name)

    def _value_and_vjp(self, params: np.ndarray, inputs: np.ndarray,
                       cotangent_fn: Callable[[np.ndarray, slice], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        k = self.output

        def full_cotangent(values: np.ndarray, rows: slice) -> np.ndarray:
            return self._full(cotangent_fn(values[:, k : k + 1], rows))

        values, g = self.model.value_and_vjp(params, inputs, full_cotangent)
        return np.asarray(values)[:, k : k + 1], g
