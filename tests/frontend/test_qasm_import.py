"""OpenQASM import: Qiskit-written and hand-written OpenQASM 3/2 become the same IR; bad input gives clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import qiskit.qasm2
import qiskit.qasm3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.circuit.library import CU1Gate, CU3Gate, CUGate, U2Gate
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import Operator, Statevector

import qcomp
from qcomp.backends import reference
from qcomp.backends.qasm import emit_qasm
from qcomp.errors import IncludeError, ParseError, ResourceLimitError, SemanticError, UnsupportedError
from qcomp.frontend.qasm_import import import_qasm

H3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'


def _close_up_to_phase(a: np.ndarray, b: np.ndarray, tol: float = 1e-9) -> bool:
    k = np.unravel_index(np.argmax(np.abs(b)), b.shape)
    ph = b[k] / a[k]
    return abs(abs(ph) - 1) < 1e-9 and float(np.max(np.abs(a * ph - b))) < tol


def _qiskit_state(circuit: QuantumCircuit, values: dict) -> np.ndarray:
    bound = circuit.assign_parameters(values) if circuit.parameters else circuit
    return np.asarray(Statevector(bound.remove_final_measurements(inplace=False)).data)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 4), depth=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_qiskit_random_circuits_import_with_equal_statevector(n, depth, seed):
    c = random_circuit(n, depth, max_operands=min(n, 3), seed=seed)
    text = qiskit.qasm3.dumps(c)
    program = import_qasm(text, "rand.qasm")
    assert program.num_qubits == n
    assert _close_up_to_phase(reference.simulate(program)[0], _qiskit_state(c, {}))


def test_parametric_qiskit_circuit_imports_params_and_known_definitions():
    a, b = Parameter("a"), Parameter("b")
    c = QuantumCircuit(3)
    c.h(0)
    c.rx(2 * a + b, 0)
    c.rzz(a, 0, 1)  # Qiskit writes a 'gate rzz' definition; it maps back to the library gate
    c.rxx(b / 2, 1, 2)
    c.ryy(a * b, 0, 2)
    c.sxdg(2)
    c.iswap(0, 1)
    c.append(CUGate(0.1, 0.2, 0.3, 0.4), [0, 1])
    c.rccx(0, 1, 2)  # not a library gate: expanded from its definition
    c.u(a, b, 0.3, 2)
    c.measure_all()
    text = qiskit.qasm3.dumps(c)
    program = import_qasm(text, "param.qasm")
    assert program.param_names() == ["a", "b"]
    counts = program.circuit.count_ops()
    for g in ("rzz", "rxx", "ryy", "sxdg", "iswap"):
        assert counts.get(g) == 1, (g, counts)
    assert program.measured == (0, 1, 2)
    vals = np.array([0.37, -1.2])
    want = _qiskit_state(c, {a: vals[0], b: vals[1]})
    assert _close_up_to_phase(reference.simulate(program, vals)[0], want)
    # and it compiles back to OpenQASM that Qiskit loads with the same state
    res = emit_qasm(program)
    back = qiskit.qasm3.loads(res.text)
    by = {p.name: p for p in back.parameters}
    assert _close_up_to_phase(_qiskit_state(back, {by["p_a"]: vals[0], by["p_b"]: vals[1]}), want)


def test_cu_family_matches_qiskit():
    cases = (
        ("cu", (0.1, 0.2, 0.3, 0.4), CUGate(0.1, 0.2, 0.3, 0.4)),
        ("cu3", (0.5, -0.2, 1.3), CU3Gate(0.5, -0.2, 1.3)),
        ("cu1", (0.7,), CU1Gate(0.7)),
        ("u2", (0.2, 0.9), U2Gate(0.2, 0.9)),
    )
    for gate, args, qgate in cases:
        nq = qgate.num_qubits
        text = f"{H3}qubit[2] q;\n{gate}({', '.join(map(str, args))}) " + ", ".join(f"q[{i}]" for i in range(nq)) + ";\n"
        program = import_qasm(text)
        c = QuantumCircuit(2)
        c.append(qgate, list(range(nq)))
        # the controlled phase gamma of cu matters: compare exactly up to one global phase
        assert _close_up_to_phase(reference.unitary(program.circuit), Operator(c).data), gate


def test_qasm2_file_and_parse_file(tmp_path):
    text = (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg a[2];\nqreg b[1];\ncreg ca[2];\ncreg cb[1];\n'
        "h a[0];\ncx a[0], b[0];\nu3(0.1, 0.2, 0.3) a[1];\nu1(0.4) b[0];\ncu1(0.5) a[1], b[0];\nbarrier a;\n"
        "measure a -> ca;\nmeasure b[0] -> cb[0];\n"
    )
    path = tmp_path / "c.qasm"
    path.write_text(text)
    program = qcomp.parse_file(path)
    assert [r.name for r in program.registers] == ["a", "b"] and program.num_qubits == 3
    assert program.measured == (0, 1, 2)
    want = _qiskit_state(qiskit.qasm2.loads(text), {})
    assert _close_up_to_phase(reference.simulate(program)[0], want)


def test_hand_written_features():
    text = H3 + (
        "const float[64] half = pi / 2;\ninput float[64] theta;\ninput angle phi;\nqubit[3] q;\nbit[3] c;\n"
        "gate layer(t) x, y { ry(t) x; cx x, y; rz(-t / 2) y; gphase(0.3); }\n"
        "for int i in [0:1] { layer(theta * (i + 1)) q[i], q[i + 1]; }\n"
        "inv @ layer(phi) q[0], q[2];\npow(2) @ t q;\nrx(half + sin(theta)) q[1];\n"
        "c = measure q;\n"
    )
    program = import_qasm(text)
    assert program.param_names() == ["theta", "phi"]
    # t applied twice on three qubits, two loop iterations of a 3-gate body, one inverted body
    counts = program.circuit.count_ops()
    assert counts["t"] == 6 and counts["ry"] == 3
    # the same program in .q, through the other front end (Qiskit cannot load const, for, gphase or sin)
    q_src = (
        "qubit q[3]; param theta; param phi;\n"
        "gate layer(t) x, y { ry(t) x; cx x, y; rz(-t / 2) y; }\n"
        "for i in range(2) { layer(theta * (i + 1)) q[i], q[i + 1]; }\n"
        "inv @ layer(phi) q[0], q[2];\nt q; t q;\nrx(pi / 2 + sin(theta)) q[1];\n"
    )
    vals = np.array([0.45, 0.8])
    want = reference.simulate(qcomp.parse(q_src), vals)[0]
    assert _close_up_to_phase(reference.simulate(program, vals)[0], want)


@pytest.mark.parametrize(
    "body,what",
    [
        ("bit[2] c; c = measure q;\nif (c[0] || c[1]) { x q[1]; }\n", "'if' condition"),
        ("while (true) { x q[0]; }\n", "'while'"),
        ('defcalgrammar "openpulse";\n', "defcalgrammar"),
        ("cal { }\n", "'cal'"),
        ("def f(qubit a) { h a; }\n", "subroutine"),
        ("measure q[0];\nreset q[0];\n", "'reset' after a terminal 'measure'"),
        ("box { x q[0]; }\n", "'box'"),
        ("int[32] k = 3;\n", "classical variables"),
        ("output float[64] y;\n", "output"),
        ("measure q[0];\nx q[0];\n", "mid-circuit"),
    ],
)
def test_unsupported_constructs_name_the_line(body, what):
    text = H3 + "qubit[2] q;\n" + body
    with pytest.raises(UnsupportedError) as e:
        import_qasm(text, "bad.qasm")
    msg = str(e.value)
    assert what in msg and "bad.qasm:" in msg
    assert e.value.span is not None and e.value.span.line >= 4
    assert e.value.span.source_line is not None


def test_unknown_gate_suggests():
    with pytest.raises(SemanticError, match="unknown gate 'rzx'") as e:
        import_qasm(H3 + "qubit[2] q;\nrzx(0.1) q[0], q[1];\n", "u.qasm")
    assert "did you mean" in str(e.value) and "u.qasm:4:1" in str(e.value)
    with pytest.raises(SemanticError, match="did you mean 'cx'"):
        import_qasm(H3 + "qubit[2] q;\ncxx q[0], q[1];\n")


def test_missing_include_parse_errors_and_limits(tmp_path):
    with pytest.raises(IncludeError, match="cannot find include file 'mygates.inc'"):
        import_qasm('OPENQASM 3.0;\ninclude "mygates.inc";\nqubit q;\n', str(tmp_path / "m.qasm"))
    (tmp_path / "mygates.inc").write_text("gate bell a, b { h a; cx a, b; }\n")
    p = import_qasm('OPENQASM 3.0;\ninclude "stdgates.inc";\ninclude "mygates.inc";\nqubit[2] q;\nbell q[0], q[1];\n',
                    str(tmp_path / "m.qasm"))
    assert p.circuit.count_ops() == {"h": 1, "cx": 1}
    with pytest.raises(ParseError) as e:
        import_qasm(H3 + "qubit[1] q;\nrx(0.1 q[0];\n", "p.qasm")
    assert "p.qasm:4:" in str(e.value)
    with pytest.raises(ResourceLimitError):
        import_qasm(H3 + "qubit[10] q;\n", max_qubits=5)
    with pytest.raises(ResourceLimitError):
        import_qasm(H3 + "qubit[2] q;\nfor int i in [0:99] { h q; }\n", max_ops=50)
    with pytest.raises(SemanticError, match="out of range"):
        import_qasm(H3 + "qubit[2] q;\nh q[2];\n")
    with pytest.raises(SemanticError, match="takes 1 angle"):
        import_qasm(H3 + "qubit[2] q;\nrx q[1];\n")


@pytest.mark.parametrize("example", ["hea_vqe.q", "qaoa_maxcut.q", "quantum_kernel.q", "reuploading_classifier.q"])
def test_qcomp_emitted_qasm_imports_back(example):
    from pathlib import Path

    from qcomp.hardware.manifest import qasm_input_values

    path = Path(__file__).resolve().parents[2] / "examples" / example
    if not path.exists():
        pytest.skip(f"{example} not present")
    program = qcomp.parse_file(path)
    rng = np.random.default_rng(7)
    p, x = rng.normal(size=program.num_params), rng.uniform(-1, 1, size=program.num_inputs)
    res = emit_qasm(program)
    back = import_qasm(res.text, "back.qasm")
    assert back.num_qubits == program.num_qubits
    values = qasm_input_values(res.manifest, p, x)  # declared name -> value, derived inputs included
    got = reference.simulate(back, np.array([values[n] for n in back.param_names()]))[0]
    want = reference.simulate(program, p if p.size else None, x if x.size else None)[0]
    assert _close_up_to_phase(got, want)


def test_long_sums_import_and_deep_nesting_is_a_located_limit():
    # a 700-term left-deep sum overflowed the ANTLR parser's recursion ("syntax error")
    n = 700
    decl = "".join(f"input float[64] w{i};\n" for i in range(4))
    angle = " + ".join(f"{i % 5 + 1} * w{i % 4}" for i in range(n)) + " - 0.25"
    head = f'OPENQASM 3.0;\ninclude "stdgates.inc";\n{decl}qubit[1] q;\n'
    prog = import_qasm(head + f"rx({angle}) q[0];\n", "long.qasm")
    (op,) = prog.circuit.ops()
    w = np.array([0.1, -0.2, 0.3, 0.05])
    want = sum((i % 5 + 1) * w[i % 4] for i in range(n)) - 0.25
    assert op.angles[0].evaluate(w, np.zeros(0)) == pytest.approx(want, rel=1e-12)
    nested = "w0"
    for _ in range(70):
        nested = f"sin({nested})"
    with pytest.raises(ResourceLimitError) as e:
        import_qasm(head + f"h q[0];\nrx({nested}) q[0];\n", "deep.qasm")
    assert (e.value.span.file, e.value.span.line) == ("deep.qasm", 9)
    assert "nested 71 levels deep, over the limit of 64" in e.value.message


def test_syntax_errors_are_located_and_empty_files_named():
    with pytest.raises(ParseError) as e:
        import_qasm('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit q\nh q;\n', "m.qasm")
    assert (e.value.span.line, e.value.span.column) == (4, 1) and "unexpected 'h'" in e.value.message
    assert str(e.value).split("\n")[1:3] == ["    h q;", "    ^"]
    with pytest.raises(ParseError, match="^m.qasm:1:1: error: OpenQASM syntax error: the file is empty"):
        import_qasm("  \n", "m.qasm")
