"""Every command refuses, before any work, output paths that are an input or another output,
and `qcomp grad` never replaces a directory holding files it did not write."""

from __future__ import annotations

import pytest

from qcomp.cli import main

SRC = "qubit q[2];\nparam w;\nrx(w) q[0];\ncx q[0], q[1];\nexpect z(q[1]);\n"


@pytest.fixture()
def model(tmp_path):
    p = tmp_path / "m.q"
    p.write_text(SRC)
    return p


def _refused(argv, capsys, what: str) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and what in err, err


def test_compile_ir_run_train_refuse_colliding_paths(model, tmp_path, capsys):
    w = tmp_path / "w.json"
    w.write_text("[0.3]")
    cases = [
        (["compile", str(model), "-o", str(tmp_path / "o.qasm"), "--manifest", str(model)], "same file as the input"),
        (["compile", str(model), "-o", str(tmp_path / "x.qasm"), "--manifest", str(tmp_path / "x.qasm")],
         "same file as the output"),
        (["compile", str(model), "-o", "-", "--manifest", str(model)], "same file as the input"),
        (["ir", str(model), "-o", str(model)], "same file as the input"),
        (["run", str(model), "--params", str(w), "-o", str(w)], "same file as the input"),
        (["train", str(model), "--data", "digits:3,6", "--no-progress", "--save", str(model)], "same file as the input"),
        (["train", str(model), "--data", "digits:3,6", "--no-progress", "--save", str(tmp_path / "c.npz"),
          "--export-qasm", str(tmp_path / "c.npz")], "same file as the output"),
    ]
    for argv, what in cases:
        _refused(argv, capsys, what)
    assert model.read_text() == SRC and w.read_text() == "[0.3]"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.q", "w.json"]


def test_grad_replaces_only_its_own_exports(model, tmp_path, capsys):
    out = tmp_path / "g"
    assert main(["grad", str(model), "-o", str(out)]) == 0
    assert main(["grad", str(model), "-o", str(out)]) == 0  # a previous export is replaced
    (out / "notes.txt").write_text("mine")
    _refused(["grad", str(model), "-o", str(out)], capsys, "notes.txt")
    assert (out / "notes.txt").read_text() == "mine" and (out / "manifest.json").is_file()
    _refused(["grad", str(model), "-o", str(tmp_path)], capsys, "not empty")
    assert model.read_text() == SRC


def test_run_maps_a_csv_header_of_input_names_and_refuses_a_mixed_one(tmp_path, capsys):
    import numpy as np

    src = tmp_path / "h.q"
    src.write_text("qubit q[2];\ninput x[2];\nrx(x[0]) q[0];\nry(x[1]) q[1];\nexpect z(q[0]) + 2 * z(q[1]);\n")
    (tmp_path / "swapped.csv").write_text("x[1],x[0]\n0.2,0.1\n")
    (tmp_path / "bad.csv").write_text("x[0],bar\n0.1,0.2\n")
    out = tmp_path / "v.json"
    assert main(["run", str(src), "--inputs", str(tmp_path / "swapped.csv"), "-o", str(out)]) == 0
    import json

    (value,) = np.ravel(json.loads(out.read_text())["values"])
    assert value == __import__("pytest").approx(np.cos(0.1) + 2 * np.cos(0.2), abs=1e-12)
    _refused(["run", str(src), "--inputs", str(tmp_path / "bad.csv")], capsys, "also 'bar'")


@pytest.mark.parametrize("kind", ["zip", "empty", "records", "strings", "dict", "deep", "text", "ragged"])
def test_bad_value_files_are_input_errors(kind, model, tmp_path, capsys):
    import json

    import numpy as np

    name = {"zip": "v.npz", "empty": "v.npy", "records": "v.npy", "strings": "v.npy"}.get(kind, "v.json")
    f = tmp_path / name
    if kind == "zip":
        f.write_bytes(b"PK\x03\x04garbage")
    elif kind == "empty":
        f.write_bytes(b"")
    elif kind == "records":
        np.save(f, np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]))
    elif kind == "strings":
        np.save(f, np.array(["a", "b"]))
    else:
        f.write_text({"dict": json.dumps({"w": {"a": 1}}), "deep": "[" * 100000 + "]" * 100000,
                      "text": json.dumps({"w": [0.1, "x"]}), "ragged": json.dumps([[0.1, 0.2], [0.3]])}[kind])
    for argv in (["run", str(model), "--params", str(f)],
                 ["compile", str(model), "--bind-params", str(f), "-o", str(tmp_path / "o.qasm")],
                 ["grad", str(model), "-o", str(tmp_path / "g"), "--params", str(f)]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "internal error" not in err and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.q", name])
