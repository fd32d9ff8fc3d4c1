"""``qcomp run --shots N --noise m.json`` (noisy estimates with standard errors) and ``qcomp train
--shots N --noise m.json --seed S`` (reproducible training on noisy shot estimates)."""

from __future__ import annotations

import json

import numpy as np

import qcomp
from qcomp.cli import main
from qcomp.noise import NoiseModel

from test_run_shots import CLASSIFIER

MODEL = """qubit q[2];
param w[2];
ry(w[0]) q[0];
cx q[0], q[1];
rx(w[1]) q[1];
expect z(q[0]) @ z(q[1]);
expect x(q[1]);
probs q[0];
measure q;
"""


def _setup(tmp_path, readout=False):
    src = tmp_path / "m.q"
    src.write_text(MODEL)
    noise = NoiseModel().add_all_qubit_error("depolarizing", ["ry", "rx"], params=[0.08]) \
        .add_all_qubit_error("amplitude_damping", ["cx"], params=[0.1])
    if readout:
        noise.add_readout_error(0.02, 0.05)
    noise.save(tmp_path / "noise.json")
    w = tmp_path / "w.npy"
    np.save(w, np.array([0.3, 1.2]))
    return str(src), str(tmp_path / "noise.json"), str(w), noise


def test_run_noisy_shots_prints_estimates_within_stderr_of_exact(tmp_path, capsys):
    src, noise_path, w, noise = _setup(tmp_path)
    out = tmp_path / "est.json"
    for method in ("density_matrix", "trajectories"):
        assert main(["run", src, "--params", w, "--noise", noise_path, "--noise-method", method, "--shots", "3000",
                     "--seed", "5", "-o", str(out)]) == 0
        est = json.loads(out.read_text())
        assert est["shots"] == 3000 and est["seed"] == 5 and len(est["outputs"]) == 4
        model = qcomp.compile(MODEL, cache=False)
        sim = model.simulator(noise=noise)
        exact = np.concatenate([sim.expval([0.3, 1.2])[:2], sim.probs([0.3, 1.2], qubits=[0])])
        v, s = np.array(est["values"][0]), np.array(est["stderr"][0])
        assert np.all(s > 0) and np.all(np.abs(v - exact) < 4.5 * s), (method, v, exact, s)
    # printed: the shots line, a legend, values and standard errors; the same with the same seed
    outs = []
    for _ in range(2):
        assert main(["run", src, "--params", w, "--noise", noise_path, "--shots", "500", "--seed", "9"]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]
    assert "shots: 500 per measured group, seed 9" in outs[0] and "stderr0" in outs[0] and "stderr3" in outs[0]
    assert main(["run", src, "--params", w, "--noise", noise_path, "--shots", "500", "--seed", "10"]) == 0
    assert capsys.readouterr().out != outs[0]


def test_run_noisy_shots_counts_and_errors(tmp_path, capsys):
    src, noise_path, w, _ = _setup(tmp_path, readout=True)
    assert main(["run", src, "--params", w, "--noise", noise_path, "--shots", "100", "--counts", "--seed", "1"]) == 0
    counts = capsys.readouterr().out
    assert counts.startswith("sample 0: ") and sum(int(t.split(": ")[-1]) for t in counts.split(", ")) == 100
    # a param inside a channel parameter has no shift rule: fine for values, refused for training
    noisy = tmp_path / "c.q"
    noisy.write_text("qubit q[1];\ninput x[1];\nparam w[2];\nry(x[0] + w[0]) q[0];\ndepolarizing(0.05 + 0.04 * sin(w[1])) q[0];\n"
                     "expect z(q[0]);\n")
    data = tmp_path / "d.npz"
    x = np.linspace(-1, 1, 8)[:, None]
    np.savez(data, x_train=x, y_train=np.sign(x[:, 0]), x_test=x, y_test=np.sign(x[:, 0]))
    rc = main(["train", str(noisy), "--data", str(data), "--epochs", "1", "--shots", "50", "--seed", "0",
               "--no-export", "--no-progress", "--val-fraction", "0", "--save", str(tmp_path / "p.npz")])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert "c.q:5:1: error:" in err and "depolarizing(0.05 + 0.04 * sin(w[1])) q[0];" in err and "no rule for channel parameters" in err


def test_train_noisy_with_shots_is_seeded_and_reproducible(tmp_path, capsys):
    src = tmp_path / "c.q"
    src.write_text(CLASSIFIER)
    NoiseModel().add_all_qubit_error("depolarizing", ["ry", "rx"], params=[0.03]).save(tmp_path / "n.json")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (30, 2))
    y = np.where(x[:, 0] > x[:, 1], 1.0, -1.0)
    data = tmp_path / "d.npz"
    np.savez(data, x_train=x[:20], y_train=y[:20], x_test=x[20:], y_test=y[20:])

    def train(tag, *extra):
        save = tmp_path / f"{tag}.npz"
        rc = main(["train", str(src), "--data", str(data), "--epochs", "2", "--batch-size", "10", "--noise",
                   str(tmp_path / "n.json"), "--seed", "4", "--save", str(save), "--no-export", "--no-progress",
                   "--val-fraction", "0", *extra])
        assert rc == 0
        return np.load(save)["params"]

    a, b = train("a", "--shots", "200"), train("b", "--shots", "200")
    out = capsys.readouterr().out
    assert "200 shots per measured group" in out
    np.testing.assert_array_equal(a, b)  # seeded: the same shots, the same training
    c = train("exact")
    assert not np.array_equal(a, c)  # shot noise changed the steps
    assert np.abs(a - c).max() < 0.2  # not the direction of training (4 small steps)
