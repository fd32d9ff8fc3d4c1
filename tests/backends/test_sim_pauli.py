"""Pauli-rotation kernels of the simulator vs dense matrices, the reference simulator and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcomp import parse
from qcomp.backends import kernels as K
from qcomp.backends import reference as R
from qcomp.backends import sim_plan as SP
from qcomp.backends.simulator import Simulator

PAULI = {"I": np.eye(2), "X": np.array([[0, 1], [1, 0]]), "Y": np.array([[0, -1j], [1j, 0]]),
         "Z": np.diag([1.0, -1.0])}


def word_matrix(n: int, word) -> np.ndarray:
    """Dense 2**n matrix of a Pauli word; state index bit k = qubit k."""
    ps = dict(word)
    m = np.eye(1)
    for q in reversed(range(n)):  # kron puts the first factor on the most significant bit
        m = np.kron(m, PAULI[ps.get(q, "I")])
    return m


def rotation(n: int, word, t: float) -> np.ndarray:
    return np.cos(t / 2) * np.eye(2**n) - 1j * np.sin(t / 2) * word_matrix(n, word)


@st.composite
def words(draw):
    n = draw(st.integers(1, 6))
    k = draw(st.integers(1, min(n, 3)))
    qs = draw(st.permutations(range(n)))[:k]
    return n, tuple((q, draw(st.sampled_from("XYZ"))) for q in qs)


def _states(rng, B: int, n: int, dtype) -> np.ndarray:
    X = rng.normal(size=(B, 2**n)) + 1j * rng.normal(size=(B, 2**n))
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(dtype)


@settings(max_examples=40, deadline=None)
@given(words(), st.sampled_from([1, 3]), st.booleans(), st.sampled_from([np.complex128, np.complex64]),
       st.integers(0, 2**31), st.booleans())
def test_rotation_kernel_matches_dense_matrix(wd, B, per_row, dtype, seed, deferred):
    n, word = wd
    rng = np.random.default_rng(seed)
    X = _states(rng, B, n, dtype)
    t = rng.uniform(-4, 4, B if per_row else 1)
    Y = np.empty_like(X)
    c = K.apply_pauli_rotation(X.copy(), Y, K.PauliView(n, word), t, deferred=deferred)
    if c is not None:
        assert deferred
        Y *= c.astype(Y.real.dtype)[:, None]
    want = np.stack([rotation(n, word, t[b if per_row else 0]) @ X[b] for b in range(B)])
    tol = 1e-12 if dtype == np.complex128 else 2e-6
    assert Y.dtype == dtype
    np.testing.assert_allclose(Y, want, atol=tol, rtol=0)


@settings(max_examples=30, deadline=None)
@given(words(), st.sampled_from([1, 2]), st.integers(0, 2**31), st.booleans())
def test_adjoint_step_gradient_and_uncompute(wd, B, seed, deferred):
    n, word = wd
    rng = np.random.default_rng(seed)
    before = _states(rng, B, n, np.complex128)
    lam = _states(rng, B, n, np.complex128)
    t = rng.uniform(-4, 4, B)
    U = [rotation(n, word, t[b]) for b in range(B)]
    after = np.stack([U[b] @ before[b] for b in range(B)])
    psi, lm, tmp = after.copy(), lam.copy(), np.empty_like(after)
    g, c = K.pauli_rotation_adjoint_step(psi, lm, tmp, K.PauliView(n, word), t, deferred=deferred)
    if c is not None:  # deferred form: both states are left divided by cos(t/2)
        assert deferred
        psi *= c[:, None]
        lm *= c[:, None]
    eps = 1e-6
    fd = [(2 * np.vdot(lam[b], rotation(n, word, t[b] + eps) @ before[b]).real
           - 2 * np.vdot(lam[b], rotation(n, word, t[b] - eps) @ before[b]).real) / (2 * eps) for b in range(B)]
    np.testing.assert_allclose(g, fd, atol=1e-8)
    np.testing.assert_allclose(psi, before, atol=1e-12)
    np.testing.assert_allclose(lm, np.stack([U[b].conj().T @ lam[b] for b in range(B)]), atol=1e-12)


ROT = ["rx", "ry", "rz", "rxx", "ryy", "rzz"]


def pauli_source(draw, n: int, num_ops: int) -> str:
    lines = [f"qubit q[{n}];", "param w[3];", "input x[2];", "h q[0];"]
    for _ in range(num_ops):
        g = draw(st.sampled_from(ROT if n > 1 else ROT[:3]))
        k = 2 if len(g) == 3 else 1
        qs = draw(st.permutations(range(n)))[:k]
        ang = draw(st.sampled_from(["w[0]", "w[1] * x[0]", "sin(x[1]) + w[2]", "0.7"]))
        lines.append(f"{g}({ang}) " + ", ".join(f"q[{q}]" for q in qs) + ";")
        if draw(st.booleans()):
            lines.append(f"cx q[{qs[0]}], q[{(qs[0] + 1) % n}];" if n > 1 else f"h q[{qs[0]}];")
    lines.append("expect z(q[0])" + (f" @ x(q[{n - 1}])" if n > 1 else "") + ";")
    lines.append(f"expect 0.5 * y(q[{n - 1}]) + z(q[0]);")
    return "\n".join(lines)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_pauli_circuits_state_and_adjoint(reference_fd, data):
    n = data.draw(st.integers(1, 5))
    program = parse(pauli_source(data.draw, n, data.draw(st.integers(1, 10))))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    B = data.draw(st.sampled_from([1, 4]))
    w = rng.uniform(-2, 2, 3)
    x = rng.uniform(-2, 2, (B, 2))
    sim = Simulator(program, engine="layers")
    np.testing.assert_allclose(sim.state(w, x), R.simulate(program, w, x), atol=1e-10, rtol=0)
    g = sim.gradient(w, x)
    np.testing.assert_allclose(g, reference_fd(program, w, x), atol=1e-6, rtol=0)


@pytest.mark.parametrize("layers", [True, False])
def test_mnist_model_matches_reference_at_17_qubits(layers):
    """17 qubits, with the XX layer as one Pauli layer (Hadamards + phase + Hadamards) or as 16
    rotation kernels on the cache-blocked piecewise path (pieces of 2**16)."""
    from pathlib import Path

    src = (Path(__file__).resolve().parents[2] / "examples" / "mnist_qnn.q").read_text()
    program = parse(src)
    sim = Simulator(program, engine="layers", pauli_layers=layers)
    kinds = [k.kind for k in sim.plan("adjoint").kernels]
    if layers:
        # the Hadamards before the XX layer fold into the product state, the final h into <X>
        assert kinds == ["diag", "wht", "diag"]
        assert all(k.layer for k in sim.plan("adjoint").kernels if k.kind == "diag")
    else:
        assert kinds.count("pauli") == 16
    rng = np.random.default_rng(3)
    w = rng.uniform(-np.pi, np.pi, 32)
    x = rng.uniform(0, 1, (2, 16))  # non-binary pixels: a general product state
    np.testing.assert_allclose(sim.expval(w, x), R.expvals(program, w, x), atol=1e-10)
    np.testing.assert_allclose(Simulator(program, engine="layers", precision="single", pauli_layers=layers).expval(w, x),
                               R.expvals(program, w, x), atol=1e-4)
    cot = rng.normal(size=(2, 1))
    g = sim.vjp(w, x, cot)
    for i in (0, 15, 16, 31):
        d = np.zeros(32)
        d[i] = 1e-5
        fd = (cot[:, 0] * (R.expvals(program, w + d, x) - R.expvals(program, w - d, x))[:, 0]).sum() / 2e-5
        assert g[i] == pytest.approx(fd, abs=1e-7)


def test_plan_describes_pauli_kernels():
    program = parse("qubit q[3]; param w[2]; h q[0]; rxx(w[0]) q[0], q[2]; ryy(w[1]) q[1], q[0]; expect z(q[0]);")
    plan = SP.build_plan(program.circuit.ops(), 3, 2, with_gradient=True)
    assert [k.kind for k in plan.kernels] == ["pauli", "pauli"]
    assert "pauli on [0, 2]: rxx" in plan.describe()
