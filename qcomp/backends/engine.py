"""The fused kernel engine for general circuits: gates fused into k-qubit blocks and run by numba kernels."""

from __future__ import annotations

import bisect
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Sequence

import numba
import numpy as np
from numba import njit
from numba.extending import overload

from ..errors import InputError
from ..ir.expr import CompiledExprs, Expr, intern_angles, param_derivatives
from ..ir.gates import GATES, MATRIX_FREQ  # MATRIX_FREQ: dU/dt = f/2 (U(t + pi/2f) - U(t - pi/2f))
from ..ir.ops import Operation

# Dense blocks hold at most this many qubits. Measured on the HEA and IQP benchmarks (2-core
# Zen4): 2-qubit blocks beat 3 and 4 (the extra flops of a larger block cost more than the
# state passes they save at these sizes, as qsim's own measurements found).
DENSE_QUBITS = 2
# Diagonal blocks cost one multiply per amplitude whatever their size: fuse up to this many qubits
DIAG_QUBITS = 10
# dense blocks wholly on qubits below this may grow to this many qubits in large states
LOW_QUBITS = 4
# diagonal blocks over ranges of at least DIAG_TILED amplitudes run in tiles of 2**p amplitudes,
# each lane with its own factor (vectorised; the per-amplitude lookup was a gather), p from
# DIAG_LANE_BITS up to DIAG_LANE_BITS_MAX while the factor table stays within 2**DIAG_TABLE_BITS
# and 1/64 of the range (1/16 at the smallest p); wider blocks look their factors up per amplitude, the low
# DIAG_LOW_BITS index bits' share from a table
DIAG_LOW_BITS = 12
DIAG_LANE_BITS = 4
DIAG_LANE_BITS_MAX = 12
DIAG_TABLE_BITS = 15
DIAG_TILED = 1 << 10
# States of more than log2(CHUNK_BYTES / itemsize) qubits are large: fused for flops, run one at
# a time with the threads splitting each pass, and cache-blocked: runs of blocks on qubits below
# log2(BLOCK_BYTES / itemsize) are applied chunk by chunk, so each chunk stays in cache while the
# whole run goes over it. BLOCK_BYTES is the per-core L2 cache where Linux reports it (measured on
# a 2-core Xeon with 2 MiB L2, random20 / HEA-20 / QFT-24 forward, two threads: 256 KiB 57 / 46 /
# 500 ms, 1 MiB 50 / 37 / 483, 2 MiB 46 / 37 / 484, 4 MiB 46 ms random20), within 256 KiB-4 MiB.
CHUNK_BYTES = 1 << 18
KMAX = max(DENSE_QUBITS, DIAG_QUBITS)
# a single gate on up to this many qubits runs as one block (block matrix 4**k entries: 16 MiB)
WIDE_QUBITS = 10
# large states relabel qubits so that dense two-qubit blocks act on bits >= RELABEL_DENSE and
# controlled or one-qubit blocks on bits >= RELABEL_CTL (``relabeling``)
RELABEL_DENSE = 5
RELABEL_CTL = 3
PERMUTE_SWAPS = 4
# contiguous runs at least this long go through the vectorised view kernels (_pair)
VEC_RUN = 8
# ... and _quad's (eight runs: its overlap checks cost more than they save below 64; measured
# at 20 qubits, 2 cores: q0 = 3, 4 were 1.2-1.4x slower as views, q0 = 6 0.7x in single precision)
VEC_RUN_QUAD = 64
# dense two-qubit blocks on a qubit q0 below 3 and one >= SPLIT_Q1 (q0 = 0) or SPLIT_Q1 + 1 deal
# tiles of up to SPLIT_TILE_BYTES per plane into lane arrays for _quad (tile and buffers stay in
# L1). Measured at 20 qubits, one thread: 2.5-2.6 ms -> 0.8 / 0.8 / 1.35 ms (q0 = 0 / 1 / 2,
# single) and 1.6 / 1.6 / 2.1 ms (double); shorter tiles gained nothing
SPLIT_Q1 = 8
SPLIT_TILE_BYTES = 4096
# states of at most this many qubits run block by block over all rows (run_rows_flat): measured
# (IQP + 10 layers, batch 32, loss + gradient) 0.65x / 0.73x / 0.92x / 0.93x the row-by-row time at
# 4 / 6 / 8 / 10 qubits
FLAT_QUBITS = 10
# amplitude updates below which a call runs on the calling thread (a hand-off to the workers
# costs 40-70 us on a 2-core VM)
PARALLEL_WORK = 1 << 18

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _pool(threads: int) -> ThreadPoolExecutor:
    with _POOLS_LOCK:
        if threads not in _POOLS:
            _POOLS[threads] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="qcomp-kernel")
        return _POOLS[threads]


class _Worker:
    """A kernel thread woken by a lock release: half the latency of an executor's queue and
    future (41 vs 66 us a round trip, measured), which a large state pays once per block run."""

    def __init__(self) -> None:
        self._go = threading.Lock()
        self._go.acquire()
        self._done = threading.Lock()
        self._done.acquire()
        self._fn = None
        self._error: BaseException | None = None
        threading.Thread(target=self._loop, name="qcomp-kernel", daemon=True).start()

    def _loop(self) -> None:
        while True:
            self._go.acquire()
            try:
                self._fn()
            except BaseException as exc:  # re-raised on the calling thread
                self._error = exc
            finally:
                self._fn = None
                self._done.release()

    def start(self, fn) -> None:
        self._fn = fn
        self._go.release()

    def wait(self) -> None:
        self._done.acquire()
        if self._error is not None:
            exc, self._error = self._error, None
            raise exc


_WORKERS: dict[int, tuple[threading.Lock, list[_Worker]]] = {}


def _parallel(fn, parts: int, threads: int, work: int) -> None:
    """fn(part, parts) for every part, on ``threads`` threads when the work is worth it.

    The kernels release the GIL, so these threads are the one owner of parallelism (BLAS and
    numexpr are not used by this engine). A caller that finds the workers busy (another Python
    thread running a simulation) uses the executor instead."""
    n = min(parts, threads) if work >= PARALLEL_WORK else 1
    if n <= 1:
        fn(0, 1)
        return
    with _POOLS_LOCK:
        if threads not in _WORKERS:
            _WORKERS[threads] = (threading.Lock(), [_Worker() for _ in range(threads - 1)])
        busy, workers = _WORKERS[threads]
    if not busy.acquire(blocking=False):
        futures = [_pool(threads).submit(fn, i, n) for i in range(1, n)]
        fn(0, n)
        for f in futures:
            f.result()
        return
    try:
        for i in range(1, n):
            workers[i - 1].start(lambda i=i: fn(i, n))
        try:
            fn(0, n)
        finally:
            for i in range(1, n):
                workers[i - 1].wait()
    finally:
        busy.release()


def _contiguous(*arrays: np.ndarray) -> bool:
    """Whether every array is C-contiguous, so reshape(-1) is a view the flat kernels write into."""
    return all(a.flags.c_contiguous for a in arrays)


def _split(B: int, part: int, parts: int) -> slice:
    step = -(-B // parts)
    return slice(min(B, part * step), min(B, (part + 1) * step))


# ----------------------------------------------------------------------------------------------
# numba kernels. A state row is split complex: re and im planes of 2**n floats each, index bit q
# is qubit q (split planes are what LLVM vectorises: interleaved complex arithmetic stayed scalar,
# 3-7x slower per pass). A block acts on k sorted qubits qs[0] < ... < qs[k-1]; its matrix index
# bit j is qs[j]. Gate matrices are in argument order (argument i is bit g-1-i of the gate index)
# and are placed on block-local bit positions pos[i]. Index arithmetic is unsigned: numba then
# drops the negative-index wraparound check, which also blocks vectorisation.


@njit(cache=True, nogil=True, inline="always")
def _deposit(j, qs, k):
    """The state index with zeros at the block qubits whose other bits are j (qs ascending)."""
    i = j
    for t in range(k):
        q = qs[t]
        i = ((i >> q) << (q + 1)) | (i & ((1 << q) - 1))
    return i


@njit(cache=True, nogil=True)
def _offsets(qs, k):
    D = 1 << k
    offs = np.zeros(D, np.int64)
    for m in range(D):
        o = 0
        for t in range(k):
            if (m >> t) & 1:
                o |= 1 << qs[t]
        offs[m] = o
    return offs


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _pair(xr_, xi_, yr_, yi_, a00r, a00i, a01r, a01i, a10r, a10i, a11r, a11i):
    """2x2 matrix on amplitude pairs (x[u], y[u]) of four equal-length runs. Runs as separate
    views: with both halves of a pair indexed off one pointer LLVM cannot prove the stores do not
    feed later loads and kept the loop scalar (vmovss/vfmadd..ss); as views it versions the loop
    with a few overlap checks and vectorises it."""
    for u in range(xr_.shape[0]):
        xr = xr_[u]
        xi = xi_[u]
        yr = yr_[u]
        yi = yi_[u]
        xr_[u] = a00r * xr - a00i * xi + a01r * yr - a01i * yi
        xi_[u] = a00r * xi + a00i * xr + a01r * yi + a01i * yr
        yr_[u] = a10r * xr - a10i * xi + a11r * yr - a11i * yi
        yi_[u] = a10r * xi + a10i * xr + a11r * yi + a11i * yr


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _tt(R, I, T, st, sc, a, b):
    """Tiles of T contiguous amplitudes of R, I: the pairs (o, o + st) of every tile, matrix a
    where bit sc of o is 0 (or sc == 0), b where it is 1. Called with literal T, st and sc
    (_tiles_low, _tiles16), so the tile loop unrolls to constant offsets and vectorises across
    tiles; the pair loops with steps 1, 2, 4 stayed scalar, 3-6x slower than a gate on a high
    qubit."""
    a00r, a00i, a01r, a01i = a[0, 0].real, a[0, 0].imag, a[0, 1].real, a[0, 1].imag
    a10r, a10i, a11r, a11i = a[1, 0].real, a[1, 0].imag, a[1, 1].real, a[1, 1].imag
    b00r, b00i, b01r, b01i = b[0, 0].real, b[0, 0].imag, b[0, 1].real, b[0, 1].imag
    b10r, b10i, b11r, b11i = b[1, 0].real, b[1, 0].imag, b[1, 1].real, b[1, 1].imag
    for g in range(R.shape[0] // T):
        base = g * T
        for o in range(T):
            if (o & st) == 0:
                x = base + o
                y = x + st
                xr = R[x]
                xi = I[x]
                yr = R[y]
                yi = I[y]
                if sc != 0 and (o & sc) != 0:
                    R[x] = b00r * xr - b00i * xi + b01r * yr - b01i * yi
                    I[x] = b00r * xi + b00i * xr + b01r * yi + b01i * yr
                    R[y] = b10r * xr - b10i * xi + b11r * yr - b11i * yi
                    I[y] = b10r * xi + b10i * xr + b11r * yi + b11i * yr
                else:
                    R[x] = a00r * xr - a00i * xi + a01r * yr - a01i * yi
                    I[x] = a00r * xi + a00i * xr + a01r * yi + a01i * yr
                    R[y] = a10r * xr - a10i * xi + a11r * yr - a11i * yi
                    I[y] = a10r * xi + a10i * xr + a11r * yi + a11i * yr


def _tiles_low(R, I, st, sc, a, b):
    """_tt for steps st in 1, 2, 4 and sc 0 or another of them, as literals; R's length is a
    multiple of 32. Resolved per precision when a kernel is typed (overload below), so each
    precision compiles only its own nine variants."""
    raise NotImplementedError("called from numba kernels only")


def _tiles_low_single(R, I, st, sc, a, b):
    # the faster of tiles of 8 and 16 for each step, as LLVM vectorises them (measured at 20
    # qubits: 2-3x apart, and the better size differs between the precisions)
    if st == 1:
        if sc == 0:
            _tt(R, I, 8, 1, 0, a, b)
        elif sc == 2:
            _tt(R, I, 8, 1, 2, a, b)
        else:
            _tt(R, I, 8, 1, 4, a, b)
    elif st == 2:
        if sc == 0:
            _tt(R, I, 8, 2, 0, a, b)
        elif sc == 1:
            _tt(R, I, 8, 2, 1, a, b)
        else:
            _tt(R, I, 8, 2, 4, a, b)
    else:
        if sc == 0:
            _tt(R, I, 16, 4, 0, a, b)
        elif sc == 1:
            _tt(R, I, 16, 4, 1, a, b)
        else:
            _tt(R, I, 16, 4, 2, a, b)


def _tiles_low_double(R, I, st, sc, a, b):
    if st == 1:
        if sc == 0:
            _tt(R, I, 16, 1, 0, a, b)
        elif sc == 2:
            _tt(R, I, 16, 1, 2, a, b)
        else:
            _tt(R, I, 16, 1, 4, a, b)
    elif st == 2:
        if sc == 0:
            _tt(R, I, 16, 2, 0, a, b)
        elif sc == 1:
            _tt(R, I, 8, 2, 1, a, b)
        else:
            _tt(R, I, 8, 2, 4, a, b)
    else:
        if sc == 0:
            _tt(R, I, 16, 4, 0, a, b)
        elif sc == 1:
            _tt(R, I, 16, 4, 1, a, b)
        else:
            _tt(R, I, 16, 4, 2, a, b)


@overload(_tiles_low, jit_options={"fastmath": True, "nogil": True})
def _tiles_low_by_precision(R, I, st, sc, a, b):
    return _tiles_low_single if R.dtype.bitwidth == 32 else _tiles_low_double


@njit(cache=True, nogil=True, fastmath=True)
def _tiles16(R, I, st, sc, a, b):
    """_tt on tiles of 16 for a pair with one step 8 and the other 1, 2 or 4 (literals)."""
    if st == 8:
        if sc == 1:
            _tt(R, I, 16, 8, 1, a, b)
        elif sc == 2:
            _tt(R, I, 16, 8, 2, a, b)
        else:
            _tt(R, I, 16, 8, 4, a, b)
    elif st == 1:
        _tt(R, I, 16, 1, 8, a, b)
    elif st == 2:
        _tt(R, I, 16, 2, 8, a, b)
    else:
        _tt(R, I, 16, 4, 8, a, b)


@njit(cache=True, nogil=True, fastmath=True)
def _tiles32(R, I, st, sc, a, b):
    """_tt on tiles of 32 for the pair of steps 8 and 16 (literals)."""
    if st == 8:
        _tt(R, I, 32, 8, 16, a, b)
    else:
        _tt(R, I, 32, 16, 8, a, b)


@njit(cache=True, nogil=True, inline="always")
def _ins0(x, q):
    """x with a zero bit inserted at position q."""
    return ((x >> q) << (q + 1)) | (x & ((1 << q) - 1))


@njit(cache=True, nogil=True)
def _apply1(re, im, q, m, lo, hi):
    """One-qubit matrix m on qubit q over pair index range [lo, hi) of a row; a low qubit (q < 3)
    runs whole tiles through _tiles_low."""
    if q < 3 and hi - lo >= 32:  # 16 pairs per 32 amplitudes
        g0 = (lo + 15) >> 4
        g1 = hi >> 4
        _apply1_runs(re, im, q, m, lo, g0 << 4)
        mm = m[0:2, 0:2]  # the layout _apply2c passes: one compiled _tiles_low per precision
        _tiles_low(re[g0 << 5:g1 << 5], im[g0 << 5:g1 << 5], 1 << q, 0, mm, mm)
        _apply1_runs(re, im, q, m, g1 << 4, hi)
        return
    _apply1_runs(re, im, q, m, lo, hi)


@njit(cache=True, nogil=True, fastmath=True)
def _apply1_runs(re, im, q, m, lo, hi):
    """_apply1 by contiguous runs of pairs."""
    a00r, a00i, a01r, a01i = m[0, 0].real, m[0, 0].imag, m[0, 1].real, m[0, 1].imag
    a10r, a10i, a11r, a11i = m[1, 0].real, m[1, 0].imag, m[1, 1].real, m[1, 1].imag
    one = numba.uint64(1)
    uq = numba.uint64(q)
    s = one << uq
    low = s - one
    j = numba.uint64(lo)
    end = numba.uint64(hi)
    while j < end:
        t0 = j & low
        run = min(s - t0, end - j)
        i0 = ((j >> uq) << (uq + one)) | t0
        if run >= VEC_RUN:
            k0 = i0 + s
            _pair(re[i0:i0 + run], im[i0:i0 + run], re[k0:k0 + run], im[k0:k0 + run],
                  a00r, a00i, a01r, a01i, a10r, a10i, a11r, a11i)
            j += run
            continue
        for u in range(run):
            i = i0 + numba.uint64(u)
            k = i + s
            xr = re[i]
            xi = im[i]
            yr = re[k]
            yi = im[k]
            re[i] = a00r * xr - a00i * xi + a01r * yr - a01i * yi
            im[i] = a00r * xi + a00i * xr + a01r * yi + a01i * yr
            re[k] = a10r * xr - a10i * xi + a11r * yr - a11i * yi
            im[k] = a10r * xi + a10i * xr + a11r * yi + a11i * yr
        j += run


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _quad(r0, i0, r1, i1, r2, i2, r3, i3, mr, mi):
    """4x4 matrix (real and imaginary parts mr, mi) on the amplitude quadruples of eight
    equal-length runs (views, for the reason given at _pair)."""
    b00, b01, b02, b03 = mr[0, 0], mr[0, 1], mr[0, 2], mr[0, 3]
    b10, b11, b12, b13 = mr[1, 0], mr[1, 1], mr[1, 2], mr[1, 3]
    b20, b21, b22, b23 = mr[2, 0], mr[2, 1], mr[2, 2], mr[2, 3]
    b30, b31, b32, b33 = mr[3, 0], mr[3, 1], mr[3, 2], mr[3, 3]
    c00, c01, c02, c03 = mi[0, 0], mi[0, 1], mi[0, 2], mi[0, 3]
    c10, c11, c12, c13 = mi[1, 0], mi[1, 1], mi[1, 2], mi[1, 3]
    c20, c21, c22, c23 = mi[2, 0], mi[2, 1], mi[2, 2], mi[2, 3]
    c30, c31, c32, c33 = mi[3, 0], mi[3, 1], mi[3, 2], mi[3, 3]
    for u in range(r0.shape[0]):
        xr0, xr1, xr2, xr3 = r0[u], r1[u], r2[u], r3[u]
        xi0, xi1, xi2, xi3 = i0[u], i1[u], i2[u], i3[u]
        r0[u] = b00 * xr0 + b01 * xr1 + b02 * xr2 + b03 * xr3 - c00 * xi0 - c01 * xi1 - c02 * xi2 - c03 * xi3
        i0[u] = b00 * xi0 + b01 * xi1 + b02 * xi2 + b03 * xi3 + c00 * xr0 + c01 * xr1 + c02 * xr2 + c03 * xr3
        r1[u] = b10 * xr0 + b11 * xr1 + b12 * xr2 + b13 * xr3 - c10 * xi0 - c11 * xi1 - c12 * xi2 - c13 * xi3
        i1[u] = b10 * xi0 + b11 * xi1 + b12 * xi2 + b13 * xi3 + c10 * xr0 + c11 * xr1 + c12 * xr2 + c13 * xr3
        r2[u] = b20 * xr0 + b21 * xr1 + b22 * xr2 + b23 * xr3 - c20 * xi0 - c21 * xi1 - c22 * xi2 - c23 * xi3
        i2[u] = b20 * xi0 + b21 * xi1 + b22 * xi2 + b23 * xi3 + c20 * xr0 + c21 * xr1 + c22 * xr2 + c23 * xr3
        r3[u] = b30 * xr0 + b31 * xr1 + b32 * xr2 + b33 * xr3 - c30 * xi0 - c31 * xi1 - c32 * xi2 - c33 * xi3
        i3[u] = b30 * xi0 + b31 * xi1 + b32 * xi2 + b33 * xi3 + c30 * xr0 + c31 * xr1 + c32 * xr2 + c33 * xr3


@njit(cache=True, nogil=True, fastmath=True)
def _apply2(re, im, q0, q1, m, lo, hi):
    """Two-qubit matrix (index bit 0 = q0 < q1) over base index range [lo, hi)."""
    mr = np.empty((4, 4), re.dtype)  # the state's precision: float64 factors kept float32 states scalar
    mi = np.empty((4, 4), re.dtype)
    for y in range(4):
        for x in range(4):
            mr[y, x] = m[y, x].real
            mi[y, x] = m[y, x].imag
    if q0 < 3 and q1 >= SPLIT_Q1 + (q0 > 0):
        # runs of 1-4 amplitudes: tiles dealt into F = 2**(q0+1) lanes (one array per lane
        # index, stride-F loads LLVM vectorises), so that each lane pair (w, w + 2**q0) holds
        # long runs for _quad
        F = 2 << q0
        H = min(1 << q1, SPLIT_TILE_BYTES // re.itemsize)  # amplitudes per tile and plane
        W = H // F
        Q = H >> 1  # quadruples per tile
        a = min(hi, (lo + Q - 1) // Q * Q)
        z = max(a, hi // Q * Q)
        if a > lo:
            _apply2_runs(re, im, q0, q1, mr, mi, lo, a)
        if hi > z:
            _apply2_runs(re, im, q0, q1, mr, mi, z, hi)
        buf = np.empty((4 * F, W), re.dtype)
        s1 = 1 << q1
        for j in range(a, z, Q):
            t = (((4 * j) >> (q1 + 1)) << (q1 + 1)) | ((2 * j) & (s1 - 1))
            u = t + s1
            _deal(re[t:t + H], buf[0:F], F)
            _deal(im[t:t + H], buf[F:2 * F], F)
            _deal(re[u:u + H], buf[2 * F:3 * F], F)
            _deal(im[u:u + H], buf[3 * F:4 * F], F)
            h = F >> 1
            for w in range(h):
                _quad(buf[w], buf[F + w], buf[w + h], buf[F + w + h], buf[2 * F + w], buf[3 * F + w],
                      buf[2 * F + w + h], buf[3 * F + w + h], mr, mi)
            _gather(re[t:t + H], buf[0:F], F)
            _gather(im[t:t + H], buf[F:2 * F], F)
            _gather(re[u:u + H], buf[2 * F:3 * F], F)
            _gather(im[u:u + H], buf[3 * F:4 * F], F)
        return
    _apply2_runs(re, im, q0, q1, mr, mi, lo, hi)


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _deal(X, D, F):
    """D[w] = X[w::F] for F in 2, 4, 8, one array per lane (the generic D[w, v] indexing kept
    the loop scalar: 5-9x slower)."""
    if F == 2:
        a, b = D[0], D[1]
        for v in range(a.shape[0]):
            a[v] = X[2 * v]
            b[v] = X[2 * v + 1]
    elif F == 4:
        a, b, c, d = D[0], D[1], D[2], D[3]
        for v in range(a.shape[0]):
            a[v] = X[4 * v]
            b[v] = X[4 * v + 1]
            c[v] = X[4 * v + 2]
            d[v] = X[4 * v + 3]
    else:
        a, b, c, d, e, f, g, h = D[0], D[1], D[2], D[3], D[4], D[5], D[6], D[7]
        for v in range(a.shape[0]):
            a[v] = X[8 * v]
            b[v] = X[8 * v + 1]
            c[v] = X[8 * v + 2]
            d[v] = X[8 * v + 3]
            e[v] = X[8 * v + 4]
            f[v] = X[8 * v + 5]
            g[v] = X[8 * v + 6]
            h[v] = X[8 * v + 7]


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _gather(X, D, F):
    """The inverse of _deal: X[w::F] = D[w]."""
    if F == 2:
        a, b = D[0], D[1]
        for v in range(a.shape[0]):
            X[2 * v] = a[v]
            X[2 * v + 1] = b[v]
    elif F == 4:
        a, b, c, d = D[0], D[1], D[2], D[3]
        for v in range(a.shape[0]):
            X[4 * v] = a[v]
            X[4 * v + 1] = b[v]
            X[4 * v + 2] = c[v]
            X[4 * v + 3] = d[v]
    else:
        a, b, c, d, e, f, g, h = D[0], D[1], D[2], D[3], D[4], D[5], D[6], D[7]
        for v in range(a.shape[0]):
            X[8 * v] = a[v]
            X[8 * v + 1] = b[v]
            X[8 * v + 2] = c[v]
            X[8 * v + 3] = d[v]
            X[8 * v + 4] = e[v]
            X[8 * v + 5] = f[v]
            X[8 * v + 6] = g[v]
            X[8 * v + 7] = h[v]


@njit(cache=True, nogil=True, fastmath=True)
def _apply2_runs(re, im, q0, q1, mr, mi, lo, hi):
    """_apply2 over its base index range by runs of 2**q0 quadruples."""
    b00, b01, b02, b03 = mr[0, 0], mr[0, 1], mr[0, 2], mr[0, 3]
    b10, b11, b12, b13 = mr[1, 0], mr[1, 1], mr[1, 2], mr[1, 3]
    b20, b21, b22, b23 = mr[2, 0], mr[2, 1], mr[2, 2], mr[2, 3]
    b30, b31, b32, b33 = mr[3, 0], mr[3, 1], mr[3, 2], mr[3, 3]
    c00, c01, c02, c03 = mi[0, 0], mi[0, 1], mi[0, 2], mi[0, 3]
    c10, c11, c12, c13 = mi[1, 0], mi[1, 1], mi[1, 2], mi[1, 3]
    c20, c21, c22, c23 = mi[2, 0], mi[2, 1], mi[2, 2], mi[2, 3]
    c30, c31, c32, c33 = mi[3, 0], mi[3, 1], mi[3, 2], mi[3, 3]
    one = numba.uint64(1)
    u0 = numba.uint64(q0)
    u1 = numba.uint64(q1)
    s0 = one << u0
    s1 = one << u1
    l0 = s0 - one
    l1 = s1 - one
    j = numba.uint64(lo)
    end = numba.uint64(hi)
    while j < end:
        t0 = j & l0
        run = min(s0 - t0, end - j)
        i0 = ((j >> u0) << (u0 + one)) | t0
        i0 = ((i0 >> u1) << (u1 + one)) | (i0 & l1)
        if run >= VEC_RUN_QUAD:
            a = i0 + s0
            b = i0 + s1
            c = b + s0
            _quad(re[i0:i0 + run], im[i0:i0 + run], re[a:a + run], im[a:a + run], re[b:b + run], im[b:b + run],
                  re[c:c + run], im[c:c + run], mr, mi)
            j += run
            continue
        for u in range(run):
            i = i0 + numba.uint64(u)
            i1 = i + s0
            i2 = i + s1
            i3 = i2 + s0
            xr0, xr1, xr2, xr3 = re[i], re[i1], re[i2], re[i3]
            xi0, xi1, xi2, xi3 = im[i], im[i1], im[i2], im[i3]
            re[i] = b00 * xr0 + b01 * xr1 + b02 * xr2 + b03 * xr3 - c00 * xi0 - c01 * xi1 - c02 * xi2 - c03 * xi3
            im[i] = b00 * xi0 + b01 * xi1 + b02 * xi2 + b03 * xi3 + c00 * xr0 + c01 * xr1 + c02 * xr2 + c03 * xr3
            re[i1] = b10 * xr0 + b11 * xr1 + b12 * xr2 + b13 * xr3 - c10 * xi0 - c11 * xi1 - c12 * xi2 - c13 * xi3
            im[i1] = b10 * xi0 + b11 * xi1 + b12 * xi2 + b13 * xi3 + c10 * xr0 + c11 * xr1 + c12 * xr2 + c13 * xr3
            re[i2] = b20 * xr0 + b21 * xr1 + b22 * xr2 + b23 * xr3 - c20 * xi0 - c21 * xi1 - c22 * xi2 - c23 * xi3
            im[i2] = b20 * xi0 + b21 * xi1 + b22 * xi2 + b23 * xi3 + c20 * xr0 + c21 * xr1 + c22 * xr2 + c23 * xr3
            re[i3] = b30 * xr0 + b31 * xr1 + b32 * xr2 + b33 * xr3 - c30 * xi0 - c31 * xi1 - c32 * xi2 - c33 * xi3
            im[i3] = b30 * xi0 + b31 * xi1 + b32 * xi2 + b33 * xi3 + c30 * xr0 + c31 * xr1 + c32 * xr2 + c33 * xr3
        j += run


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _h8(re, im, g0, g1, q1, st, sc, a, b):
    """Tiles g0..g1-1 of 8 amplitudes in q1's 0-half (q1 >= 3; runs of 2**q1 / 8 tiles, walked
    without slicing). Low target (step st, literal; sc = 0): a on the tile, b on its partner in
    q1's 1-half. Low control (step sc, literal; st = 0): pairs (tile[o], partner[o]), a where bit
    sc of o is 0, b where it is 1."""
    a00r, a00i, a01r, a01i = a[0, 0].real, a[0, 0].imag, a[0, 1].real, a[0, 1].imag
    a10r, a10i, a11r, a11i = a[1, 0].real, a[1, 0].imag, a[1, 1].real, a[1, 1].imag
    b00r, b00i, b01r, b01i = b[0, 0].real, b[0, 0].imag, b[0, 1].real, b[0, 1].imag
    b10r, b10i, b11r, b11i = b[1, 0].real, b[1, 0].imag, b[1, 1].real, b[1, 1].imag
    hs = 1 << q1
    per = hs >> 3
    g = g0
    while g < g1:
        nt = min(g1 - g, per - (g & (per - 1)))
        base0 = _ins0(g << 3, q1)
        for t in range(nt):
            base = base0 + (t << 3)
            for o in range(8):
                if st != 0:
                    if (o & st) == 0:
                        for h in range(2):
                            x = base + o + h * hs
                            y = x + st
                            xr = re[x]
                            xi = im[x]
                            yr = re[y]
                            yi = im[y]
                            if h == 1:
                                re[x] = b00r * xr - b00i * xi + b01r * yr - b01i * yi
                                im[x] = b00r * xi + b00i * xr + b01r * yi + b01i * yr
                                re[y] = b10r * xr - b10i * xi + b11r * yr - b11i * yi
                                im[y] = b10r * xi + b10i * xr + b11r * yi + b11i * yr
                            else:
                                re[x] = a00r * xr - a00i * xi + a01r * yr - a01i * yi
                                im[x] = a00r * xi + a00i * xr + a01r * yi + a01i * yr
                                re[y] = a10r * xr - a10i * xi + a11r * yr - a11i * yi
                                im[y] = a10r * xi + a10i * xr + a11r * yi + a11i * yr
                else:
                    x = base + o
                    y = x + hs
                    xr = re[x]
                    xi = im[x]
                    yr = re[y]
                    yi = im[y]
                    if (o & sc) != 0:
                        re[x] = b00r * xr - b00i * xi + b01r * yr - b01i * yi
                        im[x] = b00r * xi + b00i * xr + b01r * yi + b01i * yr
                        re[y] = b10r * xr - b10i * xi + b11r * yr - b11i * yi
                        im[y] = b10r * xi + b10i * xr + b11r * yi + b11i * yr
                    else:
                        re[x] = a00r * xr - a00i * xi + a01r * yr - a01i * yi
                        im[x] = a00r * xi + a00i * xr + a01r * yi + a01i * yr
                        re[y] = a10r * xr - a10i * xi + a11r * yr - a11i * yi
                        im[y] = a10r * xi + a10i * xr + a11r * yi + a11i * yr
        g += nt


@njit(cache=True, nogil=True, fastmath=True)
def _one_low(re, im, g0, g1, q1, st, sc, a, b):
    """_h8 with the low step as a literal: st < 8 (low target) or sc < 8 (low control)."""
    if st == 1:
        _h8(re, im, g0, g1, q1, 1, 0, a, b)
    elif st == 2:
        _h8(re, im, g0, g1, q1, 2, 0, a, b)
    elif st == 4:
        _h8(re, im, g0, g1, q1, 4, 0, a, b)
    elif sc == 1:
        _h8(re, im, g0, g1, q1, 0, 1, a, b)
    elif sc == 2:
        _h8(re, im, g0, g1, q1, 0, 2, a, b)
    else:
        _h8(re, im, g0, g1, q1, 0, 4, a, b)


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _ts(XR, XI, YR, YI, T, sc, a, b):
    """Pairs (X[u], Y[u]) of two runs (whole tiles of T), matrix a where bit sc of u is 0, b where
    it is 1: a low control (step sc, literal) and a high target."""
    a00r, a00i, a01r, a01i = a[0, 0].real, a[0, 0].imag, a[0, 1].real, a[0, 1].imag
    a10r, a10i, a11r, a11i = a[1, 0].real, a[1, 0].imag, a[1, 1].real, a[1, 1].imag
    b00r, b00i, b01r, b01i = b[0, 0].real, b[0, 0].imag, b[0, 1].real, b[0, 1].imag
    b10r, b10i, b11r, b11i = b[1, 0].real, b[1, 0].imag, b[1, 1].real, b[1, 1].imag
    for g in range(XR.shape[0] // T):
        base = g * T
        for o in range(T):
            u = base + o
            xr = XR[u]
            xi = XI[u]
            yr = YR[u]
            yi = YI[u]
            if (o & sc) != 0:
                XR[u] = b00r * xr - b00i * xi + b01r * yr - b01i * yi
                XI[u] = b00r * xi + b00i * xr + b01r * yi + b01i * yr
                YR[u] = b10r * xr - b10i * xi + b11r * yr - b11i * yi
                YI[u] = b10r * xi + b10i * xr + b11r * yi + b11i * yr
            else:
                XR[u] = a00r * xr - a00i * xi + a01r * yr - a01i * yi
                XI[u] = a00r * xi + a00i * xr + a01r * yi + a01i * yr
                YR[u] = a10r * xr - a10i * xi + a11r * yr - a11i * yi
                YI[u] = a10r * xi + a10i * xr + a11r * yi + a11i * yr


@njit(cache=True, nogil=True, fastmath=True)
def _sel_low(XR, XI, YR, YI, sc, a, b):
    """_ts with sc as a literal (lengths multiples of 32)."""
    if sc == 1:
        _ts(XR, XI, YR, YI, 16, 1, a, b)
    elif sc == 2:
        _ts(XR, XI, YR, YI, 16, 2, a, b)
    else:
        _ts(XR, XI, YR, YI, 16, 4, a, b)


@njit(cache=True, nogil=True, fastmath=True)
def _one_low_runs(re, im, g0, g1, q1, st, sc, a, b):
    """The one-low-qubit case of _apply2c for q1 >= 6: tiles g0..g1-1 of 8 amplitudes in q1's
    0-half, run by run (2**q1 / 8 tiles each) through the sliced tile kernels."""
    hs = 1 << q1
    per = hs >> 3
    g = g0
    while g < g1:
        nt = min(g1 - g, per - (g & (per - 1)))
        base = _ins0(g << 3, q1)
        end = base + (nt << 3)
        whole = base + ((nt >> 2) << 5)  # the tile kernels take multiples of 32 amplitudes
        if st < 8:  # low target, high control: a on the control's 0-half, b on its 1-half
            _tiles_low(re[base:whole], im[base:whole], st, 0, a, a)
            _tiles_low(re[base + hs:whole + hs], im[base + hs:whole + hs], st, 0, b, b)
        else:
            _sel_low(re[base:whole], im[base:whole], re[base + hs:whole + hs], im[base + hs:whole + hs], sc, a, b)
        if whole < end:
            _one_low(re, im, g + ((nt >> 2) << 2), g + nt, q1, st, sc, a, b)
        g += nt


@njit(cache=True, nogil=True)
def _apply2c(re, im, q0, q1, sc, st, a, b, lo, hi):
    """A two-qubit matrix that is block diagonal in one of its qubits (the control, index step
    sc; the other, the target, has step st): 2x2 matrix a on the target where the control is 0,
    b where it is 1, over base index range [lo, hi) as _apply2 (half its flops: cx/cz ladders
    fused with one-qubit gates on the target are of this form). A low qubit (step < 8) runs whole
    tiles of 8 amplitudes through the unrolled tile kernels; the edges of the range and two high
    qubits go by runs (_apply2c_runs)."""
    if q0 == 3 and q1 == 4 and hi - lo >= 16:  # both in a tile of 32: 8 groups per tile
        g0 = (lo + 7) >> 3
        g1 = hi >> 3
        _apply2c_runs(re, im, q0, q1, sc, st, a, b, lo, g0 << 3)
        _tiles32(re[g0 << 5:g1 << 5], im[g0 << 5:g1 << 5], st, sc, a, b)
        _apply2c_runs(re, im, q0, q1, sc, st, a, b, g1 << 3, hi)
        return
    if (sc < 8 or st < 8) and hi - lo >= 16:
        if sc < 8 and st < 8:  # both low: 8 groups per 32 amplitudes
            g0 = (lo + 7) >> 3
            g1 = hi >> 3
            _apply2c_runs(re, im, q0, q1, sc, st, a, b, lo, g0 << 3)
            _tiles_low(re[g0 << 5:g1 << 5], im[g0 << 5:g1 << 5], st, sc, a, b)
            _apply2c_runs(re, im, q0, q1, sc, st, a, b, g1 << 3, hi)
            return
        g0 = (lo + 3) >> 2
        g1 = hi >> 2
        if q1 == 3:  # both in a tile of 16: 4 groups per tile
            _apply2c_runs(re, im, q0, q1, sc, st, a, b, lo, g0 << 2)
            _tiles16(re[g0 << 4:g1 << 4], im[g0 << 4:g1 << 4], st, sc, a, b)
            _apply2c_runs(re, im, q0, q1, sc, st, a, b, g1 << 2, hi)
            return
        # one low qubit (q0): a tile of q1's 0-half holds 4 groups
        g0 = (lo + 3) >> 2
        g1 = hi >> 2
        _apply2c_runs(re, im, q0, q1, sc, st, a, b, lo, g0 << 2)
        if q1 >= 6:
            _one_low_runs(re, im, g0, g1, q1, st, sc, a, b)
        else:
            _one_low(re, im, g0, g1, q1, st, sc, a, b)
        _apply2c_runs(re, im, q0, q1, sc, st, a, b, g1 << 2, hi)
        return
    _apply2c_runs(re, im, q0, q1, sc, st, a, b, lo, hi)


@njit(cache=True, nogil=True, fastmath=True)
def _apply2c_runs(re, im, q0, q1, sc, st, a, b, lo, hi):
    """_apply2c by contiguous runs of base indices."""
    a00r, a00i, a01r, a01i = a[0, 0].real, a[0, 0].imag, a[0, 1].real, a[0, 1].imag
    a10r, a10i, a11r, a11i = a[1, 0].real, a[1, 0].imag, a[1, 1].real, a[1, 1].imag
    b00r, b00i, b01r, b01i = b[0, 0].real, b[0, 0].imag, b[0, 1].real, b[0, 1].imag
    b10r, b10i, b11r, b11i = b[1, 0].real, b[1, 0].imag, b[1, 1].real, b[1, 1].imag
    one = numba.uint64(1)
    u0 = numba.uint64(q0)
    u1 = numba.uint64(q1)
    s0 = one << u0
    s1 = one << u1
    l0 = s0 - one
    l1 = s1 - one
    usc = numba.uint64(sc)
    ust = numba.uint64(st)
    j = numba.uint64(lo)
    end = numba.uint64(hi)
    while j < end:
        t0 = j & l0
        run = min(s0 - t0, end - j)
        i0 = ((j >> u0) << (u0 + one)) | t0
        i0 = ((i0 >> u1) << (u1 + one)) | (i0 & l1)
        if run >= VEC_RUN:
            k0 = i0 + ust
            _pair(re[i0:i0 + run], im[i0:i0 + run], re[k0:k0 + run], im[k0:k0 + run],
                  a00r, a00i, a01r, a01i, a10r, a10i, a11r, a11i)
            i1 = i0 + usc
            k1 = k0 + usc
            _pair(re[i1:i1 + run], im[i1:i1 + run], re[k1:k1 + run], im[k1:k1 + run],
                  b00r, b00i, b01r, b01i, b10r, b10i, b11r, b11i)
            j += run
            continue
        for u in range(run):
            i = i0 + numba.uint64(u)
            k = i + ust
            xr = re[i]
            xi = im[i]
            yr = re[k]
            yi = im[k]
            re[i] = a00r * xr - a00i * xi + a01r * yr - a01i * yi
            im[i] = a00r * xi + a00i * xr + a01r * yi + a01i * yr
            re[k] = a10r * xr - a10i * xi + a11r * yr - a11i * yi
            im[k] = a10r * xi + a10i * xr + a11r * yi + a11i * yr
            i = i + usc
            k = k + usc
            xr = re[i]
            xi = im[i]
            yr = re[k]
            yi = im[k]
            re[i] = b00r * xr - b00i * xi + b01r * yr - b01i * yi
            im[i] = b00r * xi + b00i * xr + b01r * yi + b01i * yr
            re[k] = b10r * xr - b10i * xi + b11r * yr - b11i * yi
            im[k] = b10r * xi + b10i * xr + b11r * yi + b11i * yr
        j += run


@njit(cache=True, nogil=True, inline="always")
def _block_diag_in(m, bit):
    """Whether 4x4 matrix m has no entries between index pairs differing in ``bit`` (exact zeros:
    products with the exact zeros of cx/cz/diagonal gates stay exact)."""
    for y in range(4):
        for x in range(4):
            if ((y ^ x) >> bit) & 1 and m[y, x] != 0:
                return False
    return True


@njit(cache=True, nogil=True)
def _apply2_any(re, im, q0, q1, m, lo, hi):
    """Two-qubit block: the controlled form when the matrix allows it, else the dense one."""
    s0 = 1 << q0
    s1 = 1 << q1
    if _block_diag_in(m, 0):  # control q0, target q1
        _apply2c(re, im, q0, q1, s0, s1, m[0::2, 0::2], m[1::2, 1::2], lo, hi)
    elif _block_diag_in(m, 1):  # control q1, target q0
        _apply2c(re, im, q0, q1, s1, s0, m[0:2, 0:2], m[2:4, 2:4], lo, hi)
    else:
        _apply2(re, im, q0, q1, m, lo, hi)


@njit(cache=True, nogil=True)
def _applyk(re, im, qs, k, m, lo, hi):
    """Any k-qubit block over base index range [lo, hi), by the matrix's nonzeros: rows equal to
    the identity's are skipped and only the amplitudes the other rows read are gathered, so a
    multi-controlled gate (c4x: 2 active rows of 32) costs a few operations per group instead of
    D**2. Zeros are exact (gate tables and products with them keep them). A mostly dense block
    wholly on qubits 0..k-1 runs as contiguous groups (_apply_low) instead."""
    D = 1 << k
    nnz = 0
    for y in range(D):
        if not _identity_row(m, y, D):
            for x in range(D):
                if m[y, x] != 0:
                    nnz += 1
    if nnz == 0:
        return
    if qs[k - 1] == k - 1 and 4 * nnz > D * D:
        _apply_low(re, im, k, m, lo, hi)
        return
    rows = np.empty(D, np.int64)
    ptr = np.zeros(D + 1, np.int64)
    cols = np.empty(nnz, np.int64)
    vals = np.empty(nnz, np.complex128)
    need = np.zeros(D, np.bool_)
    na = 0
    t = 0
    for y in range(D):
        if _identity_row(m, y, D):
            continue
        for x in range(D):
            if m[y, x] != 0:
                cols[t] = x
                vals[t] = m[y, x]
                need[x] = True
                t += 1
        rows[na] = y
        na += 1
        ptr[na] = t
    offs = _offsets(qs, k)
    gather = np.empty(D, np.int64)
    ng = 0
    for x in range(D):
        if need[x]:
            gather[ng] = x
            ng += 1
    v = np.zeros(D, np.complex128)
    out = np.empty(na, np.complex128)
    for j in range(lo, hi):
        i = _deposit(j, qs, k)
        for u in range(ng):
            x = gather[u]
            v[x] = complex(re[i + offs[x]], im[i + offs[x]])
        for a in range(na):
            acc = 0j
            for e in range(ptr[a], ptr[a + 1]):
                acc += vals[e] * v[cols[e]]
            out[a] = acc
        for a in range(na):
            o = i + offs[rows[a]]
            re[o] = out[a].real
            im[o] = out[a].imag


@njit(cache=True, nogil=True, inline="always")
def _identity_row(m, y, D):
    for x in range(D):
        if m[y, x] != (1 if x == y else 0):
            return False
    return True


@njit(cache=True, nogil=True, fastmath=True)
def _applydiag(re, im, qs, k, d, lo, hi):
    """Diagonal block: amplitude i times d[local index of i], over state indices [lo, hi)."""
    if hi - lo >= DIAG_TILED:
        above = 0
        for t in range(k):
            if qs[t] >= DIAG_LANE_BITS:
                above += 1
        if (1 << (DIAG_LANE_BITS + above + 4)) <= hi - lo:
            _applydiag_table(re, im, qs, k, d, lo, hi)
            return
        if hi - lo >= 1 << (DIAG_LOW_BITS + 2):
            # many qubits at or above the lane bits (a wide phase block on a chunk): the factor
            # table would cost more than the range; look the factors up per amplitude instead
            _applydiag_lookup(re, im, qs, k, d, lo, hi)
            return
    _applydiag_scalar(re, im, qs, k, d, lo, hi)


@njit(cache=True, nogil=True, fastmath=True)
def _applydiag_scalar(re, im, qs, k, d, lo, hi):
    one = numba.uint64(1)
    for ii in range(lo, hi):
        i = numba.uint64(ii)
        loc = numba.uint64(0)
        for t in range(k):
            loc |= ((i >> numba.uint64(qs[t])) & one) << numba.uint64(t)
        dr = d[loc].real
        di = d[loc].imag
        xr = re[i]
        xi = im[i]
        re[i] = dr * xr - di * xi
        im[i] = dr * xi + di * xr


@njit(cache=True, nogil=True, fastmath=True)
def _applydiag_lookup(re, im, qs, k, d, lo, hi):
    """Large ranges of wide blocks: the local-index bits of the low DIAG_LOW_BITS index bits come
    from a table, the high ones once per chunk of 2**DIAG_LOW_BITS amplitudes (no per-amplitude
    bit loop; a gather of the factor per amplitude)."""
    size = 1 << DIAG_LOW_BITS
    low = np.zeros(size, np.int64)
    for t in range(k):
        if qs[t] < DIAG_LOW_BITS:
            for i in range(size):
                low[i] |= ((i >> qs[t]) & 1) << t
    dr = np.empty(d.shape[0], re.dtype)
    di = np.empty(d.shape[0], re.dtype)
    for a in range(d.shape[0]):
        dr[a] = d[a].real
        di[a] = d[a].imag
    c = lo
    while c < hi:
        end = min(hi, ((c >> DIAG_LOW_BITS) + 1) << DIAG_LOW_BITS)
        high = 0
        for t in range(k):
            if qs[t] >= DIAG_LOW_BITS:
                high |= ((c >> qs[t]) & 1) << t
        base = c & (size - 1)
        for u in range(end - c):
            loc = low[base + u] | high
            i = c + u
            xr = re[i]
            xi = im[i]
            re[i] = dr[loc] * xr - di[loc] * xi
            im[i] = dr[loc] * xi + di[loc] * xr
        c = end


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _scale_lanes(R, I, tr, ti):
    """Amplitudes of R, I (a whole number of tiles of len(tr)) times the tile-periodic factors
    tr + i ti, one per lane: a contiguous inner loop, vectorised."""
    S = tr.shape[0]
    for g in range(R.shape[0] // S):
        b = g * S
        for o in range(S):
            xr = R[b + o]
            xi = I[b + o]
            R[b + o] = tr[o] * xr - ti[o] * xi
            I[b + o] = tr[o] * xi + ti[o] * xr


@njit(cache=True, nogil=True, fastmath=True)
def _applydiag_table(re, im, qs, k, d, lo, hi):
    """Large ranges, in tiles of 2**p amplitudes: a tile's factors depend on its lanes only
    through the qubits below p and are constant over runs of 2**(lowest qubit >= p) amplitudes,
    so each run is one vectorised lane-periodic product (the per-amplitude table lookup was a
    gather: 1.7 ms for a 2-qubit diagonal at 20 qubits). p is as large as the factor table
    (2**p lanes x 2**(qubits >= p) rows) allows, for long tiles and few runs."""
    p = DIAG_LANE_BITS
    while p < DIAG_LANE_BITS_MAX and (1 << (p + 1)) <= hi - lo:
        above = 0
        for t in range(k):
            if qs[t] >= p + 1:
                above += 1
        # the table is built per call: keep it within 2**DIAG_TABLE_BITS and 1/64 of the range
        if p + 1 + above > DIAG_TABLE_BITS or (1 << (p + 1 + above + 6)) > hi - lo:
            break
        p += 1
    S = 1 << p
    a = min(hi, (lo + S - 1) // S * S)
    z = max(a, hi // S * S)
    if a > lo:
        _applydiag_scalar(re, im, qs, k, d, lo, a)
    if hi > z:
        _applydiag_scalar(re, im, qs, k, d, z, hi)
    kh = 0
    qmin = 63
    for t in range(k):
        if qs[t] >= p:
            kh += 1
            qmin = min(qmin, qs[t])
    tr = np.empty((1 << kh, S), re.dtype)
    ti = np.empty((1 << kh, S), re.dtype)
    for h in range(1 << kh):
        for o in range(S):
            loc = 0
            j = 0
            for t in range(k):
                if qs[t] >= p:
                    loc |= ((h >> j) & 1) << t
                    j += 1
                else:
                    loc |= ((o >> qs[t]) & 1) << t
            tr[h, o] = d[loc].real
            ti[h, o] = d[loc].imag
    c = a
    while c < z:
        h = 0
        j = 0
        for t in range(k):
            if qs[t] >= p:
                h |= ((c >> qs[t]) & 1) << j
                j += 1
        end = z if kh == 0 else min(z, ((c >> qmin) + 1) << qmin)
        _scale_lanes(re[c:end], im[c:end], tr[h], ti[h])
        c = end


@njit(cache=True, nogil=True, fastmath=True)
def _apply_low(re, im, k, m, lo, hi):
    """A dense block on exactly qubits 0..k-1: group g is the contiguous amplitudes g*D..g*D+D-1,
    so each output is a contiguous dot product (vectorised), over groups [lo, hi)."""
    D = 1 << k
    mr = np.empty((D, D), re.dtype)
    mi = np.empty((D, D), re.dtype)
    for y in range(D):
        for x in range(D):
            mr[y, x] = m[y, x].real
            mi[y, x] = m[y, x].imag
    tr = np.empty(D, re.dtype)
    ti = np.empty(D, re.dtype)
    for g in range(lo, hi):
        b = g * D
        xr = re[b:b + D]
        xi = im[b:b + D]
        for y in range(D):
            ar = 0.0
            ai = 0.0
            for x in range(D):
                ar += mr[y, x] * xr[x] - mi[y, x] * xi[x]
                ai += mr[y, x] * xi[x] + mi[y, x] * xr[x]
            tr[y] = ar
            ti[y] = ai
        xr[:] = tr
        xi[:] = ti


@njit(cache=True, nogil=True)
def _apply_block(re, im, qs, k, diag, m, d, lo, hi):
    """Block on a row over [lo, hi): base indices for dense blocks, state indices for diagonal ones."""
    if diag:
        _applydiag(re, im, qs, k, d, lo, hi)
    elif k == 1:
        _apply1(re, im, qs[0], m, lo, hi)
    elif k == 2:
        _apply2_any(re, im, qs[0], qs[1], m, lo, hi)
    else:
        _applyk(re, im, qs, k, m, lo, hi)


@njit(cache=True, nogil=True)
def _block_mats(b, row, b_k, b_diag, b_moff, b_mstride, mats):
    """(dense matrix, diagonal) views of block b for a row (the unused one is a dummy)."""
    D = 1 << b_k[b]
    off = b_moff[b] + row * b_mstride[b]
    if b_diag[b]:
        return mats[off:off + 1].reshape(1, 1), mats[off:off + D]
    return mats[off:off + D * D].reshape(D, D), mats[off:off + 1]


@njit(cache=True, nogil=True)
def _run_blocks_on_row(re, im, first, last, b_k, b_qs, b_diag, b_moff, b_mstride, mats, mrow):
    n_amp = re.shape[0]
    for b in range(first, last):
        k = b_k[b]
        m, d = _block_mats(b, mrow, b_k, b_diag, b_moff, b_mstride, mats)
        hi = n_amp if b_diag[b] else n_amp >> k
        _apply_block(re, im, b_qs[b], k, b_diag[b], m, d, 0, hi)


# Kernels are serial and release the GIL; qcomp's own thread pool (``_parallel``) splits rows, or
# the pair range of one large state, over the threads. numba's parallel layers were tried: their
# OpenMP workers spin between launches and took milliseconds per launch on a busy machine.


@njit(cache=True, nogil=True)
def run_rows(re, im, first, last, b_k, b_qs, b_diag, b_moff, b_mstride, mats, row_base, row_div):
    """Blocks [first, last) on every row of the planes ``re``, ``im`` (rows, amplitudes); a row's
    matrices are those of row ``row_base + r // row_div`` (pseudo-rows of one state for cache
    blocking)."""
    for r in range(re.shape[0]):
        _run_blocks_on_row(re[r], im[r], first, last, b_k, b_qs, b_diag, b_moff, b_mstride,
                           mats, row_base + r // row_div)


@njit(cache=True, nogil=True)
def run_block_range(re, im, b, b_k, b_qs, b_diag, b_moff, b_mstride, mats, mrow, part, parts):
    """Part ``part`` of ``parts`` of block b on one large row; the parts are independent."""
    k = b_k[b]
    m, d = _block_mats(b, mrow, b_k, b_diag, b_moff, b_mstride, mats)
    hi = re.shape[0] if b_diag[b] else re.shape[0] >> k
    step = (hi + parts - 1) // parts
    lo = min(hi, part * step)
    _apply_block(re, im, b_qs[b], k, b_diag[b], m, d, lo, min(hi, lo + step))


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _swap_lanes(X, Y, s):
    """X[8g + o] <-> Y[8g + o - s] for every lane o with bit s set (s in 1, 2, 4, a literal), on
    views whose length is a multiple of 8."""
    for g in range(X.shape[0] >> 3):
        base = g << 3
        for o in range(8):
            if o & s:
                t = X[base + o]
                X[base + o] = Y[base + o - s]
                Y[base + o - s] = t


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _swap_runs(X, Y):
    for u in range(X.shape[0]):
        t = X[u]
        X[u] = Y[u]
        Y[u] = t


@njit(cache=True, nogil=True, fastmath=True)
def _swap_bits_plane(X, a, b):
    """Exchange index bits a < b of one plane: the amplitudes whose bits (a, b) are (1, 0) trade
    places with their (0, 1) partners."""
    n = X.shape[0]
    sa = 1 << a
    sb = 1 << b
    if a >= 3:  # runs of sa amplitudes
        for base in range(0, n, 2 * sb):
            for h in range(base, base + sb, 2 * sa):
                _swap_runs(X[h + sa:h + 2 * sa], X[h + sb:h + sb + sa])
    elif b >= 3:  # lanes of 8-amplitude groups in b's 0-half against its 1-half
        for base in range(0, n, 2 * sb):
            Xl = X[base:base + sb]
            Yl = X[base + sb:base + 2 * sb]
            if sa == 1:
                _swap_lanes(Xl, Yl, 1)
            elif sa == 2:
                _swap_lanes(Xl, Yl, 2)
            else:
                _swap_lanes(Xl, Yl, 4)
    else:
        for i in range(n):
            if (i & sa) != 0 and (i & sb) == 0:
                j = i - sa + sb
                t = X[i]
                X[i] = X[j]
                X[j] = t


@njit(cache=True, nogil=True, fastmath=True)
def _permute_plane(X, S, t_lo, t_hi):
    """X[i] = X_old[t_hi[i >> 8] | t_lo[i & 255]] (a permutation of index bits, as tables of the
    low 8 and the other bits), through the scratch plane S: one pass for several exchanges."""
    S[:] = X
    for h in range(X.shape[0] >> 8):
        base = t_hi[h]
        o = h << 8
        for l in range(256):
            X[o + l] = S[base | t_lo[l]]


def permutation_tables(local: int, swaps: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """_permute_plane's tables for the exchanges ``swaps`` of bits (a, b) applied in order."""
    perm = list(range(local))  # bit j of the result comes from bit perm[j] of the source
    for a, b in swaps:
        perm[a], perm[b] = perm[b], perm[a]
    idx = np.arange(1 << local, dtype=np.int64)
    src = np.zeros_like(idx)
    for j in range(local):
        src |= ((idx >> j) & 1) << perm[j]
    return src[:256].copy(), src[::256].copy()


@njit(cache=True, nogil=True)
def _chunk_run(R, I, first, last, b_k, b_qs, b_diag, b_moff, b_mstride, mats, mrow,
               sw_at, sw_a, sw_b, pm_at, pm_lo, pm_hi, S):
    """Blocks [first, last) on one chunk with the relabelings scheduled at blocks first..last."""
    ns = sw_at.shape[0]
    npm = pm_at.shape[0]
    s = 0
    while s < ns and sw_at[s] < first:
        s += 1
    p = 0
    while p < npm and pm_at[p] < first:
        p += 1
    for b in range(first, last + 1):
        while s < ns and sw_at[s] == b:
            _swap_bits_plane(R, sw_a[s], sw_b[s])
            _swap_bits_plane(I, sw_a[s], sw_b[s])
            s += 1
        while p < npm and pm_at[p] == b:
            _permute_plane(R, S, pm_lo[p], pm_hi[p])
            _permute_plane(I, S, pm_lo[p], pm_hi[p])
            p += 1
        if b < last:
            _run_blocks_on_row(R, I, b, b + 1, b_k, b_qs, b_diag, b_moff, b_mstride, mats, mrow)


@njit(cache=True, nogil=True)
def run_rows_swapping(re, im, first, last, b_k, b_qs, b_diag, b_moff, b_mstride, mats, row_base, row_div,
                      sw_at, sw_a, sw_b, pm_at, pm_lo, pm_hi):
    """run_rows with qubit relabelings: before block sw_at[s] (or after the last when sw_at[s] ==
    last) index bits sw_a[s] < sw_b[s] of each row are exchanged, and at pm_at[p] the bits are
    permuted by tables pm_lo[p], pm_hi[p] (_permute_plane). Rows are cache-sized chunks of one
    state and the bits lie within them, so a relabeling costs no pass over memory."""
    S = np.empty(re.shape[1] if pm_at.shape[0] else 0, re.dtype)
    for r in range(re.shape[0]):
        _chunk_run(re[r], im[r], first, last, b_k, b_qs, b_diag, b_moff, b_mstride, mats, row_base + r // row_div,
                   sw_at, sw_a, sw_b, pm_at, pm_lo, pm_hi, S)


@njit(cache=True, nogil=True, inline="always")
def _insert_bits(j, pos, part):
    """j with the bits of ``part`` inserted at positions pos (ascending): bit i of part at pos[i]."""
    for i in range(pos.shape[0]):
        q = pos[i]
        j = ((j >> q) << (q + 1)) | (j & ((1 << q) - 1)) | (((part >> i) & 1) << q)
    return j


@njit(cache=True, nogil=True)
def run_group(re, im, g_first, g_last, g_chunked, local, hb, part, b_k, b_qs, b_diag, b_moff, b_mstride, mats,
              mrow, sw_at, sw_a, sw_b, pm_at, pm_lo, pm_hi):
    """Segments g (blocks g_first[g]..g_last[g], chunked or whole-state) of a large state, on the
    part whose bits hb (ascending, all >= local, touched by none of these blocks) spell ``part``:
    the parts are independent for the whole group, so threads meet once per group instead of
    once per run of blocks."""
    n_amp = re.shape[0]
    m = hb.shape[0]
    C = 1 << local
    P = n_amp >> local
    S = np.empty(C if pm_at.shape[0] else 0, re.dtype)
    cb = np.empty(m, np.int64)
    for i in range(m):
        cb[i] = hb[i] - local
    hp = np.empty(m, np.int64)
    for g in range(g_first.shape[0]):
        first = g_first[g]
        last = g_last[g]
        if g_chunked[g]:
            for j in range(P >> m):
                c = _insert_bits(j, cb, part)
                _chunk_run(re[c * C:(c + 1) * C], im[c * C:(c + 1) * C], first, last, b_k, b_qs, b_diag, b_moff,
                           b_mstride, mats, mrow, sw_at, sw_a, sw_b, pm_at, pm_lo, pm_hi, S)
            continue
        for b in range(first, last):
            k = b_k[b]
            mm, d = _block_mats(b, mrow, b_k, b_diag, b_moff, b_mstride, mats)
            diag = b_diag[b]
            hi = n_amp if diag else n_amp >> k
            for i in range(m):  # the fixed bits' positions in the block's base index
                below = 0
                if not diag:
                    for t in range(k):
                        if b_qs[b, t] < hb[i]:
                            below += 1
                hp[i] = hb[i] - below
            L = 1 << hp[0]
            for t in range((hi >> m) >> hp[0]):
                base = _insert_bits(t * L, hp, part)
                _apply_block(re, im, b_qs[b], k, diag, mm, d, base, base + L)


@njit(cache=True, nogil=True)
def relabel_mats(nrows, b_k, b_diag, b_moff, b_mstride, b_perm, mats, out):
    """Block matrices in relabeled bit order: out's index bit t is mats' bit b_perm[b, t] (blocks
    whose b_perm is the identity are copied as they are)."""
    out[:] = mats
    for b in range(b_k.shape[0]):
        k = b_k[b]
        ident = True
        for t in range(k):
            if b_perm[b, t] != t:
                ident = False
        if ident:
            continue
        D = 1 << k
        src = np.empty(D, np.int64)
        for y in range(D):
            x = 0
            for t in range(k):
                x |= ((y >> t) & 1) << b_perm[b, t]
            src[y] = x
        for r in range(nrows if b_mstride[b] else 1):
            off = b_moff[b] + r * b_mstride[b]
            if b_diag[b]:
                for y in range(D):
                    out[off + y] = mats[off + src[y]]
            else:
                for y in range(D):
                    for x in range(D):
                        out[off + y * D + x] = mats[off + src[y] * D + src[x]]


# -- products of small matrices (block composition) ------------------------------------------

@njit(cache=True, nogil=True, inline="always")
def _goff(x, g, pos):
    """Block-local index offset of gate-local index x (gate argument i is bit g-1-i of x)."""
    o = 0
    for i in range(g):
        if (x >> (g - 1 - i)) & 1:
            o |= 1 << pos[i]
    return o


@njit(cache=True, nogil=True, inline="always")
def _lmul1(M, D, G, p):
    """M <- (G x I) M for a one-qubit G on block-local bit position p."""
    s = 1 << p
    g00, g01, g10, g11 = G[0, 0], G[0, 1], G[1, 0], G[1, 1]
    for base in range(D):
        if base & s:
            continue
        for col in range(M.shape[1]):
            a = M[base, col]
            b = M[base + s, col]
            M[base, col] = g00 * a + g01 * b
            M[base + s, col] = g10 * a + g11 * b


@njit(cache=True, nogil=True)
def _lmul(M, D, G, g, pos, conj):
    """M <- (G x I) M on block-local bit positions ``pos`` (G conjugated elementwise if conj)."""
    if g == 1:  # the common case, without the generic index bookkeeping
        if conj:
            _lmul1(M, D, np.conj(G), pos[0])
        else:
            _lmul1(M, D, G, pos[0])
        return
    gd = 1 << g
    mask = _goff(gd - 1, g, pos)
    if g > 3:
        _lmul_wide(M, D, G, g, pos, conj, mask)
        return
    t0 = 0j
    t1 = 0j
    t2 = 0j
    t3 = 0j
    t4 = 0j
    t5 = 0j
    t6 = 0j
    t7 = 0j
    for base in range(D):
        if base & mask:
            continue
        for col in range(M.shape[1]):
            # gates up to 3 qubits: the gathered column lives in 8 registers (wider: _lmul_wide)
            for x in range(gd):
                v = M[base + _goff(x, g, pos), col]
                if x == 0:
                    t0 = v
                elif x == 1:
                    t1 = v
                elif x == 2:
                    t2 = v
                elif x == 3:
                    t3 = v
                elif x == 4:
                    t4 = v
                elif x == 5:
                    t5 = v
                elif x == 6:
                    t6 = v
                else:
                    t7 = v
            for y in range(gd):
                acc = 0j
                for x in range(gd):
                    gv = G[y, x]
                    if conj:
                        gv = gv.conjugate()
                    tv = t0 if x == 0 else t1 if x == 1 else t2 if x == 2 else t3 if x == 3 else \
                        t4 if x == 4 else t5 if x == 5 else t6 if x == 6 else t7
                    acc += gv * tv
                M[base + _goff(y, g, pos), col] = acc


@njit(cache=True, nogil=True)
def _lmul_wide(M, D, G, g, pos, conj, mask):
    """_lmul for gates on more than 3 qubits: the gathered column goes through a buffer of
    2**g entries (the register form holds 8)."""
    gd = 1 << g
    offs = np.empty(gd, np.int64)
    for x in range(gd):
        offs[x] = _goff(x, g, pos)
    tmp = np.empty(gd, np.complex128)
    for base in range(D):
        if base & mask:
            continue
        for col in range(M.shape[1]):
            for x in range(gd):
                tmp[x] = M[base + offs[x], col]
            for y in range(gd):
                acc = 0j
                for x in range(gd):
                    gv = G[y, x]
                    acc += (gv.conjugate() if conj else gv) * tmp[x]
                M[base + offs[y], col] = acc


@njit(cache=True, nogil=True)
def _rmul(M, D, G, g, pos, dag):
    """M <- M (G x I), or M (G x I)^dagger when dag: a gate applied to the rows of M."""
    if g == 1:
        s = 1 << pos[0]
        if dag:
            h00, h01, h10, h11 = G[0, 0].conjugate(), G[1, 0].conjugate(), G[0, 1].conjugate(), G[1, 1].conjugate()
        else:
            h00, h01, h10, h11 = G[0, 0], G[0, 1], G[1, 0], G[1, 1]
        for base in range(D):
            if base & s:
                continue
            for a in range(M.shape[0]):
                x = M[a, base]
                y = M[a, base + s]
                M[a, base] = x * h00 + y * h10
                M[a, base + s] = x * h01 + y * h11
        return
    gd = 1 << g
    mask = _goff(gd - 1, g, pos)
    tmp = np.empty(gd, np.complex128)
    for base in range(D):
        if base & mask:
            continue
        for a in range(M.shape[0]):
            for x in range(gd):
                tmp[x] = M[a, base + _goff(x, g, pos)]
            for y in range(gd):
                acc = 0j
                for x in range(gd):
                    acc += tmp[x] * (G[y, x].conjugate() if dag else G[x, y])
                M[a, base + _goff(y, g, pos)] = acc


@njit(cache=True, nogil=True)
def _trace_lmul(G, g, pos, M, D):
    """Re Tr((G x I) M) without forming the product."""
    if g == 1:
        s = 1 << pos[0]
        tr = 0j
        for base in range(D):
            if base & s:
                continue
            tr += G[0, 0] * M[base, base] + G[0, 1] * M[base + s, base] + G[1, 0] * M[base, base + s] \
                + G[1, 1] * M[base + s, base + s]
        return tr.real
    gd = 1 << g
    mask = _goff(gd - 1, g, pos)
    tr = 0.0
    for base in range(D):
        if base & mask:
            continue
        for y in range(gd):
            oy = base + _goff(y, g, pos)
            for x in range(gd):
                tr += (G[y, x] * M[base + _goff(x, g, pos), oy]).real
    return tr


@njit(cache=True, nogil=True)
def _all_one_qubit(g_nq, g0, g1):
    for gi in range(g0, g1):
        if g_nq[gi] != 1:
            return False
    return True


@njit(cache=True, nogil=True)
def _gate_mat(gi, row, g_nq, g_off, g_stride, gmats):
    gd = 1 << g_nq[gi]
    off = g_off[gi] + row * g_stride[gi]
    return gmats[off:off + gd * gd].reshape(gd, gd)


@njit(cache=True, nogil=True)
def compose(nrows, b_k, b_diag, b_moff, b_mstride, b_gfirst, b_glast, g_nq, g_pos, g_off, g_stride,
            gmats, mats):
    """Block matrices (or diagonals) from their member gates, for every block and matrix row."""
    nb = b_k.shape[0]
    for b in range(nb):
        if b_k[b] == 1 and not b_diag[b] and _all_one_qubit(g_nq, b_gfirst[b], b_glast[b]):
            for r in range(nrows if b_mstride[b] else 1):
                _compose_1q(b_gfirst[b], b_glast[b], r, g_off, g_stride, gmats, mats, b_moff[b] + r * b_mstride[b])
            continue
        # row-free blocks once (a call with 14 array arguments costs ~0.2 us in reference counts)
        for r in range(nrows if b_mstride[b] else 1):
            _compose_one(b, r, b_k, b_diag, b_moff, b_mstride, b_gfirst, b_glast, g_nq,
                         g_pos, g_off, g_stride, gmats, mats)


@njit(cache=True, nogil=True, inline="always")
def _diag_mul12(d, G, g, pos):
    """d <- d * diag(G x I) for a one- or two-qubit diagonal gate at block-local positions pos, by
    contiguous runs (no per-entry bit extraction: an IQP embedding's 45 rzz per row at 10 qubits
    took 7 ms a step that way)."""
    D = d.shape[0]
    if g == 1:
        s = 1 << pos[0]
        v0 = G[0, 0]
        v1 = G[1, 1]
        for base in range(0, D, 2 * s):
            for u in range(base, base + s):
                d[u] *= v0
            for u in range(base + s, base + 2 * s):
                d[u] *= v1
        return
    # argument 0 is bit 1 of the gate index, argument 1 bit 0
    pa, pb = pos[0], pos[1]
    hi = max(pa, pb)
    lo = min(pa, pb)
    sh = 1 << hi
    sl = 1 << lo
    for base in range(0, D, 2 * sh):
        for h in range(2):
            for mid in range(base + h * sh, base + (h + 1) * sh, 2 * sl):
                for l in range(2):
                    # the bits at hi and lo are h and l
                    x = (h << 1 | l) if pa == hi else (l << 1 | h)
                    v = G[x, x]
                    for u in range(mid + l * sl, mid + (l + 1) * sl):
                        d[u] *= v


@njit(cache=True, nogil=True)
def _compose_1q(g0, g1, r, g_off, g_stride, gmats, mats, off):
    """A dense one-qubit block's matrix G_last ... G_first in registers, into mats[off:off + 4]
    (the general path's three small arrays per row were most of the time of many-row circuits
    of one or two qubits)."""
    m00, m01, m10, m11 = 1.0 + 0j, 0j, 0j, 1.0 + 0j
    for gi in range(g0, g1):
        o = g_off[gi] + r * g_stride[gi]
        h00, h01, h10, h11 = gmats[o], gmats[o + 1], gmats[o + 2], gmats[o + 3]
        m00, m10 = h00 * m00 + h01 * m10, h10 * m00 + h11 * m10
        m01, m11 = h00 * m01 + h01 * m11, h10 * m01 + h11 * m11
    mats[off], mats[off + 1], mats[off + 2], mats[off + 3] = m00, m01, m10, m11


@njit(cache=True, nogil=True)
def _compose_one(b, r, b_k, b_diag, b_moff, b_mstride, b_gfirst, b_glast, g_nq, g_pos, g_off, g_stride,
                 gmats, mats):
    if True:
        if r > 0 and b_mstride[b] == 0:
            return
        D = 1 << b_k[b]
        if b_diag[b]:
            d = np.ones(D, np.complex128)
            for gi in range(b_gfirst[b], b_glast[b]):
                G = _gate_mat(gi, r, g_nq, g_off, g_stride, gmats)
                g = g_nq[gi]
                if g <= 2:
                    _diag_mul12(d, G, g, g_pos[gi])
                    continue
                for loc in range(D):
                    x = 0
                    for i in range(g):
                        x |= ((loc >> g_pos[gi, i]) & 1) << (g - 1 - i)
                    d[loc] *= G[x, x]
            off = b_moff[b] + r * b_mstride[b]
            for loc in range(D):
                mats[off + loc] = d[loc]
        elif b_glast[b] - b_gfirst[b] == 1 and g_nq[b_gfirst[b]] == b_k[b]:
            # one gate on all of the block's qubits (a lone wide gate): its matrix with the index
            # bits placed, D**2 instead of _lmul's D**2 2**g
            gi = b_gfirst[b]
            g = g_nq[gi]
            G = _gate_mat(gi, r, g_nq, g_off, g_stride, gmats)
            off = b_moff[b] + r * b_mstride[b]
            for y in range(D):
                oy = _goff(y, g, g_pos[gi])
                for x in range(D):
                    mats[off + oy * D + _goff(x, g, g_pos[gi])] = G[y, x]
        else:
            M = np.eye(D, dtype=np.complex128)
            # runs of one-qubit gates on a qubit multiply as 2x2 matrices first and reach M as one
            # _lmul (rz ry rz cz rz ry rz: 3 products with M instead of 7)
            k = b_k[b]
            pend = np.empty((k, 2, 2), np.complex128)
            has = np.zeros(k, np.bool_)
            for gi in range(b_gfirst[b], b_glast[b]):
                G = _gate_mat(gi, r, g_nq, g_off, g_stride, gmats)
                g = g_nq[gi]
                if g == 1:
                    p = g_pos[gi, 0]
                    if has[p]:
                        a00, a01, a10, a11 = pend[p, 0, 0], pend[p, 0, 1], pend[p, 1, 0], pend[p, 1, 1]
                        pend[p, 0, 0] = G[0, 0] * a00 + G[0, 1] * a10
                        pend[p, 0, 1] = G[0, 0] * a01 + G[0, 1] * a11
                        pend[p, 1, 0] = G[1, 0] * a00 + G[1, 1] * a10
                        pend[p, 1, 1] = G[1, 0] * a01 + G[1, 1] * a11
                    else:
                        pend[p] = G
                        has[p] = True
                    continue
                for i in range(g):
                    p = g_pos[gi, i]
                    if has[p]:
                        _lmul(M, D, pend[p], 1, g_pos[gi, i:i + 1], False)
                        has[p] = False
                _lmul(M, D, G, g, g_pos[gi], False)
            for p in range(k):
                if has[p]:
                    _lmul1(M, D, pend[p], p)
            off = b_moff[b] + r * b_mstride[b]
            for y in range(D):
                for x in range(D):
                    mats[off + y * D + x] = M[y, x]


# -- product states, observables ------------------------------------------------------------

@njit(cache=True, nogil=True)
def product_states(re, im, vecs, vrow_var, row0):
    """Row r = kron over qubits of vecs[q, row] (qubit 0 = least significant index bit)."""
    for r in range(re.shape[0]):
        _product_state(re[r], im[r], vecs, (row0 + r) * vrow_var)


@njit(cache=True, nogil=True)
def _product_state(re, im, vecs, vr):
    N = re.shape[0]
    n = vecs.shape[0]
    re[0] = 1.0
    im[0] = 0.0
    size = 1
    for q in range(n):
        v0 = vecs[q, vr, 0]
        v1 = vecs[q, vr, 1]
        for i in range(size):
            a = complex(re[i], im[i])
            b0 = a * v0
            b1 = a * v1
            re[i] = b0.real
            im[i] = b0.imag
            re[i + size] = b1.real
            im[i + size] = b1.imag
        size *= 2
    for i in range(size, N):
        re[i] = 0.0
        im[i] = 0.0


@njit(cache=True, nogil=True, inline="always")
def _parity(x):
    x ^= x >> 32
    x ^= x >> 16
    x ^= x >> 8
    x ^= x >> 4
    x ^= x >> 2
    x ^= x >> 1
    return x & 1


@njit(cache=True, nogil=True, inline="always")
def _ipow(ny):
    r = ny & 3
    if r == 0:
        return 1.0 + 0j
    if r == 1:
        return 1j
    if r == 2:
        return -1.0 + 0j
    return -1j


@njit(cache=True, nogil=True)
def expvals(re, im, t_x, t_z, t_ny, t_out, t_coeff, out):
    """out[r, k] = sum over terms of output k of coeff * <psi_r| P |psi_r>."""
    none = np.zeros(1)  # the weights of rows without single-Z sums (one array per call, not per row)
    for r in range(re.shape[0]):
        _expvals_row(re[r], im[r], t_x, t_z, t_ny, t_out, t_coeff, out[r], none)


@njit(cache=True, nogil=True, fastmath=True)
def _qubit_weights(re, im):
    """(total probability, P(qubit q = 1) for every q) in one pass: single-Z terms (a sum of Z_i
    is the usual energy) then cost one pass for all of them instead of one pass each."""
    N = re.shape[0]
    n = 0
    while (1 << n) < N:
        n += 1
    w = np.zeros(max(n, 1))
    low = min(n, 6)
    step = 1 << low
    total = 0.0
    for c in range(0, N, step):
        s = 0.0
        for j in range(step):
            p = re[c + j] * re[c + j] + im[c + j] * im[c + j]
            s += p
            for q in range(low):
                w[q] += p * ((j >> q) & 1)
        total += s
        hi = c >> low
        for q in range(low, n):
            if (hi >> (q - low)) & 1:
                w[q] += s
    return total, w


@njit(cache=True, nogil=True, fastmath=True)
def _expvals_row(re, im, t_x, t_z, t_ny, t_out, t_coeff, out, none):
    N = re.shape[0]
    single = 0
    for t in range(t_x.shape[0]):
        if t_x[t] == 0 and t_z[t] != 0 and (t_z[t] & (t_z[t] - 1)) == 0:
            single += 1
    total = 0.0
    w = none
    if single > 1:
        total, w = _qubit_weights(re, im)
    for t in range(t_x.shape[0]):
        x = t_x[t]
        z = t_z[t]
        if single > 1 and x == 0 and z != 0 and (z & (z - 1)) == 0:
            q = 0
            while (1 << q) != z:
                q += 1
            out[t_out[t]] += t_coeff[t] * (total - 2.0 * w[q])
            continue
        if x == 0:
            acc = 0.0
            for i in range(N):
                p = re[i] * re[i] + im[i] * im[i]
                acc += -p if _parity(i & z) else p
            val = acc
        else:
            # sum_i conj(psi_i) psi_j (-1)^{parity(j & z)}, j = i ^ x, times i^{ny}
            ar = 0.0
            ai = 0.0
            for i in range(N):
                j = i ^ x
                vr = re[i] * re[j] + im[i] * im[j]
                vi = re[i] * im[j] - im[i] * re[j]
                if _parity(j & z):
                    ar -= vr
                    ai -= vi
                else:
                    ar += vr
                    ai += vi
            val = (_ipow(t_ny[t]) * complex(ar, ai)).real
        out[t_out[t]] += t_coeff[t] * val


@njit(cache=True, nogil=True)
def pauli_sum(re, im, lre, lim, t_x, t_z, t_ny, coeffs):
    """lam[r] = sum_t coeffs[r, t] P_t psi[r] (split planes)."""
    for r in range(re.shape[0]):
        _pauli_sum_row(re[r], im[r], lre[r], lim[r], t_x, t_z, t_ny, coeffs[r])


@njit(cache=True, nogil=True, fastmath=True)
def _pauli_sum_row(re, im, ore, oim, t_x, t_z, t_ny, coeffs):
    N = re.shape[0]
    for i in range(N):
        ore[i] = 0.0
        oim[i] = 0.0
    for t in range(t_x.shape[0]):
        cf = coeffs[t]
        if cf == 0.0:
            continue
        c = _ipow(t_ny[t]) * cf
        cr = c.real
        ci = c.imag
        x = t_x[t]
        z = t_z[t]
        for i in range(N):
            j = i ^ x
            sr = cr * re[j] - ci * im[j]
            si = cr * im[j] + ci * re[j]
            if _parity(j & z):
                ore[i] -= sr
                oim[i] -= si
            else:
                ore[i] += sr
                oim[i] += si


# -- adjoint ---------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def _cross(pr, pi, lr, li, qs, k, lo, hi, C):
    """C[a, b] += sum over the other bits of psi[(a, rest)] conj(lam[(b, rest)]), base range [lo, hi)."""
    if k == 1:
        _cross1(pr, pi, lr, li, qs[0], lo, hi, C)
        return
    if k == 2:
        _cross2(pr, pi, lr, li, qs[0], qs[1], lo, hi, C)
        return
    D = 1 << k
    offs = _offsets(qs, k)
    for j in range(lo, hi):
        i = _deposit(j, qs, k)
        for a in range(D):
            pa = complex(pr[i + offs[a]], pi[i + offs[a]])
            for b in range(D):
                C[a, b] += pa * complex(lr[i + offs[b]], -li[i + offs[b]])


@njit(cache=True, nogil=True, fastmath=True)
def _cross1(pr, pi, lr, li, q, lo, hi, C):
    one = numba.uint64(1)
    uq = numba.uint64(q)
    s = one << uq
    low = s - one
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0  # re, im of C00, C01, C10, C11
    j = numba.uint64(lo)
    end = numba.uint64(hi)
    while j < end:
        t0 = j & low
        run = min(s - t0, end - j)
        i0 = ((j >> uq) << (uq + one)) | t0
        r0 = r1 = r2 = r3 = r4 = r5 = r6 = r7 = 0.0
        for u in range(run):
            i = i0 + numba.uint64(u)
            k = i + s
            a0r, a0i, a1r, a1i = pr[i], pi[i], pr[k], pi[k]
            b0r, b0i, b1r, b1i = lr[i], li[i], lr[k], li[k]
            # p_a conj(l_b) = (ar br + ai bi) + i (ai br - ar bi)
            r0 += a0r * b0r + a0i * b0i
            r1 += a0i * b0r - a0r * b0i
            r2 += a0r * b1r + a0i * b1i
            r3 += a0i * b1r - a0r * b1i
            r4 += a1r * b0r + a1i * b0i
            r5 += a1i * b0r - a1r * b0i
            r6 += a1r * b1r + a1i * b1i
            r7 += a1i * b1r - a1r * b1i
        s0 += r0
        s1 += r1
        s2 += r2
        s3 += r3
        s4 += r4
        s5 += r5
        s6 += r6
        s7 += r7
        j += run
    C[0, 0] += complex(s0, s1)
    C[0, 1] += complex(s2, s3)
    C[1, 0] += complex(s4, s5)
    C[1, 1] += complex(s6, s7)


@njit(cache=True, nogil=True, fastmath=True)
def _cross2(pr, pi, lr, li, q0, q1, lo, hi, C):
    one = numba.uint64(1)
    u0 = numba.uint64(q0)
    u1 = numba.uint64(q1)
    s0 = one << u0
    s1 = one << u1
    l0m = s0 - one
    l1m = s1 - one
    acc = np.zeros(32)
    j = numba.uint64(lo)
    end = numba.uint64(hi)
    while j < end:
        t0 = j & l0m
        run = min(s0 - t0, end - j)
        i0 = ((j >> u0) << (u0 + one)) | t0
        i0 = ((i0 >> u1) << (u1 + one)) | (i0 & l1m)
        r00 = i00 = r01 = i01 = r02 = i02 = r03 = i03 = r10 = i10 = r11 = i11 = r12 = i12 = r13 = i13 = r20 = i20 = r21 = i21 = r22 = i22 = r23 = i23 = r30 = i30 = r31 = i31 = r32 = i32 = r33 = i33 = 0.0
        for u in range(run):
            i = i0 + numba.uint64(u)
            k1 = i + s0
            k2 = i + s1
            k3 = k2 + s0
            ar0, ar1, ar2, ar3 = pr[i], pr[k1], pr[k2], pr[k3]
            ai0, ai1, ai2, ai3 = pi[i], pi[k1], pi[k2], pi[k3]
            br0, br1, br2, br3 = lr[i], lr[k1], lr[k2], lr[k3]
            bi0, bi1, bi2, bi3 = li[i], li[k1], li[k2], li[k3]
            r00 += ar0 * br0 + ai0 * bi0
            i00 += ai0 * br0 - ar0 * bi0
            r01 += ar0 * br1 + ai0 * bi1
            i01 += ai0 * br1 - ar0 * bi1
            r02 += ar0 * br2 + ai0 * bi2
            i02 += ai0 * br2 - ar0 * bi2
            r03 += ar0 * br3 + ai0 * bi3
            i03 += ai0 * br3 - ar0 * bi3
            r10 += ar1 * br0 + ai1 * bi0
            i10 += ai1 * br0 - ar1 * bi0
            r11 += ar1 * br1 + ai1 * bi1
            i11 += ai1 * br1 - ar1 * bi1
            r12 += ar1 * br2 + ai1 * bi2
            i12 += ai1 * br2 - ar1 * bi2
            r13 += ar1 * br3 + ai1 * bi3
            i13 += ai1 * br3 - ar1 * bi3
            r20 += ar2 * br0 + ai2 * bi0
            i20 += ai2 * br0 - ar2 * bi0
            r21 += ar2 * br1 + ai2 * bi1
            i21 += ai2 * br1 - ar2 * bi1
            r22 += ar2 * br2 + ai2 * bi2
            i22 += ai2 * br2 - ar2 * bi2
            r23 += ar2 * br3 + ai2 * bi3
            i23 += ai2 * br3 - ar2 * bi3
            r30 += ar3 * br0 + ai3 * bi0
            i30 += ai3 * br0 - ar3 * bi0
            r31 += ar3 * br1 + ai3 * bi1
            i31 += ai3 * br1 - ar3 * bi1
            r32 += ar3 * br2 + ai3 * bi2
            i32 += ai3 * br2 - ar3 * bi2
            r33 += ar3 * br3 + ai3 * bi3
            i33 += ai3 * br3 - ar3 * bi3
        acc[0] += r00
        acc[1] += i00
        acc[2] += r01
        acc[3] += i01
        acc[4] += r02
        acc[5] += i02
        acc[6] += r03
        acc[7] += i03
        acc[8] += r10
        acc[9] += i10
        acc[10] += r11
        acc[11] += i11
        acc[12] += r12
        acc[13] += i12
        acc[14] += r13
        acc[15] += i13
        acc[16] += r20
        acc[17] += i20
        acc[18] += r21
        acc[19] += i21
        acc[20] += r22
        acc[21] += i22
        acc[22] += r23
        acc[23] += i23
        acc[24] += r30
        acc[25] += i30
        acc[26] += r31
        acc[27] += i31
        acc[28] += r32
        acc[29] += i32
        acc[30] += r33
        acc[31] += i33
        j += run
    for a in range(4):
        for b in range(4):
            C[a, b] += complex(acc[2 * (4 * a + b)], acc[2 * (4 * a + b) + 1])


@njit(cache=True, nogil=True)
def _cross_diag(pr, pi, lr, li, qs, k, lo, hi, C):
    """Diagonal blocks only need C[a, a]: sum over indices with local index a."""
    for i in range(lo, hi):
        loc = 0
        for t in range(k):
            loc |= ((i >> qs[t]) & 1) << t
        C[loc, loc] += complex(pr[i] * lr[i] + pi[i] * li[i], pi[i] * lr[i] - pr[i] * li[i])


@njit(cache=True, nogil=True)
def _diag_of(G, g, pos, D):
    """The diagonal of a diagonal gate placed on block-local bits ``pos``, as D entries."""
    out = np.empty(D, np.complex128)
    for loc in range(D):
        x = 0
        for i in range(g):
            x |= ((loc >> pos[i]) & 1) << (g - 1 - i)
        out[loc] = G[x, x]
    return out


@njit(cache=True, nogil=True)
def _block_grad_diag(b, row, C, b_k, b_gfirst, b_glast, g_nq, g_pos, g_off, g_stride, gmats,
                     d_off, d_stride, d_slot, d_first, d_last, dmats, out):
    """_block_grad for diagonal blocks: every C_j is diagonal, so all of it is O(D) per gate."""
    D = 1 << b_k[b]
    g0 = b_gfirst[b]
    g1 = b_glast[b]
    c = np.empty(D, np.complex128)
    for a in range(D):
        c[a] = C[a, a]
    for gi in range(g1 - 1, g0, -1):
        c *= _diag_of(_gate_mat(gi, row, g_nq, g_off, g_stride, gmats), g_nq[gi], g_pos[gi], D)
    for gi in range(g0, g1):
        gd = 1 << g_nq[gi]
        for e in range(d_first[gi], d_last[gi]):
            off = d_off[e] + row * d_stride[e]
            dG = _diag_of(dmats[off:off + gd * gd].reshape(gd, gd), g_nq[gi], g_pos[gi], D)
            out[d_slot[e]] += 2.0 * (dG * c).sum().real
        if gi + 1 < g1:
            c *= _diag_of(_gate_mat(gi, row, g_nq, g_off, g_stride, gmats), g_nq[gi], g_pos[gi], D)
            c *= _diag_of(_gate_mat(gi + 1, row, g_nq, g_off, g_stride, gmats), g_nq[gi + 1], g_pos[gi + 1], D).conj()


@njit(cache=True, nogil=True)
def _block_grad_1q(row, c00, c01, c10, c11, g0, g1, g_off, g_stride, gmats, d_off, d_stride, d_slot, d_first,
                   d_last, dmats, out):
    """_block_grad for a dense one-qubit block (D = 2), the same recurrence with C_j in four
    registers and the gates read in place: many-row circuits of one or two qubits spend most of
    their gradient here, and the generic form's 2x2 views and loops cost ~1 us per gate."""
    for gi in range(g1 - 1, g0, -1):  # C_1 = C G_m ... G_2
        o = g_off[gi] + row * g_stride[gi]
        h00, h01, h10, h11 = gmats[o], gmats[o + 1], gmats[o + 2], gmats[o + 3]
        c00, c01 = c00 * h00 + c01 * h10, c00 * h01 + c01 * h11
        c10, c11 = c10 * h00 + c11 * h10, c10 * h01 + c11 * h11
    for gi in range(g0, g1):
        for e in range(d_first[gi], d_last[gi]):
            o = d_off[e] + row * d_stride[e]
            out[d_slot[e]] += 2.0 * (dmats[o] * c00 + dmats[o + 1] * c10 + dmats[o + 2] * c01
                                     + dmats[o + 3] * c11).real
        if gi + 1 < g1:
            o = g_off[gi] + row * g_stride[gi]  # C <- G_j C
            h00, h01, h10, h11 = gmats[o], gmats[o + 1], gmats[o + 2], gmats[o + 3]
            c00, c10 = h00 * c00 + h01 * c10, h10 * c00 + h11 * c10
            c01, c11 = h00 * c01 + h01 * c11, h10 * c01 + h11 * c11
            o = g_off[gi + 1] + row * g_stride[gi + 1]  # C <- C G_{j+1}^dagger
            h00, h01 = gmats[o].conjugate(), gmats[o + 2].conjugate()
            h10, h11 = gmats[o + 1].conjugate(), gmats[o + 3].conjugate()
            c00, c01 = c00 * h00 + c01 * h10, c00 * h01 + c01 * h11
            c10, c11 = c10 * h00 + c11 * h10, c10 * h01 + c11 * h11


@njit(cache=True, nogil=True)
def _at_most_two_qubits(g_nq, g0, g1):
    for gi in range(g0, g1):
        if g_nq[gi] != 1 and g_nq[gi] != 2:
            return False
    return True


@njit(cache=True, nogil=True)
def _goff2(x, p0, p1):
    """Block-local index of two-qubit gate basis state x (argument 0 is bit 1 of x)."""
    return (((x >> 1) & 1) << p0) | ((x & 1) << p1)


@njit(cache=True, nogil=True)
def _mul4(M, gm, o, g, p0, p1, left, dag):
    """M (4x4) <- (G x I) M when ``left``, else M (G x I) (G^dagger when ``dag``), for a one-qubit
    gate on block-local bit p0 or a two-qubit gate on (p0, p1), G read in place at gm[o:]."""
    if g == 1:
        s = 1 << p0
        g00, g01, g10, g11 = gm[o], gm[o + 1], gm[o + 2], gm[o + 3]
        if left:
            for base in range(4):
                if base & s:
                    continue
                for col in range(4):
                    a = M[base, col]
                    b = M[base + s, col]
                    M[base, col] = g00 * a + g01 * b
                    M[base + s, col] = g10 * a + g11 * b
            return
        if dag:
            g00, g01, g10, g11 = g00.conjugate(), g10.conjugate(), g01.conjugate(), g11.conjugate()
        for base in range(4):
            if base & s:
                continue
            for a in range(4):
                x = M[a, base]
                y = M[a, base + s]
                M[a, base] = x * g00 + y * g10
                M[a, base + s] = x * g01 + y * g11
        return
    i0, i1, i2, i3 = _goff2(0, p0, p1), _goff2(1, p0, p1), _goff2(2, p0, p1), _goff2(3, p0, p1)
    if left:
        for col in range(4):
            t0, t1, t2, t3 = M[i0, col], M[i1, col], M[i2, col], M[i3, col]
            M[i0, col] = gm[o] * t0 + gm[o + 1] * t1 + gm[o + 2] * t2 + gm[o + 3] * t3
            M[i1, col] = gm[o + 4] * t0 + gm[o + 5] * t1 + gm[o + 6] * t2 + gm[o + 7] * t3
            M[i2, col] = gm[o + 8] * t0 + gm[o + 9] * t1 + gm[o + 10] * t2 + gm[o + 11] * t3
            M[i3, col] = gm[o + 12] * t0 + gm[o + 13] * t1 + gm[o + 14] * t2 + gm[o + 15] * t3
        return
    # M[a, i_y] <- sum_x t_x H[x, y] with H = G, or H[x, y] = conj(G[y, x]) for the dagger
    r, c = (1, 4) if dag else (4, 1)
    for a in range(4):
        t0, t1, t2, t3 = M[a, i0], M[a, i1], M[a, i2], M[a, i3]
        for y in range(4):
            h0, h1, h2, h3 = gm[o + y * c], gm[o + r + y * c], gm[o + 2 * r + y * c], gm[o + 3 * r + y * c]
            if dag:
                h0, h1, h2, h3 = h0.conjugate(), h1.conjugate(), h2.conjugate(), h3.conjugate()
            v = t0 * h0 + t1 * h1 + t2 * h2 + t3 * h3
            if y == 0:
                M[a, i0] = v
            elif y == 1:
                M[a, i1] = v
            elif y == 2:
                M[a, i2] = v
            else:
                M[a, i3] = v


@njit(cache=True, nogil=True)
def _trace4(gm, o, g, p0, p1, M):
    """Re Tr((G x I) M) for M 4x4 and G as in _mul4."""
    tr = 0j
    if g == 1:
        s = 1 << p0
        for base in range(4):
            if base & s:
                continue
            tr += gm[o] * M[base, base] + gm[o + 1] * M[base + s, base] + gm[o + 2] * M[base, base + s] \
                + gm[o + 3] * M[base + s, base + s]
        return tr.real
    for y in range(4):
        iy = _goff2(y, p0, p1)
        for x in range(4):
            tr += gm[o + 4 * y + x] * M[_goff2(x, p0, p1), iy]
    return tr.real


@njit(cache=True, nogil=True)
def _block_grad_2q(row, C, g0, g1, g_nq, g_pos, g_off, g_stride, gmats, d_off, d_stride, d_slot, d_first, d_last,
                   dmats, out):
    """_block_grad for a dense two-qubit block (D = 4) of one- and two-qubit gates: the same
    recurrence with gates read in place (no 2x2 / 4x4 views, positions as integers). Per-row
    gradients of fused two-qubit circuits (the IQP model at 2 qubits: 40 gates in one block)
    spent ~1 us a gate in the generic form's views and calls."""
    for gi in range(g1 - 1, g0, -1):  # C_1 = C G_m ... G_2
        _mul4(C, gmats, g_off[gi] + row * g_stride[gi], g_nq[gi], g_pos[gi, 0], g_pos[gi, 1], False, False)
    for gi in range(g0, g1):
        g = g_nq[gi]
        for e in range(d_first[gi], d_last[gi]):
            out[d_slot[e]] += 2.0 * _trace4(dmats, d_off[e] + row * d_stride[e], g, g_pos[gi, 0], g_pos[gi, 1], C)
        if gi + 1 < g1:
            _mul4(C, gmats, g_off[gi] + row * g_stride[gi], g, g_pos[gi, 0], g_pos[gi, 1], True, False)
            _mul4(C, gmats, g_off[gi + 1] + row * g_stride[gi + 1], g_nq[gi + 1], g_pos[gi + 1, 0],
                  g_pos[gi + 1, 1], False, True)


@njit(cache=True, nogil=True)
def _block_grad(b, row, C, b_k, b_diag, b_gfirst, b_glast, g_nq, g_pos, g_off, g_stride, gmats,
                d_gate, d_off, d_stride, d_slot, d_first, d_last, dmats, out):
    """Add 2 Re Tr(dG_j C_j) for every differentiable angle of block b's gates to out[slot]:
    C_j = G_{j-1}..G_1 C (G_m..G_{j+1}), built gate by gate from C = psi_in x lam_out^dagger."""
    if b_diag[b]:
        _block_grad_diag(b, row, C, b_k, b_gfirst, b_glast, g_nq, g_pos, g_off, g_stride, gmats,
                         d_off, d_stride, d_slot, d_first, d_last, dmats, out)
        return
    D = 1 << b_k[b]
    g0 = b_gfirst[b]
    g1 = b_glast[b]
    if D == 2 and _all_one_qubit(g_nq, g0, g1):
        _block_grad_1q(row, C[0, 0], C[0, 1], C[1, 0], C[1, 1], g0, g1, g_off, g_stride, gmats, d_off, d_stride,
                       d_slot, d_first, d_last, dmats, out)
        return
    if D == 4 and _at_most_two_qubits(g_nq, g0, g1):
        _block_grad_2q(row, C, g0, g1, g_nq, g_pos, g_off, g_stride, gmats, d_off, d_stride, d_slot, d_first,
                       d_last, dmats, out)
        return
    # C_1 = C M G_1^dagger = C G_m ... G_2
    Cj = C
    for gi in range(g1 - 1, g0, -1):
        _rmul(Cj, D, _gate_mat(gi, row, g_nq, g_off, g_stride, gmats), g_nq[gi], g_pos[gi], False)
    for gi in range(g0, g1):
        gd = 1 << g_nq[gi]
        for e in range(d_first[gi], d_last[gi]):
            off = d_off[e] + row * d_stride[e]
            out[d_slot[e]] += 2.0 * _trace_lmul(dmats[off:off + gd * gd].reshape(gd, gd), g_nq[gi], g_pos[gi], Cj, D)
        if gi + 1 < g1:
            _lmul(Cj, D, _gate_mat(gi, row, g_nq, g_off, g_stride, gmats), g_nq[gi], g_pos[gi], False)
            _rmul(Cj, D, _gate_mat(gi + 1, row, g_nq, g_off, g_stride, gmats), g_nq[gi + 1], g_pos[gi + 1], True)


@njit(cache=True, nogil=True)
def dagger_blocks(nrows, b_k, b_diag, b_moff, b_mstride, mats, out):
    """out = every block matrix's adjoint (diagonals conjugated), same layout as mats: built once
    per call, so the adjoint sweep does not allocate one per block and row."""
    for b in range(b_k.shape[0]):
        D = 1 << b_k[b]
        for r in range(nrows if b_mstride[b] else 1):
            off = b_moff[b] + r * b_mstride[b]
            if b_diag[b]:
                for a in range(D):
                    out[off + a] = mats[off + a].conjugate()
            else:
                for y in range(D):
                    for x in range(D):
                        out[off + x * D + y] = mats[off + y * D + x].conjugate()


@njit(cache=True, nogil=True)
def adjoint_rows(pr, pi, lr, li, b_k, b_qs, b_diag, b_moff, b_mstride, mats, b_grad, b_gfirst, b_glast,
                 g_nq, g_pos, g_off, g_stride, gmats, d_gate, d_off, d_stride, d_slot, d_first, d_last,
                 dmats, out, row0, b_sum, Csum):
    """Backward sweep per row: psi and lam (split planes, rows x amplitudes) go back through the
    blocks (``mats`` holds their adjoints, ``dagger_blocks``); blocks with differentiable gates add their angle gradients to out (rows, slots) from
    the cross matrix of psi_in and lam_out. Blocks with b_sum[b] (their gates and derivatives
    equal on every row, and the caller wants the gradient summed over rows) add their cross
    matrix to Csum[b] instead: the gradient is linear in it, so ``summed_block_grads`` turns the
    row sum into gradients once instead of once per row."""
    for r in range(pr.shape[0]):
        _adjoint_row(pr[r], pi[r], lr[r], li[r], row0 + r, b_k, b_qs, b_diag, b_moff, b_mstride, mats, b_grad, b_gfirst,
                     b_glast, g_nq, g_pos, g_off, g_stride, gmats, d_gate, d_off, d_stride, d_slot, d_first,
                     d_last, dmats, out[r], b_sum, Csum)


@njit(cache=True, nogil=True)
def _adjoint_row(pr, pi, lr, li, row, b_k, b_qs, b_diag, b_moff, b_mstride, mats, b_grad, b_gfirst, b_glast,
                 g_nq, g_pos, g_off, g_stride, gmats, d_gate, d_off, d_stride, d_slot, d_first, d_last,
                 dmats, out, b_sum, Csum):
    N = pr.shape[0]
    kmax = 0
    for b in range(b_k.shape[0]):
        if b_grad[b]:
            kmax = max(kmax, b_k[b])
    C = np.zeros((1 << kmax, 1 << kmax), np.complex128)
    for b in range(b_k.shape[0] - 1, -1, -1):
        k = b_k[b]
        D = 1 << k
        m, d = _block_mats(b, row, b_k, b_diag, b_moff, b_mstride, mats)
        hi = N if b_diag[b] else N >> k
        _apply_block(pr, pi, b_qs[b], k, b_diag[b], m, d, 0, hi)
        if b_grad[b]:
            Cb = Csum[b, :D, :D] if b_sum[b] else C[:D, :D]
            if not b_sum[b]:
                Cb[:, :] = 0
            if b_diag[b]:
                _cross_diag(pr, pi, lr, li, b_qs[b], k, 0, N, Cb)
            else:
                _cross(pr, pi, lr, li, b_qs[b], k, 0, N >> k, Cb)
            if not b_sum[b]:
                _block_grad(b, row, Cb, b_k, b_diag, b_gfirst, b_glast, g_nq, g_pos, g_off, g_stride, gmats,
                            d_gate, d_off, d_stride, d_slot, d_first, d_last, dmats, out)
        _apply_block(lr, li, b_qs[b], k, b_diag[b], m, d, 0, hi)


@njit(cache=True, nogil=True)
def _apply1_rows(ref, imf, N, q, mats, off, stride, R):
    """A one-qubit block on qubit q of R rows of N amplitudes stored back to back, row r's matrix
    at mats[off + r * stride]: read in place, no per-row views (at one or two qubits those cost
    more than the arithmetic)."""
    s = 1 << q
    low = s - 1
    for r in range(R):
        o = off + r * stride
        m00, m01, m10, m11 = mats[o], mats[o + 1], mats[o + 2], mats[o + 3]
        a00r, a00i, a01r, a01i = m00.real, m00.imag, m01.real, m01.imag
        a10r, a10i, a11r, a11i = m10.real, m10.imag, m11.real, m11.imag
        base = r * N
        for j in range(N >> 1):
            i = base + (((j >> q) << (q + 1)) | (j & low))
            k = i + s
            xr, xi, yr, yi = ref[i], imf[i], ref[k], imf[k]
            ref[i] = a00r * xr - a00i * xi + a01r * yr - a01i * yi
            imf[i] = a00r * xi + a00i * xr + a01r * yi + a01i * yr
            ref[k] = a10r * xr - a10i * xi + a11r * yr - a11i * yi
            imf[k] = a10r * xi + a10i * xr + a11r * yi + a11i * yr


@njit(cache=True, nogil=True)
def run_rows_flat(ref, imf, N, first, last, b_k, b_qs, b_diag, b_moff, b_mstride, mats, row_base):
    """run_rows for small states, block by block: ``ref``/``imf`` hold the rows back to back (N
    amplitudes each), so a block whose matrices are equal on every row (stride 0) is one call
    over all rows (the row index is just higher index bits); other blocks go row by row. At a
    few qubits the per-(row, block) call overhead was most of the time."""
    R = ref.shape[0] // N
    for b in range(first, last):
        k = b_k[b]
        if b_mstride[b] == 0:
            m, d = _block_mats(b, 0, b_k, b_diag, b_moff, b_mstride, mats)
            _apply_block(ref, imf, b_qs[b], k, b_diag[b], m, d, 0, ref.shape[0] if b_diag[b] else ref.shape[0] >> k)
            continue
        if k == 1 and not b_diag[b]:
            _apply1_rows(ref, imf, N, b_qs[b, 0], mats, b_moff[b] + row_base * b_mstride[b], b_mstride[b], R)
            continue
        for r in range(R):
            m, d = _block_mats(b, row_base + r, b_k, b_diag, b_moff, b_mstride, mats)
            _apply_block(ref[r * N:(r + 1) * N], imf[r * N:(r + 1) * N], b_qs[b], k, b_diag[b], m, d, 0,
                         N if b_diag[b] else N >> k)


@njit(cache=True, nogil=True)
def adjoint_rows_flat(prf, pif, lrf, lif, N, b_k, b_qs, b_diag, b_moff, b_mstride, mats, b_grad, b_gfirst,
                      b_glast, g_nq, g_pos, g_off, g_stride, gmats, d_gate, d_off, d_stride, d_slot, d_first,
                      d_last, dmats, out, row0, b_sum, Csum):
    """adjoint_rows for small states, block by block over rows stored back to back (as
    run_rows_flat): a block with equal matrices on every row goes back in one call over all rows,
    and when its gradient is summed over rows (b_sum) one cross-matrix call over all rows gives
    the row sum directly."""
    R = prf.shape[0] // N
    kmax = 0
    for b in range(b_k.shape[0]):
        if b_grad[b]:
            kmax = max(kmax, b_k[b])
    C = np.zeros((1 << kmax, 1 << kmax), np.complex128)
    T = prf.shape[0]
    for b in range(b_k.shape[0] - 1, -1, -1):
        k = b_k[b]
        D = 1 << k
        if b_mstride[b] == 0 and (b_sum[b] or not b_grad[b]):
            m, d = _block_mats(b, 0, b_k, b_diag, b_moff, b_mstride, mats)
            hi = T if b_diag[b] else T >> k
            _apply_block(prf, pif, b_qs[b], k, b_diag[b], m, d, 0, hi)
            if b_grad[b]:
                Cb = Csum[b, :D, :D]
                if b_diag[b]:
                    _cross_diag(prf, pif, lrf, lif, b_qs[b], k, 0, T, Cb)
                else:
                    _cross(prf, pif, lrf, lif, b_qs[b], k, 0, T >> k, Cb)
            _apply_block(lrf, lif, b_qs[b], k, b_diag[b], m, d, 0, hi)
            continue
        hi = N if b_diag[b] else N >> k
        # a one-qubit dense block's per-row step in registers: _block_grad's dispatch (~20 array
        # arguments) and the 2x2 C cost more than the recurrence itself
        one_q = D == 2 and not b_diag[b] and _all_one_qubit(g_nq, b_gfirst[b], b_glast[b])
        if one_q and b_grad[b] and not b_sum[b]:
            q = b_qs[b, 0]
            moff = b_moff[b] + row0 * b_mstride[b]
            _apply1_rows(prf, pif, N, q, mats, moff, b_mstride[b], R)
            s = 1 << q
            for r in range(R):
                # the cross matrix of psi_in and lam_out, read in place
                c00 = c01 = c10 = c11 = 0j
                for j in range(hi):
                    i = r * N + (((j >> q) << (q + 1)) | (j & (s - 1)))
                    a0, a1 = complex(prf[i], pif[i]), complex(prf[i + s], pif[i + s])
                    l0, l1 = complex(lrf[i], -lif[i]), complex(lrf[i + s], -lif[i + s])
                    c00 += a0 * l0
                    c01 += a0 * l1
                    c10 += a1 * l0
                    c11 += a1 * l1
                _block_grad_1q(row0 + r, c00, c01, c10, c11, b_gfirst[b], b_glast[b], g_off, g_stride, gmats,
                               d_off, d_stride, d_slot, d_first, d_last, dmats, out[r])
            _apply1_rows(lrf, lif, N, q, mats, moff, b_mstride[b], R)
            continue
        for r in range(R):
            pr, pi = prf[r * N:(r + 1) * N], pif[r * N:(r + 1) * N]
            lr, li = lrf[r * N:(r + 1) * N], lif[r * N:(r + 1) * N]
            m, d = _block_mats(b, row0 + r, b_k, b_diag, b_moff, b_mstride, mats)
            _apply_block(pr, pi, b_qs[b], k, b_diag[b], m, d, 0, hi)
            if b_grad[b]:
                Cb = Csum[b, :D, :D] if b_sum[b] else C[:D, :D]
                if not b_sum[b]:
                    Cb[:, :] = 0
                if b_diag[b]:
                    _cross_diag(pr, pi, lr, li, b_qs[b], k, 0, N, Cb)
                else:
                    _cross(pr, pi, lr, li, b_qs[b], k, 0, N >> k, Cb)
                if not b_sum[b]:
                    _block_grad(b, row0 + r, Cb, b_k, b_diag, b_gfirst, b_glast, g_nq, g_pos, g_off, g_stride,
                                gmats, d_gate, d_off, d_stride, d_slot, d_first, d_last, dmats, out[r])
            _apply_block(lr, li, b_qs[b], k, b_diag[b], m, d, 0, hi)


@njit(cache=True, nogil=True)
def summed_block_grads(b_sum, Csum, b_k, b_diag, b_gfirst, b_glast, g_nq, g_pos, g_off, g_stride, gmats,
                       d_gate, d_off, d_stride, d_slot, d_first, d_last, dmats, out):
    """Gradients of the b_sum blocks from their row-summed cross matrices, into out (slots)."""
    for b in range(b_k.shape[0]):
        if b_sum[b]:
            D = 1 << b_k[b]
            _block_grad(b, 0, Csum[b, :D, :D].copy(), b_k, b_diag, b_gfirst, b_glast, g_nq, g_pos, g_off,
                        g_stride, gmats, d_gate, d_off, d_stride, d_slot, d_first, d_last, dmats, out)


@njit(cache=True, nogil=True)
def adjoint_block_range(pr, pi, lr, li, b, row, b_k, b_qs, b_diag, b_moff, b_mstride, mats, part, parts, C):
    """Part ``part`` of block b's backward step on one large row: p and l go back through the
    block (``mats``: the adjoints) and C (D, D) gathers that part's cross matrix; parts touch
    disjoint amplitudes."""
    k = b_k[b]
    m, d = _block_mats(b, row, b_k, b_diag, b_moff, b_mstride, mats)
    N = pr.shape[0]
    hi = N if b_diag[b] else N >> k
    step = (hi + parts - 1) // parts
    lo = min(hi, part * step)
    top = min(hi, lo + step)
    _apply_block(pr, pi, b_qs[b], k, b_diag[b], m, d, lo, top)
    if C.shape[0] > 0:
        if b_diag[b]:
            _cross_diag(pr, pi, lr, li, b_qs[b], k, lo, top, C)
        else:
            _cross(pr, pi, lr, li, b_qs[b], k, lo, top, C)
    _apply_block(lr, li, b_qs[b], k, b_diag[b], m, d, lo, top)


# ----------------------------------------------------------------------------------------------
# Planning (Python, once per simulator)


@dataclass
class Block:
    qubits: tuple[int, ...]  # sorted
    gates: list[int]  # indices into FusedPlan.gates, in application order
    diagonal: bool
    differentiable: bool = False  # holds a gate whose angle depends on a param (gradient plans)


@dataclass
class FusedPlan:
    """Gates, their fusion into blocks, and the angle slots; arrays laid out for the kernels."""

    n: int
    gates: list[Operation]
    slots: list[tuple[int, ...]]  # angle slots of each gate
    exprs: list[Expr]
    compiled: CompiledExprs
    prep: dict[int, list[int]]  # qubit -> leading one-qubit gates folded into the product state
    blocks: list[Block]
    dslots: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    dcompiled: CompiledExprs | None = None
    with_gradient: bool = False
    layouts: dict = field(default_factory=dict)  # (pvar, xvar) -> Layout
    dinput_free: bool = True  # no d angle / d param depends on the inputs

    def describe(self) -> str:
        nd = sum(1 for b in self.blocks if b.diagonal)
        lines = [f"fused plan: {self.n} qubits, {len(self.gates)} gates, "
                 f"{sum(len(v) for v in self.prep.values())} folded into the product state, "
                 f"{len(self.blocks)} blocks ({nd} diagonal)"]
        for b in self.blocks:
            names = " ".join(self.gates[g].name for g in b.gates)
            lines.append(f"  {'diag' if b.diagonal else 'dense'} on {list(b.qubits)}: {names}")
        return "\n".join(lines)

    def state_passes(self, local: int) -> int:
        """Passes over the state a forward run makes with 2**local-amplitude chunks (a
        cache-blocked run of blocks counts once)."""
        return sum(1 if chunked else last - first for first, last, chunked in _segments(self, self.n, local))


def _is_diag(op: Operation) -> bool:
    g = GATES.get(op.name)
    if g is not None:
        return g.diagonal
    m = np.asarray(op.matrix)
    return bool(np.all(np.abs(m - np.diag(np.diag(m))) < 1e-15))


_RNG_ANGLES = np.random.default_rng(12345).uniform(0.3, 2.9, 8)  # generic angles for structure tests


def _controls(op: Operation) -> frozenset[int]:
    """Qubits of ``op`` whose Z commutes with it (its matrix is block diagonal in them, for any
    angles: tested at generic angles). A product of gates that all commute with Z_c is block
    diagonal in c, which ``_apply2c`` runs at half the flops of a dense 2-qubit block."""
    g = GATES.get(op.name)
    if g is not None and g.diagonal:
        return frozenset(op.qubits)
    try:
        m = g.matrix(*_RNG_ANGLES[:g.num_angles]) if g is not None else np.asarray(op.unitary())
    except Exception:  # a fused block whose matrix needs bound values: no structure claimed
        return frozenset()
    k = len(op.qubits)
    idx = np.arange(1 << k)
    out = []
    for i, q in enumerate(op.qubits):
        bit = k - 1 - i  # argument i is bit k-1-i of the gate index
        differ = ((idx[:, None] ^ idx[None, :]) >> bit) & 1
        if np.all(np.abs(m[differ.astype(bool)]) < 1e-12):
            out.append(q)
    return frozenset(out)

def _split_widest(ops: Sequence, limit: int) -> list:
    """``ops`` with every library or derived gate on more than ``limit`` qubits replaced by its
    exact decomposition from the equivalence table (a cost and memory choice, not correctness:
    the kernels run blocks of any width).

    Up to the limit a wide gate is one block: _applyk skips the identity rows of its matrix, so a
    multi-controlled gate costs one pass that touches its 2 active amplitudes per group. Measured
    (same process, alternating, 4 layers of ry + gates, loaded 2-core machine): one block took
    0.31x (c3x), 0.21x (c4x), 0.14x (ctrl(5) @ x) of the decomposition's forward time at 8 qubits
    and batch 32, and 0.34x / 0.06x / 0.01x at 20 qubits; adjoint gradients alike. Past the limit
    the block's matrix (4**k entries, composed and scanned per call and row) outgrows the caches,
    so those gates are decomposed (one level at a time, until every piece fits)."""
    if all(len(op.qubits) <= limit or op.name == "unitary" for op in ops):
        return list(ops)
    from ..ir.equivalences import EQUIVALENCES

    out: list = []
    todo = list(reversed(ops))
    while todo:
        op = todo.pop()
        if len(op.qubits) <= limit or op.name == "unitary":
            out.append(op)
            continue
        body = EQUIVALENCES[op.name].expand(op.angles)
        todo.extend(reversed([Operation(n, tuple(op.qubits[i] for i in qs), a, op.span) for n, a, qs in body]))
    return out


def build_plan(ops: Sequence[Operation], n: int, *, with_gradient: bool = False,
               dense_qubits: int = DENSE_QUBITS, diag_qubits: int = DIAG_QUBITS, low_qubits: int = 0,
               controlled: bool = False) -> FusedPlan:
    """Fuse an op list (topological order) into blocks.

    Leading one-qubit gates on |0> fold into the product state (not those with params when the
    plan serves gradients). The rest is fused greedily: a gate joins the latest block touching its
    qubits when the union stays within the size limit (dense: ``dense_qubits``; all-diagonal
    blocks: ``diag_qubits``), which never moves it past a gate on a shared qubit. Else it may
    join the latest block of one of its other qubits when that block is the latest on all of its
    own qubits (it then moves to the end of the list, past blocks it shares no qubit with).
    With ``controlled`` (large states, where a block's flops are its cost), a one-qubit gate that
    would break a two-qubit block's controlled form (block diagonal in a control qubit:
    ``_apply2c``, half the flops) starts a block of its own instead, which the next two-qubit gate
    on its qubit usually takes (ry rz; cx ladders then fuse as cx (I x U)). Small states keep
    fewer blocks (their cost is per block and row).
    """
    exprs: list[Expr] = []
    slot_of: dict[Expr, int] = {}
    gates: list[Operation] = []
    slots: list[tuple[int, ...]] = []
    prep: dict[int, list[int]] = {}
    blocks: list[Block] = []
    last: dict[int, int] = {}  # qubit -> index of the latest block on it
    started: set[int] = set()
    ops = _split_widest(ops, WIDE_QUBITS)

    def add_gate(op: Operation) -> int:
        gates.append(op)
        slots.append(intern_angles(op.angles, slot_of, exprs))
        return len(gates) - 1

    ctl: dict[int, frozenset[int]] = {}  # block index -> qubits its matrix is block diagonal in
    dead: set[int] = set()  # blocks moved to the end of the list

    def fits(blk: Block, qs, diag: bool, differentiable: bool) -> bool:
        union = set(blk.qubits) | set(qs)
        both_diag = blk.diagonal and diag
        # a large phase table costs its gradient O(table) per gate: differentiable gates
        # only join small blocks
        big_ok = both_diag and not (differentiable or (with_gradient and blk.differentiable))
        limit = diag_qubits if big_ok else dense_qubits
        if not both_diag and max(union) < low_qubits:
            # blocks inside the lowest index bits run as contiguous groups (_apply_low), where
            # 2-qubit blocks on qubits 0-2 had inner loops of 1-4 amplitudes: 5-7x slower
            limit = max(limit, low_qubits)
        return len(union) <= limit

    def join(c: int, gi: int, qs, diag: bool, differentiable: bool, cq: frozenset[int]) -> None:
        blk = blocks[c]
        old = frozenset(blk.qubits)
        blk.qubits = tuple(sorted(old | set(qs)))
        blk.gates.append(gi)
        blk.diagonal = blk.diagonal and diag
        blk.differentiable = blk.differentiable or differentiable
        # Z_q commutes with the block iff it commutes with every member (gates off q do)
        ctl[c] = frozenset(q for q in blk.qubits if (q in ctl[c] or q not in old) and (q in cq or q not in qs))
        for q in qs:
            last[q] = c

    for op in ops:
        qs = op.qubits
        if len(qs) == 1 and qs[0] not in started and not (
                with_gradient and any(a.depends_on("param") for a in op.angles)):
            prep.setdefault(qs[0], []).append(add_gate(op))
            continue
        started.update(qs)
        gi = add_gate(op)
        diag = _is_diag(op)
        differentiable = with_gradient and any(a.depends_on("param") for a in op.angles)
        cq = _controls(op)
        cands = sorted({last[q] for q in qs if q in last}, reverse=True)
        if cands:
            c = cands[0]
            blk = blocks[c]
            breaks = controlled and (len(qs) == 1 and not diag and len(blk.qubits) == 2 and not blk.diagonal
                      and qs[0] in ctl[c] and len(ctl[c]) == 1)
            if fits(blk, qs, diag, differentiable) and not breaks:
                join(c, gi, qs, diag, differentiable, cq)
                continue
            moved = False
            for c2 in cands[1:]:
                b2 = blocks[c2]
                if all(last.get(q) == c2 for q in b2.qubits) and fits(b2, qs, diag, differentiable):
                    # b2 is the latest block on all its qubits: it commutes past every later
                    # block, so it moves to the end and takes the gate there
                    dead.add(c2)
                    blocks.append(Block(b2.qubits, list(b2.gates), b2.diagonal, b2.differentiable))
                    c3 = len(blocks) - 1
                    ctl[c3] = ctl[c2]
                    for q in b2.qubits:
                        last[q] = c3
                    join(c3, gi, qs, diag, differentiable, cq)
                    moved = True
                    break
            if moved:
                continue
        blocks.append(Block(tuple(sorted(qs)), [gi], diag, differentiable))
        ctl[len(blocks) - 1] = cq
        for q in qs:
            last[q] = len(blocks) - 1
    blocks = [b for i, b in enumerate(blocks) if i not in dead]
    plan = FusedPlan(n, gates, slots, exprs, CompiledExprs(exprs), prep, blocks, with_gradient=with_gradient)
    if with_gradient:
        plan.dslots, plan.dcompiled = param_derivatives(exprs)
        plan.dinput_free = not any(d.depends_on("input") for d in plan.dcompiled.exprs)
    return plan


def _segments(plan: FusedPlan, n: int, local: int) -> list[tuple[int, int, bool]]:
    """Split the block list into (first, last, chunked) runs: maximal runs of blocks whose qubits
    are all below ``local`` are applied chunk by chunk (each chunk of 2**local amplitudes is a
    pseudo-row); other blocks go one by one over the whole state."""
    out: list[tuple[int, int, bool]] = []
    if n <= local:
        return [(0, len(plan.blocks), True)]
    for i, b in enumerate(plan.blocks):
        low = b.qubits[-1] < local
        if out and out[-1][2] and low:
            out[-1] = (out[-1][0], i + 1, True)
        elif out and not out[-1][2] and not low:
            out[-1] = (out[-1][0], i + 1, False)
        else:
            out.append((i, i + 1, low))
    return out


@dataclass(frozen=True)
class Relabeling:
    """Where a large state's forward run exchanges qubits between index bits (Aer's and qsim's
    remedy for gates on the lowest bits, whose runs are too short to vectorise): swaps (before
    block sw_at, bits sw_a < sw_b, all below ``local``) and each block's bits in that layout."""

    sw_at: np.ndarray
    sw_a: np.ndarray
    sw_b: np.ndarray
    pm_at: np.ndarray  # where several exchanges at once run as one permutation pass
    pm_lo: np.ndarray
    pm_hi: np.ndarray
    b_qs: np.ndarray  # (blocks, width): each block's bits, ascending
    b_perm: np.ndarray  # (blocks, width): block bit t holds the block's qubit number b_perm[t]


def _block_controls(plan: FusedPlan, blk: Block) -> frozenset[int]:
    """The block's qubits whose Z commutes with every gate of it (its controlled form's controls)."""
    out = set(blk.qubits)
    for gi in blk.gates:
        op = plan.gates[gi]
        out -= set(op.qubits) - _controls(op)
    return frozenset(out)


# Measured per-pass costs at 20 qubits, one thread, single precision, in units of a dense
# two-qubit block on high bits (0.45 ms): a dense block's extra cost by its lower bit (bits 0-2 with
# the other below SPLIT_Q1 + 1 run scalar, else dealt into lanes), a controlled block's when one
# bit is below 3 and the other at 5 or above (both below 5: tile kernels, no extra), a one-qubit
# block's on bits 0-2; an exchange of two bits in cache; a permutation pass
_EXTRA_DENSE = (5.8, 5.8, 5.3, 1.4, 0.9, 0.4, 0.3, 0.1)
_EXTRA_DEALT = 1.8
_EXTRA_CTL = 1.8
_EXTRA_ONE = 1.0
_SWAP_COST = 1.2
_PERMUTE_COST = 3.7


def _extra(kind: int, bits: Sequence[int]) -> float:
    """The extra cost of a block of ``kind`` (2: dense two-qubit, 1: controlled two-qubit or
    one-qubit, 3: dense on k >= 3 qubits, wanted on bits 0..k-1) on ``bits``."""
    lo, hi = min(bits), max(bits)
    if kind == 3:
        return 0.0 if hi < len(bits) else 10.0
    if kind == 2:
        if lo < 3 and hi >= SPLIT_Q1 + (lo > 0):
            return _EXTRA_DEALT
        return _EXTRA_DENSE[lo] if lo < len(_EXTRA_DENSE) else 0.0
    if kind == 1:
        if len(bits) == 1:
            return _EXTRA_ONE if lo < 3 else 0.0
        return _EXTRA_CTL if lo < 3 and hi >= 5 else 0.0
    return 0.0


def relabeling(plan: FusedPlan, local: int, dense_bits: int = RELABEL_DENSE, ctl_bits: int = RELABEL_CTL) -> Relabeling | None:
    """Keep the lowest bits free of the blocks that are slow there, by relabeling qubits inside
    cache-blocked runs (where exchanging two bits is a pass over an in-cache chunk, not over
    memory). A dense two-qubit block wants its bits at ``dense_bits`` or above; a controlled one
    or a one-qubit block at ``ctl_bits`` or above; a dense block of k >= 3 qubits that the plan
    put on bits 0..k-1 (the contiguous kernel's) wants them back there. Before a block that would
    act elsewhere, each misplaced qubit trades places with the qubit, among those on allowed bits,
    used furthest in the future (Belady's rule: fewest exchanges); at the end of a cache-blocked
    run the same is done for the whole-state blocks that follow, and the last run restores the
    identity. None when the state is not chunked, or when the measured costs (``_extra``,
    exchanges, permutation passes) say the plan runs as fast without."""
    n, blocks = plan.n, plan.blocks
    if n <= local or local < dense_bits + 3:
        return None
    kind = [0] * len(blocks)  # 2: dense two-qubit, 1: controlled two-qubit or dense one-qubit, 3: low k >= 3
    uses: dict[int, list[int]] = {q: [] for q in range(local)}
    for i, b in enumerate(blocks):
        if b.diagonal:
            continue
        if len(b.qubits) >= 3:
            if b.qubits != tuple(range(len(b.qubits))):
                continue
            kind[i] = 3
        else:
            kind[i] = 2 if len(b.qubits) == 2 and not _block_controls(plan, b) else 1
        for q in b.qubits:
            if q < local:
                uses[q].append(i)
    before = sum(_extra(kind[i], b.qubits) for i, b in enumerate(blocks) if kind[i])
    if before == 0:
        return None
    pos = list(range(n))  # qubit -> bit
    at = list(range(local))  # bit -> qubit
    swaps: list[tuple[int, int, int]] = []

    def next_use(q: int, i: int) -> float:
        u = uses[q]
        j = bisect.bisect_left(u, i)
        return u[j] if j < len(u) else math.inf

    def place(i: int, need: dict[int, range]) -> None:
        """Move each qubit q of ``need`` onto a bit in need[q]."""
        for q in sorted(need):
            if pos[q] in need[q]:
                continue
            cands = [at[p] for p in need[q] if at[p] not in need]
            if not cands:
                continue
            x = max(cands, key=lambda c: (next_use(c, i), -pos[c]))
            a, b = pos[q], pos[x]
            swaps.append((i, min(a, b), max(a, b)))
            pos[q], pos[x], at[a], at[b] = b, a, x, q

    def wanted(i: int) -> dict[int, range]:
        qs = blocks[i].qubits
        if not _extra(kind[i], [pos[q] for q in qs]):
            return {}
        if kind[i] == 3:
            return {q: range(len(qs)) for q in qs}
        lo = dense_bits if kind[i] == 2 else ctl_bits
        return {q: range(dense_bits, local) if pos[q] < lo else range(pos[q], pos[q] + 1) for q in qs if q < local}

    width = max([KMAX] + [len(b.qubits) for b in blocks])
    b_qs = np.zeros((len(blocks), width), dtype=np.int64)
    b_perm = np.zeros((len(blocks), width), dtype=np.int64)
    after = 0.0
    segs = _segments(plan, n, local)
    for si, (first, last, chunked) in enumerate(segs):
        for i in range(first, last):
            blk = blocks[i]
            if chunked and kind[i]:
                place(i, wanted(i))
            bits = [pos[q] for q in blk.qubits]
            order = sorted(range(len(bits)), key=bits.__getitem__)
            b_qs[i, :len(bits)] = [bits[t] for t in order]
            b_perm[i, :len(bits)] = order
            after += _extra(kind[i], bits) if kind[i] else 0.0
        if chunked and si + 1 < len(segs):
            need: dict[int, range] = {}
            for j in range(segs[si + 1][0], segs[si + 1][1]):
                if kind[j] in (1, 2):
                    for q, r in wanted(j).items():
                        need[q] = r if q not in need or r.start > need[q].start else need[q]
            place(last, need)
    if not swaps:
        return None
    # restore the identity, cycle by cycle, after the last block (a chunked run of its own when
    # the plan does not end with one)
    for p in range(local):
        while at[p] != p:
            q = at[p]  # qubit q sits at bit p: send it home
            a, b = min(p, q), max(p, q)
            swaps.append((len(blocks), a, b))
            at[p], at[q] = at[q], at[p]
    at_count: dict[int, int] = {}
    for i, _, _ in swaps:
        at_count[i] = at_count.get(i, 0) + 1
    # a permutation pass costs about PERMUTE_SWAPS exchanges (measured: 0.83 vs 0.26 ms a plane)
    many = PERMUTE_SWAPS if local >= 8 else len(swaps) + 1  # the tables split off 8 bits
    single = [w for w in swaps if at_count[w[0]] < many]
    multi = sorted({i for i, c in at_count.items() if c >= many})
    after += len(single) * _SWAP_COST + len(multi) * _PERMUTE_COST
    if not after < 0.9 * before:
        return None
    tables = [permutation_tables(local, [(a, b) for j, a, b in swaps if j == i]) for i in multi]
    arr = np.array(single, dtype=np.int64).reshape(-1, 3)
    return Relabeling(arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy(), np.array(multi, dtype=np.int64),
                      np.array([t[0] for t in tables], dtype=np.int64).reshape(len(multi), 256),
                      np.array([t[1] for t in tables], dtype=np.int64).reshape(len(multi), 1 << max(0, local - 8)),
                      b_qs, b_perm)


class Layout:
    """Where a plan's matrices live in the kernels' flat buffers, for one (params vary per row,
    inputs vary per row) combination: built once, so a call only evaluates and fills.

    Each buffer is a shared region (matrices equal for every row) followed by one region per
    batch row; the members of a (gate name, varies) group are contiguous in both, so numpy fills
    a whole group with one assignment."""

    def __init__(self, plan: FusedPlan, pvar: bool, xvar: bool) -> None:
        gates = plan.gates
        ng = len(gates)
        self.gvar = np.array([any((pvar and a.depends_on("param")) or (xvar and a.depends_on("input"))
                                  for a in op.angles) for op in gates], dtype=bool)
        # fused "unitary" blocks share a name across sizes: the arity is part of the group
        groups: dict[tuple[str, int, bool], list[int]] = {}
        for gi, op in enumerate(gates):
            groups.setdefault((op.name, len(op.qubits), bool(self.gvar[gi])), []).append(gi)
        self.g_nq = np.array([len(op.qubits) for op in gates], dtype=np.int64)
        off = np.zeros(ng, dtype=np.int64)
        shared = per_row = 0
        self.groups = []  # (name, varies, members, start within its region, entries per gate)
        for (name, _, var), members in groups.items():
            d2 = 4 ** len(gates[members[0]].qubits)
            start = per_row if var else shared
            for j, gi in enumerate(members):
                off[gi] = start + j * d2
            if var:
                per_row += len(members) * d2
            else:
                shared += len(members) * d2
            slots = [np.array([plan.slots[gi][k] for gi in members], dtype=np.int64)
                     for k in range(len(gates[members[0]].angles))]
            self.groups.append((name, var, members, start, d2, slots))
        self.g_shared, self.g_row = shared, per_row
        self.g_off = np.where(self.gvar, shared + off, off).astype(np.int64)
        self.g_stride = np.where(self.gvar, per_row, 0).astype(np.int64)
        self._derivatives(plan)
        self._blocks(plan)
        self.prep_var = any(self.gvar[g] for gs in plan.prep.values() for g in gs)

    def _derivatives(self, plan: FusedPlan) -> None:
        deriv: list[tuple[int, int, int]] = []  # (gate, angle index, slot), gates ascending
        if plan.with_gradient:
            for gi, op in enumerate(plan.gates):
                for k in range(len(op.angles)):
                    if plan.slots[gi][k] in plan.dslots:
                        deriv.append((gi, k, plan.slots[gi][k]))
        ng = len(plan.gates)
        self.d_first = np.zeros(ng, dtype=np.int64)
        self.d_last = np.zeros(ng, dtype=np.int64)
        for e, (gi, _, _) in enumerate(deriv):
            if self.d_last[gi] == 0:
                self.d_first[gi] = e
            self.d_last[gi] = e + 1
        by: dict[tuple[str, int, bool], list[int]] = {}
        for e, (gi, k, _) in enumerate(deriv):
            by.setdefault((plan.gates[gi].name, k, bool(self.gvar[gi])), []).append(e)
        off = np.zeros(len(deriv), dtype=np.int64)
        shared = per_row = 0
        self.dgroups = []  # (name, angle, varies, entries, start, d2, [slots of every angle of those gates])
        for (name, k, var), es in by.items():
            d2 = 4 ** GATES[name].num_qubits
            start = per_row if var else shared
            for j, e in enumerate(es):
                off[e] = start + j * d2
            if var:
                per_row += len(es) * d2
            else:
                shared += len(es) * d2
            slots = [np.array([plan.slots[deriv[e][0]][a] for e in es], dtype=np.int64)
                     for a in range(GATES[name].num_angles)]
            self.dgroups.append((name, k, var, es, start, d2, slots))
        dvar = np.array([self.gvar[g] for g, _, _ in deriv], dtype=bool)
        self.d_shared, self.d_row = shared, per_row
        self.d_off = np.where(dvar, shared + off, off).astype(np.int64) if deriv else np.zeros(0, np.int64)
        self.d_stride = np.where(dvar, per_row, 0).astype(np.int64) if deriv else np.zeros(0, np.int64)
        self.d_gate = np.array([g for g, _, _ in deriv], dtype=np.int64)
        self.d_slot = np.array([sl for _, _, sl in deriv], dtype=np.int64)
        # chain rule: gradient[:, param] += d expr / d param * gradient[:, slot]
        trip = [(sl, p, di) for sl, lst in plan.dslots.items() for p, di in lst]
        self.chain_slot = np.array([t[0] for t in trip], dtype=np.int64)
        self.chain_param = np.array([t[1] for t in trip], dtype=np.int64)
        self.chain_dexpr = np.array([t[2] for t in trip], dtype=np.int64)

    def _blocks(self, plan: FusedPlan) -> None:
        nb = len(plan.blocks)
        order: list[int] = []
        self.b_gfirst = np.zeros(nb, dtype=np.int64)
        self.b_glast = np.zeros(nb, dtype=np.int64)
        for b, blk in enumerate(plan.blocks):
            self.b_gfirst[b] = len(order)
            order.extend(blk.gates)
            self.b_glast[b] = len(order)
        # the kernels walk a block's gates as a contiguous range: gate arrays in block order
        o = np.array(order, dtype=np.int64)
        self.g_nq_b, self.g_off_b, self.g_stride_b = self.g_nq[o], self.g_off[o], self.g_stride[o]
        self.d_first_b, self.d_last_b = self.d_first[o], self.d_last[o]
        self.g_pos = np.zeros((max(1, len(o)), max([3] + [len(op.qubits) for op in plan.gates])), dtype=np.int64)
        self.b_k = np.array([len(blk.qubits) for blk in plan.blocks], dtype=np.int64)
        # a single wide gate (ctrl(k) @ ..., a fused unitary) is a block beyond the fusion limits
        self.b_qs = np.zeros((nb, max([KMAX] + [len(blk.qubits) for blk in plan.blocks])), dtype=np.int64)
        self.b_diag = np.array([blk.diagonal for blk in plan.blocks], dtype=np.bool_)
        b_var = np.zeros(nb, dtype=np.bool_)
        self.b_grad = np.zeros(nb, dtype=np.bool_)
        self.b_rowfree = np.zeros(nb, dtype=np.bool_)
        for b, blk in enumerate(plan.blocks):
            self.b_qs[b, :len(blk.qubits)] = blk.qubits
            local = {q: i for i, q in enumerate(blk.qubits)}
            for j in range(self.b_gfirst[b], self.b_glast[b]):
                op = plan.gates[order[j]]
                self.g_pos[j, :len(op.qubits)] = [local[q] for q in op.qubits]
            b_var[b] = bool(self.gvar[blk.gates].any())
            # the block's gate and derivative matrices (which vary only with their gate) are equal
            # on every row: its gradient is linear in the row-summed cross matrix
            self.b_rowfree[b] = not b_var[b]
            g0, g1 = self.b_gfirst[b], self.b_glast[b]
            self.b_grad[b] = bool((self.d_last_b[g0:g1] > self.d_first_b[g0:g1]).any())
        per = np.where(self.b_diag, 1 << self.b_k, 1 << (2 * self.b_k)).astype(np.int64)
        off = np.zeros(nb, dtype=np.int64)
        shared = per_row = 0
        for b in range(nb):
            if b_var[b]:
                off[b], per_row = per_row, per_row + per[b]
            else:
                off[b], shared = shared, shared + per[b]
        self.b_shared, self.b_row = shared, per_row
        self.b_moff = np.where(b_var, shared + off, off).astype(np.int64)
        self.b_mstride = np.where(b_var, per_row, 0).astype(np.int64)
        self.b_any_var = bool(b_var.any())


def _rotations(name: str, t: np.ndarray) -> np.ndarray:
    """(R, d, d) matrices of the common one-angle rotations for angles t (R,): numpy's generic
    gate-table builder costs ~15 us a call in per-entry overhead, these ~5 (a small-state
    training step builds about ten such groups)."""
    R = t.shape[0]
    if name == "rz" or name == "rzz":
        e = np.exp(-0.5j * t)
        d = (e, e.conj()) if name == "rz" else (e, e.conj(), e.conj(), e)
        out = np.zeros((R, len(d), len(d)), dtype=complex)
        for i, v in enumerate(d):
            out[:, i, i] = v
        return out
    out = np.empty((R, 2, 2), dtype=complex)
    if name == "p":
        out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1] = 1, 0, 0, np.exp(1j * t)
        return out
    c, s = np.cos(0.5 * t), np.sin(0.5 * t)
    if name == "ry":
        out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1] = c, -s, s, c
    else:  # rx
        out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1] = c, -1j * s, -1j * s, c
    return out


_PAULI_ROTATIONS = frozenset({"rx", "ry", "rz", "rzz"})  # exp(-i t P / 2), P a Pauli string
_FAST: dict[str, object] = {}  # gate name -> the GateDef the fast builder was checked against


def _fast_matrices(name: str, gdef, angles: list[np.ndarray]) -> np.ndarray:
    """gdef.matrix(*angles), by ``_rotations`` when it is one of those gates as the gate table
    defines it now (checked once per GateDef object: a re-registered gate falls back)."""
    if name in ("rx", "ry", "rz", "p", "rzz") and len(angles) == 1:
        if _FAST.get(name) is not gdef:
            t = np.array([0.0, 0.7, -2.3, 4.1])
            if np.allclose(_rotations(name, t), gdef.matrix(t), rtol=0, atol=1e-15):
                _FAST[name] = gdef
        if _FAST.get(name) is gdef:
            return _rotations(name, np.asarray(angles[0], dtype=float))
    return gdef.matrix(*angles)


class Bound:
    """A plan's kernel buffers for one call: angles evaluated, gate and block matrices built."""

    def __init__(self, plan: FusedPlan, P: np.ndarray, X: np.ndarray, pvar: bool, xvar: bool, dtype) -> None:
        self.plan = plan
        self.dtype = dtype
        key = (bool(pvar), bool(xvar))
        if key not in plan.layouts:
            plan.layouts[key] = Layout(plan, *key)
        L = self.layout = plan.layouts[key]
        B = max(P.shape[0], X.shape[0])
        self.B = B
        angles = plan.compiled(P, X) if plan.exprs else np.zeros((0, 1))
        if not np.all(np.isfinite(angles)):
            e, b = map(int, np.argwhere(~np.isfinite(angles))[0])
            raise InputError(f"gate angle {plan.exprs[e]} is not finite for sample {b} (check params and inputs)")
        self.angles = angles
        self.gmats = self._fill(L.g_shared, L.g_row, B, [
            (var, start, len(members), d2, self._gate_group(name, members, var, slots, B))
            for name, var, members, start, d2, slots in L.groups])
        if plan.with_gradient:
            self.dmats = self._fill(L.d_shared, L.d_row, B, [
                (var, start, len(es), d2, self._dgate_group(name, k, var, slots, B))
                for name, k, var, es, start, d2, slots in L.dgroups])
        else:
            self.dmats = np.zeros(1, dtype=np.complex128)
        mats = np.empty(max(1, L.b_shared + (B if L.b_any_var else 0) * L.b_row), dtype=np.complex128)
        if len(plan.blocks):
            compose(B if L.b_any_var else 1, L.b_k, L.b_diag, L.b_moff, L.b_mstride, L.b_gfirst, L.b_glast,
                    L.g_nq_b, L.g_pos, L.g_off_b, L.g_stride_b, self.gmats, mats)
        self.mats = mats.astype(dtype, copy=False)
        self._mats_dag = None
        self._mats_rl = None
        self._nrows = B if L.b_any_var else 1
        self._mats128 = mats
        self._prep(B)

    @property
    def mats_dag(self) -> np.ndarray:
        """The block matrices' adjoints (the adjoint sweep's), built on first use."""
        if self._mats_dag is None:
            L = self.layout
            out = np.empty_like(self._mats128)
            if len(self.plan.blocks):
                dagger_blocks(self._nrows, L.b_k, L.b_diag, L.b_moff, L.b_mstride, self._mats128, out)
            self._mats_dag = out.astype(self.dtype, copy=False)
        return self._mats_dag

    @staticmethod
    def _fill(shared: int, per_row: int, B: int, groups: list) -> np.ndarray:
        """One flat buffer: the shared region, then ``per_row`` entries for each batch row."""
        buf = np.empty(max(1, shared + B * per_row), dtype=np.complex128)
        rows = buf[shared:shared + B * per_row].reshape(B, per_row)
        for var, start, count, d2, mats in groups:
            if var:  # mats: (count, B, d, d) -> each row's entries of the group, side by side
                rows[:, start:start + count * d2] = mats.reshape(count, B, d2).transpose(1, 0, 2).reshape(B, -1)
            else:
                buf[start:start + count * d2] = mats.reshape(-1)
        return buf

    def _angles_for(self, slots: np.ndarray, R: int) -> np.ndarray:
        a = self.angles[slots]  # (len(slots), B or 1)
        if a.shape[1] == R:
            return a
        return a[:, :1] if R == 1 else np.broadcast_to(a, (len(slots), R))

    def _gate_group(self, name: str, members: list[int], var: bool, slots: list[np.ndarray], B: int) -> np.ndarray:
        gdef = GATES.get(name)
        if gdef is None:  # a fused constant block from an optimisation pass
            return np.stack([np.asarray(self.plan.gates[g].unitary(), dtype=complex) for g in members])
        if gdef.num_angles == 0:
            return np.broadcast_to(gdef.matrix(), (len(members),) + gdef.matrix().shape)
        R = B if var else 1
        return _fast_matrices(name, gdef, [self._angles_for(sl, R).ravel() for sl in slots])

    def _dgate_group(self, name: str, k: int, var: bool, slots: list[np.ndarray], B: int) -> np.ndarray:
        gdef = GATES[name]
        R = B if var else 1
        f = MATRIX_FREQ[name][k]
        h = math.pi / (2 * f)
        base = [self._angles_for(sl, R) for sl in slots]
        if name in _PAULI_ROTATIONS and len(base) == 1 and _FAST.get(name) is gdef:
            # exp(-i t P / 2) with P^2 = I: M(t - pi) = -M(t + pi), so the two-term rule is
            # M(t + pi) / 2 (one matrix group instead of two; only for the table's own gates, checked
            # by _fast_matrices)
            return 0.5 * _fast_matrices(name, gdef, [(base[0] + math.pi).ravel()])
        plus = [(a + h if j == k else a).ravel() for j, a in enumerate(base)]
        minus = [(a - h if j == k else a).ravel() for j, a in enumerate(base)]
        return (f / 2) * (_fast_matrices(name, gdef, plus) - _fast_matrices(name, gdef, minus))

    def _prep(self, B: int) -> None:
        plan, L = self.plan, self.layout
        R = B if L.prep_var else 1
        vecs = np.zeros((plan.n, R, 2), dtype=np.complex128)
        vecs[:, :, 0] = 1.0
        for q, gs in plan.prep.items():
            for gi in gs:
                off, st = int(L.g_off[gi]), int(L.g_stride[gi])
                if st:
                    rows = self.gmats[L.g_shared:L.g_shared + B * st].reshape(B, st)
                    m = rows[:, off - L.g_shared:off - L.g_shared + 4].reshape(B, 2, 2)
                    vecs[q] = np.einsum("rij,rj->ri", m, vecs[q])
                else:
                    vecs[q] = vecs[q] @ self.gmats[off:off + 4].reshape(2, 2).T
        self.vecs = vecs.astype(self.dtype)
        self.vec_var = L.prep_var

    def chain_rule(self, gslots: np.ndarray, dvals: np.ndarray, num_params: int) -> np.ndarray:
        """d/d param = sum over angle slots of d angle / d param times d/d angle, per row."""
        L = self.layout
        out = np.zeros((gslots.shape[0], num_params))
        if len(L.chain_slot):
            contrib = dvals[L.chain_dexpr] * gslots[:, L.chain_slot].T  # (entries, rows)
            np.add.at(out.T, L.chain_param, contrib)
        return out

    def _local(self) -> int:
        return local_qubits(self.dtype)

    def _args(self) -> tuple:
        L = self.layout
        return (L.b_k, L.b_qs, L.b_diag, L.b_moff, L.b_mstride, self.mats)

    def forward(self, rows: slice, out: np.ndarray, threads: int) -> np.ndarray:
        """Final states of batch rows ``rows`` into out[:, :len(rows)]: split planes (2, b, 2**n).

        Small states run row by row, each row through every block while it is in cache, rows
        split over the threads; a large state runs its low-qubit block runs chunk by chunk (chunks
        split over the threads) and its other blocks split by pair ranges."""
        Bc = rows.stop - rows.start
        re, im = out[0, :Bc], out[1, :Bc]
        n, local, nb = self.plan.n, self._local(), len(self.plan.blocks)
        args = self._args()

        def rows_part(part: int, parts: int) -> None:
            sl = _split(Bc, part, parts)
            product_states(re[sl], im[sl], self.vecs, self.vec_var, rows.start + sl.start)
            if n <= min(FLAT_QUBITS, local) and _contiguous(re[sl], im[sl]):
                run_rows_flat(re[sl].reshape(-1), im[sl].reshape(-1), 1 << n, 0, nb, *args, rows.start + sl.start)
            elif n <= local:
                run_rows(re[sl], im[sl], 0, nb, *args, rows.start + sl.start, 1)

        _parallel(rows_part, Bc, threads, re.size * (nb + 1))
        if n > local:
            for r in range(Bc):
                self._forward_large(re[r], im[r], rows.start + r, threads, chunk_qubits(self.dtype, n), args)
        return out[:, :Bc]

    def _relabeled_args(self, local: int, args: tuple) -> tuple[tuple, Relabeling | None]:
        """The block arguments in the relabeled layout of ``relabeling`` (matrices with their bits
        reordered once per call), or ``args`` unchanged when the plan does not relabel."""
        key = ("relabel", local)
        if key not in self.plan.layouts:
            self.plan.layouts[key] = relabeling(self.plan, local)
        rl = self.plan.layouts[key]
        if rl is None:
            return args, None
        if self._mats_rl is None:
            L = self.layout
            self._mats_rl = np.empty_like(self.mats)
            relabel_mats(self._nrows, L.b_k, L.b_diag, L.b_moff, L.b_mstride, rl.b_perm, self.mats, self._mats_rl)
        return (args[0], rl.b_qs) + args[2:5] + (self._mats_rl,), rl

    def _groups(self, segs: list, local: int, m: int) -> list[tuple[list[int], tuple[int, ...] | None]]:
        """Consecutive segments that m bits at or above ``local`` split into 2**m independent
        parts (no block of theirs touches those bits: the highest such bits are taken), with
        those bits; a segment no m bits split stands alone with None."""
        n, blocks = self.plan.n, self.plan.blocks
        out: list[tuple[list[int], tuple[int, ...] | None]] = []
        cur: list[int] = []
        free_cur: set[int] = set()

        def close() -> None:
            if cur:
                out.append((list(cur), tuple(sorted(free_cur)[-m:])))

        for si, (first, last, _) in enumerate(segs):
            free = set(range(local, n)) - {q for b in range(first, last) for q in blocks[b].qubits}
            if len(free) < m:
                close()
                cur, free_cur = [], set()
                out.append(([si], None))
            elif cur and len(free_cur & free) >= m:
                cur.append(si)
                free_cur &= free
            else:
                close()
                cur, free_cur = [si], free
        close()
        return out

    def _forward_large(self, re: np.ndarray, im: np.ndarray, mrow: int, threads: int, local: int, args) -> None:
        args, rl = self._relabeled_args(local, args)
        pre, pim = re.reshape(-1, 1 << local), im.reshape(-1, 1 << local)
        P = pre.shape[0]
        n, nb = self.plan.n, len(self.plan.blocks)
        segs = _segments(self.plan, n, local)
        if rl is not None and not segs[-1][2]:  # the identity comes back in a chunked run of its own
            segs.append((nb, nb, True))
        z = np.zeros(0, dtype=np.int64)
        sw = (rl.sw_at, rl.sw_a, rl.sw_b, rl.pm_at, rl.pm_lo, rl.pm_hi) if rl is not None else \
            (z, z, z, z, np.zeros((0, 256), np.int64), np.zeros((0, 1), np.int64))
        m = min(int(math.log2(threads)), n - local) if threads > 1 else 0
        key = ("groups", local, m, len(segs))
        if key not in self.plan.layouts:
            self.plan.layouts[key] = self._groups(segs, local, m) if m else [([i], None) for i in range(len(segs))]
        for members, hb in self.plan.layouts[key]:
            if hb is not None and len(members) > 1:
                g = np.array([segs[i] for i in members], dtype=np.int64)
                hbits = np.array(hb, dtype=np.int64)
                work = re.size * max(1, int((g[:, 1] - g[:, 0]).sum()))
                def group_part(part: int, parts: int, g=g, hbits=hbits) -> None:
                    for p in range(part, 1 << m, parts):  # all parts on one thread when the work is small
                        run_group(re, im, g[:, 0], g[:, 1], g[:, 2].astype(np.bool_), local, hbits, p, *args, mrow, *sw)

                _parallel(group_part, 1 << m, threads, work)
                continue
            for si in members:
                first, last, chunked = segs[si]
                if chunked:
                    if rl is None:
                        def chunk_part(part: int, parts: int, first=first, last=last) -> None:
                            sl = _split(P, part, parts)
                            run_rows(pre[sl], pim[sl], first, last, *args, mrow, P)
                    else:
                        def chunk_part(part: int, parts: int, first=first, last=last) -> None:
                            sl = _split(P, part, parts)
                            run_rows_swapping(pre[sl], pim[sl], first, last, *args, mrow, P, *sw)

                    _parallel(chunk_part, P, threads, re.size * max(1, last - first))
                    continue
                for b in range(first, last):
                    _parallel(lambda part, parts, b=b: run_block_range(re, im, b, *args, mrow, part, parts),
                              threads, threads, re.size)

    def grad_args(self) -> tuple:
        L = self.layout
        return (L.b_k, L.b_qs, L.b_diag, L.b_moff, L.b_mstride, self.mats_dag, L.b_grad,
                L.b_gfirst, L.b_glast, L.g_nq_b, L.g_pos, L.g_off_b, L.g_stride_b,
                self.gmats, L.d_gate, L.d_off, L.d_stride, L.d_slot, L.d_first_b,
                L.d_last_b, self.dmats)

    def backward(self, psi: np.ndarray, lam: np.ndarray, rows: slice, threads: int,
                 summed: bool = False) -> np.ndarray:
        """Angle-slot gradients (b, n_slots) of batch rows ``rows`` from split planes psi and lam
        (2, b, 2**n), which are consumed; with ``summed`` only their sum over rows, (1, n_slots)."""
        Bc = psi.shape[1]
        out = np.zeros((Bc, len(self.plan.exprs)))
        args = self.grad_args()
        L = self.layout
        if self.plan.n <= self._local():
            nb = len(self.plan.blocks)
            b_sum = L.b_rowfree & L.b_grad if summed and Bc > 1 else np.zeros(nb, dtype=np.bool_)
            dm = 1 << int(L.b_k[b_sum].max()) if b_sum.any() else 1
            parts = max(1, min(Bc, threads))
            Csum = np.zeros((parts, nb if b_sum.any() else 1, dm, dm), dtype=np.complex128)

            def part_fn(part: int, parts: int) -> None:
                sl = _split(Bc, part, parts)
                if self.plan.n <= FLAT_QUBITS and _contiguous(psi[0, sl], psi[1, sl], lam[0, sl], lam[1, sl]):
                    adjoint_rows_flat(psi[0, sl].reshape(-1), psi[1, sl].reshape(-1), lam[0, sl].reshape(-1),
                                      lam[1, sl].reshape(-1), 1 << self.plan.n, *args, out[sl], rows.start + sl.start,
                                      b_sum, Csum[part])
                else:
                    adjoint_rows(psi[0, sl], psi[1, sl], lam[0, sl], lam[1, sl], *args, out[sl], rows.start + sl.start,
                                 b_sum, Csum[part])

            _parallel(part_fn, Bc, threads, psi[0].size * len(self.plan.blocks) * 3)
            if not summed:
                return out
            total = out.sum(axis=0, keepdims=True)
            if b_sum.any():
                summed_block_grads(b_sum, Csum.sum(axis=0), L.b_k, L.b_diag, *args[7:], total[0])
            return total
        for r in range(Bc):
            pr, pi, lr, li, row = psi[0, r], psi[1, r], lam[0, r], lam[1, r], rows.start + r
            for b in range(len(self.plan.blocks) - 1, -1, -1):
                D = 1 << int(L.b_k[b])
                parts = max(1, threads)
                Cs = np.zeros((parts, D, D) if L.b_grad[b] else (parts, 0, 0), dtype=np.complex128)

                def part_fn(part: int, parts: int, b=b, Cs=Cs) -> None:
                    adjoint_block_range(pr, pi, lr, li, b, row, *args[:6], part, parts, Cs[part])

                _parallel(part_fn, parts, threads, pr.size)
                if L.b_grad[b]:
                    _block_grad(b, row, Cs.sum(axis=0), L.b_k, L.b_diag, *args[7:], out[r])
        return out.sum(axis=0, keepdims=True) if summed else out


def local_qubits(dtype) -> int:
    """Qubits above which a state in precision ``dtype`` (complex) is large (CHUNK_BYTES)."""
    return max(1, int(math.log2(CHUNK_BYTES // np.dtype(dtype).itemsize)))


def _l2_bytes() -> int | None:
    """The per-core L2 cache size Linux reports, else None."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for d in sorted(os.listdir(base)):
            if not d.startswith("index"):
                continue
            with open(f"{base}/{d}/level") as f:
                level = f.read().strip()
            with open(f"{base}/{d}/type") as f:
                kind = f.read().strip()
            if level == "2" and kind in ("Unified", "Data"):
                with open(f"{base}/{d}/size") as f:
                    size = f.read().strip()
                mult = {"K": 1 << 10, "M": 1 << 20}.get(size[-1:], 1)
                return int(size.rstrip("KM")) * mult
    except (OSError, ValueError):
        return None
    return None


BLOCK_BYTES = min(max(_l2_bytes() or CHUNK_BYTES, CHUNK_BYTES), 1 << 22)


def chunk_qubits(dtype, n: int) -> int:
    """Qubits of a cache-blocking chunk of an n-qubit large state (BLOCK_BYTES; at least two chunks)."""
    return max(1, min(int(math.log2(BLOCK_BYTES // np.dtype(dtype).itemsize)), n - 1))


def observable_arrays(observables) -> tuple[np.ndarray, ...]:
    """Pauli terms as kernel arrays: X-mask, (Z or Y)-mask, number of Y, output index, coefficient."""
    tx, tz, ty, to, tc = [], [], [], [], []
    for k, obs in enumerate(observables):
        for t in obs.terms:
            x = z = ny = 0
            for q, p in t.paulis:
                if p in "XY":
                    x |= 1 << q
                if p in "ZY":
                    z |= 1 << q
                ny += p == "Y"
            tx.append(x)
            tz.append(z)
            ty.append(ny)
            to.append(k)
            tc.append(t.coeff)
    return (np.array(tx, np.int64), np.array(tz, np.int64), np.array(ty, np.int64),
            np.array(to, np.int64), np.array(tc, np.float64))


def values(states: np.ndarray, obs: tuple[np.ndarray, ...], nout: int, threads: int) -> np.ndarray:
    """Expectation values (b, nout) of the observables (``observable_arrays``) in split-plane
    states (2, b, 2**n)."""
    B = states.shape[1]
    out = np.zeros((B, nout))

    def part_fn(part: int, parts: int) -> None:
        sl = _split(B, part, parts)
        expvals(states[0, sl], states[1, sl], *obs, out[sl])

    _parallel(part_fn, B, threads, states[0].size * len(obs[0]))
    return out


def cotangent_states(states: np.ndarray, obs: tuple[np.ndarray, ...], cot: np.ndarray, threads: int,
                     out: np.ndarray) -> np.ndarray:
    """out[:, r] = sum_k cot[r, k] O_k states[:, r] (the adjoint's starting vectors, split planes)."""
    tx, tz, ty, to, tc = obs
    coeffs = np.ascontiguousarray(cot[:, to] * tc) if len(to) else np.zeros((cot.shape[0], 0))
    B = states.shape[1]

    def part_fn(part: int, parts: int) -> None:
        sl = _split(B, part, parts)
        pauli_sum(states[0, sl], states[1, sl], out[0, sl], out[1, sl], tx, tz, ty, coeffs[sl])

    _parallel(part_fn, B, threads, states[0].size * len(tx))
    return out


def to_complex(states: np.ndarray, dtype) -> np.ndarray:
    """Split planes (2, b, 2**n) as complex rows (b, 2**n)."""
    out = np.empty(states.shape[1:], dtype=dtype)
    out.real = states[0]
    out.imag = states[1]
    return out
