"""``qcomp eval``: evaluate trained params on a dataset's test split."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .values import read_values_file
from ..errors import InputError
from . import add_source_args, int_in
from .train import add_data_args, load_dataset

NAME = "eval"
HELP = "report loss, accuracy and hinge accuracy of trained params on a dataset"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_source_args(p)
    add_data_args(p)
    p.add_argument("--params", required=True, help="a checkpoint from 'qcomp train --save' (.npz), or params in .npy/.npz/.json/.csv")
    p.add_argument("--loss", default="hinge", choices=("hinge", "squared", "bce", "softmax-ce"))
    p.add_argument("--seed", type=int_in(0, 2**63 - 1, "--seed"), default=0, help="the seed used for the data split when training")
    p.add_argument("--split", default="test", choices=("train", "test", "val"))
    p.add_argument("-O", dest="optimize", type=int, default=2, choices=(0, 1, 2, 3))
    p.add_argument("--json", action="store_true")


def load_params(path: str, decls) -> np.ndarray:
    """Flat params (P,) for declarations ``decls`` from a value file (a 'qcomp train --save'
    checkpoint, an .npz with a 'params' array, a .npy, .json or .csv; see qcomp.commands.values.read_values_file)."""
    values, _ = read_values_file(path, decls, "param")
    if values.shape[0] != 1:
        raise InputError(f"{path}: params have {values.shape[0]} rows; evaluation takes one row")
    return values[0]


def run(args: argparse.Namespace) -> int:
    from ..api import compile as qcompile
    from ..train import evaluate

    model = qcompile(Path(args.source), optimize=args.optimize, max_qubits=args.max_qubits, max_ops=args.max_ops,
                     cache=not args.no_cache)
    params = load_params(args.params, model.program.params)
    data = load_dataset(args, model.num_inputs)
    x, y = {"train": (data.x_train, data.y_train), "test": (data.x_test, data.y_test),
            "val": (data.x_val, data.y_val)}[args.split]
    if x is None:
        raise InputError(f"the dataset has no {args.split} split")
    metrics = evaluate(model.simulator(), params, x, y, args.loss)
    if args.json:
        print(json.dumps({k: float(v) for k, v in metrics.items()}, indent=2))
    else:
        print(f"{args.split} ({len(y)} samples): " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    return 0
