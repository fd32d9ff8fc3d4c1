"""Misused gate modifiers, gphase and barrier: located errors (file:line:col, the line, a caret)."""

from __future__ import annotations

import pytest

import qcomp
from qcomp.errors import ParseError, QCompError, ResourceLimitError, SemanticError
from qcomp.frontend.qasm_import import import_qasm

HEAD = "qubit q[3];\nparam w;\n"

CASES = [
    ("ctrl @ x q[0], q[0];", SemanticError, "qubit q[0] is used twice in one 'x' gate", 3, 1),
    ("ctrl(2) @ x q[0], q[1];", SemanticError, "gate 'x' under 2 controls takes 2 + 1 qubits, got 2", 3, 1),
    ("ctrl @ x q[0];", SemanticError, "gate 'x' under 1 control takes 1 + 1 qubits, got 1", 3, 1),
    ("pow(0.5) @ u(w, 0, 0) q[0];", SemanticError, "needs a rotation or constant angles", 3, 1),
    ("pow(w) @ x q[0];", SemanticError, "'pow' exponent must be a compile-time constant", 3, 5),
    ("ctrl(1.5) @ x q[0], q[1];", SemanticError, "'ctrl' count must be an integer, got 1.5", 3, 6),
    ("negctrl(0) @ x q[0], q[1];", SemanticError, "'negctrl' count must be at least 1, got 0", 3, 9),
    ("foo @ x q[0];", ParseError, "unknown gate modifier 'foo'", 3, 1),
    ("inv(2) @ x q[0];", ParseError, "'inv' takes no argument", 3, 1),
    ("pow @ x q[0];", ParseError, "'pow' needs an exponent", 3, 1),
    ("gate g a { barrier a; }", SemanticError, "'barrier' is not allowed inside gate 'g'", 3, 12),
    ("gphase(w) q[0];", SemanticError, "'gphase' under 0 controls takes 0 qubits, got 1", 3, 1),
    ("gphase;", SemanticError, "'gphase' takes 1 angle, got 0", 3, 1),
    ("ctrl @ nope q[0], q[1];", SemanticError, "unknown gate 'nope'", 3, 8),
    # refused before any work: the derived gate would be a 2**11 matrix (it took minutes)
    ("qubit r[11];\nctrl(10) @ x " + ", ".join(f"r[{i}]" for i in range(11)) + ";", ResourceLimitError, "'x' under 10 controls acts on 11 qubits; a "
     "controlled gate acts on at most 10", 4, 1),
    ("barrier r;", SemanticError, "undeclared qubit register 'r'", 3, 9),
    ("pow(0.5) @ swap q[0], q[1];\ngate g a, b { cx a, b; h b; }\npow(0.5) @ g q[0], q[1];", SemanticError,
     "on a gate of several operations is not supported", 5, 1),
]


@pytest.mark.parametrize("src, kind, message, line, col", CASES, ids=[c[0] for c in CASES])
def test_located_errors(src: str, kind: type, message: str, line: int, col: int) -> None:
    with pytest.raises(kind) as info:
        qcomp.parse(HEAD + src, name="m.q")
    err = info.value
    assert message in err.message
    assert (err.span.file, err.span.line, err.span.column) == ("m.q", line, col)
    text = str(err)
    assert text.startswith(f"m.q:{line}:{col}: error:") and "^" in text


def test_cli_prints_the_error_without_traceback(tmp_path, capsys) -> None:
    from qcomp.cli import main

    path = tmp_path / "bad.q"
    path.write_text(HEAD + "ctrl(2) @ x q[0], q[1];\n")
    code = main(["check", str(path)])
    out = capsys.readouterr()
    assert code == 1 and "Traceback" not in out.err + out.out
    assert "bad.q:3:1: error: gate 'x' under 2 controls" in out.err + out.out


QASM_HEAD = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\n'


@pytest.mark.parametrize("src, message", [
    ("ctrl @ x q[0], q[0];", "a qubit is used twice in one 'x' gate"),
    ("ctrl(2) @ x q[0], q[1];", "gate 'x' under 2 control(s) takes 3 qubit(s), got 2"),
    ("ctrl @ gphase(0.1) q[0], q[1];", "'gphase' under 1 control(s) takes 1 qubit(s), got 2"),
    ("negctrl(0) @ x q[0], q[1];", "'negctrl' count must be at least 1"),
    ("let a = q[0:1];\nlet a = q[2];", "redeclaration of 'a'"),
    ("let a = q[0] ++ q[0];", "names a qubit twice"),
])
def test_qasm_import_errors(src: str, message: str) -> None:
    with pytest.raises(QCompError) as info:
        import_qasm(QASM_HEAD + src, "c.qasm")
    assert message in info.value.message and info.value.span is not None and info.value.span.line >= 4
