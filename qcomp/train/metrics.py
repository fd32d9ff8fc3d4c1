"""Classification metrics for expectation-value model outputs."""

from __future__ import annotations

import numpy as np

from qcomp.train.errors import TrainConfigError

__all__ = ["accuracy", "hinge_accuracy"]


def _pred2d(y_pred: np.ndarray) -> np.ndarray:
    p = np.asarray(y_pred, dtype=np.float64)
    if p.ndim == 1:
        p = p.reshape(-1, 1)
    if p.ndim != 2:
        raise TrainConfigError(f"y_pred must have shape (batch, n_outputs), got shape {p.shape}")
    return p


def accuracy(y_pred: np.ndarray, y_true: np.ndarray) -> float:
    """Fraction of correct predictions.

    With several outputs the predicted class is ``argmax(y_pred, axis=1)`` and labels are
    integer class indices.  With a single output the prediction is ``+1`` if
    ``y_pred > 0`` else ``-1`` and labels are {-1, +1} (or {0, 1}: positive means class +1).

    Example:
        >>> accuracy(np.array([[0.3], [-0.2], [0.1]]), np.array([1, -1, -1]))
        0.6666666666666666
        >>> accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1]))
        0.5
    """
    p = _pred2d(y_pred)
    t = np.asarray(y_true).reshape(-1)
    if t.shape[0] != p.shape[0]:
        raise TrainConfigError(f"y_true has {t.shape[0]} labels but y_pred has batch size {p.shape[0]}")
    if p.shape[0] == 0:
        return float("nan")
    if p.shape[1] == 1:
        return float(np.mean((p[:, 0] > 0) == (t > 0)))
    return float(np.mean(np.argmax(p, axis=1) == t.astype(np.int64)))


def hinge_accuracy(y_pred: np.ndarray, y_true: np.ndarray) -> float:
    """The TFQ tutorial's metric: mean of ``(y_true > 0) == (y_pred > 0)``, elementwise.

    ``y_pred`` of shape (B, 1) is compared with labels of shape (B,) or (B, 1); with
    several outputs ``y_true`` must have the same (B, O) shape.

    Example:
        >>> hinge_accuracy(np.array([[0.3], [-0.2]]), np.array([1.0, 1.0]))
        0.5
    """
    p = _pred2d(y_pred)
    t = np.asarray(y_true, dtype=np.float64)
    if p.shape[1] == 1 and t.ndim == 1:
        t = t.reshape(-1, 1)
    if t.shape != p.shape:
        raise TrainConfigError(
            f"hinge_accuracy needs y_true shaped like y_pred {p.shape}, got {t.shape}"
        )
    if p.size == 0:
        return float("nan")
    return float(np.mean((t > 0) == (p > 0)))
