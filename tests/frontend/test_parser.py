"""Parser golden tests: every construct's AST and lowered IR text vs tests/golden/frontend/.

Regenerate the golden files after an intended change with
``QCOMP_REGEN_GOLDEN=1 python -m pytest tests/frontend/test_parser.py`` and review the diff.
"""

from __future__ import annotations

import os
from dataclasses import fields, is_dataclass
from pathlib import Path

import numpy as np
import pytest

import qcomp
from qcomp.frontend import ast
from qcomp.frontend.parser import parse_source

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "frontend"
REGEN = os.environ.get("QCOMP_REGEN_GOLDEN") == "1"

# One small program per construct of the language (docs/language.md).
CASES: dict[str, str] = {
    "comments": "// line comment\nqubit q; /* block\n comment */ h q; // trailing\n",
    "const_decl": "const n = 2 * 3 - 1;\nconst half = n / 2;\nconst f = 1e-3;\nqubit q[n];\nrx(half * f) q[0];\n",
    "qubit_decl": "qubit a;\nqubit b[3];\nx a;\nx b[2];\n",
    "param_input_decl": "qubit q[2];\nparam w;\nparam v[2];\ninput x;\ninput y[3];\nrx(w + v[1]) q[0];\nry(x * y[2]) q[1];\n",
    "gate_library_1q": "qubit q;\nid q; x q; y q; z q; h q; s q; sdg q; t q; tdg q; sx q; sxdg q;\n"
    "rx(0.1) q; ry(0.2) q; rz(0.3) q; p(0.4) q; u(0.1, 0.2, 0.3) q;\n",
    "gate_library_2q": "qubit q[3];\ncx q[0], q[1]; cy q[0], q[1]; cz q[0], q[1]; ch q[0], q[1]; swap q[0], q[1];\n"
    "iswap q[0], q[1]; crx(0.1) q[0], q[1]; cry(0.2) q[0], q[1]; crz(0.3) q[0], q[1]; cp(0.4) q[0], q[1];\n"
    "rxx(0.5) q[0], q[1]; ryy(0.6) q[0], q[1]; rzz(0.7) q[0], q[1]; ccx q[0], q[1], q[2]; cswap q[0], q[1], q[2];\n",
    "aliases": "qubit q[3];\ncnot q[0], q[1];\nphase(pi / 2) q[0];\ntoffoli q[0], q[1], q[2];\n",
    "user_gate": "qubit q[2];\nparam w;\ngate bell q0, q1 { h q0; cx q0, q1; }\n"
    "gate layer(a, b) q0, q1 { ry(a) q0; ry(b) q1; bell q0, q1; }\nlayer(w, 2 * w) q[0], q[1];\n",
    "gate_no_params_parens": "qubit q[2];\ngate g() a, b { cz a, b; }\ng() q[0], q[1];\ng q[1], q[0];\n",
    "inv_modifier": "qubit q[2];\nparam w;\ngate g(a) q0, q1 { rx(a) q0; s q1; cx q0, q1; }\n"
    "inv @ g(w) q[0], q[1];\ninv @ t q[0];\ninv @ inv @ sx q[1];\ninv @ u(0.1, 0.2, 0.3) q[0];\n",
    "gate_modifiers": "qubit q[4];\nparam w;\ngate g(a) u, v { ry(a) u; cx u, v; gphase(a / 2); }\n"
    "ctrl @ x q[0], q[1];\nctrl(2) @ x q[0], q[1], q[2];\nctrl @ ry(w) q[0], q[1];\nnegctrl @ rx(w) q[1], q[0];\n"
    "ctrl @ negctrl @ rz(0.5) q[0], q[1], q[2];\npow(2) @ h q[0];\npow(0.5) @ rx(w) q[1];\n"
    "inv @ ctrl @ s q[0], q[1];\nctrl @ inv @ g(w) q[3], q[0], q[1];\nctrl(3) @ x q[0], q[1], q[2], q[3];\n",
    "gphase": "qubit q[2];\nparam w;\ngphase(w);\nctrl @ gphase(w) q[0];\nnegctrl(2) @ gphase(0.25) q[0], q[1];\n",
    "barrier": "qubit q[3];\nqubit r;\nh q;\nbarrier q[0], r;\nbarrier q;\nbarrier;\ncx q[0], r;\n",
    "for_loops": "qubit q[6];\nfor i in range(2) { h q[i]; }\nfor i in range(2, 4) { x q[i]; }\n"
    "for i in range(5, 0, -2) { z q[i]; }\nfor i in range(2) { for j in range(i + 1, 3) { cz q[i], q[j]; } }\n",
    "if_else": "const n = 3;\nqubit q[4];\nfor i in range(4) {\n  if (i == 0) { h q[i]; } else if (i % 2 == 1 && i != n) { x q[i]; } else { z q[i]; }\n}\n"
    "if (!(n < 2) || n >= 10) { s q[0]; }\nif (n <= 2) { t q[0]; }\n",
    "expressions": "qubit q;\nparam w[2];\ninput x;\n"
    "rx(-w[0] + 2 * w[1] - x / 3) q;\nrx(w[0] ** 2 ** 0.5) q;\nrx(-w[0] ** 2) q;\nrx((w[0] + 1) * (x - 1)) q;\n"
    "rx(w[0] % 2) q;\nrx(+x) q;\nrx(pi + tau + e) q;\nrx(1.5e2 * .5 * 3.) q;\n",
    "functions": "qubit q;\ninput x;\n"
    "rx(sin(x) + cos(x) + tan(x)) q;\nry(exp(x) + log(x) + sqrt(x)) q;\nrz(arcsin(x) + arccos(x) + arctan(x) + abs(x)) q;\n",
    "broadcast": "qubit a[3];\nqubit b[3];\nqubit c;\nh a;\ncx a, b;\ncz c, b;\nrx(0.5) b;\n",
    "expect": "qubit q[3];\nexpect z(q[0]);\nexpect 0.5 * z(q[0]) @ z(q[1]) - 2 * x(q[2]) + 1.0;\n"
    "expect y(q[1]) @ i(q[2]);\nexpect -(x(q[0]) + z(q[0])) / 2;\n",
    "measure": "qubit q[3];\nqubit r;\nh q;\nmeasure q[0];\nmeasure q, r;\n",
    "dynamic": "qubit q[3];\nqubit r[2];\nbit c[2];\nbit d;\nbit[1] f;\nparam w;\nh q[0];\nc[0] = measure q[0];\n"
    "reset q[0];\nif (c[0] == 1) { x q[1]; ry(w) q[2]; } else { h q[1]; }\nif (c[0]) { z q[0]; }\n"
    "if (!c[0]) { s q[0]; }\nd = measure q[2];\nc = measure r;\n"
    "for k in range(2) { if (c == k + 1 && d) { cx q[k], q[2]; } }\n"
    "if (c != 3) { y q[0]; } else { if (f[0] == 0) { t q[0]; } }\nreset q;\nexpect z(q[1]);\n",
    "namespaces": "qubit q[2];\ninput x[2];\nparam h;\nx q[0];\nh q[1];\nrx(x[0] + h) q[0];\n",
    "mnist_like": "const n = 2;\nqubit data[n];\nqubit readout;\ninput pixel[n];\nparam w[2 * n];\n"
    "for i in range(n) { rx(pi * pixel[i]) data[i]; }\nx readout;\nh readout;\n"
    "for i in range(n) { rxx(w[i]) data[i], readout; }\nfor i in range(n) { rzz(w[n + i]) data[i], readout; }\n"
    "h readout;\nexpect z(readout);\n",
    "arrays": "const edges = [[0, 1], [1, 2], [2, 0]];\nconst angles = [0.1, pi / 4];\nqubit q[3];\nparam g;\n"
    "for k in range(len(edges)) { if (edges[k][0] < edges[k][1]) { rzz(angles[k % 2] * g) q[edges[k][0]], q[edges[k][1]]; } }\n"
    "expect sum(0.5 * (1 - z(q[edges[k][0]]) @ z(q[edges[k][1]])) for k in range(len(edges)));\n"
    "expect sum(z(q[i]) @ z(q[j]) for i in range(3) for j in range(i + 1, 3) if j != 2);\n",
    "outputs": "const M = [[1, 0.5], [0.5, -1]];\nqubit q[3];\nh q;\nexpect z(q[0]);\nvar x(q[0]) + z(q[1]);\n"
    "probs q[0], q[2];\nprobs q;\nsample(10) q[1];\nsample q;\nexpect hermitian(M) q[1];\n"
    "var hermitian([[0, 1], [1, 0]]) q[2];\n",
}


def _pretty(node, indent: int = 0) -> str:
    """Indented AST text (spans are not part of it)."""
    pad = "  " * indent
    if isinstance(node, tuple):
        if not node:
            return pad + "()"
        return "\n".join(_pretty(n, indent) for n in node)
    if is_dataclass(node):
        simple, nested = [], []
        for f in fields(node):
            if f.name in ("span", "name_span", "source"):
                continue
            v = getattr(node, f.name)
            if f.name == "modifiers" and not v:  # only modified calls show it
                continue
            if isinstance(v, ast.Node) or (isinstance(v, tuple) and v and isinstance(v[0], ast.Node)):
                nested.append((f.name, v))
            else:
                simple.append(f"{f.name}={v!r}")
        out = [f"{pad}{type(node).__name__}({', '.join(simple)})"]
        for name, v in nested:
            out.append(f"{pad}  .{name}:")
            out.append(_pretty(v, indent + 2))
        return "\n".join(out)
    return pad + repr(node)


def _render(source: str) -> str:
    module = parse_source(source, "case.q")
    program = qcomp.parse(source, name="case.q")
    return "== source ==\n" + source + "== ast ==\n" + _pretty(module.statements) + "\n== ir ==\n" + program.to_text()


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    got = _render(CASES[name])
    path = GOLDEN / f"{name}.txt"
    if REGEN or not path.exists():
        if not REGEN:
            pytest.fail(f"missing golden file {path}; run with QCOMP_REGEN_GOLDEN=1 to create it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8"), f"{name}: output differs from {path} (QCOMP_REGEN_GOLDEN=1 to update)"


def test_no_stale_golden_files() -> None:
    names = {p.stem for p in GOLDEN.glob("*.txt")}
    assert names == set(CASES), f"golden files without a case or cases without a file: {names ^ set(CASES)}"


# -- AST shape checks that do not depend on golden files ------------------------------------
def _angle(src_expr: str) -> ast.Node:
    (stmt,) = [s for s in parse_source(f"rx({src_expr}) q;").statements]
    return stmt.args[0]


def test_precedence_mul_over_add() -> None:
    e = _angle("1 + 2 * 3")
    assert isinstance(e, ast.BinOp) and e.op == "+"
    assert isinstance(e.right, ast.BinOp) and e.right.op == "*"


def test_power_right_assoc_and_binds_tighter_than_unary_minus() -> None:
    e = _angle("-2 ** 3 ** 2")
    assert isinstance(e, ast.UnOp) and e.op == "-"
    p = e.operand
    assert p.op == "**" and isinstance(p.right, ast.BinOp) and p.right.op == "**"


def test_subtraction_left_assoc() -> None:
    e = _angle("1 - 2 - 3")
    assert e.op == "-" and isinstance(e.left, ast.BinOp) and e.left.op == "-"


def test_inv_count_and_spans() -> None:
    src = "qubit q;\n  inv @ inv @ inv @ rx(0.1) q;"
    (_, call) = parse_source(src, "f.q").statements
    assert call.inverses == 3 and call.name == "rx"
    assert (call.name_span.line, call.name_span.column) == (2, 21)
    assert call.span.file == "f.q" and call.span.source_line == "  inv @ inv @ inv @ rx(0.1) q;"


def test_numbers_int_flag() -> None:
    assert _angle("3").is_int and not _angle("3.0").is_int and not _angle("1e3").is_int
    assert _angle(".5").value == 0.5 and _angle("2.").value == 2.0 and _angle("1.5E-2").value == 0.015


def test_identifiers_case_sensitive() -> None:
    with pytest.raises(qcomp.QCompError, match="unknown gate 'H'"):
        qcomp.parse("qubit q; H q;")


def test_empty_block_and_include_ast() -> None:
    stmts = parse_source('include "a/b.q";\nfor i in range(3) { }\nif (1) { } else { }').statements
    assert stmts[0] == ast.Include("a/b.q")
    assert stmts[1].body == () and stmts[2].then == () and stmts[2].orelse == ()


# -- docs/language.md stays true ------------------------------------------------------------
DOC = Path(__file__).resolve().parents[2] / "docs" / "language.md"


def _blocks() -> list[str]:
    parts = DOC.read_text(encoding="utf-8").split("```")
    return [parts[i].split("\n", 1)[1] for i in range(1, len(parts), 2)]


def test_doc_first_example_is_the_mnist_example() -> None:
    mnist = (DOC.parents[1] / "examples" / "mnist_qnn.q").read_text(encoding="utf-8")
    assert _blocks()[0] == mnist


def test_doc_cli_outputs_are_current(tmp_path: Path) -> None:
    src = "qubit q[3]; param w; h q; cx q[0], q[1]; rzz(w) q[1], q[2];\nexpect z(q[0]) @ z(q[2]);"
    p = qcomp.parse(src, name="model.q")
    blocks = _blocks()
    assert p.to_text() in blocks and p.draw() in blocks
    bad = qcomp.parse  # the rendered error example
    with pytest.raises(qcomp.QCompError) as info:
        bad("qubit q[2];\nparam w;\ncnt q[0], q[1];", name="bad.q")
    assert any(b.startswith("$ qcomp check bad.q\n" + info.value.render() + "\n$ echo $?\n1") for b in blocks)


def test_doc_claims() -> None:
    # inv @ of a user gate, as in the inverses section
    src = "qubit q[2]; input x1[1]; input x2[1];\ngate fm(a) x0, x1 { h x0; rx(a) x1; cx x0, x1; s x1; }\n"
    p = qcomp.parse(src + "inv @ fm(x1[0]) q[0], q[1];")
    assert [str(o) for o in p.circuit.ops()] == ["sdg q1", "cx q0, q1", "rx(-x1[0]) q1", "h q0"]
    # coefficients with consts and parentheses distribute
    p = qcomp.parse("const J = 2; qubit q[3]; expect -J * (z(q[0]) @ z(q[1]) + z(q[1]) @ z(q[2])) / 2;")
    assert [(t.coeff, t.paulis) for t in p.observables[0].terms] == [(-1.0, ((0, "Z"), (1, "Z"))), (-1.0, ((1, "Z"), (2, "Z")))]
    p = qcomp.parse("qubit q[2]; expect z(q[0]) @ z(q[1]) + z(q[1]) @ z(q[0]);")
    assert p.observables[0].text == "2 * z(q[0]) @ z(q[1])"
    # a gate body may call a gate defined later, if it exists at the time of the call
    assert len(qcomp.parse("qubit q; gate a x0 { b x0; } gate b x0 { h x0; } a q;").circuit) == 1
    # '%' is floor modulo, '/' real division, constants fold
    p = qcomp.parse("qubit q; rx(-7 % 3) q; rx(7 / 2) q; rx(2 * pi / 4) q;")
    assert [o.angles[0].value() for o in p.circuit.ops()] == [2.0, 3.5, pytest.approx(np.pi / 2)]
    # comparisons do not chain
    with pytest.raises(qcomp.errors.ParseError):
        qcomp.parse("qubit q; if (1 < 2 < 3) { h q; }")
    # the diagonal gates listed in the docs
    from qcomp.ir.gates import GATES

    # (the library's own gates: derived gates that modifiers register on use have ``base`` set)
    assert {n for n, g in GATES.items() if g.diagonal and g.base is None} == set("id z s sdg t tdg rz p cz crz cp rzz".split())
