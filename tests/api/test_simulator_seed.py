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
