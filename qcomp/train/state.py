"""The state of a training run: what an epoch advances, a checkpoint saves and a resume restores."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qcomp.train.optimizers import Optimizer

__all__ = ["RunInfo", "TrainState"]


@dataclass(frozen=True)
class RunInfo:
    """What a checkpoint records about the run besides its state; resuming with other values warns.

    ``monitor`` is the early-stopping quantity (``val_loss`` or ``loss``), ``loss`` the loss name and
    ``data_fingerprint`` a hash of the training split.
    """

    monitor: str
    loss: str
    seed: int
    batch_size: int
    data_fingerprint: str


@dataclass
class TrainState:
    """Parameters, optimizer, shuffling generator, history and early-stopping bookkeeping of a run.

    Not frozen: every minibatch steps ``params`` and the optimizer's moments, and Ctrl-C must report
    what the last completed epoch left, so the loop updates this one object in place.
    ``params`` moves within an epoch; ``epoch`` and ``epoch_params`` are the last completed epoch
    and its parameters (what an interrupted run returns).
    """

    params: np.ndarray
    optimizer: Optimizer
    rng: np.random.Generator
    epoch_params: np.ndarray
    history: list[dict[str, float]] = field(default_factory=list)
    epoch: int = 0
    best_value: float = float("inf")
    best_epoch: int | None = None
    best_params: np.ndarray | None = None
    wait: int = 0
    stop_reason: str = "completed"

    @classmethod
    def start(cls, params: np.ndarray, optimizer: Optimizer, seed: int) -> TrainState:
        """The state before the first epoch: ``params`` and a generator seeded with ``seed``."""
        return cls(params=params, optimizer=optimizer, rng=np.random.default_rng(seed), epoch_params=params.copy())

    def track_best(self, epoch: int, current: float, min_delta: float) -> None:
        """Keep the best monitored value so far and count the epochs since it last improved."""
        if current < self.best_value - min_delta:
            self.best_value, self.best_epoch, self.best_params, self.wait = current, epoch, self.params.copy(), 0
        else:
            self.wait += 1
