"""Helpers shared by the framework bridges (qcomp.torch, qcomp.jax): model resolution, input gradients."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from ..errors import InputError, PassError, UnsupportedError

INPUT_DIFF_METHODS = ("parameter-shift", "finite-diff")


def resolve_model(model: Any, optimize: int = 2):
    """A qcomp Model from a Model, a Program, a ``.q``/``.qasm`` path or .q source text."""
    from ..api import Model, compile
    from ..ir.program import Program

    if isinstance(model, Model):
        return model
    if isinstance(model, Program):
        return Model(model, optimize)
    if isinstance(model, (str, os.PathLike)):
        return compile(model, optimize=optimize)
    raise InputError(f"expected a qcomp Model, a Program, a file path or .q source, got {type(model).__name__}")


def input_vjp(sim, params: np.ndarray, inputs: np.ndarray, cotangent: np.ndarray,
              method: str = "parameter-shift") -> np.ndarray:
    """sum_k cotangent[b, k] d expval[b, k] / d inputs[b, :], shape (B, I).

    The simulator's adjoint sweep differentiates params only, so input gradients use
    qcomp.gradients (all shifted circuits of the batch in one batched simulation).
    """
    from ..gradients import finite_diff_gradient, parameter_shift_gradient, simulator_executor_for

    if method not in INPUT_DIFF_METHODS:
        raise InputError(f"unknown input differentiation method {method!r}; choose {' or '.join(INPUT_DIFF_METHODS)}")
    if hasattr(sim, "input_vjp"):  # the density-matrix simulator differentiates inputs in its adjoint sweep
        return sim.input_vjp(params, inputs, cotangent)
    ex = simulator_executor_for(sim)
    if method == "parameter-shift":
        try:
            jac = parameter_shift_gradient(sim.program, params, inputs, ex, wrt="inputs")
        except (PassError, UnsupportedError) as err:
            # some fused/opaque blocks have no shift rule; central differences still work
            warnings.warn(f"parameter shift w.r.t. inputs unavailable ({err.message}); using finite differences",
                          RuntimeWarning, stacklevel=3)
            jac = finite_diff_gradient(sim.program, params, inputs, ex, wrt="inputs")
    else:
        jac = finite_diff_gradient(sim.program, params, inputs, ex, wrt="inputs")
    return np.einsum("bo,boi->bi", np.asarray(cotangent, dtype=np.float64), jac)
