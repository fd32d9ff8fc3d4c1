"""The fused engine's controlled two-qubit blocks, structure-keeping fusion and row-summed adjoint
gradients, against the reference simulator, the dense kernel and per-row gradients."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcomp import parse
from qcomp.backends import engine as E
from qcomp.backends import reference as R
from qcomp.backends.simulator import Simulator
from qcomp.ir.gates import GATES

from test_simulator import random_source

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
# gates that make controlled blocks common: controlled and diagonal two-qubit gates, rotations
LADDER_GATES = tuple(g for g in ("rx", "ry", "rz", "h", "sx", "cx", "cz", "cp", "crz", "cry", "rzz", "swap", "rxx")
                     if g in GATES)


def _unitary(rng, d: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d)))
    return q * (np.diag(r) / np.abs(np.diag(r)))


@SETTINGS
@given(st.data())
def test_controlled_kernel_matches_the_dense_one(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    n = data.draw(st.integers(2, 9))
    q0, q1 = sorted(data.draw(st.permutations(range(n)))[:2])
    control = data.draw(st.integers(0, 1))  # block-index bit of the control
    a, b = _unitary(rng, 2), _unitary(rng, 2)
    m = np.zeros((4, 4), dtype=complex)
    # block index bit 0 = q0, bit 1 = q1; the target's 2x2 matrix depends on the control bit
    for c, u in ((0, a), (1, b)):
        for y in range(2):
            for x in range(2):
                iy = (c << control) | (y << (1 - control))
                ix = (c << control) | (x << (1 - control))
                m[iy, ix] = u[y, x]
    assert E._block_diag_in(m, control) and not E._block_diag_in(m, 1 - control)
    for dtype, cdtype, tol in ((np.float64, np.complex128, 1e-13), (np.float32, np.complex64, 1e-5)):
        re0 = rng.normal(size=2**n).astype(dtype)
        im0 = rng.normal(size=2**n).astype(dtype)
        lo = data.draw(st.integers(0, 2 ** (n - 2)))
        hi = data.draw(st.integers(lo, 2 ** (n - 2)))
        want_re, want_im = re0.copy(), im0.copy()
        E._apply2(want_re, want_im, q0, q1, m.astype(cdtype), lo, hi)
        got_re, got_im = re0.copy(), im0.copy()
        E._apply2_any(got_re, got_im, q0, q1, m.astype(cdtype), lo, hi)
        np.testing.assert_allclose(got_re, want_re, atol=tol)
        np.testing.assert_allclose(got_im, want_im, atol=tol)


def test_gate_controls():
    ops = parse("qubit q[3]; param w[1];\ncx q[0], q[2];\ncz q[1], q[0];\nry(w[0]) q[1];\ncry(w[0]) q[2], q[1];\n"
                "swap q[0], q[1];").circuit.ops()
    assert [sorted(E._controls(op)) for op in ops] == [[0], [0, 1], [], [2], []]


def test_ladders_fuse_into_controlled_blocks():
    # hardware-efficient layers: with ``controlled`` each cx takes the rotations of its target,
    # so every two-qubit block is cx (I x U), block diagonal in its control
    n, layers = 8, 3
    lines = [f"qubit q[{n}];", f"param w[{2 * n * layers}];"]
    for l in range(layers):
        lines += [f"ry(w[{2 * n * l + i}]) q[{i}]; rz(w[{2 * n * l + n + i}]) q[{i}];" for i in range(n)]
        lines += [f"cx q[{i}], q[{i + 1}];" for i in range(n - 1)]
    lines.append("expect z(q[0]) + z(q[3]);")
    program = parse("\n".join(lines))
    w = np.random.default_rng(0).uniform(-2, 2, program.num_params)
    plan = E.build_plan(program.circuit.ops(), n, controlled=True)
    bound = E.Bound(plan, w[None], np.zeros((1, 0)), False, False, np.dtype(complex))
    two = [b for b, blk in enumerate(plan.blocks) if len(blk.qubits) == 2]
    mats = [bound.mats[bound.layout.b_moff[b]:bound.layout.b_moff[b] + 16].reshape(4, 4) for b in two]
    assert len(two) == layers * (n - 1)
    assert all(E._block_diag_in(m, 0) for m in mats)  # control = the lower qubit of each cx
    plain = E.build_plan(program.circuit.ops(), n)
    assert sum(len(b.qubits) == 1 for b in plan.blocks) <= n  # only the last layer's tail stays alone
    for p in (plan, plain):
        b = E.Bound(p, w[None], np.zeros((1, 0)), False, False, np.dtype(complex))
        st_ = E.to_complex(b.forward(slice(0, 1), np.empty((2, 1, 2**n)), 2), complex)
        np.testing.assert_allclose(st_[0], R.simulate(program, w).reshape(-1), atol=1e-12)


@SETTINGS
@given(st.data())
def test_controlled_fusion_matches_the_reference(data):
    n = data.draw(st.integers(2, 6))
    gates = data.draw(st.sampled_from([LADDER_GATES, None]))
    kw = {"gates": gates} if gates else {}
    program = parse(random_source(data.draw, n, data.draw(st.integers(1, 30)), **kw))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    w = rng.uniform(-2, 2, (3, program.num_params))
    x = rng.uniform(-2, 2, (3, program.num_inputs))
    want = R.simulate(program, w, x)
    ops = program.circuit.ops()
    for grad in (False, True):
        plan = E.build_plan(ops, n, controlled=True, with_gradient=grad)
        for dtype, tol in ((np.complex128, 1e-12), (np.complex64, 2e-6)):
            bound = E.Bound(plan, w, x, True, True, np.dtype(dtype))
            real = np.float64 if dtype == np.complex128 else np.float32
            planes = bound.forward(slice(0, 3), np.empty((2, 3, 2**n), dtype=real), 2)
            np.testing.assert_allclose(E.to_complex(planes, dtype), want, atol=tol, rtol=0)


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_large_state_controlled_plans_forward_and_adjoint(data):
    # a tiny chunk makes 7-qubit states "large": the simulator then fuses with ``controlled``
    n = 7
    program = parse(random_source(data.draw, n, data.draw(st.integers(5, 30)), gates=LADDER_GATES))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    w = rng.uniform(-2, 2, program.num_params)
    x = rng.uniform(-2, 2, (2, program.num_inputs))
    cot = rng.normal(size=(2, program.num_outputs))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(E, "CHUNK_BYTES", 16 * 8)  # 3 local qubits in double precision
        mp.setattr(E, "BLOCK_BYTES", 16 * 8)
        for precision, tol in (("double", 1e-12), ("single", 2e-6)):
            sim = Simulator(program, engine="fused", threads=2, precision=precision)
            np.testing.assert_allclose(sim.state(w, x), R.simulate(program, w, x), atol=tol)
            np.testing.assert_allclose(sim.expval(w, x), R.expvals(program, w, x), atol=5 * tol)
        sim = Simulator(program, engine="fused", threads=2)
        g = sim.vjp(w, x, cot)
    np.testing.assert_allclose(g, Simulator(program, engine="layers").vjp(w, x, cot), atol=1e-10)


@SETTINGS
@given(st.data())
def test_row_summed_vjp_equals_the_sum_of_row_gradients(data):
    # shared params: blocks whose matrices are equal on every row sum their cross matrices over
    # the batch first; angles like w * x (derivatives that vary per row) take the per-row path
    n = data.draw(st.integers(1, 5))
    program = parse(random_source(data.draw, n, data.draw(st.integers(1, 25))))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    B = data.draw(st.integers(1, 6))
    w = rng.uniform(-2, 2, program.num_params)
    x = rng.uniform(-2, 2, (B, program.num_inputs))
    cot = rng.normal(size=(B, program.num_outputs))
    for precision, tol in (("double", 1e-10), ("single", 2e-4)):
        sim = Simulator(program, engine="fused", precision=precision)
        per_row = np.einsum("bk,bkp->p", cot, sim.gradient(w, x))
        np.testing.assert_allclose(sim.vjp(w, x, cot), per_row, atol=tol)
        v, g = sim.value_and_vjp(w, x, lambda vals, rows: cot[rows])
        np.testing.assert_allclose(g, per_row, atol=tol)
        np.testing.assert_allclose(v, sim.expval(w, x), atol=tol)
    # per-row params keep per-row gradients
    W = np.broadcast_to(w, (B, program.num_params)).copy()
    sim = Simulator(program, engine="fused")
    np.testing.assert_allclose(sim.vjp(W, x, cot), np.einsum("bk,bkp->bp", cot, sim.gradient(W, x)), atol=1e-10)
    if B > 1:  # a (1, P) batch against B inputs sums into its one row
        np.testing.assert_allclose(sim.vjp(w[None], x, cot)[0], sim.vjp(w, x, cot), atol=1e-10)
