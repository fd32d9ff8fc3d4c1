"""The engine's tile kernels for gates on low qubits (steps 1-16) against a dense reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

pytest.importorskip("numba")
from qcomp.backends import engine as E  # noqa: E402

PRECISIONS = [(np.float64, np.complex128, 1e-12), (np.float32, np.complex64, 2e-5)]


def dense(psi: np.ndarray, m: np.ndarray, qs: list[int], n: int) -> np.ndarray:
    """m (matrix index bit j = qubit qs[j]) applied to the state psi of n qubits."""
    k = len(qs)
    axes = [n - 1 - q for q in reversed(qs)]
    t = np.moveaxis(psi.reshape((2,) * n), axes, range(k))
    t = np.tensordot(m.reshape((2,) * (2 * k)), t, axes=(list(range(k, 2 * k)), list(range(k))))
    return np.moveaxis(t, range(k), axes).ravel()


def ranges(total: int) -> list[tuple[int, int]]:
    """The whole range and ranges whose ends are not tile-aligned (as a thread's part is)."""
    return [(0, total), (3, max(3, total - 5)), (total // 3, total // 2 + 1)]


def run_split(fn, re, im, lo, hi) -> None:
    """fn over [lo, hi) in two parts, as two threads would run it."""
    mid = (lo + hi) // 2
    fn(re, im, lo, mid)
    fn(re, im, mid, hi)


@pytest.mark.parametrize("prec", PRECISIONS, ids=["double", "single"])
@pytest.mark.parametrize("n", [3, 5, 6, 8])
def test_controlled_two_qubit_blocks_on_every_pair(prec, n: int) -> None:
    dt, cdt, tol = prec
    rng = np.random.default_rng(n)
    for q0, q1 in itertools.combinations(range(n), 2):
        for control in (0, 1):
            a = rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2))
            b = rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2))
            M = np.zeros((4, 4), complex)
            if control == 0:  # control q0 (block bit 0), target q1
                M[0::2, 0::2], M[1::2, 1::2] = a, b
            else:
                M[0:2, 0:2], M[2:4, 2:4] = a, b
            psi = rng.normal(size=1 << n) + 1j * rng.normal(size=1 << n)
            for lo, hi in ranges((1 << n) >> 2):
                re, im = psi.real.astype(dt), psi.imag.astype(dt)
                run_split(lambda r, i, l, h: E._apply2_any(r, i, q0, q1, M.astype(cdt), l, h), re, im, lo, hi)
                ref_re, ref_im = psi.real.astype(dt), psi.imag.astype(dt)
                E._apply2(ref_re, ref_im, q0, q1, M.astype(cdt), lo, hi)
                np.testing.assert_allclose(re + 1j * im, ref_re + 1j * ref_im, atol=tol * 20)
                if (lo, hi) == (0, (1 << n) >> 2):
                    np.testing.assert_allclose(re + 1j * im, dense(psi, M, [q0, q1], n), atol=tol * 20)


@pytest.mark.parametrize("prec", PRECISIONS, ids=["double", "single"])
@pytest.mark.parametrize("n", [3, 5, 7])
def test_one_qubit_blocks_on_every_qubit(prec, n: int) -> None:
    dt, cdt, tol = prec
    rng = np.random.default_rng(10 + n)
    for q in range(n):
        m = rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2))
        psi = rng.normal(size=1 << n) + 1j * rng.normal(size=1 << n)
        for lo, hi in ranges((1 << n) >> 1):
            re, im = psi.real.astype(dt), psi.imag.astype(dt)
            run_split(lambda r, i, l, h: E._apply1(r, i, q, m.astype(cdt), l, h), re, im, lo, hi)
            ref_re, ref_im = psi.real.astype(dt), psi.imag.astype(dt)
            E._apply1_runs(ref_re, ref_im, q, m.astype(cdt), lo, hi)
            np.testing.assert_allclose(re + 1j * im, ref_re + 1j * ref_im, atol=tol * 20)
        re, im = psi.real.astype(dt), psi.imag.astype(dt)
        E._apply1(re, im, q, m.astype(cdt), 0, (1 << n) >> 1)
        np.testing.assert_allclose(re + 1j * im, dense(psi, m, [q], n), atol=tol * 20)


@pytest.mark.parametrize("n", [3, 6])
def test_flat_small_state_path_matches_row_by_row(n: int) -> None:
    """run_rows_flat / adjoint_rows_flat (blocks over all rows at once) against the row-by-row
    kernels: an input-dependent embedding (per-row blocks) and a param-only ansatz (shared blocks,
    row-summed gradients)."""
    import qcomp
    from qcomp.backends.simulator import Simulator

    lines = [f"qubit q[{n}];", f"input x[{n}];", f"param w[{2 * n}];"]
    lines += [f"h q[{i}]; rz(x[{i}]) q[{i}];" for i in range(n)]
    lines += [f"rzz(x[{i}] * x[{(i + 1) % n}]) q[{i}], q[{(i + 1) % n}];" for i in range(n)]
    lines += [f"ry(w[{i}]) q[{i}]; rz(w[{n + i}]) q[{i}];" for i in range(n)]
    lines += [f"cx q[{i}], q[{i + 1}];" for i in range(n - 1)]
    lines.append("expect z(q[0]) @ z(q[1]);")
    program = qcomp.parse("\n".join(lines))
    rng = np.random.default_rng(n)
    w, X = rng.uniform(-3, 3, 2 * n), rng.uniform(-1, 1, (5, n))
    results = []
    for flat in (E.FLAT_QUBITS, 0):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(E, "FLAT_QUBITS", flat)
            sim = Simulator(program, engine="fused")
            v, g = sim.value_and_vjp(w, X, lambda vals, rows: np.ones_like(vals))
            results.append((np.asarray(v), np.asarray(g), np.asarray(sim.state(w, X))))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-12)


@pytest.mark.parametrize("prec", PRECISIONS, ids=["double", "single"])
@pytest.mark.parametrize("n", [10, 12])
def test_dense_two_qubit_blocks_dealt_into_lanes(prec, n: int) -> None:
    """Dense blocks on a qubit below 3 and one >= SPLIT_Q1 (tiles dealt into lane arrays)."""
    dt, cdt, tol = prec
    rng = np.random.default_rng(n)
    for q0 in (0, 1, 2):
        for q1 in sorted({E.SPLIT_Q1, E.SPLIT_Q1 + 1, n - 1}):
            M = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
            psi = rng.normal(size=1 << n) + 1j * rng.normal(size=1 << n)
            mr, mi = M.real.astype(dt), M.imag.astype(dt)
            for lo, hi in ranges((1 << n) >> 2):
                re, im = psi.real.astype(dt), psi.imag.astype(dt)
                run_split(lambda r, i, l, h: E._apply2(r, i, q0, q1, M.astype(cdt), l, h), re, im, lo, hi)
                ref_re, ref_im = psi.real.astype(dt), psi.imag.astype(dt)
                E._apply2_runs(ref_re, ref_im, q0, q1, mr, mi, lo, hi)
                np.testing.assert_allclose(re + 1j * im, ref_re + 1j * ref_im, atol=tol * 20)
                if (lo, hi) == (0, (1 << n) >> 2):
                    np.testing.assert_allclose(re + 1j * im, dense(psi, M, [q0, q1], n), atol=tol * 20)


@pytest.mark.parametrize("prec", PRECISIONS, ids=["double", "single"])
@pytest.mark.parametrize("n, qs", [(14, [0]), (14, [5]), (14, [1, 7]), (14, [3, 11]), (14, [0, 2, 9]),
                                   (14, [1, 4, 6, 10, 12]), (14, [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]),
                                   (16, [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]), (16, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])])
def test_diagonal_blocks_in_lane_tiles(prec, n: int, qs: list[int]) -> None:
    """Diagonal blocks over large ranges (lane-periodic tiles; per-amplitude lookup for blocks too
    wide for a factor table) against the dense reference, on ranges whose ends are not
    tile-aligned, in two parts as threads run them."""
    dt, cdt, tol = prec
    rng = np.random.default_rng(len(qs))
    k = len(qs)
    d = np.exp(1j * rng.uniform(0, 2 * np.pi, 1 << k)) * rng.uniform(0.5, 1.5, 1 << k)
    psi = rng.normal(size=1 << n) + 1j * rng.normal(size=1 << n)
    q = np.array(qs, dtype=np.int64)
    for lo, hi in ranges(1 << n):
        re, im = psi.real.astype(dt), psi.imag.astype(dt)
        run_split(lambda r, i, l, h: E._applydiag(r, i, q, k, d.astype(cdt), l, h), re, im, lo, hi)
        ref_re, ref_im = psi.real.astype(dt), psi.imag.astype(dt)
        E._applydiag_scalar(ref_re, ref_im, q, k, d.astype(cdt), lo, hi)
        np.testing.assert_allclose(re + 1j * im, ref_re + 1j * ref_im, atol=tol * 20)
        if (lo, hi) == (0, 1 << n):
            np.testing.assert_allclose(re + 1j * im, dense(psi, np.diag(d), qs, n), atol=tol * 20)


def test_diagonal_blocks_composed_per_row_match_qiskit() -> None:
    """Input-dependent diagonal blocks (composed per row by runs, _diag_mul12) with gates whose
    arguments are not symmetric (crz, cp) in both orders, against Qiskit's Statevector."""
    pytest.importorskip("qiskit")
    import warnings

    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Statevector

    import qcomp
    from qcomp.backends.simulator import Simulator

    rng = np.random.default_rng(3)
    n = 6
    for _ in range(8):
        lines = [f"qubit q[{n}];", f"input x[{n}];"] + [f"h q[{i}];" for i in range(n)]
        ops = []
        for _ in range(14):
            a, b = (int(v) for v in rng.choice(n, 2, replace=False))
            g, k = str(rng.choice(["crz", "cp", "rzz", "rz", "cz"])), int(rng.integers(n))
            lines.append({"rz": f"rz(x[{k}]) q[{a}];", "cz": f"cz q[{a}], q[{b}];"}.get(
                g, f"{g}(x[{k}] * 1.3) q[{a}], q[{b}];"))
            ops.append((g, a, b, k))
        lines.append("expect " + " + ".join(f"z(q[{i}])" for i in range(n)) + ";")
        X = rng.uniform(-2, 2, (3, n))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # inputs no gate uses
            sim = Simulator(qcomp.parse("\n".join(lines)))
        states = np.asarray(sim.state(None, X))
        for r in range(3):
            qc = QuantumCircuit(n)
            qc.h(range(n))
            for g, a, b, k in ops:
                if g == "rz":
                    qc.rz(X[r, k], a)
                elif g == "cz":
                    qc.cz(a, b)
                else:
                    getattr(qc, g)(X[r, k] * 1.3, a, b)
            np.testing.assert_allclose(states[r], Statevector(qc).data, atol=1e-10)
