"""Constant arrays, len, sum(... for ...) and the output statements (var, probs, sample, hermitian):
lowering against the same program written out by hand, and a located error per misuse."""

from __future__ import annotations

import numpy as np
import pytest

import qcomp
from qcomp.errors import ParseError, ResourceLimitError, SemanticError
from qcomp.frontend import parse


def lower(src: str, **kw):
    return parse(src, name="m.q", **kw)


def same_program(a: str, b: str) -> None:
    pa, pb = lower(a), lower(b)
    assert [(o.name, o.qubits, [x.value() if x.is_constant else str(x) for x in o.angles]) for o in pa.circuit.ops()] == \
        [(o.name, o.qubits, [x.value() if x.is_constant else str(x) for x in o.angles]) for o in pb.circuit.ops()]
    assert [o.terms for o in pa.observables] == [o.terms for o in pb.observables]
    assert pa.declared == pb.declared


def test_edge_list_in_indices_ranges_conditions_coefficients_and_angles() -> None:
    same_program(
        "const edges = [[0, 1], [1, 2], [2, 0]];\nconst J = [[0, 0.5, 1], [0.5, 0, 2], [1, 2, 0]];\n"
        "const angles = [0.1, pi / 4];\nqubit q[3];\nparam g;\n"
        "for k in range(len(edges)) {\n  if (J[edges[k][0]][edges[k][1]] > 0.5) { rzz(angles[1] * g) q[edges[k][0]], q[edges[k][1]]; }\n"
        "  else { rzz(angles[0] * g) q[edges[k][0]], q[edges[k][1]]; }\n}\n"
        "expect sum(J[edges[k][0]][edges[k][1]] * z(q[edges[k][0]]) @ z(q[edges[k][1]]) for k in range(len(edges)));\n",
        "qubit q[3];\nparam g;\nrzz(0.1 * g) q[0], q[1];\nrzz(pi / 4 * g) q[1], q[2];\nrzz(pi / 4 * g) q[2], q[0];\n"
        "expect 0.5 * z(q[0]) @ z(q[1]) + 2 * z(q[1]) @ z(q[2]) + 1 * z(q[2]) @ z(q[0]);\n",
    )


def test_len_of_rows_registers_and_value_arrays() -> None:
    p = lower("const J = [[1, 2, 3], [4, 5, 6]];\nqubit q[5];\nparam w[4];\n"
              "const a = len(J) * 100 + len(J[1]) * 10 + len(q) + len(w) / 10;\nrx(a) q[0];\n")
    assert p.circuit.ops()[0].angles[0].value() == pytest.approx(235.4)


def test_sum_with_nested_loops_condition_and_as_a_number() -> None:
    same_program(
        "qubit q[4];\nconst total = sum(i * j for i in range(3) for j in range(i + 1, 4) if i + j != 3);\nrx(total) q[0];\n"
        "expect sum(z(q[i]) @ z(q[j]) for i in range(4) for j in range(i + 1, 4) if j - i == 1) + 0.5 * sum(x(q[k]) for k in range(0));\n",
        "qubit q[4];\nrx(0 + 0 + 3 + 6) q[0];\nexpect z(q[0]) @ z(q[1]) + z(q[1]) @ z(q[2]) + z(q[2]) @ z(q[3]);\n",
    )


def test_sum_is_one_output_and_expect_in_a_loop_stays_one_per_iteration() -> None:
    p = lower("qubit q[3];\nexpect sum(z(q[k]) for k in range(3));\nfor k in range(3) { expect z(q[k]); }\n")
    assert len(p.outputs) == 4 and len(p.observables[0].terms) == 3
    assert p.declared is None  # 'expect' only: the program is what it always was


def test_output_statements_make_declared_outputs_in_order() -> None:
    p = lower("const M = [[2, 1], [1, 0]];\nqubit q[3];\nh q;\nprobs q[2], q[0];\nexpect z(q[1]);\n"
              "var x(q[0]);\nsample(7) q;\nexpect hermitian(M) q[1];\n")
    kinds = [o.kind for o in p.outputs]
    assert kinds == ["probabilities", "expectation", "variance", "samples", "expectation"]
    assert p.outputs[0].qubits == (2, 0) and p.outputs[3].qubits == (0, 1, 2) and p.outputs[3].shots == 7
    assert [o.shape(3) for o in p.outputs] == [(4,), (), (), (7,), ()]
    # M = I + X + Z on q[1] ((2 + 0) / 2 = 1, (1 + 1) / 2 = 1, (2 - 0) / 2 = 1)
    assert {t.paulis: t.coeff for t in p.outputs[4].observable.terms} == {(): 1.0, ((1, "X"),): 1.0, ((1, "Z"),): 1.0}
    assert p.output_texts()[4] == "hermitian(M) q[1]" and not p.expectations_only
    assert lower(p.to_text()) == p  # the IR text parses back to an equal program


def test_sample_default_shots_and_outputs_inside_loops() -> None:
    p = lower("qubit q[2];\nsample q;\nfor k in range(2) { probs q[k]; }\n")
    assert p.outputs[0].shots == 1024 and [o.qubits for o in p.outputs[1:]] == [(0,), (1,)]


def test_keywords_stay_usable_as_names_elsewhere() -> None:
    p = lower("param var;\nconst probs = 2;\nconst hermitian = [1, 2];\nqubit sample;\nrx(var * probs * hermitian[1]) sample;\nexpect z(sample);\n")
    assert p.circuit.ops()[0].angles[0].subs({p.param_symbols()[0]: qcomp.ir.expr.Const(1.0)}).value() == 4.0


ERRORS = [
    # (source, error class, line, column, message fragment)
    ("const a = [1, 2];\nqubit q[2];\nrx(a[2]) q[0];\n", SemanticError, 3, 6, "index 2 out of range for constant array 'a' of length 2"),
    ("const ed = [[0, 1], [1, 2]];\nqubit q[3];\ncx q[ed[1][2]], q[0];\n", SemanticError, 3, 12, "out of range for constant array 'ed' of row length 2"),
    ("const e = [[0, 1], [1, 2, 3]];\nqubit q;\n", SemanticError, 1, 20, "ragged array: row 1 has 3 elements, row 0 has 2"),
    ("const e = [[0, 1], 2];\nqubit q;\n", SemanticError, 1, 20, "array mixes numbers and rows"),
    ("const e = [[[0]]];\nqubit q;\n", SemanticError, 1, 13, "at most two dimensions"),
    ("const e = [];\nqubit q;\n", SemanticError, 1, 11, "empty array"),
    ("const ed = [[0, 1]];\nqubit q;\nrx(ed) q;\n", SemanticError, 3, 4, "'ed' is a constant array; index it (ed[i][j]) or take len(ed)"),
    ("const ed = [[0, 1]];\nqubit q;\nrx(ed[0]) q;\n", SemanticError, 3, 4, "2-D constant array; index it twice"),
    ("const a = [0, 1];\nqubit q;\nrx(a[0][1]) q;\n", SemanticError, 3, 4, "1-D constant array; index it once"),
    ("qubit q;\nparam w[2];\nrx(w[0][1]) q;\n", SemanticError, 3, 4, "one-dimensional param; index it once"),
    ("qubit q;\nrx([1, 2]) q;\n", SemanticError, 2, 4, "array literal is only allowed"),
    ("qubit q;\nrx(len(3)) q;\n", SemanticError, 2, 8, "len(...) takes a constant array"),
    ("const a = [1, 2];\nparam w;\nconst b = [w, 1];\nqubit q;\n", SemanticError, 3, 12, "array element must be a compile-time constant"),
    ("qubit q[2];\nexpect sum(z(q[k]) for k in range(3));\n", SemanticError, 2, 16, "qubit index 2 out of range"),
    ("const n = 2;\nqubit q[2];\nexpect sum(z(q[n]) for n in range(2));\n", SemanticError, 3, 20, "sum variable 'n' shadows"),
    ("qubit q[2];\nexpect sum(z(q[k % 2]) for k in range(10) for j in range(10));\n", ResourceLimitError, 2, 8, "sum has more than 50 terms"),
    ("const M = [[1, 2], [3, 1]];\nqubit q;\nexpect hermitian(M) q;\n", SemanticError, 3, 18, "not Hermitian: M[0][1] = 2 but M[1][0] = 3"),
    ("const M = [[1, 0], [0, 1]];\nqubit q[2];\nexpect hermitian(M) q[0], q[1];\n", SemanticError, 3, 18, "on 2 qubits needs a 4 x 4 matrix, got 2 x 2"),
    ("const M = [[1, 0, 0], [0, 1, 0]];\nqubit q;\nvar hermitian(M) q;\n", SemanticError, 3, 15, "square matrix"),
    ("const v = [1, 0];\nqubit q;\nexpect hermitian(v) q;\n", SemanticError, 3, 18, "2-D (square) array"),
    ("qubit q;\nexpect hermitian(2) q;\n", SemanticError, 2, 18, "takes a 2-D constant array"),
    ("qubit q[2];\nprobs q[0], q;\n", SemanticError, 2, 13, "qubit q[0] appears twice in 'probs'"),
    ("qubit q[2];\nsample(0) q;\n", SemanticError, 2, 8, "sample count must be between 1 and"),
    ("qubit q[2];\nparam w;\nsample(w) q;\n", SemanticError, 3, 8, "sample count must be an integer compile-time expression"),
    ("qubit q[2];\nprobs r;\n", SemanticError, 2, 7, "undeclared qubit register 'r'"),
    ("qubit q[2];\ngate g a { h a; probs a; }\ng q[0];\n", SemanticError, 2, 17, "'probs' is not allowed inside gate 'g'"),
    ("qubit q[2];\ngate g a { var z(a); }\n", SemanticError, 2, 12, "'var' is not allowed inside gate 'g'"),
    ("qubit q;\nexpect 2 * hermitian([[1]]) q;\n", ParseError, 2, 29, "unexpected 'q'"),
    ("qubit q;\nprobs;\n", ParseError, 2, 6, "unexpected ';'"),
]


@pytest.mark.parametrize("src, cls, line, col, fragment", ERRORS)
def test_located_errors(src: str, cls: type, line: int, col: int, fragment: str) -> None:
    with pytest.raises(cls) as info:
        lower(src, max_ops=50)
    err = info.value
    assert fragment in err.message, err.render()
    assert (err.span.line, err.span.column) == (line, col), err.render()
    text = err.render().splitlines()
    assert text[0].startswith(f"m.q:{line}:{col}: error:") and text[2].strip().startswith("^")


def test_sum_in_a_gate_body_reads_its_parameters() -> None:
    p = lower("const c = [0.5, 0.25];\nqubit q;\ngate g(a) x { rx(sum(c[k] * a for k in range(len(c)))) x; }\nparam w;\ng(w) q;\n")
    assert p.circuit.ops()[0].angles[0].subs({p.param_symbols()[0]: qcomp.ir.expr.Const(2.0)}).value() == pytest.approx(1.5)


def test_hermitian_matches_numpy_on_two_qubits() -> None:
    # a real symmetric M on (q[1], q[0]): matrix index bit 0 is q[1], as Probabilities order their qubits
    rng = np.random.default_rng(3)
    a = rng.normal(size=(4, 4))
    m = a + a.T
    rows = ", ".join("[" + ", ".join(repr(float(v)) for v in r) + "]" for r in m)
    p = lower(f"const M = [{rows}];\nqubit q[2];\nry(0.3) q[0];\nrx(1.1) q[1];\ncx q[0], q[1];\nexpect hermitian(M) q[1], q[0];\n")
    sim = qcomp.compile(p.to_text(), optimize=0).simulator()
    psi = sim.state()
    # permute M (bit 0 = q[1]) into the state's order (bit 0 = q[0])
    perm = [((i & 1) << 1) | (i >> 1) for i in range(4)]
    mm = m[np.ix_(perm, perm)]
    assert sim.expval()[0] == pytest.approx(float(np.real(psi.conj() @ mm @ psi)), abs=1e-12)


from hypothesis import given, settings, strategies as st  # noqa: E402

_finite = st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: round(v, 6))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4).flatmap(lambda w: st.lists(st.lists(_finite, min_size=w, max_size=w), min_size=1, max_size=5)))
def test_sum_over_a_2d_array_is_numpy_sum(rows) -> None:
    text = "[" + ", ".join("[" + ", ".join(repr(v) for v in r) + "]" for r in rows) + "]"
    p = lower(f"const a = {text};\nqubit q;\nrx(sum(a[i][j] for i in range(len(a)) for j in range(len(a[i])) if a[i][j] != 0)) q;\n"
              f"expect sum(a[i][0] * z(q) for i in range(len(a)));\n")
    assert p.circuit.ops()[0].angles[0].value() == pytest.approx(float(np.sum(rows)), abs=1e-9)
    col = float(np.sum(np.array(rows)[:, 0]))
    terms = {t.paulis: t.coeff for t in p.observables[0].terms}
    assert terms.get(((0, "Z"),), 0.0) == pytest.approx(col, abs=1e-9)
