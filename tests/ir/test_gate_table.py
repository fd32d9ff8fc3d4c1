"""The gate table's derived sets and the equivalence table: complete, consistent, exact."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qcomp.ir import equivalences as EQ
from qcomp.ir import gates as G

TWO_PI, FOUR_PI = 2 * math.pi, 4 * math.pi


def _library(table):
    """The entries of the library's own gates (modifiers register derived gates on use)."""
    return {k: v for k, v in table.items() if G.GATES[k].base is None}


def test_derived_tables():
    assert _library(G.ROTATION_PERIOD) == {"rx": TWO_PI, "ry": TWO_PI, "rz": TWO_PI, "rxx": TWO_PI, "ryy": TWO_PI,
                                 "rzz": TWO_PI, "p": TWO_PI, "cp": TWO_PI, "crx": FOUR_PI, "cry": FOUR_PI,
                                 "crz": FOUR_PI}
    assert set(G.ROTATION_PERIOD) == G.ROTATIONS
    assert _library(G.MATRIX_FREQ) == {"rx": (0.5,), "ry": (0.5,), "rz": (0.5,), "rxx": (0.5,), "ryy": (0.5,), "rzz": (0.5,),
                             "crx": (0.5,), "cry": (0.5,), "crz": (0.5,), "p": (1.0,), "cp": (1.0,),
                             "u": (0.5, 1.0, 1.0)}
    assert G.PAULI_ROTATIONS == {"rx": "X", "ry": "Y", "rz": "Z", "rxx": "XX", "ryy": "YY", "rzz": "ZZ"}
    assert tuple(G.CLIFFORD_1Q) == ("id", "x", "y", "z", "h", "s", "sdg", "sx", "sxdg")
    assert G.QASM2_RENAME == {"p": "u1", "cp": "cu1", "u": "u3"}
    assert G.QELIB1 < G.STDGATES | {"sx"} and "u" not in G.STDGATES


@pytest.mark.parametrize("name", sorted(G.GATES))
def test_gate_facts_match_the_matrix(name):
    g = G.GATES[name]
    angles = [0.37 * (k + 1) for k in range(g.num_angles)]
    m = np.asarray(g.matrix(*angles))
    if g.diagonal:
        assert np.allclose(m, np.diag(np.diag(m)))
    if g.self_inverse:
        assert np.allclose(m @ m, np.eye(len(m)))
    for perm in [g.symmetric] if g.symmetric else []:  # swapping the two positions leaves the gate alone
        i, j = perm
        order = list(range(g.num_qubits))
        order[i], order[j] = j, i
        t = m.reshape((2,) * (2 * g.num_qubits))
        t = t.transpose(order + [g.num_qubits + k for k in order]).reshape(m.shape)
        assert np.allclose(t, m)
    if g.hermitian_generator:
        p = np.eye(1)
        for c in g.hermitian_generator:
            p = np.kron(p, G.PAULI_MATRICES[c])
        t = angles[0]
        assert np.allclose(m, math.cos(t / 2) * np.eye(len(m)) - 1j * math.sin(t / 2) * p)
    # the inverse rule gives the inverse matrix, up to a global phase
    from qcomp.ir.expr import Const
    from qcomp.ir.unitary import gates_unitary

    inv = G.inverse(name, tuple(Const(a) for a in angles))
    u = gates_unitary([(n, [a.value() for a in ang], range(g.num_qubits)) for n, ang in inv], g.num_qubits)
    prod = u @ m
    assert np.allclose(prod / prod[0, 0], np.eye(len(m)))


def test_every_multi_qubit_gate_has_an_exact_equivalence():
    for name, g in G.GATES.items():
        if g.num_qubits > 1 and name != "cx" and g.base is None:  # derived gates: tests/ir/test_modifiers.py
            assert name in EQ.EQUIVALENCES, name
    from qcomp.ir.modifiers import CHECKED_WIDTH

    for eq in EQ.EQUIVALENCES.values():
        g = G.GATES[eq.gate]
        if g.base is not None and g.num_qubits > CHECKED_WIDTH:
            continue  # derived gates wider than this are registered unchecked (exponential cost; see modifiers)
        EQ.check(eq, trials=3)
        assert eq.phase == 0.0


def test_definitions_only_call_included_or_earlier_gates():
    order = list(EQ.EQUIVALENCES)
    for version in (2, 3):
        for name in EQ.definitions_for({n for n, g in G.GATES.items() if g.base is None}, version):
            for called, _, _ in EQ.EQUIVALENCES[name].definition()[2]:
                if EQ.needs_definition(called, version):
                    assert order.index(called) < order.index(name)
