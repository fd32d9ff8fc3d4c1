"""Loss functions with analytic gradients w.r.t. model outputs (mean over the batch)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from qcomp.errors import DataError
from qcomp.train.errors import TrainConfigError

__all__ = [
    "BinaryCrossEntropy",
    "HingeLoss",
    "LOSSES",
    "Loss",
    "SoftmaxCrossEntropy",
    "SquaredLoss",
    "get_loss",
]


def _as_pred(y_pred: Any) -> np.ndarray:
    arr = np.asarray(y_pred, dtype=np.float64)
    if arr.ndim != 2:
        raise TrainConfigError(
            f"y_pred must have shape (batch, n_outputs), got shape {arr.shape}"
        )
    return arr


def _as_column_targets(y_pred: np.ndarray, y_true: Any) -> np.ndarray:
    """Targets broadcast to ``y_pred``'s shape: (B,) or (B, 1) with one output, else (B, O)."""
    t = np.asarray(y_true, dtype=np.float64)
    b, o = y_pred.shape
    if t.ndim == 1 and t.shape[0] == b and o == 1:
        return t.reshape(b, 1)
    if t.shape == y_pred.shape:
        return t
    raise TrainConfigError(
        f"y_true of shape {t.shape} does not match y_pred of shape {y_pred.shape}; "
        "use (batch,) labels for a single output or (batch, n_outputs) targets"
    )


def _pm1(t: np.ndarray) -> np.ndarray:
    """Map {0, 1} labels to {-1, +1} (like tf.keras.losses.Hinge); leaves {-1, +1} unchanged."""
    if np.all((t == 0) | (t == 1)):
        return 2.0 * t - 1.0
    return t


def _check_binary_labels(y: np.ndarray, what: str) -> None:
    vals = np.unique(y)
    ok = set(vals.tolist()) <= {-1.0, 1.0} or set(vals.tolist()) <= {0.0, 1.0}
    if not ok:
        bad = [v for v in vals.tolist() if v not in (-1.0, 0.0, 1.0)]
        shown = bad if bad else vals.tolist()
        raise DataError(
            f"labels outside the expected set for {what}: expected {{-1, +1}} or {{0, 1}}, "
            f"found {_fmt_values(shown)}"
        )


def _fmt_values(values: list[float], limit: int = 8) -> str:
    def fmt(v: float) -> str:
        return str(int(v)) if float(v).is_integer() else repr(float(v))

    parts = [fmt(v) for v in values[:limit]]
    if len(values) > limit:
        parts.append("...")
    return "[" + ", ".join(parts) + "]"


class Loss:
    """Base class: ``value`` is the batch-mean loss, ``grad`` is dL/dy_pred (includes 1/batch)."""

    name: str = "loss"

    def value(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        """Mean loss over the batch."""
        raise NotImplementedError

    def grad(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        """Gradient of :meth:`value` w.r.t. ``y_pred`` (same shape as ``y_pred``)."""
        raise NotImplementedError

    def value_and_grad(self, y_pred: np.ndarray, y_true: np.ndarray) -> tuple[float, np.ndarray]:
        """Both :meth:`value` and :meth:`grad`."""
        return self.value(y_pred, y_true), self.grad(y_pred, y_true)

    def check_labels(self, y_true: np.ndarray, n_outputs: int) -> None:
        """Raise :class:`DataError` if ``y_true`` cannot be used with this loss (default: finite)."""
        y = np.asarray(y_true)
        if not np.all(np.isfinite(y.astype(np.float64, copy=False))):
            raise DataError(f"labels contain NaN or inf values (loss {self.name!r})")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class HingeLoss(Loss):
    """Mean of ``max(0, 1 - y * y_pred)`` over all entries, like ``tf.keras.losses.Hinge``.

    Labels are in {-1, +1}; {0, 1} labels are mapped to {-1, +1} as Keras does.

    Example:
        >>> loss = HingeLoss()
        >>> loss.value(np.array([[0.5], [-2.0]]), np.array([1, -1]))
        0.25
        >>> loss.grad(np.array([[0.5], [-2.0]]), np.array([1, -1])).ravel().tolist()
        [-0.5, 0.0]
    """

    name = "hinge"

    def value(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        p = _as_pred(y_pred)
        t = _pm1(_as_column_targets(p, y_true))
        return float(np.mean(np.maximum(0.0, 1.0 - t * p)))

    def grad(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        p = _as_pred(y_pred)
        t = _pm1(_as_column_targets(p, y_true))
        active = (1.0 - t * p) > 0.0
        return np.where(active, -t, 0.0) / p.size

    def check_labels(self, y_true: np.ndarray, n_outputs: int) -> None:
        super().check_labels(y_true, n_outputs)
        _check_binary_labels(np.asarray(y_true, dtype=np.float64), "the hinge loss")


class SquaredLoss(Loss):
    """Mean squared error ``mean((y_pred - y)^2)`` over all entries.

    Example:
        >>> SquaredLoss().value(np.array([[1.0], [0.0]]), np.array([0.0, 0.0]))
        0.5
    """

    name = "squared"

    def value(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        p = _as_pred(y_pred)
        t = _as_column_targets(p, y_true)
        return float(np.mean((p - t) ** 2))

    def grad(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        p = _as_pred(y_pred)
        t = _as_column_targets(p, y_true)
        return 2.0 * (p - t) / p.size


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy on ``p = (1 + y_pred[:, 0]) / 2`` (an expectation in [-1, 1] as a probability).

    ``p`` is the probability of the positive class (label +1 or 1); labels may be
    {-1, +1} or {0, 1}.  ``p`` is clipped to ``[eps, 1 - eps]``; the gradient is
    zero where the clip is active.  Only the first output column receives gradient.

    Example:
        >>> round(BinaryCrossEntropy().value(np.array([[0.0]]), np.array([1])), 4)
        0.6931
    """

    name = "bce"

    def __init__(self, eps: float = 1e-7) -> None:
        if not 0.0 < eps < 0.5:
            raise TrainConfigError(f"BinaryCrossEntropy eps must be in (0, 0.5), got {eps}")
        self.eps = float(eps)

    def _prep(self, y_pred: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pred = _as_pred(y_pred)
        t = np.asarray(y_true, dtype=np.float64).reshape(-1)
        if t.shape[0] != pred.shape[0]:
            raise TrainConfigError(
                f"y_true has {t.shape[0]} labels but y_pred has batch size {pred.shape[0]}"
            )
        t = (t > 0).astype(np.float64)  # {-1,+1} or {0,1} -> {0,1}
        raw = (1.0 + pred[:, 0]) / 2.0
        return pred, t, raw

    def value(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        _, t, raw = self._prep(y_pred, y_true)
        p = np.clip(raw, self.eps, 1.0 - self.eps)
        return float(-np.mean(t * np.log(p) + (1.0 - t) * np.log1p(-p)))

    def grad(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        pred, t, raw = self._prep(y_pred, y_true)
        p = np.clip(raw, self.eps, 1.0 - self.eps)
        inside = (raw > self.eps) & (raw < 1.0 - self.eps)
        dp = -(t / p - (1.0 - t) / (1.0 - p)) / pred.shape[0]
        g = np.zeros_like(pred)
        g[:, 0] = np.where(inside, dp * 0.5, 0.0)
        return g

    def check_labels(self, y_true: np.ndarray, n_outputs: int) -> None:
        super().check_labels(y_true, n_outputs)
        _check_binary_labels(np.asarray(y_true, dtype=np.float64), "binary cross-entropy")

    def __repr__(self) -> str:
        return f"BinaryCrossEntropy(eps={self.eps!r})"


class SoftmaxCrossEntropy(Loss):
    """Softmax cross-entropy over the outputs with integer class labels in ``[0, n_outputs)``.

    Logits are ``scale * y_pred``: expectation values live in [-1, 1], so a scale > 1
    lets the softmax become confident.

    Example:
        >>> loss = SoftmaxCrossEntropy(scale=1.0)
        >>> round(loss.value(np.array([[0.0, 0.0]]), np.array([1])), 4)
        0.6931
        >>> loss.grad(np.array([[0.0, 0.0]]), np.array([1])).tolist()
        [[0.5, -0.5]]
    """

    name = "softmax-ce"

    def __init__(self, scale: float = 1.0) -> None:
        if not np.isfinite(scale) or scale <= 0:
            raise TrainConfigError(f"SoftmaxCrossEntropy scale must be a positive number, got {scale}")
        self.scale = float(scale)

    def _prep(self, y_pred: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pred = _as_pred(y_pred)
        labels = np.asarray(y_true).reshape(-1)
        if labels.shape[0] != pred.shape[0]:
            raise TrainConfigError(
                f"y_true has {labels.shape[0]} labels but y_pred has batch size {pred.shape[0]}"
            )
        idx = labels.astype(np.int64)
        if np.any(idx != labels) or np.any(idx < 0) or np.any(idx >= pred.shape[1]):
            raise DataError(
                f"softmax-ce labels must be integers in [0, {pred.shape[1]}), "
                f"found {_fmt_values(np.unique(labels).tolist())}"
            )
        z = self.scale * pred
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return pred, idx, logp

    def value(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        pred, idx, logp = self._prep(y_pred, y_true)
        return float(-np.mean(logp[np.arange(pred.shape[0]), idx]))

    def grad(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        pred, idx, logp = self._prep(y_pred, y_true)
        g = np.exp(logp)
        g[np.arange(pred.shape[0]), idx] -= 1.0
        return self.scale * g / pred.shape[0]

    def check_labels(self, y_true: np.ndarray, n_outputs: int) -> None:
        super().check_labels(y_true, n_outputs)
        labels = np.asarray(y_true, dtype=np.float64).reshape(-1)
        bad = np.unique(labels[(labels != np.round(labels)) | (labels < 0) | (labels >= n_outputs)])
        if bad.size:
            raise DataError(
                f"labels outside the expected set for softmax-ce: expected integers in "
                f"[0, {n_outputs}) (one class per model output), found {_fmt_values(bad.tolist())}"
            )

    def __repr__(self) -> str:
        return f"SoftmaxCrossEntropy(scale={self.scale!r})"


LOSSES: dict[str, Callable[..., Loss]] = {
    "hinge": HingeLoss,
    "squared": SquaredLoss,
    "bce": BinaryCrossEntropy,
    "softmax-ce": SoftmaxCrossEntropy,
}


def get_loss(name: str | Loss, **kwargs: Any) -> Loss:
    """Return a loss by name (``hinge``, ``squared``, ``bce``, ``softmax-ce``); a Loss passes through.

    Keyword arguments go to the constructor (e.g. ``scale`` for ``softmax-ce``).

    Example:
        >>> get_loss("softmax-ce", scale=5.0)
        SoftmaxCrossEntropy(scale=5.0)
    """
    if isinstance(name, Loss):
        if kwargs:
            raise TrainConfigError("loss options cannot be given together with a Loss instance")
        return name
    key = str(name).strip().lower()
    if key not in LOSSES:
        raise TrainConfigError(
            f"unknown loss {name!r}; valid losses are: {', '.join(sorted(LOSSES))}"
        )
    try:
        return LOSSES[key](**kwargs)
    except TypeError as exc:
        raise TrainConfigError(f"bad options for loss {key!r}: {exc}") from None
