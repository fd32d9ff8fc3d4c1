"""The one error hierarchy: every user mistake raises a QCompError subclass."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


def _shown(c: str) -> str:
    """How one source character is printed in a diagnostic: control and bidirectional-override
    characters (a terminal escape sequence, a carriage return, U+202E) as Python escapes, so that
    quoting a hostile line cannot drive the terminal or reorder what the user sees."""
    if c == "\t":
        return c
    if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp"):
        return ascii(c)[1:-1]
    return c


@dataclass(frozen=True)
class Span:
    """A source location: file name, 1-based line and column, and the source line text."""

    file: str
    line: int
    column: int
    end_column: int | None = None
    source_line: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class QCompError(Exception):
    """Base class of all user-facing errors.

    The text is ``file:line:col: error: message`` followed by the source line and a
    caret when a span is known, else ``error: message``.
    """

    kind = "error"

    def __init__(self, message: str, span: Span | None = None, notes: tuple[str, ...] = ()):
        self.message = message
        self.span = span
        self.notes = tuple(notes)
        super().__init__(self.render())

    def render(self) -> str:
        # a message may quote source text too (an ANTLR "token recognition error at: '...'")
        message = "".join(c if c == "\n" else _shown(c) for c in self.message)
        if self.span is None:
            head = f"{self.kind}: {message}"
        else:
            head = f"{self.span}: {self.kind}: {message}"
        lines = [head]
        if self.span is not None and self.span.source_line is not None:
            shown = [_shown(c) for c in self.span.source_line.rstrip("\n")]
            lines.append("    " + "".join(shown))
            start = max(self.span.column - 1, 0)
            end = start + 1
            if self.span.end_column is not None and self.span.end_column > self.span.column:
                end = self.span.end_column - 1
            # Tabs in the prefix keep the caret aligned with the source text; an escaped character
            # is as wide as its escape.
            prefix = "".join(c if c == "\t" else " " * len(c) for c in shown[:start])
            width = max(1, sum(len(c) for c in shown[start:end]))
            lines.append("    " + prefix + "^" + "~" * (width - 1))
        for note in self.notes:
            lines.append(f"note: {note}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


class ParseError(QCompError):
    """The source text does not match the grammar."""


class SemanticError(QCompError):
    """The program parses but is meaningless (unknown names, arity, ranges, ...)."""


class IncludeError(QCompError):
    """An include file is missing or includes itself."""


class ResourceLimitError(QCompError):
    """A resource limit (qubits, unrolled operations, memory) would be exceeded."""


class UnsupportedError(QCompError):
    """A construct is valid in some language but not supported here (e.g. imported QASM)."""


class InputError(QCompError):
    """Bad parameter or input values given at run time (names, shapes, NaN)."""


class DataError(QCompError):
    """A dataset is unusable for training or evaluation."""


class PassError(QCompError):
    """Unknown pass, bad pass options or a pipeline specification error."""


class ExportError(QCompError):
    """A circuit cannot be expressed in the requested output format."""
