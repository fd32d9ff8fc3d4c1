"""group-measurements: qubit-wise commuting groups checked against Qiskit's and PennyLane's grouping,
and the basis rotations and parities checked against exact expectation values (Qiskit Statevector)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from qcomp.backends import reference
from qcomp.errors import PassError
from qcomp.frontend import parse
from qcomp.ir.ops import Observable, PauliTerm
from qcomp.passes import make_pass
from qcomp.passes.group_measurements import group_observables, group_paulis, measurement_groups

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _random_words(rng, n, T, density=0.5):
    words = set()
    while len(words) < T:
        w = tuple((q, "XYZ"[rng.integers(3)]) for q in range(n) if rng.random() < density)
        if w:
            words.add(w)
    return sorted(words)


def _label(w, n):
    chars = ["I"] * n
    for q, p in w:
        chars[n - 1 - q] = p
    return "".join(chars)


def _qiskit_count(words, n):
    from qiskit.quantum_info import SparsePauliOp

    return len(SparsePauliOp([_label(w, n) for w in words]).group_commuting(qubit_wise=True))


def _check_partition(words, groups):
    assert sorted(i for g in groups for i in g) == list(range(len(words)))
    for g in groups:
        basis = {}
        for i in g:
            for q, p in words[i]:
                assert basis.setdefault(q, p) == p, f"group {g} is not qubit-wise commuting"


@pytest.mark.parametrize("example", ["hea_vqe.q", "qaoa_maxcut.q", "mnist_qnn.q", "reuploading_classifier.q"])
def test_examples_use_no_more_groups_than_qiskit(example):
    pytest.importorskip("qiskit")
    program = parse((EXAMPLES / example).read_text(), name=example)
    grouping = measurement_groups(program)
    words = sorted({tuple(t.paulis) for o in program.observables for t in o.terms if t.paulis})
    assert grouping.num_groups <= _qiskit_count(words, program.num_qubits)
    if example == "hea_vqe.q":
        assert grouping.num_groups == 2  # the ZZ terms and the X terms
    if example == "qaoa_maxcut.q":
        assert grouping.num_groups == 1


@pytest.mark.parametrize("seed", range(12))
def test_random_pauli_sums_no_more_groups_than_qiskit_and_pennylane(seed):
    pytest.importorskip("qiskit")
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 9))
    T = int(rng.integers(2, min(3**n - 1, 60)))
    words = _random_words(rng, n, T, density=float(rng.uniform(0.2, 0.8)))
    groups = group_paulis(words, n)
    _check_partition(words, groups)
    assert len(groups) <= _qiskit_count(words, n)
    qml = pytest.importorskip("pennylane")
    ops = []
    for w in words:
        op = qml.prod(*[getattr(qml, "Pauli" + p)(q) for q, p in w]) if len(w) > 1 else \
            getattr(qml, "Pauli" + w[0][1])(w[0][0])
        ops.append(op)
    assert len(groups) <= len(qml.pauli.group_observables(ops, grouping_type="qwc"))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_partition_is_qubit_wise_commuting(n, seed):
    rng = np.random.default_rng(seed)
    T = int(rng.integers(1, min(3**n, 30) + 1))
    words = _random_words(rng, n, min(T, 4**n - 1))
    _check_partition(words, group_paulis(words, n))


def test_rotations_and_parities_give_exact_expectations():
    """For every group: rotate a random state with the group's suffix, take the probabilities of its
    qubits, and each word's parity-weighted sum is the word's exact expectation (Qiskit Statevector)."""
    qi = pytest.importorskip("qiskit.quantum_info")
    rng = np.random.default_rng(3)
    n = 4
    words = _random_words(rng, n, 25)
    obs = [Observable(tuple(PauliTerm(float(rng.normal()), w) for w in words[:13])),
           Observable(tuple(PauliTerm(float(rng.normal()), w) for w in words[10:]) + (PauliTerm(0.7, ()),))]
    grouping = group_observables(obs, n)
    psi = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    psi /= np.linalg.norm(psi)
    sv = qi.Statevector(psi)
    values = np.array(grouping.constants)
    for g, grp in enumerate(grouping.groups):
        out = psi[None]
        for op in grp.rotation_ops():
            out = reference.apply_op(out, op, np.zeros((1, 0)), np.zeros((1, 0)))
        probs = reference.probabilities(out, grp.qubits)[0]
        word_ev = grp.signs() @ probs
        for w, ev in zip(grp.words, word_ev):
            exact = sv.expectation_value(qi.SparsePauliOp(_label(w, n))).real
            assert ev == pytest.approx(exact, abs=1e-12)
        values = values + grouping.coefficient_matrix(g) @ word_ev
    for k, o in enumerate(obs):
        exact = sv.expectation_value(qi.SparsePauliOp.from_list(o.sparse_pauli_list(n))).real
        assert values[k] == pytest.approx(exact, abs=1e-12)


def test_basis_slot_program_at_each_group_measures_that_group():
    src = """qubit q[3]; param w[3];
    ry(w[0]) q[0]; cx q[0], q[1]; rx(w[1]) q[2]; ry(w[2]) q[1];
    expect z(q[0]) @ z(q[1]) + 0.5 * x(q[2]) - 0.25 * y(q[1]) @ x(q[2]);
    expect z(q[0]) + x(q[0]) @ x(q[1]) + 1.5;"""
    program = parse(src)
    grouping = measurement_groups(program)
    slot = make_pass("group-measurements").apply(program, verify=True)
    w = np.array([[0.3, -1.1, 0.7]])
    exact = reference.expvals(program, w, np.zeros((1, 0)))[0]
    total = np.array(grouping.constants)
    observed = grouping.observed_qubits()
    assert slot.measured == observed
    for g, grp in enumerate(grouping.groups):
        params = np.concatenate([w, grouping.basis_values()[g : g + 1]], axis=1)
        state = reference.simulate(slot, params, np.zeros((1, 0)))
        probs = reference.probabilities(state, grp.qubits)[0]
        total = total + grouping.coefficient_matrix(g) @ (grp.signs() @ probs)
    np.testing.assert_allclose(total, exact, atol=1e-12)


def test_group_measurements_needs_observables():
    with pytest.raises(PassError, match="needs 'expect' outputs"):
        make_pass("group-measurements").run(parse("qubit q; h q; measure q;"))
