"""Shots benchmark: shot-based expectation values of the examples' Hamiltonians (hea_vqe, qaoa_maxcut).

qcomp's simulator with ``shots=N`` (grouped measurement, multinomial draws per group) against
PennyLane ``lightning.qubit`` with ``shots=N`` (the Hamiltonian grouped qubit-wise, as qcomp groups
it), Qiskit Aer's ``EstimatorV2`` with ``precision`` set to qcomp's mean standard error (the same
precision), and Aer's ``SamplerV2`` measuring the same groups with N shots each
(``qcomp.hardware.run_measurement_groups``), for a batch of B parameter rows.
Every tool evaluates the same B rows; times are medians of runs taken in turn (a, b, c, a, b, c, ...)
so all see the same machine load, and the ratios are what to read.

Also the shot-based parameter-shift gradient (every shifted circuit sampled) against PennyLane's
``diff_method="parameter-shift"`` with the same shots, for ``--grad-batch`` rows.

Run: python benchmarks/shots_bench.py [--shots 10000] [--batch 32] [--repeat 5] [--grad-batch 2]
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


def pl_hamiltonian(qml, obs):
    """The observable as a PennyLane Hamiltonian grouped qubit-wise (as qcomp groups it)."""
    coeffs, ops = [], []
    for t in obs.terms:
        coeffs.append(t.coeff)
        paulis = [getattr(qml, "Pauli" + p)(q) for q, p in t.paulis]
        ops.append(qml.prod(*paulis) if len(paulis) > 1 else paulis[0] if paulis else qml.Identity(0))
    return qml.Hamiltonian(coeffs, ops, grouping_type="qwc")


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
    H = pl_hamiltonian(qml, program.observables[0])
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


def pennylane_grad_fn(program, W: np.ndarray, shots: int):
    """PennyLane's shot-based parameter-shift gradient of the same circuit on lightning.qubit, or None."""
    try:
        import pennylane as qml
        from pennylane import numpy as pnp
    except ImportError:
        return None
    n = program.num_qubits
    dev = qml.device("lightning.qubit", wires=n, seed=0)
    H = pl_hamiltonian(qml, program.observables[0])
    gate = {"ry": qml.RY, "rz": qml.RZ, "rx": qml.RX, "h": qml.Hadamard, "cx": qml.CNOT, "rzz": qml.IsingZZ}

    def body(w):
        for op in program.circuit.ops():
            if op.angles:
                (a,) = op.angles
                (s,) = [x for x in a.symbols()]
                gate[op.name](a.diff(s).value() * w[s.index], wires=list(op.qubits))  # angles linear in one param
            else:
                gate[op.name](wires=list(op.qubits))
        return qml.expval(H)

    qnode = qml.set_shots(qml.QNode(body, dev, diff_method="parameter-shift"), shots=shots)
    jac = qml.jacobian(qnode)
    return lambda: np.array([jac(pnp.array(w, requires_grad=True)) for w in W])


def aer_fns(model, W: np.ndarray, shots: int, precision: float) -> dict:
    """Aer's EstimatorV2 at ``precision`` (it computes exact values and adds normal noise of that
    standard deviation), and Aer's SamplerV2 measuring qcomp's groups with ``shots`` shots each."""
    try:
        from qiskit_aer.primitives import EstimatorV2, SamplerV2
    except ImportError:
        return {}
    from qcomp.hardware.qiskit import EstimatorExecutor, run_measurement_groups

    ex = EstimatorExecutor(EstimatorV2(options={"run_options": {"seed": 0}}), precision=precision)
    qres = model.qasm_result(3)
    sampler = SamplerV2(seed=0)
    return {"aer-estimator": lambda: ex.expval(qres, W),
            "aer-sampler (groups)": lambda: run_measurement_groups(qres, sampler, shots, W)[0]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shots", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--grad-batch", type=int, default=2, help="rows of the shot-based gradient comparison (0: skip)")
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
        # the Estimator gets the precision qcomp's estimates have (their mean standard error)
        precision = float(np.mean(model.simulator(shots=args.shots, seed=1).estimate(W).stderr[0]))
        fns.update(aer_fns(model, W, args.shots, precision))
        # accuracy: every tool's estimates against the exact values (same shots / precision)
        errs = {k: float(np.sqrt(np.mean((np.asarray(fn()).reshape(args.batch, -1)[:, 0] - exact) ** 2)))
                for k, fn in fns.items()}
        groups = qcomp.passes.group_measurements.measurement_groups(model.program).num_groups
        t = paired_median(fns, args.repeat)
        print(f"\n{example}: {model.program.num_qubits} qubits, {len(model.program.observables[0].terms)} terms in "
              f"{groups} groups, batch {args.batch}, {args.shots} shots per group (qcomp's mean stderr {precision:.4f})")
        print(f"{'tool':22s} {'median s':>10s} {'vs qcomp':>9s} {'rms error':>10s}")
        for k, v in t.items():
            print(f"{k:22s} {v:10.4f} {v / t['qcomp']:9.1f} {errs[k]:10.4f}")
        if args.grad_batch:
            Wg = W[: args.grad_batch]
            exact_g = model.simulator().gradient(Wg)[:, 0]
            gfns = {"qcomp": lambda: sim.gradient_estimate(Wg)[0][:, 0]}
            plg = pennylane_grad_fn(model.program, Wg, args.shots)
            if plg is not None:
                gfns["pennylane-lightning"] = plg
            gerr = {k: float(np.sqrt(np.mean((np.asarray(fn()).reshape(exact_g.shape) - exact_g) ** 2)))
                    for k, fn in gfns.items()}
            tg = paired_median(gfns, max(1, args.repeat // 2))
            print(f"shot-based parameter-shift gradient, batch {args.grad_batch}, {model.num_params} params:")
            for k, v in tg.items():
                print(f"{k:22s} {v:10.4f} {v / tg['qcomp']:9.1f} {gerr[k]:10.4f}")


if __name__ == "__main__":
    main()
