import doctest
import math

import numpy as np
import pytest

from qcomp.errors import QCompError
from qcomp.train import optimizers
from qcomp.train.errors import CheckpointError, TrainConfigError
from qcomp.train.optimizers import SGD, Adam, get_optimizer


def test_adam_keras_defaults():
    opt = Adam()
    assert (opt.lr, opt.beta1, opt.beta2, opt.eps) == (0.001, 0.9, 0.999, 1e-7)


def test_adam_first_two_steps_by_hand():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-7
    opt = Adam(lr=lr)
    p0 = np.array([1.0, -2.0])
    g1 = np.array([0.5, -1.0])
    g2 = np.array([0.1, 0.3])

    # step 1, first coordinate, written out
    m = (1 - b1) * 0.5  # 0.05
    v = (1 - b2) * 0.25  # 0.00025
    alpha = lr * math.sqrt(1 - b2) / (1 - b1)
    first = 1.0 - alpha * m / (math.sqrt(v) + eps)
    p1 = opt.step(p0, g1)
    assert p1[0] == pytest.approx(first, rel=1e-12)
    assert p1[0] == pytest.approx(0.9000006, abs=1e-6)  # ~ p - lr * sign(g) on the first step
    assert p1[1] == pytest.approx(-1.9000003, abs=1e-6)

    # step 2, both coordinates
    m1 = (1 - b1) * g1
    v1 = (1 - b2) * g1**2
    m2 = b1 * m1 + (1 - b1) * g2
    v2 = b2 * v1 + (1 - b2) * g2**2
    alpha2 = lr * math.sqrt(1 - b2**2) / (1 - b1**2)
    expected = p1 - alpha2 * m2 / (np.sqrt(v2) + eps)
    p2 = opt.step(p1, g2)
    np.testing.assert_allclose(p2, expected, rtol=1e-12)
    np.testing.assert_allclose(p2, [0.819697, -1.857216], atol=1e-6)  # worked by hand
    assert opt.t == 2


def test_step_does_not_mutate_inputs():
    for opt in (Adam(lr=0.1), SGD(lr=0.1, momentum=0.9)):
        p = np.array([1.0, 2.0])
        g = np.array([0.5, 0.5])
        p_copy, g_copy = p.copy(), g.copy()
        out = opt.step(p, g)
        assert out is not p
        np.testing.assert_array_equal(p, p_copy)
        np.testing.assert_array_equal(g, g_copy)


def test_sgd_plain():
    opt = SGD(lr=0.5)
    np.testing.assert_allclose(opt.step(np.array([1.0]), np.array([2.0])), [0.0])


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_formula(nesterov):
    lr, mu = 0.1, 0.9
    opt = SGD(lr=lr, momentum=mu, nesterov=nesterov)
    rng = np.random.default_rng(0)
    p = rng.normal(size=3)
    ref_p, vel = p.copy(), np.zeros(3)
    for _ in range(4):
        g = rng.normal(size=3)
        vel = mu * vel - lr * g
        ref_p = ref_p + (mu * vel - lr * g if nesterov else vel)
        p = opt.step(p, g)
        np.testing.assert_allclose(p, ref_p, rtol=1e-12)


def test_sgd_momentum_hand_values():
    opt = SGD(lr=0.1, momentum=0.9)
    p1 = opt.step(np.array([1.0]), np.array([1.0]))  # v = -0.1
    p2 = opt.step(p1, np.array([1.0]))  # v = 0.9 * -0.1 - 0.1 = -0.19
    assert p1[0] == pytest.approx(0.9)
    assert p2[0] == pytest.approx(0.71)


@pytest.mark.parametrize("make", [lambda: Adam(lr=0.05), lambda: SGD(lr=0.05, momentum=0.8, nesterov=True)])
def test_state_dict_resumes_exactly(make):
    rng = np.random.default_rng(1)
    grads = rng.normal(size=(6, 4))
    p = rng.normal(size=4)
    a = make()
    pa = p.copy()
    for g in grads:
        pa = a.step(pa, g)
    b = make()
    pb = p.copy()
    for g in grads[:3]:
        pb = b.step(pb, g)
    state = b.state_dict()
    c = make()
    c.lr = 123.0  # hyperparameters come back from the state too
    c.load_state_dict(state)
    for g in grads[3:]:
        pb = c.step(pb, g)
    np.testing.assert_array_equal(pa, pb)


def test_state_dict_before_first_step_roundtrips():
    a = Adam()
    b = Adam()
    b.load_state_dict(a.state_dict())
    assert b.t == 0 and b.m is None


def test_loading_wrong_optimizer_state():
    with pytest.raises(CheckpointError, match="'adam'.*'sgd'"):
        SGD(lr=0.1).load_state_dict(Adam().state_dict())


def test_get_optimizer():
    opt = get_optimizer("adam", lr=0.01)
    assert isinstance(opt, Adam) and opt.lr == 0.01
    sgd = get_optimizer("SGD", lr=0.1, momentum=0.5, nesterov=None)
    assert isinstance(sgd, SGD) and sgd.momentum == 0.5 and sgd.nesterov is False
    assert get_optimizer(opt) is opt
    with pytest.raises(QCompError, match="valid optimizers are: adam, sgd"):
        get_optimizer("rmsprop")
    with pytest.raises(TrainConfigError, match="lr must be a positive number"):
        get_optimizer("adam", lr=-1)
    with pytest.raises(TrainConfigError, match="momentum must be in"):
        SGD(lr=0.1, momentum=1.5)
    with pytest.raises(TrainConfigError, match="bad options"):
        get_optimizer("sgd", beta1=0.9)


def test_doctests():
    assert doctest.testmod(optimizers).failed == 0
