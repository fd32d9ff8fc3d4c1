"""`qcomp eval` scores a checkpoint on the split it was trained with, and refuses another one."""

import json

import numpy as np
import pytest

import qcomp
from qcomp.cli import main
from qcomp.train import evaluate, load_data


@pytest.fixture()
def trained(model, tmp_path, capsys):
    save = tmp_path / "p.npz"
    assert main(["train", str(model), "--data", "digits:3,6", "--epochs", "1", "--batch-size", "64", "--seed", "1",
                 "--save", str(save), "--no-export", "--no-progress"]) == 0
    capsys.readouterr()
    return save


def _expected(model, params, seed):
    m = qcomp.compile(str(model))
    data = load_data("digits:3,6", seed=seed, validation_fraction=0.1, expected_features=m.num_inputs)
    return evaluate(m.simulator(), params, data.x_test, data.y_test, "hinge")


def test_eval_uses_the_checkpoint_seed(model, trained, capsys):
    assert main(["eval", str(model), "--data", "digits:3,6", "--params", str(trained), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    with np.load(trained) as z:
        params = z["params"]
    want = _expected(model, params, seed=1)
    assert got["loss"] == pytest.approx(want["loss"], rel=1e-12)
    # the default split (seed 0) is another one: the test above would catch a silent re-split
    assert _expected(model, params, seed=0)["loss"] != pytest.approx(want["loss"], rel=1e-9)
    # repeating the checkpoint's own seed is accepted
    assert main(["eval", str(model), "--data", "digits:3,6", "--params", str(trained), "--seed", "1", "--json"]) == 0


def test_eval_refuses_another_seed(model, trained, capsys):
    rc = main(["eval", str(model), "--data", "digits:3,6", "--params", str(trained), "--seed", "0"])
    err = capsys.readouterr().err
    assert rc != 0 and "--seed 0 differs from the seed 1" in err


@pytest.mark.parametrize("extra", [["--data", "digits:3,5"], ["--data", "digits:3,6", "--val-fraction", "0.2"]])
def test_eval_refuses_other_data(model, trained, capsys, extra):
    rc = main(["eval", str(model), "--params", str(trained)] + extra)
    err = capsys.readouterr().err
    assert rc != 0 and "trained on other data" in err


def test_plain_params_use_the_given_seed(model, trained, tmp_path, capsys):
    with np.load(trained) as z:
        params = z["params"]
    npy = tmp_path / "w.npy"
    np.save(npy, params)
    assert main(["eval", str(model), "--data", "digits:3,6", "--params", str(npy), "--seed", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] == pytest.approx(_expected(model, params, 1)["loss"], rel=1e-12)
    assert main(["eval", str(model), "--data", "digits:3,6", "--params", str(npy), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] == pytest.approx(_expected(model, params, 0)["loss"], rel=1e-12)
