"""Gradients and Hessians of program outputs: parameter shift, finite differences, gradient programs."""

from __future__ import annotations

from .evaluate import (DEFAULT_BATCH_BYTES, Executor, ReferenceExecutor, SimulatorExecutor, circuit_expvals, combine,
                       default_executor, evaluate_gradient_program, finite_diff_gradient, finite_diff_hessian,
                       gradient_program, hessian, parameter_shift_gradient, GRADIENT_METHODS, GradientMethods,
                       simulator_executor_for, simulator_gradient, simulator_hessian)

__all__ = [
    "Executor",
    "ReferenceExecutor",
    "SimulatorExecutor",
    "default_executor",
    "evaluate_gradient_program",
    "gradient_program",
    "parameter_shift_gradient",
    "finite_diff_gradient",
    "hessian",
    "finite_diff_hessian",
    "simulator_gradient",
    "simulator_hessian",
    "simulator_executor_for",
    "circuit_expvals",
    "combine",
    "GradientMethods",
    "GRADIENT_METHODS",
    "DEFAULT_BATCH_BYTES",
]
