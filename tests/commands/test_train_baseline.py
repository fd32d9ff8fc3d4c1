"""`qcomp train --baseline` reports the baseline the API computes: real architecture, searched size and epochs."""

import re

import numpy as np

from qcomp.cli import main
from qcomp.train import describe_baseline, fair_classical_baseline, load_data


def _baseline_line(out: str) -> str:
    lines = [line for line in out.splitlines() if line.startswith("classical baseline")]
    assert len(lines) == 1, out
    return lines[0]


def test_cli_baseline_is_the_api_baseline(model, tmp_path, capsys):
    args = ["train", str(model), "--data", "digits:3,6", "--epochs", "1", "--batch-size", "64", "--lr", "0.3",
            "--seed", "2", "--no-progress", "--no-export", "--save", str(tmp_path / "p.npz"), "--baseline"]
    assert main(args) == 0
    line = _baseline_line(capsys.readouterr().out)
    # the same function on the same data split as the CLI (seed 2, validation fraction 0.1)
    data = load_data("digits:3,6", seed=2, validation_fraction=0.1, expected_features=16)
    assert line == describe_baseline(fair_classical_baseline(data, seed=2))
    # the quantum model's epochs and learning rate do not change the baseline
    assert main(args[:4] + ["--epochs", "2", "--lr", "0.01"] + args[8:]) == 0
    assert _baseline_line(capsys.readouterr().out) == line


def test_cli_baseline_reports_the_architecture_of_the_data(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(200, 2))
    y = np.where(x[:, 0] > x[:, 1], 1, -1)
    data = tmp_path / "two.npz"
    np.savez(data, x_train=x[:150], y_train=y[:150], x_test=x[150:], y_test=y[150:])
    model = tmp_path / "m.q"
    model.write_text("qubit q[2]; input x[2]; param w[2];\nry(pi * x[0]) q[0]; ry(pi * x[1]) q[1];\n"
                     "rzz(w[0]) q[0], q[1]; rx(w[1]) q[0];\nexpect z(q[0]);\n")
    assert main(["train", str(model), "--data", str(data), "--epochs", "1", "--no-progress", "--no-export",
                 "--save", str(tmp_path / "p.npz"), "--baseline"]) == 0
    line = _baseline_line(capsys.readouterr().out)
    m = re.match(r"classical baseline 2-(\d+)-1 \((\d+) params, (\d+) epochs", line)
    assert m, line
    h, n_params = int(m.group(1)), int(m.group(2))
    assert n_params == 2 * h + h + h + 1
    assert "16-2-1" not in line and "37 params" not in line
