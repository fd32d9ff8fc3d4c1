"""qiskit-machine-learning's ``BaseEstimatorGradient`` by qcomp's adjoint method (one batched sweep per circuit)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from qiskit.providers import Options
from qiskit_machine_learning.gradients import BaseEstimatorGradient, EstimatorGradientResult

from ..errors import InputError
from ..ir.ops import Observable
from .qiskit_import import observable_from_qiskit
from .qiskit_primitives import EstimatorV2

__all__ = ["EstimatorGradient"]


class EstimatorGradient(BaseEstimatorGradient):
    """Exact gradients of expectation values for ``EstimatorQNN(gradient=...)``: all (circuit,
    observable, values) requests on one circuit run as one batched adjoint sweep of qcomp's
    simulator, instead of the 2P shifted Estimator calls per sample of ``ParamShiftEstimatorGradient``.

    ``estimator``: the qcomp ``EstimatorV2`` whose converted circuits are shared (default: a new one).
    Gradients are exact whatever precision the estimator uses for values.
    """

    def __init__(self, estimator: EstimatorV2 | None = None, options: Options | None = None) -> None:
        if estimator is None:
            estimator = EstimatorV2()
        if not isinstance(estimator, EstimatorV2):
            raise InputError(f"EstimatorGradient needs a qcomp.qiskit.EstimatorV2, got {type(estimator).__name__}")
        super().__init__(estimator, options)

    def _run(self, circuits: Sequence[Any], observables: Sequence[Any], parameter_values: Sequence[Sequence[float]] | np.ndarray,
             parameters: Sequence[Sequence[Any]], **options: Any) -> EstimatorGradientResult:
        cache = self._estimator._cache  # type: ignore[attr-defined]
        groups: dict[int, tuple[Any, list[int]]] = {}
        for i, circuit in enumerate(circuits):
            conv = cache.get(circuit)
            groups.setdefault(id(conv), (conv, []))[1].append(i)
        gradients: list[np.ndarray] = [np.zeros(0)] * len(circuits)
        for conv, idx in groups.values():
            n = conv.imp.program.num_qubits
            found: dict[Observable, int] = {}
            which = [found.setdefault(observable_from_qiskit(observables[i], n), len(found)) for i in idx]
            rows = np.array([np.asarray(parameter_values[i], dtype=float) for i in idx]).reshape(len(idx), -1)
            grad = conv.gradients(tuple(found), rows)  # (rows, K, P), P in circuit.parameters order
            position = {p: k for k, p in enumerate(conv.imp.parameters)}
            for j, i in enumerate(idx):
                cols = [position[p] for p in parameters[i]]
                gradients[i] = np.asarray(grad[j, which[j], cols], dtype=float)
        metadata = [{"parameters": parameters[i]} for i in range(len(circuits))]
        return EstimatorGradientResult(gradients=gradients, metadata=metadata, options=Options(**options))
