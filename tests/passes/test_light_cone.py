"""light-cone: gates outside the observed light cone and trailing commuting gates are dropped."""

from __future__ import annotations

import logging

from hypothesis import given, settings
from hypothesis import strategies as st

from qcomp.ir import Observable, Operation, PauliTerm, Sym
from qcomp.passes.light_cone import LightCone, unused_params

W = [Sym("param", i, f"w[{i}]") for i in range(4)]


def op(name, *qubits, angles=()):
    return Operation(name, tuple(qubits), tuple(angles))


def z(*qs):
    return Observable((PauliTerm(1.0, tuple((q, "Z") for q in qs)),))


def x(*qs):
    return Observable((PauliTerm(1.0, tuple((q, "X") for q in qs)),))


def test_outside_light_cone(make_program, check_equivalent):
    ops = [op("ry", 0, angles=(W[0],)), op("ry", 2, angles=(W[2],)), op("cx", 0, 1), op("rx", 2, angles=(W[3],)), op("h", 1)]
    prog = make_program(3, ops, observables=[x(1)])
    out = LightCone().run(prog)
    assert out.circuit.ops() == [ops[0], ops[2], ops[4]]
    check_equivalent(prog, out, state=False)
    assert unused_params(out) == ["w[1]", "w[2]", "w[3]"]


def test_trailing_diagonal_before_z(make_program, check_equivalent):
    ops = [op("h", 0), op("h", 1), op("cx", 0, 1), op("rz", 1, angles=(W[1],)), op("cz", 0, 1), op("t", 0)]
    prog = make_program(2, ops, observables=[z(0, 1)])
    out = LightCone().run(prog)
    assert out.circuit.ops() == ops[:3]
    check_equivalent(prog, out, state=False)


def test_trailing_gate_commuting_with_x_and_measure(make_program, check_equivalent):
    ops = [op("h", 0), op("cx", 0, 1), op("rx", 1, angles=(W[0],)), op("rz", 0, angles=(W[1],))]
    # <X(1)> does not see the rx on qubit 1; measuring qubit 0 does not see the rz; then the cx
    # commutes with X on its target and Z on its control, so it goes too
    prog = make_program(2, ops, observables=[x(1)], measured=[0])
    out = LightCone().run(prog)
    assert out.circuit.ops() == ops[:1]
    check_equivalent(prog, out, state=False)
    # a non-commuting trailing gate stays
    prog = make_program(2, ops, observables=[z(1)])
    assert LightCone().run(prog).circuit.ops() == ops[:3]


def test_cx_with_measured_control_and_unobserved_target(make_program, check_equivalent):
    ops = [op("ry", 0, angles=(W[0],)), op("cx", 0, 1)]
    prog = make_program(2, ops, measured=[0])
    out = LightCone().run(prog)
    assert out.circuit.ops() == ops[:1]
    check_equivalent(prog, out, state=False)


def test_no_outputs_keeps_everything(make_program):
    ops = [op("h", 0), op("rz", 0, angles=(W[0],))]
    prog = make_program(1, ops)
    assert LightCone().run(prog).circuit.ops() == ops


def test_reports_dropped_params(make_program, caplog):
    ops = [op("ry", 0, angles=(W[0],)), op("ry", 1, angles=(W[1],))]
    prog = make_program(2, ops, observables=[z(0)])
    with caplog.at_level(logging.INFO, logger="qcomp.passes.light_cone"):
        out = LightCone().run(prog)
    assert "w[1]" in caplog.text
    assert unused_params(prog) == ["w[2]", "w[3]"] and unused_params(out) == ["w[1]", "w[2]", "w[3]"]


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_random_circuits_same_outputs(data, random_program, check_equivalent):
    prog = data.draw(random_program())
    out = LightCone().run(prog)
    assert len(out.circuit) <= len(prog.circuit)
    check_equivalent(prog, out, state=False)


def test_small_rotation_before_x_is_kept(make_program, check_equivalent):
    # found by a fuzzing review: allclose's default rtol took rz(1e-5) for commuting with X
    from qcomp.ir import Const

    ops = [op("h", 0), op("s", 0), op("rz", 0, angles=(Const(1e-5),))]
    prog = make_program(1, ops, observables=[x(0)])
    out = LightCone().run(prog)
    assert out.circuit.ops() == ops
    check_equivalent(prog, out, state=False)
