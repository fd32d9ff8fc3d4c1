"""The parts of fit on their own: TrainState, run_epoch, and checkpoint save/restore round trips."""

import doctest
import warnings

import numpy as np
import pytest

from qcomp.train import TrainState, TrainingInterrupted, fit, init_params, run_epoch
from qcomp.train import checkpoint as ckpt_mod
from qcomp.train.checkpoint import data_fingerprint, load_checkpoint, restore, save_checkpoint
from qcomp.train.data import Dataset
from qcomp.train.errors import CheckpointError
from qcomp.train.losses import get_loss
from qcomp.train.optimizers import Adam
from qcomp.train.state import RunInfo


class Tanh:
    """y = tanh(x @ w): a one-output model with an exact vjp."""

    n_inputs = n_params = 3

    def expval(self, params, inputs):
        return np.tanh(inputs @ params[:, None])

    def vjp(self, params, inputs, cotangent):
        y = np.tanh(inputs @ params[:, None])
        return inputs.T @ (cotangent * (1.0 - y**2))[:, 0]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(90, 3))
    y = np.where(x @ np.array([1.0, -2.0, 0.5]) > 0, 1, -1)
    return Dataset(x[:60], y[:60], x[60:80], y[60:80], x[80:], y[80:])


def _run(data, seed=4):
    return RunInfo(monitor="val_loss", loss="hinge", seed=seed, batch_size=16, data_fingerprint=data_fingerprint(data))


def _strip(history):
    return [{k: v for k, v in h.items() if k != "time_s"} for h in history]


def test_run_epoch_by_hand_is_fit(data):
    p0 = init_params(3, seed=2, scale=0.5)
    res = fit(Tanh(), p0, data, optimizer=Adam(lr=0.1), epochs=3, batch_size=16, seed=4, progress=False,
              evaluate_test=False)
    state = TrainState.start(p0.copy(), Adam(lr=0.1), seed=4)
    logs = [run_epoch(Tanh(), state, data, get_loss("hinge"), epoch=e, epochs=3, batch_size=16)
            for e in (1, 2, 3)]
    assert _strip(logs) == _strip(res.history)
    assert state.params.tobytes() == res.params.tobytes()


def test_save_and_restore_round_trip(data, tmp_path):
    state = TrainState.start(init_params(3, seed=2), Adam(lr=0.1), seed=4)
    logs = run_epoch(Tanh(), state, data, get_loss("hinge"), epoch=1, epochs=2, batch_size=16)
    state.history.append(logs)
    state.track_best(1, logs["val_loss"], 0.0)
    state.epoch, state.epoch_params = 1, state.params.copy()
    path = tmp_path / "ck.npz"
    save_checkpoint(path, state, "completed", _run(data))
    assert load_checkpoint(path)["stop_reason"] == "completed"

    back = TrainState.start(np.zeros(3), Adam(lr=0.5), seed=99)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same run: no warning
        assert restore(path, back, _run(data)) == "completed"
    assert back.params.tobytes() == state.params.tobytes() == back.epoch_params.tobytes()
    assert (back.epoch, back.best_epoch, back.best_value, back.wait) == (1, 1, logs["val_loss"], 0)
    assert back.best_params.tobytes() == state.best_params.tobytes()
    assert _strip(back.history) == _strip(state.history)
    assert back.rng.bit_generator.state == state.rng.bit_generator.state
    a, b = back.optimizer.state_dict(), state.optimizer.state_dict()
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_restore_warns_at_the_callers_line_and_refuses_other_shapes(data, tmp_path):
    state = TrainState.start(init_params(3, seed=2), Adam(), seed=4)
    path = tmp_path / "ck.npz"
    save_checkpoint(path, state, "completed", _run(data))
    with pytest.warns(RuntimeWarning, match=r"different seed than the checkpoint \(4 -> 5\)") as rec:
        restore(path, TrainState.start(np.zeros(3), Adam(), seed=5), _run(data, seed=5))
    assert rec[0].filename == __file__
    with pytest.raises(CheckpointError, match="has 3 parameters, the model has 2"):
        restore(path, TrainState.start(np.zeros(2), Adam(), seed=4), _run(data))


def test_ctrl_c_in_a_callback_reports_the_epoch_before(data, tmp_path):
    p0 = init_params(3, seed=2, scale=0.5)
    one = fit(Tanh(), p0, data, optimizer=Adam(lr=0.1), epochs=1, batch_size=16, seed=4, progress=False)

    def stop_in_epoch_2(epoch, logs, params):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted) as info:
        fit(Tanh(), p0, data, optimizer=Adam(lr=0.1), epochs=3, batch_size=16, seed=4, progress=False,
            callbacks=[stop_in_epoch_2], checkpoint_path=tmp_path / "ck.npz")
    res = info.value.result
    assert res.epochs_completed == 1 and res.stop_reason == "interrupted"
    assert res.params.tobytes() == one.params.tobytes()
    assert res.extra == {"checkpoint_epoch": 1} and load_checkpoint(tmp_path / "ck.npz")["epoch"] == 1


def test_doctests():
    assert doctest.testmod(ckpt_mod).failed == 0
