"""qcomp: a compiler for differentiable quantum programs."""

from __future__ import annotations

from ._version import __version__

from .errors import QCompError
from .frontend import parse, parse_file
from .ir.program import Program
from .api import Model, compile, optimize



def from_cirq(circuit, observables=None, **options) -> Program:
    """A ``cirq.Circuit`` (sympy symbols as params or inputs) as a qcomp Program: see
    ``qcomp.bridges.cirq_import.from_cirq`` (needs ``qcomp[cirq]``; cirq is imported only here)."""
    from .errors import UnsupportedError

    try:
        from .bridges.cirq_import import from_cirq as _from_cirq
    except ImportError as exc:
        raise UnsupportedError(f"qcomp.from_cirq needs cirq: pip install 'qcomp[cirq]' ({exc})") from None
    return _from_cirq(circuit, observables, **options)


def from_pennylane(qnode_or_tape, *args, **kwargs) -> Program:
    """A PennyLane tape, or a QNode called with example arguments, as a qcomp Program: see
    ``qcomp.bridges.pennylane_import.from_pennylane`` (needs ``qcomp[pennylane]``)."""
    from .errors import UnsupportedError

    try:
        from .bridges.pennylane_import import from_pennylane as _from_pennylane
    except ImportError as exc:
        raise UnsupportedError(f"qcomp.from_pennylane needs PennyLane: pip install 'qcomp[pennylane]' ({exc})") from None
    return _from_pennylane(qnode_or_tape, *args, **kwargs)


__all__ = ["Model", "QCompError", "Program", "compile", "from_cirq", "from_pennylane", "optimize", "parse",
           "parse_file", "__version__"]
