"""Datasets for quantum classifiers: binarised 4x4 digits/MNIST pairs and user .npz files."""

from __future__ import annotations

import os
import re
import zipfile
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qcomp.errors import DataError
from qcomp.train.errors import TrainConfigError

__all__ = [
    "ACCEPTED_SPECS",
    "Dataset",
    "STUDY_FAMILIES",
    "default_study_root",
    "load_study_dataset",
    "read_study_csv",
    "study_files",
    "binarize",
    "iterate_minibatches",
    "load_data",
    "remove_contradicting",
    "resize_images",
    "validate_dataset",
]

ACCEPTED_SPECS = (
    "'digits:A,B' (two distinct digits 0-9 from scikit-learn's bundled 8x8 digits, no download)",
    "'mnist:A,B' (two distinct digits 0-9 from a Keras-layout mnist.npz given as mnist_path)",
    "'PATH.npz' (a file with arrays x_train, y_train, x_test, y_test and optionally x_val, y_val)",
)

_PAIR_RE = re.compile(r"^\s*(digits|mnist)\s*:\s*(\d)\s*,\s*(\d)\s*$", re.IGNORECASE)
_SPLITS = ("train", "test", "val")


def _describe_bad(values: np.ndarray, limit: int = 8) -> str:
    vals = values.tolist()
    shown = [str(int(v)) if float(v).is_integer() else repr(float(v)) for v in vals[:limit]]
    if len(vals) > limit:
        shown.append("...")
    return "[" + ", ".join(shown) + "]"


@dataclass(frozen=True)
class Dataset:
    """Train/test (and optional validation) arrays: ``x`` is (n, features), ``y`` is (n,) or (n, k).

    Construction checks structure (2-D ``x``, matching lengths and feature counts,
    non-empty train and test splits, finite values) and raises :class:`DataError`.

    Example:
        >>> ds = Dataset(np.zeros((4, 2)), np.array([1, -1, 1, -1]), np.ones((2, 2)), np.array([1, -1]))
        >>> ds.n_features, ds.n_train, ds.n_test, ds.has_validation
        (2, 4, 2, False)
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    description: str = ""
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if (self.x_val is None) != (self.y_val is None):
            raise DataError("x_val and y_val must be given together (or both omitted)")
        features: int | None = None
        for split in _SPLITS:
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x is None:
                continue
            x = np.asarray(x)
            y = np.asarray(y)
            if x.dtype == object or y.dtype == object or not (
                np.issubdtype(x.dtype, np.number) or x.dtype == bool
            ):
                raise DataError(f"x_{split} must be a numeric array, got dtype {x.dtype}")
            if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
                raise DataError(f"y_{split} must be a numeric array, got dtype {y.dtype}")
            x = x.astype(np.float64)
            if x.ndim != 2:
                raise DataError(
                    f"x_{split} must have shape (examples, features), got shape {x.shape}"
                )
            if y.ndim == 2 and y.shape[1] == 1:
                y = y.reshape(-1)
            if y.ndim not in (1, 2):
                raise DataError(f"y_{split} must have shape (examples,) or (examples, k), got {y.shape}")
            if x.shape[0] == 0:
                raise DataError(f"empty dataset: x_{split} has 0 examples")
            if x.shape[1] == 0:
                raise DataError(f"empty dataset: x_{split} has 0 features")
            if y.shape[0] != x.shape[0]:
                raise DataError(
                    f"x_{split} has {x.shape[0]} examples but y_{split} has {y.shape[0]} labels"
                )
            bad = int(np.count_nonzero(~np.isfinite(x)))
            if bad:
                raise DataError(f"x_{split} contains NaN or inf values ({bad} non-finite entries)")
            if not np.all(np.isfinite(y.astype(np.float64))):
                raise DataError(f"y_{split} contains NaN or inf labels")
            if features is None:
                features = x.shape[1]
            elif x.shape[1] != features:
                raise DataError(
                    f"feature count mismatch between splits: x_train has {features} features "
                    f"but x_{split} has {x.shape[1]}"
                )
            x.setflags(write=False)
            y = np.array(y, copy=True)
            y.setflags(write=False)
            object.__setattr__(self, f"x_{split}", x)
            object.__setattr__(self, f"y_{split}", y)

    @property
    def n_features(self) -> int:
        """Number of input features per example."""
        return int(self.x_train.shape[1])

    @property
    def n_train(self) -> int:
        """Number of training examples."""
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test examples."""
        return int(self.x_test.shape[0])

    @property
    def n_val(self) -> int:
        """Number of validation examples (0 without a validation split)."""
        return 0 if self.x_val is None else int(self.x_val.shape[0])

    @property
    def has_validation(self) -> bool:
        """Whether a validation split is present."""
        return self.x_val is not None

    def summary(self) -> str:
        """One line: description, split sizes and feature count."""
        parts = [f"{self.n_train} train", f"{self.n_test} test"]
        if self.has_validation:
            parts.insert(1, f"{self.n_val} val")
        desc = f"{self.description}: " if self.description else ""
        return f"{desc}{', '.join(parts)}, {self.n_features} features"


def validate_dataset(
    dataset: Dataset,
    *,
    expected_features: int | None = None,
    expected_labels: Collection[float] | None = None,
) -> None:
    """Raise :class:`DataError` if the feature count or the label values are not as expected.

    (Structural problems such as empty splits or NaN/inf were already rejected when the
    :class:`Dataset` was built.)

    Example:
        >>> ds = Dataset(np.zeros((2, 3)), np.array([1, -1]), np.zeros((1, 3)), np.array([1]))
        >>> validate_dataset(ds, expected_features=3, expected_labels={-1, 1})
    """
    if expected_features is not None and dataset.n_features != int(expected_features):
        raise DataError(
            f"feature count mismatch: the dataset has {dataset.n_features} features per example "
            f"but {int(expected_features)} were expected (the model's input count)"
        )
    if expected_labels is not None:
        allowed = np.array(sorted(float(v) for v in expected_labels))
        for split in _SPLITS:
            y = getattr(dataset, f"y_{split}")
            if y is None:
                continue
            vals = np.unique(np.asarray(y, dtype=np.float64))
            bad = vals[~np.isin(vals, allowed)]
            if bad.size:
                raise DataError(
                    f"labels outside the expected set {_describe_bad(allowed)}: "
                    f"y_{split} contains {_describe_bad(bad)}"
                )


def _resize_matrix(n_in: int, n_out: int, method: str) -> np.ndarray:
    """(n_out, n_in) matrix ``R`` so that one axis is resized by ``R @ a``."""
    r = np.zeros((n_out, n_in))
    scale = n_in / n_out
    if method == "bilinear":
        # tf.image.resize(method="bilinear", antialias=False): half-pixel centres.
        for i in range(n_out):
            src = (i + 0.5) * scale - 0.5
            fl = np.floor(src)
            lo = int(max(fl, 0))
            hi = int(min(np.ceil(src), n_in - 1))
            w = src - fl
            r[i, lo] += 1.0 - w
            r[i, hi] += w
    elif method == "area":
        # Each output pixel averages the input interval [i*scale, (i+1)*scale).
        for i in range(n_out):
            a, b = i * scale, (i + 1) * scale
            for j in range(int(np.floor(a)), min(int(np.ceil(b)), n_in)):
                overlap = min(b, j + 1) - max(a, j)
                if overlap > 0:
                    r[i, j] = overlap / scale
    else:
        raise TrainConfigError(f"unknown resize method {method!r}; use 'bilinear' or 'area'")
    return r


def resize_images(images: np.ndarray, size: tuple[int, int], method: str = "bilinear") -> np.ndarray:
    """Resize a stack of images (n, H, W) to (n, h, w).

    ``bilinear`` reproduces ``tf.image.resize`` (bilinear, half-pixel centres, no
    antialiasing): downscaling 28x28 to 4x4 samples the pixels at rows/columns 3, 10, 17, 24.
    ``area`` averages the covered input area (2x2 blocks for 8x8 -> 4x4).

    Example:
        >>> resize_images(np.arange(16.0).reshape(1, 4, 4), (2, 2), "area").tolist()
        [[[2.5, 4.5], [10.5, 12.5]]]
    """
    imgs = np.asarray(images, dtype=np.float64)
    if imgs.ndim != 3:
        raise DataError(f"images must have shape (n, height, width), got {imgs.shape}")
    rh = _resize_matrix(imgs.shape[1], int(size[0]), method)
    rw = _resize_matrix(imgs.shape[2], int(size[1]), method)
    return np.einsum("ih,nhw,jw->nij", rh, imgs, rw)


def binarize(x: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """``1.0`` where ``x > threshold`` else ``0.0`` (the TFQ tutorial's binarisation).

    Example:
        >>> binarize(np.array([0.2, 0.5, 0.7])).tolist()
        [0.0, 0.0, 1.0]
    """
    return (np.asarray(x) > threshold).astype(np.float64)


def remove_contradicting(
    x: np.ndarray, y: np.ndarray, *, deduplicate: bool = False
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Drop every example whose (flattened) image also occurs with a different label.

    With ``deduplicate=True`` only the first copy of each remaining image is kept,
    exactly like the TFQ MNIST tutorial's ``remove_contradicting``; by default duplicates
    with a consistent label are kept.  Order of the kept examples is preserved.  The
    returned stats hold ``initial``, ``unique``, ``contradicting_images`` and ``kept``.

    Example:
        >>> x = np.array([[0, 1], [0, 1], [1, 1], [1, 1]])
        >>> xs, ys, stats = remove_contradicting(x, np.array([1, -1, 1, 1]))
        >>> xs.tolist(), ys.tolist(), stats["contradicting_images"]
        ([[1, 1], [1, 1]], [1, 1], 1)
    """
    x = np.asarray(x)
    y = np.asarray(y)
    flat = x.reshape(x.shape[0], -1)
    if flat.shape[0] == 0:
        return x, y, {"initial": 0, "unique": 0, "contradicting_images": 0, "kept": 0}
    _, first, inverse = np.unique(flat, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    n_unique = first.shape[0]
    contradicting = np.zeros(n_unique, dtype=bool)
    ref = y[first]
    for i in range(flat.shape[0]):
        if not np.array_equal(y[i], ref[inverse[i]]):
            contradicting[inverse[i]] = True
    keep = ~contradicting[inverse]
    if deduplicate:
        is_first = np.zeros(flat.shape[0], dtype=bool)
        is_first[first] = True
        keep &= is_first
    stats = {
        "initial": int(flat.shape[0]),
        "unique": int(n_unique),
        "contradicting_images": int(contradicting.sum()),
        "kept": int(keep.sum()),
    }
    return x[keep], y[keep], stats


def _split(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split off ``fraction`` of the examples (stratified when possible, else random)."""
    from sklearn.model_selection import train_test_split

    n = x.shape[0]
    n_b = int(round(fraction * n))
    if n_b == 0 or n_b >= n:
        raise DataError(
            f"cannot split {n} examples with fraction {fraction}: a split would be empty"
        )
    strat = None
    if y.ndim == 1 and np.all(np.round(y) == y):
        classes, counts = np.unique(y, return_counts=True)
        if counts.min() >= 2 and n_b >= classes.size and n - n_b >= classes.size:
            strat = y
    xa, xb, ya, yb = train_test_split(x, y, test_size=n_b, random_state=seed, stratify=strat)
    return xa, ya, xb, yb


def _subsample(x: np.ndarray, y: np.ndarray, limit: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if limit is None:
        return x, y
    if limit <= 0:
        raise TrainConfigError(f"max_train/max_test must be positive, got {limit}")
    if x.shape[0] <= limit:
        return x, y
    idx = np.sort(np.random.default_rng(seed).choice(x.shape[0], size=limit, replace=False))
    return x[idx], y[idx]


def _pair_labels(y: np.ndarray, first: int, second: int) -> np.ndarray:
    return np.where(y == first, 1, -1).astype(np.int64)


def _load_pair(
    kind: str,
    first: int,
    second: int,
    *,
    mnist_path: str | os.PathLike[str] | None,
    seed: int,
    test_fraction: float,
    resize: str,
    deduplicate: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any], str]:
    if first == second:
        raise DataError(f"the two classes of '{kind}:{first},{second}' must be different digits")
    if kind == "digits":
        from sklearn.datasets import load_digits

        xs, ys = load_digits(return_X_y=True)
        keep = (ys == first) | (ys == second)
        imgs = xs[keep].reshape(-1, 8, 8) / 16.0
        small = resize_images(imgs, (4, 4), "area")
        xb = binarize(small.reshape(-1, 16))
        y = _pair_labels(ys[keep], first, second)
        x_tr, y_tr, x_te, y_te = _split(xb, y, test_fraction, seed)
        desc = f"digits {first} (+1) vs {second} (-1), 8x8 -> 4x4 average-pooled, binarised at 0.5"
    else:
        path = _find_mnist(mnist_path)
        raw = _read_npz(path, ("x_train", "y_train", "x_test", "y_test"))
        out = []
        for split in ("train", "test"):
            x, yy = raw[f"x_{split}"], raw[f"y_{split}"].reshape(-1)
            if x.ndim != 3:
                raise DataError(f"{path}: x_{split} must have shape (n, height, width), got {x.shape}")
            if x.shape[0] != yy.shape[0]:
                raise DataError(
                    f"{path}: x_{split} has {x.shape[0]} images but y_{split} has {yy.shape[0]} labels"
                )
            keep = (yy == first) | (yy == second)
            imgs = _to_unit(x[keep], f"{path}: x_{split}")
            small = resize_images(imgs, (4, 4), resize)
            out += [binarize(small.reshape(-1, 16)), _pair_labels(yy[keep], first, second)]
        x_tr, y_tr, x_te, y_te = out
        if x_tr.shape[0] == 0 or x_te.shape[0] == 0:
            raise DataError(
                f"empty dataset: {path} has no images of digits {first} and {second} in "
                f"{'x_train' if x_tr.shape[0] == 0 else 'x_test'}"
            )
        desc = f"mnist {first} (+1) vs {second} (-1), 28x28 -> 4x4 ({resize}), binarised at 0.5"
    x_tr, y_tr, stats = remove_contradicting(x_tr, y_tr, deduplicate=deduplicate)
    if x_tr.shape[0] == 0:
        raise DataError(f"empty dataset: every training example of {kind}:{first},{second} is contradictory")
    info = {"classes": {1: first, -1: second}, "contradictions": stats}
    return x_tr, y_tr, x_te, y_te, info, desc


def _find_mnist(mnist_path: str | os.PathLike[str] | None) -> Path:
    if mnist_path is None:
        default = Path.home() / ".keras" / "datasets" / "mnist.npz"
        if default.is_file():
            return default
        raise DataError(
            "the 'mnist:A,B' dataset needs mnist_path pointing to a Keras-layout mnist.npz "
            f"(not found at {default}; qcomp never downloads data)"
        )
    path = Path(mnist_path)
    if not path.is_file():
        raise DataError(f"mnist file not found: {path}")
    return path


def _to_unit(x: np.ndarray, what: str) -> np.ndarray:
    """Pixel values scaled to [0, 1]: integer images are divided by 255, float images kept if <= 1."""
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.float64) / 255.0
    xf = x.astype(np.float64)
    if not np.all(np.isfinite(xf)):
        raise DataError(f"{what} contains NaN or inf values ({int(np.count_nonzero(~np.isfinite(xf)))} non-finite entries)")
    return xf / 255.0 if xf.size and xf.max() > 1.0 else xf


def _read_npz(path: Path, required: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: np.asarray(f[k]) for k in f.files}
    except FileNotFoundError:
        raise DataError(f"dataset file not found: {path}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:  # empty, truncated, corrupt
        raise DataError(f"cannot read {path} as a numpy .npz file: {'empty file' if isinstance(exc, EOFError) else exc}") from None
    missing = [k for k in required if k not in arrays]
    if missing:
        raise DataError(
            f"{path} is missing array(s) {', '.join(missing)}; it must contain "
            f"{', '.join(required)} (found: {', '.join(sorted(arrays)) or 'nothing'})"
        )
    return arrays


def _flat(x: np.ndarray) -> np.ndarray:
    """(n, ...) -> (n, features); a 1-D array is one feature per example."""
    return x.reshape(x.shape[0], int(np.prod(x.shape[1:], dtype=np.int64)))


def load_data(
    spec: str,
    *,
    mnist_path: str | os.PathLike[str] | None = None,
    seed: int = 0,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.3,
    expected_features: int | None = None,
    expected_labels: Collection[float] | None = None,
    mnist_resize: str = "bilinear",
    deduplicate: bool = False,
    max_train: int | None = None,
    max_test: int | None = None,
) -> Dataset:
    """Load and validate a dataset from a spec string.

    * ``"digits:A,B"``: scikit-learn's bundled 8x8 digits A and B, pixels scaled to
      [0, 1], 2x2 average-pooled to 4x4, binarised (``> 0.5``), seeded stratified
      train/test split (``test_fraction``, default 70/30).
    * ``"mnist:A,B"``: a Keras-layout ``mnist.npz`` (``mnist_path``, default
      ``~/.keras/datasets/mnist.npz``), scaled to [0, 1], resized 28x28 -> 4x4 with
      ``mnist_resize`` (``"bilinear"`` = ``tf.image.resize`` as in the TFQ tutorial, or
      ``"area"`` = 7x7 block means), binarised; the file's own train/test split is kept.
    * ``"PATH.npz"``: arrays ``x_train, y_train, x_test, y_test`` (and optionally
      ``x_val, y_val``) used as given, images flattened to (n, features).

    For the digit pairs the label is +1 for A and -1 for B, and examples whose binarised
    image also occurs with the other label are removed from the training split only
    (``deduplicate=True`` also keeps one copy per image, exactly like TFQ's
    ``remove_contradicting``).  ``max_train``/``max_test`` cap the split sizes by seeded
    subsampling.  Unless the file provides one, a validation split of
    ``validation_fraction`` of the training examples is carved out (0 disables it).

    Raises :class:`DataError` for empty splits, NaN/inf, labels outside
    ``expected_labels`` (default ``{-1, +1}`` for digit pairs) or a feature count other
    than ``expected_features``.

    Example:
        >>> ds = load_data("digits:3,6", seed=0)
        >>> ds.n_features, sorted(set(ds.y_train.tolist()))
        (16, [-1, 1])
    """
    if not 0.0 <= float(validation_fraction) < 1.0:
        raise TrainConfigError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    if not 0.0 < float(test_fraction) < 1.0:
        raise TrainConfigError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if mnist_resize not in ("bilinear", "area"):
        raise TrainConfigError(f"unknown mnist_resize {mnist_resize!r}; use 'bilinear' or 'area'")
    text = str(spec).strip()
    m = _PAIR_RE.match(text)
    x_val = y_val = None
    info: dict[str, Any] = {"spec": text, "seed": int(seed)}
    if m:
        kind, first, second = m.group(1).lower(), int(m.group(2)), int(m.group(3))
        x_tr, y_tr, x_te, y_te, extra, desc = _load_pair(
            kind,
            first,
            second,
            mnist_path=mnist_path,
            seed=seed,
            test_fraction=test_fraction,
            resize=mnist_resize,
            deduplicate=deduplicate,
        )
        info.update(extra)
        if expected_labels is None:
            expected_labels = (-1, 1)
    elif text.lower().endswith(".npz"):
        path = Path(text)
        if not path.is_file():
            raise DataError(f"dataset file not found: {path}")
        raw = _read_npz(path, ("x_train", "y_train", "x_test", "y_test"))
        if ("x_val" in raw) != ("y_val" in raw):
            raise DataError(f"{path} must contain both x_val and y_val or neither")
        for key, arr in raw.items():
            if arr.ndim == 0:
                raise DataError(f"{path}: {key} must be an array of examples, got a scalar")
        x_tr, y_tr = _flat(raw["x_train"]), raw["y_train"]
        x_te, y_te = _flat(raw["x_test"]), raw["y_test"]
        if "x_val" in raw:
            x_val, y_val = _flat(raw["x_val"]), raw["y_val"]
        desc = f"{path.name}"
    else:
        raise DataError(
            f"unknown dataset spec {text!r}; accepted forms are: " + "; ".join(ACCEPTED_SPECS)
        )

    x_tr, y_tr = _subsample(x_tr, y_tr, max_train, seed)
    x_te, y_te = _subsample(x_te, y_te, max_test, seed + 1)
    # Build once without validation so structural errors are reported before splitting.
    base = Dataset(x_tr, y_tr, x_te, y_te, x_val, y_val, description=desc)
    if x_val is None and validation_fraction > 0:
        if base.n_train < 2:
            raise DataError(
                f"cannot carve a validation split out of {base.n_train} training example(s); "
                "use validation_fraction=0"
            )
        xa, ya, xv, yv = _split(base.x_train, base.y_train, max(validation_fraction, 1.0 / base.n_train), seed)
        base = Dataset(xa, ya, base.x_test, base.y_test, xv, yv, description=desc)
    ds = Dataset(
        base.x_train, base.y_train, base.x_test, base.y_test, base.x_val, base.y_val,
        description=desc, info=info,
    )
    validate_dataset(ds, expected_features=expected_features, expected_labels=expected_labels)
    return ds


def iterate_minibatches(
    n: int, batch_size: int, rng: np.random.Generator | None = None, shuffle: bool = True
) -> Iterator[np.ndarray]:
    """Yield index arrays covering ``range(n)`` in batches (the last one may be smaller).

    With ``shuffle`` the order is ``rng.permutation(n)`` (one draw per call).

    Example:
        >>> [b.tolist() for b in iterate_minibatches(5, 2, shuffle=False)]
        [[0, 1], [2, 3], [4]]
    """
    if int(batch_size) <= 0:
        raise TrainConfigError(f"batch_size must be a positive integer, got {batch_size}")
    if n < 0:
        raise TrainConfigError(f"n must be non-negative, got {n}")
    if shuffle:
        if rng is None:
            raise TrainConfigError("iterate_minibatches(shuffle=True) needs a numpy Generator rng")
        order = rng.permutation(n)
    else:
        order = np.arange(n)
    for start in range(0, n, int(batch_size)):
        yield order[start : start + int(batch_size)]


# -- the QML benchmark study's CSV layout ---------------------------------------------------------
# Bowles, Ahmed, Schuld (2024), "Better than classical?", repository XanaduAI/qml-benchmarks: one
# folder per dataset family, files ``{stem}_train.csv`` / ``{stem}_test.csv``, features then the
# label (-1/+1) in the last column, no header. Plain text only: nothing is ever unpickled.

#: family -> (folder, file stem with ``{size}`` for the varied quantity, what the size means)
STUDY_FAMILIES: dict[str, tuple[str, str, str]] = {
    "linearly_separable": ("linearly_separable", "linearly_separable_{size}d", "features"),
    "hidden_manifold": ("hidden_manifold", "hidden_manifold-6manifold-{size}d", "features"),
    "hidden_manifold_diff": ("hidden_manifold_diff", "hidden_manifold-10d-{size}manifold", "manifold dimension"),
    "two_curves": ("two_curves_diff", "two_curves-5degree-0.1offset-{size}d", "features"),
    "two_curves_diff": ("two_curves_diff", "two_curves-10d-{size}degree", "curve degree"),
    "bars_and_stripes": ("bars_and_stripes", "bars_and_stripes_{size}_x_{size}_0.5noise", "image side"),
}

STUDY_DATA_ENV = "QCOMP_QML_BENCHMARKS_DATA"


def default_study_root() -> Path | None:
    """The study's dataset folder: ``$QCOMP_QML_BENCHMARKS_DATA`` if set, else the first existing
    ``shared/datasets/qml-benchmarks`` beside or above the working directory, else None."""
    env = os.environ.get(STUDY_DATA_ENV)
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    for base in (here, *here.parents):
        for cand in (base / "shared" / "datasets" / "qml-benchmarks",
                     base.parent / "shared" / "datasets" / "qml-benchmarks"):
            if cand.is_dir():
                return cand
    return None


def read_study_csv(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """One CSV file of the study: returns ``(x (n, d) float64, y (n,) float64 in {-1, +1})``.

    Every row must have the same number of comma-separated numbers (at least 2); the last is the
    label and must be -1 or +1. A missing file, an empty file, a short or non-numeric row or a bad
    label raises :class:`DataError` naming ``path:line``.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"dataset file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {p} as a text CSV file: {exc}") from None
    rows: list[list[float]] = []
    width = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        try:
            values = [float(f) for f in fields]
        except ValueError:
            bad = next(f for f in fields if not _is_float(f))
            raise DataError(f"{p}:{lineno}: not a number: {bad.strip()!r} (expected comma-separated "
                            f"numbers, the label last)") from None
        if width is None:
            width = len(values)
            if width < 2:
                raise DataError(f"{p}:{lineno}: a row needs at least one feature and a label, got {width} value")
        elif len(values) != width:
            raise DataError(f"{p}:{lineno}: {len(values)} values, but the first row has {width}")
        if not all(np.isfinite(values)):
            raise DataError(f"{p}:{lineno}: NaN or infinite value")
        if values[-1] not in (-1.0, 1.0):
            raise DataError(f"{p}:{lineno}: label {fields[-1].strip()!r} is not -1 or +1")
        rows.append(values)
    if not rows:
        raise DataError(f"{p}: empty dataset file (no rows)")
    arr = np.asarray(rows, dtype=np.float64)
    return arr[:, :-1], arr[:, -1]


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def study_files(family: str, size: int, root: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """The (train, test) CSV paths of ``family`` at ``size`` (see :data:`STUDY_FAMILIES`)."""
    if family not in STUDY_FAMILIES:
        raise DataError(f"unknown study dataset family {family!r}; known: {', '.join(STUDY_FAMILIES)}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise DataError(f"study dataset size must be a positive integer, got {size!r}")
    base = Path(root) if root is not None else default_study_root()
    if base is None:
        raise DataError(f"the study's datasets were not found: set {STUDY_DATA_ENV} or pass root= "
                        "(a folder with linearly_separable/, hidden_manifold/, ...)")
    folder, stem, _ = STUDY_FAMILIES[family]
    name = stem.format(size=int(size))
    return base / folder / f"{name}_train.csv", base / folder / f"{name}_test.csv"


def load_study_dataset(family: str, size: int, root: str | os.PathLike[str] | None = None) -> Dataset:
    """The study's train/test split of ``family`` (e.g. "linearly_separable") at ``size`` (features,
    or the family's varied quantity) as a :class:`Dataset` with labels -1/+1.

    ``root`` defaults to :func:`default_study_root`. ``info`` records family, size and the files.
    """
    train, test = study_files(family, size, root)
    x_tr, y_tr = read_study_csv(train)
    x_te, y_te = read_study_csv(test)
    if x_tr.shape[1] != x_te.shape[1]:
        raise DataError(f"{train} has {x_tr.shape[1]} features but {test} has {x_te.shape[1]}")
    folder, stem, meaning = STUDY_FAMILIES[family]
    return Dataset(x_tr, y_tr, x_te, y_te, description=f"{family} ({meaning} = {size})",
                   info={"family": family, "size": int(size), "train_file": str(train), "test_file": str(test)})
