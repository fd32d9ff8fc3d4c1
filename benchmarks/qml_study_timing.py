"""Time to first training step and time per step: qcomp vs the study's PennyLane + JAX implementation.

Run:  python benchmarks/qml_study_timing.py [--steps 20] [--models iqp,reupload,tree]

For each model and size both sides build the same circuit (the study's definitions; qcomp from
qcomp.bridges.qml_models' .q templates, the reference as XanaduAI/qml-benchmarks writes it:
PennyLane default.qubit with the JAX interface, ``jax.vmap`` over the batch, ``jax.jit`` of the
gradient and of the loss, which its training loop calls one after the other every step), check
that the loss values agree to 1e-8 on the same batch and parameters, and time, in this process:

* first step: from nothing compiled (qcomp: compile the .q source with the on-disk cache off, build
  the simulator, one loss + gradient; reference: build the QNode, trace and jit, one grad + loss);
* per step: the median of ``--steps`` further steps on fresh random batches of 32.

Needs pennylane, jax (x64 on) and optax in the environment (not qcomp dependencies). Nothing sets
thread variables; the ratio (reference / qcomp) of the same run is what to read.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QCOMP_NO_CACHE", "1")  # time the compile, not a cache hit

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qcomp.bridges import qml_models as M  # noqa: E402

B = 32


def _qcomp_side(kind: str, n: int, layers: int):
    """(build() -> step(params, X, y) -> loss, params, X sampler) for qcomp."""
    import qcomp

    if kind == "iqp":
        src = M.iqp_variational_source(n, layers, 1)

        def build():
            sim = qcomp.compile(src, cache=False).simulator()

            def step(w, X, y):
                vals, g = sim.value_and_vjp(w, X, lambda v, rows: -y[rows, None] / (2 * len(y)))
                return float(np.mean((1 - vals[:, 0] * y) / 2)), g
            return step
        return build
    if kind == "reupload":
        q = -(-n // 3)
        src = M.data_reuploading_source(q, layers)

        def build():
            sim = qcomp.compile(src, cache=False).simulator()

            def step(w, X, y):
                # the study's loss with alphas = 1 and observable 'single' (the circuit part of the step)
                y0, y1 = (1 - y) / 2, (1 + y) / 2

                def cot(v, rows):
                    e = v[:, :1]
                    c = np.zeros_like(v)
                    c[:, :1] = (-((1 - e) / 2 - y0[rows, None]) + ((1 + e) / 2 - y1[rows, None])) / (2 * len(y))
                    return c
                vals, g = sim.value_and_vjp(w, X, cot)
                e = vals[:, 0]
                return float(0.5 * np.sum(((1 - e) / 2 - y0) ** 2 + ((1 + e) / 2 - y1) ** 2) / len(y)), g
            return step
        return build
    raise ValueError(kind)


def _reference_side(kind: str, n: int, layers: int):
    import jax
    import jax.numpy as jnp
    import pennylane as qml

    jax.config.update("jax_enable_x64", True)

    if kind == "iqp":
        def build():
            dev = qml.device("default.qubit", wires=n)

            @qml.qnode(dev, interface="jax")
            def circuit(w, x):
                qml.IQPEmbedding(x, wires=range(n), n_repeats=1)
                qml.StronglyEntanglingLayers(w, wires=range(n), imprimitive=qml.CZ)
                return qml.expval(qml.PauliZ(0) @ qml.PauliZ(1))

            fwd = jax.vmap(jax.jit(circuit), in_axes=(None, 0))

            def loss(w, X, y):
                return jnp.mean((1 - fwd(w, X) * y) / 2)
            return jax.jit(loss), jax.jit(jax.grad(loss))
        return build
    if kind == "reupload":
        q = -(-n // 3)

        def build():
            dev = qml.device("default.qubit", wires=q)

            @qml.qnode(dev, interface="jax")
            def circuit(w, x):
                th = w[: 3 * q * (layers + 1)].reshape(q, layers + 1, 3)
                om = w[3 * q * (layers + 1):].reshape(layers + 1, 3 * q)
                for layer in range(layers):
                    for i in range(q):
                        qml.Rot(*(x[3 * i:3 * i + 3] * om[layer, 3 * i:3 * i + 3]), wires=i)
                        qml.Rot(*th[i, layer], wires=i)
                    for i in range(layer % 2, q - 1, 2):
                        qml.CZ(wires=[i, i + 1])
                for i in range(q):
                    qml.Rot(*(x[3 * i:3 * i + 3] * om[layers, 3 * i:3 * i + 3] + th[i, layers]), wires=i)
                return qml.expval(qml.PauliZ(0))

            fwd = jax.vmap(jax.jit(circuit), in_axes=(None, 0))

            def loss(w, X, y):
                e = fwd(w, X)
                return 0.5 * jnp.sum(((1 - e) / 2 - (1 - y) / 2) ** 2 + ((1 + e) / 2 - (1 + y) / 2) ** 2) / len(y)
            return jax.jit(loss), jax.jit(jax.grad(loss))
        return build
    raise ValueError(kind)


def _data(kind: str, n: int, layers: int, rng: np.random.Generator):
    if kind == "iqp":
        w = rng.uniform(0, 2 * np.pi, size=(layers, n, 3))
        return w, w.ravel(), (lambda: rng.uniform(-np.pi / 2, np.pi / 2, size=(B, n)))
    q = -(-n // 3)
    w = rng.uniform(size=3 * q * (layers + 1) * 2)
    return w, w, (lambda: np.pad(rng.uniform(-np.pi / 2, np.pi / 2, size=(B, n)), ((0, 0), (0, 3 * q - n))))


def bench(kind: str, n: int, layers: int, steps: int) -> dict:
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    w_ref, w_q, sample = _data(kind, n, layers, rng)
    y = np.where(rng.uniform(size=B) > 0.5, 1.0, -1.0)
    X0 = sample()

    t = time.perf_counter()
    step = _qcomp_side(kind, n, layers)()
    lq, _ = step(w_q, X0, y)
    q_first = time.perf_counter() - t

    t = time.perf_counter()
    loss, grad = _reference_side(kind, n, layers)()
    g = grad(jnp.asarray(w_ref), jnp.asarray(X0), jnp.asarray(y))
    lr = float(loss(jnp.asarray(w_ref), jnp.asarray(X0), jnp.asarray(y)))
    np.asarray(g)
    r_first = time.perf_counter() - t
    assert abs(lq - lr) < 1e-8, (kind, n, lq, lr)

    qt, rt = [], []
    for _ in range(steps):
        X = sample()
        t = time.perf_counter()
        step(w_q, X, y)
        qt.append(time.perf_counter() - t)
        t = time.perf_counter()
        Xj = jnp.asarray(X)
        np.asarray(grad(jnp.asarray(w_ref), Xj, jnp.asarray(y)))
        float(loss(jnp.asarray(w_ref), Xj, jnp.asarray(y)))
        rt.append(time.perf_counter() - t)
    return {"q_first": q_first, "r_first": r_first, "q_step": statistics.median(qt), "r_step": statistics.median(rt),
            "loss_diff": abs(lq - lr)}


CASES = {"iqp": [(4, 5), (6, 5), (8, 5)], "reupload": [(6, 4), (12, 4)]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--models", default=",".join(CASES))
    args = ap.parse_args(argv)
    import jax
    import pennylane as qml

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}; "
          f"numpy {np.__version__}, pennylane {qml.__version__}, jax {jax.__version__}")
    print("| model | features | qubits | layers | qcomp first step | reference first step | qcomp per step | "
          "reference per step | per-step ratio (ref / qcomp) | loss diff |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for kind in args.models.split(","):
        for n, layers in CASES[kind]:
            r = bench(kind, n, layers, args.steps)
            qubits = n if kind == "iqp" else -(-n // 3)
            print(f"| {kind} | {n} | {qubits} | {layers} | {r['q_first']:.2f} s | {r['r_first']:.2f} s | "
                  f"{r['q_step'] * 1e3:.1f} ms | {r['r_step'] * 1e3:.1f} ms | {r['r_step'] / r['q_step']:.2f} | "
                  f"{r['loss_diff']:.1e} |", flush=True)
    print(f"# load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
