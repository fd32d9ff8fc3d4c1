"""Training differentiable (quantum) models in plain numpy: data, losses, optimizers, the fit loop, checkpoints."""

from __future__ import annotations

from qcomp.errors import DataError
from qcomp.train.baseline import DenseNetwork, describe_baseline, fair_classical_baseline, train_classical_baseline
from qcomp.train.data import (
    ACCEPTED_SPECS,
    Dataset,
    binarize,
    iterate_minibatches,
    load_data,
    load_study_dataset,
    read_study_csv,
    remove_contradicting,
    resize_images,
    validate_dataset,
)
from qcomp.train.errors import CheckpointError, TrainConfigError, TrainingError
from qcomp.train.losses import (
    LOSSES,
    BinaryCrossEntropy,
    HingeLoss,
    Loss,
    SoftmaxCrossEntropy,
    SquaredLoss,
    get_loss,
)
from qcomp.train.loop import (
    Callback,
    Differentiable,
    TrainingInterrupted,
    TrainResult,
    evaluate,
    fit,
    init_params,
    load_checkpoint,
    run_epoch,
)
from qcomp.train.metrics import accuracy, hinge_accuracy
from qcomp.train.readout import OutputSelection
from qcomp.train.optimizers import OPTIMIZERS, SGD, Adam, Optimizer, get_optimizer
from qcomp.train.state import TrainState

__all__ = [
    "ACCEPTED_SPECS",
    "Adam",
    "BinaryCrossEntropy",
    "Callback",
    "CheckpointError",
    "DataError",
    "Dataset",
    "DenseNetwork",
    "Differentiable",
    "OutputSelection",
    "HingeLoss",
    "LOSSES",
    "Loss",
    "OPTIMIZERS",
    "Optimizer",
    "SGD",
    "SoftmaxCrossEntropy",
    "SquaredLoss",
    "TrainConfigError",
    "TrainResult",
    "TrainState",
    "TrainingError",
    "TrainingInterrupted",
    "accuracy",
    "binarize",
    "describe_baseline",
    "evaluate",
    "fair_classical_baseline",
    "fit",
    "get_loss",
    "get_optimizer",
    "hinge_accuracy",
    "init_params",
    "iterate_minibatches",
    "load_checkpoint",
    "load_data",
    "load_study_dataset",
    "read_study_csv",
    "remove_contradicting",
    "resize_images",
    "run_epoch",
    "train_classical_baseline",
    "validate_dataset",
]
