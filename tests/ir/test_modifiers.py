"""Gate modifiers (qcomp.ir.modifiers): random stacks against a numpy oracle built from the base
matrix, the derived gates' table facts and decompositions, and gradients through them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import qcomp
from qcomp.backends import reference
from qcomp.backends.simulator import Simulator
from qcomp.gradients import finite_diff_gradient, parameter_shift_gradient
from qcomp.ir import expr as E
from qcomp.ir.equivalences import EQUIVALENCES, body_matrix
from qcomp.ir.gates import GATES
from qcomp.ir.modifiers import GPHASE, ModifierError, apply_modifiers, derived_gate, split
from qcomp.ir.unitary import gates_unitary

BASES = ["x", "y", "z", "h", "s", "sdg", "t", "sx", "rx", "ry", "rz", "p", "u", "cx", "cz", "swap", "rzz", "rxx",
         "crx", "cp", "ccx", "iswap", "ch"]


def _principal(m: np.ndarray, k: float) -> np.ndarray:
    """The oracle's own principal power (eigenvalue arguments in (-pi, pi]; Qiskit's convention)."""
    w, v = np.linalg.eig(m)
    a = np.angle(w)
    a[np.isclose(a, -np.pi)] = np.pi
    return v @ np.diag(np.exp(1j * k * a)) @ np.linalg.inv(v)


def _oracle(mods, m: np.ndarray) -> np.ndarray:
    for kind, arg in reversed(mods):
        if kind == "inv":
            m = m.conj().T
        elif kind == "pow":
            m = np.linalg.matrix_power(m, int(arg)) if float(arg).is_integer() else _principal(m, arg)
        else:  # a control first: |c><c| x U + (1 - |c><c|) x 1
            for _ in range(arg):
                d = m.shape[0]
                big = np.eye(2 * d, dtype=complex)
                at = d if kind == "ctrl" else 0
                big[at:at + d, at:at + d] = m
                m = big
    return m


def _matrix(seq, nq: int) -> np.ndarray:
    phase = sum(a[0].value() for n, a, _ in seq if n == GPHASE)
    gates = [(n, tuple(x.value() for x in a), qs) for n, a, qs in seq if n != GPHASE]
    return np.exp(1j * phase) * gates_unitary(gates, nq)


modifier = st.one_of(
    st.just(("inv", None)),
    st.tuples(st.just("pow"), st.sampled_from([2, 3, -1, -2, 0.5, -0.5, 0.25, 1.5])),
    st.tuples(st.sampled_from(["ctrl", "negctrl"]), st.integers(1, 2)),
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(BASES), st.lists(modifier, min_size=1, max_size=3),
       st.lists(st.floats(-2.5, 2.5), min_size=3, max_size=3))
def test_random_stacks_match_the_oracle(base: str, mods, angles) -> None:
    g = GATES[base]
    ctl = sum(a for k, a in mods if k in ("ctrl", "negctrl"))
    if g.num_qubits + ctl > 5:
        return
    ang = tuple(E.Const(a) for a in angles[: g.num_angles])
    want = _oracle(mods, np.asarray(g.matrix(*[a.value() for a in ang]), dtype=complex))
    try:
        seq, nq = apply_modifiers(mods, [(base, ang, tuple(range(g.num_qubits)))], g.num_qubits)
    except ModifierError:
        # only a non-integer power of a multi-gate sequence (an earlier integer pow or inv of u) is refused
        assert any(k == "pow" and not float(a).is_integer() for k, a in mods)
        return
    assert nq == g.num_qubits + ctl
    np.testing.assert_allclose(_matrix(seq, nq), want, atol=1e-9)
    # every derived gate used has a decomposition equal to it (phase included), or is a power without one
    for name, a, _ in seq:
        d = GATES.get(name)
        if d is not None and d.base is not None and name in EQUIVALENCES:
            vals = [x.value() for x in a]
            np.testing.assert_allclose(body_matrix(EQUIVALENCES[name], vals), d.matrix(*vals), atol=1e-9)


def test_library_gates_are_used_when_they_exist() -> None:
    assert derived_gate("x", "c") == "cx" and derived_gate("x", "cc") == "ccx" and derived_gate("x", "cccc") == "c4x"
    assert derived_gate("rz", "c") == "crz" and derived_gate("sx", "ccc") == "c3sqrtx"
    assert split("ccx") == ("x", "cc", None)
    name = derived_gate("ry", "cn")
    assert name == "c_negc_ry" and split(name) == ("ry", "cn", None)


def test_derived_gate_facts_follow_from_the_base() -> None:
    g = GATES[derived_gate("ry", "cc")]
    assert g.num_qubits == 3 and g.rotation and g.spectra == ((-0.5, 0.5) + (0.0,) * 6,)
    assert g.matrix_freq == (0.5,) and g.period == pytest.approx(4 * np.pi)
    # a controlled rotation's generator has eigenvalues {0, +-1/2}: the four-term shift rule
    from qcomp.ir.gates import gate_rule

    assert len(gate_rule(g.name)) == 4
    s = GATES[derived_gate("s", "n")]
    assert not s.rotation and s.inverse_fn is not None
    (inv, _), = s.inverse_fn(())
    np.testing.assert_allclose(GATES[inv].matrix() @ s.matrix(), np.eye(4), atol=1e-12)


def test_pow_rules() -> None:
    t = E.Sym("param", 0, "w")
    seq, _ = apply_modifiers([("pow", 0.5)], [("rx", (t,), (0,))], 1)
    assert seq == [("rx", (E.mul(E.Const(0.5), t),), (0,))]  # pow(k) @ rx(t) = rx(k t)
    with pytest.raises(ModifierError, match="rotation or constant"):
        apply_modifiers([("pow", 0.5)], [("u", (t, t, t), (0,))], 1)
    seq, _ = apply_modifiers([("pow", 0)], [("h", (), (0,))], 1)
    assert seq == []


def test_gphase_under_controls_is_a_phase_on_the_controls() -> None:
    seq, nq = apply_modifiers([("ctrl", 2)], [(GPHASE, (E.Const(0.7),), ())], 0)
    assert nq == 2 and [s[0] for s in seq] == ["cp"]
    np.testing.assert_allclose(_matrix(seq, 2), np.diag([1, 1, 1, np.exp(0.7j)]), atol=1e-12)


SOURCE = """
qubit q[4];
param w[4];
input x;
ry(x) q[0]; h q[1]; h q[2]; rx(0.4) q[3];
ctrl @ ry(w[0]) q[0], q[1];
ctrl(2) @ rx(w[1] * x) q[0], q[1], q[2];
negctrl @ ctrl @ rzz(w[2]) q[3], q[0], q[2], q[1];
pow(1.5) @ ctrl @ p(w[3]) q[2], q[3];
ctrl @ u(w[0], w[1], 0.3) q[3], q[1];
inv @ ctrl @ pow(0.5) @ sx q[2], q[0];
expect z(q[0]) @ z(q[1]) + 0.5 * x(q[2]);
expect y(q[3]) @ z(q[1]);
"""


def test_gradients_adjoint_parameter_shift_finite_differences() -> None:
    program = qcomp.parse(SOURCE)
    w = np.array([0.7, -1.1, 0.45, 2.0])
    x = np.array([0.8])
    fd = finite_diff_gradient(program, w, x)
    ps = parameter_shift_gradient(program, w, x)
    np.testing.assert_allclose(ps, fd, atol=1e-6)
    for engine in ("fused", "layers"):
        adj = Simulator(program, engine=engine).gradient(w, x)
        np.testing.assert_allclose(adj, ps.reshape(adj.shape), atol=1e-9)


def test_values_match_qiskit() -> None:
    qiskit = pytest.importorskip("qiskit")
    from qiskit.circuit.library import PhaseGate, RXGate, RYGate, RZZGate, SXGate, UGate
    from qiskit.quantum_info import SparsePauliOp, Statevector

    w, xv = np.array([0.7, -1.1, 0.45, 2.0]), 0.8
    qc = qiskit.QuantumCircuit(4)
    qc.ry(xv, 0); qc.h(1); qc.h(2); qc.rx(0.4, 3)
    qc.append(RYGate(w[0]).control(1), [0, 1])
    qc.append(RXGate(w[1] * xv).control(2), [0, 1, 2])
    qc.append(RZZGate(w[2]).control(2, ctrl_state="10"), [3, 0, 2, 1])  # ctrl_state: first control is the lsb
    qc.append(PhaseGate(w[3] * 1.5).control(1), [2, 3])
    qc.append(UGate(w[0], w[1], 0.3).control(1), [3, 1])
    qc.append(SXGate().power(0.5).control(1).inverse(), [2, 0])
    sv = Statevector(qc)
    want = [sv.expectation_value(SparsePauliOp.from_list([("IIZZ", 1), ("IXII", 0.5)])).real,
            sv.expectation_value(SparsePauliOp.from_list([("YIZI", 1)])).real]
    got = reference.expvals(qcomp.parse(SOURCE), w, np.array([xv]))[0]
    np.testing.assert_allclose(got, want, atol=1e-10)


def test_wide_derived_gates_are_checked_on_vectors() -> None:
    """Above five qubits a decomposition is checked on random vectors (not as a 4**k matrix): a
    correct one registers and matches the gate; a wrong one is still refused."""
    from qcomp.ir.equivalences import Equivalence, GateTableError, check

    name = derived_gate("ry", "ccccn")  # 6 qubits: the vector check
    g = GATES[name]
    eq = EQUIVALENCES[name]
    m = np.asarray(g.matrix(0.7), dtype=complex)
    assert np.allclose(body_matrix(eq, (0.7,)), np.exp(1j * eq.phase) * m, atol=1e-9)
    v = np.random.default_rng(1).normal(size=(64, 2)) + 0j
    assert np.allclose(body_matrix(eq, (0.7,), v), body_matrix(eq, (0.7,)) @ v)
    wrong = Equivalence(name, lambda a: eq.expand(a)[:-1], eq.phase)
    with pytest.raises(GateTableError, match="body differs"):
        check(wrong)
