"""The seed experiment (TFQ MNIST QNN, digits 3 vs 6) under depolarizing noise and finite shots (issue #16).

1. Trains ``examples/mnist_qnn.q`` noiselessly as the README does (or loads the parameters it saved
   with ``--params``), then evaluates test hinge accuracy and loss under a depolarizing noise model
   (``depolarizing(p)`` after every gate, on each of its qubits) by Monte-Carlo trajectories: 17
   qubits are too many for a density matrix (2**34 entries).
2. Evaluates the same parameters with ``shots`` per expectation value, repeated with ``--repeats``
   seeds, against the exact binomial prediction of the accuracy.
3. Trains with shots (parameter-shift gradients from shot estimates) and evaluates those parameters
   exactly, beside an exact training run of the same length.
4. Writes a CSV (``--csv``) and a plot (``--plot``): accuracy vs p (log x, error bars) and vs shots.

Run: python benchmarks/noisy_seed.py [--trajectories 32] [--train-shots 100,1000 --train-shots-epochs 1]
     python benchmarks/noisy_seed.py --plot-only        # re-plot the CSV

Standard errors of an accuracy from trajectories or shots: each test sample's predicted sign is
right with probability pi_i = Phi(y_i m_i / s_i) (m_i the estimate of <Z>, s_i its standard error:
normal approximation, plug-in), so the accuracy's variance is sum_i pi_i (1 - pi_i) / n**2. That is
the Monte-Carlo error only; the finite test set adds sqrt(acc (1 - acc) / n) common to every point.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import time
from pathlib import Path

import numpy as np

import qcomp
from qcomp.noise import NoiseModel
from qcomp.train import fit, get_optimizer, init_params, load_data
from qcomp.train.losses import get_loss
from qcomp.train.metrics import hinge_accuracy

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ["kind", "p", "shots", "trajectories", "repeats", "train_epochs", "n_test", "hinge_accuracy",
          "accuracy_stderr", "predicted_accuracy", "loss", "loss_stderr", "mean_abs_z", "seconds"]


def _phi(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf)(np.asarray(x, dtype=np.float64) / math.sqrt(2.0)))


def sign_right_probability(mean: np.ndarray, stderr: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(the estimate's sign matches the label) per sample, normal approximation around ``mean``."""
    m, s, t = (np.asarray(a, dtype=np.float64).ravel() for a in (mean, stderr, y))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, m / np.where(s > 0, s, 1.0), np.where(m > 0, np.inf, -np.inf))
    p_pos = _phi(z)  # P(estimate > 0)
    return np.where(t > 0, p_pos, 1.0 - p_pos)


def metrics(mean: np.ndarray, stderr: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Hinge accuracy and loss of the estimates, with their Monte-Carlo standard errors."""
    m = np.asarray(mean, dtype=np.float64).reshape(-1, 1)
    s = np.asarray(stderr, dtype=np.float64).ravel()
    n = m.shape[0]
    pi = sign_right_probability(m, s, y)
    active = (1.0 - y * m.ravel()) > 0  # the hinge is linear there: d loss_i / d m_i = -y_i
    return {"hinge_accuracy": hinge_accuracy(m, y), "accuracy_stderr": float(np.sqrt(np.sum(pi * (1 - pi))) / n),
            "loss": get_loss("hinge").value(m, y), "loss_stderr": float(np.sqrt(np.sum((s * active) ** 2)) / n),
            "mean_abs_z": float(np.mean(np.abs(m)))}


def depolarizing_model(p: float) -> NoiseModel:
    """depolarizing(p) after every gate of the program as written, on each of the gate's qubits."""
    return NoiseModel().add_all_qubit_error("depolarizing", "all", params=[p])


def binomial_accuracy(exact: np.ndarray, y: np.ndarray, shots: int) -> float:
    """The expected hinge accuracy with ``shots`` +-1 outcomes per sample (exact binomial law)."""
    from scipy.stats import binom

    m = np.clip(np.asarray(exact, dtype=np.float64).ravel(), -1.0, 1.0)
    p_pos = binom.sf(shots // 2, shots, (1.0 + m) / 2.0)  # mean > 0 iff more than shots/2 outcomes are +1
    return float(np.mean(np.where(y > 0, p_pos, 1.0 - p_pos)))


class Writer:
    """Appends result rows to the CSV as they come (a run cut short keeps what it measured)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            csv.DictWriter(f, FIELDS).writeheader()

    def row(self, **values: object) -> None:
        row = {k: values.get(k, "") for k in FIELDS}
        for k, v in row.items():
            if isinstance(v, float):
                row[k] = f"{v:.6g}"
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, FIELDS).writerow(row)
        print(", ".join(f"{k}={v}" for k, v in row.items() if v != ""), flush=True)


def train(model, data, args, **sim_options) -> tuple[np.ndarray, float]:
    sim = model.simulator(**sim_options)
    t0 = time.perf_counter()
    result = fit(sim, init_params(model.num_params, seed=args.seed), data, loss="hinge",
                 optimizer=get_optimizer("adam", lr=args.lr), epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                 progress=False, evaluate_test=False)
    return result.params, time.perf_counter() - t0


def run(args: argparse.Namespace) -> None:
    t_start = time.perf_counter()
    model = qcomp.compile(ROOT / "examples" / "mnist_qnn.q", optimize=2)
    data = load_data(args.data, seed=args.seed, expected_features=model.num_inputs, max_train=args.max_train)
    x, y = data.x_test, np.asarray(data.y_test, dtype=np.float64)
    if args.max_test is not None and args.max_test < len(y):
        idx = np.sort(np.random.default_rng(args.seed).choice(len(y), args.max_test, replace=False))
        x, y = x[idx], y[idx]
    n = len(y)
    out = Writer(Path(args.csv))
    print(f"{platform.node()}: load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}; "
          f"{data.description}: {len(data.y_train)} train, {n} test samples evaluated", flush=True)

    # 1. the noiselessly trained parameters (as the README trains them)
    if args.params and Path(args.params).exists():
        params, t_train = np.load(args.params), 0.0
    else:
        params, t_train = train(model, data, args)
        if args.params:
            np.save(args.params, params)
    exact = model.simulator().expval(params, x)
    out.row(kind="noise", p=0.0, trajectories=0, train_epochs=args.epochs, n_test=n,
            **metrics(exact, np.zeros(n), y), seconds=t_train)

    # 2. depolarizing noise, by trajectories (p = 0 above is the exact noiseless value)
    for p in args.p:
        t0 = time.perf_counter()
        sim = model.simulator(noise=depolarizing_model(p), method="trajectories", trajectories=args.trajectories,
                              seed=args.seed + 1)
        mean, se = sim.expval_with_error(params, x)
        out.row(kind="noise", p=p, trajectories=args.trajectories, train_epochs=args.epochs, n_test=n,
                **metrics(mean, se, y), seconds=time.perf_counter() - t0)

    # 3. finite shots per expectation value, repeated with different seeds
    out.row(kind="eval_shots", shots=0, repeats=1, train_epochs=args.epochs, n_test=n,
            **metrics(exact, np.zeros(n), y), predicted_accuracy=hinge_accuracy(exact, y), seconds=0.0)
    for shots in args.shots:
        t0 = time.perf_counter()
        accs, losses, absz = [], [], []
        for r in range(args.repeats):
            est = model.simulator(shots=shots, seed=args.seed + 1000 * r + shots).expval(params, x)
            m = metrics(est, np.zeros(n), y)
            accs.append(m["hinge_accuracy"])
            losses.append(m["loss"])
            absz.append(m["mean_abs_z"])
        out.row(kind="eval_shots", shots=shots, repeats=args.repeats, train_epochs=args.epochs, n_test=n,
                hinge_accuracy=float(np.mean(accs)), accuracy_stderr=float(np.std(accs, ddof=1)) if len(accs) > 1
                else float("nan"), predicted_accuracy=binomial_accuracy(exact, y, shots), loss=float(np.mean(losses)),
                loss_stderr=float(np.std(losses, ddof=1)) if len(losses) > 1 else float("nan"),
                mean_abs_z=float(np.mean(absz)), seconds=time.perf_counter() - t0)

    # 4. training with shots (values and parameter-shift gradients estimated), evaluated exactly
    if args.train_shots:
        e = args.train_shots_epochs
        ref_args = argparse.Namespace(**{**vars(args), "epochs": e})
        for shots in [0, *args.train_shots]:
            options = {} if shots == 0 else {"shots": shots, "seed": args.seed}
            p_trained, t = train(model, data, ref_args, **options)
            exact_t = model.simulator().expval(p_trained, x)
            out.row(kind="train_shots", shots=shots, train_epochs=e, n_test=n, **metrics(exact_t, np.zeros(n), y),
                    seconds=t)
    print(f"wall time {time.perf_counter() - t_start:.1f} s", flush=True)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def plot(csv_path: Path, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_rows(csv_path)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    noise = [r for r in rows if r["kind"] == "noise"]
    if noise:
        base = next((float(r["hinge_accuracy"]) for r in noise if float(r["p"]) == 0), None)
        pts = [r for r in noise if float(r["p"]) > 0]
        ax1.errorbar([float(r["p"]) for r in pts], [float(r["hinge_accuracy"]) for r in pts],
                     yerr=[float(r["accuracy_stderr"]) for r in pts], fmt="o-", capsize=3,
                     label=f"trajectories ({pts[0]['trajectories']} per sample)" if pts else None)
        ax1b = ax1.twinx()
        ax1b.plot([float(r["p"]) for r in pts], [float(r["mean_abs_z"]) for r in pts], "s--", color="grey",
                  label="mean |<Z>|")
        ax1b.set_ylabel("mean |<Z>| over test samples", color="grey")
        ax1b.set_ylim(0, 1)
        if base is not None:
            ax1.axhline(base, color="k", lw=0.8, ls=":", label=f"noiseless {base:.3f}")
        ax1.set_xscale("log")
        ax1.set_xlabel("depolarizing strength p (after every gate, on each qubit)")
        ax1.set_ylabel("test hinge accuracy")
        ax1.set_ylim(0.3, 1.0)
        h1, l1 = ax1.get_legend_handles_labels()
        h2, l2 = ax1b.get_legend_handles_labels()
        ax1.legend(h1 + h2, l1 + l2, loc="lower left", fontsize=8)
    ev = sorted((r for r in rows if r["kind"] == "eval_shots" and int(r["shots"]) > 0), key=lambda r: int(r["shots"]))
    tr = sorted((r for r in rows if r["kind"] == "train_shots" and int(r["shots"]) > 0), key=lambda r: int(r["shots"]))
    if ev:
        ax2.errorbar([int(r["shots"]) for r in ev], [float(r["hinge_accuracy"]) for r in ev],
                     yerr=[float(r["accuracy_stderr"]) for r in ev], fmt="o-", capsize=3,
                     label=f"evaluated with shots (mean ± sd of {ev[0]['repeats']} repeats)")
        ax2.plot([int(r["shots"]) for r in ev], [float(r["predicted_accuracy"]) for r in ev], "x",
                 color="k", label="binomial prediction")
        exact = next((float(r["hinge_accuracy"]) for r in rows if r["kind"] == "eval_shots" and int(r["shots"]) == 0),
                     None)
        if exact is not None:
            ax2.axhline(exact, color="k", lw=0.8, ls=":", label=f"exact {exact:.3f}")
    if tr:
        ref = next((r for r in rows if r["kind"] == "train_shots" and int(r["shots"]) == 0), None)
        ax2.plot([int(r["shots"]) for r in tr], [float(r["hinge_accuracy"]) for r in tr], "D-", color="C2",
                 label=f"trained with shots ({tr[0]['train_epochs']} epoch), evaluated exactly")
        if ref is not None:
            ax2.axhline(float(ref["hinge_accuracy"]), color="C2", lw=0.8, ls=":",
                        label=f"trained exactly, {ref['train_epochs']} epoch")
    ax2.set_xscale("log")
    ax2.set_xlabel("shots per expectation value")
    ax2.set_ylabel("test hinge accuracy")
    ax2.set_ylim(0.3, 1.0)
    ax2.legend(loc="lower right", fontsize=8)
    fig.suptitle("TFQ MNIST QNN (digits 3 vs 6, 17 qubits): noise and shots")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


def _floats(s: str) -> list[float]:
    return [float(v) for v in s.split(",") if v.strip()]


def _ints(s: str) -> list[int]:
    return [int(v) for v in s.split(",") if v.strip()]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="digits:3,6")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--params", default=None, help="an .npy of trained parameters: loaded if it exists, else saved")
    ap.add_argument("--max-train", type=int, default=None, help="train on a seeded subset (the smoke test)")
    ap.add_argument("--max-test", type=int, default=None, help="evaluate a seeded subset of the test split")
    ap.add_argument("--p", type=_floats, default=[1e-3, 3e-3, 1e-2, 3e-2, 0.1])
    ap.add_argument("--trajectories", type=int, default=32)
    ap.add_argument("--shots", type=_ints, default=[10, 100, 1000])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--train-shots", type=_ints, default=[100, 1000])
    ap.add_argument("--train-shots-epochs", type=int, default=1)
    ap.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "noisy_seed.csv"))
    ap.add_argument("--plot", default=str(ROOT / "docs" / "noisy_seed.png"))
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args(argv)
    if not args.plot_only:
        run(args)
    if args.plot:
        plot(Path(args.csv), Path(args.plot))


if __name__ == "__main__":
    main()
