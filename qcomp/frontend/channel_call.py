"""Lowering of channel calls (``depolarizing(p) q;``): the channel branch of gate-call lowering."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import SemanticError
from ..ir.channels import CHANNELS, READOUT_ERROR, is_channel
from ..ir.ops import Operation

if TYPE_CHECKING:
    from . import ast

__all__ = ["is_channel_call", "lower_channel_call"]

# readout_error(p01, p10) q: p01 = P(read 1 | qubit in |0>), p10 = P(read 0 | qubit in |1>)
READOUT_PARAMS = ("p01", "p10")


def is_channel_call(lowerer, s: "ast.GateCall") -> bool:
    """A call of a channel (built in or registered), unless a user gate of that name shadows it."""
    return is_channel(s.name) and s.name not in lowerer.gates


def lower_channel_call(lowerer, s: "ast.GateCall", scope, out: list[Operation], check_angle) -> None:
    """Emit one channel Operation per broadcast position; constant parameters are checked here
    (located errors), parameters that depend on params or inputs when values are bound.
    ``check_angle`` is the lowerer's check of angle expressions (size, depth, finiteness)."""
    if s.inverses:
        raise SemanticError(f"'inv @' cannot be applied to the noise channel '{s.name}' (channels have no inverse)",
                            s.span)
    if s.name == READOUT_ERROR:
        n_params, n_qubits, check = 2, 1, _check_readout
    else:
        ch = CHANNELS[s.name]
        n_params, n_qubits, check = ch.num_params, ch.num_qubits, ch.check
    if len(s.args) != n_params:
        raise SemanticError(
            f"channel '{s.name}' takes {n_params} parameter{'s' if n_params != 1 else ''}, got {len(s.args)}", s.span)
    if len(s.qargs) != n_qubits:
        raise SemanticError(
            f"channel '{s.name}' takes {n_qubits} qubit{'s' if n_qubits != 1 else ''}, got {len(s.qargs)}", s.span)
    values = tuple(lowerer.expr(a, scope) for a in s.args)
    for node, a in zip(s.args, values):
        check_angle(a, s.name, node.span or s.span)
    if all(v.is_constant for v in values):
        msg = check(*(v.value() for v in values))
        if msg is not None:
            raise SemanticError(msg, s.span)
    groups = [lowerer.qarg(q, scope) for q in s.qargs]
    sizes = {len(g) for g in groups if len(g) > 1}
    if len(sizes) > 1:
        raise SemanticError(
            f"registers of different sizes ({', '.join(str(len(g)) for g in groups)}) cannot be broadcast together",
            s.span)
    width = sizes.pop() if sizes else 1
    span = lowerer.call_span or s.span
    for k in range(width):
        qubits = tuple(g[k] if len(g) > 1 else g[0] for g in groups)
        if len(set(qubits)) != len(qubits):
            raise SemanticError(f"a qubit is used twice in one '{s.name}' channel", s.span)
        after = [q for q in qubits if q in lowerer.measured_set]
        if after and s.name != READOUT_ERROR:
            raise SemanticError(
                f"channel '{s.name}' on {lowerer._qubit_name(after[0])} after it was measured;"
                " qcomp measures at the end of the circuit, so move 'measure' last", s.span)
        lowerer._emit(out, Operation(s.name, qubits, values, span))


def _check_readout(p01, p10) -> str | None:
    import numpy as np

    for name, v in zip(READOUT_PARAMS, (p01, p10)):
        v = np.asarray(v, dtype=float)
        if not np.all(np.isfinite(v)) or np.any((v < 0) | (v > 1)):
            bad = v[~(np.isfinite(v) & (v >= 0) & (v <= 1))] if v.ndim else v
            return f"'readout_error' needs 0 <= {name} <= 1, got {float(np.asarray(bad).flat[0]):g}"
    return None
