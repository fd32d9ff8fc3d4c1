import numpy as np
import pytest

from qcomp.train.baseline import DenseNetwork, train_classical_baseline
from qcomp.train.data import load_data
from qcomp.train.errors import TrainConfigError
from qcomp.train.loop import Differentiable


@pytest.mark.parametrize("activation", ["tanh", "linear"])
def test_dense_network_vjp_matches_finite_differences(activation):
    net = DenseNetwork(5, 3, 2, activation)
    assert isinstance(net, Differentiable)
    rng = np.random.default_rng(0)
    p = rng.normal(size=net.n_params)
    x = rng.normal(size=(7, 5))
    c = rng.normal(size=(7, 2))
    g = net.vjp(p, x, c)
    h = 1e-6
    fd = np.array([
        (np.sum(c * net.expval(p + h * e, x)) - np.sum(c * net.expval(p - h * e, x))) / (2 * h)
        for e in np.eye(net.n_params)
    ])
    np.testing.assert_allclose(g, fd, atol=1e-6)


def test_fair_model_has_37_parameters():
    net = DenseNetwork(16, 2, 1)
    assert net.n_params == 16 * 2 + 2 + 2 * 1 + 1 == 37
    w1, b1, w2, b2 = net.unpack(np.arange(37.0))
    assert w1.shape == (16, 2) and b1.shape == (2,) and w2.shape == (2, 1) and b2.shape == (1,)
    with pytest.raises(TrainConfigError, match="output activation"):
        DenseNetwork(16, 2, 1, "sigmoid")


def test_baseline_on_digits_3_6():
    ds = load_data("digits:3,6", seed=0)
    out = train_classical_baseline(ds, epochs=40, batch_size=32, lr=0.01, seed=0)
    assert out["test_hinge_accuracy"] > 0.8
    assert out["params"].shape == (37,)
    assert len(out["history"]) == 40
    assert out["history"][-1]["loss"] < out["history"][0]["loss"]
    again = train_classical_baseline(ds, epochs=40, batch_size=32, lr=0.01, seed=0)
    np.testing.assert_array_equal(out["params"], again["params"])


def test_baseline_linear_output():
    ds = load_data("digits:3,6", seed=1)
    out = train_classical_baseline(ds, epochs=30, lr=0.02, seed=1, output_activation="linear")
    assert out["test_hinge_accuracy"] > 0.8


def test_doctests_and_package_exports():
    import doctest

    import qcomp.train as train
    from qcomp.train import baseline

    assert doctest.testmod(baseline).failed == 0
    for name in train.__all__:
        assert hasattr(train, name), name
