"""The seed QNN through Qiskit EstimatorV2 primitives: qcomp.qiskit.EstimatorV2 vs StatevectorEstimator vs Aer.

The circuit is examples/mnist_qnn.q built in Qiskit (16 data qubits and a readout: RX(pi x[i])
encoding with a ParameterVector x, X and H on the readout, RXX(w[i]) and RZZ(w[16 + i]) from
each data qubit to the readout, H, observable Z on the readout), checked against qcomp's own
compile of the .q file. A batch of 32 binary samples is ONE PUB (32 rows of parameter values).

* forward: the 32 expectation values;
* gradient w.r.t. the 32 weights for every sample, through the estimator: parameter shift, the 64
  shifted rows per sample as one PUB for every estimator (timed once on ``--grad-samples`` samples
  and scaled to the batch: rows are independent, so the cost is linear in rows; the full 2048 rows
  take StatevectorEstimator and Aer many minutes on a loaded 2-core machine), and for qcomp
  ``qcomp.qiskit.EstimatorGradient`` (qiskit-machine-learning's gradient interface: one batched
  adjoint sweep for the whole batch, timed in full).

Every estimator runs in the same process and the same run; forward times are medians of the
repeats after one warm-up call. Values and gradients are checked against qcomp's compile of
examples/mnist_qnn.q. Thread settings are left as a user has them.

    python benchmarks/qiskit_primitives_bench.py [--batch 32] [--repeats 5] [--peer-repeats 3] [--grad-samples 1] [--no-shift]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

N_DATA = 16
ROOT = Path(__file__).resolve().parents[1]


def seed_qnn():
    from qiskit import QuantumCircuit
    from qiskit.circuit import ParameterVector
    from qiskit.quantum_info import SparsePauliOp

    x, w = ParameterVector("x", N_DATA), ParameterVector("w", 2 * N_DATA)
    qc = QuantumCircuit(N_DATA + 1)
    r = N_DATA
    for i in range(N_DATA):
        qc.rx(np.pi * x[i], i)
    qc.x(r)
    qc.h(r)
    for i in range(N_DATA):
        qc.rxx(w[i], i, r)
    for i in range(N_DATA):
        qc.rzz(w[N_DATA + i], i, r)
    qc.h(r)
    obs = SparsePauliOp("Z" + "I" * N_DATA)  # rightmost character is qubit 0: Z on qubit 16
    return qc, list(x), list(w), obs


def rows_for(qc, x_params, w_params, X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """(B, P) values in circuit.parameters order (how an array binds in Qiskit)."""
    pos = {p: k for k, p in enumerate(qc.parameters)}
    rows = np.zeros((X.shape[0], qc.num_parameters))
    rows[:, [pos[p] for p in x_params]] = X
    rows[:, [pos[p] for p in w_params]] = W
    return rows


def shifted_rows(qc, w_params, rows: np.ndarray) -> np.ndarray:
    """Parameter-shift rows: for every sample and weight, +pi/2 and -pi/2 (RXX/RZZ are exp(-i t P/2))."""
    pos = [list(qc.parameters).index(p) for p in w_params]
    B, P = rows.shape
    out = np.repeat(rows[:, None, None, :], len(pos), axis=1).repeat(2, axis=2)  # (B, W, 2, P)
    for j, k in enumerate(pos):
        out[:, j, 0, k] += np.pi / 2
        out[:, j, 1, k] -= np.pi / 2
    return out.reshape(-1, P)


def shift_gradient(estimator, qc, obs, w_params, rows: np.ndarray) -> np.ndarray:
    """d/dw of sum over the batch of <Z>, from one PUB of all shifted rows."""
    evs = estimator.run([(qc, obs, shifted_rows(qc, w_params, rows))]).result()[0].data.evs
    evs = evs.reshape(rows.shape[0], len(w_params), 2)
    return ((evs[..., 0] - evs[..., 1]) / 2).sum(axis=0)


def timed(fn, repeats: int) -> tuple[float, object]:
    out = fn()  # warm-up: conversion, plans, compiled kernels, caches
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats for qcomp")
    ap.add_argument("--peer-repeats", type=int, default=3, help="timed repeats of the peers' forward")
    ap.add_argument("--grad-samples", type=int, default=1,
                    help="samples whose 64 shifted rows each estimator runs for the shift gradient (scaled to --batch)")
    ap.add_argument("--no-shift", action="store_true", help="skip the parameter-shift gradients (minutes for the peers)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import qiskit
    import qiskit_aer
    from qiskit.primitives import StatevectorEstimator
    from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2

    import qcomp
    import qcomp.qiskit as qq

    qc, xp, wp, obs = seed_qnn()
    rng = np.random.default_rng(args.seed)
    X = rng.integers(0, 2, (args.batch, N_DATA)).astype(float)
    W = rng.uniform(-np.pi, np.pi, (1, 2 * N_DATA)).repeat(args.batch, axis=0)
    rows = rows_for(qc, xp, wp, X, W)

    # the Qiskit circuit is the seed QNN: same values as qcomp's compile of the .q file
    model = qcomp.compile(str(ROOT / "examples" / "mnist_qnn.q"))
    ref = model.simulator().expval(W[0], X)[:, 0]
    ref_grad = model.simulator().vjp(W, X, np.ones((args.batch, 1)))  # (B, 32) per-sample weight gradients

    estimators = {
        "qcomp EstimatorV2": qq.EstimatorV2(),
        "StatevectorEstimator": StatevectorEstimator(),
        "Aer EstimatorV2": AerEstimatorV2(),
    }
    print(f"seed QNN: {qc.num_qubits} qubits, {qc.num_parameters} parameters, batch {args.batch}; "
          f"qiskit {qiskit.__version__}, qiskit-aer {qiskit_aer.__version__}, numpy {np.__version__}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    fwd: dict[str, float] = {}
    grad: dict[str, float] = {}
    k = args.grad_samples
    for name, est in estimators.items():
        reps = args.repeats if name.startswith("qcomp") else args.peer_repeats
        t, evs = timed(lambda: est.run([(qc, obs, rows)]).result()[0].data.evs, reps)  # warm-up inside
        np.testing.assert_allclose(evs, ref, atol=1e-8)
        fwd[name] = t
        if args.no_shift:
            continue
        t0 = time.perf_counter()
        g = shift_gradient(est, qc, obs, wp, rows[:k])
        grad[f"{name}, parameter shift"] = (time.perf_counter() - t0) * args.batch / k
        np.testing.assert_allclose(g, ref_grad[:k].sum(0), atol=1e-8)
    gradient = qq.EstimatorGradient(estimators["qcomp EstimatorV2"])
    t, res = timed(lambda: gradient.run([qc] * args.batch, [obs] * args.batch, rows,
                                        parameters=[wp] * args.batch).result(), args.repeats)
    np.testing.assert_allclose(np.array(res.gradients), ref_grad, atol=1e-8)
    grad["qcomp EstimatorGradient (adjoint)"] = t

    aer_f, aer_g = fwd["Aer EstimatorV2"], grad.get("Aer EstimatorV2, parameter shift", float("nan"))
    print(f"\nforward: {args.batch} rows in one PUB              median s   Aer / this")
    for name, t in fwd.items():
        print(f"  {name:44s} {t:9.3f}   {aer_f / t:8.1f}x")
    print(f"\ngradient w.r.t. 32 weights, {args.batch} samples      s          Aer shift / this")
    print(f"  (parameter shift: {64 * k} shifted rows in one PUB, timed once, scaled by {args.batch}/{k})")
    for name, t in grad.items():
        print(f"  {name:44s} {t:9.3f}   {aer_g / t:8.1f}x")
    print(f"\nload average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
