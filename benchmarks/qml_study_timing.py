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

``--estimators`` times the whole training step of all six variational models instead, estimator
against estimator on the study's linearly_separable data (published best hyperparameters where
the study has them, else the defaults): qcomp's ``qcomp.bridges.qml_models`` estimator against
the reference's (``benchmarks/qml_reference.py``: the study's training loop, batch drawn with
``jax.random.choice``, jitted gradient and loss, optax Adam). A step is everything the loop does
(batch, circuit loss and gradient, classical layers, optimiser, convergence bookkeeping):

* first step: qcomp from nothing compiled (simulator cache cleared, on-disk compile cache off) to
  the end of a ``max_steps=1`` fit; the reference's ``first_step_s_`` (trace + XLA compile + step).
  numba's kernels are loaded once per process before the first case, untimed (a process's first
  qcomp fit pays about 3 s for that, minutes right after an install, when they compile);
* per step: the median of steps 2 to S + 1 of one ``max_steps=S + 1`` fit on both sides (qcomp's
  step starts stamped at its loop's loss call, with the circuit compiled; the reference's
  ``step_times_``). The last column gives means: qcomp ``(fit(max_steps=S + 1) -
  fit(max_steps=1)) / S``, the reference's mean over its steps 2 to S + 1 without those over 20x
  its median (its circuit-centric loop compiles again in its second step, 2.6 s at 2 features).
  Beside a busy process the means include the time the other process held the core.

    python benchmarks/qml_study_timing.py --estimators [--steps 30] [--models IQPVariationalClassifier,...]
                                          [--sizes 2+4] [--busy]

``--busy`` runs a pure-Python spin process beside the run (a user's other work on one core); the
column ``qcomp / reference`` is the issue's per-step target (at most 1.0).
"""

from __future__ import annotations

import argparse
import contextlib
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


#: feature sizes of linearly_separable per model for --estimators (qubits: IQP, tree tensor,
#: dressed and separable one per feature; data re-uploading ceil(d / 3); circuit-centric
#: copies x ceil(log2 d))
ESTIMATOR_CASES = {
    "IQPVariationalClassifier": (2, 4, 6, 8, 10),
    "DataReuploadingClassifier": (2, 6, 10, 14, 20),
    "CircuitCentricClassifier": (2, 4, 8, 14),
    "TreeTensorClassifier": (2, 4, 8, 14),
    "DressedQuantumCircuitClassifier": (2, 4, 8, 14),
    "SeparableVariationalClassifier": (2, 6, 10, 14, 20),
}


def _grid_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("qml_grid_walltime", ROOT / "benchmarks" / "qml_grid_walltime.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def bench_estimator(model: str, size: int, steps: int, G=None) -> dict:
    """First step and per step of one variational model at one size, both sides' estimators."""
    import ast
    import warnings

    from qcomp.train.data import load_study_dataset

    G = G or _grid_module()
    row = G.published().get((model, "linearly_separable", size))
    params = ast.literal_eval(row["params"]) if row else {}
    ds = load_study_dataset("linearly_separable", size)
    qcls, rcls = M.STUDY_MODELS[model], G._reference_module().MODELS[model]

    def fit(cls, n_steps):
        est = cls(random_state=42, **G._kwargs(cls, params, n_steps))
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the capped fit's ConvergenceWarning
            est.fit(ds.x_train, ds.y_train)
        return est, time.perf_counter() - t

    M._simulator.cache_clear()
    _, q_first = fit(qcls, 1)
    stamps: list[float] = []
    with _stamped_steps(stamps):
        est, q_long = fit(qcls, steps + 1)
    _, q_one = fit(qcls, 1)
    ref, _ = fit(rcls, steps + 1)
    assert est.n_iter_ == ref.n_iter_ == steps + 1, (model, size, est.n_iter_, ref.n_iter_)
    q_times = np.diff(stamps)  # steps 2 .. S + 1 (from one step's start to the next's)
    r_times = np.asarray(ref.step_times_[1:])
    q_step = statistics.median(q_times)
    r_step = statistics.median(r_times)  # later steps can compile too (see the docstring)
    return {"model": model, "features": size, "hyperparams": repr(params) if row else "defaults", "q_first": q_first,
            "r_first": ref.first_step_s_, "q_step": q_step, "r_step": r_step, "q_mean": (q_long - q_one) / steps,
            "r_mean": float(np.mean(r_times[r_times < 20 * r_step]))}


@contextlib.contextmanager
def _stamped_steps(stamps: list[float]):
    """Record the start of every training step of qcomp's estimators (their loop calls
    loss_grad once per step, right after drawing the batch)."""
    orig = M._Variational._fit_params

    def fit_params(self, X, y, params, loss_grad, rng):
        def stamped(*a):
            stamps.append(time.perf_counter())
            return loss_grad(*a)
        return orig(self, X, y, params, stamped, rng)

    M._Variational._fit_params = fit_params
    try:
        yield
    finally:
        M._Variational._fit_params = orig


def main_estimators(args) -> None:
    import subprocess

    import jax
    import pennylane as qml

    G = _grid_module()
    # numba's kernels load from its on-disk cache once per process (about 3 s; minutes right after
    # an install or an engine edit, when they compile): paid here, untimed, not by the first case
    with np.errstate(all="ignore"):
        M.SeparableVariationalClassifier(max_steps=2).fit(np.eye(4, 2) - 0.3, [1, -1, 1, -1])
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    try:
        print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, CPU set "
              f"{G.pinned() or 'all'}, load {os.getloadavg()[0]:.1f}{', beside a busy spin process' if busy else ''}; "
              f"numpy {np.__version__}, pennylane {qml.__version__}, jax {jax.__version__}; {args.steps} steps",
              flush=True)
        print("| model | features | hyperparameters | qcomp first step | reference first step | qcomp per step | "
              "reference per step | qcomp / reference per step | means: qcomp / reference |")
        print("|---|---|---|---|---|---|---|---|---|")
        worst = 0.0
        for model in args.models.split(","):
            for size in ESTIMATOR_CASES[model]:
                if args.sizes and str(size) not in args.sizes.split("+"):
                    continue
                r = bench_estimator(model, size, args.steps, G)
                worst = max(worst, r["q_step"] / r["r_step"])
                print(f"| {model} | {size} | {r['hyperparams']} | {r['q_first']:.2f} s | {r['r_first']:.2f} s | "
                      f"{r['q_step'] * 1e3:.2f} ms | {r['r_step'] * 1e3:.2f} ms | {r['q_step'] / r['r_step']:.3f} | "
                      f"{r['q_mean'] * 1e3:.2f} / {r['r_mean'] * 1e3:.2f} ms |", flush=True)
        print(f"# worst per-step ratio {worst:.3f}; load after {os.getloadavg()[0]:.1f}")
    finally:
        if busy is not None:
            busy.kill()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default 20; 30 with --estimators)")
    ap.add_argument("--models", default=None)
    ap.add_argument("--estimators", action="store_true", help="the six variational estimators' whole steps")
    ap.add_argument("--busy", action="store_true", help="with --estimators: a spin process beside the run")
    ap.add_argument("--sizes", default=None, help="with --estimators: only these feature sizes, e.g. 2+4")
    args = ap.parse_args(argv)
    known = ESTIMATOR_CASES if args.estimators else CASES
    args.models = args.models or ",".join(known)
    unknown = [m for m in args.models.split(",") if m not in known]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    if args.steps is not None and args.steps < 1:
        ap.error("--steps must be at least 1")
    if args.estimators:
        args.steps = args.steps or 30
        main_estimators(args)
        return
    args.steps = args.steps or 20
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
