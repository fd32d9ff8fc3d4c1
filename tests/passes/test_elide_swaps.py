"""elide-swaps: swaps become a relabelling of later gates and of the outputs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qcomp.ir import Observable, Operation, PauliTerm, Sym
from qcomp.passes.elide_swaps import ElideSwaps

W0 = Sym("param", 0, "w[0]")


def op(name, *qubits, angles=()):
    return Operation(name, tuple(qubits), tuple(angles))


def test_relabels_gates_and_outputs(make_program, check_equivalent):
    obs = Observable((PauliTerm(1.0, ((0, "Z"), (2, "X"))),), text="z(q[0]) @ x(q[2])")
    ops = [op("ry", 0, angles=(W0,)), op("swap", 0, 1), op("cx", 1, 2), op("swap", 1, 2), op("h", 2)]
    prog = make_program(3, ops, observables=[obs], measured=[1, 0])
    out = ElideSwaps().run(prog)
    assert out.circuit.ops() == [op("ry", 0, angles=(W0,)), op("cx", 0, 2), op("h", 0)]
    assert out.observables[0].terms[0].paulis == ((0, "X"), (1, "Z"))
    assert out.observables[0].text == ""
    assert out.measured == (2, 1)
    check_equivalent(prog, out, state=False)


def test_without_outputs_keeps_swaps(make_program):
    ops = [op("x", 0), op("swap", 0, 1)]
    assert ElideSwaps().run(make_program(2, ops)).circuit.ops() == ops


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_circuits_same_outputs(data, random_program, check_equivalent):
    prog = data.draw(random_program())
    out = ElideSwaps().run(prog)
    assert not any(o.name == "swap" for o in out.circuit.ops()) or not (prog.observables or prog.measured)
    check_equivalent(prog, out, state=False)
