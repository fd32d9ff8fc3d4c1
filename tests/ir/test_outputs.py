"""Output kinds: each kind against a dense (Qiskit) oracle, square() of Pauli sums as matrices."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import qcomp
from qcomp.ir.ops import Observable, PauliTerm, normalize_pauli_sum
from qcomp.ir.outputs import (OUTPUT_KINDS, Expectation, Output, Probabilities, Samples, State, Variance,
                              pauli_product, square)

qiskit_qi = pytest.importorskip("qiskit.quantum_info")

SOURCE = """
qubit q[3]; param w[3]; input x[1];
ry(w[0]) q[0]; cx q[0], q[1]; rx(w[1] * x[0]) q[2]; rzz(w[2]) q[1], q[2]; h q[1];
expect 0.5 * z(q[0]) @ z(q[1]) + x(q[2]) - 0.3 * y(q[1]) + 0.2;
expect x(q[0]) @ y(q[2]);
"""


def _matrix(obs: Observable, n: int) -> np.ndarray:
    return qiskit_qi.SparsePauliOp.from_list(obs.sparse_pauli_list(n) or [("I" * n, 0.0)]).to_matrix()


@pytest.fixture(scope="module")
def case():
    model = qcomp.compile(SOURCE, optimize=0)
    rng = np.random.default_rng(4)
    w, x = rng.uniform(-2, 2, (5, 3)), rng.uniform(-1, 1, (5, 1))
    return model, w, x


@pytest.mark.parametrize("engine", ["fused", "layers"])
def test_each_kind_matches_a_dense_oracle(case, engine):
    model, w, x = case
    from qcomp.backends.simulator import Simulator

    program = model.program
    sim = Simulator(program, engine=engine)
    o0, o1 = program.observables
    kinds = [Expectation(o0), Variance(o0), Variance(o1), Probabilities((2, 0)), State(), Samples((0, 1), 4000)]
    vals = sim.outputs(w, x, outputs=kinds, seed=7)
    states = sim.state(w, x)
    m0, m1 = _matrix(o0, 3), _matrix(o1, 3)
    for b, psi in enumerate(states):
        e0 = np.vdot(psi, m0 @ psi).real
        assert vals[0][b] == pytest.approx(e0, abs=1e-12)
        assert vals[1][b] == pytest.approx(np.vdot(psi, m0 @ m0 @ psi).real - e0**2, abs=1e-12)
        e1 = np.vdot(psi, m1 @ psi).real
        assert vals[2][b] == pytest.approx(np.vdot(psi, m1 @ m1 @ psi).real - e1**2, abs=1e-12)
        p = np.abs(psi) ** 2
        marg = np.zeros(4)
        for i, pi in enumerate(p):  # result bit 0 is qubit 2, bit 1 is qubit 0
            marg[((i >> 2) & 1) | ((i & 1) << 1)] += pi
        np.testing.assert_allclose(vals[3][b], marg, atol=1e-12)
        np.testing.assert_allclose(vals[4][b], psi, atol=1e-12)
        freq = np.bincount(vals[5][b], minlength=4) / 4000
        p01 = np.array([sum(p[i] for i in range(8) if (i & 3) == k) for k in range(4)])
        assert np.abs(freq - p01).max() < 0.04  # 4000 shots: a few standard errors
    assert [v.shape for v in vals] == [(5,), (5,), (5,), (5, 4), (5, 8), (5, 4000)]
    assert [k.shape(3) for k in kinds] == [(), (), (), (4,), (8,), (4000,)]


def test_default_outputs_are_the_programs_expectations(case):
    model, w, x = case
    sim = model.simulator()
    vals = sim.outputs(w, x)
    np.testing.assert_allclose(np.stack(vals, axis=1), sim.expval(w, x), atol=1e-14)
    assert model.program.outputs == tuple(Expectation(o) for o in model.program.observables)


def test_samples_are_reproducible_with_a_seed(case):
    model, w, x = case
    sim = model.simulator()
    a = sim.outputs(w, x, outputs=[Samples((0,), 50)], seed=3)[0]
    b = sim.outputs(w, x, outputs=[Samples((0,), 50)], seed=3)[0]
    np.testing.assert_array_equal(a, b)


def test_refuses_what_is_not_an_output(case):
    model, w, x = case
    with pytest.raises(qcomp.QCompError, match="Output"):
        model.simulator().outputs(w, x, outputs=["variance"])


def test_kinds_table_and_flags():
    assert set(OUTPUT_KINDS) == {"expectation", "variance", "probabilities", "samples", "state"}
    assert all(issubclass(c, Output) for c in OUTPUT_KINDS.values())
    assert Samples.sampled and not Variance.sampled and Variance.differentiable


_PAULI = st.sampled_from("IXYZ")


@st.composite
def pauli_sums(draw, n=3):
    k = draw(st.integers(1, 4))
    terms = []
    for _ in range(k):
        word = {q: draw(_PAULI) for q in range(n)}
        terms.append((draw(st.floats(-2, 2, allow_nan=False)), word))
    return Observable(normalize_pauli_sum(terms))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(pauli_sums())
def test_square_is_the_matrix_square(obs):
    m = _matrix(obs, 3)
    np.testing.assert_allclose(_matrix(square(obs), 3), m @ m, atol=1e-12)


def test_pauli_product_phases():
    c, word = pauli_product(PauliTerm(1.0, ((0, "X"),)), PauliTerm(1.0, ((0, "Y"),)))
    assert c == 1j and word == {0: "Z"}
    c, word = pauli_product(PauliTerm(2.0, ((0, "Z"), (1, "X"))), PauliTerm(0.5, ((1, "X"),)))
    assert c == 1.0 and word == {0: "Z"}
