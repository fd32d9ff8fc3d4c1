"""Binding user values to a program's param or input declarations: one set of forms, one set of messages.

Accepted forms of a value for declarations ``decls`` (``n`` flat elements in declaration order):

* a flat vector of ``n`` numbers (a 0-d number when ``n == 1``): one row shared by every sample;
* a ``(B, n)`` array: a batch of ``B >= 1`` rows;
* a mapping by declaration name: ``{"w": [...], "theta": 0.3}``; an array declaration takes ``(size,)``
  (one row) or ``(B, size)``, a scalar one a number or a ``(B,)`` column;
* a mapping by element name: ``{"w[0]": 0.1, "w[1]": 0.2}`` (each a number or a ``(B,)`` column),
  which may be mixed with declaration names as long as no element is given twice;
* ``None`` for declarations with no elements.

Parts of one mapping broadcast against each other (a single row against a batch), and so do the
params and inputs of one call (:func:`bind_pair`).

The shape rule of every result (as in PennyLane's parameter broadcasting and Qiskit's primitives):
a result has a leading batch axis if and only if some argument of the call was given as a batch
(a ``(B, n)`` array, even with ``B == 1``, or batched mapping entries); :func:`batch_shaped` applies
it. A derivative with respect to params has the shape of the params given. Values must be real numbers: strings, complex
numbers, ragged lists and tensors that require grad are refused, and so are NaN and infinities.
Every refusal is an :class:`~qcomp.errors.InputError` that says what was expected and what was given.
"""

from __future__ import annotations

import difflib
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..errors import InputError
from .ops import ValueDecl

__all__ = ["as_real_array", "batch_shaped", "bind_pair", "bind_values", "check_cotangent", "check_qubits", "select_qubits", "decl_text", "decls_from_json", "element_names"]

_LABEL = {"param": "params", "input": "inputs"}


def _label(kind: str) -> str:
    return _LABEL.get(kind, kind + "s")


def element_names(decls: Sequence[ValueDecl]) -> list[str]:
    """Flat element names (``w[0]``, ``theta``) in declaration order."""
    return [d.element_name(i) for d in decls for i in range(d.size)]


def decl_text(decls: Sequence[ValueDecl]) -> str:
    """The declarations as the user wrote them: ``w[9], theta`` (``none`` when there are none)."""
    return ", ".join(d.name if d.scalar else f"{d.name}[{d.size}]" for d in decls) or "none"


def decls_from_json(items: Sequence[Mapping[str, Any]], kind: str) -> list[ValueDecl]:
    """Declarations from a manifest's ``{"name", "size", "scalar"}`` entries."""
    out, offset = [], 0
    for d in items:
        out.append(ValueDecl(kind, str(d["name"]), int(d["size"]), offset, bool(d.get("scalar", False))))
        offset += int(d["size"])
    return out


def as_real_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a float64 array, or an InputError naming ``what`` (a string, None, a ragged
    list, complex numbers, a tensor numpy cannot read)."""
    verb = "have" if what.endswith("s") and " " not in what else "has"
    if value is None or isinstance(value, (str, bytes)):
        raise InputError(f"{what} must be numbers, got {type(value).__name__}")
    if getattr(value, "requires_grad", False):
        # numpy cannot read a torch tensor in an autograd graph; qcomp.torch differentiates
        raise InputError(f"{what} {'are' if verb == 'have' else 'is'} a torch tensor that requires grad; pass "
                         f"tensor.detach() or use qcomp.torch to differentiate through the simulation")
    try:
        a = np.asarray(value)
        if a.dtype.kind == "c":
            # a cast to float would drop the imaginary parts with only a ComplexWarning
            raise InputError(f"{what} {verb} complex values; qcomp takes real values")
        if a.dtype.kind in "USV":
            raise InputError(f"{what} must be numbers, got an array of {a.dtype}")
        if a.dtype.kind not in "biuf":
            a = a.astype(float)  # object arrays of Python numbers; strings and None fail here
        return np.asarray(a, dtype=np.float64)
    except (InputError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to read an argument is the caller's mistake
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "inhomogeneous" in detail:
            detail = "its rows have different lengths"
        raise InputError(f"{what} must be a real number or an array of real numbers ({detail})") from None


def _missing(decls: Sequence[ValueDecl], kind: str) -> InputError:
    total = sum(d.size for d in decls)
    return InputError(f"missing {_label(kind)}: the program declares {total} {kind}{'' if total == 1 else 's'} "
                      f"({decl_text(decls)})")


def bind_values(decls: Sequence[ValueDecl], value: Any, kind: str = "param",
                allow_none: bool = False) -> tuple[np.ndarray, bool]:
    """``value`` (any form of the module docstring) as a float64 ``(B, n)`` array, and whether it
    was given as a batch (a ``(B, n)`` array or batched mapping entries, even with ``B == 1``).

    ``None`` gives one row of zeros when there is nothing to bind or ``allow_none`` is set.
    """
    total = sum(d.size for d in decls)
    label = _label(kind)
    if value is None:
        if total == 0 or allow_none:
            return np.zeros((1, total)), False
        raise _missing(decls, kind)
    if isinstance(value, Mapping):
        arr, batched = _bind_mapping(decls, value, kind)
        return _check_finite(decls, kind, arr, batched), batched
    a = as_real_array(value, label)
    if a.ndim == 0 and total == 1:
        a = a.reshape(1)
    if a.ndim == 1:
        if a.shape[0] != total:
            n = a.shape[0]
            raise InputError(f"{label} have {n} value{'' if n == 1 else 's'}; the program declares {total} "
                             f"({decl_text(decls)})")
        return _check_finite(decls, kind, a[None, :], False), False
    if a.ndim == 2:
        if a.shape[1] != total:
            raise InputError(f"{label} have shape {a.shape}; expected (batch, {total}) ({decl_text(decls)})")
        if a.shape[0] == 0:
            raise InputError(f"{label} have an empty batch")
        return _check_finite(decls, kind, a, True), True
    raise InputError(f"{label} must be a 1-D or 2-D array, got shape {a.shape}")


def _bind_mapping(decls: Sequence[ValueDecl], value: Mapping, kind: str) -> tuple[np.ndarray, bool]:
    by_decl = {d.name: d for d in decls}
    by_element = {d.element_name(i): (d, i) for d in decls for i in range(d.size)}
    whole: dict[str, Any] = {}
    elements: dict[str, dict[int, tuple[str, Any]]] = {}
    for key, v in value.items():
        if not isinstance(key, str):
            raise InputError(f"{kind} names must be strings, got {key!r}")
        if key in by_decl:
            whole[key] = v
        elif key in by_element:
            d, i = by_element[key]
            elements.setdefault(d.name, {})[i] = (key, v)
        else:
            close = difflib.get_close_matches(key, list(by_decl) + list(by_element), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise InputError(f"unknown {kind} '{key}' (declared: {decl_text(decls)}){hint}")
    parts: list[np.ndarray] = []
    batched = False
    for d in decls:
        if d.name in whole:
            if d.name in elements:
                key = next(iter(elements[d.name].values()))[0]
                raise InputError(f"{kind} '{key}' is given twice: as '{key}' and within '{d.name}'")
            part, b = _decl_rows(d, whole[d.name], kind)
        elif d.name in elements:
            part, b = _element_rows(d, elements[d.name], kind, decls)
        else:
            raise InputError(f"missing {kind} '{d.name}' (declared: {decl_text(decls)})")
        batched = batched or b
        parts.append(part)
    if not parts:
        return np.zeros((1, 0)), False
    rows = _common_rows([(d.name, p.shape[0]) for d, p in zip(decls, parts)], kind)
    arr = np.concatenate([np.broadcast_to(p, (rows, p.shape[1])) for p in parts], axis=1)
    return arr, batched or rows > 1


def _decl_rows(d: ValueDecl, v: Any, kind: str) -> tuple[np.ndarray, bool]:
    """One declaration's value as (R, size) rows, and whether it was given as a batch."""
    a = as_real_array(v, f"{kind} '{d.name}'")
    if d.scalar and a.ndim == 0:
        return a.reshape(1, 1), False
    if a.ndim == 1 and a.shape[0] == d.size:
        return a[None, :], False
    if a.ndim == 1 and d.scalar and a.shape[0] > 0:
        return a[:, None], True
    if a.ndim == 2 and a.shape[1] == d.size and a.shape[0] > 0:
        return a, True
    expected = "a number or (batch,)" if d.scalar else f"({d.size},) or (batch, {d.size})"
    raise InputError(f"{kind} '{d.name}' has shape {a.shape}; expected {expected}")


def _element_rows(d: ValueDecl, given: dict[int, tuple[str, Any]], kind: str,
                  decls: Sequence[ValueDecl]) -> tuple[np.ndarray, bool]:
    missing = [i for i in range(d.size) if i not in given]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise InputError(f"missing {kind} '{d.element_name(missing[0])}'{more} (declared: {decl_text(decls)})")
    cols, batched = [], False
    for i in range(d.size):
        key, v = given[i]
        a = as_real_array(v, f"{kind} '{key}'")
        if a.ndim == 0 or (a.ndim == 1 and a.shape[0] == 1):
            cols.append(a.reshape(1))
        elif a.ndim == 1 and a.shape[0] > 1:
            cols.append(a)
            batched = True
        else:
            raise InputError(f"{kind} '{key}' has shape {a.shape}; expected a number or (batch,)")
    rows = _common_rows([(given[i][0], c.shape[0]) for i, c in enumerate(cols)], kind)
    return np.stack([np.broadcast_to(c, (rows,)) for c in cols], axis=1), batched


def _common_rows(counts: Sequence[tuple[str, int]], kind: str) -> int:
    rows = max((n for _, n in counts), default=1)
    for name, n in counts:
        if n not in (1, rows):
            other = next(o for o, m in counts if m == rows)
            raise InputError(f"{kind} '{name}' has {n} rows but {kind} '{other}' has {rows}; "
                             f"the batches must match or one must have a single row")
    return rows


def _check_finite(decls: Sequence[ValueDecl], kind: str, arr: np.ndarray, batched: bool) -> np.ndarray:
    bad = ~np.isfinite(arr)
    if bad.any():
        r, c = map(int, np.argwhere(bad)[0])
        what = "NaN" if np.isnan(arr[r, c]) else "infinite"
        where = f" of sample {r}" if batched else ""
        raise InputError(f"{kind} {element_names(decls)[c]}{where} is {what}; values must be finite numbers")
    return arr


def bind_pair(params_decls: Sequence[ValueDecl], inputs_decls: Sequence[ValueDecl], params: Any, inputs: Any,
              *, allow_none: bool = False) -> tuple[np.ndarray, np.ndarray, int, bool, bool]:
    """Params and inputs of one call bound and checked against each other: ``(P, X, B, pb, xb)``
    with P ``(Rp, n_params)`` and X ``(Rx, n_inputs)`` (each of ``Rp``, ``Rx`` is 1 or B, not
    broadcast), B the common batch and ``pb`` / ``xb`` whether each was given as a batch."""
    P, pb = bind_values(params_decls, params, "param", allow_none)
    X, xb = bind_values(inputs_decls, inputs, "input", allow_none)
    rp, rx = P.shape[0], X.shape[0]
    if rp != rx and 1 not in (rp, rx):
        raise InputError(f"params have {rp} rows but inputs have {rx}; "
                         f"the batches must match or one must have a single row")
    return P, X, max(rp, rx), pb, xb


def batch_shaped(rows: Any, batched: bool) -> Any:
    """Results computed per batch row (an array or a list whose first axis is the batch) shaped by
    the module's rule: as they are when some argument was ``batched``, else their one row."""
    return rows if batched else rows[0]


def check_qubits(qubits: Any) -> None:
    """Refuse a ``qubits=`` argument that is not a sequence of integers (a float would be truncated)."""
    if qubits is None:
        return
    if isinstance(qubits, (str, bytes, Mapping)) or not isinstance(qubits, Iterable):
        raise InputError(f"qubits must be a sequence of qubit indices, got {type(qubits).__name__}")
    for q in qubits:
        if not isinstance(q, (int, np.integer)) or isinstance(q, bool):
            raise InputError(f"qubits must be integers, got {q!r}")


def check_cotangent(cotangent: Any, rows: int, num_outputs: int) -> np.ndarray:
    """A VJP's cotangent as a finite float64 (rows, num_outputs) array (one flat row is accepted
    for an unbatched call), or an InputError saying what is wrong."""
    cot = as_real_array(cotangent, "cotangent")
    if cot.ndim == 1 and rows == 1:
        cot = cot[None]
    if cot.shape != (rows, num_outputs):
        raise InputError(f"cotangent has shape {cot.shape}; expected ({rows}, {num_outputs})")
    if not np.all(np.isfinite(cot)):
        raise InputError("cotangent contains NaN or infinite values")
    return cot


def select_qubits(qubits: Any, num_qubits: int, measured: Sequence[int] = ()) -> tuple[int, ...]:
    """The qubits a probs/sample call describes: ``qubits`` checked (integers, in range, distinct),
    or by default the measured qubits, or all."""
    check_qubits(qubits)
    if qubits is None:
        return tuple(measured) if measured else tuple(range(num_qubits))
    qs = tuple(int(q) for q in qubits)
    for q in qs:
        if not 0 <= q < num_qubits:
            raise InputError(f"qubit {q} is out of range for a {num_qubits}-qubit program")
    if len(set(qs)) != len(qs):
        raise InputError(f"repeated qubit in {list(qs)}")
    return qs
