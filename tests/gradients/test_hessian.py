"""Hessians by shift rules applied twice, against finite differences of the gradient."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qcomp
from qcomp.gradients import ReferenceExecutor, finite_diff_hessian, hessian
from qcomp.ir.gates import GATES
from qcomp.passes.param_shift import build_gradient_program

REF = ReferenceExecutor()
PARAM_GATES = [g.name for g in GATES.values() if g.num_angles]

SRC = """
qubit q[3]; param w[3]; input x[2];
gate blk(a, b) s, t { ry(a) s; crx(b) s, t; u(a, b, 0.3) t; }
h q[0]; h q[2];
rx(w[0] * x[0]) q[0];
cry(sin(w[1])) q[0], q[1];
crz(w[0] * w[2]) q[1], q[2];
inv @ blk(w[2] ** 2, w[1] + x[1]) q[2], q[0];
cp(w[0]) q[2], q[1];
rxx(w[1] - 0.5 * w[2]) q[0], q[2];
expect z(q[0]) @ x(q[1]) + 0.3 * y(q[2]);
expect x(q[1]);
"""


def test_hessian_matches_finite_differences_of_gradient():
    program = qcomp.parse(SRC)
    rng = np.random.default_rng(0)
    w = rng.uniform(-math.pi, math.pi, (2, 3))
    x = rng.uniform(-1, 1, (2, 2))
    H = hessian(program, w, x, REF)
    assert H.shape == (2, 2, 3, 3)
    np.testing.assert_allclose(H, H.swapaxes(-1, -2), atol=1e-12)
    Hfd = finite_diff_hessian(program, w, x, REF)
    np.testing.assert_allclose(H, Hfd, atol=2e-7)
    assert np.abs(H).max() > 1e-2
    # with respect to inputs and params together
    Hb = hessian(program, w, x, REF, wrt="both")
    np.testing.assert_allclose(Hb[..., :3, :3], H, atol=1e-12)
    np.testing.assert_allclose(Hb, finite_diff_hessian(program, w, x, REF, wrt="both"), atol=2e-7)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gate=st.sampled_from(PARAM_GATES), seed=st.integers(0, 2**31), shared=st.booleans())
def test_single_gate_hessian(gate, seed, shared):
    g = GATES[gate]
    # the same param in every angle (shared) or one param per angle
    args = ", ".join("w[0]" if shared else f"w[{k}] * w[0]" for k in range(g.num_angles))
    qs = ", ".join(f"q[{k}]" for k in range(g.num_qubits))
    program = qcomp.parse(
        f"qubit q[2]; param w[3]; h q[0]; ry(0.7) q[1]; {gate}({args}) {qs}; rx(w[0]) q[0]; expect x(q[0]) @ y(q[1]) + z(q[1]);"
    )
    rng = np.random.default_rng(seed)
    w = rng.uniform(-math.pi, math.pi, 3)
    H = hessian(program, w, None, REF)
    np.testing.assert_allclose(H, finite_diff_hessian(program, w, None, REF), atol=2e-7)


def test_second_order_program_structure():
    program = qcomp.parse("qubit q[2]; param w[2]; ry(w[0]) q[0]; crx(w[1]) q[0], q[1]; expect z(q[1]);")
    gp = build_gradient_program(program, order=2)
    assert gp.order == 2
    assert set(gp.terms) == {(0, 0, 0), (0, 0, 1), (0, 1, 1)}  # upper triangle only
    # ry twice: shifts 0 and pi (2 circuits incl. unshifted); crx twice: 4 distinct; mixed: 2 x 4
    assert gp.num_circuits == 1 + 1 + 3 + 8
    assert gp.circuits[0] == ()


def test_hessian_methods_agree_and_reject_unknown():
    program = qcomp.parse(SRC)
    w = np.array([0.2, -0.4, 1.1])
    x = np.array([0.3, 0.9])
    a = hessian(program, w, x, REF)
    b = hessian(program, w, x, REF, method="finite-diff")
    np.testing.assert_allclose(a, b, atol=2e-7)
    with pytest.raises(qcomp.QCompError, match="Hessian method"):
        hessian(program, w, x, REF, method="magic")
