import doctest

import numpy as np
import pytest

from qcomp.errors import DataError, QCompError
from qcomp.train import losses
from qcomp.train.errors import TrainConfigError
from qcomp.train.losses import (
    BinaryCrossEntropy,
    HingeLoss,
    SoftmaxCrossEntropy,
    SquaredLoss,
    get_loss,
)


def fd_grad(loss, y_pred, y_true, h=1e-6):
    g = np.zeros_like(y_pred)
    for idx in np.ndindex(*y_pred.shape):
        up, dn = y_pred.copy(), y_pred.copy()
        up[idx] += h
        dn[idx] -= h
        g[idx] = (loss.value(up, y_true) - loss.value(dn, y_true)) / (2 * h)
    return g


def away_from_hinge_kink(y_pred, t, margin=1e-3):
    # keep |1 - t*y| > margin so the finite difference does not straddle the kink
    z = 1.0 - t * y_pred
    return np.where(np.abs(z) < margin, y_pred + 10 * margin, y_pred)


@pytest.mark.parametrize("labels", [np.array([1, -1, 1, -1, 1, 1]), np.array([1, 0, 1, 0, 0, 1])])
def test_hinge_grad_matches_finite_differences(labels):
    rng = np.random.default_rng(0)
    y = rng.uniform(-2, 2, size=(6, 1))
    t = np.where(labels > 0, 1.0, -1.0).reshape(-1, 1)
    y = away_from_hinge_kink(y, t)
    loss = HingeLoss()
    np.testing.assert_allclose(loss.grad(y, labels), fd_grad(loss, y, labels), atol=1e-7)


def test_hinge_value_like_keras():
    y_pred = np.array([[0.6], [-0.4], [2.0], [-0.5]])
    y_true = np.array([1, 1, -1, -1])
    expected = np.mean([0.4, 1.4, 3.0, 0.5])
    assert HingeLoss().value(y_pred, y_true) == pytest.approx(expected)
    # {0, 1} labels are mapped to {-1, +1} like tf.keras.losses.Hinge
    assert HingeLoss().value(y_pred, np.array([1, 1, 0, 0])) == pytest.approx(expected)


def test_hinge_multi_output_targets():
    rng = np.random.default_rng(1)
    y = rng.uniform(-2, 2, size=(4, 3))
    t = rng.choice([-1.0, 1.0], size=(4, 3))
    y = away_from_hinge_kink(y, t)
    loss = HingeLoss()
    assert loss.value(y, t) == pytest.approx(np.mean(np.maximum(0, 1 - t * y)))
    np.testing.assert_allclose(loss.grad(y, t), fd_grad(loss, y, t), atol=1e-7)


def test_squared_grad_and_value():
    rng = np.random.default_rng(2)
    y = rng.normal(size=(5, 2))
    t = rng.normal(size=(5, 2))
    loss = SquaredLoss()
    assert loss.value(y, t) == pytest.approx(np.mean((y - t) ** 2))
    np.testing.assert_allclose(loss.grad(y, t), fd_grad(loss, y, t), atol=1e-7)
    y1 = rng.normal(size=(5, 1))
    t1 = rng.normal(size=5)
    np.testing.assert_allclose(loss.grad(y1, t1), fd_grad(loss, y1, t1), atol=1e-7)


@pytest.mark.parametrize("labels", [np.array([1, -1, 1, -1, -1]), np.array([1, 0, 1, 0, 0])])
def test_bce_grad_matches_finite_differences(labels):
    rng = np.random.default_rng(3)
    y = rng.uniform(-0.9, 0.9, size=(5, 2))  # second column is ignored
    loss = BinaryCrossEntropy()
    g = loss.grad(y, labels)
    np.testing.assert_allclose(g, fd_grad(loss, y, labels), atol=1e-6)
    assert np.all(g[:, 1] == 0)
    p = (1 + y[:, 0]) / 2
    t = (labels > 0).astype(float)
    assert loss.value(y, labels) == pytest.approx(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))


def test_bce_clips_probabilities():
    loss = BinaryCrossEntropy(eps=1e-7)
    y = np.array([[-1.0], [1.0]])
    v = loss.value(y, np.array([1, -1]))
    assert np.isfinite(v) and v == pytest.approx(-np.log(1e-7))
    assert np.all(loss.grad(y, np.array([1, -1])) == 0)  # clip is active: zero gradient


def test_softmax_ce_grad_and_scale():
    rng = np.random.default_rng(4)
    y = rng.uniform(-1, 1, size=(6, 3))
    labels = np.array([0, 1, 2, 2, 1, 0])
    for scale in (1.0, 5.0):
        loss = SoftmaxCrossEntropy(scale=scale)
        np.testing.assert_allclose(loss.grad(y, labels), fd_grad(loss, y, labels), atol=1e-6)
        z = scale * y
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        assert loss.value(y, labels) == pytest.approx(-np.mean(logp[np.arange(6), labels]))


def test_softmax_ce_rejects_bad_labels():
    with pytest.raises(DataError, match=r"integers in \[0, 3\)"):
        SoftmaxCrossEntropy().value(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(DataError, match="labels outside the expected set for softmax-ce"):
        SoftmaxCrossEntropy().check_labels(np.array([0, 1, -1]), 2)


def test_check_labels_binary_losses():
    HingeLoss().check_labels(np.array([1, -1]), 1)
    BinaryCrossEntropy().check_labels(np.array([0, 1]), 1)
    with pytest.raises(DataError, match=r"labels outside the expected set for the hinge loss.*found \[2\]"):
        HingeLoss().check_labels(np.array([1, -1, 2]), 1)
    with pytest.raises(DataError, match="binary cross-entropy"):
        BinaryCrossEntropy().check_labels(np.array([0.5, 1.0]), 1)


def test_shape_mismatch_is_reported():
    with pytest.raises(TrainConfigError, match="does not match y_pred"):
        HingeLoss().value(np.zeros((3, 2)), np.array([1, -1, 1]))


def test_get_loss_registry():
    assert isinstance(get_loss("hinge"), HingeLoss)
    assert isinstance(get_loss("SQUARED"), SquaredLoss)
    assert isinstance(get_loss("bce"), BinaryCrossEntropy)
    assert get_loss("softmax-ce", scale=3.0).scale == 3.0
    inst = HingeLoss()
    assert get_loss(inst) is inst
    with pytest.raises(QCompError) as err:
        get_loss("cross-entropy")
    msg = str(err.value)
    for name in ("hinge", "squared", "bce", "softmax-ce"):
        assert name in msg
    with pytest.raises(TrainConfigError, match="bad options"):
        get_loss("hinge", scale=2.0)


def test_doctests():
    assert doctest.testmod(losses, optionflags=doctest.ELLIPSIS).failed == 0
