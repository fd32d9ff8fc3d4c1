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
    qcomp.gradients (all shifted circuits of the batch in one batched simulation); the
    density-matrix simulator differentiates inputs in its own adjoint sweep.
    """
    if hasattr(sim, "input_vjp"):
        if method not in INPUT_DIFF_METHODS:
            raise InputError(f"unknown input differentiation method {method!r}; choose {' or '.join(INPUT_DIFF_METHODS)}")
        return sim.input_vjp(params, inputs, cotangent)
    return np.einsum("bo,boi->bi", np.asarray(cotangent, dtype=np.float64), input_jacobian(sim, params, inputs, method))


def input_jacobian(sim, params: np.ndarray, inputs: np.ndarray, method: str = "parameter-shift") -> np.ndarray:
    """d expval[b, k] / d inputs[b, :], shape (B, n_outputs, I) (see :func:`input_vjp`)."""
    from ..gradients import finite_diff_gradient, parameter_shift_gradient, simulator_executor_for

    if method not in INPUT_DIFF_METHODS:
        raise InputError(f"unknown input differentiation method {method!r}; choose {' or '.join(INPUT_DIFF_METHODS)}")
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
    return jac


def require_expectations(model, who: str = "this bridge"):
    """``model`` when its outputs are 'expect' values only, else an UnsupportedError naming the
    other kinds (for a consumer of one expectation value, such as the sklearn classifier)."""
    program = model.program
    if not program.expectations_only:
        kinds = sorted({o.kind for o in program.outputs} - {"expectation"})
        raise UnsupportedError(
            f"{who} takes models whose outputs are 'expect' values; this one declares {', '.join(kinds)}"
            " outputs (use qcomp.torch / qcomp.jax, or model.simulator().outputs(...))")
    return model


class OutputColumns:
    """The outputs of a model's simulator as real columns, for the torch and jax bridges.

    A model of 'expect' outputs only is its simulator's expval / vjp / input_vjp, unchanged. A
    model declaring var or probs outputs has one column per scalar output and 2**k per probs
    output, in statement order (each output's value flattened); values come from
    ``Simulator.outputs`` and gradients from the chain rule of
    :func:`qcomp.backends.outputs.output_jacobian` (adjoint for params, ``input_diff_method`` for
    inputs). Samples (random draws) and states are refused here with an UnsupportedError.
    """

    def __init__(self, sim) -> None:
        self.sim = sim
        program = sim.program
        self.plain = program.expectations_only
        if self.plain:
            self.num_columns = program.num_outputs
            return
        self.outputs = program.outputs
        bad = sorted({o.kind for o in self.outputs if not o.differentiable})
        if bad:
            raise UnsupportedError(
                f"the framework bridges take differentiable real outputs (expect, var, probs); this model declares"
                f" {', '.join(bad)} outputs, which are not differentiable: remove them, or use"
                " model.simulator().outputs(...) (for samples, differentiate 'probs' of the same qubits)")
        self.sizes = [int(np.prod(o.shape(program.num_qubits), dtype=np.int64)) for o in self.outputs]
        self.num_columns = sum(self.sizes)

    def _columns(self, arrays: list, trailing: int) -> np.ndarray:
        """Per-output arrays (B, *shape, *trailing) or (*shape, *trailing) as columns (B, C, *trailing)
        or (C, *trailing): each output's value flattened, in order."""
        n = self.sim.program.num_qubits
        out, batched = [], False
        for a, o, size in zip(arrays, self.outputs, self.sizes):
            a = np.asarray(a, dtype=np.float64)
            batched = a.ndim == len(o.shape(n)) + trailing + 1
            tail = a.shape[a.ndim - trailing:] if trailing else ()
            out.append(a.reshape(((a.shape[0],) if batched else ()) + (size,) + tail))
        return np.concatenate(out, axis=1 if batched else 0)

    def expval(self, params, inputs) -> np.ndarray:
        if self.plain:
            return self.sim.expval(params, inputs)
        return self._columns(self.sim.outputs(params, inputs), 0)

    def _vjp(self, jac: np.ndarray, cotangent, params) -> np.ndarray:
        g = np.asarray(cotangent, dtype=np.float64)
        if jac.ndim == 2:  # one row: (C, P)
            return g.reshape(-1) @ jac
        g = g.reshape(jac.shape[0], -1)
        if np.ndim(params) == 2:
            return np.einsum("bc,bcp->bp", g, jac)
        return np.einsum("bc,bcp->p", g, jac)

    def vjp(self, params, inputs, cotangent) -> np.ndarray:
        if self.plain:
            return self.sim.vjp(params, inputs, cotangent)
        from ..backends.outputs import output_jacobian

        jac = self._columns(output_jacobian(self.sim, params, inputs, self.outputs), 1)
        return self._vjp(jac, cotangent, params)

    def input_vjp(self, params, inputs, cotangent, method: str = "parameter-shift") -> np.ndarray:
        if self.plain:
            return input_vjp(self.sim, params, inputs, cotangent, method)
        from ..backends.outputs import output_jacobian

        jac = output_jacobian(self.sim, params, inputs, self.outputs,
                              gradient=lambda s: input_jacobian(s, params, inputs, method))
        cols = self._columns(jac, 1)  # inputs are always batched in the bridges: (B, C, I)
        return np.einsum("bc,bci->bi", np.asarray(cotangent, dtype=np.float64).reshape(cols.shape[0], -1), cols)
