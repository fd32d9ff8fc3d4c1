"""qcomp.from_qiskit: circuits with Parameters and ParameterExpressions, checked against Qiskit's Statevector."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

qiskit = pytest.importorskip("qiskit")
from hypothesis import given, settings, strategies as st  # noqa: E402
from qiskit import QuantumCircuit, QuantumRegister, ClassicalRegister  # noqa: E402
from qiskit.circuit import Parameter, ParameterVector  # noqa: E402
from qiskit.circuit.random import random_circuit  # noqa: E402
from qiskit.quantum_info import SparsePauliOp, Statevector  # noqa: E402

import qcomp  # noqa: E402
from qcomp.api import Model  # noqa: E402
from qcomp.backends.reference import simulate  # noqa: E402
from qcomp.bridges._symbolic import sympy_to_expr  # noqa: E402
from qcomp.errors import InputError, QCompError, UnsupportedError  # noqa: E402
from qcomp.ir.expr import Sym  # noqa: E402
from qcomp.ir.verify import verify_circuit  # noqa: E402


def _library():
    from qiskit.circuit.library import (
        efficient_su2, pauli_feature_map, qaoa_ansatz, real_amplitudes, n_local, zz_feature_map, QFTGate,
    )

    qft = QuantumCircuit(4)
    qft.append(QFTGate(4), range(4))
    cost = SparsePauliOp.from_list([("ZZII", 1.0), ("IZZI", -0.5), ("IIZZ", 0.7), ("ZIIZ", 0.3)])
    return {
        "RealAmplitudes": real_amplitudes(4, reps=2),
        "EfficientSU2": efficient_su2(4, reps=2),
        "ZZFeatureMap": zz_feature_map(4, reps=2),
        "PauliFeatureMap": pauli_feature_map(3, reps=2, paulis=["X", "ZY", "YZX"]),
        "TwoLocal": n_local(4, ["ry", "rz"], ["cz", "crx"], entanglement="full", reps=2),
        "QAOAAnsatz": qaoa_ansatz(cost, reps=2),
        "QFT": qft,
    }


def _aligned(state: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``state`` times the global phase that best aligns it with ``ref`` (qcomp drops global phase)."""
    overlap = np.vdot(state, ref)
    return state * (overlap / abs(overlap))


def _check_state(qc: QuantumCircuit, values: np.ndarray) -> None:
    program = qcomp.from_qiskit(qc)
    verify_circuit(program.circuit)
    assert program.num_params == qc.num_parameters
    ref = Statevector(qc.assign_parameters(values)).data
    ours = Model(program, 2).simulator().state(values if qc.num_parameters else None)
    np.testing.assert_allclose(_aligned(ours, ref), ref, atol=1e-10)
    # and the unoptimized program on the independent reference simulator
    ref_sim = simulate(program, values[None] if qc.num_parameters else None)[0]
    np.testing.assert_allclose(_aligned(ref_sim, ref), ref, atol=1e-10)


@pytest.mark.parametrize("name", sorted(_library()))
def test_library_circuits_match_statevector(name):
    qc = _library()[name]
    rng = np.random.default_rng(len(name))
    _check_state(qc, rng.uniform(-math.pi, math.pi, qc.num_parameters))


def _symbolic(qc: QuantumCircuit, rng: np.random.Generator) -> tuple[QuantumCircuit, np.ndarray]:
    """``qc`` with every numeric gate angle replaced by a parameter expression of equal value."""
    count = sum(len(i.operation.params) for i in qc.data)
    t = ParameterVector("t", count)
    a = Parameter("a")
    out = QuantumCircuit(*qc.qregs, *qc.cregs)
    values, k = [], 0
    for inst in qc.data:
        op = inst.operation
        if not op.params:
            out.append(op, inst.qubits, inst.clbits)
            continue
        op = op.to_mutable()
        new = []
        for v in op.params:
            # forms: t, t/2 + t/2, (t - a) + a * 1, sin-free polynomial, so the value stays v
            form = k % 3
            new.append(t[k] if form == 0 else (t[k] / 2 + t[k] / 2 if form == 1 else (t[k] - a) + a))
            values.append(float(v))
            k += 1
        op.params = new
        out.append(op, inst.qubits, inst.clbits)
    order = {p: i for i, p in enumerate(t)}
    vals = np.array([rng.uniform(-1, 1) if p is a or p == a else values[order[p]] for p in out.parameters])
    return out, vals


@pytest.mark.parametrize("seed", range(12))
def test_random_circuits_with_symbolic_angles(seed):
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        qc = random_circuit(4, 6, max_operands=3, seed=seed)
    sym, vals = _symbolic(qc, rng)
    assert sym.num_parameters >= 1
    _check_state(sym, vals)


def test_parameter_order_is_qiskits_sorted_order():
    b, a = Parameter("b"), Parameter("a")
    v = ParameterVector("v", 12)  # v[10] sorts after v[9] in Qiskit's order (not as text)
    qc = QuantumCircuit(2)
    qc.rx(b, 0)
    for i in reversed(range(12)):
        qc.ry(v[i] * (i + 1), i % 2)
    qc.rz(a, 1)
    program = qcomp.from_qiskit(qc)
    assert len(program.param_names()) == 14
    assert [d.name for d in program.params] == ["a", "b", "v"]
    assert program.param_names()[2:] == [f"v[{i}]" for i in range(12)]
    vals = np.random.default_rng(1).normal(size=14)
    _check_state(qc, vals)


def test_partial_parameter_vector_and_unicode_names():
    theta = ParameterVector("θ", 4)
    qc = QuantumCircuit(2)
    qc.rx(theta[1], 0)
    qc.ry(theta[3] ** 2, 1)
    qc.rzz(Parameter("γ") * 0.5, 0, 1)
    program = qcomp.from_qiskit(qc)
    # elements 1 and 3 only: scalar declarations with identifier names, order as circuit.parameters
    assert program.param_names() == ["gamma", "theta_1", "theta_3"]
    assert [str(p) for p in qc.parameters] == ["γ", "θ[1]", "θ[3]"]
    _check_state(qc, np.array([0.3, -0.7, 1.1]))


def test_expressions_convert_symbolically():
    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(1)
    qc.rx(a * b + 2 * a - b / 3 + math.pi, 0)
    qc.ry((a ** 2).sin() + b.cos() - a.exp() / (1 + b ** 2), 0)
    qc.rz(a.arctan() + b.abs() + (a * a + 1).log(), 0)
    qc.p(2 ** a, 0)
    program = qcomp.from_qiskit(qc)
    texts = [str(op) for op in program.circuit.ops()]
    assert any("sin(" in t for t in texts) and any("arctan(" in t for t in texts)
    for vals in ([0.3, -0.4], [1.2, 2.0], [-0.8, 0.1]):
        _check_state(qc, np.array(vals))


def test_gradient_matches_finite_differences():
    from qiskit.circuit.library import efficient_su2

    qc = efficient_su2(3, reps=2)
    x = Parameter("x")
    qc.rzz(x * qc.parameters[0] + x.sin(), 0, 2)
    obs = SparsePauliOp.from_list([("ZIZ", 0.7), ("IXI", -0.4), ("YYI", 0.25)])
    program = qcomp.from_qiskit(qc, obs)
    vals = np.random.default_rng(3).uniform(-1, 1, qc.num_parameters)
    grad = Model(program, 2).simulator().gradient(vals)[0]

    def f(v):
        return float(np.real(Statevector(qc.assign_parameters(v)).expectation_value(obs)))

    h = 1e-6
    fd = np.array([(f(vals + h * e) - f(vals - h * e)) / (2 * h) for e in np.eye(len(vals))])
    np.testing.assert_allclose(grad, fd, atol=1e-7)


def test_observables_little_endian_and_lists():
    qc = QuantumCircuit(3)
    qc.x(0)
    qc.h(2)
    program = qcomp.from_qiskit(qc, [SparsePauliOp("IIZ"), SparsePauliOp("ZII"), "XII", {"IZZ": 2.0, "III": 0.5}])
    np.testing.assert_allclose(Model(program, 0).simulator().expval(), [-1.0, 0.0, 1.0, -1.5], atol=1e-12)


def test_measurements_and_registers():
    q, r = QuantumRegister(2, "a"), QuantumRegister(1, "b")
    c = ClassicalRegister(3, "c")
    qc = QuantumCircuit(q, r, c)
    qc.reset(q[0])  # at the start: a no-op on |0>
    qc.h(q[0])
    qc.cx(q[0], r[0])
    qc.barrier()
    qc.measure(r[0], c[0])
    qc.measure(q[0], c[2])
    program = qcomp.from_qiskit(qc)
    assert [reg.name for reg in program.registers] == ["a", "b"]
    assert program.measured == (2, 0)
    assert program.specs()["gate_counts"] == {"h": 1, "cx": 1}


@pytest.mark.parametrize("build, dynamic", [
    (lambda qc: (qc.measure(0, 0), qc.x(0)), True),  # a gate after a measurement: mid-circuit
    (lambda qc: (qc.h(0), qc.reset(0)), True),  # a reset after a gate
    (lambda qc: (qc.reset(0), qc.h(0), qc.measure(0, 0)), False),  # a reset on |0> is dropped
    (lambda qc: qc.measure(0, 0) and None, False),  # a final measurement alone
])
def test_dynamic_circuits_map_onto_the_dynamic_ir(build, dynamic):
    qc = QuantumCircuit(2, 2)
    build(qc)
    program = qcomp.from_qiskit(qc)
    assert bool(program.bits) == dynamic
    assert any(op.name in ("measure", "reset") for op in program.circuit.ops()) == dynamic


def test_unsupported_control_flow_is_refused():
    qc = QuantumCircuit(2, 1)
    qc.h(0)
    qc.measure(0, 0)
    with qc.while_loop((qc.clbits[0], 1)):
        qc.x(1)
    with pytest.raises(UnsupportedError, match="control flow"):
        qcomp.from_qiskit(qc)


def test_bad_arguments():
    with pytest.raises(InputError, match="QuantumCircuit"):
        qcomp.from_qiskit("rx(0.1) q;")
    qc = QuantumCircuit(2)
    with pytest.raises(InputError, match="acts on 3 qubits"):
        qcomp.from_qiskit(qc, SparsePauliOp("ZZZ"))
    with pytest.raises(UnsupportedError, match="complex"):
        qcomp.from_qiskit(qc, SparsePauliOp("ZZ", 1j))
    with pytest.raises(InputError, match="observable must be"):
        qcomp.from_qiskit(qc, [3])
    a = Parameter("a")
    bad = QuantumCircuit(1)
    bad.rx(a * 1j, 0)
    with pytest.raises(UnsupportedError, match="complex"):
        qcomp.from_qiskit(bad)


def test_number_to_a_parameter_power():
    # Qiskit's sympify() returns NotImplemented for 2 ** a; the text fallback must not touch "arctan"
    a = Parameter("a")
    qc = QuantumCircuit(1)
    qc.rx(2 ** a + a.arctan(), 0)
    _check_state(qc, np.array([0.7]))


def test_import_qcomp_does_not_import_qiskit():
    code = "import sys, qcomp; assert 'qiskit' not in sys.modules, 'qiskit imported'; print(qcomp.from_qiskit.__doc__ is not None)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_exported_qasm_loads_back_into_qiskit():
    from qiskit.circuit.library import real_amplitudes

    qasm3 = pytest.importorskip("qiskit_qasm3_import")
    del qasm3
    qc = real_amplitudes(3, reps=1)
    program = qcomp.from_qiskit(qc, SparsePauliOp("ZZZ"))
    text = Model(program, 0).qasm()
    loaded = qiskit.qasm3.loads(text)
    assert loaded.num_parameters == qc.num_parameters


# -- sympy_to_expr: random expression trees, evaluated by Qiskit and by qcomp ------------------

_A, _B = Parameter("a"), Parameter("b")
_LEAVES = st.sampled_from(["a", "b", "c1", "c2"])


def _build(tree, a=_A, b=_B):
    """The tree as a Qiskit ParameterExpression, or (with float a, b) as the plain float oracle."""
    if isinstance(tree, str):
        return {"a": a, "b": b, "c1": 0.75, "c2": -1.5}[tree]
    op, *args = tree
    xs = [_build(t, a, b) for t in args]
    if op == "sin":
        return xs[0].sin() if hasattr(xs[0], "sin") else math.sin(xs[0])
    if op == "cos":
        return xs[0].cos() if hasattr(xs[0], "cos") else math.cos(xs[0])
    if op == "exp":
        return xs[0].exp() if hasattr(xs[0], "exp") else math.exp(xs[0])
    return {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y,
            "/": lambda x, y: x / (y * y + 1)}[op](*xs)


_TREES = st.recursive(
    _LEAVES,
    lambda kids: st.one_of(st.tuples(st.sampled_from(["+", "-", "*", "/"]), kids, kids),
                           st.tuples(st.sampled_from(["sin", "cos", "exp"]), kids)),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(_TREES, st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
def test_sympy_to_expr_matches_qiskit_binding(tree, va, vb):
    from qiskit.circuit import ParameterExpression

    e = _build(tree)
    if not isinstance(e, ParameterExpression) or not e.parameters:
        return
    syms = {"a": Sym("param", 0, "a"), "b": Sym("param", 1, "b")}
    ir = sympy_to_expr(e.sympify(), syms.__getitem__)
    # the oracle is the same tree evaluated in floats: Qiskit 2.6's own bind() is not one (it binds
    # cos(a) + cos(a) at a = 0 to 0.0)
    expected = float(_build(tree, va, vb))
    got = float(np.asarray(ir.evaluate(np.array([[va, vb]]), np.zeros((1, 0)))).ravel()[0])
    assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)


def test_sympy_to_expr_refuses_complex_and_unknown():
    import sympy

    x = sympy.Symbol("x")
    lookup = {"x": Sym("param", 0, "x")}.__getitem__
    with pytest.raises(UnsupportedError, match="complex"):
        sympy_to_expr(x + sympy.I, lookup)
    with pytest.raises(UnsupportedError, match="cannot convert"):
        sympy_to_expr(sympy.gamma(x), lookup)
    assert isinstance(UnsupportedError("m"), QCompError)
