"""Value files read by the commands: complex numpy arrays are refused, CSV files with a byte-order
mark, a trailing comma or Unicode minus signs are read as numbers (never as a header), and the
model argument of every command is a file path."""

import numpy as np
import pytest

from qcomp.cli import main

SRC = "qubit q[2]; input x[2]; param w[2]; ry(x[0] + w[0]) q[0]; ry(x[1] * w[1]) q[1]; cx q[0], q[1]; expect z(q[0]); expect z(q[1]);\n"
W = np.array([0.3, 0.7])
X = np.array([[0.1, -0.4], [0.5, 0.2]])


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "m.q").write_text(SRC)
    np.save(tmp_path / "w.npy", W)
    np.save(tmp_path / "x.npy", X)
    return tmp_path


def _run(files, capsys, params="w.npy", inputs="x.npy", out="out.npy"):
    rc = main(["run", str(files / "m.q"), "--params", str(files / params), "--inputs", str(files / inputs),
               "-o", str(files / out)])
    cap = capsys.readouterr()
    return rc, cap.err, (np.load(files / out) if rc == 0 else None)


def _expected(files, capsys):
    rc, err, want = _run(files, capsys, out="want.npy")
    assert rc == 0, err
    return want


@pytest.mark.parametrize("which", ["params", "inputs"])
def test_complex_npy_refused(files, capsys, which):
    name = f"{which}_c.npy"
    np.save(files / name, (W if which == "params" else X) + 0j)  # even zero imaginary parts
    rc, err, _ = _run(files, capsys, **{which: name})
    assert rc == 1 and "complex values; qcomp takes real values" in err and which in err
    assert "Traceback" not in err and "internal error" not in err


def test_complex_npz_member_refused(files, capsys):
    np.savez(files / "w.npz", w=W + 1j)
    rc, err, _ = _run(files, capsys, params="w.npz")
    assert rc == 1 and "(array 'w') has complex values" in err


def test_eval_refuses_complex_params(files, capsys):
    np.save(files / "wc.npy", W * 1j)
    rc = main(["eval", str(files / "m.q"), "--params", str(files / "wc.npy"), "--data", "digits:3,6"])
    err = capsys.readouterr().err
    assert rc == 1 and "complex values" in err


@pytest.mark.parametrize("text", [
    "\ufeff0.1,-0.4\n0.5,0.2\n",          # byte-order mark
    "0.1,-0.4,\n0.5,0.2,\n",              # trailing comma on every row
    "0.1,\u22120.4\n0.5,0.2\n",           # U+2212 minus sign
    "0.1,-0.4\n0.5,0.2\n",               # plain, for reference
    "\ufeff0.1,\u22120.4,\n0.5,0.2,\n",   # all three
    "x[0],x[1]\n0.1,-0.4\n0.5,0.2\n",     # a header of input names
    "\ufeffx[1],x[0],\n\u22120.4,0.1,\n0.2,0.5,\n",  # named columns in another order, with BOM and trailing comma
    "a,b\n0.1,-0.4\n0.5,0.2\n",           # a header of labels: positional columns
])
def test_csv_inputs_read_as_numbers(files, capsys, text):
    want = _expected(files, capsys)
    (files / "x.csv").write_text(text, encoding="utf-8")
    rc, err, got = _run(files, capsys, inputs="x.csv")
    assert rc == 0, err
    np.testing.assert_allclose(got, want)


def test_csv_params_with_bom_and_minus(files, capsys):
    want = _expected(files, capsys)
    (files / "w.csv").write_text("\ufeff0.3,0.7,\n", encoding="utf-8")
    rc, err, got = _run(files, capsys, params="w.csv")
    assert rc == 0, err
    np.testing.assert_allclose(got, want)
    np.save(files / "wneg.npy", W * [-1, 1])
    want = _run(files, capsys, params="wneg.npy")[2]
    (files / "w2.csv").write_text("\u22120.3,0.7\n", encoding="utf-8")
    rc, err, got = _run(files, capsys, params="w2.csv")
    assert rc == 0, err
    np.testing.assert_allclose(got, want)


@pytest.mark.parametrize("text, where", [
    ("0.1,abc\n0.5,0.2\n", "line 1, column 2"),     # not a header: one field is a number
    ("0.1,-0.4\n0.5,x\n", "line 2, column 2"),
    ("0.1,,\n0.5,0.2,\n", "line 1"),                # an empty field that is not a trailing comma on every row
    ("0.1,-0.4\n0.5\n", "line 2 has 1 values"),
    ("1e,2\n0.5,0.2\n", "line 1, column 1"),
])
def test_csv_bad_fields_named(files, capsys, text, where):
    (files / "x.csv").write_text(text, encoding="utf-8")
    rc, err, _ = _run(files, capsys, inputs="x.csv")
    assert rc == 1 and where in err, err
    assert "Traceback" not in err and "internal error" not in err


def test_compile_bind_inputs_csv_with_minus(files, capsys):
    (files / "x.csv").write_text("\ufeff\u22120.1,0.4,\n", encoding="utf-8")
    rc = main(["compile", str(files / "m.q"), "--bind-inputs", str(files / "x.csv"), "-o", str(files / "o.qasm")])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "-0.1" in (files / "o.qasm").read_text()


@pytest.mark.parametrize("argv", [
    ["train", "{m}", "--data", "digits:3,6", "--epochs", "1"],
    ["eval", "{m}", "--params", "{w}", "--data", "digits:3,6"],
    ["run", "{m}", "--params", "{w}"],
    ["check", "{m}"],
    ["compile", "{m}", "-o", "{o}"],
])
def test_model_argument_is_a_path(files, capsys, argv):
    missing = str(files / "mymodel")
    rc = main([a.format(m=missing, w=files / "w.npy", o=files / "o.qasm") for a in argv])
    err = capsys.readouterr().err
    assert rc == 1 and f"cannot read '{missing}': no such file" in err, err


def test_suffixless_model_file_is_read(files, capsys):
    (files / "mymodel").write_text(SRC)
    rc = main(["eval", str(files / "mymodel"), "--params", str(files / "w.npy"), "--data", "digits:3,6", "--json"])
    err = capsys.readouterr().err
    assert "parse" not in err.lower()
    assert rc in (0, 1) and "Traceback" not in err
