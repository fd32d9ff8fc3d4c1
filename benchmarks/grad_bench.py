"""Gradient benchmark: MNIST QNN (17 qubits, 32 params) adjoint vs parameter shift vs reference vs PennyLane-lightning.

Run: python benchmarks/grad_bench.py [--repeat 5] [--batch 32] [--skip-reference]
Prints medians (seconds) and ratios measured side by side in this one process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def median_time(fn, repeat: int) -> float:
    fn()  # warm-up (plan compilation, caches)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def paired_median(fns: dict, repeat: int) -> dict[str, float]:
    """Medians of functions timed in turn (a, b, a, b, ...) so both see the same machine load."""
    for fn in fns.values():
        fn()  # warm-up
    ts: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            ts[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in ts.items()}


def lightning_setup(n: int, w: np.ndarray, X: np.ndarray):
    """The same circuit in PennyLane on lightning.qubit with the adjoint method, or None."""
    try:
        import pennylane as qml
        from pennylane import numpy as pnp
    except ImportError:
        return None
    try:
        dev = qml.device("lightning.qubit", wires=n + 1)
    except Exception:  # noqa: BLE001 - lightning not installed
        return None

    @qml.qnode(dev, diff_method="adjoint")
    def circuit(weights, x):
        for i in range(n):
            qml.RX(np.pi * x[i], wires=i)
        qml.PauliX(wires=n)
        qml.Hadamard(wires=n)
        for i in range(n):
            qml.IsingXX(weights[i], wires=[i, n])
        for i in range(n):
            qml.IsingZZ(weights[n + i], wires=[i, n])
        qml.Hadamard(wires=n)
        return qml.expval(qml.PauliZ(n))

    def grad_one(x):
        return np.asarray(qml.grad(lambda ww: circuit(ww, x))(pnp.array(w, requires_grad=True)))

    def vjp(cot):
        def loss(ww):
            return sum(cot[b] * circuit(ww, X[b]) for b in range(len(X)))

        return np.asarray(qml.grad(loss)(pnp.array(w, requires_grad=True)))

    return grad_one, vjp


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--reference-samples", type=int, default=1,
                    help="samples evaluated with the reference simulator (its batch time is scaled up linearly)")
    ap.add_argument("--skip-reference", action="store_true")
    args = ap.parse_args(argv)

    import qcomp
    from qcomp.backends.simulator import Simulator
    from qcomp.gradients import (
        ReferenceExecutor,
        SimulatorExecutor,
        gradient_program,
        parameter_shift_gradient,
    )

    program = qcomp.parse_file(ROOT / "examples" / "mnist_qnn.q")
    n = program.num_inputs
    rng = np.random.default_rng(0)
    w = rng.uniform(-np.pi, np.pi, program.num_params)
    X = rng.integers(0, 2, (args.batch, n)).astype(float)
    cot = rng.normal(size=(args.batch, 1))
    sim = Simulator(program)
    ex = SimulatorExecutor()
    gp = gradient_program(program)
    print(f"MNIST QNN: {program.num_qubits} qubits, {program.num_params} params, batch {args.batch}; "
          f"parameter shift uses {gp.num_circuits} shifted circuits; threads: {os.environ.get('OMP_NUM_THREADS', 'default')}")

    from qcomp.commands.grad import export_gradient_program
    from qcomp.passes.param_shift import build_gradient_program

    t_build1 = median_time(lambda: build_gradient_program(program, order=1), args.repeat)
    t_build2 = median_time(lambda: build_gradient_program(program, order=2), 1)
    gp2 = build_gradient_program(program, order=2)
    t_export = median_time(lambda: export_gradient_program(gp), 1)
    print(f"build GradientProgram: order 1 {t_build1:.4f} s ({gp.num_circuits} circuits), "
          f"order 2 {t_build2:.3f} s ({gp2.num_circuits} circuits); OpenQASM 3 export of order 1: {t_export:.3f} s")

    # correctness first: all methods agree
    g_adj = sim.gradient(w, X[:2], method="adjoint")
    g_ps = parameter_shift_gradient(program, w, X[:2], ex)
    print(f"max |adjoint - parameter-shift| on 2 samples: {np.abs(g_adj - g_ps).max():.2e}")

    rows: dict[str, float] = {}
    pl = lightning_setup(n, w, X)
    one = {"qcomp adjoint: gradient, 1 sample": lambda: sim.gradient(w, X[:1])}
    batch = {f"qcomp adjoint: loss VJP, batch {args.batch}": lambda: sim.vjp(w, X, cot)}
    if pl is not None:
        grad_one, vjp = pl
        ref = np.einsum("bo,bop->p", cot, sim.gradient(w, X))
        print(f"max |lightning VJP - qcomp VJP|: {np.abs(vjp(cot[:, 0]) - ref).max():.2e}")
        one["lightning adjoint: gradient, 1 sample"] = lambda: grad_one(X[0])
        batch[f"lightning adjoint: loss VJP, batch {args.batch}"] = lambda: vjp(cot[:, 0])
    else:
        print("pennylane-lightning not installed: no peer comparison (pip install qcomp[bench])")
    # qcomp and lightning alternate run by run, so their ratio is measured under the same load
    rows.update(paired_median(one, args.repeat))
    rows.update(paired_median(batch, args.repeat))
    rows["qcomp parameter-shift: gradient, 1 sample"] = median_time(lambda: parameter_shift_gradient(program, w, X[:1], ex), args.repeat)
    rows[f"qcomp parameter-shift: loss VJP, batch {args.batch}"] = median_time(
        lambda: np.einsum("bo,bop->p", cot, parameter_shift_gradient(program, w, X, ex)), max(1, args.repeat // 2))
    if not args.skip_reference:
        k = args.reference_samples
        t = median_time(lambda: parameter_shift_gradient(program, w, X[:k], ReferenceExecutor()), 1)
        rows["reference parameter-shift: gradient, 1 sample"] = t / k
        rows[f"reference parameter-shift: loss VJP, batch {args.batch} (scaled from {k})"] = t * args.batch / k

    width = max(len(k) for k in rows)
    for k, v in rows.items():
        print(f"{k:<{width}}  {v:9.4f} s", flush=True)
    print("ratios (smaller is faster for the first):")
    B = args.batch

    def ratio(a: str, b: str) -> None:
        if a in rows and b in rows:
            print(f"  {a} / {b}: {rows[a] / rows[b]:.3f}")

    ratio(f"qcomp adjoint: loss VJP, batch {B}", f"lightning adjoint: loss VJP, batch {B}")
    ratio("qcomp adjoint: gradient, 1 sample", "lightning adjoint: gradient, 1 sample")
    ratio(f"qcomp parameter-shift: loss VJP, batch {B}", f"lightning adjoint: loss VJP, batch {B}")
    ratio(f"qcomp parameter-shift: loss VJP, batch {B}", f"qcomp adjoint: loss VJP, batch {B}")
    ratio("qcomp parameter-shift: gradient, 1 sample", "reference parameter-shift: gradient, 1 sample")
    return 0


if __name__ == "__main__":
    sys.exit(main())
