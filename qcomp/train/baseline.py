"""The TFQ tutorial's "fair" classical baseline: a tiny dense network trained with hinge loss and Adam."""

from __future__ import annotations

from typing import Any

import numpy as np

from qcomp.train.data import Dataset
from qcomp.train.errors import TrainConfigError
from qcomp.train.loop import fit
from qcomp.train.optimizers import Adam

__all__ = ["DenseNetwork", "train_classical_baseline"]


class DenseNetwork:
    """``n_inputs -> n_hidden (relu) -> n_outputs (tanh or linear)`` in numpy, with manual backprop.

    Implements the :class:`qcomp.train.loop.Differentiable` protocol.  The flat parameter
    vector is ``[W1 (n_inputs x n_hidden, row-major), b1, W2 (n_hidden x n_outputs), b2]``;
    the 16-2-1 network has 16*2 + 2 + 2*1 + 1 = 37 parameters.

    Example:
        >>> net = DenseNetwork(16, 2, 1)
        >>> net.n_params
        37
        >>> net.expval(net.init_params(seed=0), np.zeros((3, 16))).shape
        (3, 1)
    """

    def __init__(
        self, n_inputs: int = 16, n_hidden: int = 2, n_outputs: int = 1, output_activation: str = "tanh"
    ) -> None:
        if min(n_inputs, n_hidden, n_outputs) <= 0:
            raise TrainConfigError("DenseNetwork layer sizes must be positive")
        if output_activation not in ("tanh", "linear"):
            raise TrainConfigError(
                f"unknown output activation {output_activation!r}; use 'tanh' or 'linear'"
            )
        self.n_inputs = int(n_inputs)
        self.n_hidden = int(n_hidden)
        self.n_outputs = int(n_outputs)
        self.output_activation = output_activation
        i, h, o = self.n_inputs, self.n_hidden, self.n_outputs
        self.n_params = i * h + h + h * o + o

    def unpack(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Split the flat parameter vector into ``(W1, b1, W2, b2)``."""
        p = np.asarray(params, dtype=np.float64)
        if p.shape != (self.n_params,):
            raise TrainConfigError(f"expected {self.n_params} parameters, got shape {p.shape}")
        i, h, o = self.n_inputs, self.n_hidden, self.n_outputs
        w1 = p[: i * h].reshape(i, h)
        b1 = p[i * h : i * h + h]
        w2 = p[i * h + h : i * h + h + h * o].reshape(h, o)
        b2 = p[i * h + h + h * o :]
        return w1, b1, w2, b2

    def init_params(self, seed: int = 0) -> np.ndarray:
        """Keras defaults: Glorot-uniform weights, zero biases."""
        rng = np.random.default_rng(seed)
        i, h, o = self.n_inputs, self.n_hidden, self.n_outputs
        lim1 = np.sqrt(6.0 / (i + h))
        lim2 = np.sqrt(6.0 / (h + o))
        w1 = rng.uniform(-lim1, lim1, size=i * h)
        w2 = rng.uniform(-lim2, lim2, size=h * o)
        return np.concatenate([w1, np.zeros(h), w2, np.zeros(o)])

    def _forward(self, params: np.ndarray, inputs: np.ndarray) -> tuple[np.ndarray, ...]:
        w1, b1, w2, b2 = self.unpack(params)
        x = np.asarray(inputs, dtype=np.float64)
        pre = x @ w1 + b1
        hid = np.maximum(pre, 0.0)
        z = hid @ w2 + b2
        out = np.tanh(z) if self.output_activation == "tanh" else z
        return x, pre, hid, out

    def expval(self, params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """Network outputs, shape (batch, n_outputs)."""
        return self._forward(params, inputs)[-1]

    def vjp(self, params: np.ndarray, inputs: np.ndarray, cotangent: np.ndarray) -> np.ndarray:
        """Gradient of ``sum(cotangent * expval(params, inputs))`` w.r.t. ``params``."""
        _, _, w2, _ = self.unpack(params)
        x, pre, hid, out = self._forward(params, inputs)
        c = np.asarray(cotangent, dtype=np.float64)
        dz = c * (1.0 - out**2) if self.output_activation == "tanh" else c
        g_w2 = hid.T @ dz
        g_b2 = dz.sum(axis=0)
        d_pre = (dz @ w2.T) * (pre > 0.0)
        g_w1 = x.T @ d_pre
        g_b1 = d_pre.sum(axis=0)
        return np.concatenate([g_w1.ravel(), g_b1, g_w2.ravel(), g_b2])


def train_classical_baseline(
    dataset: Dataset,
    epochs: int = 100,
    batch_size: int = 32,
    lr: float = 0.01,
    seed: int = 0,
    *,
    n_hidden: int = 2,
    output_activation: str = "tanh",
    progress: bool = False,
) -> dict[str, Any]:
    """Train the tutorial's "fair" classical model (16-2-1 for 16 features) with hinge loss and Adam.

    Labels must be {-1, +1} (or {0, 1}).  Returns ``test_hinge_accuracy``,
    ``test_accuracy``, ``test_loss``, ``params``, ``history`` (per-epoch dicts),
    ``n_params`` and the ``model``.

    Example:
        >>> from qcomp.train.data import load_data
        >>> out = train_classical_baseline(load_data("digits:3,6"), epochs=30)
        >>> out["n_params"], out["test_hinge_accuracy"] > 0.8
        (37, True)
    """
    model = DenseNetwork(dataset.n_features, n_hidden, 1, output_activation)
    result = fit(
        model,
        model.init_params(seed),
        dataset,
        loss="hinge",
        optimizer=Adam(lr=lr),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        progress=progress,
    )
    tm = result.test_metrics or {}
    return {
        "test_hinge_accuracy": tm.get("hinge_accuracy"),
        "test_accuracy": tm.get("accuracy"),
        "test_loss": tm.get("loss"),
        "params": result.params,
        "history": result.history,
        "n_params": model.n_params,
        "model": model,
    }
