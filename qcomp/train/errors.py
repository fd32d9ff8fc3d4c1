"""Training-specific error classes, all subclasses of :class:`qcomp.errors.QCompError`."""

from __future__ import annotations

from qcomp.errors import DataError, QCompError

__all__ = ["CheckpointError", "DataError", "TrainConfigError", "TrainingError"]


class TrainingError(QCompError):
    """Training cannot proceed (non-finite loss, a model that breaks the protocol, ...)."""


class TrainConfigError(TrainingError, ValueError):
    """A bad training option: unknown loss/optimizer name, bad hyperparameter value."""


class CheckpointError(TrainingError):
    """A checkpoint cannot be read or does not match the run being resumed."""
