"""qcomp: a compiler for differentiable quantum programs."""

from __future__ import annotations

from ._version import __version__

from .errors import QCompError
from .frontend import parse, parse_file
from .ir.program import Program
from .api import Model, compile, optimize

__all__ = ["Model", "QCompError", "Program", "compile", "optimize", "parse", "parse_file", "__version__"]
