"""IR values: Operation and Const are frozen, compare without spans, hash, pickle and copy."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import numpy as np
import pytest

from qcomp.errors import Span
from qcomp.ir import Const, Operation, make_unitary_op
from qcomp.ir.expr import Sym

W0 = Sym("param", 0, "w[0]")


def _ops() -> list[Operation]:
    span = Span("m.q", 3, 5, source_line="  rz(w[0]) q[1];")
    return [
        Operation("h", (0,)),
        Operation("rz", (1,), (Const(0.25),), span),
        Operation("crz", (2, 0), (W0 * 2 + 1,)),
        make_unitary_op(np.eye(2), (3,)),
    ]


def test_fields_and_defaults() -> None:
    op = Operation("cx", (0, 1))
    assert (op.name, op.qubits, op.angles, op.span, op.matrix) == ("cx", (0, 1), (), None, None)
    assert op.num_qubits == 2 and not op.is_parametric
    assert Operation("rz", (0,), (W0,)).is_parametric


@pytest.mark.parametrize("field", ["name", "qubits", "angles", "span", "matrix"])
def test_operation_is_frozen(field: str) -> None:
    op = Operation("rz", (1,), (Const(0.5),))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(op, field, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(op, field)
    assert op == Operation("rz", (1,), (Const(0.5),))


def test_const_is_frozen_and_a_number() -> None:
    c = Const(0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.val = 1.0  # type: ignore[misc]
    assert c.is_constant and c.value() == 0.5 and c.symbols() == frozenset()
    assert c == Const(0.5) and hash(c) == hash(Const(0.5)) and c != Const(0.25)
    assert repr(c) == "Const(val=0.5)"


def test_equality_and_hash_ignore_spans() -> None:
    a = Operation("rz", (1,), (Const(0.25),), Span("a.q", 1, 1))
    b = Operation("rz", (1,), (Const(0.25),))
    assert a == b and hash(a) == hash(b)
    assert a != Operation("rz", (2,), (Const(0.25),)) and a != Operation("rx", (1,), (Const(0.25),))
    assert a != b.with_angles((Const(0.5),))


@pytest.mark.parametrize("op", _ops(), ids=lambda o: o.name)
def test_pickle_copy_and_replace_round_trip(op: Operation) -> None:
    for back in (pickle.loads(pickle.dumps(op)), copy.copy(op), copy.deepcopy(op)):
        assert type(back) is Operation and back == op and back.span == op.span and back.matrix == op.matrix
    assert dataclasses.replace(op, qubits=(7,) * len(op.qubits)).qubits == (7,) * len(op.qubits)
    assert pickle.loads(pickle.dumps(Const(-1.5))) == Const(-1.5)


def test_with_angles_and_with_qubits_return_new_values() -> None:
    op = Operation("rz", (1,), (Const(0.25),))
    moved = op.with_qubits([4])
    assert moved.qubits == (4,) and op.qubits == (1,)
    assert op.with_angles([Const(1.0)]).angles == (Const(1.0),) and op.angles == (Const(0.25),)


class Tagged(Operation):
    pass


class Number(Const):
    pass


def test_subclasses_keep_their_type_and_stay_frozen() -> None:
    op, c = Tagged("rz", (0,), (Number(0.5),)), Number(0.5)
    assert type(op) is Tagged and op.qubits == (0,) and type(c) is Number and c.val == 0.5
    assert type(pickle.loads(pickle.dumps(op))) is Tagged and type(copy.deepcopy(c)) is Number
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.name = "x"  # type: ignore[misc]
