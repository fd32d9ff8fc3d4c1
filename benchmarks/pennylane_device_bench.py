"""The seed QNN as a PennyLane QNode: forward + adjoint gradient per broadcast batch on qcomp.qubit vs lightning.qubit.

The circuit is examples/mnist_qnn.q (16 data qubits and a readout: RX(pi x) encoding, X and H on
the readout, an XX layer and a ZZ layer coupling each data qubit to the readout, H, <Z(readout)>).
A batch of 32 samples is one broadcast tape; the loss is the batch's mean squared error against
+-1 labels and the gradient is taken with respect to the 32 weights (``diff_method="adjoint"``).

    python benchmarks/pennylane_device_bench.py [--batch 32] [--repeats 5] [--devices qcomp.qubit lightning.qubit]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pennylane as qml
from pennylane import numpy as pnp

N_DATA = 16


def qnn(dev, device_vjp: bool):
    readout = N_DATA

    @qml.qnode(dev, diff_method="adjoint", device_vjp=device_vjp)
    def circuit(x, w):
        for i in range(N_DATA):
            qml.RX(np.pi * x[..., i], wires=i)
        qml.PauliX(readout)
        qml.Hadamard(readout)
        for i in range(N_DATA):
            qml.IsingXX(w[i], wires=[i, readout])
        for i in range(N_DATA):
            qml.IsingZZ(w[N_DATA + i], wires=[i, readout])
        qml.Hadamard(readout)
        return qml.expval(qml.PauliZ(readout))

    return circuit


def step(circuit, x, y, w):
    def loss(w):
        return pnp.mean((circuit(x, w) - y) ** 2)

    g = qml.grad(loss)(w)
    return g


def bench(name: str, batch: int, repeats: int, seed: int = 0) -> tuple[float, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pnp.array(rng.integers(0, 2, size=(batch, N_DATA)).astype(float), requires_grad=False)
    y = pnp.array(rng.choice([-1.0, 1.0], size=batch), requires_grad=False)
    w = pnp.array(rng.uniform(-np.pi, np.pi, size=2 * N_DATA), requires_grad=True)
    dev = qml.device(name, wires=N_DATA + 1)
    # qcomp differentiates broadcast tapes natively through device VJPs; lightning expands the
    # batch into one tape per sample either way
    circuit = qnn(dev, device_vjp=name == "qcomp.qubit")
    g = step(circuit, x, y, w)  # warm-up: plans, numba kernels, caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        g = step(circuit, x, y, w)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), np.asarray(g)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--devices", nargs="+", default=["qcomp.qubit", "lightning.qubit"])
    args = ap.parse_args()
    results = {}
    for name in args.devices:
        try:
            results[name] = bench(name, args.batch, args.repeats)
        except qml.exceptions.DeviceError as exc:
            print(f"{name}: not available ({exc})")
            continue
        print(f"{name:18s} forward+gradient per batch of {args.batch}: {results[name][0] * 1e3:8.1f} ms")
    if "qcomp.qubit" in results and "lightning.qubit" in results:
        (tq, gq), (tl, gl) = results["qcomp.qubit"], results["lightning.qubit"]
        assert np.allclose(gq, gl, atol=1e-8), "qcomp.qubit and lightning.qubit gradients differ"
        print(f"speed-up of qcomp.qubit over lightning.qubit: {tl / tq:.1f}x (gradients agree)")


if __name__ == "__main__":
    main()
