"""Regression tests for hostile inputs (issue 19): unbounded expansion, internal errors and
diagnostics that were not located. Every case must fail fast with a located QCompError."""

from __future__ import annotations

import time

import pytest

import qcomp
from qcomp.errors import ParseError, QCompError, ResourceLimitError, SemanticError, Span, UnsupportedError
from qcomp.frontend.qasm_import import import_qasm

H3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'


def located(fn, cls: type, line: int, col: int, match: str, name: str) -> QCompError:
    """Run ``fn``, expect ``cls`` at ``name``:line:col whose message contains ``match``."""
    with pytest.raises(QCompError) as info:
        fn()
    err = info.value
    assert type(err) is cls, f"{type(err).__name__}: {err}"
    assert err.span is not None, str(err)
    assert (err.span.file, err.span.line, err.span.column) == (name, line, col), str(err)
    assert match in err.message, err.message
    text = err.render().split("\n")
    assert text[2].index("^") == 4 + col - 1, text
    return err


def q(src: str, cls: type, line: int, col: int, match: str, **limits) -> QCompError:
    return located(lambda: qcomp.parse(src, name="t.q", **limits), cls, line, col, match, "t.q")


def qasm(src: str, cls: type, line: int, col: int, match: str, **limits) -> QCompError:
    return located(lambda: import_qasm(src, "t.qasm", **limits), cls, line, col, match, "t.qasm")


def doubling(n: int, qasm_syntax: bool = False) -> str:
    """n gates, each calling the previous one twice: 2**n operations from a tiny source."""
    lines = ([H3.strip()] if qasm_syntax else []) + ["qubit q;", "gate g0 a { h a; }"]
    lines += [f"gate g{i} a {{ g{i - 1} a; g{i - 1} a; }}" for i in range(1, n + 1)]
    lines.append(f"g{n} q;")
    return "\n".join(lines)


# -- unbounded expansion ------------------------------------------------------------------------
def test_doubling_gates_are_priced_before_expansion() -> None:
    t0 = time.perf_counter()
    err = q(doubling(40), ResourceLimitError, 43, 1, "gate 'g40' alone")
    assert "more than 10000000" in err.message and "--max-ops" in err.message
    qasm(doubling(40, True), ResourceLimitError, 45, 1, "gate 'g40' alone")
    q(doubling(12), ResourceLimitError, 15, 1, "program unrolls to more than 1000 operations: gate 'g12' alone", max_ops=1000)
    assert time.perf_counter() - t0 < 5
    # under the limit the same program expands exactly
    assert len(qcomp.parse(doubling(10)).circuit) == 1024
    assert len(import_qasm(doubling(10, True)).circuit) == 1024


def test_pricing_follows_control_flow_that_reads_gate_parameters() -> None:
    src = """qubit q[2];
gate a(n) x { for i in range(n) { h x; } }
gate b(n) x { a(n) x; a(2*n) x; if (n > 2) { x x; } }
gate c(t) x, y { b(3) x; rx(t) y; inv @ b(1) y; }
for k in range(3) { c(k) q[0], q[1]; b(k) q[0]; }
"""
    assert len(qcomp.parse(src).circuit) == 51  # 3 * (10 + 1 + 3) + (0 + 3 + 6)
    q(src, ResourceLimitError, 5, 1, "this loop alone unrolls to more than 50", max_ops=50)


def test_expansions_with_ever_new_parameter_values_are_bounded() -> None:
    # every call has new parameter values that steer control flow, so no two expansions share a
    # price: pricing stops once it has done more steps than the iterations allowed
    lines = ["qubit q;", "gate g0(n) x { if (n > 0) { } }"]
    lines += [f"gate g{k}(n) x {{ g{k - 1}(2 * n) x; g{k - 1}(2 * n + 1) x; }}" for k in range(1, 31)]
    lines.append("g30(0) q;")
    t0 = time.perf_counter()
    q("\n".join(lines), ResourceLimitError, 33, 1, "iterations in total: gate 'g30' alone takes more than 20000",
      max_ops=20000)
    assert time.perf_counter() - t0 < 5


def test_loops_are_priced_before_unrolling() -> None:
    t0 = time.perf_counter()
    q("qubit q;\nfor i in range(10000) {\n  for j in range(10000) { }\n}", ResourceLimitError, 2, 1,
      "loops unroll to more than 10000000 iterations in total")
    qasm("OPENQASM 3.0;\nqubit q;\nfor int i in [0:9999] { for int j in [0:9999] { } }", ResourceLimitError, 3, 1,
         "loops unroll to more than 10000000 iterations in total")
    qasm(H3 + "qubit q;\nfor int i in [0:100000000000] { h q; }", ResourceLimitError, 4, 1, "loop runs 100000000001 times")
    qasm(H3 + "qubit q;\nfor int i in [0:4000] { for int j in [0:4000] { h q; } }", ResourceLimitError, 4, 1,
         "this loop alone unrolls to more than 10000000")
    assert time.perf_counter() - t0 < 5


def test_openqasm_pricing_counts_slices_exactly() -> None:
    src = H3 + "qubit[4000] q;\nfor int i in [0:@END] { h q[i]; x q[0:i]; }"
    assert len(import_qasm(src.replace("@END", "9")).circuit) == 65  # 10 + (1 + ... + 10)
    assert len(import_qasm(src.replace("@END", "99"), max_ops=5150).circuit) == 5150
    qasm(src.replace("@END", "99"), ResourceLimitError, 4, 1, "this loop alone unrolls to more than 5149", max_ops=5149)


def test_huge_slices_and_pow_are_refused_before_materialising() -> None:
    qasm(H3 + "qubit[2] q;\nh q[0:100000000000];", SemanticError, 4, 3, "qubit index 100000000000 out of range")
    qasm(H3 + "qubit q;\npow(100000000000) @ h q;", ResourceLimitError, 4, 5, "'pow' repeats the gate 100000000000 times")
    qasm(H3 + "qubit q;\ngate g a { h a; h a; }\npow(3000) @ g q;", ResourceLimitError, 5, 1,
         "gate 'g' alone unrolls to more than 5000", max_ops=5000)
    assert len(import_qasm(H3 + "qubit[4] q;\nh q[1:2];").circuit) == 2


def test_angles_doubled_per_gate_level_are_bounded_by_size() -> None:
    lines = ["qubit q;", "param w;", "gate a0(t) x { rx(t) x; }"]
    lines += [f"gate a{i}(t) x {{ a{i - 1}(t + t) x; }}" for i in range(1, 26)]
    lines.append("a25(w) q;")
    t0 = time.perf_counter()
    q("\n".join(lines), ResourceLimitError, 13, 20, "has more than 100000 terms and operations")
    qasm_lines = [H3.strip(), "input float w;", "qubit q;", "gate a0(t) x { rx(t) x; }"]
    qasm_lines += [f"gate a{i}(t) x {{ a{i - 1}(t + t) x; }}" for i in range(1, 26)]
    qasm_lines.append("a25(w) q;")
    qasm("\n".join(qasm_lines), ResourceLimitError, 15, 20, "has more than 100000 terms and operations")
    assert time.perf_counter() - t0 < 5


# -- internal errors that are now located ----------------------------------------------------------
def test_integer_literals_over_4300_digits() -> None:
    q("qubit q;\nrx(" + "9" * 5000 + ") q;", SemanticError, 2, 4, "not a finite number (inf)")
    q("qubit q[" + "1" * 5000 + "];", SemanticError, 1, 9, "register size must be an integer, got inf")
    qasm("OPENQASM 3.0;\nqubit q;\nrx(" + "9" * 5000 + ") q;", ParseError, 3, 4, "integer literal of 5000 digits is too long")


def test_pow_and_angles_that_are_not_finite_in_openqasm() -> None:
    qasm(H3 + "qubit q;\npow(1e400) @ h q;", SemanticError, 4, 5, "'pow' exponent is not a finite number (inf)")
    qasm(H3 + "qubit q;\nconst float n = 0.0 / 0.0;\npow(n) @ h q;", SemanticError, 5, 1, "'pow' exponent is not a finite number (nan)")
    qasm(H3 + "qubit q;\nrx(1e400) q;", SemanticError, 4, 4, "angle of gate 'rx' is not a finite number (inf)")


def test_symbolic_division_by_constant_zero_is_an_error_where_written() -> None:
    q("qubit q;\nparam w;\nrx(w/0) q;", SemanticError, 3, 4, "division by zero")
    q("qubit q;\nparam w;\nrx(1 + w % (1 - 1)) q;", SemanticError, 3, 8, "remainder of a division by zero")
    q("qubit q;\nparam w;\ngate g(t) a { rx(t / 0) a; }\ng(w) q;", SemanticError, 3, 18, "division by zero")
    qasm(H3 + "input float t;\nqubit q;\nrx(t/0) q;", SemanticError, 5, 4, "division by zero")


# -- diagnostics -----------------------------------------------------------------------------------
def test_control_characters_in_quoted_lines_are_escaped_and_the_caret_stays_aligned() -> None:
    err = SemanticError("boom", Span("f.q", 1, 7, 8, "h \x1b[2Jq x;"))
    lines = err.render().split("\n")
    assert "\x1b" not in err.render()
    assert lines[1] == "    h \\x1b[2Jq x;"
    assert lines[2] == "    " + " " * len("h \\x1b[2J") + "^"
    err = SemanticError("boom", Span("f.q", 1, 3, None, "h \x1b q;"))
    assert err.render().split("\n")[1:] == ["    h \\x1b q;", "      ^~~~"]
    err = SemanticError("boom", Span("f.q", 1, 3, None, "h \u202eq;\r"))
    assert err.render().split("\n")[1:] == ["    h \\u202eq;\\r", "      ^~~~~~"]
    with pytest.raises(ParseError) as info:
        qcomp.parse("qubit q;\nh \x1b[31m q;", name="t.q")
    assert "\x1b" not in str(info.value)


def test_openqasm_versions_other_than_2_and_3_are_refused() -> None:
    qasm("OPENQASM 4.0;\nqubit q;", UnsupportedError, 1, 1, "OpenQASM version 4.0 is not supported")
    assert import_qasm("OPENQASM 2.0;\nqreg q[1];").num_qubits == 1


def test_openqasm_syntax_checks_of_openqasm3_are_located() -> None:
    qasm("OPENQASM 3.0;\nqubit q;\nfor int i in [0:1] { gate g a { } }", ParseError, 3, 22, "gate definitions must be global")
    qasm("OPENQASM 3.0;\nqubit q;\ngate g a { measure a; }", ParseError, 3, 12, "non-unitary 'measure'")
    qasm("", ParseError, 1, 1, "the file is empty")


def test_bodies_of_gates_never_called_are_checked() -> None:
    q("qubit q;\ngate g a { hh a; }", SemanticError, 2, 12, "unknown gate 'hh'")
    q("qubit q;\ngate g a { cx a; }", SemanticError, 2, 12, "gate 'cx' takes 2 qubits, got 1")
    q("qubit q;\ngate g a { rx(zz) a; }", SemanticError, 2, 15, "undeclared name 'zz'")
    q("qubit q;\ngate g a { h b; }", SemanticError, 2, 14, "undeclared qubit register 'b'")
    q("qubit q;\ngate g a { h q; }", SemanticError, 2, 14, "can only act on its qubit arguments (a)")
    q("qubit q;\ngate g a { for i in range(2) { rx(sin(i * j)) a; } }", SemanticError, 2, 43, "undeclared name 'j'")
    q("qubit q;\ngate g a { measure a; }", SemanticError, 2, 12, "'measure' is not allowed inside gate 'g'")
    # a body may still call a gate defined after it, and read a const declared later
    src = "qubit q;\ngate g a { later(c) a; }\ngate later(t) b { rx(t) b; }\nconst c = 1;\ng q;"
    assert len(qcomp.parse(src).circuit) == 1
    qasm(H3 + "qubit q;\ngate g a { hh a; }", SemanticError, 4, 12, "unknown gate 'hh'")
    qasm(H3 + "qubit q;\ngate g a { rx(zz) a; }", SemanticError, 4, 12, "undeclared name 'zz'")
    qasm(H3 + "qubit q;\ngate g a { cx a, b; }", SemanticError, 4, 12, "can only act on its qubit arguments")
