"""Shared fixtures for pass tests: a hypothesis strategy of random programs and equivalence checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import strategies as st

from qcomp.backends import reference
from qcomp.ir import GATES, Circuit, Const, Observable, Operation, PauliTerm, Program, Register, Sym, ValueDecl
from qcomp.ir.expr import func
from qcomp.ir.gates import inverse

NUM_PARAMS = 4
GATE_NAMES = sorted(GATES)
SPECIAL = [0.0, math.pi / 2, math.pi, -math.pi / 2, 2 * math.pi, 4 * math.pi, math.pi / 4]


def _syms() -> list[Sym]:
    return [Sym("param", i, f"w[{i}]") for i in range(NUM_PARAMS)]


@st.composite
def _angle(draw, symbolic: bool):
    kind = draw(st.integers(0, 5 if symbolic else 1))
    if kind == 0:
        return Const(draw(st.floats(-7, 7, allow_nan=False, allow_infinity=False)))
    if kind == 1:
        return Const(draw(st.sampled_from(SPECIAL)))
    w = draw(st.sampled_from(_syms()))
    if kind == 2:
        return w
    if kind == 3:
        return w * draw(st.sampled_from([2.0, -1.0, 0.5])) + draw(st.sampled_from([0.0, math.pi, 0.3]))
    if kind == 4:
        return w - draw(st.sampled_from(_syms()))  # folds to 0 when the same param is drawn twice
    return func("sin", w)


@st.composite
def _programs(draw, min_qubits=1, max_qubits=8, max_gates=30, symbolic=True, outputs=True):
    n = draw(st.integers(min_qubits, max_qubits))
    names = [g for g in GATE_NAMES if GATES[g].num_qubits <= n]
    ops: list[Operation] = []
    for _ in range(draw(st.integers(0, max_gates))):
        action = draw(st.integers(0, 9))
        if ops and action == 0:
            prev = ops[-1]  # an exact inverse after its gate: something to cancel
            for name, angles in inverse(prev.name, prev.angles):
                ops.append(Operation(name, prev.qubits, tuple(angles)))
            continue
        if ops and action == 1 and ops[-1].angles:
            prev = ops[-1]  # the same gate again: something to merge
            ops.append(prev.with_angles(tuple(draw(_angle(symbolic)) for _ in prev.angles)))
            continue
        name = draw(st.sampled_from(names))
        g = GATES[name]
        qubits = tuple(draw(st.permutations(range(n)))[: g.num_qubits])
        angles = tuple(draw(_angle(symbolic)) for _ in range(g.num_angles))
        ops.append(Operation(name, qubits, angles))
    observables: tuple[Observable, ...] = ()
    measured: tuple[int, ...] = ()
    if outputs:
        obs = []
        for _ in range(draw(st.integers(0, 2))):
            terms = []
            for _ in range(draw(st.integers(1, 3))):
                qs = draw(st.lists(st.integers(0, n - 1), min_size=0, max_size=min(3, n), unique=True))
                paulis = tuple(sorted((q, draw(st.sampled_from("XYZ"))) for q in qs))
                terms.append(PauliTerm(draw(st.sampled_from([1.0, -0.5, 2.0])), paulis))
            obs.append(Observable(tuple(terms)))
        observables = tuple(obs)
        measured = tuple(draw(st.lists(st.integers(0, n - 1), max_size=min(3, n), unique=True)))
        if not observables and not measured:
            measured = (0,)
    return Program(
        Circuit.from_ops(n, ops),
        (Register("q", n, 0),),
        params=(ValueDecl("param", "w", NUM_PARAMS, 0),),
        observables=observables,
        measured=measured,
    )


@pytest.fixture(scope="session")
def random_program():
    """``random_program(max_qubits=.., max_gates=.., symbolic=.., outputs=..)`` -> strategy of Programs."""
    return _programs


def _phase_equal(a: np.ndarray, b: np.ndarray, atol: float = 1e-8) -> bool:
    i = int(np.argmax(np.abs(a)))
    if abs(a[i]) < 1e-12:
        return np.allclose(a, b, atol=atol)
    ph = b[i] / a[i]
    return abs(abs(ph) - 1) < 1e-8 and np.allclose(a * ph, b, atol=atol)


def assert_same_state(before: Program, after: Program, params: np.ndarray) -> None:
    s1 = reference.simulate(before, params)
    s2 = reference.simulate(after, params)
    assert s1.shape == s2.shape
    for r1, r2 in zip(s1, s2):
        assert _phase_equal(r1, r2), "statevector differs beyond a global phase"


def assert_same_outputs(before: Program, after: Program, params: np.ndarray) -> None:
    e1 = reference.expvals(before, params)
    e2 = reference.expvals(after, params)
    np.testing.assert_allclose(e1, e2, atol=1e-8)
    if before.measured:
        p1 = reference.probabilities(reference.simulate(before, params), before.measured)
        p2 = reference.probabilities(reference.simulate(after, params), after.measured)
        np.testing.assert_allclose(p1, p2, atol=1e-8)


@pytest.fixture(scope="session")
def check_equivalent():
    """``check_equivalent(before, after, state=True)``: same outputs for random params
    (and the same statevector up to global phase unless ``state=False``)."""

    def check(before: Program, after: Program, state: bool = True, seed: int = 0) -> None:
        after.circuit.verify()
        params = np.random.default_rng(seed).uniform(-math.pi, math.pi, (2, NUM_PARAMS))
        if state:
            assert_same_state(before, after, params)
        assert_same_outputs(before, after, params)

    return check


@pytest.fixture(scope="session")
def make_program():
    """``make_program(n, ops, observables=(), measured=())`` with params w[0..3]."""

    def make(n: int, ops, observables=(), measured=()) -> Program:
        return Program(
            Circuit.from_ops(n, ops),
            (Register("q", n, 0),),
            params=(ValueDecl("param", "w", NUM_PARAMS, 0),),
            observables=tuple(observables),
            measured=tuple(measured),
        )

    return make
