"""Trajectory simulation agrees with the exact density matrix within its standard errors (fixed seeds)."""

from __future__ import annotations

import numpy as np
import pytest

import qcomp
from qcomp.backends.density import DensityMatrixSimulator
from qcomp.backends.trajectories import TrajectorySimulator
from qcomp.errors import InputError, UnsupportedError

SRC = """qubit q[3]; param w[3];
ry(w[0]) q[0]; depolarizing(0.15) q[0]; rx(w[1]) q[1]; cx q[0], q[1]; amplitude_damping(0.3) q[1];
crx(w[2]) q[1], q[2]; phase_damping(0.25) q[2]; thermal_relaxation(30, 40, 9) q[0]; h q[2];
bit_flip(0.1) q[2]; readout_error(0.05, 0.1) q[1];
expect z(q[0]) @ z(q[1]); expect x(q[2]) + 0.5 * z(q[1]); measure q;"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_trajectories_agree_with_density_matrix_within_standard_error(seed):
    prog = qcomp.compile(SRC, cache=False).program
    W = np.array([[0.4, -1.2, 0.8], [1.0, 0.3, -0.5]])
    exact = DensityMatrixSimulator(prog).expval(W)
    tr = TrajectorySimulator(prog, trajectories=3000, seed=seed)
    mean, se = tr.expval_with_error(W)
    assert mean.shape == se.shape == (2, 2) and np.all(se > 0)
    assert np.all(np.abs(mean - exact) < 4.5 * se)  # z-score bound at fixed seeds
    p_exact = DensityMatrixSimulator(prog).probs(W, qubits=[1, 2])
    p, pse = tr.probs_with_error(W, qubits=[1, 2])
    assert np.allclose(p.sum(axis=1), 1)
    assert np.all(np.abs(p - p_exact) <= 4.5 * pse + 1e-12)


def test_same_seed_same_result_and_chunking_independent():
    prog = qcomp.compile(SRC, cache=False).program
    w = np.array([0.4, -1.2, 0.8])
    a = TrajectorySimulator(prog, trajectories=200, seed=7).expval(w)
    b = TrajectorySimulator(prog, trajectories=200, seed=7, threads=1).expval(w)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, TrajectorySimulator(prog, trajectories=200, seed=8).expval(w))


def test_options_are_checked():
    prog = qcomp.compile(SRC, cache=False).program
    with pytest.raises(InputError, match="trajectories"):
        TrajectorySimulator(prog, trajectories=1)
    with pytest.raises(InputError, match="seed"):
        TrajectorySimulator(prog, seed=-1)
    chan = qcomp.compile("qubit q; param p; depolarizing(p) q; expect z(q);", cache=False).program
    with pytest.raises(UnsupportedError, match="density_matrix"):
        TrajectorySimulator(chan).gradient([0.1])


def test_parameter_shift_gradients_with_common_random_numbers():
    # rz(2 w[0]) makes w[0] appear twice (chain rule); the shifted circuits share the seed's draws
    src = SRC.replace("bit_flip(0.1) q[2];", "rz(2 * w[0]) q[2]; bit_flip(0.1) q[2];")
    prog = qcomp.compile(src, cache=False).program
    w = np.array([0.4, -1.2, 0.8])
    exact = DensityMatrixSimulator(prog).gradient(w)
    tr = TrajectorySimulator(prog, trajectories=2000, seed=3)
    g = tr.gradient(w)
    assert g.shape == exact.shape == (2, 3)
    assert np.abs(g - exact).max() < 0.03
    cot = np.array([1.0, -0.5])
    assert np.allclose(tr.vjp(w, None, cot), cot @ g)


def test_auto_method_picks_trajectories_for_large_programs():
    from qcomp.noise import simulator

    small = qcomp.compile("qubit q[2]; depolarizing(0.1) q; expect z(q[0]);", cache=False).program
    large = qcomp.compile("qubit q[14]; h q; depolarizing(0.1) q; expect z(q[0]);", cache=False).program
    assert isinstance(simulator(small), DensityMatrixSimulator)
    t = simulator(large, trajectories=20, seed=1)
    assert isinstance(t, TrajectorySimulator)
    assert abs(t.expval()[0]) < 0.6
