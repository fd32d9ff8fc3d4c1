"""Noisy simulation benchmark: qcomp's density matrix and trajectories vs Qiskit Aer and PennyLane default.mixed.

Run: python benchmarks/noise_bench.py [--qubits 10] [--batch 32] [--layers 1] [--traj-qubits 20] [--shots 20]
Noisy HEA (ry, rz per qubit, cx chain; depolarizing(0.01) after every gate on its qubits). Times are
per batch row (per shot for trajectories), measured side by side in this one process, so the ratios
are what count on a loaded machine. Aer gradients are parameter shift (2 circuits per param, Aer
has no gradient of its own); PennyLane's are backprop through default.mixed (autograd).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import qcomp
from qcomp.noise import NoiseModel


def hea_source(n: int, layers: int) -> str:
    lines = [f"qubit q[{n}];", f"param w[{2 * n * layers}];"]
    for l in range(layers):
        for i in range(n):
            lines.append(f"ry(w[{2 * (l * n + i)}]) q[{i}]; rz(w[{2 * (l * n + i) + 1}]) q[{i}];")
        for i in range(n - 1):
            lines.append(f"cx q[{i}], q[{i + 1}];")
    lines.append("expect " + " + ".join(f"z(q[{i}]) @ z(q[{i + 1}])" for i in range(n - 1)) + ";")
    return "\n".join(lines)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--qubits", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--traj-qubits", type=int, default=20)
    ap.add_argument("--shots", type=int, default=20)
    ap.add_argument("--pl-rows", type=int, default=2, help="rows PennyLane runs (it is timed per row)")
    args = ap.parse_args()
    n, B, L = args.qubits, args.batch, args.layers
    P = 2 * n * L
    nm = NoiseModel().add_all_qubit_error("depolarizing", "all", params=[0.01])
    model = qcomp.compile(hea_source(n, L), cache=False)
    W = np.random.default_rng(0).uniform(-np.pi, np.pi, (B, P))
    sim = model.simulator(noise=nm, method="density_matrix")
    sim.expval(W[:1])  # warm-up (numba kernels load from the cache)
    res: dict[str, float] = {}
    res["qcomp forward"] = timed(lambda: sim.expval(W)) / B
    res["qcomp gradient (adjoint)"] = timed(lambda: sim.vjp(W, None, np.ones((B, 1)))) / B

    from qiskit import QuantumCircuit, transpile
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_aer import AerSimulator

    aer_nm = nm.to_qiskit()
    obs = SparsePauliOp.from_sparse_list([("ZZ", [i, i + 1], 1.0) for i in range(n - 1)], n)

    def circuit(w):
        qc = QuantumCircuit(n)
        for l in range(L):
            for i in range(n):
                qc.ry(w[2 * (l * n + i)], i)
                qc.rz(w[2 * (l * n + i) + 1], i)
            for i in range(n - 1):
                qc.cx(i, i + 1)
        qc.save_expectation_value(obs, list(range(n)))
        return qc

    aer = AerSimulator(method="density_matrix", noise_model=aer_nm)

    def aer_values(rows):
        circs = [circuit(w) for w in rows]
        r = aer.run(circs).result()
        return np.array([r.data(k)["expectation_value"] for k in range(len(circs))])

    aer_values(W[:1])
    res["Aer density_matrix forward"] = timed(lambda: aer_values(W)) / B
    shift_rows = 1

    def aer_grad():
        for w in W[:shift_rows]:
            rows = []
            for k in range(P):
                e = np.zeros(P)
                e[k] = np.pi / 2
                rows += [w + e, w - e]
            v = aer_values(np.array(rows))
            _ = (v[0::2] - v[1::2]) / 2

    res["Aer density_matrix gradient (parameter shift)"] = timed(aer_grad) / shift_rows
    ours = sim.expval(W[:4])
    theirs = aer_values(W[:4])
    agree = float(np.abs(ours[:, 0] - theirs).max())

    try:
        import pennylane as qml

        dev = qml.device("default.mixed", wires=n)

        @qml.qnode(dev, diff_method="backprop")
        def pl(w):
            for l in range(L):
                for i in range(n):
                    qml.RY(w[2 * (l * n + i)], wires=i)
                    qml.DepolarizingChannel(0.01, wires=i)
                    qml.RZ(w[2 * (l * n + i) + 1], wires=i)
                    qml.DepolarizingChannel(0.01, wires=i)
                for i in range(n - 1):
                    qml.CNOT(wires=[i, i + 1])
                    qml.DepolarizingChannel(0.01, wires=i)
                    qml.DepolarizingChannel(0.01, wires=i + 1)
            return qml.expval(qml.sum(*[qml.PauliZ(i) @ qml.PauliZ(i + 1) for i in range(n - 1)]))

        from pennylane import numpy as pnp

        R = args.pl_rows
        res["PennyLane default.mixed forward"] = timed(lambda: [pl(pnp.array(w)) for w in W[:R]]) / R
        res["PennyLane default.mixed gradient (backprop)"] = timed(
            lambda: [qml.grad(pl)(pnp.array(w, requires_grad=True)) for w in W[:1]])
        agree = max(agree, abs(float(pl(pnp.array(W[0]))) - float(ours[0, 0])))
    except ImportError:
        pass

    # trajectories: per shot (one trajectory of one row)
    tn, S = args.traj_qubits, args.shots
    tmodel = qcomp.compile(hea_source(tn, L), cache=False)
    tw = np.random.default_rng(1).uniform(-np.pi, np.pi, 2 * tn * L)
    tsim = tmodel.simulator(noise=nm, method="trajectories", trajectories=S, seed=1)
    tsim.expval(tw)
    res[f"qcomp trajectories {tn}q per shot"] = timed(lambda: tsim.expval(tw)) / S
    tobs = SparsePauliOp.from_sparse_list([("ZZ", [i, i + 1], 1.0) for i in range(tn - 1)], tn)
    qc = QuantumCircuit(tn)
    for l in range(L):
        for i in range(tn):
            qc.ry(tw[2 * (l * tn + i)], i)
            qc.rz(tw[2 * (l * tn + i) + 1], i)
        for i in range(tn - 1):
            qc.cx(i, i + 1)
    qc.measure_all()
    aer_sv = AerSimulator(method="statevector", noise_model=aer_nm)
    tq = transpile(qc, aer_sv)
    aer_sv.run(tq, shots=2).result()
    res[f"Aer statevector+noise {tn}q per shot"] = timed(lambda: aer_sv.run(tq, shots=S).result()) / S
    del tobs

    print(f"noisy HEA: {n} qubits, {L} layer(s), {P} params, batch {B}; max |qcomp - oracle| = {agree:.2e}")
    for k, v in res.items():
        print(f"  {k:52s} {v * 1e3:10.2f} ms")
    f, g = res["qcomp forward"], res["qcomp gradient (adjoint)"]
    print(f"ratio forward  qcomp / Aer = {f / res['Aer density_matrix forward']:.3f}")
    print(f"ratio gradient qcomp / Aer = {g / res['Aer density_matrix gradient (parameter shift)']:.4f}")
    if "PennyLane default.mixed forward" in res:
        print(f"ratio forward  qcomp / PennyLane = {f / res['PennyLane default.mixed forward']:.3f}")
        print(f"ratio gradient qcomp / PennyLane = {g / res['PennyLane default.mixed gradient (backprop)']:.4f}")
    print(f"ratio trajectories qcomp / Aer per shot = "
          f"{res[f'qcomp trajectories {tn}q per shot'] / res[f'Aer statevector+noise {tn}q per shot']:.3f}")


if __name__ == "__main__":
    main()
