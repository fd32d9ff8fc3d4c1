"""The front end: parse .q (and OpenQASM) source and lower it to a Program."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import QCompError
from ..ir.program import Program
from .formula import parse_expression
from .lower import DEFAULT_MAX_OPS, DEFAULT_MAX_QUBITS, Limits, lower_module
from .parser import parse_source
from .source import read_source

__all__ = ["parse", "parse_expression", "parse_file", "parse_source", "lower_module", "Limits", "DEFAULT_MAX_OPS", "DEFAULT_MAX_QUBITS"]


def parse(source: str, *, name: str = "<string>", max_qubits: int = DEFAULT_MAX_QUBITS,
          max_ops: int = DEFAULT_MAX_OPS, base_dir: str | os.PathLike | None = None) -> Program:
    """Parse and lower .q source text to a Program.

    >>> p = parse("qubit q[2]; h q[0]; cx q[0], q[1]; expect z(q[0]) @ z(q[1]);")
    >>> p.num_qubits, len(p.circuit)
    (2, 2)
    """
    module = parse_source(source, name)
    return lower_module(module, limits=Limits(max_ops=max_ops, max_qubits=max_qubits), base_dir=base_dir)


def parse_file(path: str | os.PathLike, *, max_qubits: int = DEFAULT_MAX_QUBITS,
               max_ops: int = DEFAULT_MAX_OPS) -> Program:
    """Parse and lower a ``.q`` file (or an OpenQASM ``.qasm`` file) to a Program."""
    p = Path(path)
    # regular files only, bounded, a UTF-8 byte-order mark dropped (it is not part of the program)
    text, _ = read_source(p, name=str(path), error=QCompError, what="")
    if p.suffix.lower() in (".qasm", ".qasm3", ".qasm2"):
        from .qasm_import import import_qasm

        return import_qasm(text, str(path), max_qubits=max_qubits, max_ops=max_ops)
    module = parse_source(text, str(path))
    return lower_module(module, limits=Limits(max_ops=max_ops, max_qubits=max_qubits), base_dir=p.resolve().parent)


def _import_qasm_include(text: str, name: str, **limits) -> Program:
    """The OpenQASM importer for ``include "x.qasm";`` in .q files (loaded on first use)."""
    from .qasm_import import import_qasm

    return import_qasm(text, name, **limits)


from . import lower as _lower  # noqa: E402

_lower.QASM_IMPORTER = _import_qasm_include
