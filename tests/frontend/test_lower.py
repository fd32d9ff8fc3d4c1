"""Lowering: loops, range forms, if/else, user gates, inv @, broadcast vs hand-written op lists."""

from __future__ import annotations

import numpy as np
import pytest

import qcomp
from qcomp.backends import reference
from qcomp.ir import Const, Operation, Sym
from qcomp.ir.expr import to_text


def ops(src: str) -> list[tuple]:
    """(gate, qubits, angle texts) for each lowered operation, in circuit order."""
    p = qcomp.parse(src)
    p.circuit.verify()
    return [(o.name, o.qubits, tuple(to_text(a) for a in o.angles)) for o in p.circuit.ops()]


def test_loop_range_stop() -> None:
    assert ops("qubit q[3]; for i in range(3) { rx(i) q[i]; }") == [
        ("rx", (0,), ("0",)), ("rx", (1,), ("1",)), ("rx", (2,), ("2",))
    ]


def test_loop_range_start_stop_step_and_negative_step() -> None:
    assert ops("qubit q[8]; for i in range(2, 5) { x q[i]; }") == [("x", (i,), ()) for i in (2, 3, 4)]
    assert ops("qubit q[8]; for i in range(1, 8, 3) { x q[i]; }") == [("x", (i,), ()) for i in (1, 4, 7)]
    # same wire so the order is forced
    assert ops("qubit q; for i in range(6, 0, -2) { rz(i) q; }") == [("rz", (0,), (str(i),)) for i in (6, 4, 2)]
    assert ops("qubit q; for i in range(3, 3) { x q; } h q;") == [("h", (0,), ())]


def test_nested_loops_and_loop_variable_arithmetic() -> None:
    src = "qubit q[3]; for i in range(3) { for j in range(i + 1, 3) { cz q[i], q[j]; } }"
    assert ops(src) == [("cz", (0, 1), ()), ("cz", (0, 2), ()), ("cz", (1, 2), ())]
    src = "const n = 4; qubit q[n]; param w[n]; for i in range(n) { rzz(w[n - 1 - i]) q[i], q[(i + 1) % n]; }"
    assert ops(src) == [
        ("rzz", (0, 1), ("w[3]",)), ("rzz", (1, 2), ("w[2]",)), ("rzz", (2, 3), ("w[1]",)), ("rzz", (3, 0), ("w[0]",))
    ]


def test_if_else_chain() -> None:
    src = """
    qubit q[4];
    for i in range(4) {
        if (i == 0) { h q[i]; } else if (i < 3 && i != 1) { x q[i]; } else { z q[i]; }
    }
    if (!(1 > 2) || 0) { s q[0]; }
    if (2 >= 3) { t q[0]; }
    """
    assert ops(src) == [("h", (0,), ()), ("z", (1,), ()), ("x", (2,), ()), ("z", (3,), ()), ("s", (0,), ())]


def test_user_gate_nested_with_angles() -> None:
    src = """
    qubit q[3];
    param w[2];
    gate ent a, b { cx a, b; }
    gate rot(t) a { ry(t) a; rz(2 * t) a; }
    gate block(t, u) a, b { rot(t) a; rot(u + 1) b; ent a, b; }
    block(w[0], w[1]) q[2], q[0];
    """
    assert ops(src) == [
        ("ry", (2,), ("w[0]",)),
        ("rz", (2,), ("2 * w[0]",)),
        ("ry", (0,), ("w[1] + 1",)),
        ("rz", (0,), ("2 * (w[1] + 1)",)),
        ("cx", (2, 0), ()),
    ]


def test_user_gate_loop_and_if_in_body_and_globals() -> None:
    src = """
    const k = 2;
    qubit q[2];
    gate g(a) x0, x1 { for i in range(k) { if (i == 1) { cx x0, x1; } else { rx(a * i + pi) x0; } } }
    g(0.5) q[1], q[0];
    """
    p = qcomp.parse(src)
    assert [(o.name, o.qubits) for o in p.circuit.ops()] == [("rx", (1,)), ("cx", (1, 0))]
    assert p.circuit.ops()[0].angles == (Const(np.pi),)


def test_inv_library_gates() -> None:
    src = "qubit q[2]; param w; inv @ s q[0]; inv @ sx q[0]; inv @ rx(w) q[0]; inv @ cp(0.5) q[0], q[1]; inv @ h q[1];"
    assert ops(src) == [
        ("sdg", (0,), ()), ("sxdg", (0,), ()), ("rx", (0,), ("-w",)), ("cp", (0, 1), ("-0.5",)), ("h", (1,), ())
    ]
    assert ops("qubit q; inv @ u(0.1, 0.2, 0.3) q;") == [("u", (0,), ("-0.1", "-0.3", "-0.2"))]
    assert ops("qubit q[2]; inv @ iswap q[0], q[1];") == [("rxx", (0, 1), ("pi / 2",)), ("ryy", (0, 1), ("pi / 2",))]


def test_inv_user_gate_reverses_and_inverts() -> None:
    src = """
    qubit q[2];
    param w;
    gate g(a) x0, x1 { rx(a) x0; t x1; cx x0, x1; }
    inv @ g(w) q[0], q[1];
    """
    assert ops(src) == [("cx", (0, 1), ()), ("tdg", (1,), ()), ("rx", (0,), ("-w",))]


def test_inv_nested_user_gates() -> None:
    src = """
    qubit q[2];
    gate a x0 { s x0; h x0; }
    gate b x0, x1 { a x0; inv @ a x1; cz x0, x1; }
    inv @ b q[0], q[1];
    """
    # b = s0 h0 | h1 sdg1 | cz ; inv b = cz | s1 h1 | h0 sdg0
    assert ops(src) == [("cz", (0, 1), ()), ("s", (1,), ()), ("h", (1,), ()), ("h", (0,), ()), ("sdg", (0,), ())]


def test_double_inverse_is_identity() -> None:
    body = "qubit q[2]; param w; gate g(a) x0, x1 { rx(a) x0; s x1; cx x0, x1; }\n"
    assert ops(body + "inv @ inv @ g(w) q[0], q[1];") == ops(body + "g(w) q[0], q[1];")
    assert ops("qubit q; inv @ inv @ t q;") == [("t", (0,), ())]


def test_inv_user_gate_unitary_is_inverse() -> None:
    body = """
    qubit q[3];
    gate fm(a, b) x0, x1, x2 { h x0; ry(a) x1; cx x0, x1; crz(b) x1, x2; u(a, b, 0.3) x2; iswap x0, x2; sx x1; }
    """
    fwd = qcomp.parse(body + "fm(0.7, -1.3) q[0], q[1], q[2];")
    both = qcomp.parse(body + "fm(0.7, -1.3) q[0], q[1], q[2]; inv @ fm(0.7, -1.3) q[0], q[1], q[2];")
    u = reference.unitary(fwd.circuit)
    assert not np.allclose(u, np.eye(8))
    np.testing.assert_allclose(reference.unitary(both.circuit), np.eye(8), atol=1e-12)


def test_broadcast_register_single_and_zip() -> None:
    src = "qubit a[3]; qubit b[3]; qubit c; h a; cx a, b; cz c, b; rx(0.5) c;"
    assert ops(src) == [
        ("h", (0,), ()), ("h", (1,), ()), ("h", (2,), ()),
        ("cx", (0, 3), ()), ("cx", (1, 4), ()), ("cx", (2, 5), ()),
        ("cz", (6, 3), ()), ("cz", (6, 4), ()), ("cz", (6, 5), ()),
        ("rx", (6,), ("0.5",)),
    ]


def test_broadcast_with_inverse_user_gate() -> None:
    src = "qubit a[2]; qubit b[2]; gate g x0, x1 { s x0; cx x0, x1; } inv @ g a, b;"
    assert ops(src) == [("cx", (0, 2), ()), ("sdg", (0,), ()), ("cx", (1, 3), ()), ("sdg", (1,), ())]


def test_register_layout_declaration_order_and_flat_values() -> None:
    p = qcomp.parse("qubit data[2]; qubit readout; param a; param b[2]; input x[2]; input y; rx(b[1] + y) readout;")
    assert [(r.name, r.offset, r.size) for r in p.registers] == [("data", 0, 2), ("readout", 2, 1)]
    assert p.param_names() == ["a", "b[0]", "b[1]"] and p.input_names() == ["x[0]", "x[1]", "y"]
    (op,) = p.circuit.ops()
    assert op == Operation("rx", (2,), (Sym("param", 2, "b[1]") + Sym("input", 2, "y"),))


def test_observables_and_measure() -> None:
    p = qcomp.parse("qubit q[3]; expect 0.5 * z(q[0]) @ z(q[1]) - 2 * x(q[2]) + 1.0 + z(q[1]) @ z(q[0]); measure q[2], q;")
    (obs,) = p.observables
    assert [(t.coeff, t.paulis) for t in obs.terms] == [
        (1.5, ((0, "Z"), (1, "Z"))), (-2.0, ((2, "X"),)), (1.0, ())
    ]
    assert p.measured == (2, 0, 1)


def test_observable_matches_reference_expectation() -> None:
    p = qcomp.parse("qubit q[2]; h q[0]; cx q[0], q[1]; expect z(q[0]) @ z(q[1]); expect x(q[0]) @ x(q[1]) - 0.5 * z(q[1]);")
    np.testing.assert_allclose(reference.expvals(p), [[1.0, 1.0]], atol=1e-12)


def test_loop_variable_scoping() -> None:
    # the same loop variable name may be reused by sibling loops; it is not visible after the loop
    assert len(ops("qubit q[2]; for i in range(2) { h q[i]; } for i in range(2) { x q[i]; }")) == 4
    with pytest.raises(qcomp.QCompError, match="undeclared name 'i'"):
        qcomp.parse("qubit q[2]; for i in range(2) { h q[i]; } rx(i) q[0];")


def test_gate_param_shadows_builtin_constant() -> None:
    assert ops("qubit q; gate g(pi) a { rx(pi) a; } g(0.25) q;") == [("rx", (0,), ("0.25",))]


# -- the shipped examples compute what their header comments say -----------------------------
EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[2] / "examples"


def test_example_hea_vqe_energy_at_zero() -> None:
    p = qcomp.parse_file(EXAMPLES / "hea_vqe.q")
    assert p.num_qubits == 4 and p.num_params == 32 and p.circuit.count_ops() == {"cx": 9, "ry": 16, "rz": 16}
    # theta = 0 leaves |0000>: <Z Z> = 1 on three bonds, <X> = 0
    np.testing.assert_allclose(reference.expvals(p, np.zeros(32)), [[-3.0]], atol=1e-12)


def test_example_qaoa_matches_brute_force_cut() -> None:
    p = qcomp.parse_file(EXAMPLES / "qaoa_maxcut.q")
    assert p.param_names() == ["gamma[0]", "gamma[1]", "beta[0]", "beta[1]"]
    params = np.array([0.4, 0.9, 0.3, 0.2])
    state = reference.simulate(p, params)
    probs = reference.probabilities(state)[0]
    cut = [sum(((b >> i) & 1) != ((b >> ((i + 1) % 6)) & 1) for i in range(6)) for b in range(64)]
    np.testing.assert_allclose(reference.expvals(p, params)[0, 0], probs @ np.array(cut), atol=1e-10)
    np.testing.assert_allclose(reference.expvals(p, np.zeros(4)), [[3.0]], atol=1e-12)  # |+>^6: half the edges


def test_example_quantum_kernel_identity_when_inputs_equal() -> None:
    p = qcomp.parse_file(EXAMPLES / "quantum_kernel.q")
    x = np.array([[0.3, -1.2, 0.8, 0.3, -1.2, 0.8], [0.3, -1.2, 0.8, 1.0, 0.1, -0.4]])
    out = reference.expvals(p, None, x)
    np.testing.assert_allclose(out[0], [1.0, 1.0, 1.0], atol=1e-12)
    assert not np.allclose(out[1], 1.0)
    probs = reference.probabilities(reference.simulate(p, None, x))
    assert probs[0, 0] == pytest.approx(1.0) and 0 < probs[1, 0] < 1
    assert p.measured == (0, 1, 2)


def test_example_reuploading_classifier_depends_on_inputs() -> None:
    p = qcomp.parse_file(EXAMPLES / "reuploading_classifier.q")
    assert (p.num_inputs, p.num_params, p.num_outputs) == (2, 24, 2)
    w = np.random.default_rng(0).normal(size=24)
    out = reference.expvals(p, w, np.array([[0.1, 0.5], [-2.0, 1.5]]))
    assert out.shape == (2, 2) and np.all(np.abs(out) <= 1) and not np.allclose(out[0], out[1])
    text = p.to_text()
    assert "arctan(x[0])" in text and "sin(x[0])" in text and "cos(x[0] - x[1])" in text


def test_long_angle_sum_is_balanced_exact_and_compiles() -> None:
    """A 1200-term angle (a classical feature map written out; as a left-deep chain it overflowed
    Python's stack after lowering) becomes a tree of logarithmic depth with the same value, and
    every stage (optimisation, OpenQASM, simulation, gradients) handles it."""
    from qcomp.ir.expr import depth

    n = 1200
    signs = ["+" if i % 3 else "-" for i in range(n)]
    body = "".join(f" {s} {i % 7 + 1} * sin(x[{i}]) * w[{i % 4}]" for i, s in enumerate(signs))
    src = f"qubit q[2];\nparam w[4];\ninput x[{n}];\nrx(0.5{body}) q[0];\ncx q[0], q[1];\nexpect z(q[1]);\n"
    p = qcomp.parse(src)
    (angle,) = p.circuit.ops()[0].angles
    assert depth(angle) <= 40
    rng = np.random.default_rng(3)
    w, x = rng.uniform(-1, 1, 4), rng.uniform(-1, 1, n)
    want = 0.5 + sum((1 if s == "+" else -1) * (i % 7 + 1) * np.sin(x[i]) * w[i % 4] for i, s in enumerate(signs))
    assert angle.evaluate(w, x) == pytest.approx(want, rel=1e-12, abs=1e-12)
    model = qcomp.compile(src, optimize=2, cache=False)
    assert "OPENQASM 3.0" in model.qasm()
    sim = model.simulator()
    val = sim.expval(w, x[None, :])
    assert float(np.ravel(val)[0]) == pytest.approx(np.cos(want), abs=1e-9)
    grad = sim.gradient(w, x[None, :])
    eps = 1e-6
    fd = [(float(np.ravel(sim.expval(w + eps * e, x[None, :]))[0])
           - float(np.ravel(sim.expval(w - eps * e, x[None, :]))[0])) / (2 * eps) for e in np.eye(4)]
    assert np.ravel(grad) == pytest.approx(fd, abs=1e-6)
