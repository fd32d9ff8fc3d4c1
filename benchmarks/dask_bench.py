"""Dask benchmark: one training epoch on 1 vs 2 local workers vs in-process, and the per-task overhead."""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

import qcomp
from qcomp.distributed import DaskExecutor
from qcomp.train import fit, get_optimizer, init_params, load_data

ROOT = Path(__file__).resolve().parent.parent


def epoch_time(sim, model, data, args) -> tuple[float, np.ndarray]:
    p0 = init_params(model.num_params, seed=0)
    t0 = time.perf_counter()
    res = fit(sim, p0, data, loss="hinge", optimizer=get_optimizer("adam", lr=0.01), epochs=args.epochs,
              batch_size=args.batch_size, seed=0, progress=False, evaluate_test=False)
    return time.perf_counter() - t0, res.params


def task_overhead(ex: DaskExecutor, n: int) -> dict[str, float]:
    """Round trip of a trivial task, and of a 2-row call of a 1-qubit DistributedSimulator (2 shards)."""
    client = ex.client
    client.submit(int, 0, pure=False).result()  # warm up the connection
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        client.submit(int, i, pure=False).result()
        times.append(time.perf_counter() - t0)
    m = qcomp.compile("qubit q; param w; input x; rx(x) q; ry(w) q; expect z(q);", cache=False)
    dist, local = m.simulator(executor=ex), m.simulator()
    x = np.array([[0.1], [0.2]])
    dist.expval([0.3], x)  # ships the program, builds the worker simulators
    calls, loc = [], []
    for i in range(n):
        t0 = time.perf_counter()
        dist.expval([0.3 + i * 1e-3], x)
        calls.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        local.expval([0.3 + i * 1e-3], x)
        loc.append(time.perf_counter() - t0)
    return {"task_ms": 1e3 * statistics.median(times), "call_ms": 1e3 * statistics.median(calls),
            "local_call_ms": 1e3 * statistics.median(loc)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=str(ROOT / "examples" / "mnist_qnn.q"))
    ap.add_argument("--data", default="digits:3,6")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--overhead-calls", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3, help="interleaved runs per configuration")
    args = ap.parse_args()

    model = qcomp.compile(args.model, cache=False)
    data = load_data(args.data, seed=0, validation_fraction=0.1, expected_features=model.num_inputs)
    print(f"model {args.model}: {model.program.num_qubits} qubits, {model.num_params} params; "
          f"data {args.data}: {len(data.y_train)} train, {len(data.y_val)} validation; "
          f"{args.epochs} epoch(s), batch {args.batch_size}; median of {args.repeat} interleaved runs")
    # both clusters stay up and the runs alternate, so load changes on a shared machine hit all alike
    t0 = time.perf_counter()
    ex1 = DaskExecutor(n_workers=1, timeout=60)
    t1 = time.perf_counter()
    ex2 = DaskExecutor(n_workers=2, timeout=60)
    t2 = time.perf_counter()
    try:
        sims = {
            "in-process Simulator (default threads)": model.simulator(),
            "in-process Simulator (threads=1)": model.simulator(threads=1),
            f"Dask LocalCluster, 1 worker (start-up {t1 - t0:.1f} s, excluded)": model.simulator(executor=ex1),
            f"Dask LocalCluster, 2 workers (start-up {t2 - t1:.1f} s, excluded)": model.simulator(executor=ex2),
        }
        times: dict[str, list[float]] = {k: [] for k in sims}
        params: dict[str, np.ndarray] = {}
        for _ in range(args.repeat):
            for name, sim in sims.items():
                t, params[name] = epoch_time(sim, model, data, args)
                times[name].append(t)
        overhead = task_overhead(ex2, args.overhead_calls)
    finally:
        ex2.close()  # reverse order: each restores the log levels it silenced
        ex1.close()
    names = list(sims)
    med = {k: statistics.median(v) for k, v in times.items()}
    ref = params[names[0]]
    print("| run | epoch s (median) | all runs s | vs in-process | vs 1 worker | max param diff |")
    print("|---|---|---|---|---|---|")
    for name in names:
        runs = ", ".join(f"{t:.1f}" for t in times[name])
        print(f"| {name} | {med[name]:.2f} | {runs} | {med[names[0]] / med[name]:.2f}x | "
              f"{med[names[2]] / med[name]:.2f}x | {float(np.abs(params[name] - ref).max()):.1e} |")
    print(f"per-task overhead (2 workers, median of {args.overhead_calls}): trivial task round trip "
          f"{overhead['task_ms']:.2f} ms; 2-row 1-qubit DistributedSimulator.expval (2 shards) "
          f"{overhead['call_ms']:.2f} ms vs {overhead['local_call_ms']:.3f} ms in-process")


if __name__ == "__main__":
    main()
