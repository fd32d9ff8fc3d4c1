"""`qcomp train`: outputs checked before training (never an input, writable), damaged numpy files
are clean errors, Ctrl-C suggests --resume only for a checkpoint that exists, and a --save
checkpoint is accepted as --params by run, compile, grad and eval."""

from __future__ import annotations

import numpy as np
import pytest

import qcomp.train.loop as loop
from qcomp.cli import main


def _train(model, tmp_path, *extra: str) -> list[str]:
    return ["train", str(model), "--data", "digits:3,6", "--epochs", "1", "--no-progress",
            "--save", str(tmp_path / "ck.npz"), *extra]


@pytest.fixture()
def no_training(monkeypatch):
    """Fail the test if training starts (the refusals must come first)."""

    def boom(*a, **k):
        raise AssertionError("training started")

    monkeypatch.setattr(loop, "_value_and_grad", boom)


def test_outputs_that_are_inputs_or_unwritable_are_refused_before_training(model, tmp_path, capsys, no_training):
    ck = tmp_path / "old.npz"  # a checkpoint to resume from (not --save's ck.npz)
    ck.write_bytes(b"checkpoint bytes")
    data = tmp_path / "d.npz"
    data.write_bytes(b"data bytes")
    (tmp_path / "file").write_text("a file")
    cases = [
        (["--resume", str(ck), "--export-qasm", str(ck)], "same file as the input"),
        (["--resume", str(ck), "--plot", str(ck)], "same file as the input"),
        (["--export-qasm", str(tmp_path / "file" / "t.qasm")], "cannot write"),
        (["--plot", str(tmp_path / "file" / "c.png")], "cannot write"),
        (["--export-qasm", str(tmp_path)], "is a directory"),
    ]
    for extra, what in cases:
        assert main(_train(model, tmp_path, *extra)) == 1
        err = capsys.readouterr().err
        assert what in err and "Traceback" not in err, err
    argv = ["train", str(model), "--data", str(data), "--no-progress", "--save", str(tmp_path / "s.npz"),
            "--export-qasm", str(data)]
    assert main(argv) == 1 and "same file as the input" in capsys.readouterr().err
    assert ck.read_bytes() == b"checkpoint bytes" and data.read_bytes() == b"data bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz", "file", "old.npz", "qnn.q"]


def _damaged(tmp_path, kind: str):
    good = tmp_path / "good.npz"
    np.savez(good, x_train=np.zeros((4, 16)), y_train=np.ones(4), x_test=np.zeros((2, 16)), y_test=np.ones(2),
             params=np.zeros(8))
    raw = good.read_bytes()
    good.unlink()
    f = tmp_path / ("bad.npy" if kind == "npy" else "bad.npz")
    if kind == "empty":
        f.write_bytes(b"")
    elif kind == "truncated":
        f.write_bytes(raw[: len(raw) // 2])
    elif kind == "corrupt":
        b = bytearray(raw)
        for i in range(200, 260):
            b[i] ^= 0xFF
        f.write_bytes(bytes(b))
    else:
        np.save(f, np.zeros(8))
    return f


@pytest.mark.parametrize("kind", ["empty", "truncated", "corrupt", "npy"])
def test_damaged_numpy_files_are_clean_errors(kind, model, tmp_path, capsys):
    f = _damaged(tmp_path, kind)
    runs = [_train(model, tmp_path, "--resume", str(f), "--no-export")]
    if kind != "npy":  # a .npy of params is valid for eval; a .npy dataset is not .npz
        runs += [["train", str(model), "--data", str(f), "--no-progress", "--no-export"],
                 ["eval", str(model), "--data", "digits:3,6", "--params", str(f)]]
    for argv in runs:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        last = err.strip().splitlines()[-1]
        assert last.startswith("error: ") and "internal error" not in err and "Traceback" not in err, err
        assert f.name in last, err
    assert not (tmp_path / "ck.npz").exists()


def _interrupt_in_epoch(monkeypatch, epoch: int) -> None:
    real = loop._value_and_grad
    seen = {"batches": 0}

    def step(model, params, xb, yb, loss_fn):
        seen["batches"] += 1
        if seen["batches"] > (epoch - 1) * 8:  # 8 batches of 32 per epoch on digits:3,6
            raise KeyboardInterrupt
        return real(model, params, xb, yb, loss_fn)

    monkeypatch.setattr(loop, "_value_and_grad", step)


def test_ctrl_c_suggests_resume_only_for_a_written_checkpoint(model, tmp_path, capsys, monkeypatch):
    ck = tmp_path / "ck.npz"
    _interrupt_in_epoch(monkeypatch, 1)
    assert main(_train(model, tmp_path, "--epochs", "3", "--no-export")) == 130
    err = capsys.readouterr().err
    assert "no checkpoint was written" in err and "--resume" not in err and not ck.exists()

    monkeypatch.undo()
    _interrupt_in_epoch(monkeypatch, 2)
    assert main(_train(model, tmp_path, "--epochs", "3", "--no-export")) == 130
    err = capsys.readouterr().err
    assert f"--resume {ck}" in err and "(1)" in err and ck.exists()

    monkeypatch.undo()
    _interrupt_in_epoch(monkeypatch, 1)  # resuming, interrupted before another epoch: that file is unchanged
    before = ck.read_bytes()
    assert main(_train(model, tmp_path, "--epochs", "3", "--no-export", "--resume", str(ck))) == 130
    err = capsys.readouterr().err
    assert f"--resume {ck}" in err and "unchanged" in err and ck.read_bytes() == before


def test_a_save_checkpoint_is_params_for_run_compile_grad_and_eval(model, tmp_path, capsys):
    ck = tmp_path / "ck.npz"
    assert main(_train(model, tmp_path, "--no-export")) == 0
    with np.load(ck) as z:
        params = z["params"]
    np.save(tmp_path / "p.npy", params)
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(0).random((2, 16)))
    capsys.readouterr()
    outs = []
    for p in (ck, tmp_path / "p.npy"):
        assert main(["run", str(model), "--params", str(p), "--inputs", str(x)]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]
    assert main(["compile", str(model), "--bind-params", str(ck), "-o", str(tmp_path / "t.qasm")]) == 0
    assert "p_w_" not in (tmp_path / "t.qasm").read_text()
    assert main(["grad", str(model), "--params", str(ck), "-o", str(tmp_path / "g")]) == 0
    assert main(["eval", str(model), "--data", "digits:3,6", "--params", str(ck)]) == 0
    assert main(["train", str(model), "--data", "digits:3,6", "--epochs", "2", "--no-progress", "--no-export",
                 "--save", str(ck), "--resume", str(ck)]) == 0  # --save may rewrite the --resume checkpoint
