"""Dynamic circuits in the front end: one test per misuse (class, file:line:col, message, caret) and the text round trip."""

from __future__ import annotations

import subprocess
import sys

import pytest

import qcomp
from qcomp.errors import ResourceLimitError, SemanticError

from test_errors import check

H = "qubit q[2];\nbit c[2];\n"


def test_measure_into_undeclared_bit_suggests() -> None:
    check(H + "cc[0] = measure q[0];", SemanticError, 3, 1, r"^undeclared bit register 'cc'", note="did you mean 'c'?")


def test_measure_into_qubit_register() -> None:
    check(H + "q[0] = measure q[1];", SemanticError, 3, 1, r"'q' is a qubit register, not a bit register")


def test_bit_index_out_of_range() -> None:
    check(H + "c[2] = measure q[0];", SemanticError, 3, 3, r"^bit index 2 out of range for bit register 'c' of size 2$")


def test_scalar_bit_indexed() -> None:
    check("qubit q;\nbit b;\nb[0] = measure q;", SemanticError, 3, 1, r"bit 'b' is not a register and cannot be indexed")


def test_measure_size_mismatch() -> None:
    check("qubit q[3];\nbit c[2];\nc = measure q;", SemanticError, 3, 1, r"measuring 3 qubit\(s\) into 2 bit\(s\)")


def test_runtime_if_body_declares() -> None:
    check(H + "c[0] = measure q[0];\nif (c[0]) { qubit r; }", SemanticError, 4, 13,
          r"qubit declaration is not allowed inside a loop or if block")
    check(H + "if (c[0]) { bit d; }", SemanticError, 3, 13, r"bit declaration is not allowed inside")


def test_bit_declaration_inside_loop() -> None:
    check("qubit q;\nfor i in range(2) { bit d; }", SemanticError, 2, 21, r"bit declaration is not allowed inside")


def test_expect_inside_runtime_if() -> None:
    check(H + "if (c[0] == 1) { expect z(q[0]); }", SemanticError, 3, 18, r"'expect' is not allowed inside a runtime 'if'")
    check(H + "if (c[0] == 1) { probs q; }", SemanticError, 3, 18, r"'probs' is not allowed inside a runtime 'if'")


def test_terminal_measure_inside_runtime_if() -> None:
    check(H + "if (c[0]) { measure q[1]; }", SemanticError, 3, 13, r"terminal 'measure' is not allowed inside a runtime 'if'")


def test_gate_after_terminal_measure_still_refused() -> None:
    check(H + "measure q[0];\nif (c[0]) { x q[0]; }", SemanticError, 4, 13, r"gate 'x' on q\[0\] after it was measured")
    check(H + "measure q[0];\nc[0] = measure q[0];", SemanticError, 4, 1, r"'measure' on q\[0\] after its terminal 'measure'")
    check(H + "measure q;\nreset q[1];", SemanticError, 4, 1, r"'reset' on q\[1\] after its terminal 'measure'")


def test_dynamic_ops_inside_gate() -> None:
    check(H + "gate g a { reset a; }\ng q[0];", SemanticError, 3, 12, r"'reset' is not allowed inside gate 'g'")
    check(H + "gate g a { if (c[0]) { x a; } }\ng q[0];", SemanticError, 3, 12, r"runtime 'if' \(on a bit\) is not allowed inside gate 'g'")


def test_bit_used_as_value() -> None:
    check(H + "rx(c[0]) q[0];", SemanticError, 3, 4, r"bit 'c\[\.\.\.\]' is known only when the circuit runs")
    check("qubit q;\nbit b;\nrx(b) q;", SemanticError, 3, 4, r"bit 'b' is known only when the circuit runs")


def test_unsupported_runtime_conditions() -> None:
    check(H + "if (c[0] || c[1]) { x q[0]; }", SemanticError, 3, 5, r"unsupported runtime condition")
    check(H + "if (c < 2) { x q[0]; }", SemanticError, 3, 5, r"unsupported runtime condition")
    check(H + "if (c == 4) { x q[0]; }", SemanticError, 3, 10, r"c holds 2 bit\(s\) and cannot equal 4")
    check(H + "if (c[0] == 0.5) { x q[0]; }", SemanticError, 3, 13, r"c\[0\] holds 1 bit\(s\) and cannot equal 0.5")
    check(H + "if (!(c[0] && c != 1)) { x q[0]; }", SemanticError, 3, 5, r"cannot negate a runtime condition")


def test_channel_inside_runtime_if() -> None:
    check(H + "if (c[0]) { bit_flip(0.1) q[0]; }", SemanticError, 3, 13, r"noise channel 'bit_flip' inside a runtime 'if'")


def test_ancilla_count_checked_against_qubit_limit() -> None:
    src = "qubit q[2];\nbit c[2];\nh q[0];\nc[0] = measure q[0];\nreset q[1];\nexpect z(q[1]);\n"
    model = qcomp.compile(src, max_qubits=3)
    # deferral asked for is refused before any work, at the first measurement
    with pytest.raises(ResourceLimitError) as info:
        model.simulator(method="defer")
    err = info.value
    assert (err.span.line, err.span.column) == (4, 1)
    assert "2 mid-circuit measurement(s)/reset(s) to one ancilla qubit each: 2 + 2 = 4 qubits, over the limit of 3" \
        in err.message
    # the automatic choice runs the branches instead, without ancillas
    assert model.runs_branches
    assert model.simulator().expval() == pytest.approx([1.0])
    assert qcomp.compile(src, max_qubits=4).simulator().expval().shape == (1,)


def test_cli_prints_located_error_without_traceback(tmp_path) -> None:
    f = tmp_path / "bad.q"
    f.write_text(H + "c[0] = measure q[0];\nif (c[0]) { expect z(q[0]); }\n")
    r = subprocess.run([sys.executable, "-m", "qcomp", "check", str(f)], capture_output=True, text=True)
    assert r.returncode == 1
    assert "bad.q:4:13: error: 'expect' is not allowed inside a runtime 'if'" in r.stderr
    assert "^" in r.stderr and "Traceback" not in r.stderr


ROUND_TRIP = [
    "qubit q[2];\nbit c;\nh q[0];\nc = measure q[0];\nif (c) { x q[1]; }\nexpect z(q[1]);\n",
    "qubit q[3];\nbit c[3];\nparam w[2];\nry(w[0]) q[0];\nc = measure q;\nreset q;\n"
    "if (c == 5) { rx(w[1]) q[1]; } else { if (!c[1]) { cz q[0], q[2]; } }\n"
    "if (c[0] == 1 && c[2] == 0) { h q[2]; } else { t q[2]; }\nmeasure q[1];\n",
]


@pytest.mark.parametrize("src", ROUND_TRIP)
def test_text_round_trip(src: str) -> None:
    p = qcomp.parse(src)
    text = p.to_text()
    back = qcomp.parse(text)
    assert back == p and list(back.circuit.ops()) == list(p.circuit.ops())
    assert back.to_text() == text
    p.circuit.verify()
