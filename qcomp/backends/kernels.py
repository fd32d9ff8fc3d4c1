"""State-vector kernels on batched states (B, 2**n): dense block products over strided views, phases, Paulis."""

from __future__ import annotations

import os
from typing import Sequence

import numexpr as ne
import numpy as np

# numexpr pays for its ~0.1 ms call overhead and threads only on large arrays (peer measurements);
# below this many elements per operand numpy's in-cache ufuncs win.
NUMEXPR_MIN_ELEMENTS = 1 << 19


def default_threads() -> int:
    """Thread count: QCOMP_NUM_THREADS, else all cores."""
    env = os.environ.get("QCOMP_NUM_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    return os.cpu_count() or 1


def set_threads(threads: int | None) -> int:
    n = threads if threads else default_threads()
    ne.set_num_threads(n)
    return n


def compact_shape(n: int, qubits: Sequence[int]) -> tuple[tuple[int, ...], list[int]]:
    """Shape of a (B, 2**n) row block exposing ``qubits`` as size-2 axes, and those axes.

    Returns (shape without the batch axis, axis index of each qubit in ``sorted(qubits)`` order).
    """
    qs = sorted(qubits, reverse=True)  # high qubit = earlier axis
    shape: list[int] = []
    prev = n
    axes_desc: list[int] = []
    for q in qs:
        shape.append(2 ** (prev - 1 - q))
        axes_desc.append(len(shape))
        shape.append(2)
        prev = q
    shape.append(2**prev)
    # axes are 1-based because axis 0 is the batch
    ax = {q: a + 1 for q, a in zip(qs, axes_desc)}
    return tuple(shape), [ax[q] for q in sorted(qubits)]


class BlockView:
    """Slices of a state block for a set of qubits: ``slice(X, j)`` is the part where
    local index j (bit i = value of sorted(qubits)[i]) is fixed."""

    def __init__(self, n: int, qubits: Sequence[int]):
        self.n = n
        self.qubits = tuple(sorted(qubits))
        self.k = len(self.qubits)
        self.d = 2**self.k
        self.shape, self.axes = compact_shape(n, self.qubits)
        self.index: list[tuple] = []
        for j in range(self.d):
            idx: list = [slice(None)] * (len(self.shape) + 1)
            for i, a in enumerate(self.axes):
                idx[a] = (j >> i) & 1
            self.index.append(tuple(idx))

    def view(self, X: np.ndarray) -> np.ndarray:
        return X.reshape((X.shape[0],) + self.shape)

    def slices(self, X: np.ndarray) -> list[np.ndarray]:
        v = self.view(X)
        return [v[ix] for ix in self.index]

    def gather(self, X: np.ndarray) -> np.ndarray:
        """(B, R, d) copy with the block index last (for contractions)."""
        v = self.view(X)
        order = [0] + [a for a in range(1, v.ndim) if a not in self.axes] + list(reversed(self.axes))
        return np.ascontiguousarray(v.transpose(order)).reshape(X.shape[0], -1, self.d)


def _coef_for(m: np.ndarray, i: int, j: int, ndim: int, dtype) -> object:
    """Coefficient m[:, i, j] shaped to broadcast against a slice of ndim dims (batch first)."""
    c = m[:, i, j]
    if c.shape[0] == 1:
        return dtype.type(c[0])
    return c.astype(dtype).reshape((-1,) + (1,) * (ndim - 1))


_NZ_CACHE: dict[bytes, list[list[int]]] = {}


def _nonzeros(mask: np.ndarray) -> list[list[int]]:
    key = mask.tobytes() + bytes([mask.shape[0] & 255])
    nz = _NZ_CACHE.get(key)
    if nz is None:
        nz = _NZ_CACHE[key] = [np.flatnonzero(r).tolist() for r in mask]
    return nz


def apply_dense(X: np.ndarray, Y: np.ndarray, bv: BlockView, m: np.ndarray, mask: np.ndarray) -> None:
    """Y = (block matrix m on bv.qubits) X. m is (1|B, d, d); mask (d, d) marks structural nonzeros."""
    dtype = X.dtype
    xs = bv.slices(X)
    ys = bv.slices(Y)
    nd = xs[0].ndim
    big = xs[0].size >= NUMEXPR_MIN_ELEMENTS and dtype == np.complex128
    tmp = None
    rows_nz = _nonzeros(mask)
    for i in range(bv.d):
        js = rows_nz[i]
        coefs = [_coef_for(m, i, j, nd, dtype) for j in js]
        if big and len(js) > 1:
            names = {f"s{t}": xs[j] for t, j in enumerate(js)}
            names.update({f"c{t}": c for t, c in enumerate(coefs)})
            expr = " + ".join(f"c{t} * s{t}" for t in range(len(js)))
            ne.evaluate(expr, local_dict=names, out=ys[i], casting="unsafe")
            continue
        y = ys[i]
        j0 = js[0]
        if np.ndim(coefs[0]) == 0 and coefs[0] == 1:
            np.copyto(y, xs[j0])
        else:
            np.multiply(xs[j0], coefs[0], out=y)
        for j, c in zip(js[1:], coefs[1:]):
            if tmp is None:
                tmp = np.empty_like(y)
            np.multiply(xs[j], c, out=tmp)
            np.add(y, tmp, out=y)


def permutation_of(m: np.ndarray) -> list[int] | None:
    """p with m[i, p[i]] == 1 and zeros elsewhere (a pure permutation matrix), else None."""
    d = m.shape[0]
    p = np.argmax(np.abs(m), axis=1)
    ideal = np.zeros_like(m)
    ideal[np.arange(d), p] = 1
    if len(set(p.tolist())) != d or not np.allclose(m, ideal, rtol=0, atol=1e-14):
        return None
    return [int(v) for v in p]


def apply_permutation(X: np.ndarray, bv: BlockView, perm: Sequence[int]) -> None:
    """In place: new slice i = old slice perm[i], by cycles (one temporary per cycle)."""
    xs = bv.slices(X)
    seen = [False] * bv.d
    for start in range(bv.d):
        if seen[start] or perm[start] == start:
            seen[start] = True
            continue
        tmp = xs[start].copy()
        i = start
        while True:
            seen[i] = True
            j = perm[i]
            if j == start:
                np.copyto(xs[i], tmp)
                break
            np.copyto(xs[i], xs[j])
            i = j


def apply_phase(X: np.ndarray, n: int, phase: np.ndarray) -> None:
    """X *= phase in place; phase broadcasts against the (B, 2, ..., 2) tensor view of X."""
    t = X.reshape((X.shape[0],) + (2,) * n)
    if t.size >= NUMEXPR_MIN_ELEMENTS and X.dtype == np.complex128 and phase.shape[0] == 1 and phase.size == t.size // t.shape[0]:
        ne.evaluate("t * p", local_dict={"t": t, "p": phase}, out=t, casting="unsafe")
    else:
        np.multiply(t, phase, out=t)


def embed(arr: np.ndarray, qubits: Sequence[int], n: int) -> np.ndarray:
    """Place a (Bm, 2**k) array over ``qubits`` (argument order: first = msb) into a
    (Bm, 1|2, ..., 1|2) array that broadcasts against the (B, 2, ..., 2) state tensor."""
    k = len(qubits)
    Bm = arr.shape[0]
    t = arr.reshape((Bm,) + (2,) * k)
    # state axis of qubit q is 1 + (n - 1 - q); sort the op axes by state axis
    order = sorted(range(k), key=lambda i: n - 1 - qubits[i])
    t = t.transpose([0] + [1 + i for i in order])
    shape = [Bm] + [1] * n
    for q in qubits:
        shape[1 + (n - 1 - q)] = 2
    return t.reshape(shape)


def marginal(T: np.ndarray, qubits: Sequence[int], n: int) -> np.ndarray:
    """Sum a (B, 2**n) real/complex array over all qubits but ``qubits``; result (B, 2**k),
    result bit j = qubits[j]."""
    B = T.shape[0]
    t = T.reshape((B,) + (2,) * n)
    keep = [1 + (n - 1 - q) for q in qubits]
    drop = tuple(a for a in range(1, n + 1) if a not in keep)
    if drop:
        t = t.sum(axis=drop)
    remaining = sorted(keep)
    order = [remaining.index(a) + 1 for a in reversed(keep)]
    return np.transpose(t, [0] + order).reshape(B, -1)


_Y_FACTOR = np.array([-1j, 1j])
_Z_FACTOR = np.array([1.0, -1.0])


def apply_pauli(X: np.ndarray, n: int, paulis: Sequence[tuple[int, str]], out: np.ndarray | None = None) -> np.ndarray:
    """P X for a Pauli word ((qubit, "X"|"Y"|"Z"), ...) on a (B, 2**n) state, in one pass."""
    B = X.shape[0]
    t = X.reshape((B,) + (2,) * n)
    flips = [1 + (n - 1 - q) for q, p in paulis if p in "XY"]
    src = np.flip(t, axis=flips) if flips else t
    phased = [(q, p) for q, p in paulis if p in "YZ"]
    res = np.empty_like(X) if out is None else out
    rt = res.reshape(t.shape)
    if not phased:
        np.copyto(rt, src)
        return res
    factor = np.ones((1,) + (1,) * n, dtype=complex)
    for q, p in phased:
        f = (_Y_FACTOR if p == "Y" else _Z_FACTOR).astype(complex)
        shape = [1] * (n + 1)
        shape[1 + (n - 1 - q)] = 2
        factor = factor * f.reshape(shape)
    if all(p == "Z" for _, p in phased):
        factor = factor.real
    np.multiply(src, factor.astype(X.real.dtype if factor.dtype.kind == "f" else X.dtype), out=rt)
    return res


def pauli_sum_apply(X: np.ndarray, n: int, terms, coeffs: np.ndarray) -> np.ndarray:
    """sum_t coeffs[:, t] * P_t X; coeffs (B|1, T) real per row."""
    acc = np.zeros_like(X)
    buf = np.empty_like(X)
    for t, term in enumerate(terms):
        c = coeffs[:, t].astype(X.real.dtype)[:, None]
        if not term.paulis:
            acc += c * X
            continue
        apply_pauli(X, n, term.paulis, out=buf)
        buf *= c
        acc += buf
    return acc


def probabilities(X: np.ndarray) -> np.ndarray:
    """|X|**2 as a real array."""
    return np.square(X.real) + np.square(X.imag)


def expval_terms(X: np.ndarray, n: int, observables, probs: np.ndarray | None = None) -> np.ndarray:
    """Expectation values (B, n_obs) of real Pauli sums; Z-only terms use marginal probabilities."""
    B = X.shape[0]
    out = np.zeros((B, len(observables)))
    marg_cache: dict[tuple[int, ...], np.ndarray] = {}
    buf = None
    for k, obs in enumerate(observables):
        for term in obs.terms:
            if not term.paulis:
                out[:, k] += term.coeff * _norms(X)
                continue
            if all(p == "Z" for _, p in term.paulis):
                qs = tuple(q for q, _ in term.paulis)
                if qs not in marg_cache:
                    if probs is None:
                        probs = probabilities(X)
                    marg_cache[qs] = marginal(probs, qs, n)
                m = marg_cache[qs]
                idx = np.arange(m.shape[1])
                sign = 1.0 - 2.0 * (np.array([bin(i).count("1") for i in idx]) & 1)
                out[:, k] += term.coeff * (m @ sign)
            else:
                if buf is None:
                    buf = np.empty_like(X)
                apply_pauli(X, n, term.paulis, out=buf)
                out[:, k] += term.coeff * np.einsum("bi,bi->b", X.conj(), buf).real
    return out


def _norms(X: np.ndarray) -> np.ndarray:
    return np.einsum("bi,bi->b", X.conj(), X).real
