"""Shots benchmark: shot-based expectation values of the examples' Hamiltonians (hea_vqe, qaoa_maxcut).

qcomp's simulator with ``shots=N`` (grouped measurement, multinomial draws per group) against
PennyLane ``lightning.qubit`` with ``shots=N`` (the Hamiltonian grouped qubit-wise, as qcomp groups
it) and Qiskit Aer's ``EstimatorV2`` with ``precision=1/sqrt(N)``, for a batch of B parameter rows.
Every tool evaluates the same B rows; times are medians of runs taken in turn (a, b, c, a, b, c, ...)
so all see the same machine load, and the ratios are what to read.

Run: python benchmarks/shots_bench.py [--shots 10000] [--batch 32] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def paired_median(fns: dict, repeat: int) -> dict[str, float]:
    for fn in fns.values():
        fn()  # warm-up (plan compilation, transpilation caches)
    ts: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            ts[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in ts.items()}


def pennylane_fn(program, W: np.ndarray, shots: int):
    """The program's circuit as a PennyLane QNode on lightning.qubit with shots, or None."""
    try:
        import pennylane as qml
    except ImportError:
        return None
    n = program.num_qubits
    try:
        dev = qml.device("lightning.qubit", wires=n, seed=0)
    except Exception:  # noqa: BLE001 - lightning missing
        return None
    obs = program.observables[0]
    coeffs, ops = [], []
    for t in obs.terms:
        coeffs.append(t.coeff)
        ops.append(qml.prod(*[getattr(qml, "Pauli" + p)(q) for q, p in t.paulis]) if t.paulis else qml.Identity(0))
    H = qml.Hamiltonian(coeffs, ops, grouping_type="qwc")
    gate = {"ry": qml.RY, "rz": qml.RZ, "rx": qml.RX, "h": qml.Hadamard, "cx": qml.CNOT, "rzz": qml.IsingZZ}

    def body(w):
        for op in program.circuit.ops():
            angles = [a.evaluate(np.asarray(w)[None], np.zeros((1, 0)))[0] if not a.is_constant else a.value()
                      for a in op.angles]
            gate[op.name](*angles, wires=list(op.qubits))
        return qml.expval(H)

    qnode = qml.set_shots(qml.QNode(body, dev), shots=shots)

    def run():
        return np.array([qnode(w) for w in W])

    return run


def aer_fn(model, W: np.ndarray, shots: int):
    try:
        from qiskit_aer.primitives import EstimatorV2
    except ImportError:
        return None
    from qcomp.hardware.qiskit import EstimatorExecutor

    ex = EstimatorExecutor(EstimatorV2(options={"run_options": {"seed": 0}}), precision=1 / np.sqrt(shots))
    qres = model.qasm_result(3)
    return lambda: ex.expval(qres, W)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shots", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    import qcomp

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()}")
    for example in ("hea_vqe.q", "qaoa_maxcut.q"):
        model = qcomp.compile(ROOT / "examples" / example)
        W = np.random.default_rng(0).uniform(-np.pi, np.pi, (args.batch, model.num_params))
        sim = model.simulator(shots=args.shots, seed=0)
        exact = model.simulator().expval(W)[:, 0]
        fns = {"qcomp": lambda: sim.expval(W)}
        pl = pennylane_fn(model.program, W, args.shots)
        if pl is not None:
            fns["pennylane-lightning"] = pl
        aer = aer_fn(model, W, args.shots)
        if aer is not None:
            fns["aer-estimator"] = aer
        # accuracy: every tool's estimates against the exact values (same shots / precision)
        errs = {k: float(np.sqrt(np.mean((np.asarray(fn()).reshape(args.batch, -1)[:, 0] - exact) ** 2)))
                for k, fn in fns.items()}
        groups = qcomp.passes.group_measurements.measurement_groups(model.program).num_groups
        t = paired_median(fns, args.repeat)
        print(f"\n{example}: {model.program.num_qubits} qubits, {len(model.program.observables[0].terms)} terms in "
              f"{groups} groups, batch {args.batch}, {args.shots} shots per group")
        print(f"{'tool':22s} {'median s':>10s} {'vs qcomp':>9s} {'rms error':>10s}")
        for k, v in t.items():
            print(f"{k:22s} {v:10.4f} {v / t['qcomp']:9.1f} {errs[k]:10.4f}")


if __name__ == "__main__":
    main()
