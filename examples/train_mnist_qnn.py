"""The seed experiment through the Python API: the TFQ MNIST QNN on 3-vs-6 digits, plus the classical baseline.

Run: python examples/train_mnist_qnn.py [--epochs 3] [--lr 0.05] [--seed 0] [--data digits:3,6]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import qcomp
from qcomp.train import describe_baseline, fair_classical_baseline, fit, get_optimizer, init_params, load_data

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="digits:3,6")
    ap.add_argument("--mnist-path", default=None)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    model = qcomp.compile(HERE / "mnist_qnn.q", optimize=2)
    data = load_data(args.data, mnist_path=args.mnist_path, seed=args.seed, expected_features=model.num_inputs)
    sim = model.simulator()
    params0 = init_params(model.num_params, seed=args.seed)

    t0 = time.perf_counter()
    result = fit(sim, params0, data, loss="hinge", optimizer=get_optimizer("adam", lr=args.lr), epochs=args.epochs,
                 batch_size=args.batch_size, seed=args.seed, progress=False)
    elapsed = time.perf_counter() - t0
    per_sample = 1e3 * sum(h["time_s"] for h in result.history) / (len(data.y_train) * args.epochs)
    test = result.test_metrics
    print(f"data: {data.description}: {len(data.y_train)} train, {len(data.y_test)} test")
    print(f"QNN ({model.num_params} params, {args.epochs} epochs, lr {args.lr}, seed {args.seed}): "
          f"test hinge accuracy {test['hinge_accuracy']:.4f}, loss {test['loss']:.4f}; "
          f"{elapsed:.1f} s, {per_sample:.2f} ms per training sample")

    t0 = time.perf_counter()
    # the same baseline as `qcomp train --baseline`: size and epochs chosen on the validation split
    base = fair_classical_baseline(data, seed=args.seed)
    print(f"{describe_baseline(base)}; {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
