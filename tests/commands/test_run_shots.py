"""``qcomp run --shots`` (estimates with standard errors, --counts for raw counts) and ``qcomp train --shots``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qcomp.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLASSIFIER = """qubit q[2];
input x[2];
param w[4];
ry(x[0] * 3.1) q[0];
ry(x[1] * 3.1) q[1];
ry(w[0]) q[0];
ry(w[1]) q[1];
cz q[0], q[1];
rx(w[2]) q[0];
rx(w[3]) q[1];
expect z(q[0]) @ z(q[1]);
"""


def _params(tmp_path, n=32, value=0.3):
    path = tmp_path / "w.npy"
    np.save(path, np.full(n, value))
    return str(path)


def test_run_shots_reports_estimates_within_stderr_of_exact(tmp_path, capsys):
    w = _params(tmp_path)
    out = tmp_path / "est.json"
    assert main(["run", str(EXAMPLES / "hea_vqe.q"), "--params", w, "--shots", "4000", "--seed", "7", "-o", str(out)]) == 0
    est = json.loads(out.read_text())
    assert est["shots"] == 4000 and est["seed"] == 7
    exact = tmp_path / "exact.json"
    assert main(["run", str(EXAMPLES / "hea_vqe.q"), "--params", w, "-o", str(exact)]) == 0
    e = json.loads(exact.read_text())["values"][0][0]
    v, s = est["values"][0][0], est["stderr"][0][0]
    assert 0 < s < 0.1 and abs(v - e) < 4.5 * s
    # printed: the estimate and its standard error per output, reproducible with the seed
    main(["run", str(EXAMPLES / "hea_vqe.q"), "--params", w, "--shots", "4000", "--seed", "7"])
    text = capsys.readouterr().out
    assert "shots: 4000 per measured group, seed 7" in text and "stderr0" in text
    assert f"{v:.10f}" in text and f"{s:.10f}" in text


def test_run_shots_batches_of_inputs_and_file_formats(tmp_path, capsys):
    src = tmp_path / "c.q"
    src.write_text(CLASSIFIER)
    w = _params(tmp_path, 4)
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(0).uniform(0, 1, (5, 2)))
    npy, csv = tmp_path / "o.npy", tmp_path / "o.csv"
    args = ["run", str(src), "--params", w, "--inputs", str(x), "--shots", "300", "--seed", "1"]
    assert main(args + ["-o", str(npy)]) == 0 and main(args + ["-o", str(csv)]) == 0
    arr = np.load(npy)
    assert arr.shape == (2, 5, 1) and np.all(arr[1] > 0)  # estimates, then standard errors
    rows = csv.read_text().splitlines()
    assert rows[0] == "z(q[0]) @ z(q[1]),stderr of z(q[0]) @ z(q[1])" and len(rows) == 6
    np.testing.assert_allclose([float(r.split(",")[0]) for r in rows[1:]], arr[0, :, 0])


def test_run_counts_flag_keeps_raw_counts(tmp_path, capsys):
    w = _params(tmp_path)
    assert main(["run", str(EXAMPLES / "hea_vqe.q"), "--params", w, "--shots", "50", "--seed", "3", "--counts"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sample 0: ") and sum(int(p.split(": ")[-1]) for p in out.strip()[10:].split(", ")) == 50


def test_run_counts_without_shots_is_an_error(tmp_path, capsys):
    w = _params(tmp_path)
    assert main(["run", str(EXAMPLES / "hea_vqe.q"), "--params", w, "--counts"]) == 1
    err = capsys.readouterr().err
    assert "--counts prints sampled counts: give --shots N" in err and "Traceback" not in err


def test_measure_only_model_still_prints_counts(tmp_path, capsys):
    src = tmp_path / "m.q"
    src.write_text("qubit q[2]; h q[0]; cx q[0], q[1]; measure q;")
    assert main(["run", str(src), "--shots", "100", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sample 0: 00: ") and "11: " in out


def test_train_with_shots_is_seeded_and_reproducible(tmp_path, capsys):
    src = tmp_path / "c.q"
    src.write_text(CLASSIFIER)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (40, 2))
    y = np.where(x[:, 0] > x[:, 1], 1.0, -1.0)
    data = tmp_path / "d.npz"
    np.savez(data, x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:])

    def train(tag):
        save = tmp_path / f"{tag}.npz"
        rc = main(["train", str(src), "--data", str(data), "--epochs", "2", "--batch-size", "10", "--shots", "200",
                   "--seed", "4", "--save", str(save), "--no-export", "--no-progress", "--val-fraction", "0"])
        assert rc == 0
        return np.load(save)["params"]

    a, b = train("a"), train("b")
    np.testing.assert_array_equal(a, b)  # seeded: the same shots, the same training
    save = tmp_path / "exact.npz"
    assert main(["train", str(src), "--data", str(data), "--epochs", "2", "--batch-size", "10", "--seed", "4",
                 "--save", str(save), "--no-export", "--no-progress", "--val-fraction", "0"]) == 0
    c = np.load(save)["params"]
    assert not np.array_equal(a, c)  # shot noise changed the steps
    assert np.abs(a - c).max() < 0.2  # but not the direction of training (lr 0.01, 6 steps)
