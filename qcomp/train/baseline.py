"""The TFQ tutorial's "fair" classical baseline: a tiny dense network, its size and epochs chosen on a validation split."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from qcomp.train.data import Dataset, _split
from qcomp.train.errors import TrainConfigError
from qcomp.train.loop import fit
from qcomp.train.optimizers import Adam

__all__ = ["BASELINE_EPOCHS", "BASELINE_HIDDEN_SIZES", "DenseNetwork", "describe_baseline", "fair_classical_baseline",
           "train_classical_baseline"]

# the validation search of fair_classical_baseline: hidden sizes and epoch counts (the tutorial's
# fair model is 16-2-1 trained for 20 epochs)
BASELINE_HIDDEN_SIZES = (1, 2, 4, 8)
BASELINE_EPOCHS = (10, 20, 40, 80)


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


def fair_classical_baseline(
    dataset: Dataset,
    seed: int = 0,
    *,
    hidden_sizes: Sequence[int] = BASELINE_HIDDEN_SIZES,
    epoch_counts: Sequence[int] = BASELINE_EPOCHS,
    batch_size: int = 32,
    lr: float = 0.01,
    validation_fraction: float = 0.2,
    output_activation: str = "tanh",
) -> dict[str, Any]:
    """The classical baseline the CLI (``qcomp train --baseline``) and the API report: a
    ``features-hidden-1`` dense network (hinge loss, Adam) whose hidden size and epoch count are
    chosen on a validation split, like the TFQ tutorial's "fair" model.

    Every hidden size in ``hidden_sizes`` is trained once for ``max(epoch_counts)`` epochs and scored
    after each count in ``epoch_counts`` on the validation split (the dataset's own, or
    ``validation_fraction`` of the training examples split off with ``seed`` when it has none):
    highest validation hinge accuracy, then lowest validation loss, then fewer parameters and
    fewer epochs. The chosen network is then trained afresh on the whole training split (the
    examples the quantum model trains on) and scored on the test split. Deterministic for a
    ``seed``. Returns :func:`train_classical_baseline`'s dict plus ``architecture`` (``"16-2-1"``),
    ``n_hidden``, ``epochs``, ``validation`` (what it was scored on) and ``search`` (one row per
    candidate: hidden, epochs, n_params, val_hinge_accuracy, val_loss).

    Example:
        >>> from qcomp.train.data import load_data
        >>> out = fair_classical_baseline(load_data("digits:3,6"), seed=0)
        >>> out["architecture"] == f"16-{out['n_hidden']}-1", out["epochs"] in BASELINE_EPOCHS
        (True, True)
    """
    hidden = sorted({int(h) for h in hidden_sizes})
    counts = sorted({int(e) for e in epoch_counts})
    if not hidden or not counts or hidden[0] < 1 or counts[0] < 1:
        raise TrainConfigError("the baseline search needs positive hidden sizes and epoch counts")
    y = np.asarray(dataset.y_train)
    if y.ndim != 1:
        raise TrainConfigError("the classical baseline trains one output on one label per example "
                               f"(the labels have shape {y.shape})")
    if dataset.has_validation:
        x_fit, y_fit, x_val, y_val = dataset.x_train, dataset.y_train, dataset.x_val, dataset.y_val
        validation = f"the validation split ({len(y_val)} examples)"
    else:
        x_fit, y_fit, x_val, y_val = _split(np.asarray(dataset.x_train), y, validation_fraction, seed)
        validation = (f"{len(y_val)} training examples held out ({validation_fraction:g} of the training split, "
                      f"seed {seed})")
    search_data = Dataset(x_fit, y_fit, x_val, y_val, x_val=x_val, y_val=y_val, description="baseline search")
    rows = []
    for h in hidden:
        run = train_classical_baseline(search_data, epochs=counts[-1], batch_size=batch_size, lr=lr, seed=seed,
                                       n_hidden=h, output_activation=output_activation)
        for e in counts:
            logs = run["history"][e - 1]
            rows.append({"hidden": h, "epochs": e, "n_params": run["n_params"],
                         "val_hinge_accuracy": float(logs["val_hinge_accuracy"]), "val_loss": float(logs["val_loss"])})
    best = min(rows, key=lambda r: (-r["val_hinge_accuracy"], r["val_loss"], r["n_params"], r["epochs"]))
    out = train_classical_baseline(dataset, epochs=best["epochs"], batch_size=batch_size, lr=lr, seed=seed,
                                   n_hidden=best["hidden"], output_activation=output_activation)
    out.update(architecture=f"{dataset.n_features}-{best['hidden']}-1", n_hidden=best["hidden"],
               epochs=best["epochs"], validation=validation, search=rows,
               hidden_sizes=tuple(hidden), epoch_counts=tuple(counts))
    return out


def describe_baseline(result: dict[str, Any]) -> str:
    """One line about a :func:`fair_classical_baseline` result (what the CLI and the example print)."""
    acc = result.get("test_hinge_accuracy")
    score = "n/a" if acc is None or not np.isfinite(acc) else f"{acc:.4f}"
    return (f"classical baseline {result['architecture']} ({result['n_params']} params, {result['epochs']} epochs; "
            f"hidden size and epochs chosen on {result['validation']} from hidden sizes "
            f"{', '.join(map(str, result['hidden_sizes']))} and epochs {', '.join(map(str, result['epoch_counts']))}): "
            f"test hinge accuracy {score}")
