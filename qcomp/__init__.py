"""qcomp: a compiler for differentiable quantum programs."""

from __future__ import annotations

from typing import Any

from ._version import __version__

from .errors import QCompError
from .frontend import parse, parse_file
from .ir.program import Program
from .api import Model, compile, optimize

__all__ = ["Model", "QCompError", "Program", "compile", "from_qiskit", "optimize", "parse", "parse_file", "__version__"]


def from_qiskit(circuit: Any, observables: Any = None, *, name: str | None = None) -> Program:
    """A Program of a Qiskit QuantumCircuit, converted symbolically (qcomp.bridges.qiskit_import.from_qiskit).

    Qiskit is imported only when this is called: ``import qcomp`` never imports it."""
    from .bridges.qiskit_import import from_qiskit as _from_qiskit

    return _from_qiskit(circuit, observables, name=name)
