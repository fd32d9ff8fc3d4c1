"""A gate added through the public tables only (a GateDef + an equivalence) works end to end."""

from __future__ import annotations

import numpy as np
import pytest

import qcomp
from qcomp.api import optimize
from qcomp.backends import reference
from qcomp.backends.qasm import emit_qasm
from qcomp.backends.simulator import Simulator
from qcomp.gradients import simulator_gradient
from qcomp.ir import equivalences as EQ
from qcomp.ir import gates as G
from qcomp.ir.unitary import ops_unitary

_ZX = np.kron(np.diag([1.0, -1.0]), np.array([[0.0, 1.0], [1.0, 0.0]]))


def _rzx(t):
    """exp(-i t Z(x)X / 2), Z on the first qubit (argument order, like every GateDef matrix)."""
    t = np.asarray(t, dtype=float)
    c, s = np.cos(t / 2), np.sin(t / 2)
    return c[..., None, None] * np.eye(4) - 1j * s[..., None, None] * _ZX


RZX = G.GateDef("rzx", 2, 1, _rzx, rotation=True, spectra=((-0.5, -0.5, 0.5, 0.5),), hermitian_generator="ZX",
                cx_cost=2)
# rzx(t) = h(b) rzz(t) h(b), rzz written out in cx and rz
RZX_EQ = EQ.Equivalence("rzx", lambda a: [("h", (), (1,)), ("cx", (), (0, 1)), ("rz", (a[0],), (1,)),
                                          ("cx", (), (0, 1)), ("h", (), (1,))])

SOURCE = """
qubit q[3];
param w[2];
input x[1];
ry(x[0]) q[0]; h q[1]; rx(0.3) q[2];
rzx(w[0]) q[0], q[1];
rzx(w[1] * x[0]) q[1], q[2];
rzx(0.4) q[2], q[0];
rzx(w[0]) q[0], q[1];
inv @ rzx(w[1]) q[2], q[1];
expect z(q[0]) @ x(q[1]);
expect y(q[2]) + 0.5 * z(q[1]);
"""
W = np.array([0.7, -1.1])
X = np.array([0.45])


@pytest.fixture
def rzx():
    G.register_gate(RZX)
    EQ.register_equivalence(RZX_EQ)
    try:
        yield
    finally:
        EQ.remove_equivalence("rzx")
        G.remove_gate("rzx")


def _program():
    return qcomp.parse(SOURCE)


def test_tables_follow_the_registration(rzx):
    assert "rzx" in G.ROTATIONS and G.PAULI_ROTATIONS["rzx"] == "ZX" and G.CX_COST["rzx"] == 2
    assert G.ROTATION_PERIOD["rzx"] == pytest.approx(2 * np.pi) and G.MATRIX_FREQ["rzx"] == (0.5,)
    assert G.inverse("rzx", (qcomp.ir.Const(0.2),))[0][1][0].value() == -0.2
    assert EQ.needs_definition("rzx", 3) and EQ.needs_definition("rzx", 2)


def test_library_unchanged_without_the_gate(rzx):
    qcomp.parse(SOURCE)
    EQ.remove_equivalence("rzx")
    G.remove_gate("rzx")
    try:
        _assert_without_rzx()
    finally:  # the fixture removes them again
        G.register_gate(RZX)
        EQ.register_equivalence(RZX_EQ)


def _assert_without_rzx():
    assert "rzx" not in G.GATES and "rzx" not in EQ.EQUIVALENCES
    assert "rzx" not in G.ROTATIONS and "rzx" not in G.PAULI_ROTATIONS and "rzx" not in G.CX_COST
    with pytest.raises(qcomp.errors.QCompError, match="rzx"):
        qcomp.parse(SOURCE)


def test_cached_decompositions_follow_a_new_equivalence(rzx):
    from qcomp.ir.ops import Operation
    from qcomp.passes import basis_translation as BT

    op = Operation("rzx", (0, 1), (qcomp.ir.Const(0.3),))
    first = [o.name for o in BT._decompose_const(op)]  # cached per placement from here on
    EQ.remove_equivalence("rzx")
    # the same gate with z z (= identity) on the control in front: a different, equally exact body
    EQ.register_equivalence(EQ.Equivalence("rzx", lambda a: [("z", (), (0,)), ("z", (), (0,))] + RZX_EQ.body(a)))
    assert [o.name for o in BT._decompose_const(op)] == ["z", "z"] + first


def test_bad_registrations_are_refused():
    with pytest.raises(G.GateTableError):
        G.register_gate(G.GateDef("cx", 2, 0, G.GATES["cx"].matrix_fn, self_inverse=True))  # taken
    with pytest.raises(G.GateTableError):
        G.register_gate(G.GateDef("nope", 1, 1, _rzx, rotation=True, spectra=((-0.5, 0.5),)))  # 4x4 on 1 qubit
    G.register_gate(RZX)
    try:
        with pytest.raises(G.GateTableError):  # the body is rzz, not rzx
            EQ.register_equivalence(EQ.Equivalence("rzx", lambda a: [("rzz", (a[0],), (0, 1))]))
    finally:
        G.remove_gate("rzx")


def test_equivalence_is_exact(rzx):
    for t in (-2.1, 0.0, 0.9):
        np.testing.assert_allclose(EQ.body_matrix(RZX_EQ, [t]), _rzx(t), atol=1e-12)


def test_one_gate_simulates_to_its_matrix(rzx):
    program = qcomp.parse("qubit q[2]; rzx(0.83) q[1], q[0];")  # argument order q[1], q[0]: matrix bits as is
    for engine in ("fused", "layers"):
        state = Simulator(program, engine=engine).state()  # nothing batched: no batch axis
        np.testing.assert_allclose(state, _rzx(0.83)[:, 0], atol=1e-12)
    np.testing.assert_allclose(reference.unitary(program.circuit), _rzx(0.83), atol=1e-12)


def test_simulates_on_both_engines(rzx):
    program = _program()
    ref_state = reference.simulate(program, W, X)[0]
    # the reference simulator agrees with the matrix: the whole circuit from the gate matrices
    u = ops_unitary(program.circuit.ops(), program.num_qubits, W, X)
    np.testing.assert_allclose(u[:, 0], ref_state, atol=1e-12)
    ref_ev = reference.expvals(program, W, X)[0]
    for engine in ("fused", "layers"):
        sim = Simulator(program, engine=engine)
        # flat W and X: the simulator's results have no batch axis
        np.testing.assert_allclose(sim.state(W, X), ref_state, atol=1e-10)
        np.testing.assert_allclose(sim.expval(W, X), ref_ev, atol=1e-10)


def test_differentiates(rzx):
    program = _program()
    h = 1e-6
    fd = np.zeros((program.num_outputs, program.num_params))
    for k in range(program.num_params):
        e = np.zeros(program.num_params)
        e[k] = h
        fd[:, k] = (reference.expvals(program, W + e, X)[0] - reference.expvals(program, W - e, X)[0]) / (2 * h)
    for engine in ("fused", "layers"):
        sim = Simulator(program, engine=engine)
        np.testing.assert_allclose(sim.gradient(W, X), fd, atol=1e-6)  # flat W and X: no batch axis
        np.testing.assert_allclose(simulator_gradient(sim, W, X, "parameter-shift")[0], fd, atol=1e-6)


@pytest.mark.parametrize("level", [2, 3])
@pytest.mark.parametrize("target", ["qasm", "sim"])
def test_optimises_equivalently(rzx, level, target):
    program = _program()
    opt = optimize(program, level, target=target)
    if target == "qasm":  # the hardware tail translated rzx through its equivalence
        assert "rzx" not in {op.name for op in opt.circuit.ops()}
    np.testing.assert_allclose(reference.expvals(opt, W, X), reference.expvals(program, W, X), atol=1e-9)
    if target == "qasm":  # the qasm pipeline keeps the state (up to phase), not only the outputs
        state = reference.simulate(opt, W, X)[0]
        want = reference.simulate(program, W, X)[0]
        k = int(np.argmax(np.abs(want)))
        np.testing.assert_allclose(state * (want[k] / state[k]), want, atol=1e-9)


@pytest.mark.parametrize("version", [3, 2])
def test_exports_to_openqasm_that_qiskit_loads(rzx, version):
    qiskit_qasm = pytest.importorskip("qiskit.qasm3" if version == 3 else "qiskit.qasm2")
    from qiskit.quantum_info import Operator

    program = qcomp.parse("qubit q[2]; rzx(0.83) q[1], q[0]; h q[0]; rzx(-0.4) q[0], q[1];")
    result = emit_qasm(program, version=version)
    assert "gate rzx(theta) a, b {" in result.text
    assert result.manifest["gate_definitions"] == ["rzx"]
    circuit = qiskit_qasm.loads(result.text)
    want = reference.unitary(program.circuit)
    got = Operator(circuit).data
    k = np.unravel_index(np.argmax(np.abs(want)), want.shape)
    np.testing.assert_allclose(got * (want[k] / got[k]), want, atol=1e-9)
    # the definition is exact: Qiskit's matrix equals ours without a global phase
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_exported_expectations_match_qiskit(rzx):
    qasm3 = pytest.importorskip("qiskit.qasm3")
    from qiskit.quantum_info import SparsePauliOp, Statevector

    from qcomp.hardware.manifest import manifest_pauli_list, qasm_input_values

    program = _program()
    result = emit_qasm(program, version=3)
    circuit = qasm3.loads(result.text)
    values = qasm_input_values(result.manifest, W, X)
    by_name = {p.name: p for p in circuit.parameters}
    bound = circuit.assign_parameters({by_name[n]: values[n] for n in by_name})
    sv = Statevector(bound.remove_final_measurements(inplace=False))
    ev = reference.expvals(program, W, X)[0]
    for i in range(program.num_outputs):
        op = SparsePauliOp.from_list(manifest_pauli_list(result.manifest, i))
        assert sv.expectation_value(op).real == pytest.approx(ev[i], abs=1e-9)
