"""dead-qubits: idle unobserved qubits removed, the rest renumbered, qubit_map keeps the originals."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qcomp.frontend import parse
from qcomp.ir import Observable, Operation, PauliTerm, Sym
from qcomp.passes import PassManager
from qcomp.passes.dead_qubits import DeadQubits
from qcomp.passes.light_cone import LightCone

W0 = Sym("param", 0, "w[0]")


def op(name, *qubits, angles=()):
    return Operation(name, tuple(qubits), tuple(angles))


def test_renumbering(make_program, check_equivalent):
    obs = Observable((PauliTerm(1.0, ((3, "Z"),)), PauliTerm(0.5, ((1, "X"), (3, "Y")))))
    ops = [op("ry", 3, angles=(W0,)), op("cx", 3, 1)]
    prog = make_program(5, ops, observables=[obs], measured=[4])
    out = DeadQubits().run(prog)
    assert out.num_qubits == 3
    assert out.qubit_map == (1, 3, 4)
    assert out.circuit.ops() == [op("ry", 1, angles=(W0,)), op("cx", 1, 0)]
    assert out.observables[0].terms[1].paulis == ((0, "X"), (1, "Y"))
    assert out.measured == (2,)
    assert out.qubit_names() == ["q[1]", "q[3]", "q[4]"]
    check_equivalent(prog, out, state=False)
    # applying it twice composes the maps
    again = DeadQubits().run(out)
    assert again.qubit_map == (1, 3, 4)


def test_after_light_cone_from_source():
    prog = parse("qubit a[3]; qubit r; param w[2]; ry(w[0]) a[0]; ry(w[1]) a[2]; cx a[0], r; expect z(r);")
    out = PassManager([LightCone(), DeadQubits()]).run(prog)
    assert out.num_qubits == 2 and out.qubit_map == (0, 3)
    assert "ry(w[0]) a[0];\ncx a[0], r;\nexpect z(r);" in out.to_text()


def test_all_dead_keeps_one_qubit(make_program):
    out = DeadQubits().run(make_program(3, [], observables=[Observable((PauliTerm(2.0, ()),))]))
    assert out.num_qubits == 1 and out.qubit_map == (0,)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_circuits_same_outputs(data, random_program, check_equivalent):
    prog = data.draw(random_program(max_gates=6))
    out = PassManager([LightCone(), DeadQubits()]).run(prog)
    check_equivalent(prog, out, state=False)
