"""The OpenQASM emitter's view of the gate tables: names, include membership and gate definitions."""

from __future__ import annotations

from ..ir.equivalences import ANGLE_NAMES, ARGS, EQUIVALENCES, BodyGate, definitions_for, needs_definition
from openqasm3 import ast

from ..ir.gates import GATES

__all__ = ["ARG_NAMES", "definition", "definitions_for", "gate_name", "gate_names", "modifiers_of", "needs_definition"]

ARG_NAMES = dict(zip(ARGS, ANGLE_NAMES))  # angle-argument symbol -> its name in a definition


def gate_name(name: str, version: int) -> str:
    """Library gate ``name`` as OpenQASM ``version`` calls it (u -> U / u3, p -> u1 in version 2 ...)."""
    g = GATES[name]
    return g.qasm3 if version == 3 else g.qasm2


def gate_names() -> frozenset[str]:
    """Gate names an emitted file may call (standard includes or its own definitions): not for params."""
    return frozenset(n for n, g in GATES.items() if g.stdgates or g.qelib1 or n in EQUIVALENCES)


def definition(name: str) -> tuple[tuple[str, ...], tuple[str, ...], list[BodyGate]]:
    """(angle argument names, qubit argument names, body) of gate ``name``'s definition."""
    return EQUIVALENCES[name].definition()


def modifiers_of(name: str) -> tuple[list[ast.QuantumGateModifier], str]:
    """A derived gate (``qcomp.ir.modifiers``) as OpenQASM 3 modifiers, outermost first, and its
    base gate: ``c_c_negc_ry`` -> ``ctrl(2) @ negctrl @`` and ``ry``; a power comes innermost."""
    g = GATES[name]
    mods: list[ast.QuantumGateModifier] = []
    runs: list[list] = []
    for c in g.controls:
        if runs and runs[-1][0] == c:
            runs[-1][1] += 1
        else:
            runs.append([c, 1])
    for c, k in runs:
        kind = ast.GateModifierName.ctrl if c == "c" else ast.GateModifierName.negctrl
        mods.append(ast.QuantumGateModifier(kind, ast.IntegerLiteral(k) if k > 1 else None))
    if g.power is not None:
        p = float(g.power)
        arg = ast.IntegerLiteral(int(p)) if p.is_integer() and p >= 0 else (
            ast.UnaryExpression(ast.UnaryOperator["-"], _num(-p)) if p < 0 else _num(p))
        mods.append(ast.QuantumGateModifier(ast.GateModifierName.pow, arg))
    return mods, g.base


def _num(v: float):
    return ast.IntegerLiteral(int(v)) if float(v).is_integer() else ast.FloatLiteral(float(v))
