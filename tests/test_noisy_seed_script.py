"""Smoke test of benchmarks/noisy_seed.py on a tiny configuration, so the script cannot rot."""

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load():
    spec = importlib.util.spec_from_file_location("noisy_seed", ROOT / "benchmarks" / "noisy_seed.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tiny_run_writes_csv_and_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("scipy")
    mod = _load()
    out, png = tmp_path / "r.csv", tmp_path / "r.png"
    mod.main(["--max-train", "4", "--batch-size", "4", "--epochs", "1", "--max-test", "5", "--p", "0.01,0.3",
              "--trajectories", "2", "--shots", "10", "--repeats", "2", "--train-shots", "20",
              "--train-shots-epochs", "1", "--csv", str(out), "--plot", str(png)])
    rows = list(csv.DictReader(out.open()))
    kinds = [(r["kind"], r["p"] or r["shots"]) for r in rows]
    assert kinds == [("noise", "0"), ("noise", "0.01"), ("noise", "0.3"), ("eval_shots", "0"), ("eval_shots", "10"),
                     ("train_shots", "0"), ("train_shots", "20")]
    for r in rows:
        assert 0.0 <= float(r["hinge_accuracy"]) <= 1.0 and int(r["n_test"]) == 5
    noisy = [r for r in rows if r["kind"] == "noise" and float(r["p"]) > 0]
    # depolarizing noise shrinks <Z> toward 0: strong noise leaves less signal than none
    assert float(noisy[-1]["mean_abs_z"]) < float(rows[0]["mean_abs_z"])
    assert png.stat().st_size > 10_000
    mod.main(["--plot-only", "--csv", str(out), "--plot", str(tmp_path / "again.png")])
    assert (tmp_path / "again.png").exists()


def test_accuracy_stderr_formulas() -> None:
    mod = _load()
    y = np.array([1.0, -1.0, 1.0])
    # exact values: no Monte-Carlo error
    m = mod.metrics(np.array([0.5, -0.2, -0.1]), np.zeros(3), y)
    assert m["hinge_accuracy"] == pytest.approx(2 / 3) and m["accuracy_stderr"] == 0.0
    # an estimate at 0 with error: its sign is a coin flip, variance 1/4 of one sample
    m = mod.metrics(np.array([0.0, -5.0, 5.0]), np.array([1.0, 0.01, 0.01]), y)
    assert m["accuracy_stderr"] == pytest.approx(0.5 / 3, rel=1e-6)
    # the binomial prediction against a brute-force count over outcomes (3 shots, <Z> = 0.2)
    from math import comb

    q = 0.6
    p_pos = sum(comb(3, k) * q**k * (1 - q) ** (3 - k) for k in (2, 3))
    assert mod.binomial_accuracy(np.array([0.2, 0.2]), np.array([1.0, -1.0]), 3) == pytest.approx(0.5)
    assert mod.binomial_accuracy(np.array([0.2]), np.array([1.0]), 3) == pytest.approx(p_pos)
