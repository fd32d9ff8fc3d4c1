"""The OpenQASM emitter's view of the gate tables: names, include membership and gate definitions."""

from __future__ import annotations

from ..ir.equivalences import ANGLE_NAMES, ARGS, EQUIVALENCES, BodyGate, definitions_for, needs_definition
from ..ir.gates import GATES

__all__ = ["ARG_NAMES", "definition", "definitions_for", "gate_name", "gate_names", "needs_definition"]

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
