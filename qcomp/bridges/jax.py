"""JAX bridge: ``make_jax_function`` wraps a compiled model as a ``jax.custom_vjp`` function over ``pure_callback``."""

from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np

from .common import INPUT_DIFF_METHODS, OutputColumns, resolve_model
from ..errors import InputError

try:
    import jax
    import jax.numpy as jnp
except ImportError as exc:  # pragma: no cover - exercised only without jax
    raise ImportError("qcomp.jax needs JAX: pip install 'qcomp[jax]'") from exc

__all__ = ["make_jax_function"]

# jax >= 0.4.34 names how callbacks batch under vmap; older versions take ``vectorized``
_CALLBACK_KW = ({"vmap_method": "sequential"} if "vmap_method" in inspect.signature(jax.pure_callback).parameters
                else {"vectorized": False})


def _callback(fn: Callable, shape: tuple[int, ...], dtype, *args):
    return jax.pure_callback(fn, jax.ShapeDtypeStruct(shape, dtype), *args, **_CALLBACK_KW)


def make_jax_function(model: Any, *, optimize: int = 2, precision: str = "double", input_grad: bool = True,
                      input_diff_method: str = "parameter-shift",
                      **simulator_options: Any) -> Callable[..., "jax.Array"]:
    """``f(params (P,), inputs (B, I) | (I,) | None) -> (B, n_outputs) | (n_outputs,)``, differentiable.

    The forward pass and the gradients run in qcomp's simulator through ``jax.pure_callback``, so
    ``f`` works under ``jax.jit``, ``jax.grad`` and ``jax.vmap`` (sequentially). The gradient
    w.r.t. ``params`` is one adjoint sweep (``Simulator.vjp``); the gradient w.r.t. ``inputs``
    uses parameter shift (or ``input_diff_method="finite-diff"``) and, being a separate pure
    callback, is dropped by XLA under ``jit`` when nobody uses it. ``input_grad=False`` treats
    the inputs as constants (zero cotangent, like ``jax.lax.stop_gradient``).

    Results have the floating dtype of the arguments (enable ``jax_enable_x64`` for float64; the
    simulation itself is always float64 with ``precision="double"``). Errors found inside the
    callback (NaN inputs, ...) surface as JAX runtime errors carrying qcomp's message.

    ``model``: a qcomp Model, Program, file path or .q source; ``optimize``: preset level.

    >>> import jax.numpy as jnp, qcomp.jax
    >>> f = qcomp.jax.make_jax_function("qubit q; input x; param w; rx(x) q; ry(w) q; expect z(q);")
    >>> f(jnp.zeros(1), jnp.zeros((2, 1))).shape
    (2, 1)
    """
    if input_diff_method not in INPUT_DIFF_METHODS:
        raise InputError(f"unknown input_diff_method {input_diff_method!r}; choose {' or '.join(INPUT_DIFF_METHODS)}")
    m = resolve_model(model, optimize)
    sim = m.simulator(precision=precision, **simulator_options)
    columns = OutputColumns(sim)  # var/probs outputs flattened into columns
    P, I, O = m.num_params, m.num_inputs, columns.num_columns

    def expval_cb(p, x):
        return np.asarray(columns.expval(np.asarray(p, np.float64), np.asarray(x, np.float64)), dtype=np.asarray(x).dtype)

    def vjp_cb(p, x, g):
        out = columns.vjp(np.asarray(p, np.float64), np.asarray(x, np.float64), np.asarray(g, np.float64))
        return np.asarray(out, dtype=np.asarray(p).dtype)

    def input_vjp_cb(p, x, g):
        out = columns.input_vjp(np.asarray(p, np.float64), np.asarray(x, np.float64), np.asarray(g, np.float64),
                         input_diff_method)
        return np.asarray(out, dtype=np.asarray(x).dtype)

    @jax.custom_vjp
    def core(params, inputs):
        return _callback(expval_cb, (inputs.shape[0], O), inputs.dtype, params, inputs)

    def core_fwd(params, inputs):
        return core(params, inputs), (params, inputs)

    def core_bwd(res, g):
        params, inputs = res
        gp = _callback(vjp_cb, params.shape, params.dtype, params, inputs, g)
        if input_grad and I:
            gx = _callback(input_vjp_cb, inputs.shape, inputs.dtype, params, inputs, g)
        else:
            gx = jnp.zeros_like(inputs)
        return gp, gx

    core.defvjp(core_fwd, core_bwd)

    def real_array(value, what: str):
        # jax's own errors for strings, ragged lists or None are TypeErrors/ValueErrors
        try:
            a = jnp.asarray(value)
        except (TypeError, ValueError) as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"{what} must be a real number or an array of real numbers ({detail})") from None
        if jnp.iscomplexobj(a):  # a cast to float would drop the imaginary parts
            raise InputError(f"{what} have complex values; qcomp takes real values")
        return a

    def f(params, inputs=None):
        params = real_array(params, "params")
        if inputs is not None:
            inputs = real_array(inputs, "inputs")
        if params.shape != (P,):
            raise InputError(f"params have shape {params.shape}; the model has {P} parameters, expected ({P},)")
        dtype = jnp.result_type(params.dtype, jnp.asarray(inputs).dtype if inputs is not None else params.dtype)
        if not jnp.issubdtype(dtype, jnp.floating):
            dtype = jnp.asarray(0.0).dtype  # the default float (float64 with jax_enable_x64)
        params = params.astype(dtype)
        if inputs is None:
            if I:
                raise InputError(f"missing inputs: the model needs inputs of shape (batch, {I})")
            return core(params, jnp.zeros((1, 0), dtype))[0]
        x = jnp.asarray(inputs).astype(dtype)
        single = x.ndim == 1
        if single:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != I:
            raise InputError(f"inputs have shape {jnp.shape(inputs)}; expected (batch, {I}) or ({I},)")
        if x.shape[0] == 0:
            raise InputError("inputs have an empty batch")
        y = core(params, x)
        return y[0] if single else y

    f.model = m  # type: ignore[attr-defined]
    f.simulator = sim  # type: ignore[attr-defined]
    return f


