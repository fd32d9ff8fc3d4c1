"""Smoke test of benchmarks/qml_grid_walltime.py --quick and its reference estimators, so the benchmark cannot rot."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from qcomp.bridges import qml_models as M
from qcomp.train.data import DataError, load_study_dataset

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_quick_cell_writes_a_row(tmp_path: Path) -> None:
    try:
        load_study_dataset("linearly_separable", 2)
    except (DataError, OSError):
        pytest.skip("the study's datasets are not on this machine")
    mod = _load("qml_grid_walltime")
    out = mod.main(["--quick", "--results", str(tmp_path / "g.csv")])
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 1
    r = rows[0]
    assert (r["model"], r["family"], r["size"], r["max_steps"]) == ("IQPVariationalClassifier", "linearly_separable",
                                                                   "2", "2")
    assert int(r["q_steps"]) == 2 and 0.0 <= float(r["q_test_acc"]) <= 1.0 and float(r["q_total_s"]) > 0
    if r["sides"] == "both":
        assert int(r["r_steps"]) == 2 and 0.0 <= float(r["r_test_acc"]) <= 1.0
        # the CSV has 4 decimals: a ratio of 0.0026 is only good to 2% relative
        assert float(r["ratio"]) == pytest.approx(float(r["q_total_s"]) / float(r["r_total_s"]), rel=1e-2, abs=1e-4)
    # resumable: the same run again finds the cell done
    mod.main(["--quick", "--results", str(tmp_path / "g.csv")])
    assert len(list(csv.DictReader(out.open()))) == 1
    if r["sides"] == "both":  # --table --sizes keeps only the sizes asked for
        assert "linearly_separable | 2 |" in mod.table(out, sizes="2+14")
        assert "linearly_separable | 2 |" not in mod.table(out, sizes="14")


def test_reference_models_compute_qcomps_circuits() -> None:
    """The reference's circuits (benchmarks/qml_reference.py) give qcomp's expectation values, so
    the grid times the same model on both sides."""
    pytest.importorskip("pennylane")
    pytest.importorskip("optax")
    jnp = pytest.importorskip("jax.numpy")
    R = _load("qml_reference")
    rng = np.random.default_rng(3)

    iqp = R.IQPVariationalClassifier(n_layers=2, repeats=2)
    iqp._build(3)
    X = rng.uniform(-1.5, 1.5, size=(4, 3))
    w = rng.uniform(0, 2 * np.pi, size=(2, 3, 3))
    got = np.asarray(iqp.forward({"weights": jnp.asarray(w)}, jnp.asarray(X)))
    want = M._simulator(M.iqp_variational_source(3, 2, 2)).expval(w.ravel(), X)[:, 0]
    assert np.allclose(got, want, atol=1e-10)

    dr = R.DataReuploadingClassifier(n_layers=3)
    dr._build(2)
    X = rng.uniform(-1.5, 1.5, size=(4, 6))
    th, om = rng.uniform(size=(2, 4, 3)), rng.uniform(size=(4, 6))
    got = np.asarray(dr.forward({"thetas": jnp.asarray(th), "omegas": jnp.asarray(om)}, jnp.asarray(X)))
    want = M._simulator(M.data_reuploading_source(2, 3)).expval(np.concatenate([th.ravel(), om.ravel()]), X)
    assert np.allclose(got, want, atol=1e-10)
