"""PyTorch bridge: ``QLayer``, a ``torch.nn.Module`` whose backward calls qcomp's adjoint vjp."""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import INPUT_DIFF_METHODS, OutputColumns, input_vjp, resolve_model
from ..errors import InputError

try:
    import torch
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError("qcomp.torch needs PyTorch: pip install 'qcomp[torch]'") from exc

__all__ = ["QLayer", "QFunction", "resolve_model", "input_vjp"]

class QFunction(torch.autograd.Function):
    """``QFunction.apply(layer, weight, inputs)``: expectation values in float64, (B, n_outputs) for
    inputs (B, I), (n_outputs,) without inputs (the shape rule of qcomp.ir.values).

    backward: the weight gradient is one adjoint sweep (``Simulator.vjp``); the input gradient
    (only when ``inputs.requires_grad``) comes from :func:`input_vjp`. Not twice differentiable.
    """

    @staticmethod
    def forward(ctx, layer: "QLayer", weight: torch.Tensor, inputs: torch.Tensor | None) -> torch.Tensor:
        w = weight.detach().cpu().numpy().astype(np.float64)
        x = None if inputs is None else inputs.detach().cpu().numpy().astype(np.float64)
        out = layer.columns.expval(w, x)
        ctx.layer = layer
        ctx.w, ctx.x = w, x
        ctx.has_inputs = inputs is not None
        return torch.from_numpy(np.ascontiguousarray(out)).to(device=weight.device)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        layer = ctx.layer
        g = grad_out.detach().cpu().numpy().astype(np.float64)
        grad_w = grad_x = None
        if ctx.needs_input_grad[1]:
            grad_w = torch.from_numpy(layer.columns.vjp(ctx.w, ctx.x, g)).to(grad_out.device)
        if ctx.has_inputs and ctx.needs_input_grad[2]:
            gx = layer.columns.input_vjp(ctx.w, ctx.x, g, layer.input_diff_method)
            grad_x = torch.from_numpy(gx).to(grad_out.device)
        return None, grad_w, grad_x


class QLayer(torch.nn.Module):
    """A compiled qcomp model as a PyTorch layer: ``forward(inputs (B, I)) -> (B, n_outputs)``.

    ``weight`` (float64, size ``num_params``) holds the circuit parameters in flat declaration
    order. Expectation values are computed in float64 and returned in the inputs' floating dtype
    (float64 without inputs), so the layer drops into float32 or float64 networks. Gradients
    flow to ``weight`` (adjoint) and, when the inputs require grad, to the inputs
    (``input_diff_method``: "parameter-shift" or "finite-diff"), so classical layers may come
    before or after it.

    ``model``: a qcomp Model, Program, file path or .q source; ``optimize``: preset level used
    when compiling; ``init``: initial weights (array of size num_params) or None for uniform
    [-init_scale, init_scale] drawn from torch's RNG (seed it with ``torch.manual_seed``).

    >>> import torch, qcomp.torch
    >>> layer = qcomp.torch.QLayer("qubit q; input x; param w; rx(x) q; ry(w) q; expect z(q);")
    >>> layer(torch.zeros(3, 1, dtype=torch.float64)).shape
    torch.Size([3, 1])
    """

    def __init__(self, model: Any, *, optimize: int = 2, precision: str = "double", init: Any = None,
                 init_scale: float = float(np.pi), input_diff_method: str = "parameter-shift",
                 **simulator_options: Any) -> None:
        super().__init__()
        if input_diff_method not in INPUT_DIFF_METHODS:
            raise InputError(f"unknown input_diff_method {input_diff_method!r}; "
                             f"choose {' or '.join(INPUT_DIFF_METHODS)}")
        self.model = resolve_model(model, optimize)
        self.simulator = self.model.simulator(precision=precision, **simulator_options)
        self.columns = OutputColumns(self.simulator)  # var/probs outputs flattened into columns
        self.input_diff_method = input_diff_method
        n = self.model.num_params
        if init is None:
            w = torch.empty(n, dtype=torch.float64).uniform_(-init_scale, init_scale)
        else:
            from ..backends.simulator import Simulator

            w = torch.as_tensor(Simulator._numeric(init.detach().cpu() if isinstance(init, torch.Tensor) else init,
                                                   "init")).clone()
            if w.shape != (n,):
                raise InputError(f"init has shape {tuple(w.shape)}; the model has {n} parameters")
            if not torch.isfinite(w).all():
                raise InputError("init contains NaN or infinite values")
        self.weight = torch.nn.Parameter(w)

    @property
    def num_inputs(self) -> int:
        return self.model.num_inputs

    @property
    def num_outputs(self) -> int:
        return self.columns.num_columns

    def extra_repr(self) -> str:
        return f"num_params={self.model.num_params}, num_inputs={self.num_inputs}, num_outputs={self.num_outputs}"

    def forward(self, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """Expectation values (B, n_outputs) for inputs (B, I); (n_outputs,) for one sample (I,), and
        for a model without inputs called with none (the shape rule of qcomp.ir.values)."""
        I = self.num_inputs
        if inputs is None:
            if I:
                raise InputError(f"QLayer needs inputs of shape (batch, {I})")
            return QFunction.apply(self, self.weight, None)
        if not isinstance(inputs, torch.Tensor):
            raise InputError(f"QLayer inputs must be a torch.Tensor, got {type(inputs).__name__}")
        if inputs.is_complex():  # .to(float64) would drop the imaginary parts with only a warning
            raise InputError("QLayer inputs have complex values; qcomp takes real values")
        single = inputs.dim() == 1
        x = inputs[None, :] if single else inputs
        if x.dim() != 2 or x.shape[1] != I:
            raise InputError(f"QLayer inputs have shape {tuple(inputs.shape)}; expected (batch, {I}) or ({I},)")
        if x.shape[0] == 0:
            raise InputError("QLayer inputs have an empty batch")
        out_dtype = inputs.dtype if inputs.is_floating_point() else torch.float64
        y = QFunction.apply(self, self.weight, x.to(torch.float64))
        y = y.to(out_dtype)
        return y[0] if single else y

