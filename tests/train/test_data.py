import dataclasses
import doctest

import numpy as np
import pytest
from sklearn.datasets import load_digits

from qcomp.errors import DataError, QCompError
from qcomp.train import data as data_mod
from qcomp.train.data import (
    Dataset,
    iterate_minibatches,
    load_data,
    remove_contradicting,
    resize_images,
    validate_dataset,
)
from qcomp.train.errors import TrainConfigError


def _no_contradictions(x, y):
    seen = {}
    for row, label in zip(map(tuple, x), y.tolist()):
        if seen.setdefault(row, label) != label:
            return False
    return True


@pytest.fixture(scope="module")
def digits36():
    return load_data("digits:3,6", seed=0)


def test_digits_pipeline_shapes_and_labels(digits36):
    ds = digits36
    assert ds.n_features == 16
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        assert x.shape[1] == 16
        assert set(np.unique(x).tolist()) <= {0.0, 1.0}
        assert set(np.unique(y).tolist()) == {-1, 1}
    assert _no_contradictions(ds.x_train, ds.y_train)
    assert ds.has_validation and ds.n_val > 0
    # 364 images of 3 and 6: 70/30 train/test, then 10% of train for validation
    assert ds.n_train + ds.n_val + ds.n_test == 364
    assert ds.n_test == round(0.3 * 364)
    assert ds.info["classes"] == {1: 3, -1: 6}
    assert "digits 3 (+1) vs 6 (-1)" in ds.description


def test_digits_label_is_plus_one_for_first_digit(digits36):
    xs, ys = load_digits(return_X_y=True)
    def binarised(d):
        imgs = xs[ys == d].reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4)) / 16.0
        return {tuple(r) for r in (imgs.reshape(-1, 16) > 0.5).astype(float)}
    threes, sixes = binarised(3), binarised(6)
    assert not threes & sixes  # 3 vs 6 has no contradicting 4x4 images at all
    for row, label in zip(map(tuple, digits36.x_train), digits36.y_train):
        assert (row in threes) == (label == 1)
        assert (row in sixes) == (label == -1)


def test_digits_deterministic_given_seed(digits36):
    again = load_data("digits:3,6", seed=0)
    other = load_data("digits:3,6", seed=1)
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(digits36, name), getattr(again, name))
    assert not np.array_equal(digits36.x_train, other.x_train)


def test_digits_contradictions_removed_on_train_only():
    ds = load_data("digits:0,1", seed=0, validation_fraction=0.0)
    stats = ds.info["contradictions"]
    assert stats["contradicting_images"] > 0
    assert stats["kept"] == ds.n_train < stats["initial"]
    assert _no_contradictions(ds.x_train, ds.y_train)
    assert not ds.has_validation
    assert ds.n_train + ds.n_test < 360  # the test split is left as it is
    assert ds.n_test == round(0.3 * 360)


def test_deduplicate_like_tfq():
    ds = load_data("digits:3,6", seed=0, validation_fraction=0.0, deduplicate=True)
    assert np.unique(ds.x_train, axis=0).shape[0] == ds.n_train


def test_remove_contradicting_keeps_order_and_duplicates():
    x = np.array([[0, 1], [1, 1], [0, 1], [1, 0], [1, 1]])
    y = np.array([1, -1, -1, 1, -1])
    xs, ys, stats = remove_contradicting(x, y)
    assert xs.tolist() == [[1, 1], [1, 0], [1, 1]]
    assert ys.tolist() == [-1, 1, -1]
    assert stats == {"initial": 5, "unique": 3, "contradicting_images": 1, "kept": 3}
    xs, ys, _ = remove_contradicting(x, y, deduplicate=True)
    assert xs.tolist() == [[1, 1], [1, 0]]


def test_resize_bilinear_matches_tf_half_pixel_sampling():
    rng = np.random.default_rng(0)
    imgs = rng.uniform(size=(3, 28, 28))
    # tf.image.resize(..., (4, 4)) (bilinear, half-pixel centres) samples pixels 3, 10, 17, 24
    np.testing.assert_allclose(resize_images(imgs, (4, 4), "bilinear"), imgs[:, 3::7, 3::7])
    area = resize_images(imgs, (4, 4), "area")
    np.testing.assert_allclose(area, imgs.reshape(3, 4, 7, 4, 7).mean(axis=(2, 4)))
    up = resize_images(np.array([[[0.0, 1.0]]]), (1, 4), "bilinear")
    np.testing.assert_allclose(up, [[[0.0, 0.25, 0.75, 1.0]]])


def _write_mnist(path, seed=0):
    """A synthetic Keras-layout mnist.npz: digit d lights up 7x7 block (d // 4, d % 4)."""
    rng = np.random.default_rng(seed)

    def make(n):
        y = rng.integers(0, 10, size=n).astype(np.uint8)
        x = np.zeros((n, 28, 28), dtype=np.uint8)
        for i, d in enumerate(y):
            r, c = divmod(int(d), 4)
            x[i, 7 * r : 7 * r + 7, 7 * c : 7 * c + 7] = 200
        return x, y

    x_train, y_train = make(300)
    x_test, y_test = make(100)
    # a contradicting pair: identical blank images labelled 3 and 6
    x_train[:2] = 0
    y_train[:2] = [3, 6]
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return x_train, y_train, x_test, y_test


@pytest.mark.parametrize("resize", ["bilinear", "area"])
def test_synthetic_mnist_path(tmp_path, resize):
    path = tmp_path / "mnist.npz"
    x_train, y_train, x_test, y_test = _write_mnist(path)
    ds = load_data("mnist:3,6", mnist_path=path, seed=0, validation_fraction=0.2, mnist_resize=resize)
    assert ds.n_features == 16
    n3, n6 = int(np.sum(y_train == 3)), int(np.sum(y_train == 6))
    assert ds.n_train + ds.n_val == n3 + n6 - 2  # the contradicting blank pair is gone
    assert ds.n_test == int(np.sum((y_test == 3) | (y_test == 6)))  # test split untouched
    assert ds.info["contradictions"]["contradicting_images"] == 1
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        assert set(np.unique(y).tolist()) <= {-1, 1}
        # digit 3 lights 4x4 pixel (0, 3), digit 6 lights pixel (1, 2)
        assert np.all(x[y == 1][:, 3] == 1) and np.all(x[y == 1].sum(axis=1) == 1)
        assert np.all(x[y == -1][:, 6] == 1) and np.all(x[y == -1].sum(axis=1) == 1)
    assert _no_contradictions(ds.x_train, ds.y_train)


def test_mnist_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(DataError, match="needs mnist_path"):
        load_data("mnist:3,6")
    with pytest.raises(DataError, match="mnist file not found"):
        load_data("mnist:3,6", mnist_path=tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_train=np.zeros((2, 28, 28)), y_train=np.zeros(2))
    with pytest.raises(DataError, match="missing array.*x_test, y_test"):
        load_data("mnist:3,6", mnist_path=bad)
    with pytest.raises(DataError, match="must be different digits"):
        load_data("digits:3,3")


def _npz(tmp_path, name="d.npz", **arrays):
    base = dict(
        x_train=np.random.default_rng(0).uniform(size=(10, 4)),
        y_train=np.array([1, -1] * 5),
        x_test=np.random.default_rng(1).uniform(size=(4, 4)),
        y_test=np.array([1, -1, 1, -1]),
    )
    base.update(arrays)
    path = tmp_path / name
    np.savez(path, **base)
    return str(path)


def test_npz_file_as_given(tmp_path):
    imgs = np.random.default_rng(2).uniform(size=(10, 4, 4))
    p = _npz(tmp_path, x_train=imgs, x_test=imgs[:4], x_val=imgs[:3], y_val=np.array([1, -1, 1]))
    ds = load_data(p, validation_fraction=0.5)
    assert ds.n_features == 16 and ds.n_train == 10 and ds.n_val == 3
    np.testing.assert_array_equal(ds.x_train, imgs.reshape(10, 16))
    ds2 = load_data(_npz(tmp_path, "e.npz"), validation_fraction=0.2, seed=3)
    assert ds2.n_train == 8 and ds2.n_val == 2


def test_bad_input_errors(tmp_path):
    with pytest.raises(DataError, match="empty dataset: x_train has 0 examples"):
        load_data(_npz(tmp_path, x_train=np.zeros((0, 4)), y_train=np.zeros(0)))
    with pytest.raises(DataError, match="empty dataset: x_test has 0 examples"):
        load_data(_npz(tmp_path, x_test=np.zeros((0, 4)), y_test=np.zeros(0)))
    x_nan = np.ones((10, 4))
    x_nan[3, 1] = np.nan
    x_nan[5, 2] = np.inf
    with pytest.raises(DataError, match=r"x_train contains NaN or inf values \(2 non-finite entries\)"):
        load_data(_npz(tmp_path, x_train=x_nan))
    with pytest.raises(DataError, match=r"labels outside the expected set \[-1, 1\]: y_train contains \[0, 2\]"):
        load_data(
            _npz(tmp_path, y_train=np.array([0, 2, 1, 1, -1, -1, 1, 1, 1, 1])),
            expected_labels={-1, 1},
            validation_fraction=0,
        )
    with pytest.raises(DataError, match="feature count mismatch: the dataset has 16 features per example but 8"):
        load_data("digits:3,6", expected_features=8)
    with pytest.raises(DataError, match="x_train has 10 examples but y_train has 9 labels"):
        load_data(_npz(tmp_path, y_train=np.ones(9)))
    with pytest.raises(DataError, match="feature count mismatch between splits"):
        load_data(_npz(tmp_path, x_test=np.zeros((4, 5))))
    with pytest.raises(DataError, match="dataset file not found"):
        load_data(str(tmp_path / "missing.npz"))


def test_unknown_spec_lists_accepted_forms():
    with pytest.raises(QCompError) as err:
        load_data("cifar:1,2")
    msg = str(err.value)
    assert "unknown dataset spec 'cifar:1,2'" in msg
    for form in ("digits:A,B", "mnist:A,B", "PATH.npz"):
        assert form in msg
    with pytest.raises(TrainConfigError, match="validation_fraction"):
        load_data("digits:3,6", validation_fraction=1.0)


def test_dataset_is_frozen_and_validated():
    ds = Dataset(np.zeros((3, 2)), np.array([1, -1, 1]), np.zeros((1, 2)), np.array([1]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.x_train = np.ones((3, 2))
    with pytest.raises(ValueError):
        ds.x_train[0, 0] = 1.0  # arrays are read-only
    with pytest.raises(DataError, match="x_val and y_val must be given together"):
        Dataset(np.zeros((3, 2)), np.zeros(3), np.zeros((1, 2)), np.zeros(1), x_val=np.zeros((1, 2)))
    with pytest.raises(DataError, match=r"shape \(examples, features\)"):
        Dataset(np.zeros(3), np.zeros(3), np.zeros((1, 2)), np.zeros(1))
    validate_dataset(ds, expected_features=2, expected_labels=[-1, 1])


def test_max_train_subsamples(digits36):
    ds = load_data("digits:3,6", max_train=50, max_test=20, validation_fraction=0.2)
    assert ds.n_train + ds.n_val == 50 and ds.n_test == 20


def test_iterate_minibatches():
    rng = np.random.default_rng(0)
    batches = list(iterate_minibatches(10, 3, rng))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    again = list(iterate_minibatches(10, 3, np.random.default_rng(0)))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    assert [b.tolist() for b in iterate_minibatches(4, 2, shuffle=False)] == [[0, 1], [2, 3]]
    with pytest.raises(TrainConfigError, match="batch_size"):
        list(iterate_minibatches(4, 0, rng))


def test_doctests():
    assert doctest.testmod(data_mod).failed == 0
