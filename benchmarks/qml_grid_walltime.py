"""Wall time of a model x dataset x size grid of the QML study: qcomp's estimators against the reference's (issue 18).

Run:  taskset -c 1 python benchmarks/qml_grid_walltime.py [--models CircuitCentricClassifier,...] (default: all nine)
          [--cells linearly_separable:2+4+6+8+10,hidden_manifold:...,two_curves:...] [--max-steps 100]
          [--results benchmarks/results/qml_grid_walltime.csv] [--qcomp-only]
      python benchmarks/qml_grid_walltime.py --table [--results ...] [--max-steps N] [--models ...] [--rows latest]
      python benchmarks/qml_grid_walltime.py --quick                    # one tiny cell, smoke run

Every cell fits one model end to end on the study's train split and predicts its test split, once
with qcomp's estimator (qcomp.bridges.qml_models: compile the .q template with the on-disk compile
cache off and the in-process simulator cache cleared, train, predict) and once with the reference's
(benchmarks/qml_reference.py: the study's estimator and training loop, PennyLane default.qubit +
jax.jit + jax.vmap, which traces and XLA-compiles its loss, its gradient and its batched predict
anew for every fit), in the same process, the side that goes first alternating from cell to cell.
Timed: estimator construction, compile / JIT, training, predict of the test set (not the CSV
loading, which both share). Hyperparameters: the study's best for the model, dataset and size
(benchmarks/qml_study_published.csv), else the model's defaults (column ``hyperparams`` says
which). Both sides get the same step cap ``--max-steps``; the study's convergence rule (interval
200) can only stop a fit after step 401, so below that both run exactly the cap.

Results are appended to the CSV after every cell and cells already there (same model, dataset,
size, step cap, sides) are skipped, so an interrupted run continues. Needs pennylane, jax (x64)
and optax for the reference side; without them, or with --qcomp-only, only qcomp's side runs.
Nothing sets thread variables.

The nine models: the six variational ones (IQP variational, data re-uploading, circuit-centric,
tree tensor, dressed quantum circuit, separable) train by gradient steps under the step cap;
IQPKernelClassifier and ProjectedQuantumKernel fit an SVC on a quantum Gram matrix and
QuantumKitchenSinks a logistic regression on random quantum features (no steps; the cap does not
apply, steps are 0). The reference side's JAX trace + lowering + XLA compile time over the cell
is recorded from jax.monitoring's compile events (column r_compile_s); qcomp's QuantumKitchenSinks
samples its features exactly without a simulator, so its compile column is 0.

Shared machine: run it pinned to one core (``taskset -c 1 ...``; column ``pinned`` records the
CPU set, and a pinned row is a different cell from an unpinned one for resuming, the table
showing the later row of a cell). While the file /tmp/quiet exists (someone is timing on the
machine) no new cell starts: :func:`wait_quiet` polls every 20 s before each cell, outside the
timed region.

Known hang (not qcomp's side): pinned to one core, the reference ProjectedQuantumKernel at 10 and
at 14 features has stopped for good, using no CPU time: the main thread and XLA's only
Eigen worker thread both wait in ``PyLoadedExecutable::ExecuteSharded`` -> ``tsl::BlockUntilReady``,
i.e. a JAX execution started from inside another one on the single worker (PennyLane's
``jax-jit`` path). Run that model unpinned.
"""

from __future__ import annotations

import argparse
import ast
import csv
import importlib.util
import os
import platform
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("QCOMP_NO_CACHE", "1")  # compile time is part of the target: no on-disk cache hits

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qcomp.bridges import qml_models as M  # noqa: E402
from qcomp.train.data import load_study_dataset  # noqa: E402

PUBLISHED = ROOT / "benchmarks" / "qml_study_published.csv"
DEFAULT_RESULTS = ROOT / "benchmarks" / "results" / "qml_grid_walltime.csv"
DEFAULT_MODELS = ("IQPVariationalClassifier,DataReuploadingClassifier,SeparableVariationalClassifier,"
                  "CircuitCentricClassifier,TreeTensorClassifier,DressedQuantumCircuitClassifier,IQPKernelClassifier,"
                  "QuantumKitchenSinks,ProjectedQuantumKernel")
QUIET = Path("/tmp/quiet")
#: models whose qcomp estimator trains by gradient steps (the others fit a Gram matrix or random features)
VARIATIONAL = {"IQPVariationalClassifier", "DataReuploadingClassifier", "SeparableVariationalClassifier",
               "CircuitCentricClassifier", "TreeTensorClassifier", "DressedQuantumCircuitClassifier"}
DEFAULT_CELLS = "linearly_separable:2+4+6+8+10,hidden_manifold:2+4+6+8+10,two_curves:2+4+6+8+10"
FIELDS = ["model", "family", "size", "max_steps", "sides", "hyperparams", "params", "first",
          "q_total_s", "q_compile_s", "q_train_s", "q_predict_s", "q_steps", "q_test_acc",
          "r_total_s", "r_first_step_s", "r_steps_s", "r_predict_s", "r_steps", "r_test_acc", "ratio", "load",
          "r_compile_s", "r_fit_s", "pinned", "note"]


def wait_quiet(poll: float = 20.0) -> float:
    """Block while the file /tmp/quiet exists (someone on the shared machine is timing and asks
    for no new compute); returns the seconds waited. Called before every cell, outside the timing."""
    t0 = time.perf_counter()
    announced = False
    while QUIET.exists():
        if not announced:
            print(f"{QUIET} exists: waiting before the next cell", flush=True)
            announced = True
        time.sleep(poll)
    return time.perf_counter() - t0


class _CompileClock:
    """Wall time JAX spends tracing, lowering and XLA-compiling (jax.monitoring's
    /jax/core/compile/* duration events), as the union of the events' intervals, since the trace
    of an outer jit contains the traces of the jits it calls."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []
        self.on = False

    def __call__(self, name: str, secs: float, **_kw) -> None:
        if self.on and name.startswith("/jax/core/compile/"):
            end = time.perf_counter()
            self.spans.append((end - secs, end))

    def start(self) -> None:
        self.spans, self.on = [], True

    def stop(self) -> float:
        self.on = False
        total, cur = 0.0, None
        for a, b in sorted(self.spans):
            if cur is None or a > cur[1]:
                total += 0.0 if cur is None else cur[1] - cur[0]
                cur = [a, b]
            else:
                cur[1] = max(cur[1], b)
        return total + (0.0 if cur is None else cur[1] - cur[0])


_CLOCK = _CompileClock()


def have_reference() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("jax", "pennylane", "optax"))


def published() -> dict[tuple[str, str, int], dict]:
    with PUBLISHED.open() as f:
        return {(r["model"], r["family"], int(r["size"])): r for r in csv.DictReader(f)}


def parse_cells(spec: str) -> list[tuple[str, int]]:
    out = []
    for part in spec.split(","):
        fam, _, sizes = part.partition(":")
        out += [(fam, int(s)) for s in sizes.split("+")]
    return out


def _kwargs(cls, params: dict, max_steps: int) -> dict:
    """The hyperparameters ``cls`` takes (the published rows also hold knobs one side lacks),
    with the step cap."""
    known = cls().get_params()
    kw = {k: v for k, v in params.items() if k in known}
    if "max_steps" in known:  # kernel models and kitchen sinks take no steps
        kw["max_steps"] = max_steps
    return kw


def run_qcomp(model: str, params: dict, max_steps: int, ds) -> dict:
    """qcomp's side of a cell, from a cold compile; returns times, steps and test accuracy."""
    M._simulator.cache_clear()  # every fit compiles, as every reference fit re-traces and re-JITs
    t0 = time.perf_counter()
    cls = M.STUDY_MODELS[model]
    est = cls(random_state=42, **_kwargs(cls, params, max_steps))
    if model != "QuantumKitchenSinks":  # qcomp's kitchen sinks sample exactly without a simulator
        M._simulator(est.source(ds.x_train.shape[1]))  # the compile fit would do first, timed apart
    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the capped fit's ConvergenceWarning
        est.fit(ds.x_train, ds.y_train)
    t2 = time.perf_counter()
    pred = est.predict(ds.x_test)
    t3 = time.perf_counter()
    return {"q_total_s": t3 - t0, "q_compile_s": t1 - t0, "q_train_s": t2 - t1, "q_predict_s": t3 - t2,
            "q_steps": getattr(est, "n_iter_", 0), "q_test_acc": float(np.mean(pred == ds.y_test))}


def _reference_module():
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    import qml_reference

    return qml_reference


def run_reference(model: str, params: dict, max_steps: int, ds) -> dict:
    """The reference's side of a cell (benchmarks/qml_reference.py)."""
    R = _reference_module()
    _CLOCK.start()
    t0 = time.perf_counter()
    cls = R.MODELS[model]
    est = cls(random_state=42, **_kwargs(cls, params, max_steps))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(ds.x_train, ds.y_train)
    t2 = time.perf_counter()
    pred = np.asarray(est.predict(ds.x_test))
    t3 = time.perf_counter()
    compile_s = _CLOCK.stop()
    # fit - loop = estimator construction, scaler, QNode set-up (no tracing yet); folded into steps.
    # Kernel models and kitchen sinks take no steps: their fit (Gram matrix or features + SVC /
    # logistic regression, compiles included) is column r_fit_s, first step and steps stay 0.
    first = getattr(est, "first_step_s_", 0.0)
    stepped = hasattr(est, "first_step_s_")
    return {"r_total_s": t3 - t0, "r_first_step_s": first, "r_steps_s": (t2 - t0 - first) if stepped else 0.0,
            "r_predict_s": t3 - t2, "r_steps": getattr(est, "n_iter_", 0), "r_fit_s": t2 - t0,
            "r_compile_s": compile_s, "r_test_acc": float(np.mean(pred == ds.y_test))}


def pinned() -> str:
    """The CPUs this process may run on, e.g. "1" under ``taskset -c 1``; empty if all."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return ""
    return "" if len(cpus) == os.cpu_count() else "+".join(map(str, cpus))


def migrate(path: Path) -> None:
    """Rewrite a results CSV written before columns were added, so that rows appended with
    FIELDS line up with its header (the new columns stay empty in the old rows)."""
    if not path.exists():
        return
    with path.open() as f:
        reader = csv.DictReader(f)
        if reader.fieldnames == FIELDS:
            return
        rows = list(reader)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows({k: r.get(k, "") for k in FIELDS} for r in rows)


def done_keys(path: Path) -> set[tuple]:
    if not path.exists():
        return set()
    with path.open() as f:
        return {(r["model"], r["family"], int(r["size"]), int(r["max_steps"]), r["sides"], r.get("pinned") or "")
                for r in csv.DictReader(f)}


def run(args) -> Path:
    both = not args.qcomp_only and have_reference()
    sides = "both" if both else "qcomp"
    if not both and not args.qcomp_only:
        print("pennylane/jax/optax missing: timing qcomp's side only", flush=True)
    pub = published()
    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    migrate(results)
    done = done_keys(results)
    todo = [(m, f, s) for f, s in parse_cells(args.cells) for m in args.models.split(",")
            if (m, f, s, args.max_steps, sides, pinned()) not in done]
    print(f"{len(todo)} cells to run ({len(done)} rows already in {results}); load {os.getloadavg()[0]:.2f}",
          flush=True)
    new = not results.exists()
    with results.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        if new:
            w.writeheader()
        for i, (model, fam, size) in enumerate(todo, 1):
            wait_quiet()
            row = pub.get((model, fam, size))
            params = ast.literal_eval(row["params"]) if row else {}
            params.update(args.override)
            ds = load_study_dataset(fam, size)
            out = {"model": model, "family": fam, "size": size, "max_steps": args.max_steps, "sides": sides,
                   "hyperparams": "published best" if row else "defaults", "params": repr(params),
                   "load": f"{os.getloadavg()[0]:.2f}", "pinned": pinned()}
            # alternate which side runs first, so neither always inherits a warm cache or a quiet machine
            first_q = not both or (len(done) + i) % 2 == 1
            out["first"] = "qcomp" if first_q else "reference"
            if first_q:
                out.update(run_qcomp(model, params, args.max_steps, ds))
            if both:
                out.update(run_reference(model, params, args.max_steps, ds))
                if not first_q:
                    out.update(run_qcomp(model, params, args.max_steps, ds))
                out["ratio"] = out["q_total_s"] / out["r_total_s"]
            w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in out.items()})
            fh.flush()
            ref = (f" | reference {out['r_total_s']:.1f}s (compile {out['r_compile_s']:.1f}s, first step "
                   f"{out['r_first_step_s']:.1f}s, "
                   f"{out['r_steps']} steps, acc {out['r_test_acc']:.3f}) ratio {out['ratio']:.3f}") if both else ""
            print(f"[{i}/{len(todo)}] {model} {fam} {size} ({out['hyperparams']}): qcomp {out['q_total_s']:.1f}s "
                  f"(compile {out['q_compile_s']:.2f}s, {out['q_steps']} steps, acc {out['q_test_acc']:.3f}){ref}",
                  flush=True)
    return results


def select(rows: list[dict], which: str = "latest") -> list[dict]:
    """The rows a table shows: ``latest`` = the last row of every cell (model, dataset, size, step
    cap), so a pinned re-run supersedes an earlier unpinned one; ``pinned`` / ``unpinned`` = only
    the rows run under taskset / without it; ``all`` = every row."""
    if which == "pinned":
        return [r for r in rows if r.get("pinned")]
    if which == "unpinned":
        return [r for r in rows if not r.get("pinned")]
    if which == "all":
        return rows
    last: dict[tuple, dict] = {}
    for r in rows:
        last.pop(key := (r["model"], r["family"], r["size"], r["max_steps"]), None)
        last[key] = r
    return list(last.values())


def _f(r: dict, c: str) -> float:
    return float(r[c]) if r.get(c) not in (None, "") else float("nan")


def table(path: Path, max_steps: int | None = None, which: str = "latest", models: str | None = None,
          sizes: str | None = None) -> str:
    """Markdown table of the both-sides rows of ``path`` (optionally of one step cap, some models
    and some sizes, e.g. "14" or "2+4"; rows chosen by :func:`select`), with a total per model and
    for the whole grid.
    Reference "fit" = estimator construction + fit (for the variational models: first step, i.e.
    trace + XLA compile of loss and gradient + one step, then the other steps); "trace+compile" =
    JAX's own compile events over the whole cell (empty for rows run before it was recorded)."""
    with path.open() as f:
        rows = [r for r in csv.DictReader(f) if r["sides"] == "both"
                and (max_steps is None or int(r["max_steps"]) == max_steps)
                and (models is None or r["model"] in models.split(","))
                and (sizes is None or r["size"] in sizes.split("+"))]
    rows = select(rows, which)
    for r in rows:  # rows from before r_fit_s was recorded
        if r.get("r_fit_s") in (None, ""):
            r["r_fit_s"] = str(_f(r, "r_first_step_s") + _f(r, "r_steps_s"))
    lines = ["| model | dataset | size | hyperparams | qcomp s (compile / train / predict) | reference s (fit / predict) "
             "| ref first step s | ref trace+compile s | steps q / ref | test acc q / ref | ratio |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    cols = ("q_total_s", "q_compile_s", "q_train_s", "q_predict_s", "r_total_s", "r_fit_s", "r_predict_s",
            "r_first_step_s", "r_compile_s")

    def total(label: str, sub: list[dict]) -> str:
        t = {c: sum(_f(r, c) for r in sub) for c in cols}
        comp = "" if np.isnan(t["r_compile_s"]) else f"{t['r_compile_s']:.1f} ({t['r_compile_s'] / t['r_total_s']:.0%})"
        return (f"| **{label}** ({len(sub)} cells) | | | | **{t['q_total_s']:.1f}** ({t['q_compile_s']:.1f} / "
                f"{t['q_train_s']:.1f} / {t['q_predict_s']:.1f}) | **{t['r_total_s']:.1f}** "
                f"({t['r_fit_s']:.1f} / {t['r_predict_s']:.1f}) | {t['r_first_step_s']:.1f} | {comp} | | | "
                f"**{t['q_total_s'] / t['r_total_s']:.3f}** |")

    for r in rows:
        f = {c: _f(r, c) for c in cols}
        comp = "" if np.isnan(f["r_compile_s"]) else f"{f['r_compile_s']:.1f}"
        first = f"{f['r_first_step_s']:.1f}" if int(r["r_steps"] or 0) else "-"
        lines.append(f"| {r['model'].replace('Classifier', '')} | {r['family']} | {r['size']} | {r['hyperparams']} | "
                     f"{f['q_total_s']:.2f} ({f['q_compile_s']:.2f} / {f['q_train_s']:.2f} / {f['q_predict_s']:.2f}) | "
                     f"{f['r_total_s']:.1f} ({f['r_fit_s']:.1f} / {f['r_predict_s']:.1f}) | {first} | {comp} | "
                     f"{r['q_steps']} / {r['r_steps']} | "
                     f"{float(r['q_test_acc']):.3f} / {float(r['r_test_acc']):.3f} | {float(r['ratio']):.3f} |")
    names = list(dict.fromkeys(r["model"] for r in rows))
    lines += [total(m.replace("Classifier", ""), [r for r in rows if r["model"] == m]) for m in names]
    if len(names) > 1:
        lines.append(total("grid total", rows))
    return "\n".join(lines)


def main(argv=None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--cells", default=DEFAULT_CELLS)
    ap.add_argument("--max-steps", type=int, default=None, help="step cap of both sides (default 100; with "
                    "--table: only the rows of this cap)")
    ap.add_argument("--results", default=str(DEFAULT_RESULTS))
    ap.add_argument("--qcomp-only", action="store_true", help="time qcomp's side only")
    ap.add_argument("--table", action="store_true", help="print the markdown table of --results and exit")
    ap.add_argument("--rows", default="latest", choices=["latest", "pinned", "unpinned", "all"],
                    help="with --table: which rows (default: the last row of every cell)")
    ap.add_argument("--sizes", default=None, help="with --table: only these sizes, e.g. 14 or 2+4+6")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: IQP variational, linearly_separable 2 features, 1 layer, 2 steps")
    args = ap.parse_args(argv)
    args.override = {}
    if args.table:
        models = None if args.models == DEFAULT_MODELS else args.models
        print(table(Path(args.results), args.max_steps, args.rows, models, args.sizes))
        return Path(args.results)
    args.max_steps = 100 if args.max_steps is None else args.max_steps
    if args.quick:
        args.models, args.cells, args.max_steps = "IQPVariationalClassifier", "linearly_separable:2", 2
        args.override = {"n_layers": 1}  # keeps the reference's JIT to seconds
        if args.results == str(DEFAULT_RESULTS):
            args.results = str(DEFAULT_RESULTS.with_name("qml_grid_walltime_quick.csv"))
    import scipy  # noqa: F401  (imported by both sides' scikit-learn; keep its import out of cell one)

    versions = f"python {platform.python_version()}, numpy {np.__version__}"
    if have_reference() and not args.qcomp_only:
        import jax
        import pennylane as qml

        versions += f", pennylane {qml.__version__}, jax {jax.__version__}"
        _reference_module()  # import outside the timed cells, as qcomp's own import is
        jax.monitoring.register_event_duration_secs_listener(_CLOCK)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, running on "
          f"{pinned() or 'all'}; {versions}", flush=True)
    path = run(args)
    if not args.qcomp_only and have_reference():
        print(table(path, args.max_steps, "latest", args.models))
    print(f"# load after: {os.getloadavg()[0]:.2f}")
    return path


if __name__ == "__main__":
    main()
