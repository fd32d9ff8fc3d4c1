"""qcomp.ir.values: every accepted form of a param/input value and every refusal, with one set of messages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcomp.errors import InputError
from qcomp.ir.ops import ValueDecl
from qcomp.ir.values import as_real_array, bind_pair, bind_values, decl_text, decls_from_json, element_names

# param w[3]; param theta;  (4 flat elements: w[0], w[1], w[2], theta)
PARAMS = [ValueDecl("param", "w", 3, 0), ValueDecl("param", "theta", 1, 3, scalar=True)]
INPUTS = [ValueDecl("input", "x", 2, 0)]
FLAT = np.array([0.1, 0.2, 0.3, 0.4])


def bind(value, decls=PARAMS, kind="param", **kw):
    return bind_values(decls, value, kind, **kw)


# -- accepted forms -----------------------------------------------------------------------------


def test_flat_vector_is_one_shared_row():
    arr, batched = bind(FLAT)
    assert arr.dtype == np.float64 and arr.shape == (1, 4) and not batched
    np.testing.assert_array_equal(arr[0], FLAT)
    arr, batched = bind(list(FLAT))
    assert arr.shape == (1, 4) and not batched


def test_number_for_a_single_element():
    arr, batched = bind(0.5, [ValueDecl("param", "t", 1, 0, scalar=True)])
    assert arr.tolist() == [[0.5]] and not batched


def test_batch_of_rows():
    rows = np.arange(12.0).reshape(3, 4)
    arr, batched = bind(rows)
    assert batched and arr.shape == (3, 4)
    np.testing.assert_array_equal(arr, rows)
    arr, batched = bind(rows[:1])  # a batch of one row is still a batch
    assert batched and arr.shape == (1, 4)


def test_integers_and_bools_are_numbers():
    arr, _ = bind(np.array([1, 2, 3, 4], dtype=np.int32))
    assert arr.dtype == np.float64 and arr.tolist() == [[1.0, 2.0, 3.0, 4.0]]
    arr, _ = bind(np.array([True, False, True, False]))
    assert arr.tolist() == [[1.0, 0.0, 1.0, 0.0]]
    arr, _ = bind(np.array([1, 2, 3, 4], dtype=object))  # Python numbers in an object array
    assert arr.dtype == np.float64


def test_mapping_by_declaration_name():
    arr, batched = bind({"w": [0.1, 0.2, 0.3], "theta": 0.4})
    np.testing.assert_allclose(arr, [FLAT])
    assert not batched
    arr, batched = bind({"theta": [0.4], "w": np.array([0.1, 0.2, 0.3])})  # key order does not matter
    np.testing.assert_allclose(arr, [FLAT])
    assert not batched


def test_mapping_batches_broadcast_a_single_row():
    w = np.array([[0.1, 0.2, 0.3], [1.1, 1.2, 1.3]])
    arr, batched = bind({"w": w, "theta": 0.4})
    assert batched and arr.shape == (2, 4)
    np.testing.assert_allclose(arr[:, 3], [0.4, 0.4])
    arr, batched = bind({"w": [0.1, 0.2, 0.3], "theta": [0.4, 0.5, 0.6]})  # a scalar's (B,) column
    assert batched and arr.shape == (3, 4)
    np.testing.assert_allclose(arr[:, :3], np.tile([0.1, 0.2, 0.3], (3, 1)))
    np.testing.assert_allclose(arr[:, 3], [0.4, 0.5, 0.6])


def test_mapping_by_element_name_and_mixed():
    arr, batched = bind({"w[2]": 0.3, "w[0]": 0.1, "w[1]": 0.2, "theta": 0.4})
    np.testing.assert_allclose(arr, [FLAT])
    assert not batched
    arr, batched = bind({"w[0]": [0.1, 0.5], "w[1]": 0.2, "w[2]": 0.3, "theta": 0.4})
    assert batched and arr.shape == (2, 4)
    np.testing.assert_allclose(arr[:, 0], [0.1, 0.5])
    np.testing.assert_allclose(arr[:, 1:], np.tile([0.2, 0.3, 0.4], (2, 1)))


def test_none_and_empty_declarations():
    arr, batched = bind(None, [])
    assert arr.shape == (1, 0) and not batched
    arr, _ = bind({}, [])
    assert arr.shape == (1, 0)
    arr, _ = bind(None, allow_none=True)
    assert arr.shape == (1, 4) and not arr.any()


def test_pair_broadcasts_one_row_against_a_batch():
    P, X, B, pb, xb = bind_pair(PARAMS, INPUTS, FLAT, np.zeros((5, 2)))
    assert (P.shape, X.shape, B, pb, xb) == ((1, 4), (5, 2), 5, False, True)
    P, X, B, pb, xb = bind_pair(PARAMS, INPUTS, np.zeros((3, 4)), [0.1, 0.2])
    assert (P.shape, X.shape, B, pb, xb) == ((3, 4), (1, 2), 3, True, False)
    P, X, B, _, _ = bind_pair(PARAMS, [], np.zeros((3, 4)), None)
    assert X.shape == (1, 0) and B == 3


def test_helpers():
    assert element_names(PARAMS) == ["w[0]", "w[1]", "w[2]", "theta"]
    assert decl_text(PARAMS) == "w[3], theta" and decl_text([]) == "none"
    decls = decls_from_json([{"name": "x", "size": 2, "scalar": False}, {"name": "t", "size": 1, "scalar": True}], "input")
    assert [(d.kind, d.name, d.size, d.offset, d.scalar) for d in decls] == [("input", "x", 2, 0, False),
                                                                            ("input", "t", 1, 2, True)]


# -- refusals: what was expected and what was given ------------------------------------------------

REFUSALS = {
    "flat too short": ([0.1, 0.2], r"params have 2 values; the program declares 4 \(w\[3\], theta\)"),
    "batch too wide": (np.zeros((2, 5)), r"params have shape \(2, 5\); expected \(batch, 4\) \(w\[3\], theta\)"),
    "empty batch": (np.zeros((0, 4)), "params have an empty batch"),
    "3-d": (np.zeros((1, 1, 4)), r"params must be a 1-D or 2-D array, got shape \(1, 1, 4\)"),
    "number for several": (0.5, r"params must be a 1-D or 2-D array, got shape \(\)"),
    "string": ("0.1", "params must be numbers, got str"),
    "numeric strings": (["0.1"] * 4, "params must be numbers, got an array of <U3"),
    "bytes": (b"abc", "params must be numbers, got bytes"),
    "complex": (FLAT + 0j, "params have complex values; qcomp takes real values"),
    "ragged": ([[0.1, 0.2], [0.3]], r"params must be a real number or an array of real numbers \(its rows have different lengths\)"),
    "object": (object(), "params must be a real number or an array of real numbers"),
    "None": (None, r"missing params: the program declares 4 params \(w\[3\], theta\)"),
    "NaN": ([0.1, np.nan, 0.3, 0.4], r"param w\[1\] is NaN; values must be finite numbers"),
    "infinite in a batch": (np.array([[0.0] * 4, [0, 0, 0, -np.inf]]), "param theta of sample 1 is infinite"),
    "missing name": ({"w": [0.1, 0.2, 0.3]}, r"missing param 'theta' \(declared: w\[3\], theta\)"),
    "unknown name": ({"w": [0.1, 0.2, 0.3], "theta": 0.4, "v": 1.0}, "unknown param 'v' .*declared: w"),
    "close name": ({"ww": [0.1, 0.2, 0.3], "theta": 0.4}, "did you mean 'w'"),
    "unknown element": ({"w[3]": 1.0, "theta": 0.4}, r"unknown param 'w\[3\]'"),
    "missing elements": ({"w[0]": 0.1, "theta": 0.4}, r"missing param 'w\[1\]' and 1 more"),
    "given twice": ({"w": [0.1, 0.2, 0.3], "w[1]": 0.2, "theta": 0.4}, r"param 'w\[1\]' is given twice"),
    "decl wrong size": ({"w": [0.1, 0.2], "theta": 0.4}, r"param 'w' has shape \(2,\); expected \(3,\) or \(batch, 3\)"),
    "scalar as matrix": ({"w": [0.1, 0.2, 0.3], "theta": [[0.4, 0.5]]}, r"param 'theta' has shape \(1, 2\); expected a number or \(batch,\)"),
    "element as matrix": ({"w[0]": [[1.0]], "w[1]": 0.2, "w[2]": 0.3, "theta": 0.4}, r"param 'w\[0\]' has shape \(1, 1\)"),
    "rows disagree": ({"w": np.zeros((2, 3)), "theta": [0.1, 0.2, 0.3]},
                      "param 'w' has 2 rows but param 'theta' has 3; the batches must match or one must have a single row"),
    "complex entry": ({"w": [0.1j, 0, 0], "theta": 0.4}, "param 'w' has complex values"),
    "string entry": ({"w": "abc", "theta": 0.4}, "param 'w' must be numbers, got str"),
    "None entry": ({"w": None, "theta": 0.4}, "param 'w' must be numbers, got NoneType"),
    "NaN by name": ({"w": [0.1, 0.2, 0.3], "theta": [0.4, np.nan]}, "param theta of sample 1 is NaN"),
    "key not a string": ({0: 1.0}, "param names must be strings, got 0"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals(case):
    value, message = REFUSALS[case]
    with pytest.raises(InputError, match=message):
        bind(value)


def test_pair_refuses_batches_that_disagree():
    with pytest.raises(InputError, match="params have 2 rows but inputs have 3; the batches must match"):
        bind_pair(PARAMS, INPUTS, np.zeros((2, 4)), np.zeros((3, 2)))
    with pytest.raises(InputError, match=r"missing inputs: the program declares 2 inputs \(x\[2\]\)"):
        bind_pair(PARAMS, INPUTS, FLAT, None)


def test_torch_tensor_that_requires_grad_is_named():
    class Tensor:  # what numpy cannot read without detaching
        requires_grad = True

    with pytest.raises(InputError, match="params are a torch tensor that requires grad"):
        bind(Tensor())
    with pytest.raises(InputError, match="cotangent is a torch tensor that requires grad"):
        as_real_array(Tensor(), "cotangent")


# -- properties ---------------------------------------------------------------------------------------

finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.data())
def test_every_form_of_the_same_rows_binds_alike(B, data):
    rows = np.array(data.draw(st.lists(st.lists(finite, min_size=4, max_size=4), min_size=B, max_size=B)))
    want, batched = bind(rows)
    assert batched
    got, batched = bind({"w": rows[:, :3], "theta": rows[:, 3]})  # (B, 3) rows and a (B,) column
    np.testing.assert_array_equal(got, want)
    assert batched
    got, batched = bind({name: rows[:, k] for k, name in enumerate(element_names(PARAMS))})
    np.testing.assert_array_equal(got, want)
    assert batched == (B > 1)  # a one-element column is one shared value
    got, batched = bind({"w": rows[0, :3], "theta": rows[:, 3]})  # one row of w shared by every sample
    np.testing.assert_array_equal(got[:, 3], rows[:, 3])
    np.testing.assert_array_equal(got[:, :3], np.broadcast_to(rows[0, :3], (B, 3)))
    got, batched = bind(rows[0])
    np.testing.assert_array_equal(got, rows[:1])
    assert not batched


@settings(max_examples=60, deadline=None)
@given(st.lists(finite, min_size=4, max_size=4), st.integers(0, 3),
       st.sampled_from([np.nan, np.inf, -np.inf]))
def test_any_non_finite_element_is_named(row, k, bad):
    row = list(row)
    row[k] = bad
    with pytest.raises(InputError, match=rf"param {element_names(PARAMS)[k].replace('[', '.').replace(']', '.')} is"):
        bind(row)
