"""One reader of param and input value files (.npy, .npz, .json, .csv), bound to a program's declarations."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from .._io import read_csv_numbers, read_json, read_numpy
from ..errors import InputError
from ..ir.ops import ValueDecl
from ..ir.values import bind_values, element_names

_SINGLE_ARRAY_NAMES = ("arr_0", "params", "inputs", "x")



def read_values_file(path: str | os.PathLike, decls: Sequence[ValueDecl], kind: str) -> tuple[np.ndarray, bool]:
    """Param (``kind="param"``) or input values for ``decls`` from a ``.npy``, ``.npz``, ``.json`` or
    ``.csv`` file, bound by :func:`qcomp.ir.values.bind_values`: a float64 (B, n) array and whether
    the file held a batch of rows.

    * ``.npy``: a flat row or (B, n) rows. ``.npz``: one array (``arr_0``, ``params``, ``inputs`` or
      ``x``), or arrays by declaration name; a ``qcomp train --save`` checkpoint gives its params.
      Never unpickled.
    * ``.json``: a list of numbers (one row), a list of rows (lists, or objects by name), or an
      object by declaration or element name; for params ``{"params": ...}`` too.
    * ``.csv``: rows of numbers (:func:`read_csv_numbers`); a header naming every column as an
      element (``x[1],x[0]``) maps the columns by name, a header naming none is a row of labels
      (columns by position), and one naming only some is refused.

    For a single scalar input a flat list of several values is a column of samples. Every
    mistake is an :class:`~qcomp.errors.InputError` naming the file.
    """
    label = "params" if kind == "param" else "inputs"
    p = Path(path)
    if not p.is_file():
        raise InputError(f"cannot read {label} file '{path}': no such file")
    suffix = p.suffix.lower()
    data: object
    if suffix in (".npy", ".npz"):
        data = read_numpy(p, what=label, checkpoint_params=kind == "param")
        if isinstance(data, dict) and len(data) == 1 and next(iter(data)) in _SINGLE_ARRAY_NAMES \
                and next(iter(data)) not in {d.name for d in decls}:
            data = next(iter(data.values()))
    elif suffix == ".json":
        data = read_json(p)
        if kind == "param" and isinstance(data, dict) and isinstance(data.get("params"), (list, dict)) \
                and "params" not in {d.name for d in decls}:
            data = data["params"]  # e.g. {"params": [...], "loss": ...}
        if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
            return _bind_rows(path, data, decls, kind), True
        if not isinstance(data, (dict, list, int, float)) or isinstance(data, bool):
            raise InputError(f"{path}: expected a list of rows, one row, or an object by {kind} name")
    elif suffix == ".csv":
        header, rows = read_csv_numbers(p, what=label)
        data = np.array(rows, dtype=float).reshape(len(rows), -1 if rows else 0)
        if header is not None:
            names = set(element_names(decls))
            known = [c in names for c in header]
            if all(known):
                data = {c: data[:, j] for j, c in enumerate(header)}
            elif any(known):
                bad = [c for c, k in zip(header, known) if not k]
                raise InputError(f"{path}: header names {label} but also {', '.join(repr(b) for b in bad[:3])}, which the "
                                 f"model does not declare ({label}: {', '.join(sorted(names)[:6])}...)")
    else:
        raise InputError(f"{label} file '{path}' must be .npy, .npz, .json or .csv")
    if not isinstance(data, dict):
        total = sum(d.size for d in decls)
        shape = np.shape(data) if isinstance(data, np.ndarray) else None
        if shape is not None and len(shape) == 2 and shape[0] == 0:
            raise InputError(f"{path}: no {kind} rows")
        if kind == "input" and total == 1 and decls[0].scalar and np.ndim(data) == 1 and np.size(data) > 1:
            data = {decls[0].name: data}  # a single column: one value per sample
    try:
        return bind_values(decls, data, kind)
    except InputError as exc:
        raise InputError(f"{path}: {exc.message}") from None


def _bind_rows(path, rows: list, decls: Sequence[ValueDecl], kind: str) -> np.ndarray:
    """JSON rows, each an object by name, bound one by one (errors name the row)."""
    out = []
    for i, r in enumerate(rows):
        try:
            arr, _ = bind_values(decls, r, kind)
        except InputError as exc:
            raise InputError(f"{path}: row {i}: {exc.message}") from None
        if arr.shape[0] != 1:
            raise InputError(f"{path}: row {i}: one row per object, got {arr.shape[0]}")
        out.append(arr[0])
    return np.stack(out)


__all__ = ["read_values_file"]
