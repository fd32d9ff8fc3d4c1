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


# a block on consecutive qubits q0..q0+k-1 is one BLAS product when its index is the innermost
# one (q0 == 0) or the contiguous runs below it are long enough (q0 >= this); below, the stacked
# tiny products cost more than the slice form (measured on 2**16-element pieces)
MATMUL_MIN_LOW_QUBIT = 2
# blocks entirely below this qubit are widened to qubits 0.. (identity on the others) and become
# one product over the innermost index (0.15 ms instead of 1-3 ms for a block on qubits 1, 2)
WIDEN_BELOW = 5


def dense_mode(qubits: Sequence[int]) -> str:
    """How a dense block on ``qubits`` (sorted) is applied: "wide", "matmul" or "slices"."""
    q0 = qubits[0]
    if qubits[-1] < WIDEN_BELOW:
        return "wide"
    if list(qubits) == list(range(q0, q0 + len(qubits))) and (q0 == 0 or q0 >= MATMUL_MIN_LOW_QUBIT):
        return "matmul"
    return "slices"


def apply_dense_matmul(X: np.ndarray, Y: np.ndarray, qubits: Sequence[int], m: np.ndarray) -> None:
    """Y = (block matrix m on consecutive ``qubits``) X as matrix products; m is (1|B, d, d) with
    local bit i = qubits[i] (so the local index is the state's index bits q0..q0+k-1)."""
    B = X.shape[0]
    k = len(qubits)
    d = 2**k
    q0 = qubits[0]
    m = m.astype(X.dtype, copy=False)
    if q0 == 0:
        xs, ys = X.reshape(B, -1, d), Y.reshape(B, -1, d)
        np.matmul(xs, np.swapaxes(m, 1, 2), out=ys)
        return
    xs, ys = X.reshape(B, -1, d, 2**q0), Y.reshape(B, -1, d, 2**q0)
    np.matmul(m[:, None], xs, out=ys)


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


def apply_pauli(X: np.ndarray, n: int, paulis: Sequence[tuple[int, str]], out: np.ndarray | None = None,
                scale: np.ndarray | None = None) -> np.ndarray:
    """P X for a Pauli word ((qubit, "X"|"Y"|"Z"), ...) on a (B, 2**n) state, in one pass;
    with ``scale`` (real, shape (1|B,)) each row is also multiplied by its factor in that pass."""
    B = X.shape[0]
    t = X.reshape((B,) + (2,) * n)
    flips = [1 + (n - 1 - q) for q, p in paulis if p in "XY"]
    src = np.flip(t, axis=flips) if flips else t
    phased = [(q, p) for q, p in paulis if p in "YZ"]
    res = np.empty_like(X) if out is None else out
    rt = res.reshape(t.shape)
    if not phased and scale is None:
        np.copyto(rt, src)
        return res
    factor = np.ones((1,) + (1,) * n)
    for q, p in phased:
        f = _Y_FACTOR if p == "Y" else _Z_FACTOR
        shape = [1] * (n + 1)
        shape[1 + (n - 1 - q)] = 2
        factor = factor * f.reshape(shape)
    if scale is not None:
        factor = factor * np.asarray(scale, dtype=float).reshape((-1,) + (1,) * n)
    np.multiply(src, factor.astype(X.real.dtype if factor.dtype.kind == "f" else X.dtype), out=rt)
    return res


def pauli_sum_apply(X: np.ndarray, n: int, terms, coeffs: np.ndarray) -> np.ndarray:
    """sum_t coeffs[:, t] * P_t X; coeffs (B|1, T) real per row."""
    if len(terms) == 1 and terms[0].paulis:
        # one term (a typical classifier readout): one pass, no accumulator
        return apply_pauli(X, n, terms[0].paulis, scale=coeffs[:, 0])
    acc = np.zeros_like(X)
    buf = np.empty_like(X)
    for t, term in enumerate(terms):
        if not term.paulis:
            acc += coeffs[:, t].astype(X.real.dtype)[:, None] * X
            continue
        acc += apply_pauli(X, n, term.paulis, out=buf, scale=coeffs[:, t])
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
    # a few one-qubit Z terms read the two halves of the state directly; many (a sum of Z over
    # all qubits) share one |X|^2 array instead
    z_terms = sum(1 for obs in observables for t in obs.terms if all(p == "Z" for _, p in t.paulis) and t.paulis)
    fast_z = z_terms <= 2
    for k, obs in enumerate(observables):
        for term in obs.terms:
            if not term.paulis:
                out[:, k] += term.coeff * _norms(X)
                continue
            if len(term.paulis) == 1 and (term.paulis[0][1] == "X" or (term.paulis[0][1] == "Z" and fast_z)):
                # one pass over the two halves of the float view, no |X|^2 temporary
                q, p = term.paulis[0]
                v = X.view(X.real.dtype).reshape(B, 2 ** (n - 1 - q), 2, 2 ** (q + 1))
                h0, h1 = v[:, :, 0, :], v[:, :, 1, :]
                if p == "X":
                    val = 2.0 * np.einsum("bij,bij->b", h0, h1, dtype=np.float64)
                else:
                    val = np.einsum("bij,bij->b", h0, h0, dtype=np.float64) - np.einsum("bij,bij->b", h1, h1, dtype=np.float64)
                out[:, k] += term.coeff * val
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


# -- Pauli rotations exp(-i t P / 2): U X = cos(t/2) X - i sin(t/2) P X -------------------------
# P X is a reversed view of X (flipped qubit axes) times a per-axis sign/phase pattern, so a
# rotation is one complex multiply pass plus two cheap real passes, with no gather or matrix.

class PauliView:
    """Strided views of a (B, 2**n) block for the Pauli word ``paulis`` ((qubit, "X"|"Y"|"Z"), ...)."""

    def __init__(self, n: int, paulis: Sequence[tuple[int, str]]):
        self.n = n
        self.paulis = tuple(paulis)
        qs = sorted(q for q, _ in self.paulis)
        self.shape, axes = compact_shape(n, qs)
        ax = dict(zip(qs, axes))
        idx: list = [slice(None)] * (len(self.shape) + 1)
        fshape = [1] * (len(self.shape) + 1)
        factor = np.ones(fshape, dtype=complex)
        for q, p in self.paulis:
            if p in "XY":
                idx[ax[q]] = slice(None, None, -1)
            if p in "YZ":
                s = list(fshape)
                s[ax[q]] = 2
                factor = factor * (_Y_FACTOR if p == "Y" else _Z_FACTOR).astype(complex).reshape(s)
        self.flip = tuple(idx)
        self.factor = factor  # (1, 1|2, ...): (P X)[x] = factor[x] * X[flip(x)]
        self.real = bool(np.all(factor.imag == 0))

    def view(self, X: np.ndarray) -> np.ndarray:
        return X.reshape((X.shape[0],) + self.shape)

    def coef(self, z: np.ndarray, dtype) -> np.ndarray:
        """z (Bm,) complex times the phase pattern, shaped to broadcast against the view."""
        return (z.reshape((-1,) + (1,) * len(self.shape)) * self.factor).astype(dtype)


def _rowcol(v: np.ndarray, real_dtype) -> np.ndarray | float:
    return float(v[0]) if v.shape[0] == 1 else v.astype(real_dtype)[:, None]


def _real(X: np.ndarray) -> np.ndarray:
    return X.view(X.real.dtype).reshape(X.shape[0], -1)


# the deferred form divides by cos(t/2); beyond this |cos| it falls back to the scaled form
DEFER_MIN_COS = 0.25


def apply_pauli_rotation(X: np.ndarray, Y: np.ndarray, pv: PauliView, t: np.ndarray,
                         deferred: bool = False) -> np.ndarray | None:
    """Y = exp(-i t P / 2) X for angles t (1|B,); X is used as scratch (scaled in place).

    With ``deferred``, Y = (X - i tan(t/2) P X) in two passes instead of three and the factor
    cos(t/2) (shape (1|B,)) is returned for the caller to apply later; None when it was applied.
    """
    rd = X.real.dtype
    c = np.cos(0.5 * t)
    s = np.sin(0.5 * t)
    if deferred and np.all(np.abs(c) >= DEFER_MIN_COS):
        np.multiply(pv.view(X)[pv.flip], pv.coef(-1j * (s / c), X.dtype), out=pv.view(Y))
        Yr = _real(Y)
        np.add(Yr, _real(X), out=Yr)
        return c
    np.multiply(pv.view(X)[pv.flip], pv.coef(-1j * s, X.dtype), out=pv.view(Y))
    Xr, Yr = _real(X), _real(Y)
    np.multiply(Xr, _rowcol(c, rd), out=Xr)
    np.add(Yr, Xr, out=Yr)
    return None


def scale_rows(X: np.ndarray, f: np.ndarray) -> None:
    """X[b] *= f[b] (real factors, shape (1|B,)), in place."""
    Xr = _real(X)
    np.multiply(Xr, _rowcol(f, Xr.dtype), out=Xr)


def pauli_rotation_adjoint_step(psi: np.ndarray, lam: np.ndarray, tmp: np.ndarray, pv: PauliView,
                                t: np.ndarray, deferred: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """One adjoint step through U = exp(-i t P / 2).

    ``psi`` and ``lam`` are the state and cotangent state after U. Returns (g, c): per-row
    g = d/dt 2 Re <lam|U|psi_before> = Im <lam|P psi> (shape (B,)), and replaces psi and lam
    in place by U^dagger psi and U^dagger lam (``tmp`` is scratch of the same shape).
    With ``deferred`` both are left divided by c = cos(t/2) (returned; None when applied), which
    saves three of eight passes.
    """
    rd = psi.real.dtype
    c = np.cos(0.5 * t)
    s = np.sin(0.5 * t)
    Lr, Tr, Pr = _real(lam), _real(tmp), _real(psi)
    if deferred and np.all(np.abs(c) >= DEFER_MIN_COS) and np.all(np.abs(s) >= 1e-3):
        # tmp = i tan P psi: psi + tmp = U^dagger psi / c, and Re <lam|tmp> = -tan Im <lam|P psi>
        tn = s / c
        cf = pv.coef(1j * tn, psi.dtype)
        np.multiply(pv.view(psi)[pv.flip], cf, out=pv.view(tmp))
        g = -np.einsum("bi,bi->b", Lr, Tr) / tn
        np.add(Pr, Tr, out=Pr)
        np.multiply(pv.view(lam)[pv.flip], pv.coef(1j * tn, lam.dtype), out=pv.view(tmp))
        np.add(Lr, Tr, out=Lr)
        return g, c
    one = np.ones(1)
    # tmp = -i P psi, so Im <lam|P psi> = Re <lam|tmp>, a real dot product of the float views
    np.multiply(pv.view(psi)[pv.flip], pv.coef(-1j * one, psi.dtype), out=pv.view(tmp))
    g = np.einsum("bi,bi->b", Lr, Tr)
    # U^dagger psi = c psi + i s P psi = c psi - s tmp
    np.multiply(Pr, _rowcol(c, rd), out=Pr)
    np.multiply(Tr, _rowcol(-s, rd), out=Tr)
    np.add(Pr, Tr, out=Pr)
    # U^dagger lam = c lam + i s P lam
    np.multiply(pv.view(lam)[pv.flip], pv.coef(1j * s, lam.dtype), out=pv.view(tmp))
    np.multiply(Lr, _rowcol(c, rd), out=Lr)
    np.add(Lr, Tr, out=Lr)
    return g, None


# -- Hadamard transforms on a set of qubits -------------------------------------------------------
# H is real, so H on k consecutive qubits is one real matrix product over the float view of the
# state (re and im ride along as an extra column): BLAS instead of one numpy pass per qubit.

WHT_CHUNK_QUBITS = 4
_H1 = np.array([[1.0, 1.0], [1.0, -1.0]]) / np.sqrt(2.0)


class WhtView:
    """H on each of ``qubits`` of an n-qubit state, as chunks of at most ``chunk`` consecutive
    qubits (qubits between two targets of a chunk get the identity)."""

    def __init__(self, n: int, qubits: Sequence[int], chunk: int = WHT_CHUNK_QUBITS):
        self.n = n
        self.qubits = tuple(sorted(qubits))
        self.chunks: list[tuple[int, int, dict]] = []
        qs = list(self.qubits)
        while qs:
            q0 = qs[0]
            inside = [q for q in qs if q < q0 + chunk]
            k = inside[-1] - q0 + 1
            m = np.ones((1, 1))
            for q in range(q0 + k - 1, q0 - 1, -1):  # most significant first
                m = np.kron(m, _H1 if q in inside else np.eye(2))
            self.chunks.append((q0, k, {np.dtype(np.float64): m}))
            qs = qs[len(inside):]

    def _mat(self, mats: dict, dtype: np.dtype, q0: int) -> np.ndarray:
        key = (dtype, q0 == 0)
        if key not in mats:
            m = mats[np.dtype(np.float64)]
            # the lowest chunk multiplies from the right with the re/im pair folded into the matrix
            mats[key] = np.ascontiguousarray((np.kron(m, np.eye(2)).T if q0 == 0 else m).astype(dtype))
        return mats[key]

    def apply(self, X: np.ndarray, Y: np.ndarray) -> bool:
        """Apply to X with Y as the other buffer; True when the result ends in Y."""
        rd = X.real.dtype
        B = X.shape[0]
        src, dst = X.view(rd).reshape(B, -1), Y.view(rd).reshape(B, -1)
        for q0, k, mats in self.chunks:
            m = self._mat(mats, rd, q0)
            if q0 == 0:
                np.matmul(src.reshape(-1, 2 ** (k + 1)), m, out=dst.reshape(-1, 2 ** (k + 1)))
            else:
                shape = (-1, 2**k, 2 ** (q0 + 1))
                np.matmul(m, src.reshape(shape), out=dst.reshape(shape))
            src, dst = dst, src
        return len(self.chunks) % 2 == 1


def bit_walsh(A: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Walsh coefficients of a real (B, 2**m) array at every one-bit mask and the total:
    (W (B, m) with W[:, q] = sum_x A[x] (-1)**bit_q(x), total (B,)). About two passes: each
    level sums the two halves of the top bit and folds them for the bits below."""
    B = A.shape[0]
    out = np.empty((B, m))
    S = A
    for q in range(m - 1, -1, -1):
        v = S.reshape(B, 2, -1)
        out[:, q] = v[:, 0].sum(axis=1, dtype=np.float64) - v[:, 1].sum(axis=1, dtype=np.float64)
        S = v[:, 0] + v[:, 1]
    return out, S.reshape(B).astype(np.float64)


def walsh_coefficients(A: np.ndarray, n: int, masks: Sequence[tuple[int, ...]]) -> dict[tuple[int, ...], np.ndarray]:
    """sum_x A[x] (-1)**(x_i + x_j + ...) for masks of at most two qubits, (B,) each.

    One-bit masks and the empty mask come from one :func:`bit_walsh`; two-qubit masks are grouped
    under anchor qubits (a greedy vertex cover of the pairs): fold the anchor with a sign, then
    the other bits' one-bit coefficients of that half-size array. A layer whose pairs share one
    qubit (the QNN's readout) costs about three passes over A whatever its number of terms."""
    B = A.shape[0]
    out: dict[tuple[int, ...], np.ndarray] = {}
    singles = [m for m in masks if len(m) <= 1]
    if singles:
        W, total = bit_walsh(A, n)
        out[()] = total
        for m in singles:
            if m:
                out[m] = W[:, m[0]]
    pairs = {tuple(sorted(m)) for m in masks if len(m) == 2}
    assert all(len(m) <= 2 for m in masks)
    while pairs:
        degree: dict[int, int] = {}
        for a, b in pairs:
            degree[a] = degree.get(a, 0) + 1
            degree[b] = degree.get(b, 0) + 1
        anchor = max(sorted(degree), key=lambda q: degree[q])
        mine = [p for p in pairs if anchor in p]
        v = A.reshape(B, 2 ** (n - 1 - anchor), 2, 2**anchor)
        D = v[:, :, 0, :] - v[:, :, 1, :]  # bits above the anchor move down by one
        W, _ = bit_walsh(D.reshape(B, -1), n - 1)
        for p in mine:
            other = p[0] if p[1] == anchor else p[1]
            out[p] = W[:, other if other < anchor else other - 1]
        pairs -= set(mine)
    return out

