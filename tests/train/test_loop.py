import doctest
import os

import numpy as np
import pytest

from qcomp.errors import DataError
from qcomp.train import loop as loop_mod
from qcomp.train.data import Dataset, load_data
from qcomp.train.errors import CheckpointError, TrainConfigError, TrainingError
from qcomp.train.loop import (
    Differentiable,
    TrainingInterrupted,
    evaluate,
    fit,
    init_params,
    load_checkpoint,
)
from qcomp.train.optimizers import SGD, Adam


class TanhModel:
    """y = tanh(x @ W), W of shape (n_inputs, n_outputs) flattened row-major."""

    def __init__(self, n_inputs, n_outputs=1):
        self.n_inputs = n_inputs
        self.n_outputs = n_outputs
        self.n_params = n_inputs * n_outputs
        self.calls = 0

    def expval(self, params, inputs):
        self.calls += 1
        return np.tanh(inputs @ params.reshape(self.n_inputs, self.n_outputs))

    def vjp(self, params, inputs, cotangent):
        y = np.tanh(inputs @ params.reshape(self.n_inputs, self.n_outputs))
        return (inputs.T @ (cotangent * (1.0 - y**2))).ravel()


class InterruptingModel(TanhModel):
    def __init__(self, n_inputs, interrupt_at):
        super().__init__(n_inputs)
        self.interrupt_at = interrupt_at

    def expval(self, params, inputs):
        if self.calls + 1 == self.interrupt_at:
            self.calls += 1
            raise KeyboardInterrupt
        return super().expval(params, inputs)


@pytest.fixture(scope="module")
def digits():
    # a bias feature makes the task learnable by tanh(x @ W)
    ds = load_data("digits:3,6", seed=0)
    add = lambda x: np.hstack([x - 0.5, np.ones((x.shape[0], 1))])
    return Dataset(add(ds.x_train), ds.y_train, add(ds.x_test), ds.y_test,
                   add(ds.x_val), ds.y_val, description="digits 3/6 + bias")


def _strip_time(history):
    return [{k: v for k, v in h.items() if k != "time_s"} for h in history]


def test_vjp_of_test_model():
    m = TanhModel(4, 2)
    assert isinstance(m, Differentiable)
    rng = np.random.default_rng(0)
    p, x, c = rng.normal(size=8), rng.normal(size=(5, 4)), rng.normal(size=(5, 2))
    h = 1e-6
    fd = [(np.sum(c * m.expval(p + h * e, x)) - np.sum(c * m.expval(p - h * e, x))) / (2 * h)
          for e in np.eye(8)]
    np.testing.assert_allclose(m.vjp(p, x, c), fd, atol=1e-7)


def test_fit_reduces_loss(digits):
    model = TanhModel(17)
    p0 = init_params(17, seed=0, scale=0.1)
    before = evaluate(model, p0, digits.x_test, digits.y_test, "hinge")
    res = fit(model, p0, digits, loss="hinge", optimizer=Adam(lr=0.05), epochs=8,
              batch_size=16, seed=0, progress=True)
    assert res.stop_reason == "completed" and res.epochs_completed == 8
    assert len(res.history) == 8
    h = res.history
    assert h[-1]["loss"] < h[0]["loss"]
    assert set(h[0]) >= {"epoch", "loss", "accuracy", "hinge_accuracy", "val_loss",
                         "val_accuracy", "val_hinge_accuracy", "time_s"}
    assert res.test_metrics["loss"] < before["loss"]
    assert res.test_metrics["hinge_accuracy"] > 0.9
    np.testing.assert_array_equal(p0, init_params(17, seed=0, scale=0.1))  # not mutated


def test_resume_is_identical_to_uninterrupted_run(digits, tmp_path):
    kw = dict(loss="hinge", epochs=6, batch_size=32, seed=3, progress=False,
              early_stopping_patience=10)
    p0 = init_params(17, seed=1, scale=0.1)
    full = fit(TanhModel(17), p0, digits, optimizer=Adam(lr=0.05),
               checkpoint_path=tmp_path / "full.npz", **kw)

    ck = tmp_path / "part.npz"
    part = fit(TanhModel(17), p0, digits, optimizer=Adam(lr=0.05), checkpoint_path=ck,
               **{**kw, "epochs": 3})
    assert part.epochs_completed == 3 and load_checkpoint(ck)["epoch"] == 3
    # a fresh optimizer object with a different lr: its state comes from the checkpoint
    resumed = fit(TanhModel(17), np.zeros(17), digits, optimizer=Adam(lr=1.0),
                  resume_from=ck, checkpoint_path=ck, **kw)
    assert resumed.resumed_from_epoch == 3 and resumed.epochs_completed == 6
    np.testing.assert_array_equal(resumed.params, full.params)
    assert _strip_time(resumed.history) == _strip_time(full.history)
    assert resumed.best_epoch == full.best_epoch
    assert resumed.test_metrics == full.test_metrics
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp") or ".qcomp-tmp-" in f]

    # resuming a finished run does no work
    model = TanhModel(17)
    again = fit(model, p0, digits, optimizer="adam", resume_from=ck, **{**kw, "evaluate_test": False})
    assert again.epochs_completed == 6 and model.calls == 1  # only the shape probe
    np.testing.assert_array_equal(again.params, full.params)


def test_resume_with_sgd_momentum(digits, tmp_path):
    kw = dict(loss="squared", epochs=4, batch_size=50, seed=0, progress=False)
    p0 = init_params(17, seed=2, scale=0.1)
    full = fit(TanhModel(17), p0, digits, optimizer=SGD(lr=0.1, momentum=0.9), **kw)
    ck = tmp_path / "c.npz"
    fit(TanhModel(17), p0, digits, optimizer=SGD(lr=0.1, momentum=0.9), checkpoint_path=ck,
        **{**kw, "epochs": 1})
    res = fit(TanhModel(17), p0, digits, optimizer="sgd", resume_from=ck, **kw)
    np.testing.assert_array_equal(res.params, full.params)


def test_keyboard_interrupt_keeps_checkpoint_and_resumes(digits, tmp_path):
    kw = dict(loss="hinge", optimizer="adam", epochs=5, batch_size=64, seed=0, progress=False)
    p0 = init_params(17, seed=0, scale=0.1)
    full = fit(TanhModel(17), p0, digits, **kw)
    batches = -(-digits.n_train // 64)
    # calls: 1 shape probe, then per epoch `batches` training calls + 1 validation call
    interrupt_at = 1 + 3 * (batches + 1) + 2  # in the middle of epoch 4
    ck = tmp_path / "ck.npz"
    with pytest.raises(TrainingInterrupted) as err:
        fit(InterruptingModel(17, interrupt_at), p0, digits, checkpoint_path=ck, **kw)
    assert isinstance(err.value, KeyboardInterrupt)
    res = err.value.result
    assert res.interrupted and res.epochs_completed == 3 and len(res.history) == 3
    state = load_checkpoint(ck)
    assert state["epoch"] == 3
    np.testing.assert_array_equal(state["params"], res.params)
    resumed = fit(TanhModel(17), p0, digits, resume_from=ck, **kw)
    np.testing.assert_array_equal(resumed.params, full.params)


def test_interrupt_while_writing_leaves_previous_checkpoint(digits, tmp_path, monkeypatch):
    ck = tmp_path / "ck.npz"
    real_savez = np.savez
    calls = {"n": 0}

    def flaky_savez(f, **arrays):
        calls["n"] += 1
        if calls["n"] == 2:
            f.write(b"partial garbage")
            raise KeyboardInterrupt
        real_savez(f, **arrays)

    monkeypatch.setattr(np, "savez", flaky_savez)
    with pytest.raises(TrainingInterrupted) as err:
        fit(TanhModel(17), np.zeros(17), digits, epochs=3, batch_size=64, progress=False,
            checkpoint_path=ck)
    assert load_checkpoint(ck)["epoch"] == 1
    assert err.value.result.epochs_completed == 2  # in memory, epoch 2 had finished
    assert sorted(os.listdir(tmp_path)) == ["ck.npz"]


def test_early_stopping_stops(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    y = np.where(x[:, 0] > 0, 1, -1)
    xv = rng.normal(size=(40, 3))
    yv = np.where(xv[:, 0] > 0, -1, 1)  # validation labels flipped: val loss rises as we learn
    ds = Dataset(x, y, x[:10], y[:10], xv, yv)
    res = fit(TanhModel(3), np.zeros(3), ds, optimizer=Adam(lr=0.05), epochs=50, batch_size=16,
              early_stopping_patience=3, restore_best=True, progress=False,
              checkpoint_path=tmp_path / "es.npz")
    assert res.stopped_early and res.stop_reason == "early_stopping"
    assert res.monitor == "val_loss"
    assert len(res.history) == res.best_epoch + 3 < 50
    assert res.best_value == min(h["val_loss"] for h in res.history)
    np.testing.assert_array_equal(res.params, res.best_params)
    # resuming an early-stopped run does not train further
    again = fit(TanhModel(3), np.zeros(3), ds, epochs=50, batch_size=16, early_stopping_patience=3,
                progress=False, resume_from=tmp_path / "es.npz", evaluate_test=False)
    assert again.stopped_early and len(again.history) == len(res.history)


def test_callback_can_stop():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 2))
    y = np.where(x[:, 0] > 0, 1, -1)
    ds = Dataset(x, y, x, y)
    seen = []
    res = fit(TanhModel(2), np.zeros(2), ds, epochs=10, progress=False,
              callbacks=[lambda e, logs, p: seen.append(e) or e == 2])
    assert seen == [1, 2] and res.stop_reason == "callback" and res.epochs_completed == 2


def test_softmax_multi_output_training():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(90, 3))
    y = np.argmax(x, axis=1)
    ds = Dataset(x, y, x, y)
    res = fit(TanhModel(3, 3), np.zeros(9), ds, loss="softmax-ce", optimizer=Adam(lr=0.1),
              epochs=15, batch_size=30, progress=False)
    assert res.history[-1]["loss"] < res.history[0]["loss"]
    assert res.test_metrics["accuracy"] > 0.8
    assert np.isnan(res.test_metrics["hinge_accuracy"])


def test_bad_data_rejected_before_training(digits):
    model = TanhModel(8)
    with pytest.raises(DataError, match="feature count mismatch.*17 features.*but 8"):
        fit(model, np.zeros(8), digits, epochs=1, progress=False)
    assert model.calls == 0
    model = TanhModel(17)
    with pytest.raises(DataError, match=r"y_train: labels outside the expected set for softmax-ce"):
        fit(model, np.zeros(17), digits, loss="softmax-ce", epochs=1, progress=False)
    assert model.calls == 1  # only the one-example shape probe
    ds = Dataset(np.zeros((4, 2)), np.array([0, 1, 2, 1]), np.zeros((2, 2)), np.array([1, 1]))
    with pytest.raises(DataError, match="hinge"):
        fit(TanhModel(2), np.zeros(2), ds, epochs=1, progress=False)
    with pytest.raises(TrainConfigError, match="params0 has 3 entries"):
        fit(TanhModel(2), np.zeros(3), ds, epochs=1, progress=False)
    with pytest.raises(TrainConfigError, match="Differentiable"):
        fit(object(), np.zeros(2), ds, epochs=1, progress=False)


def test_bad_checkpoint(tmp_path, digits):
    junk = tmp_path / "junk.npz"
    np.savez(junk, a=np.zeros(2))
    with pytest.raises(CheckpointError, match="not a qcomp.train checkpoint"):
        fit(TanhModel(17), np.zeros(17), digits, epochs=1, progress=False, resume_from=junk)
    ck = tmp_path / "ck.npz"
    fit(TanhModel(17), np.zeros(17), digits, epochs=1, progress=False, checkpoint_path=ck)
    x = np.hstack([digits.x_train, digits.x_train[:, :1]])
    wide = Dataset(x, digits.y_train, x, digits.y_train)
    with pytest.raises(CheckpointError, match="has 17 parameters, the model has 18"):
        fit(TanhModel(18), np.zeros(18), wide, epochs=2, progress=False, resume_from=ck)


def test_non_finite_loss_raises():
    class Exploding(TanhModel):
        def expval(self, params, inputs):
            return np.full((inputs.shape[0], 1), np.nan)

    ds = Dataset(np.zeros((4, 2)), np.array([1, -1, 1, -1]), np.zeros((2, 2)), np.array([1, -1]))
    with pytest.raises(TrainingError, match="non-finite training loss at epoch 1, batch 1"):
        fit(Exploding(2), np.zeros(2), ds, epochs=1, progress=False)


def test_init_params_and_evaluate():
    a = init_params(10, seed=5)
    np.testing.assert_array_equal(a, init_params(10, seed=5))
    assert np.all(np.abs(a) <= np.pi)
    assert not np.array_equal(a, init_params(10, seed=6))
    assert init_params(1000, seed=0, scale=0.5, distribution="normal").std() == pytest.approx(0.5, rel=0.1)
    with pytest.raises(TrainConfigError):
        init_params(3, distribution="cauchy")
    x = np.array([[1.0], [-1.0], [0.5]])
    out = evaluate(TanhModel(1), np.array([2.0]), x, np.array([1, -1, -1]), "hinge", batch_size=2)
    assert set(out) == {"loss", "accuracy", "hinge_accuracy"}
    assert out["accuracy"] == pytest.approx(2 / 3) == out["hinge_accuracy"]


def test_doctests():
    assert doctest.testmod(loop_mod).failed == 0
