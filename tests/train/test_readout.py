"""qcomp.train.OutputSelection: one output of a multi-output model for single-output losses."""

import pickle

import numpy as np
import pytest

import qcomp
from qcomp.train import OutputSelection, TrainConfigError
from qcomp.train.readout import _FullCotangent

SRC = "qubit q[2]; input x[2]; param w[3]; rx(x[0]) q[0]; rx(x[1]) q[1]; ry(w[0]) q[0]; cx q[0], q[1]; " \
      "ry(w[1]) q[1]; rz(w[2]) q[0]; expect z(q[0]); expect z(q[1]);"


def test_selects_one_output_and_its_gradient():
    sim = qcomp.compile(SRC).simulator()
    w, x = np.array([0.3, -0.7, 1.1]), np.random.default_rng(0).normal(size=(5, 2))
    sel = OutputSelection(sim, 1, 2)
    np.testing.assert_allclose(sel.expval(w, x), sim.expval(w, x)[:, 1:2], atol=1e-14)
    c = np.random.default_rng(1).normal(size=(5, 1))
    full = np.zeros((5, 2))
    full[:, 1] = c[:, 0]
    np.testing.assert_allclose(sel.vjp(w, x, c), sim.vjp(w, x, full), atol=1e-12)
    values, g = sel.value_and_vjp(w, x, lambda v, rows: c[rows])
    np.testing.assert_allclose(values, sim.expval(w, x)[:, 1:2], atol=1e-12)
    np.testing.assert_allclose(g, sim.vjp(w, x, full), atol=1e-12)


def _negated(values, rows):
    return -values


def test_no_value_and_vjp_without_the_models_and_the_cotangent_pickles():
    class Plain:
        def expval(self, p, x):
            return np.zeros((len(x), 2))

    assert not hasattr(OutputSelection(Plain(), 0, 2), "value_and_vjp")
    f = pickle.loads(pickle.dumps(_FullCotangent(_negated, 0, 3)))
    np.testing.assert_array_equal(f(np.ones((2, 3)), slice(0, 2)), [[-1.0, 0, 0], [-1.0, 0, 0]])
    with pytest.raises(TrainConfigError, match="output 2 does not exist"):
        OutputSelection(Plain(), 2, 2)
