"""Minibatch training loop for differentiable models with early stopping and exact-resume checkpoints."""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from tqdm.auto import tqdm

from qcomp.errors import DataError
from qcomp.train.checkpoint import CHECKPOINT_FORMAT, data_fingerprint, load_checkpoint, restore, save_checkpoint
from qcomp.train.data import Dataset, iterate_minibatches, validate_dataset
from qcomp.train.errors import TrainConfigError, TrainingError
from qcomp.train.losses import Loss, get_loss
from qcomp.train.metrics import accuracy, hinge_accuracy
from qcomp.train.optimizers import Optimizer, get_optimizer
from qcomp.train.state import RunInfo, TrainState

__all__ = [
    "CHECKPOINT_FORMAT",
    "Callback",
    "Differentiable",
    "TrainResult",
    "TrainingInterrupted",
    "evaluate",
    "fit",
    "init_params",
    "load_checkpoint",
    "run_epoch",
]

Callback = Callable[[int, dict[str, float], np.ndarray], "bool | None"]
"""Called after every epoch as ``callback(epoch, logs, params)``; returning True stops training."""


@runtime_checkable
class Differentiable(Protocol):
    """What :func:`fit` needs from a model (a compiled circuit, or any numpy model).

    ``expval(params (P,), inputs (B, I)) -> (B, O)`` expectation values, and
    ``vjp(params, inputs, cotangent (B, O)) -> (P,)``, the gradient of
    ``sum(cotangent * expval(params, inputs))`` w.r.t. ``params``.
    Optional attributes ``n_inputs`` and ``n_params`` (ints) are checked when present.
    """

    def expval(self, params: np.ndarray, inputs: np.ndarray) -> np.ndarray: ...

    def vjp(self, params: np.ndarray, inputs: np.ndarray, cotangent: np.ndarray) -> np.ndarray: ...


@dataclass
class TrainResult:
    """Outcome of :func:`fit`.

    ``params`` are the final parameters (the best ones when ``restore_best`` was set),
    ``history`` has one dict per completed epoch (``epoch``, ``loss``, ``accuracy``,
    ``hinge_accuracy``, ``val_*`` with a validation split, ``time_s``), ``stop_reason`` is
    ``"completed"``, ``"early_stopping"``, ``"callback"`` or ``"interrupted"``.
    """

    params: np.ndarray
    history: list[dict[str, float]]
    epochs_completed: int
    stop_reason: str = "completed"
    monitor: str | None = None
    best_epoch: int | None = None
    best_value: float | None = None
    best_params: np.ndarray | None = None
    test_metrics: dict[str, float] | None = None
    checkpoint_path: str | None = None
    resumed_from_epoch: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def stopped_early(self) -> bool:
        """True when early stopping ended training."""
        return self.stop_reason == "early_stopping"

    @property
    def interrupted(self) -> bool:
        """True when a KeyboardInterrupt ended training (see :class:`TrainingInterrupted`)."""
        return self.stop_reason == "interrupted"


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by :func:`fit` on Ctrl-C; ``.result`` holds the state after the last completed epoch.

    It is a ``KeyboardInterrupt``, so uncaught it still ends the program as usual; the last
    checkpoint on disk is intact and ``fit(..., resume_from=path)`` continues exactly.
    """

    def __init__(self, result: TrainResult) -> None:
        super().__init__(
            f"training interrupted after {result.epochs_completed} completed epoch(s)"
        )
        self.result = result


def init_params(
    n: int, seed: int = 0, *, scale: float = np.pi, distribution: str = "uniform"
) -> np.ndarray:
    """Seeded initial parameters: uniform in ``[-scale, scale]`` or normal with std ``scale``.

    The default (uniform angles in [-pi, pi]) matches TFQ's PQC initialiser up to a shift
    of 2*pi; use a small ``scale`` to start near the identity circuit.

    Example:
        >>> p = init_params(4, seed=1, scale=0.1)
        >>> p.shape, bool(np.all(np.abs(p) <= 0.1))
        ((4,), True)
    """
    if int(n) < 0:
        raise TrainConfigError(f"number of parameters must be non-negative, got {n}")
    if not np.isfinite(scale) or scale < 0:
        raise TrainConfigError(f"init scale must be a non-negative number, got {scale}")
    rng = np.random.default_rng(seed)
    if distribution == "uniform":
        return rng.uniform(-scale, scale, size=int(n))
    if distribution == "normal":
        return rng.normal(0.0, scale, size=int(n))
    raise TrainConfigError(f"unknown init distribution {distribution!r}; use 'uniform' or 'normal'")


def _forward(model: Differentiable, params: np.ndarray, x: np.ndarray) -> np.ndarray:
    out = np.asarray(model.expval(params, x), dtype=np.float64)
    if out.ndim != 2 or out.shape[0] != x.shape[0]:
        raise TrainingError(
            f"model.expval returned shape {out.shape} for a batch of {x.shape[0]} inputs; "
            "expected (batch, n_outputs)"
        )
    return out


def _batch_metrics(y_pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    acc = accuracy(y_pred, y)
    try:
        hacc = hinge_accuracy(y_pred, y)
    except TrainConfigError:  # multi-output with class-index labels
        hacc = float("nan")
    return acc, hacc


def evaluate(
    model: Differentiable,
    params: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    loss: str | Loss = "hinge",
    *,
    batch_size: int | None = None,
) -> dict[str, float]:
    """Loss, accuracy and hinge accuracy of ``model`` on ``(x, y)``.

    ``hinge_accuracy`` is NaN for multi-output models with class-index labels.
    ``batch_size`` bounds how many examples are simulated at once (default: all).

    Example:
        >>> class Lin:
        ...     def expval(self, p, x): return x @ p[:, None]
        ...     def vjp(self, p, x, c): return x.T @ c[:, 0]
        >>> evaluate(Lin(), np.array([1.0]), np.array([[2.0], [-1.0]]), np.array([1, -1]))
        {'loss': 0.0, 'accuracy': 1.0, 'hinge_accuracy': 1.0}
    """
    loss_fn = get_loss(loss)
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y)
    p = np.asarray(params, dtype=np.float64)
    n = xs.shape[0]
    if n == 0:
        raise DataError("empty dataset: cannot evaluate on 0 examples")
    bs = n if batch_size is None else int(batch_size)
    preds = [_forward(model, p, xs[idx]) for idx in iterate_minibatches(n, bs, shuffle=False)]
    y_pred = np.concatenate(preds, axis=0)
    acc, hacc = _batch_metrics(y_pred, ys)
    return {"loss": loss_fn.value(y_pred, ys), "accuracy": acc, "hinge_accuracy": hacc}


# ----------------------------------------------------------------------------- fit


def _check_labels(loss: Loss, dataset: Dataset, n_outputs: int) -> None:
    for split in ("train", "val", "test"):
        y = getattr(dataset, f"y_{split}")
        if y is None:
            continue
        try:
            loss.check_labels(y, n_outputs)
        except DataError as exc:
            msg = getattr(exc, "message", str(exc))
            raise DataError(f"y_{split}: {msg}") from None


def _fmt(v: float) -> str:
    return f"{v:.4f}"


def _value_and_grad(model: Differentiable, params: np.ndarray, xb: np.ndarray, yb: np.ndarray,
                    loss_fn: Loss) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and the loss gradient of one minibatch.

    Models with ``value_and_vjp`` (qcomp's simulator) get the cotangent per memory chunk from the
    chunk's own predictions, saving the separate forward pass; this relies on every loss being a
    mean of per-row terms, so a chunk's rows get ``loss.grad(chunk) * len(chunk) / len(batch)``.
    """
    if hasattr(model, "value_and_vjp"):
        n = len(yb)

        def cotangent(values: np.ndarray, rows: slice) -> np.ndarray:
            return loss_fn.grad(values, yb[rows]) * (values.shape[0] / n)

        y_pred, g = model.value_and_vjp(params, xb, cotangent)
        return np.asarray(y_pred, dtype=np.float64), np.asarray(g, dtype=np.float64)
    y_pred = _forward(model, params, xb)
    cot = loss_fn.grad(y_pred, yb)
    return y_pred, np.asarray(model.vjp(params, xb, cot), dtype=np.float64)


def fit(
    model: Differentiable,
    params0: np.ndarray,
    dataset: Dataset,
    *,
    loss: str | Loss = "hinge",
    optimizer: str | Optimizer = "adam",
    epochs: int = 10,
    batch_size: int = 32,
    seed: int = 0,
    callbacks: Sequence[Callback] | None = None,
    early_stopping_patience: int | None = None,
    min_delta: float = 0.0,
    restore_best: bool = False,
    checkpoint_path: str | os.PathLike[str] | None = None,
    resume_from: str | os.PathLike[str] | None = None,
    progress: bool = True,
    evaluate_test: bool = True,
    eval_batch_size: int | None = None,
) -> TrainResult:
    """Train ``model`` (a :class:`Differentiable`) on ``dataset`` with minibatch gradient descent.

    Each epoch shuffles the training set with a ``seed``-ed generator, steps the optimizer
    once per minibatch, and logs the batch-weighted mean training loss/accuracy (Keras
    style, no extra pass) and, with a validation split, the validation loss/accuracy.

    * ``early_stopping_patience``: stop when the monitored value (``val_loss``, or the
      training ``loss`` without a validation split) has not improved by more than
      ``min_delta`` for that many epochs; ``restore_best`` returns the best parameters.
    * ``checkpoint_path``: after every epoch, an ``.npz`` with parameters, optimizer
      state, epoch, history, early-stopping state and the shuffling RNG state is written
      atomically.  ``resume_from`` continues such a run exactly (bit-identical final
      parameters); ``epochs`` is the total, including the epochs already done.
    * Ctrl-C raises :class:`TrainingInterrupted` (a ``KeyboardInterrupt``) carrying the
      result after the last completed epoch; the last checkpoint is left intact.
    * ``callbacks``: ``cb(epoch, logs, params)`` after each epoch; returning True stops.
    * ``optimizer``/``loss`` may be names (``get_optimizer``/``get_loss`` defaults) or
      instances; an optimizer instance is updated in place.

    Bad data (empty splits, NaN, labels the loss cannot use, feature count different from
    ``model.n_inputs``) raises :class:`DataError` before any training work.  With
    ``evaluate_test`` the final parameters are scored on the test split.

    Example:
        >>> class Lin:
        ...     def expval(self, p, x): return np.tanh(x @ p[:, None])
        ...     def vjp(self, p, x, c):
        ...         y = np.tanh(x @ p[:, None]); return x.T @ (c * (1 - y**2))[:, 0]
        >>> x = np.array([[1.0, 0.2], [-1.0, 0.1], [0.8, -0.3], [-0.9, 0.0]])
        >>> ds = Dataset(x, np.array([1, -1, 1, -1]), x, np.array([1, -1, 1, -1]))
        >>> res = fit(Lin(), np.zeros(2), ds, optimizer=get_optimizer("adam", lr=0.1),
        ...           epochs=20, batch_size=2, progress=False)
        >>> res.history[-1]["loss"] < res.history[0]["loss"], res.test_metrics["accuracy"]
        (True, 1.0)
    """
    epochs, batch_size, loss_fn, opt, params = _checked_options(
        model, params0, dataset, loss, optimizer, epochs, batch_size, early_stopping_patience)
    has_val = dataset.has_validation
    monitor = "val_loss" if has_val else "loss"
    if early_stopping_patience is not None and not has_val:
        warnings.warn(
            "early stopping without a validation split monitors the training loss",
            RuntimeWarning,
            stacklevel=2,
        )
    state = TrainState.start(params, opt, seed)
    run = RunInfo(monitor=monitor, loss=loss_fn.name, seed=int(seed), batch_size=batch_size,
                  data_fingerprint=data_fingerprint(dataset))
    resumed_from: int | None = None
    if resume_from is not None:
        if restore(resume_from, state, run, stacklevel=2) == "early_stopping":
            epochs = state.epoch  # that run is over: return its result without training
            state.stop_reason = "early_stopping"
        resumed_from = state.epoch

    ckpt = Path(checkpoint_path) if checkpoint_path is not None else None
    callbacks = list(callbacks or [])
    show = bool(progress) and bool(getattr(sys.stderr, "isatty", lambda: False)())
    written: int | None = None  # the epoch of the checkpoint this call wrote

    try:
        for epoch in range(state.epoch + 1, epochs + 1):
            logs = run_epoch(model, state, dataset, loss_fn, epoch=epoch, epochs=epochs, batch_size=batch_size,
                             show=show, eval_batch_size=eval_batch_size)
            reason = _end_epoch(state, epoch, logs, monitor, min_delta, early_stopping_patience, callbacks)
            if ckpt is not None:
                save_checkpoint(ckpt, state, reason, run)
                written = epoch
            if reason != "completed":
                state.stop_reason = reason
                break
    except KeyboardInterrupt as exc:
        if isinstance(exc, TrainingInterrupted):
            raise
        raise TrainingInterrupted(_result(state, "interrupted", restore_best, monitor, ckpt, resumed_from,
                                          written)) from exc

    final = _result(state, state.stop_reason, restore_best, monitor, ckpt, resumed_from, written)
    if evaluate_test:
        final.test_metrics = evaluate(model, final.params, dataset.x_test, dataset.y_test,
                                      loss_fn, batch_size=eval_batch_size)
    return final


def _checked_options(model: Any, params0: np.ndarray, dataset: Any, loss: str | Loss,
                     optimizer: str | Optimizer, epochs: int, batch_size: int,
                     early_stopping_patience: int | None) -> tuple[int, int, Loss, Optimizer, np.ndarray]:
    """Check :func:`fit`'s options and data (cheap, before any training work).

    Returns ``(epochs, batch_size, loss, optimizer, params)`` with params a float64 copy of ``params0``.
    """
    if not isinstance(dataset, Dataset):
        raise TrainConfigError(f"dataset must be a qcomp.train.Dataset, got {type(dataset).__name__}")
    if not isinstance(model, Differentiable):
        raise TrainConfigError(
            f"model {type(model).__name__} does not implement the Differentiable protocol "
            "(expval(params, inputs) and vjp(params, inputs, cotangent))"
        )
    if int(epochs) < 0:
        raise TrainConfigError(f"epochs must be non-negative, got {epochs}")
    if int(batch_size) <= 0:
        raise TrainConfigError(f"batch_size must be a positive integer, got {batch_size}")
    if early_stopping_patience is not None and int(early_stopping_patience) < 0:
        raise TrainConfigError(f"early_stopping_patience must be >= 0, got {early_stopping_patience}")
    loss_fn = get_loss(loss)
    opt = get_optimizer(optimizer)
    params = np.array(params0, dtype=np.float64, copy=True)
    if params.ndim != 1:
        raise TrainConfigError(f"params0 must be a 1-D array, got shape {params.shape}")
    if not np.all(np.isfinite(params)):
        raise TrainConfigError("params0 contains NaN or inf values")
    n_params_attr = getattr(model, "n_params", None)
    if isinstance(n_params_attr, (int, np.integer)) and params.shape[0] != int(n_params_attr):
        raise TrainConfigError(
            f"params0 has {params.shape[0]} entries but the model has {int(n_params_attr)} parameters"
        )
    n_inputs_attr = getattr(model, "n_inputs", None)
    if isinstance(n_inputs_attr, (int, np.integer)):
        validate_dataset(dataset, expected_features=int(n_inputs_attr))
    n_outputs = _forward(model, params, dataset.x_train[:1]).shape[1]
    _check_labels(loss_fn, dataset, n_outputs)
    return int(epochs), int(batch_size), loss_fn, opt, params


def run_epoch(model: Differentiable, state: TrainState, dataset: Dataset, loss_fn: Loss, *, epoch: int,
              epochs: int, batch_size: int, show: bool = False,
              eval_batch_size: int | None = None) -> dict[str, float]:
    """One pass over the shuffled training split: an optimizer step per minibatch, then validation.

    Updates ``state.params``, the optimizer and ``state.rng`` in place and returns the epoch's logs:
    the batch-weighted mean training loss/accuracy (Keras style, no extra pass), ``val_*`` with a
    validation split, and ``time_s``. ``show`` draws a tqdm bar on stderr.
    """
    t0 = time.perf_counter()
    n_train = dataset.n_train
    tot_loss = tot_acc = tot_hacc = 0.0
    seen = 0
    bar = tqdm(
        total=-(-n_train // batch_size), desc=f"epoch {epoch}/{epochs}", unit="batch",
        disable=not show, leave=True, file=sys.stderr,
    )
    try:
        for b, idx in enumerate(iterate_minibatches(n_train, batch_size, state.rng), start=1):
            xb, yb = dataset.x_train[idx], dataset.y_train[idx]
            y_pred, g = _value_and_grad(model, state.params, xb, yb, loss_fn)
            value = loss_fn.value(y_pred, yb)
            if not np.isfinite(value):
                raise TrainingError(
                    f"non-finite training loss at epoch {epoch}, batch {b} "
                    "(try a smaller learning rate)"
                )
            if g.shape != state.params.shape:
                raise TrainingError(
                    f"model.vjp returned shape {g.shape}, expected {state.params.shape}"
                )
            if not np.all(np.isfinite(g)):
                raise TrainingError(f"non-finite gradient at epoch {epoch}, batch {b}")
            state.params = state.optimizer.step(state.params, g)
            acc, hacc = _batch_metrics(y_pred, yb)
            k = idx.shape[0]
            seen += k
            tot_loss += value * k
            tot_acc += acc * k
            tot_hacc += hacc * k
            if show:
                bar.set_postfix(loss=_fmt(tot_loss / seen), acc=_fmt(tot_acc / seen), refresh=False)
            bar.update(1)
        logs: dict[str, float] = {
            "epoch": epoch,
            "loss": tot_loss / seen,
            "accuracy": tot_acc / seen,
            "hinge_accuracy": tot_hacc / seen,
        }
        has_val = dataset.has_validation
        if has_val:
            vm = evaluate(model, state.params, dataset.x_val, dataset.y_val, loss_fn,
                          batch_size=eval_batch_size)
            logs.update({f"val_{k}": v for k, v in vm.items()})
        logs["time_s"] = time.perf_counter() - t0
        if show:
            post = {"loss": _fmt(logs["loss"]), "acc": _fmt(logs["accuracy"])}
            if has_val:
                post.update(val_loss=_fmt(logs["val_loss"]), val_acc=_fmt(logs["val_accuracy"]))
            bar.set_postfix(post)
    finally:
        bar.close()
    return logs


def _end_epoch(state: TrainState, epoch: int, logs: dict[str, float], monitor: str, min_delta: float,
               patience: int | None, callbacks: list[Callback]) -> str:
    """Record ``epoch`` in ``state`` (history, best value, callbacks) and say whether to stop:
    ``"completed"`` to go on, ``"early_stopping"`` or ``"callback"``."""
    state.history.append(logs)
    state.track_best(epoch, logs[monitor], min_delta)
    reason = "completed"
    if patience is not None and state.wait >= int(patience) and state.wait > 0:
        reason = "early_stopping"
    for cb in callbacks:
        if cb(epoch, dict(logs), state.params.copy()) and reason == "completed":
            reason = "callback"
    # only now is the epoch complete: Ctrl-C in a callback reports the epoch before
    state.epoch, state.epoch_params = epoch, state.params.copy()
    return reason


def _result(state: TrainState, reason: str, restore_best: bool, monitor: str, checkpoint: Path | None,
            resumed_from: int | None, checkpoint_epoch: int | None) -> TrainResult:
    """The :class:`TrainResult` of ``state`` after its last completed epoch.

    ``checkpoint_epoch`` is the epoch in the checkpoint this call wrote (None when it wrote none,
    e.g. after Ctrl-C in its first epoch).
    """
    final = state.epoch_params
    if restore_best and state.best_params is not None:
        final = state.best_params
    return TrainResult(
        params=final.copy(),
        history=[dict(h) for h in state.history],
        epochs_completed=state.epoch,
        stop_reason=reason,
        monitor=monitor,
        best_epoch=state.best_epoch,
        best_value=None if state.best_epoch is None else state.best_value,
        best_params=None if state.best_params is None else state.best_params.copy(),
        checkpoint_path=None if checkpoint is None else str(checkpoint),
        resumed_from_epoch=resumed_from,
        extra={"checkpoint_epoch": checkpoint_epoch},
    )
