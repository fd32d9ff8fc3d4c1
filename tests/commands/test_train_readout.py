"""`qcomp train` / `qcomp eval` on a model with two outputs: a readout rule and meaningful metrics only."""

import json
from pathlib import Path

import numpy as np
import pytest

from qcomp.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "reuploading_classifier.q"


@pytest.fixture()
def data(tmp_path):
    """Two features, labels +1/-1 (binary) and 0/1 (class indices)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 2))
    y = np.where(x[:, 0] * x[:, 1] > 0, 1.0, -1.0)
    pm, idx = tmp_path / "pm.npz", tmp_path / "idx.npz"
    np.savez(pm, x_train=x[:80], y_train=y[:80], x_test=x[80:], y_test=y[80:])
    np.savez(idx, x_train=x[:80], y_train=(y[:80] > 0) * 1.0, x_test=x[80:], y_test=(y[80:] > 0) * 1.0)
    return pm, idx


def _train(tmp_path, data, *extra):
    return main(["train", str(EXAMPLE), "--data", str(data), "--epochs", "1", "--no-export", "--no-progress",
                 "--save", str(tmp_path / "p.npz"), *extra])


def test_binary_labels_train_the_first_output_by_default(tmp_path, data, capsys):
    assert _train(tmp_path, data[0]) == 0
    out, err = capsys.readouterr()
    assert "test: loss" in out and "nan" not in out
    assert "the hinge loss reads output 0 (z(q[0])); --output K picks another" in err
    assert _train(tmp_path, data[0], "--output", "1", "--loss", "bce") == 0
    assert "reads output 1 (z(q[1]))" in capsys.readouterr().err
    assert main(["eval", str(EXAMPLE), "--data", str(data[0]), "--params", str(tmp_path / "p.npz"),
                 "--loss", "bce", "--output", "1", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert set(metrics) == {"loss", "accuracy", "hinge_accuracy"}


def test_softmax_ce_prints_no_hinge_accuracy(tmp_path, data, capsys):
    assert _train(tmp_path, data[1], "--loss", "softmax-ce") == 0
    out = capsys.readouterr().out
    assert "test: loss" in out and "accuracy" in out
    assert "nan" not in out and "hinge" not in out
    assert main(["eval", str(EXAMPLE), "--data", str(data[1]), "--params", str(tmp_path / "p.npz"),
                 "--loss", "softmax-ce", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"loss", "accuracy"}


@pytest.mark.parametrize("extra, message", [
    (["--output", "2"], "--output 2: the model has 2 outputs (0 to 1)"),
    (["--output", "0", "--loss", "softmax-ce"], "softmax-ce reads every output"),
])
def test_bad_output_selection(tmp_path, data, capsys, extra, message):
    assert _train(tmp_path, data[0], *extra) == 1
    assert message in capsys.readouterr().err
