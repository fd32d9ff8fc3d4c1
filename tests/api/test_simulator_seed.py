"""Regression: ``Model.simulator(shots=N, seed=S)`` builds the seeded shot simulator, not a noisy one."""

import numpy as np

import qcomp

SRC = "qubit q[2]; param w[1]; ry(w[0]) q[0]; cx q[0], q[1]; expect z(q[1]);"


def test_shots_with_seed_is_a_seeded_statevector_simulator() -> None:
    model = qcomp.compile(SRC)
    w = np.array([0.7])
    a = model.simulator(shots=200, seed=3).expval(w)
    b = model.simulator(shots=200, seed=3).expval(w)
    c = model.simulator(shots=200, seed=4).expval(w)
    assert np.array_equal(a, b)  # the seed reaches the shot generator
    assert not np.array_equal(a, c)
    assert abs(a[0] - np.cos(0.7)) < 5 * np.sqrt((1 - np.cos(0.7) ** 2) / 200)


def test_seed_still_seeds_trajectories_with_noise() -> None:
    from qcomp.noise import NoiseModel

    model = qcomp.compile(SRC)
    noise = NoiseModel().add_all_qubit_error("depolarizing", "all", params=[0.05])
    w = np.array([0.7])
    a = model.simulator(noise=noise, method="trajectories", trajectories=50, seed=3).expval(w)
    b = model.simulator(noise=noise, method="trajectories", trajectories=50, seed=3).expval(w)
    assert np.array_equal(a, b)


def test_cli_train_with_shots_and_seed_runs(tmp_path, capsys) -> None:
    """`qcomp train --shots N --seed S` (it passes both to Model.simulator) trains instead of refusing."""
    from qcomp.cli import main

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (12, 2))
    y = np.where(x[:, 0] > 0.5, 1.0, -1.0)
    data = tmp_path / "d.npz"
    np.savez(data, x_train=x[:8], y_train=y[:8], x_test=x[8:], y_test=y[8:])
    src = tmp_path / "m.q"
    src.write_text("qubit q[2]; input x[2]; param w[2];\nry(pi * x[0]) q[0]; ry(pi * x[1]) q[1];\n"
                   "ry(w[0]) q[0]; cx q[0], q[1]; ry(w[1]) q[1];\nexpect z(q[0]);\n")
    argv = ["train", str(src), "--data", str(data), "--epochs", "1", "--batch-size", "4", "--shots", "50",
            "--seed", "0", "--no-export", "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "50 shots" in out
