import doctest

import numpy as np
import pytest

from qcomp.train import metrics
from qcomp.train.errors import TrainConfigError
from qcomp.train.metrics import accuracy, hinge_accuracy


def test_accuracy_single_output_sign():
    y_pred = np.array([[0.2], [-0.3], [0.0], [0.9]])
    # 0.0 counts as a negative prediction (y_pred > 0 is the positive class)
    assert accuracy(y_pred, np.array([1, -1, -1, -1])) == 0.75
    assert accuracy(y_pred, np.array([1, 0, 0, 0])) == 0.75
    assert accuracy(y_pred[:, 0], np.array([1, -1, -1, -1])) == 0.75


def test_accuracy_multi_output_argmax():
    y_pred = np.array([[0.1, 0.5, -0.2], [0.9, 0.0, 0.1], [-1.0, -0.5, 0.3]])
    assert accuracy(y_pred, np.array([1, 0, 2])) == 1.0
    assert accuracy(y_pred, np.array([0, 0, 0])) == pytest.approx(1 / 3)


def test_hinge_accuracy_like_tfq():
    y_true = np.array([1.0, -1.0, 1.0, -1.0])
    y_pred = np.array([[0.5], [0.2], [-0.1], [-0.7]])
    tfq = np.mean((np.squeeze(y_true) > 0.0) == (np.squeeze(y_pred) > 0.0))
    assert hinge_accuracy(y_pred, y_true) == tfq == 0.5
    assert hinge_accuracy(y_pred, y_true.reshape(-1, 1)) == 0.5


def test_hinge_accuracy_shape_errors():
    with pytest.raises(TrainConfigError, match="shaped like y_pred"):
        hinge_accuracy(np.zeros((3, 2)), np.array([0, 1, 1]))
    with pytest.raises(TrainConfigError, match="labels"):
        accuracy(np.zeros((3, 1)), np.array([1, 1]))


def test_doctests():
    assert doctest.testmod(metrics).failed == 0
