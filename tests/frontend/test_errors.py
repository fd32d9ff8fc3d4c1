"""One test per front-end diagnostic: error class, file:line:col, message, source line and caret."""

from __future__ import annotations

import re

import pytest

import qcomp
from qcomp.errors import IncludeError, ParseError, QCompError, ResourceLimitError, SemanticError


def check(src: str, cls: type, line: int, col: int, message: str, *, note: str | None = None,
          width: int | None = None, **limits) -> QCompError:
    """Compile ``src`` as t.q, expect ``cls`` at line:col whose message matches the regex ``message``."""
    with pytest.raises(QCompError) as info:
        qcomp.parse(src, name="t.q", **limits)
    err = info.value
    assert type(err) is cls, f"{type(err).__name__}: {err}"
    assert (err.span.file, err.span.line, err.span.column) == ("t.q", line, col), str(err)
    assert re.search(message, err.message), err.message
    text = err.render()
    rendered = text.split("\n")
    assert rendered[0] == f"t.q:{line}:{col}: error: {err.message}"
    src_line = src.split("\n")[line - 1]
    assert rendered[1] == "    " + src_line
    caret = rendered[2]
    assert caret.index("^") == 4 + col - 1, text
    if width is not None:
        assert caret.strip() == "^" + "~" * (width - 1), text
    if note is not None:
        assert f"note: {note}" in rendered, text
    assert str(err) == text
    return err


# -- syntax -------------------------------------------------------------------------------
def test_syntax_error_lists_expected_tokens() -> None:
    err = check("qubit q;\nh q h q;", ParseError, 2, 5, r"^unexpected 'h'; expected one of ',', ';', '\['$", width=1)
    assert "expected" in str(err)


def test_syntax_error_missing_semicolon_points_after_statement() -> None:
    check("qubit q[2];\nh q[0]\ncx q[0], q[1];", ParseError, 2, 7, r"missing ';' after '\]'")


def test_syntax_error_unexpected_end_of_input() -> None:
    check("qubit q;\nrx(0.5 q;", ParseError, 2, 8, r"unexpected 'q'; expected one of .*'\)'")
    check("qubit q;\nfor i in range(2) { h q;\n\n", ParseError, 2, 25, r"unexpected end of input; expected .*'}'")


def test_syntax_error_bad_character_and_unterminated() -> None:
    check("qubit q;\nh q; $", ParseError, 2, 6, r"unexpected character '\$'")
    check("qubit q;\n  /* never closed", ParseError, 2, 3, r"unterminated comment")
    check('include "a.q;\nqubit q;', ParseError, 1, 9, r"unterminated string")


# -- gates ---------------------------------------------------------------------------------
def test_unknown_gate_did_you_mean() -> None:
    check("qubit q[2];\ncnt q[0], q[1];", SemanticError, 2, 1, r"^unknown gate 'cnt'$", note="did you mean 'cnot'?", width=3)
    check("qubit q;\ngate mygate a { h a; }\n  mygat q;", SemanticError, 3, 3, r"unknown gate 'mygat'",
          note="did you mean 'mygate'?")


def test_wrong_number_of_angles() -> None:
    check("qubit q;\nrx q;", SemanticError, 2, 1, r"^gate 'rx' takes 1 angle, got 0$")
    check("qubit q;\nu(1, 2) q;", SemanticError, 2, 1, r"^gate 'u' takes 3 angles, got 2$")
    check("qubit q;\ngate g(a, b) x0 { rx(a + b) x0; }\ng(1) q;", SemanticError, 3, 1, r"gate 'g' takes 2 angles, got 1")


def test_wrong_number_of_qubits() -> None:
    check("qubit q[3];\ncx q[0];", SemanticError, 2, 1, r"^gate 'cx' takes 2 qubits, got 1$")
    check("qubit q[3];\nh q[0], q[1];", SemanticError, 2, 1, r"^gate 'h' takes 1 qubit, got 2$")


def test_same_qubit_twice() -> None:
    check("qubit q[2];\ncx q[1], q[1];", SemanticError, 2, 1, r"^qubit q\[1\] is used twice in one 'cx' gate$")
    # through a broadcast of a register with one of its own qubits
    check("qubit q[2];\ncx q, q[0];", SemanticError, 2, 1, r"qubit q\[0\] is used twice")
    # through a user gate's arguments
    check("qubit a;\ngate g x0, x1 { cz x0, x1; }\ng a, a;", SemanticError, 3, 1, r"qubit a is used twice in one 'g' gate")


def test_broadcast_size_mismatch() -> None:
    check("qubit a[2];\nqubit b[3];\ncx a, b;", SemanticError, 3, 1, r"registers of different sizes \(2, 3\)")


# -- indices and names --------------------------------------------------------------------
def test_index_out_of_range() -> None:
    check("qubit q[2];\nh q[2];", SemanticError, 2, 5, r"^qubit index 2 out of range for register 'q' of size 2$")
    check("qubit q;\nparam w[3];\nrx(w[1 + 2]) q;", SemanticError, 3, 6, r"index 3 out of range for param 'w' of size 3")
    check("qubit q[2];\nfor i in range(3) { x q[i]; }", SemanticError, 2, 25, r"qubit index 2 out of range")


def test_undeclared_names() -> None:
    check("qubit q;\nrx(wieght) q;", SemanticError, 2, 4, r"^undeclared name 'wieght'$")
    check("qubit q;\nparam weight;\nrx(wieght) q;", SemanticError, 3, 4, r"undeclared name 'wieght'",
          note="did you mean 'weight'?")
    check("qubit q;\nh r;", SemanticError, 2, 3, r"^undeclared qubit register 'r'$")
    check("qubit q;\nparam w;\nh w;", SemanticError, 3, 3, r"'w' is a param, not a qubit register")
    check("qubit q;\nrx(q) q;", SemanticError, 2, 4, r"qubit 'q' used as a value")
    check("qubit q;\nrx(foo(1)) q;", SemanticError, 2, 4, r"unknown function 'foo'")


def test_redeclared_names() -> None:
    err = check("qubit q;\nparam w;\n\ninput w;", SemanticError, 4, 1, r"^redeclaration of 'w'$")
    assert err.notes == ("previous declaration at t.q:2:1",)
    check("qubit q;\nqubit q[2];", SemanticError, 2, 1, r"redeclaration of 'q'")
    check("const pi = 3;\nqubit q;", SemanticError, 1, 1, r"'pi' is a built-in constant")
    check("qubit q;\ngate g a { h a; }\ngate g a { x a; }", SemanticError, 3, 1, r"redefinition of gate 'g'")
    check("qubit q;\ngate cx a, b { h a; }", SemanticError, 2, 1, r"gate 'cx' is a built-in gate")
    check("const n = 2;\nqubit q;\nfor n in range(2) { h q; }", SemanticError, 3, 1, r"loop variable 'n' shadows")


def test_param_or_input_as_index() -> None:
    check("qubit q[2];\nparam k;\nh q[k];", SemanticError, 3, 5,
          r"^qubit index must be an integer compile-time expression; params and inputs cannot be used \(k\)$")
    check("qubit q;\ninput x;\nparam w[2];\nrx(w[x]) q;", SemanticError, 4, 6, r"index must be an integer .*\(x\)")
    check("qubit q;\ninput x;\nfor i in range(x) { h q; }", SemanticError, 3, 16, r"range bound must be an integer")
    check("qubit q[2];\nh q[0.5];", SemanticError, 2, 5, r"qubit index must be an integer, got 0.5")


def test_non_constant_if() -> None:
    check("qubit q;\nparam w;\nif (w > 0) { h q; }", SemanticError, 3, 5,
          r"^condition must be a compile-time constant, but depends on params \(w\)$")
    check("qubit q;\ninput x;\nconst c = 1;\nif (c == 1 && x) { h q; }", SemanticError, 4, 15, r"depends on inputs \(x\)")


def test_recursive_gates() -> None:
    check("qubit q;\ngate a x0 { a x0; }\na q;", SemanticError, 2, 13, r"^recursive gate 'a' \(a -> a\)$")
    check("qubit q;\ngate a x0 { b x0; }\ngate b x0 { h x0; a x0; }\na q;", SemanticError, 3, 19,
          r"recursive gate 'a' \(a -> b -> a\)")


def test_declarations_not_allowed_in_blocks() -> None:
    check("qubit q;\ngate g a { param w; rx(w) a; }\ng q;", SemanticError, 2, 12, r"param declaration is not allowed inside gate 'g'")
    check("qubit q;\nfor i in range(2) { qubit r; }", SemanticError, 2, 21, r"qubit declaration is not allowed inside a loop")
    check("qubit q;\ngate g a { measure a; }\ng q;", SemanticError, 2, 12, r"'measure' is not allowed inside gate 'g'")


def test_empty_program() -> None:
    check("", SemanticError, 1, 1, r"^empty program: declare at least one qubit")
    check("// only a comment\nconst n = 1;\n", SemanticError, 1, 1, r"empty program")


# -- limits --------------------------------------------------------------------------------
def test_unroll_limit_loop_trips() -> None:
    check("qubit q;\nfor i in range(100) { h q; }", ResourceLimitError, 2, 1,
          r"^loop runs 100 times, over the unrolling limit of 50 operations$", max_ops=50)


def test_unroll_limit_emitted_operations() -> None:
    # 10 trips * 3 gates: the trip count is under the limit, the operations are not; the loop is
    # priced before it is unrolled, so the error points at it
    err = check("qubit q[2];\nfor i in range(10) {\n  h q[0]; x q[1];\n  cz q[0], q[1];\n}", ResourceLimitError,
                2, 1, r"program unrolls to more than 20 operations: this loop alone", max_ops=20)
    assert "--max-ops" in err.message
    check("qubit q[30];\nh q;", ResourceLimitError, 2, 1, r"more than 20 operations", max_ops=20)


def test_qubit_limit() -> None:
    check("qubit a[4];\nqubit b[5];", ResourceLimitError, 2, 1,
          r"^program declares 9 qubits, over the limit of 8 \(raise it with max_qubits= / --max-qubits\)$", max_qubits=8)


def test_default_limits() -> None:
    from qcomp.frontend import DEFAULT_MAX_OPS, DEFAULT_MAX_QUBITS

    assert DEFAULT_MAX_OPS == 10_000_000
    check("qubit q;\nfor i in range(20000000) { h q; }", ResourceLimitError, 2, 1, r"over the unrolling limit of 10000000")
    check(f"qubit q[{DEFAULT_MAX_QUBITS + 1}];", ResourceLimitError, 1, 1, rf"over the limit of {DEFAULT_MAX_QUBITS}")


# -- observables and measurement --------------------------------------------------------------
def test_observable_errors() -> None:
    check("qubit q[2];\nexpect z(q[0]) @ x(q[0]);", SemanticError, 2, 8, r"qubit q\[0\] appears twice in a Pauli product")
    check("qubit q[2];\nparam w;\nexpect w * z(q[0]);", SemanticError, 3, 8, r"observable coefficients must be compile-time constants")
    check("qubit q[2];\nexpect z(q);", SemanticError, 2, 8, r"'z\(q\)' needs one qubit, but the register has 2")
    check("qubit q[2];\nexpect z(q[0]) * z(q[1]);", SemanticError, 2, 8, r"'\*' between Pauli operators is not supported; use '@'")
    check("qubit q[2];\nexpect 1 / z(q[0]);", SemanticError, 2, 12, r"cannot divide by a Pauli operator")
    check("qubit q[2];\nexpect z(q[0]) / 0;", SemanticError, 2, 18, r"division by zero")
    check("qubit q[2];\nexpect z(q[2]);", SemanticError, 2, 12, r"qubit index 2 out of range")
    check("qubit q[2];\nrx(z(q[0])) q[0];", SemanticError, 2, 4, r"Pauli operator 'z\(...\)' is only allowed in 'expect'")
    check("qubit q[2];\nrx(1 @ 2) q[0];", SemanticError, 2, 4, r"'@' \(tensor product\) is only allowed in 'expect'")


def test_gate_after_measure() -> None:
    check("qubit q[2];\nmeasure q[0];\ncx q[1], q[0];", SemanticError, 3, 1,
          r"^gate 'cx' on q\[0\] after it was measured; qcomp measures at the end of the circuit")
    # other qubits may still be used
    assert len(qcomp.parse("qubit q[2]; measure q[0]; h q[1];").circuit) == 1


def test_tab_alignment_of_caret() -> None:
    err = check("qubit q;\n\th r;", SemanticError, 2, 4, r"undeclared qubit register 'r'")
    assert err.render().split("\n")[2] == "    \t  ^"


def test_errors_inside_user_gate_point_at_body() -> None:
    check("qubit q;\ngate g(a) x0 {\n  rx(a, a) x0;\n}\ng(1) q;", SemanticError, 3, 3, r"gate 'rx' takes 1 angle, got 2")


def test_unroll_limit_counts_iterations_of_empty_loops() -> None:
    check("qubit q;\nfor i in range(8) {\n  for j in range(8) { }\n}", ResourceLimitError, 2, 1,
          r"^loops unroll to more than 50 iterations in total", max_ops=50)


def test_gate_body_cannot_use_global_registers() -> None:
    check("qubit q[2];\ngate g a { cx a, q[1]; }\ng q[0];", SemanticError, 2, 18,
          r"^gate 'g' can only act on its qubit arguments \(a\), not on the register 'q'$")


def test_non_finite_constants() -> None:
    check("qubit q;\nrx(1 / 0) q;", SemanticError, 2, 4, r"^angle of gate 'rx' is not a finite number \(inf\)$")
    check("qubit q;\nu(0, sqrt(-1), 0) q;", SemanticError, 2, 6, r"angle of gate 'u' is not a finite number \(nan\)")
    check("const c = log(0);\nqubit q;", SemanticError, 1, 11, r"const 'c' is not a finite number")
    check("qubit q;\nexpect 1e308 * 10 * z(q);", SemanticError, 2, 8, r"observable coefficient is not finite")


def test_long_hamiltonian_parses_and_too_deep_is_an_error() -> None:
    # 1500 terms: a left-deep tree deeper than Python's default recursion limit
    terms = " + ".join(f"{i % 7 + 1} * z(q[{i % 4}]) @ x(q[{(i + 1) % 4}])" for i in range(1500))
    p = qcomp.parse(f"qubit q[4];\nexpect {terms};")
    assert len(p.observables[0].terms) == 4
    from qcomp.frontend.parser import deep_recursion

    with pytest.raises(ResourceLimitError, match="^error: f.q: expression or nesting too deep to compile"):
        with deep_recursion("f.q"):
            raise RecursionError


def test_deeply_nested_angle_is_refused_where_written() -> None:
    from qcomp.frontend.lower import MAX_ANGLE_DEPTH

    nested = "w"
    for _ in range(MAX_ANGLE_DEPTH):  # one level more than the limit
        nested = f"sin({nested})"
    check(f"qubit q;\nparam w;\nh q;\nrx({nested}) q;", ResourceLimitError, 4, 4,
          rf"angle of gate 'rx' is nested {MAX_ANGLE_DEPTH + 1} levels deep, over the limit of {MAX_ANGLE_DEPTH}")
    # at the limit it compiles; a sum of any length is not nesting
    ok = nested[4:-1]
    qcomp.parse(f"qubit q;\nparam w;\nrx({ok}) q;")
    qcomp.parse("qubit q;\nparam w;\nrx(" + " + ".join(["w"] * 5000) + ") q;")


def test_non_finite_number_inside_a_symbolic_angle() -> None:
    check("qubit q;\nparam w;\nrx(w * (1 / 0)) q;", SemanticError, 3, 4, r"contains a non-finite number \(inf\)")
    check("qubit q;\nparam w;\nh q;\nry(w + 0 * (1 / 0)) q;", SemanticError, 4, 4, r"contains a non-finite number \(nan\)")


def test_loop_trip_count_past_machine_integers_is_a_limit() -> None:
    check("qubit q;\nfor i in range(2**63) { h q; }", ResourceLimitError, 2, 1, r"loop runs 9223372036854775808 times")
    check("qubit q;\nfor i in range(0, -2**70, -3) { h q; }", ResourceLimitError, 2, 1, r"over the unrolling limit")


def test_param_and_input_registers_are_limited() -> None:
    check("qubit q;\nparam w[10**18];", ResourceLimitError, 2, 9, r"params would number 1000000000000000000, over the limit")
    check("qubit q;\ninput a[15];\ninput b[10];", ResourceLimitError, 3, 9, r"inputs would number 25, over the limit of 20",
          max_ops=20)
