"""qcomp.from_cirq: Cirq circuits with sympy symbols as qcomp IR, checked against cirq.Simulator and cirq.unitary."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

cirq = pytest.importorskip("cirq")
sympy = pytest.importorskip("sympy")
from hypothesis import given, settings, strategies as st  # noqa: E402

import qcomp  # noqa: E402
from qcomp.backends import reference  # noqa: E402
from qcomp.backends.simulator import Simulator  # noqa: E402
from qcomp.bridges.cirq_import import _Lowerer  # noqa: E402
from qcomp.errors import InputError, UnsupportedError  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
a, b = sympy.Symbol("a"), sympy.Symbol("b")
VALUES = {"a": 0.37, "b": -1.21}


def _reverse_bits(n: int) -> np.ndarray:
    """cirq index (first qubit most significant) <-> qcomp index (bit k = qubit k)."""
    return np.array([int(format(i, f"0{n}b")[::-1], 2) for i in range(2**n)])


def _qcomp_unitary(program, params) -> np.ndarray:
    u = np.asarray(reference.unitary(program.circuit, params))
    u = u[0] if u.ndim == 3 else u
    r = _reverse_bits(program.num_qubits)
    return u[np.ix_(r, r)]


def _equal_up_to_phase(u: np.ndarray, v: np.ndarray, atol: float) -> None:
    k = np.unravel_index(np.argmax(np.abs(v)), v.shape)
    np.testing.assert_allclose(u * (v[k] / u[k]), v, atol=atol)


ONE_QUBIT = [cirq.X**a, cirq.Y**a, cirq.Z**a, cirq.H**a, cirq.XPowGate(exponent=a, global_shift=0.3),
             cirq.YPowGate(exponent=0.7, global_shift=-0.2), cirq.ZPowGate(exponent=a, global_shift=0.1),
             cirq.HPowGate(exponent=1.0, global_shift=0.25),
             cirq.rx(a), cirq.ry(2 * a + b), cirq.rz(sympy.sin(a) / b),
             cirq.PhasedXPowGate(phase_exponent=b, exponent=a),
             cirq.PhasedXPowGate(phase_exponent=0.3, exponent=a, global_shift=0.2),
             cirq.X, cirq.Y, cirq.Z, cirq.S, cirq.T**-1, cirq.H, cirq.X**3, cirq.I]
TWO_QUBIT = [cirq.CZ**a, cirq.CNOT**a, cirq.XX**a, cirq.YY**a, cirq.ZZ**a, cirq.SWAP**a, cirq.ISWAP**a,
             cirq.FSimGate(a, b), cirq.CZ, cirq.CNOT, cirq.SWAP, cirq.ISWAP, cirq.ISWAP**-1, cirq.SWAP**0.5,
             cirq.ZZPowGate(exponent=a, global_shift=-0.5), cirq.XXPowGate(exponent=0.3, global_shift=0.4),
             cirq.CZPowGate(exponent=a, global_shift=0.3), cirq.SwapPowGate(exponent=a, global_shift=0.2),
             cirq.ISwapPowGate(exponent=a, global_shift=-0.1), cirq.CXPowGate(exponent=a, global_shift=0.6),
             cirq.MatrixGate(cirq.unitary(cirq.FSimGate(0.3, 0.2))), cirq.givens(0.4),
             cirq.PhasedISwapPowGate(exponent=a, phase_exponent=0.2)]
THREE_QUBIT = [cirq.CCX, cirq.CCZ, cirq.CSWAP, cirq.CCX**0.5, cirq.X.controlled(2),
               cirq.ControlledGate(cirq.ISWAP), cirq.ControlledGate(cirq.XX**0.3),
               # symbolic, through cirq's own decompositions
               cirq.ControlledGate(cirq.X**a, num_controls=2), cirq.CCZ**a]
DECOMPOSED = [cirq.DiagonalGate([a, 0.3]), cirq.PhasedXZGate(x_exponent=a, z_exponent=0.1, axis_phase_exponent=b)]


def _check_gate(op) -> None:
    qubits = cirq.LineQubit.range(3)
    circuit = cirq.Circuit(op)
    program = qcomp.from_cirq(circuit, qubits=qubits)
    names = sorted(cirq.parameter_names(circuit))
    assert program.param_names() == names
    resolved = cirq.resolve_parameters(circuit, VALUES)
    want = resolved.unitary(qubit_order=qubits)
    got = _qcomp_unitary(program, np.array([VALUES[n] for n in names]) if names else None)
    _equal_up_to_phase(got, want, 1e-10)


@pytest.mark.parametrize("gate", ONE_QUBIT, ids=str)
def test_one_qubit_gates_and_their_controlled_versions_are_exact(gate):
    q = cirq.LineQubit.range(3)
    _check_gate(gate.on(q[1]))
    # controlled: the global phase of the sub-gate becomes a relative phase, so it must be exact
    _check_gate(cirq.ControlledGate(gate).on(q[2], q[0]))
    _check_gate(cirq.ControlledGate(gate, control_values=[0]).on(q[0], q[1]))


@pytest.mark.parametrize("gate", TWO_QUBIT + THREE_QUBIT + DECOMPOSED, ids=str)
def test_multi_qubit_gates(gate):
    q = cirq.LineQubit.range(3)
    _check_gate(gate.on(*[q[2], q[0], q[1]][: cirq.num_qubits(gate)]))


@pytest.mark.parametrize("gate", [g for g in ONE_QUBIT + TWO_QUBIT  # not those lowered through cirq's decomposition
                                  if not isinstance(g, (cirq.MatrixGate, cirq.PhasedISwapPowGate))], ids=str)
def test_lowering_states_the_global_phase_exactly(gate):
    """gates times exp(i phase) equals cirq's matrix exactly, global phase included."""
    ops, phase = _Lowerer(lambda n: qcomp.ir.expr.Sym("param", sorted(VALUES).index(n), n)).exact(gate, "test")
    p = np.array([VALUES[k] for k in sorted(VALUES)])
    k = cirq.num_qubits(gate)
    from qcomp.ir.ops import Operation
    from qcomp.ir.unitary import ops_unitary

    u = np.asarray(ops_unitary([Operation(n, q, tuple(an)) for n, q, an in ops], k, p, None))
    u = u[0] if u.ndim == 3 else u
    r = _reverse_bits(k)
    u = u[np.ix_(r, r)] * np.exp(1j * float(phase.evaluate(p, np.zeros(0))))
    want = cirq.unitary(cirq.resolve_parameters(gate, VALUES))
    np.testing.assert_allclose(u, want, atol=1e-12)


def _symbolic_random_circuit(seed: int, n: int = 4, moments: int = 8):
    gates = {cirq.X: 1, cirq.Y: 1, cirq.Z: 1, cirq.H: 1, cirq.T: 1, cirq.CZ: 2, cirq.CNOT: 2, cirq.SWAP: 2,
             cirq.ISWAP: 2, cirq.XX: 2, cirq.YY: 2, cirq.ZZ: 2}
    base = cirq.testing.random_circuit(cirq.LineQubit.range(n), moments, 0.8, gate_domain=gates, random_state=seed)
    rng = np.random.default_rng(seed)
    count = [0]

    def symbolize(op, _):
        count[0] += 1
        # sympy expressions of shared symbols in the exponents: s0..s4, some ops constant
        k = rng.integers(0, 6)
        if k == 5:
            return op
        s = sympy.Symbol(f"s{k}")
        return op ** (s if count[0] % 2 else 0.5 * s - 0.25)

    circuit = cirq.map_operations(base, symbolize)
    q = cirq.LineQubit.range(n)
    circuit.append([cirq.PhasedXPowGate(phase_exponent=sympy.Symbol("s1"), exponent=sympy.Symbol("s2")).on(q[0]),
                    cirq.FSimGate(sympy.Symbol("s3"), 0.4).on(q[1], q[2]),
                    cirq.ControlledGate(cirq.ry(sympy.Symbol("s4"))).on(q[3], q[1])])
    return circuit, q


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 10**6))
def test_random_symbolic_circuits_match_cirq_simulator(seed):
    circuit, q = _symbolic_random_circuit(seed)
    rng = np.random.default_rng(seed)
    obs = [cirq.Z(q[0]) * cirq.X(q[2]), 0.5 * cirq.Y(q[1]) - 1.5 * cirq.Z(q[3]) + 0.25 * cirq.X(q[0]) * cirq.X(q[1])]
    program = qcomp.from_cirq(circuit, obs)
    names = sorted(cirq.parameter_names(circuit))
    assert program.param_names() == names
    values = rng.uniform(-2, 2, len(names))
    resolver = cirq.ParamResolver(dict(zip(names, values)))
    sim = Simulator(program)
    # final state: cirq's is big-endian
    want = cirq.Simulator(dtype=np.complex128).simulate(circuit, resolver, qubit_order=q).final_state_vector
    got = np.asarray(sim.state(values))[_reverse_bits(len(q))]
    _equal_up_to_phase(got, want, 1e-8)
    ev = cirq.Simulator(dtype=np.complex128).simulate_expectation_values(circuit, obs, resolver, qubit_order=q)
    np.testing.assert_allclose(sim.expval(values), np.real(ev), atol=1e-8)


def test_pauli_string_phasor():
    q = cirq.LineQubit.range(3)
    _check_gate(cirq.PauliStringPhasor(cirq.X(q[0]) * cirq.Y(q[2]), exponent_neg=a, exponent_pos=b))


def test_gradients_match_finite_differences_of_cirq():
    circuit, q = _symbolic_random_circuit(5)
    obs = [0.5 * cirq.Y(q[1]) - 1.5 * cirq.Z(q[3]) + cirq.X(q[0]) * cirq.Z(q[2])]
    program = qcomp.from_cirq(circuit, obs)
    names = program.param_names()
    values = np.random.default_rng(1).uniform(-2, 2, len(names))

    def cirq_value(v):
        r = cirq.ParamResolver(dict(zip(names, v)))
        return float(np.real(cirq.Simulator(dtype=np.complex128).simulate_expectation_values(circuit, obs, r)[0]))

    grad = np.asarray(Simulator(program).gradient(values))[0]
    h = 1e-6
    fd = np.array([(cirq_value(values + h * e) - cirq_value(values - h * e)) / (2 * h) for e in np.eye(len(values))])
    np.testing.assert_allclose(grad, fd, atol=1e-6)


# -- the seed tutorial (TFQ MNIST): CircuitLayerBuilder on a 4x4 GridQubit register plus a readout


class CircuitLayerBuilder:
    def __init__(self, data_qubits, readout):
        self.data_qubits = data_qubits
        self.readout = readout

    def add_layer(self, circuit, gate, prefix):
        for i, qubit in enumerate(self.data_qubits):
            symbol = sympy.Symbol(prefix + "-" + str(i))
            circuit.append(gate(qubit, self.readout) ** symbol)


def create_quantum_model():
    data_qubits = cirq.GridQubit.rect(4, 4)
    readout = cirq.GridQubit(-1, -1)
    circuit = cirq.Circuit()
    circuit.append(cirq.X(readout))
    circuit.append(cirq.H(readout))
    builder = CircuitLayerBuilder(data_qubits=data_qubits, readout=readout)
    builder.add_layer(circuit, cirq.XX, "xx1")
    builder.add_layer(circuit, cirq.ZZ, "zz1")
    circuit.append(cirq.H(readout))
    return circuit, cirq.Z(readout)


def convert_to_circuit(image):
    values = np.ndarray.flatten(image)
    qubits = cirq.GridQubit.rect(4, 4)
    circuit = cirq.Circuit()
    for i, value in enumerate(values):
        if value:
            circuit.append(cirq.X(qubits[i]))
    return circuit


def _tfq_weights_to_mnist_qnn(names, weights):
    """TFQ's weight for symbol xx1-i / zz1-i is an exponent t: XX**t = rxx(pi t) up to a phase;
    mnist_qnn.q's w[i] (xx) and w[16 + i] (zz) are the rxx/rzz angles."""
    w = np.zeros(32)
    for name, t in zip(names, weights):
        layer, i = name.split("-")
        w[(0 if layer == "xx1" else 16) + int(i)] = math.pi * t
    return w


def test_tfq_mnist_model_matches_mnist_qnn_q_and_cirq():
    model_circuit, readout = create_quantum_model()
    program = qcomp.from_cirq(model_circuit, readout, name="tfq mnist")
    assert program.num_qubits == 17 and program.num_params == 32 and program.num_outputs == 1
    names = sorted(cirq.parameter_names(model_circuit))  # the order of tfq.layers.PQC's weights
    assert program.param_names() == [n.replace("-", "_") for n in names]
    rng = np.random.default_rng(0)
    images = (rng.uniform(size=(6, 4, 4)) > 0.5).astype(np.float32)
    qnn = qcomp.compile(EXAMPLES / "mnist_qnn.q", optimize=0)
    qnn_sim = qnn.simulator()
    for trial in range(3):
        weights = rng.uniform(-1, 1, 32)
        w = _tfq_weights_to_mnist_qnn(names, weights)
        resolver = cirq.ParamResolver(dict(zip(names, weights)))
        for image in images:
            full = convert_to_circuit(image) + model_circuit
            got = Simulator(qcomp.from_cirq(full, readout)).expval(weights)[0]
            want = cirq.Simulator(dtype=np.complex128).simulate_expectation_values(full, [readout], resolver)[0]
            assert abs(got - np.real(want)) < 1e-8
            assert abs(got - qnn_sim.expval(w, image.reshape(-1))[0]) < 1e-8


def test_tfq_encoding_through_input_symbols_is_one_batched_program():
    """Data fed through symbols (X**x_i per pixel) become qcomp inputs: one program for every image."""
    model_circuit, readout = create_quantum_model()
    data_qubits = cirq.GridQubit.rect(4, 4)
    encoding = cirq.Circuit(cirq.X(q) ** sympy.Symbol(f"x{i:02d}") for i, q in enumerate(data_qubits))
    program = qcomp.from_cirq(encoding + model_circuit, readout, inputs=lambda name: name.startswith("x") and
                              not name.startswith("xx"))
    assert program.num_inputs == 16 and program.num_params == 32
    assert program.input_names() == [f"x{i:02d}" for i in range(16)]
    names = sorted(cirq.parameter_names(model_circuit))
    rng = np.random.default_rng(3)
    weights = rng.uniform(-1, 1, 32)
    images = (rng.uniform(size=(5, 16)) > 0.5).astype(float)
    got = Simulator(program).expval(weights, images)[:, 0]
    qnn = qcomp.compile(EXAMPLES / "mnist_qnn.q", optimize=0).simulator()
    want = qnn.expval(_tfq_weights_to_mnist_qnn(names, weights), images)[:, 0]
    np.testing.assert_allclose(got, want, atol=1e-8)
    # the same with inputs given by name
    same = qcomp.from_cirq(encoding + model_circuit, readout, inputs=[f"x{i:02d}" for i in range(16)])
    assert same.input_names() == program.input_names()


def test_qubit_order_names_and_measurements():
    q = cirq.GridQubit.rect(1, 3)
    circuit = cirq.Circuit(cirq.H(q[2]), cirq.CNOT(q[2], q[0]) ** sympy.Symbol("if"),
                           cirq.rx(sympy.Symbol("2theta")).on(q[1]), cirq.measure(q[0], q[2], key="m"))
    program = qcomp.from_cirq(circuit, [cirq.Z(q[0])])
    assert program.param_names() == ["_2theta", "if_"]  # sorted by symbol name, made .q identifiers
    assert program.measured == (0, 2)
    again = qcomp.parse(program.to_text())  # the names print back as .q
    assert again.param_names() == program.param_names()
    with pytest.raises(UnsupportedError, match="measured"):
        qcomp.from_cirq(circuit + cirq.Circuit(cirq.X(q[0])))


def test_errors_are_qcomp_errors():
    q = cirq.LineQubit.range(3)
    with pytest.raises(InputError, match="cirq.Circuit"):
        qcomp.from_cirq([cirq.X(q[0])])
    with pytest.raises(UnsupportedError, match="not unitary"):
        qcomp.from_cirq(cirq.Circuit(cirq.depolarize(0.1).on(q[0])))
    with pytest.raises(UnsupportedError, match="MatrixGate on 3 qubits"):
        qcomp.from_cirq(cirq.Circuit(cirq.MatrixGate(np.eye(8)).on(*q)))

    class Opaque(cirq.Gate):  # symbolic, with neither a decomposition nor a matrix
        def _num_qubits_(self):
            return 1

        def _is_parameterized_(self):
            return True

    with pytest.raises(UnsupportedError, match="no qcomp lowering"):
        qcomp.from_cirq(cirq.Circuit(Opaque().on(q[0])))
    with pytest.raises(InputError, match="not symbols"):
        qcomp.from_cirq(cirq.Circuit(cirq.X(q[0]) ** a), inputs=["z"])
    with pytest.raises(UnsupportedError, match="complex coefficient"):
        qcomp.from_cirq(cirq.Circuit(cirq.X(q[0])), [1j * cirq.Z(q[0])])
    with pytest.raises(InputError, match="PauliString"):
        qcomp.from_cirq(cirq.Circuit(cirq.X(q[0])), ["z"])
    with pytest.raises(UnsupportedError, match="cannot convert"):
        qcomp.from_cirq(cirq.Circuit(cirq.X(q[0]) ** sympy.besselj(0, a)))


def test_importing_qcomp_does_not_import_cirq_or_pennylane():
    code = "import sys, qcomp; print('cirq' in sys.modules, 'pennylane' in sys.modules, 'sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]


def test_imported_program_exports_to_openqasm_that_qiskit_runs():
    """Constant matrices are synthesized into library gates, so imported programs export."""
    pytest.importorskip("qiskit_qasm3_import")
    import qiskit.qasm3
    from qiskit.quantum_info import SparsePauliOp, Statevector

    from qcomp.hardware.manifest import manifest_pauli_list

    q = cirq.LineQubit.range(3)
    circuit = cirq.Circuit(cirq.H(q[0]), cirq.CNOT(q[0], q[1]) ** a, cirq.FSimGate(a, 0.3).on(q[1], q[2]),
                           cirq.MatrixGate(cirq.unitary(cirq.SWAP**0.3)).on(q[2], q[0]),
                           cirq.MatrixGate(cirq.unitary(cirq.PhasedXPowGate(phase_exponent=0.2, exponent=0.7))).on(q[1]),
                           cirq.ControlledGate(cirq.ISWAP).on(*q), cirq.ry(b).on(q[2]))
    obs = [cirq.Z(q[0]) * cirq.X(q[2]) + 0.5 * cirq.Y(q[1])]
    program = qcomp.from_cirq(circuit, obs)
    assert "unitary" not in program.circuit.count_ops()
    values = np.array([0.37, -1.21])
    model = qcomp.Model(program)
    res = model.qasm_result(3, bind_params=values)
    ev = Statevector(qiskit.qasm3.loads(res.text)).expectation_value(
        SparsePauliOp.from_list(manifest_pauli_list(res.manifest, 0))).real
    want = cirq.Simulator(dtype=np.complex128).simulate_expectation_values(
        circuit, obs, cirq.ParamResolver({"a": 0.37, "b": -1.21}))[0]
    assert ev == pytest.approx(np.real(want), abs=1e-9)
    assert model.simulator().expval(values)[0] == pytest.approx(np.real(want), abs=1e-9)


# -- sympy_to_expr (shared with the Qiskit importer) -------------------------------------------

def _sympy_exprs():
    x, y = sympy.Symbol("x", real=True), sympy.Symbol("y", real=True)  # real: sympy's d|x|/dx is sign(x)
    leaves = st.sampled_from([x, y, sympy.pi, sympy.Integer(2), sympy.Rational(-3, 4), sympy.Float(0.3), sympy.E])

    def extend(children):
        return st.one_of(
            st.tuples(children, children).map(lambda t: t[0] + t[1]),
            st.tuples(children, children).map(lambda t: t[0] - t[1]),
            st.tuples(children, children).map(lambda t: t[0] * t[1]),
            st.tuples(children, children).map(lambda t: t[0] / (2 + t[1] ** 2)),  # a denominator > 0
            st.tuples(children, st.integers(-3, 3)).map(lambda t: (1 + t[0] ** 2) ** t[1]),
            children.map(lambda c: sympy.sqrt(1 + c**2)),
            children.map(sympy.sin), children.map(sympy.cos), children.map(sympy.atan),
            children.map(lambda c: sympy.exp(sympy.sin(c))), children.map(lambda c: sympy.log(2 + sympy.cos(c))),
            children.map(sympy.Abs),
        )

    return st.recursive(leaves, extend, max_leaves=8)


@settings(max_examples=60, deadline=None)
@given(_sympy_exprs(), st.floats(-2, 2), st.floats(-2, 2))
def test_sympy_to_expr_evaluates_like_sympy(expr, xv, yv):
    from qcomp.bridges._symbolic import sympy_to_expr
    from qcomp.ir.expr import Sym

    syms = {"x": Sym("param", 0, "x"), "y": Sym("input", 0, "y")}
    e = sympy_to_expr(expr, syms.__getitem__)
    at = {sympy.Symbol("x", real=True): xv, sympy.Symbol("y", real=True): yv}
    want = complex(expr.subs(at).evalf())
    got = float(np.asarray(e.evaluate(np.array([xv]), np.array([yv]))).reshape(-1)[0])
    assert abs(want.imag) < 1e-12
    assert got == pytest.approx(want.real, rel=1e-9, abs=1e-9)
    # derivatives through the IR agree with sympy's
    d = e.diff(syms["x"])
    dwant = complex(sympy.diff(expr, sympy.Symbol("x", real=True)).subs(at).evalf())
    if np.isfinite(dwant.real) and xv != 0:  # Abs has no derivative at 0
        dgot = float(np.asarray(d.evaluate(np.array([xv]), np.array([yv]))).reshape(-1)[0])
        assert dgot == pytest.approx(dwant.real, rel=1e-7, abs=1e-7)


def test_missing_extras_are_qcomp_errors():
    code = ("import sys; sys.modules['cirq'] = None; sys.modules['pennylane'] = None\n"
            "import qcomp\n"
            "for f, extra in ((qcomp.from_cirq, 'cirq'), (qcomp.from_pennylane, 'pennylane')):\n"
            "    try:\n"
            "        f(None)\n"
            "    except qcomp.QCompError as e:\n"
            "        assert f\"qcomp[{extra}]\" in str(e), e\n"
            "    else:\n"
            "        raise SystemExit('no error')\n")
    subprocess.run([sys.executable, "-c", code], check=True)
