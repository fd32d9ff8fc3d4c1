"""qcomp.commands.values.read_values_file: one reader of .npy/.npz/.json/.csv value files, bound to a program's declarations."""

from __future__ import annotations

import json

import numpy as np
import pytest

import qcomp
from qcomp.commands.values import read_values_file
from qcomp.errors import InputError

PROGRAM = qcomp.parse("qubit q[2]; param w[2]; param t; input x[2]; ry(w[0] * x[0] + t) q[0]; rx(w[1] + x[1]) q[1];"
                      " expect z(q[0]);")
P = np.array([0.1, 0.2, 0.3])
X = np.array([[0.5, -0.5], [1.5, 2.5], [3.0, 4.0]])


def params(path):
    return read_values_file(path, PROGRAM.params, "param")


def inputs(path):
    return read_values_file(path, PROGRAM.inputs, "input")


def test_npy_and_npz(tmp_path):
    np.save(tmp_path / "p.npy", P)
    arr, batched = params(tmp_path / "p.npy")
    np.testing.assert_array_equal(arr, [P])
    assert not batched
    np.save(tmp_path / "x.npy", X)
    arr, batched = inputs(tmp_path / "x.npy")
    np.testing.assert_array_equal(arr, X)
    assert batched
    np.savez(tmp_path / "byname.npz", w=P[:2], t=P[2])
    np.testing.assert_array_equal(params(tmp_path / "byname.npz")[0], [P])
    np.savez(tmp_path / "one.npz", P)  # arr_0
    np.testing.assert_array_equal(params(tmp_path / "one.npz")[0], [P])
    np.savez(tmp_path / "ckpt.npz", format=np.array("qcomp.train.checkpoint/1"), params=P, epoch=np.array(3))
    np.testing.assert_array_equal(params(tmp_path / "ckpt.npz")[0], [P])


def test_npy_is_never_unpickled(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"w": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="cannot read params file .* as numpy"):
        params(tmp_path / "obj.npy")


def test_json_forms(tmp_path):
    forms = {
        "flat.json": P.tolist(),
        "byname.json": {"w": P[:2].tolist(), "t": float(P[2])},
        "byelement.json": {"w[1]": 0.2, "w[0]": 0.1, "t": 0.3},
        "wrapped.json": {"params": P.tolist(), "loss": 0.5},
    }
    for name, doc in forms.items():
        (tmp_path / name).write_text(json.dumps(doc))
        np.testing.assert_allclose(params(tmp_path / name)[0], [P], err_msg=name)
    (tmp_path / "rows.json").write_text(json.dumps([{"x": r.tolist()} for r in X]))
    np.testing.assert_array_equal(inputs(tmp_path / "rows.json")[0], X)
    (tmp_path / "list.json").write_text(json.dumps(X.tolist()))
    np.testing.assert_array_equal(inputs(tmp_path / "list.json")[0], X)


def test_csv_header_maps_columns_by_element_name(tmp_path):
    (tmp_path / "x.csv").write_text("x[1],x[0]\n" + "".join(f"{b},{a}\n" for a, b in X))
    np.testing.assert_array_equal(inputs(tmp_path / "x.csv")[0], X)
    (tmp_path / "labels.csv").write_text("a,b\n" + "".join(f"{a},{b}\n" for a, b in X))
    np.testing.assert_array_equal(inputs(tmp_path / "labels.csv")[0], X)
    (tmp_path / "partial.csv").write_text("x[0],b\n1,2\n")
    with pytest.raises(InputError, match="header names inputs but also 'b'"):
        inputs(tmp_path / "partial.csv")


def test_a_single_input_column(tmp_path):
    one = qcomp.parse("qubit q; input s; rx(s) q; expect z(q);")
    np.save(tmp_path / "s.npy", np.array([0.1, 0.2, 0.3]))
    arr, batched = read_values_file(tmp_path / "s.npy", one.inputs, "input")
    assert arr.shape == (3, 1) and batched


@pytest.mark.parametrize("name, content, message", [
    ("short.json", "[0.1, 0.2]", r"short.json: params have 2 values; the program declares 3 \(w\[2\], t\)"),
    ("nan.json", "[0.1, NaN, 0.3]", r"nan.json: param w\[1\] is NaN"),
    ("unknown.json", '{"w": [0.1, 0.2], "t": 1, "v": 2}', "unknown.json: unknown param 'v'"),
    ("bad.json", "{", "is not valid JSON"),
    ("deep.json", "[" * 100000 + "]" * 100000, "JSON nested too deeply"),
    ("str.json", '"abc"', "expected a list of rows, one row, or an object by param name"),
    ("empty.csv", "", "no param rows"),
    ("p.txt", "0.1", r"params file '.*p.txt' must be .npy, .npz, .json or .csv"),
])
def test_refusals_name_the_file(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(InputError, match=message):
        params(tmp_path / name)


def test_rows_of_objects_name_the_row(tmp_path):
    (tmp_path / "rows.json").write_text(json.dumps([{"x": [0.1, 0.2]}, {"x": [0.1]}]))
    with pytest.raises(InputError, match=r"rows.json: row 1: input 'x' has shape \(1,\)"):
        inputs(tmp_path / "rows.json")


def test_missing_file():
    with pytest.raises(InputError, match="cannot read inputs file 'nope.npy': no such file"):
        inputs("nope.npy")
