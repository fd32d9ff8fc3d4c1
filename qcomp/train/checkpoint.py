"""Training checkpoints: the .npz format, atomic writes, reading, and restoring a run's state from one."""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from qcomp._io import CHECKPOINT_PREFIX, atomic_write_bytes, read_numpy
from qcomp.train.data import Dataset
from qcomp.train.errors import CheckpointError
from qcomp.train.state import RunInfo, TrainState

__all__ = ["CHECKPOINT_FORMAT", "data_fingerprint", "load_checkpoint", "restore", "save_checkpoint"]

CHECKPOINT_FORMAT = CHECKPOINT_PREFIX + "1"
# what resuming reads besides the arrays: a checkpoint without them is corrupt
_CHECKPOINT_META = ("history", "rng_state", "stop_reason", "best_value", "best_epoch", "wait")
# RunInfo fields a resume compares with the checkpoint, in the order its warnings come
_COMPARED = ("loss", "batch_size", "seed", "data_fingerprint")


def data_fingerprint(dataset: Dataset) -> str:
    """A short hash of the training split (shapes and bytes), so a resume on other data warns."""
    h = hashlib.sha256()
    for arr in (dataset.x_train, dataset.y_train):
        a = np.ascontiguousarray(arr)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def save_checkpoint(path: Path, state: TrainState, stop_reason: str, run: RunInfo) -> None:
    """Write the state after ``state.epoch`` to ``path`` atomically (see :func:`write_checkpoint`)."""
    write_checkpoint(path, {
        "params": state.params,
        "epoch": state.epoch,
        "optimizer": state.optimizer.state_dict(),
        "history": state.history,
        "rng_state": state.rng.bit_generator.state,
        "stop_reason": stop_reason,
        "best_value": None if state.best_epoch is None else state.best_value,
        "best_epoch": state.best_epoch,
        "best_params": state.best_params,
        "wait": state.wait,
        "monitor": run.monitor,
        "loss": run.loss,
        "seed": run.seed,
        "batch_size": run.batch_size,
        "data_fingerprint": run.data_fingerprint,
    })


def write_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (temp file in the same directory, then os.replace).

    Arrays (params, epoch, best params, the optimizer's array state) are .npz members; everything
    else is one JSON string member ``meta``, with the optimizer's scalars under ``optimizer_scalars``.
    """
    arrays: dict[str, np.ndarray] = {
        "format": np.array(CHECKPOINT_FORMAT),
        "params": np.asarray(state["params"], dtype=np.float64),
        "epoch": np.array(state["epoch"], dtype=np.int64),
    }
    if state.get("best_params") is not None:
        arrays["best_params"] = np.asarray(state["best_params"], dtype=np.float64)
    opt_scalars: dict[str, Any] = {}
    for k, v in state["optimizer"].items():
        if isinstance(v, np.ndarray):
            arrays[f"opt.{k}"] = v
        else:
            opt_scalars[k] = v.item() if isinstance(v, np.generic) else v
    meta = {k: v for k, v in state.items() if k not in ("params", "best_params", "optimizer", "epoch")}
    meta["optimizer_scalars"] = opt_scalars
    arrays["meta"] = np.array(json.dumps(meta))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`qcomp.train.fit` into a dict.

    Keys: ``params``, ``epoch``, ``history``, ``optimizer`` (a state dict),
    ``rng_state``, ``stop_reason``, ``best_params``, ``best_value``, ``best_epoch``,
    ``wait``, ``monitor``, ``loss``, ``seed``, ``batch_size``, ``data_fingerprint``.

    Example:
        >>> ckpt = load_checkpoint("run.npz")  # doctest: +SKIP
        >>> ckpt["epoch"], ckpt["history"][-1]["loss"]  # doctest: +SKIP
    """
    p = Path(path)
    files = read_numpy(p, what="checkpoint", error=CheckpointError, checkpoint_params=False)
    if not isinstance(files, dict):
        raise CheckpointError(f"{p} is not a qcomp.train checkpoint: it holds one array (a .npy file);"
                              f" checkpoints are the .npz files 'qcomp train --save' writes")
    if "format" not in files or str(files["format"]) != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{p} is not a qcomp.train checkpoint (format {CHECKPOINT_FORMAT})")
    try:
        meta = json.loads(str(files["meta"]))
        state: dict[str, Any] = dict(meta)
        state["params"] = files["params"].astype(np.float64)
        state["epoch"] = int(files["epoch"])
        state["best_params"] = files.get("best_params")
        opt = dict(meta.pop("optimizer_scalars"))
        state.pop("optimizer_scalars", None)
        for k, v in files.items():
            if k.startswith("opt."):
                opt[k[4:]] = v
        state["optimizer"] = opt
        missing = [k for k in _CHECKPOINT_META if k not in state]
        if missing or not isinstance(state["history"], list):
            raise KeyError(", ".join(missing) or "history")
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"corrupt checkpoint {p}: {exc}") from None
    return state


def restore(path: str | os.PathLike[str], state: TrainState, run: RunInfo, *, stacklevel: int = 1) -> str:
    """Load the checkpoint at ``path`` into ``state``; returns its stop reason.

    A checkpoint of another parameter count is a :class:`CheckpointError`; one of another loss,
    batch size, seed or training data resumes with a ``RuntimeWarning`` (the run will differ from an
    uninterrupted one), attributed as ``warnings.warn(..., stacklevel)`` in the caller would be (1: the
    caller's line; :func:`qcomp.train.fit` passes 2, its own caller's).
    """
    ck = load_checkpoint(path)
    if ck["params"].shape != state.params.shape:
        raise CheckpointError(
            f"checkpoint {path} has {ck['params'].shape[0]} parameters, "
            f"the model has {state.params.shape[0]}"
        )
    for key in _COMPARED:
        now = getattr(run, key)
        if ck.get(key) != now:
            warnings.warn(
                f"resuming with a different {key} than the checkpoint "
                f"({ck.get(key)!r} -> {now!r}); the run will not reproduce an uninterrupted one",
                RuntimeWarning,
                stacklevel=stacklevel + 1,
            )
    state.optimizer.load_state_dict(ck["optimizer"])
    state.params = ck["params"].copy()
    state.epoch_params = state.params.copy()
    state.epoch = ck["epoch"]
    state.history = [dict(h) for h in ck["history"]]
    state.rng.bit_generator.state = ck["rng_state"]
    state.best_value = float(ck["best_value"]) if ck["best_value"] is not None else float("inf")
    state.best_epoch = ck["best_epoch"]
    state.best_params = None if ck["best_params"] is None else ck["best_params"].copy()
    state.wait = int(ck["wait"])
    return str(ck["stop_reason"])
