"""The QML benchmark study's CSV loader: synthetic files always, the shared datasets when present."""

from __future__ import annotations

import numpy as np
import pytest

from qcomp.errors import DataError, QCompError
from qcomp.train.data import STUDY_FAMILIES, default_study_root, load_study_dataset, read_study_csv, study_files


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def study_root(tmp_path):
    folder = tmp_path / "linearly_separable"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("test", 4)):
        x = rng.normal(size=(n, 3))
        y = np.where(x[:, 0] > 0, 1.0, -1.0)
        np.savetxt(folder / f"linearly_separable_3d_{split}.csv", np.column_stack([x, y]), delimiter=",")
    return tmp_path


def test_synthetic_round_trip(study_root):
    ds = load_study_dataset("linearly_separable", 3, root=study_root)
    assert ds.x_train.shape == (8, 3) and ds.x_test.shape == (4, 3)
    assert set(np.unique(ds.y_train)) <= {-1.0, 1.0}
    assert np.array_equal(ds.y_train, np.where(ds.x_train[:, 0] > 0, 1.0, -1.0))
    assert ds.info["family"] == "linearly_separable" and ds.info["size"] == 3


def test_missing_file_names_path(study_root):
    with pytest.raises(DataError, match=r"not found: .*linearly_separable_4d_train\.csv"):
        load_study_dataset("linearly_separable", 4, root=study_root)


@pytest.mark.parametrize("text, match", [
    ("0.1,0.2,1\n0.3,abc,-1\n", r"bad\.csv:2: not a number: 'abc'"),
    ("0.1,0.2,1\n0.3,-1\n", r"bad\.csv:2: 2 values, but the first row has 3"),
    ("0.1,0.2,1\n0.3,0.4,0\n", r"bad\.csv:2: label '0' is not -1 or \+1"),
    ("0.1,nan,1\n", r"bad\.csv:1: NaN"),
    ("", r"empty dataset file"),
    ("1\n", r"bad\.csv:1: a row needs at least one feature"),
])
def test_garbled_file_names_line(tmp_path, text, match):
    with pytest.raises(DataError, match=match):
        read_study_csv(_write(tmp_path / "bad.csv", text))


def test_binary_file_is_refused_not_unpickled(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes(b"\x80\x04\x95\xff\xfe pickle")
    with pytest.raises(QCompError, match="x.csv"):
        read_study_csv(p)


def test_bad_family_and_size(study_root):
    with pytest.raises(DataError, match="unknown study dataset family 'nope'"):
        study_files("nope", 2, study_root)
    with pytest.raises(DataError, match="positive integer"):
        study_files("linearly_separable", 0, study_root)


def test_env_root(monkeypatch, study_root):
    monkeypatch.setenv("QCOMP_QML_BENCHMARKS_DATA", str(study_root))
    assert default_study_root() == study_root
    assert load_study_dataset("linearly_separable", 3).n_train == 8


_SHARED = default_study_root()


@pytest.mark.skipif(_SHARED is None or not (_SHARED / "linearly_separable").is_dir(),
                    reason="the study's datasets (shared/datasets/qml-benchmarks) are not present")
@pytest.mark.parametrize("family, size, n_features", [
    ("linearly_separable", 2, 2), ("linearly_separable", 10, 10), ("hidden_manifold", 5, 5),
    ("two_curves_diff", 5, 10), ("two_curves", 4, 4), ("hidden_manifold_diff", 3, 10),
])
def test_shared_study_datasets(family, size, n_features):
    ds = load_study_dataset(family, size, root=_SHARED)
    # the study's generators: 300 samples split 80/20, labels -1/+1 with both classes present
    assert ds.n_train == 240 and ds.n_test == 60 and ds.n_features == n_features
    assert set(np.unique(ds.y_train)) == {-1.0, 1.0}


def test_families_have_folders():
    assert {"linearly_separable", "hidden_manifold", "two_curves_diff"} <= set(STUDY_FAMILIES)
