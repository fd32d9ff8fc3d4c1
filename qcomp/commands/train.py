"""``qcomp train``: train a model's params on a dataset, report test metrics, export the trained QASM."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .._io import is_special_output, write_files_atomically
from ..errors import InputError, QCompError
from . import add_level_arg, add_source_args, check_outputs, int_in, load_model
from .noise_options import add_noise_arguments, noise_options

NAME = "train"
HELP = "train a model (hinge/squared/bce/softmax-ce loss, Adam or SGD) on a dataset and export the trained circuit"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_source_args(p)
    add_data_args(p)
    p.add_argument("--loss", default="hinge", choices=("hinge", "squared", "bce", "softmax-ce"))
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd"))
    p.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01)")
    p.add_argument("--momentum", type=float, default=None, help="SGD momentum")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int_in(0, 2**63 - 1, "--seed"), default=0, help="seeds the data split, init and shuffling")
    p.add_argument("--init-scale", type=float, default=np.pi, help="initial params uniform in [-s, s]")
    p.add_argument("--patience", type=int, default=None, help="early stopping patience (epochs)")
    p.add_argument("--save", default=None, help="checkpoint .npz (default: <model>.params.npz in the current directory)")
    p.add_argument("--resume", default=None, help="continue from a checkpoint written by --save (--save may name the same file)")
    p.add_argument("--export-qasm", default=None, help="trained OpenQASM 3, with a manifest beside it (default: <model>.trained.qasm)")
    p.add_argument("--no-export", action="store_true", help="do not write the trained OpenQASM")
    p.add_argument("--plot", default=None, help="write a training-curve PNG (needs matplotlib: qcomp[plot])")
    p.add_argument("--baseline", action="store_true", help="also train a classical baseline (a features-hidden-1 dense network, hidden size and"
                        " epochs chosen on the validation split, the same as qcomp.train.fair_classical_baseline)")
    add_level_arg(p, "trained and exported")
    p.add_argument("--precision", default="double", choices=("double", "single"))
    p.add_argument("--shots", type=int_in(1, 2**62, "--shots"), default=None,
                   help="train on shot estimates: N measurements per group for values and every parameter-shift"
                        " gradient circuit (seeded by --seed; default: exact values and adjoint gradients)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_noise_arguments(p)
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the simulations on a Dask cluster (tcp://host:8786; needs qcomp[distributed])")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="run the simulations on a local Dask cluster of N worker processes")


def add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="digits:A,B (ships with scikit-learn), mnist:A,B (with --mnist-path) or FILE.npz")
    p.add_argument("--mnist-path", default=None, help="a Keras-layout mnist.npz for --data mnist:A,B")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--output", type=int_in(0, 2**31, "--output"), default=None, metavar="K",
                   help="with several 'expect' outputs and one label per sample: the output read as the score of the"
                        " hinge, squared or bce loss (default 0, the first); softmax-ce uses every output as a class")


def readout(model, sim, loss: str, y_train, output: int | None, *, quiet: bool = False):
    """What the loss sees of the model: ``sim`` itself, or one output of it (qcomp.train.OutputSelection)
    when the model has several outputs, the labels one value per sample and the loss is not softmax-ce."""
    from ..train import OutputSelection

    n = model.num_outputs
    if loss == "softmax-ce":
        if output is not None:
            raise QCompError("--output selects the one output that hinge, squared and bce losses read; "
                             "softmax-ce reads every output (one class each)")
        return sim
    if output is not None and output >= n:
        raise QCompError(f"--output {output}: the model has {n} output{'' if n == 1 else 's'} (0 to {n - 1})")
    if n == 1 or np.ndim(y_train) != 1:
        return sim
    k = 0 if output is None else output
    if not quiet:
        text = model.program.observables[k].text or f"output {k}"
        print(f"note: the model has {n} outputs; the {loss} loss reads output {k} ({text})"
              + ("; --output K picks another" if output is None else ""), file=sys.stderr)
    return OutputSelection(sim, k, n)


def metric_text(metrics: dict, *, spaced: bool = True) -> str:
    """``loss 0.1234, accuracy 0.9000``: the metrics that mean something for this loss and model
    (hinge accuracy is NaN with class-index labels, and is left out); ``spaced`` writes the keys
    with spaces (``hinge accuracy``) instead of as the history's keys (``val_loss``)."""
    return ", ".join(f"{k.replace('_', ' ') if spaced else k} {v:.4f}" for k, v in metrics.items()
                     if isinstance(v, float) and np.isfinite(v))


def load_dataset(args: argparse.Namespace, n_features: int):
    from ..train import load_data

    return load_data(args.data, mnist_path=args.mnist_path, seed=args.seed,
                     validation_fraction=args.val_fraction, expected_features=n_features)


def run(args: argparse.Namespace) -> int:
    stem = Path(args.source).stem
    save = Path(args.save) if args.save else Path(f"{stem}.params.npz")
    export = None if args.no_export else Path(args.export_qasm or f"{stem}.trained.qasm")
    outputs = [save] + ([export, _manifest_path(export)] if export is not None else []) + [args.plot]
    inputs = [args.source, args.data, args.mnist_path, args.resume]
    # before training, so a mistyped path does not cost the run; --save may rewrite the --resume
    # checkpoint (it is read in full first), no other output may be an input
    check_outputs(outputs, [i for i in inputs if i and Path(str(i)).exists()], rewrites=[(save, args.resume)])
    t_start = time.perf_counter()
    model = load_model(args)
    from . import require_expect_outputs

    require_expect_outputs(model.program, "train")
    if model.num_outputs == 0:
        raise QCompError(f"{args.source}: the model has no 'expect' output to train")
    if model.num_params == 0:
        raise QCompError(f"{args.source}: the model declares no 'param' to train")
    if model.is_noisy and export is not None:  # found now, not after the training it would discard
        raise QCompError(f"{args.source}: the model has noise channels, which have no OpenQASM form; pass "
                         "--no-export (or move the noise into a --noise model, and the export stays noiseless)")
    data = load_dataset(args, model.num_inputs)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise QCompError("--plot needs matplotlib: pip install 'qcomp[plot]'") from None
    if args.epochs < 1 or args.batch_size < 1:
        raise QCompError("--epochs and --batch-size must be positive")

    if args.scheduler is not None and args.workers is not None:
        raise QCompError("give --scheduler (an existing Dask cluster) or --workers (a local one), not both")
    if args.workers is not None and args.workers < 1:
        raise QCompError(f"--workers must be a positive integer, got {args.workers}")
    executor = None
    if args.scheduler is not None or args.workers is not None:
        from ..distributed import DaskExecutor

        executor = DaskExecutor(args.scheduler, n_workers=args.workers)
    try:
        return _train(args, model, data, save, export, executor, t_start)
    finally:
        if executor is not None:
            executor.close()


def _train(args, model, data, save, export, executor, t_start) -> int:
    from ..train import TrainingInterrupted, evaluate, fit, get_optimizer, init_params

    noisy = noise_options(args, model)
    shots = {"shots": args.shots, "seed": args.seed} if getattr(args, "shots", None) is not None else {}
    if noisy is not None:  # --seed seeds the shots here (and the trajectories)
        noisy = {**noisy, **shots}
    sim = model.simulator(executor=executor, precision=args.precision, **shots) if noisy is None \
        else model.simulator(**noisy)
    scored = readout(model, sim, args.loss, data.y_train, args.output)
    opt_kw = {"lr": args.lr}
    if args.optimizer == "sgd" and args.momentum is not None:
        opt_kw["momentum"] = args.momentum
    optimizer = get_optimizer(args.optimizer, **opt_kw)
    params0 = init_params(model.num_params, seed=args.seed, scale=args.init_scale)
    print(f"model: {args.source}: {model.program.num_qubits} qubits, {model.num_params} params, "
          f"{model.num_inputs} inputs; data: {data.description}: {len(data.y_train)} train, "
          f"{0 if data.x_val is None else len(data.y_val)} validation, {len(data.y_test)} test"
          + (f"; {args.shots} shots per measured group (values and parameter-shift gradients)"
             if getattr(args, "shots", None) is not None else ""))

    def log_epoch(epoch, logs, params):
        print(f"  epoch {epoch}, " + metric_text({k: v for k, v in logs.items() if k != "epoch"}, spaced=False),
              flush=True)
        return False

    try:
        result = fit(scored, params0, data, loss=args.loss, optimizer=optimizer, epochs=args.epochs,
                     batch_size=args.batch_size, seed=args.seed, callbacks=[log_epoch],
                     early_stopping_patience=args.patience, checkpoint_path=save,
                     resume_from=args.resume, progress=not args.no_progress and sys.stderr.isatty())
    except TrainingInterrupted as exc:
        done = exc.result.extra.get("checkpoint_epoch")
        if done is not None:
            print(f"interrupted; the last completed epoch ({done}) is in {save}; continue with --resume {save}",
                  file=sys.stderr)
        elif args.resume:
            print(f"interrupted before an epoch completed; {args.resume} is unchanged; continue with --resume {args.resume}",
                  file=sys.stderr)
        else:
            print("interrupted before the first epoch completed; no checkpoint was written", file=sys.stderr)
        return 130
    train_time = time.perf_counter() - t_start
    test = result.test_metrics or evaluate(scored, result.params, data.x_test, data.y_test, args.loss)
    n_seen = len(data.y_train) * max(result.epochs_completed - (result.resumed_from_epoch or 0), 1)
    print("test: " + metric_text(test))
    print(f"time: {train_time:.2f} s total, {1e3 * sum(h.get('time_s', 0.0) for h in result.history) / max(n_seen, 1):.2f} ms per training sample")
    print(f"params: {save}")
    files: dict[Path | str, str | bytes] = {}
    if export is not None:
        res = model.qasm_result(3, bind_params=result.params)
        import json

        files[export] = res.text
        manifest = _manifest_path(export)
        if manifest is not None:
            files[manifest] = json.dumps(res.manifest, indent=2) + "\n"
    if args.plot:
        files[args.plot] = _plot(result.history)
    write_files_atomically(files)  # the trained program, its manifest and the plot: all or none
    if export is not None:
        print(f"trained OpenQASM 3: {export}" + (f" (manifest {export}.json)" if _manifest_path(export) else ""))
    if args.plot:
        print(f"training curve: {args.plot}")
    if args.baseline:
        _baseline(args, data)
    return 0


def _baseline(args, data) -> None:
    """The classical baseline of the data: one function for the CLI and the API (its own size and
    epochs from a validation search; the quantum model's --epochs, --lr and --batch-size do not apply)."""
    from ..train import describe_baseline, fair_classical_baseline

    if np.ndim(data.y_train) != 1:
        print("note: no classical baseline: it trains one output on one label per example", file=sys.stderr)
        return
    print(describe_baseline(fair_classical_baseline(data, seed=args.seed)))


def _manifest_path(export: Path) -> Path | None:
    """The manifest beside the trained program; none beside a device or FIFO (/dev/null)."""
    return None if is_special_output(export) else Path(str(export) + ".json")


def _plot(history) -> bytes:
    """The training curves as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import io

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    for key in ("loss", "val_loss"):
        if key in history[0]:
            ax[0].plot(epochs, [h[key] for h in history], label=key)
    for key in ("hinge_accuracy", "val_hinge_accuracy", "accuracy", "val_accuracy"):
        if key in history[0] and np.isfinite([h[key] for h in history]).any():  # no NaN curves
            ax[1].plot(epochs, [h[key] for h in history], label=key)
    for a in ax:
        a.set_xlabel("epoch")
        a.legend()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
