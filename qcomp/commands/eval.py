"""``qcomp eval``: evaluate trained params on a dataset's test split."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .values import read_values_file
from ..errors import InputError
from . import add_source_args, int_in
from .noise_options import add_noise_arguments, noise_options
from .train import add_data_args, load_dataset, metric_text, readout

NAME = "eval"
HELP = "report loss, accuracy and hinge accuracy of trained params on a dataset"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_source_args(p)
    add_data_args(p)
    p.add_argument("--params", required=True, help="a checkpoint from 'qcomp train --save' (.npz), or params in .npy/.npz/.json/.csv")
    p.add_argument("--loss", default="hinge", choices=("hinge", "squared", "bce", "softmax-ce"))
    p.add_argument("--seed", type=int_in(0, 2**63 - 1, "--seed"), default=None,
                   help="the seed of the data split; a 'train --save' checkpoint records its own (a different"
                        " --seed is refused), for other params files the default is 0")
    p.add_argument("--split", default="test", choices=("train", "test", "val"))
    p.add_argument("-O", dest="optimize", type=int, default=2, choices=(0, 1, 2, 3))
    p.add_argument("--json", action="store_true")
    add_noise_arguments(p)


def load_params(path: str, decls) -> np.ndarray:
    """Flat params (P,) for declarations ``decls`` from a value file (a 'qcomp train --save'
    checkpoint, an .npz with a 'params' array, a .npy, .json or .csv; see qcomp.commands.values.read_values_file)."""
    values, _ = read_values_file(path, decls, "param")
    if values.shape[0] != 1:
        raise InputError(f"{path}: params have {values.shape[0]} rows; evaluation takes one row")
    return values[0]


def _checkpoint_run(path: str) -> tuple[int, str | None] | None:
    """The seed and training-data fingerprint of a 'qcomp train --save' checkpoint; None for any
    other params file (for which the data split's seed is --seed's)."""
    from .._io import is_checkpoint, read_numpy
    from ..train import load_checkpoint

    if Path(path).suffix.lower() != ".npz" or not is_checkpoint(read_numpy(path, what="params", checkpoint_params=False)):
        return None
    ck = load_checkpoint(path)
    return int(ck["seed"]), ck.get("data_fingerprint")


def run(args: argparse.Namespace) -> int:
    from ..train import evaluate
    from . import compile_source

    model = compile_source(Path(args.source), optimize=args.optimize, max_qubits=args.max_qubits, max_ops=args.max_ops,
                     cache=not args.no_cache)
    from . import require_expect_outputs

    require_expect_outputs(model.program, "eval")
    params = load_params(args.params, model.program.params)
    checkpoint = _checkpoint_run(args.params)
    if checkpoint is not None:
        seed, fingerprint = checkpoint
        if args.seed is not None and args.seed != seed:
            raise InputError(f"--seed {args.seed} differs from the seed {seed} that trained {args.params}: its "
                             f"test split would overlap its training data; drop --seed to use the checkpoint's split")
        args.seed = seed
    elif args.seed is None:
        args.seed = 0
    data = load_dataset(args, model.num_inputs)
    if checkpoint is not None and fingerprint is not None:
        from ..train.checkpoint import data_fingerprint

        if data_fingerprint(data) != fingerprint:
            raise InputError(f"{args.params} was trained on other data than --data {args.data} "
                             f"(with seed {args.seed} and --val-fraction {args.val_fraction}) gives: "
                             f"scoring it here would mix training and test samples; give the training run's "
                             f"--data and --val-fraction")
    x, y = {"train": (data.x_train, data.y_train), "test": (data.x_test, data.y_test),
            "val": (data.x_val, data.y_val)}[args.split]
    if x is None:
        raise InputError(f"the dataset has no {args.split} split")
    metrics = evaluate(readout(model, model.simulator(**(noise_options(args, model) or {})), args.loss, y, args.output, quiet=args.json), params, x, y,
                       args.loss)
    if args.json:  # the metrics that mean something (hinge accuracy is NaN with class-index labels)
        print(json.dumps({k: float(v) for k, v in metrics.items() if np.isfinite(v)}, indent=2))
    else:
        print(f"{args.split} ({len(y)} samples): " + metric_text(metrics))
    return 0
