"""SimulatorLike: the one interface of simulator executors, in-process (Simulator) or sharded over Dask."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..ir.program import Program

__all__ = ["SimulatorLike"]


@runtime_checkable
class SimulatorLike(Protocol):
    """What every simulator executor offers, with :class:`~qcomp.backends.simulator.Simulator`'s
    arguments and results.

    ``params`` are an array (P,) shared by all rows, (B, P) per row, or a dict {declared name:
    array}; ``inputs`` (I,) or (B, I), a dict, or None without inputs; results have one row per
    batch row B, and no batch axis when no argument is batched (the shape rule of
    ``qcomp.ir.values``; a vjp has the shape of the params). Implementations: ``qcomp.backends.simulator.Simulator`` (in this process) and
    ``qcomp.distributed.DistributedSimulator`` (rows sharded over Dask workers). The test suite
    checks that both have every verb here, with the same parameters, and that this list has every
    public method of ``Simulator``, so the executors cannot drift apart.
    """

    program: Program

    @property
    def n(self) -> int:
        """Number of qubits simulated."""
        ...

    # -- outputs -------------------------------------------------------------------------------
    def expval(self, params: Any = None, inputs: Any = None) -> np.ndarray:
        """Expectation values of every ``expect`` output, (B, n_outputs)."""
        ...

    def expval_batch(self, param_rows: np.ndarray, input_rows: np.ndarray | None = None) -> np.ndarray:
        """``expval`` of many (params, inputs) rows: param_rows (B, P), input_rows (B, I) or None."""
        ...

    def probs(self, params: Any = None, inputs: Any = None, qubits: Sequence[int] | None = None) -> np.ndarray:
        """Outcome probabilities (B, 2**len(qubits)); result bit j is qubits[j]."""
        ...

    def sample(self, params: Any = None, inputs: Any = None, shots: int = 1024, seed: int | None = None,
               qubits: Sequence[int] | None = None) -> list[dict[str, int]]:
        """Measurement counts per row, {bitstring: count}; the same counts for the same seed."""
        ...

    def state(self, params: Any = None, inputs: Any = None) -> np.ndarray:
        """Final state vectors (B, 2**n); index bit k is qubit k."""
        ...

    def outputs(self, params: Any = None, inputs: Any = None, outputs: Sequence[Any] | None = None,
                seed: int | None = None) -> list[np.ndarray]:
        """The value of each output kind (default: the program's) per row, (B, *shape) each."""
        ...

    def estimate(self, params: Any = None, inputs: Any = None, outputs: Sequence[Any] | None = None,
                 shots: Any = None, seed: int | None = None) -> Any:
        """Shot estimates and standard errors of the outputs (qcomp.backends.shots.Estimate)."""

    def output_gradient(self, params: Any = None, inputs: Any = None,
                        outputs: Sequence[Any] | None = None) -> list[np.ndarray]:
        """d output / d params of each differentiable output kind, (B, *shape, P) each."""
        ...

    def with_observables(self, observables: tuple[Any, ...]) -> "SimulatorLike":
        """The same circuit and options with other ``expect`` outputs."""
        ...

    # -- derivatives ---------------------------------------------------------------------------
    def gradient(self, params: Any = None, inputs: Any = None, method: str = "adjoint") -> np.ndarray:
        """d expval / d params, (B, n_outputs, n_params), by the adjoint method (other methods and
        Hessians: ``qcomp.gradients.GradientMethods``, which DistributedSimulator also offers)."""
        ...

    def value_and_gradient(self, params: Any = None, inputs: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Expectation values (B, n_outputs) and adjoint gradients (B, n_outputs, n_params) per row."""
        ...

    def vjp(self, params: Any, inputs: Any, cotangent: Any) -> np.ndarray:
        """sum_b cotangent[b] . d expval[b] / d params: (P,) for shared params, (B, P) per row."""
        ...

    def value_and_vjp(self, params: Any, inputs: Any,
                      cotangent_fn: Callable[[np.ndarray, slice], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Expectation values and the vjp of the cotangent ``cotangent_fn(values_rows, rows)`` gives,
        for losses that are means of per-row terms (``rows`` are batch rows of the whole call)."""
        ...

    # -- plans and memory (what one process that simulates decides) -----------------------------
    def plan(self, kind: str = "forward") -> Any:
        """The layers engine's kernel plan: "forward", "expval" or "adjoint"."""
        ...

    def fused_plan(self, gradient: bool = False) -> Any:
        """The fused engine's plan."""
        ...

    def memory_plan(self, batch: int, gradient: bool = False) -> dict[str, int]:
        """Rows per chunk and bytes that the memory guard decides for ``batch`` rows."""
        ...

    def state_passes(self) -> int:
        """Passes over each state that one forward run makes."""
        ...

    def describe(self) -> str:
        """The forward kernel plan as text."""
        ...
