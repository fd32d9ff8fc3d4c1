"""The QML benchmark study (Bowles, Ahmed, Schuld 2024) reproduced with qcomp: model x dataset x size grid.

Run:  python benchmarks/qml_study.py [--models A,B] [--cells linearly_separable:2-10,two_curves_diff:5]
          [--results benchmarks/results/qml_study.csv] [--max-steps N] [--repeats 1] [--plot out.png]
      python benchmarks/qml_study.py --write-examples     # regenerate examples/qml_benchmarks/*.q

Every cell fits one model (qcomp.sklearn's study estimators, or scikit-learn's SVC, MLPClassifier,
Perceptron as the study's classical baselines) on the study's train split and scores the test
split. Hyperparameters: the study's best ones for that model, dataset and size where
benchmarks/qml_study_published.csv has them (taken from XanaduAI/qml-benchmarks paper/results:
the rank-1 row of the GridSearchCV table), else the model's defaults (column ``hyperparams`` says
which). Results are appended to a CSV after every cell, and cells already in it are skipped, so an
interrupted run resumes (a cell that stopped at a smaller step cap runs again). ``--plot`` draws
test accuracy against the size per dataset with the published accuracies (matplotlib, the
``plot`` extra).

Datasets: $QCOMP_QML_BENCHMARKS_DATA or ../shared/datasets/qml-benchmarks (qcomp.train.data).
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qcomp.bridges import qml_models as M  # noqa: E402
from qcomp.errors import DataError  # noqa: E402
from qcomp.train.data import STUDY_FAMILIES, load_study_dataset, study_files  # noqa: E402

PUBLISHED = ROOT / "benchmarks" / "qml_study_published.csv"
DEFAULT_RESULTS = ROOT / "benchmarks" / "results" / "qml_study.csv"
CLASSICAL = ("SVC", "MLPClassifier", "Perceptron")
FIELDS = ["model", "family", "size", "repeat", "hyperparams", "params", "train_acc", "test_acc", "fit_s",
          "steps", "converged", "published_test_mean", "published_test_std", "published_cv_mean",
          "published_cv_std"]


def classical(name: str, params: dict, seed: int):
    """The study's classical baselines: scikit-learn's estimators with their defaults apart from the
    grid's hyperparameters, fitted on the raw features."""
    from sklearn.linear_model import Perceptron
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    if name == "SVC":
        return SVC(random_state=seed, **params)
    if name == "MLPClassifier":
        kw = dict(params)
        if "hidden_layer_sizes" in kw and isinstance(kw["hidden_layer_sizes"], list):
            kw["hidden_layer_sizes"] = tuple(kw["hidden_layer_sizes"])
        return MLPClassifier(random_state=seed, **kw)
    return Perceptron(random_state=seed, **params)


def make(name: str, params: dict, seed: int, max_steps: int | None):
    if name in CLASSICAL:
        return classical(name, params, seed)
    cls = M.STUDY_MODELS[name]
    known = cls().get_params()
    kw = {k: v for k, v in params.items() if k in known}  # drops the reference's batch/vmap knobs we share
    if max_steps is not None and "max_steps" in known:
        kw["max_steps"] = min(int(kw.get("max_steps", known["max_steps"])), max_steps)
    return cls(random_state=seed, **kw)


def published() -> dict[tuple[str, str, int], dict]:
    out = {}
    if PUBLISHED.exists():
        with PUBLISHED.open() as f:
            for row in csv.DictReader(f):
                out[(row["model"], row["family"], int(row["size"]))] = row
    return out


def parse_cells(spec: str) -> list[tuple[str, int]]:
    """``family:sizes,...`` (sizes like 2-6 or 2+4+8) as (family, size) pairs; ValueError if malformed."""
    cells = []
    for part in spec.split(","):
        fam, _, sizes = part.partition(":")
        if fam not in STUDY_FAMILIES:
            raise ValueError(f"unknown dataset family {fam!r}; known: {', '.join(STUDY_FAMILIES)}")
        for s in sizes.split("+"):
            lo, _, hi = s.partition("-")
            if not lo.isdigit() or not (hi or lo).isdigit() or int(lo) < 1 or int(hi or lo) < int(lo):
                raise ValueError(f"bad size range {s!r} in {part!r}: use N, N-M or N+M+...")
            cells += [(fam, k) for k in range(int(lo), int(hi or lo) + 1)]
    return cells


def cell_params(model: str, family: str, size: int, pub: dict) -> dict:
    """The hyperparameters a cell runs with: the study's best (published row) or {} (defaults)."""
    row = pub.get((model, family, size))
    return ast.literal_eval(row["params"]) if row else {}


def done_cells(path: Path) -> dict[tuple[str, str, int, int, str], int | None]:
    """(model, family, size, repeat, params as written) of every result row: a cell counts as done
    only for the hyperparameters it ran with, so adding a published row reruns a cell that ran
    with the defaults (the old row stays in the CSV; --table and --plot show the current setting).
    The value is the step count of a row that stopped at its step cap without converging (None
    otherwise): such a row is done only for runs whose cap is no larger (see is_done)."""
    if not path.exists():
        return {}
    done: dict[tuple[str, str, int, int, str], int | None] = {}
    with path.open() as f:
        for r in csv.DictReader(f):
            capped = int(r["steps"]) if r["converged"] == "False" and r["steps"] else None
            done[(r["model"], r["family"], int(r["size"]), int(r["repeat"]), r["params"])] = capped
    return done


def is_done(done: dict, key: tuple[str, str, int, int, str], max_steps: int | None) -> bool:
    """Whether a cell needs no run: it has a row, and that row either converged or already ran as
    many steps as this run's cap (``max_steps``, else the model's own ``max_steps``) allows."""
    if key not in done:
        return False
    capped = done[key]
    if capped is None:
        return True
    default = M.STUDY_MODELS[key[0]]().max_steps  # only the variational models record converged=False
    cap = default if max_steps is None else min(max_steps, default)
    return capped >= cap


def current_rows(rows: list[dict], pub: dict) -> list[dict]:
    """The result rows that ran with each cell's current hyperparameters (see cell_params), the
    last row of each seed where a cell was rerun with a larger step cap."""
    latest = {}
    for r in rows:
        if r["params"] == json.dumps(cell_params(r["model"], r["family"], int(r["size"]), pub)):
            latest[(r["model"], r["family"], r["size"], r["repeat"])] = r
    return list(latest.values())


def run(args) -> None:
    pub = published()
    models, cells = args.models, args.cells
    missing = sorted({str(p) for f, s in cells for p in study_files(f, s) if not p.is_file()})
    if missing:  # checked before any cell runs, so a typo in the sizes is not found hours in
        raise DataError(f"{len(missing)} dataset file(s) not found, e.g. {missing[0]}")
    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    done = done_cells(results)
    todo = [(m, f, s, r) for f, s in cells for m in models for r in range(args.repeats)
            if not is_done(done, (m, f, s, r, json.dumps(cell_params(m, f, s, pub))), args.max_steps)]
    print(f"{len(todo)} cells to run ({len(done)} already in {results})", flush=True)
    new = not results.exists()
    with results.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        if new:
            w.writeheader()
        t_all = time.perf_counter()
        for i, (model, fam, size, rep) in enumerate(todo, 1):
            row = pub.get((model, fam, size))
            params = ast.literal_eval(row["params"]) if row else {}
            ds = load_study_dataset(fam, size)
            est = make(model, params, seed=42 + rep, max_steps=args.max_steps)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(ds.x_train, ds.y_train)
            fit_s = time.perf_counter() - t0
            out = {"model": model, "family": fam, "size": size, "repeat": rep,
                   "hyperparams": "published best" if row else "defaults", "params": json.dumps(params),
                   "train_acc": f"{est.score(ds.x_train, ds.y_train):.4f}",
                   "test_acc": f"{est.score(ds.x_test, ds.y_test):.4f}", "fit_s": f"{fit_s:.2f}",
                   "steps": getattr(est, "n_iter_", ""), "converged": getattr(est, "converged_", "")}
            if isinstance(out["steps"], np.ndarray):  # scikit-learn's n_iter_ may be an array
                out["steps"] = int(np.max(out["steps"]))
            for k in ("published_test_mean", "published_test_std", "published_cv_mean", "published_cv_std"):
                out[k] = row.get(k, "") if row else ""
            w.writerow(out)
            fh.flush()
            eta = (time.perf_counter() - t_all) / i * (len(todo) - i)
            print(f"[{i}/{len(todo)}] {model} {fam} {size}: test {out['test_acc']} (published "
                  f"{out['published_test_mean'] or out['published_cv_mean'] or '-'}) fit {fit_s:.1f}s "
                  f"steps {out['steps']} | eta {eta / 60:.1f} min", flush=True)
    if args.plot:
        plot(results, Path(args.plot))


def plot(results: Path, out: Path) -> None:
    """Test accuracy against size, one panel per dataset family, one line per model (the study's
    figures); published accuracies as crosses."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install 'qcomp[plot]'); no plot", file=sys.stderr)
        return
    pubs = published()
    with results.open() as f:
        rows = current_rows(list(csv.DictReader(f)), pubs)
    fams = sorted({r["family"] for r in rows})
    fig, axes = plt.subplots(1, len(fams), figsize=(5 * len(fams), 4), squeeze=False)
    for ax, fam in zip(axes[0], fams):
        sub = [r for r in rows if r["family"] == fam]
        colors = plt.get_cmap("tab20").colors
        for k, model in enumerate(sorted({r["model"] for r in sub})):
            by_size: dict[int, list[float]] = {}
            for r in sub:
                if r["model"] == model:
                    by_size.setdefault(int(r["size"]), []).append(float(r["test_acc"]))
            pts = sorted((size, float(np.mean(v))) for size, v in by_size.items())  # mean over seeds
            line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=model, ms=3,
                            color=colors[(2 * k) % 20 if k < 10 else (2 * k + 1) % 20])
            pub = sorted({(size, float(p["published_test_mean"] or p["published_cv_mean"]))
                          for size in by_size if (p := pubs.get((model, fam, size)))})
            if pub:
                ax.plot([p[0] for p in pub], [p[1] for p in pub], "x", color=line.get_color(), ms=7)
        ax.set_title(f"{fam} ({STUDY_FAMILIES[fam][2]})")
        ax.set_xlabel(STUDY_FAMILIES[fam][2])
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0.4, 1.02)
    axes[0][-1].legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


def agreement(ours: float, p: dict) -> str:
    """Our mean test accuracy minus the study's (its 5-seed test mean where published, else the CV
    accuracy of its best row, marked 'cv'); ✓ when within max(2 σ of the study's, one test sample
    of 60), ✗ otherwise, '' without a published number. Both sides are written with 4 decimals, so
    the bound allows 1e-4 of rounding (0.9833 against 1.0000 is one test sample)."""
    if p.get("published_test_mean"):
        m, s, kind = float(p["published_test_mean"]), float(p["published_test_std"]), ""
    elif p.get("published_cv_mean"):
        m, s, kind = float(p["published_cv_mean"]), float(p["published_cv_std"]), " cv"
    else:
        return ""
    d = ours - m
    return f"{d:+.3f}{kind} {'✓' if abs(d) <= max(2 * s, 1 / 60) + 1e-4 else '✗'}"


def table(results: Path) -> str:
    """Markdown: per dataset and size, our test accuracy (mean +- std over the seeds run) beside the
    study's (test mean +- std over its 5 seeds where published, and its 5-fold CV accuracy of the
    best hyperparameters)."""
    pub = published()
    with results.open() as f:
        rows = current_rows(list(csv.DictReader(f)), pub)
    groups: dict[tuple[str, int, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["family"], int(r["size"]), r["model"]), []).append(r)
    order = {m: i for i, m in enumerate([*M.STUDY_MODELS, *CLASSICAL])}
    lines = ["| dataset | size | model | hyperparameters | qcomp test acc (seeds) | study test acc (5 seeds) | "
             "study CV acc (best row) | Δ | fit time | steps |", "|---|---|---|---|---|---|---|---|---|---|"]
    for (fam, size, model), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], order.get(kv[0][2], 99))):
        p = pub.get((model, fam, size), {})
        acc = np.array([float(r["test_acc"]) for r in rs])
        ours = f"{acc.mean():.3f}" + (f" ± {acc.std():.3f} ({len(acc)})" if len(acc) > 1 else " (1)")
        test = f"{float(p['published_test_mean']):.3f} ± {float(p['published_test_std']):.3f}" \
            if p.get("published_test_mean") else "-"
        cv = f"{float(p['published_cv_mean']):.3f} ± {float(p['published_cv_std']):.3f}" if p.get("published_cv_mean") else "-"
        r0 = rs[0]
        hp = ", ".join(f"{k}={v}" for k, v in json.loads(r0["params"]).items()) if r0["hyperparams"] != "defaults" \
            else "defaults"
        fit = np.median([float(r["fit_s"]) for r in rs])
        steps = "/".join(str(r["steps"]) + ("" if r["converged"] in ("", "True") else "*") for r in rs)
        lines.append(f"| {fam} | {size} | {model} | {hp} | {ours} | {test} | {cv} | {agreement(acc.mean(), p)} | "
                     f"{fit:.1f} s | {steps} |")
    return "\n".join(lines)


def write_examples() -> None:
    folder = ROOT / "examples" / "qml_benchmarks"
    folder.mkdir(parents=True, exist_ok=True)
    for name, src in M.example_sources().items():
        (folder / name).write_text(src)
    print(f"wrote {len(M.example_sources())} programs to {folder}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="", help="comma-separated model names (default: all)")
    ap.add_argument("--cells", default="linearly_separable:2-6",
                    help="family:sizes, comma-separated; sizes like 2-6 or 2+4+8")
    ap.add_argument("--results", default=str(DEFAULT_RESULTS))
    ap.add_argument("--repeats", type=int, default=1, help="seeds 42, 43, ... per cell")
    ap.add_argument("--max-steps", type=int, default=None, help="cap the variational models' max_steps")
    ap.add_argument("--plot", default="", help="write the accuracy-vs-size figure here (matplotlib)")
    ap.add_argument("--plot-only", action="store_true")
    ap.add_argument("--write-examples", action="store_true")
    ap.add_argument("--table", action="store_true", help="print the results as a markdown table")
    args = ap.parse_args(argv)
    known = [*M.STUDY_MODELS, *CLASSICAL]
    args.models = args.models.split(",") if args.models else known
    if unknown := [m for m in args.models if m not in known]:
        ap.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(known)}")
    try:
        args.cells = parse_cells(args.cells)
    except ValueError as e:
        ap.error(str(e))
    if args.repeats < 1 or (args.max_steps is not None and args.max_steps < 1):
        ap.error("--repeats and --max-steps must be at least 1")
    if args.write_examples:
        write_examples()
    elif args.table:
        print(table(Path(args.results)))
    elif args.plot_only:
        plot(Path(args.results), Path(args.plot or "qml_study.png"))
    else:
        try:
            run(args)
        except DataError as e:
            sys.exit(str(e))


if __name__ == "__main__":
    main()
