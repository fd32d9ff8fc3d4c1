"""qcomp.frontend.parse_expression: bare .q expressions (manifest formulas, gradient coefficients) to IR, with located errors."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

import qcomp
from qcomp.backends.qasm import emit_qasm
from qcomp.errors import ParseError, ResourceLimitError, SemanticError
from qcomp.frontend import parse_expression
from qcomp.hardware.manifest import compute_derived_inputs, qasm_input_values
from qcomp.ir.expr import Const
from qcomp.ir.ops import ValueDecl

ROOT = Path(__file__).resolve().parents[2]
X = [ValueDecl("input", "x", 2, 0)]
W = [ValueDecl("param", "w", 3, 0), ValueDecl("param", "t", 1, 3, scalar=True)]


def test_expression_over_params_and_inputs():
    e = parse_expression("arctan(x[1]) + t * sin(w[2]) - pi / 2", W + X)
    P, XV = np.array([[0.1, 0.2, 0.3, 2.0]]), np.array([[0.5, -0.7]])
    want = math.atan(-0.7) + 2.0 * math.sin(0.3) - math.pi / 2
    assert float(np.asarray(e.evaluate(P, XV)).reshape(-1)[0]) == pytest.approx(want)
    assert {s.name for s in e.symbols()} == {"x[1]", "t", "w[2]"}
    assert parse_expression("2 ** 3 + 1", []) == Const(9.0)


def test_same_ir_as_the_program_angle():
    text = "sin(x[0]) * x[1] ** 2 + exp(-x[0])"
    prog = qcomp.parse(f"qubit q; input x[2]; rx({text}) q;")
    assert parse_expression(text, X) == prog.circuit.ops()[0].angles[0]


@pytest.mark.parametrize("text, error, message, column", [
    ("sin(", ParseError, "unexpected end of input", 5),
    ("x[0] +* 2", ParseError, "unexpected '\\*'", 7),
    ("y + 1", SemanticError, "undeclared name 'y'", 1),
    ("x", SemanticError, "'x' is an array of 2; index it", 1),
    ("x[0] + x[2]", SemanticError, "index 2 out of range for input 'x' of size 2", 10),
    ("cosh(x[0])", SemanticError, "unknown function 'cosh'", 1),
    ("x[0] @ x[1]", SemanticError, "only allowed in 'expect'", 1),
    ("x[0] / 0", SemanticError, "division by zero", 1),
    ("x[0] * (1 / 0)", SemanticError, "formula contains a number that is not finite", 1),
    ("x[0]; rx(1) q", ParseError, "unexpected ';'", 5),
])
def test_errors_are_located_in_the_text(text, error, message, column):
    with pytest.raises(error, match=message) as info:
        parse_expression(text, X, name="<manifest> formula 0", what="formula")
    span = info.value.span
    assert span is not None and span.file == "<manifest> formula 0" and span.line == 1 and span.column == column
    assert span.source_line == text


def test_deep_nesting_is_a_resource_error():
    with pytest.raises(ResourceLimitError, match="nested"):
        parse_expression("sin(" * 80 + "x[0]" + ")" * 80, X)


def test_a_built_in_constant_cannot_be_a_declaration():
    with pytest.raises(SemanticError, match="'pi' cannot be declared"):
        parse_expression("pi", [ValueDecl("input", "pi", 1, 0, scalar=True)])


def test_derived_inputs_from_the_ir_equal_the_manifest_formulas():
    program = qcomp.parse("qubit q[2]; input x[3]; param w; ry(sin(x[0]) * w) q[0]; rx(arctan(x[1])) q[1];"
                          " rz(exp(-x[0] * x[2])) q[1]; cx q[0], q[1]; expect z(q[0]);")
    res = emit_qasm(program)
    assert [d["name"] for d in res.manifest["derived_inputs"]] == ["d_0", "d_1", "d_2"]
    x = np.array([[0.3, -0.7, 0.7], [1.0, 2.0, -0.5]])
    from_ir = res.derived_input_values(x)
    np.testing.assert_allclose(from_ir, compute_derived_inputs(res.manifest, x), rtol=1e-15)
    np.testing.assert_allclose(from_ir[0], [math.sin(0.3), math.atan(-0.7), math.exp(-0.21)])
    np.testing.assert_allclose(res.derived_input_values(x[1]), from_ir[1])
    np.testing.assert_allclose(compute_derived_inputs(res.manifest, {"x": x[1]}), from_ir[1])
    vals = qasm_input_values(res.manifest, [0.4], {"x[0]": 0.3, "x[1]": -0.7, "x[2]": 0.7})
    assert vals["d_1"] == pytest.approx(math.atan(-0.7)) and vals["p_w"] == 0.4


def test_the_emitter_does_not_import_the_front_end():
    tree = ast.parse((ROOT / "qcomp" / "backends" / "qasm.py").read_text(encoding="utf-8"))
    modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in modules if "frontend" in m], modules


def test_gradient_coefficients_parse_over_the_declarations():
    from qcomp.hardware import parse_coefficients

    manifest = {"declarations": [{"kind": "param", "name": "w", "size": 2, "scalar": False},
                                 {"kind": "input", "name": "x", "size": 1, "scalar": True}]}
    a, b = parse_coefficients(manifest, ["0.5 * cos(w[1] * x)", "-x"])
    P, XV = np.array([[0.0, 0.4], [0.0, 1.0]]), np.array([[2.0], [3.0]])
    np.testing.assert_allclose(a.evaluate(P, XV), 0.5 * np.cos([0.8, 3.0]))
    np.testing.assert_allclose(b.evaluate(P, XV), [-2.0, -3.0])
    with pytest.raises(SemanticError, match="undeclared name 'v'") as info:
        parse_coefficients(manifest, ["w[0]", "v * 2"])
    assert info.value.span.file == "<gradient manifest> coefficient 1"
