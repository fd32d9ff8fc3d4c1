"""OpenQASM emitter: Qiskit/openqasm3 load what qcomp emits, with equal states and expectations; golden files.

Regenerate the golden files after an intended output change with

    QCOMP_REGEN_GOLDEN=1 python -m pytest tests/backends/test_qasm.py -k golden -p no:cacheprovider

which rewrites tests/golden/qasm/<name>.qasm and <name>.qasm.json for every examples/*.q and every
tests/golden/qasm/*.q (review the diff before committing).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import openqasm3
import pytest
import qiskit.qasm2
import qiskit.qasm3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qiskit.quantum_info import SparsePauliOp, Statevector

import qcomp
from qcomp.backends import reference
from qcomp.backends.qasm import QasmResult, declared_names, emit_qasm
from qcomp.hardware.manifest import compute_derived_inputs, manifest_pauli_list, qasm_input_values
from qcomp.errors import ExportError, InputError, QCompError
from qcomp.ir.gates import GATES

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "qasm"


# -- the oracle ------------------------------------------------------------------------------


def qiskit_state(circuit, values: dict[str, float]) -> np.ndarray:
    """Statevector of a loaded circuit with its input floats bound by name (final measurements dropped)."""
    by_name = {p.name: p for p in circuit.parameters}
    assert set(by_name) <= set(values), f"unbound: {set(by_name) - set(values)}"
    bound = circuit.assign_parameters({by_name[n]: values[n] for n in by_name}) if by_name else circuit
    bound = bound.remove_final_measurements(inplace=False)
    return np.asarray(Statevector(bound).data)


def same_up_to_phase(a: np.ndarray, b: np.ndarray, tol: float = 1e-9) -> bool:
    k = int(np.argmax(np.abs(b)))
    if abs(a[k]) < 1e-12:
        return False
    phase = b[k] / a[k]
    phase /= abs(phase)
    return bool(np.max(np.abs(a * phase - b)) < tol)


def assert_qiskit_equivalent(program, result: QasmResult, params=None, inputs=None, version: int = 3):
    """The text loads in Qiskit (and openqasm3) and matches qcomp's reference state and expectations."""
    text, manifest = result.text, result.manifest
    if version == 3:
        openqasm3.parse(text)
        circuit = qiskit.qasm3.loads(text)
    else:
        circuit = qiskit.qasm2.loads(text)
    assert circuit.num_qubits == program.num_qubits
    values = qasm_input_values(manifest, params, inputs)
    got = qiskit_state(circuit, values)
    p = None if program.num_params == 0 else np.asarray(params, dtype=float)
    x = None if program.num_inputs == 0 else np.asarray(inputs, dtype=float)
    want = reference.simulate(program, p, x)[0]
    assert same_up_to_phase(got, want), f"statevectors differ\n{text}"
    if program.observables:
        ev = reference.expvals(program, p, x)[0]
        sv = Statevector(got)
        for i in range(len(program.observables)):
            op = SparsePauliOp.from_list(manifest_pauli_list(manifest, i))
            assert abs(sv.expectation_value(op).real - ev[i]) < 1e-9
    return circuit


def _values(program, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=program.num_params), rng.uniform(-1, 1, size=program.num_inputs)


# -- every gate, every example -------------------------------------------------------------------


def _all_gates_source() -> str:
    lines = ["qubit q[3];", "param w[3];", "input x[2];"]
    exprs = ["w[0]", "0.5 * w[1] - x[0]", "w[2] * x[1] + pi / 3"]
    for name, g in sorted(GATES.items()):
        if g.base is not None or g.num_qubits > 3:  # derived and 4-5 qubit gates: test_qiskit_library_import.py
            continue
        args = "(" + ", ".join(exprs[k % 3] for k in range(g.num_angles)) + ")" if g.num_angles else ""
        qs = ", ".join(f"q[{(i + 1) % 3}]" for i in range(g.num_qubits))
        lines.append(f"h q; {name}{args} {qs};")
    lines.append("expect z(q[0]) @ x(q[2]) - 0.5 * y(q[1]);")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("version", [3, 2])
def test_every_library_gate_loads_in_qiskit_and_matches(version):
    program = qcomp.parse(_all_gates_source())
    p, x = _values(program)
    if version == 3:
        res = emit_qasm(program)
        assert_qiskit_equivalent(program, res, p, x)
        # non-stdgates gates are defined once, at global scope
        for name in ("rxx", "ryy", "rzz", "iswap", "sxdg"):
            assert res.text.count(f"gate {name}(") + res.text.count(f"gate {name} ") == 1
        assert "gate swap" not in res.text and "gate cp" not in res.text
        assert "U(" in res.text  # u is OpenQASM 3's built-in U
    else:
        res = emit_qasm(program, version=2, bind_params=p, bind_inputs=x)
        assert res.text.startswith("OPENQASM 2.0;\ninclude \"qelib1.inc\";")
        assert "qreg q[3];" in res.text and "input" not in res.text
        assert_qiskit_equivalent(program, res, p, x, version=2)


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.q")), ids=lambda p: p.name)
def test_examples_round_trip_through_qiskit(path):
    program = qcomp.parse_file(path)
    if any(op.cond or op.name in ("measure", "reset") for op in program.circuit.ops()):
        pytest.skip("a dynamic circuit has no Qiskit statevector; tests/backends/test_dynamic_qasm.py checks it")
    p, x = _values(program, seed=1)
    res = emit_qasm(program)
    assert_qiskit_equivalent(program, res, p, x)
    # trained weights folded in: a numeric circuit with only the data inputs left
    bound = emit_qasm(program, bind_params=p)
    assert "p_" not in bound.text and bound.manifest["params"] == {}
    assert_qiskit_equivalent(program, bound, p, x)


def test_mnist_declarations_and_manifest():
    program = qcomp.parse_file(ROOT / "examples" / "mnist_qnn.q")
    res = emit_qasm(program)
    assert "input float[64] p_w_3;" in res.text and "input float[64] x_pixel_0;" in res.text
    assert "qubit[17] q;" in res.text
    m = res.manifest
    assert m["params"]["p_w_3"] == "w[3]" and m["inputs"]["x_pixel_15"] == "pixel[15]"
    assert list(m["params"]) == [f"p_w_{i}" for i in range(32)]
    assert m["qubits"][16] == "readout"
    assert m["outputs"][0]["terms"] == [{"coeff": 1.0, "paulis": [[16, "Z"]], "qiskit_label": "Z" + "I" * 16}]
    assert m["gate_definitions"] == ["rxx", "rzz"]
    assert m["qcomp_version"] == qcomp.__version__
    json.dumps(m)  # JSON-serializable


def test_output_is_deterministic():
    src = _all_gates_source()
    a = emit_qasm(qcomp.parse(src)).text
    b = emit_qasm(qcomp.parse(src)).text
    assert a == b


# -- expressions: what Qiskit cannot load is hoisted or refused ---------------------------------


def test_nonpolynomial_input_functions_are_hoisted():
    src = """qubit q[2]; param w[2]; input x[2];
    ry(sin(x[0]) * w[0]) q[0];
    rz(2 * arctan(x[1]) + w[1] ** 2) q[1];
    rx(exp(x[0] * x[1]) - w[0] / 3) q[0];
    ry(sin(x[0])) q[1];
    cx q[0], q[1];
    expect z(q[0]) + 0.25 * x(q[1]);
    """
    program = qcomp.parse(src)
    res = emit_qasm(program)
    assert "sin" not in res.text and "**" not in res.text and "arctan" not in res.text
    d = res.manifest["derived_inputs"]
    assert [e["name"] for e in d] == ["d_0", "d_1", "d_2"]  # sin(x[0]) reused once
    assert d[0]["formula"] == "sin(x[0])"
    x = np.array([0.3, -0.7])
    np.testing.assert_allclose(compute_derived_inputs(res.manifest, x), [math.sin(0.3), math.atan(-0.7), math.exp(-0.21)])
    assert compute_derived_inputs(res.manifest, np.stack([x, x])).shape == (2, 3)
    assert_qiskit_equivalent(program, res, np.array([0.4, -1.1]), x)


def test_nonpolynomial_param_functions_are_refused_with_line():
    src = "qubit q;\nparam w;\nrx(w) q;\nry(cos(w)) q;\n"
    with pytest.raises(ExportError) as e:
        emit_qasm(qcomp.parse(src, name="m.q"))
    msg = str(e.value)
    assert "cos(...)" in msg and "m.q:4:" in msg and "--bind-params" in msg
    # binding the params makes it a number
    res = emit_qasm(qcomp.parse(src), bind_params=[0.7])
    assert "cos" not in res.text
    assert_qiskit_equivalent(qcomp.parse(src), res, np.array([0.7]))



@pytest.mark.parametrize("level", [1, 2, 3])
def test_refusal_after_optimization_still_points_at_the_source_gate(level, tmp_path, capsys):
    # translation rewrites ry(cos(w)) into new gates without source spans; the error is located
    # through the source program (the API and the CLI pass it), and nothing is written
    src = "qubit q[2];\nparam w;\nh q[0];\nrx(w) q[1];\nry(cos(w) + w) q[0];\ncx q[0], q[1];\nexpect z(q[1]);\n"
    model = qcomp.compile(src, optimize=level, cache=False)
    with pytest.raises(ExportError) as e:
        model.qasm()
    assert e.value.span is not None and (e.value.span.line, e.value.span.column) == (5, 1)
    assert "    ry(cos(w) + w) q[0];" in str(e.value)
    path = tmp_path / "m.q"
    path.write_text(src)
    from qcomp.cli import main

    assert main(["compile", str(path), f"-O{level}", "-o", str(tmp_path / "m.qasm")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:5:1: error: cos(...) of a trainable parameter") and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.q"]

def test_division_negation_and_pi_multiples_load():
    src = "qubit q[2]; param a; param b;\nrx(-(a - b) / 3) q[0];\nry(a / b) q[1];\nrz(-3 * pi / 4) q[0];\np(pi) q[1];\n"
    program = qcomp.parse(src)
    res = emit_qasm(program)
    assert "3 * pi / 4" in res.text
    assert_qiskit_equivalent(program, res, np.array([0.3, 1.7]))


def test_param_names_do_not_collide():
    program = qcomp.parse("qubit q; param w[4]; param w_3; param t; rx(w[3] + w_3 + t) q;")
    pn, _ = declared_names(program)
    assert len(set(pn)) == len(pn) and "p_t" in pn
    res = emit_qasm(program)
    assert_qiskit_equivalent(program, res, np.arange(6) * 0.1)


# -- binding, measurement, version 2 ---------------------------------------------------------


def test_bind_inputs_folds_one_sample_and_inputs_by_name():
    program = qcomp.parse_file(ROOT / "examples" / "mnist_qnn.q")
    p, x = _values(program, seed=3)
    res = emit_qasm(program, bind_params={"w": p}, bind_inputs={f"pixel[{i}]": v for i, v in enumerate(x)})
    assert "input" not in res.text
    assert res.manifest["inputs_bound"] and res.manifest["params_bound"]
    assert_qiskit_equivalent(program, res, p, x)
    with pytest.raises(InputError, match="did you mean 'w'"):
        emit_qasm(program, bind_params={"ww": p})
    with pytest.raises(InputError, match="params have 3 values; the program declares 32"):
        emit_qasm(program, bind_params=p[:3])
    with pytest.raises(ExportError, match="needs input values"):
        emit_qasm(program, inputs_mode="bound")


def test_measurement_statements():
    full = emit_qasm(qcomp.parse("qubit q[2]; h q[0]; cx q[0], q[1]; measure q;"))
    assert "bit[2] c;" in full.text and "c = measure q;" in full.text
    part = emit_qasm(qcomp.parse("qubit a[3]; h a[2]; measure a[2], a[0];"))
    assert "c[0] = measure q[2];" in part.text and "c[1] = measure q[0];" in part.text
    assert part.manifest["measured"] == {"register": "c", "qubits": [2, 0], "names": ["a[2]", "a[0]"]}
    circ = qiskit.qasm3.loads(part.text)
    assert [circ.find_bit(i.qubits[0]).index for i in circ.data if i.operation.name == "measure"] == [2, 0]
    v2 = emit_qasm(qcomp.parse("qubit q[2]; h q[0]; measure q[1];"), version=2)
    assert "creg c[1];" in v2.text and "measure q[1] -> c[0];" in v2.text
    qiskit.qasm2.loads(v2.text)


def test_qasm2_requires_bound_values():
    program = qcomp.parse("qubit q; param w; input x; rx(w * x) q;")
    with pytest.raises(ExportError, match="OpenQASM 2 has no inputs"):
        emit_qasm(program, version=2)
    with pytest.raises(ExportError, match="OpenQASM 2 has no inputs"):
        emit_qasm(program, version=2, bind_params=[1.0])
    res = emit_qasm(program, version=2, bind_params=[1.0], bind_inputs=[0.5])
    assert_qiskit_equivalent(program, res, np.array([1.0]), np.array([0.5]), version=2)


def test_unsupported_version_and_fused_blocks():
    program = qcomp.parse("qubit q[2]; h q[0]; cx q[0], q[1];")
    with pytest.raises(ExportError, match="version"):
        emit_qasm(program, version=4)
    from qcomp.ir.circuit import Circuit
    from qcomp.ir.ops import make_unitary_op

    u1 = reference.unitary(Circuit.from_ops(1, [op.with_qubits((0,)) for op in qcomp.parse("qubit q; h q; t q; ry(0.3) q; s q;").circuit.ops()]))
    c = Circuit.from_ops(2, [make_unitary_op(u1, (1,)), *program.circuit.ops()])
    fused = program.with_circuit(c)
    res = emit_qasm(fused)
    assert_qiskit_equivalent(fused, res)
    c2 = Circuit.from_ops(2, [make_unitary_op(np.eye(4), (0, 1))])
    with pytest.raises(ExportError, match="unitary"):
        emit_qasm(program.with_circuit(c2))


def test_basis_translation():
    passes = pytest.importorskip("qcomp.passes")
    if "basis-translation" not in passes.REGISTRY:
        pytest.skip("pass 'basis-translation' (passes/basis_translation.py, helper H4) not available yet")
    program = qcomp.parse(_all_gates_source())
    p, x = _values(program)
    res = emit_qasm(program, basis="rz,sx,x,cx")
    gates = {i.operation.name for i in qiskit.qasm3.loads(res.text).data}
    assert gates <= {"rz", "sx", "x", "cx"}
    assert res.manifest["basis"] == ["rz", "sx", "x", "cx"]
    assert_qiskit_equivalent(program, res, p, x)


# -- random circuits ---------------------------------------------------------------------------

_ONE_Q = sorted(n for n, g in GATES.items() if g.num_qubits == 1)


@st.composite
def random_programs(draw):
    n = draw(st.integers(1, 4))
    P = draw(st.integers(0, 3))
    I = draw(st.integers(0, 2))
    lines = [f"qubit q[{n}];"]
    if P:
        lines.append(f"param w[{P}];")
    if I:
        lines.append(f"input x[{I}];")
    lines.append("gate ug(a, b) u, v { ry(a) u; cx u, v; rz(a * 2 - b) v; sx u; }")
    atoms = ["0.3", "pi / 4", "-1.25"]
    atoms += [f"w[{i}]" for i in range(P)] + [f"x[{i}]" for i in range(I)]
    atoms += [f"sin(x[{i}])" for i in range(I)] + [f"2 * arctan(x[{i}])" for i in range(I)]

    def angle():
        a = draw(st.sampled_from(atoms))
        form = draw(st.integers(0, 4))
        b = draw(st.sampled_from(atoms))
        return [a, f"{a} * {b}", f"-({a} + {b}) / 3", f"({a}) ** 2", f"{a} - 0.5 * {b}"][form]

    gates = [g for g in sorted(GATES) if GATES[g].num_qubits <= n and GATES[g].base is None] + (["ug"] if n >= 2 else [])
    for _ in range(draw(st.integers(1, 7))):
        name = draw(st.sampled_from(gates))
        na = 2 if name == "ug" else GATES[name].num_angles
        nq = 2 if name == "ug" else GATES[name].num_qubits
        args = "(" + ", ".join(angle() for _ in range(na)) + ")" if na else ""
        inv = "inv @ " if draw(st.booleans()) else ""
        if nq == 1 and draw(st.integers(0, 3)) == 0:
            lines.append(f"{inv}{name}{args} q;")  # broadcast over the register
        else:
            qs = draw(st.permutations(range(n)))[:nq]
            lines.append(f"{inv}{name}{args} " + ", ".join(f"q[{k}]" for k in qs) + ";")
    terms = []
    for _ in range(draw(st.integers(1, 3))):
        k = draw(st.integers(1, n))
        qs = draw(st.permutations(range(n)))[:k]
        word = " @ ".join(f"{draw(st.sampled_from('xyz'))}(q[{j}])" for j in qs)
        terms.append(f"{draw(st.sampled_from(['0.5', '-1.5', '2']))} * {word}")
    lines.append("expect " + " + ".join(terms) + ";")
    if draw(st.booleans()):
        lines.append(f"measure q[{n - 1}];")
    return "\n".join(lines) + "\n"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(src=random_programs(), seed=st.integers(0, 2**16))
def test_random_circuits_round_trip_through_qiskit(src, seed):
    program = qcomp.parse(src)
    p, x = _values(program, seed)
    res = emit_qasm(program)
    assert_qiskit_equivalent(program, res, p, x)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(src=random_programs(), seed=st.integers(0, 2**16))
def test_random_circuits_qasm2_with_bound_values(src, seed):
    program = qcomp.parse(src)
    p, x = _values(program, seed)
    res = emit_qasm(program, version=2, bind_params=p, bind_inputs=x)
    assert_qiskit_equivalent(program, res, p, x, version=2)


# -- golden files ------------------------------------------------------------------------------


def _golden_cases():
    cases = [(p.stem, p) for p in sorted((ROOT / "examples").glob("*.q"))]
    cases += [(f"local_{p.stem}", p) for p in sorted(GOLDEN.glob("*.q"))]
    return cases


def _golden_source_name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("name,path", _golden_cases(), ids=[c[0] for c in _golden_cases()])
def test_golden(name, path):
    text = path.read_text()
    program = qcomp.parse(text, name=_golden_source_name(path), base_dir=path.parent)
    res = emit_qasm(program)
    # the version string is checked elsewhere; goldens must not change on every release
    manifest = json.dumps({**res.manifest, "qcomp_version": "<any>"}, indent=2) + "\n"
    qasm_file, json_file = GOLDEN / f"{name}.qasm", GOLDEN / f"{name}.qasm.json"
    if os.environ.get("QCOMP_REGEN_GOLDEN"):
        qasm_file.write_text(res.text)
        json_file.write_text(manifest)
    if not qasm_file.exists():
        pytest.fail(f"missing golden file {qasm_file}; regenerate (see this module's docstring)")
    assert res.text == qasm_file.read_text(), f"{name}.qasm differs from the golden file"
    assert manifest == json_file.read_text(), f"{name}.qasm.json differs from the golden file"
    dynamic = any(op.cond or op.name in ("measure", "reset") for op in program.circuit.ops())
    if dynamic:  # no Qiskit statevector: Qiskit loads it into if_else blocks (test_dynamic_qasm.py checks values)
        assert "if_else" in qiskit.qasm3.loads(res.text).count_ops()
    elif program.num_qubits <= 8:  # the golden text itself is equivalent (the 17-qubit example is checked above)
        p, x = _values(program, seed=5)
        assert_qiskit_equivalent(program, res, p, x)


def test_golden_inputs_exist():
    assert (ROOT / "examples" / "mnist_qnn.q").exists()
    assert len(list(GOLDEN.glob("*.q"))) >= 3


def test_errors_are_qcomp_errors():
    assert issubclass(ExportError, QCompError)


def test_manifest_lists_params_the_optimizer_disconnected():
    # w[1] rotates a qubit after its last use by the observable's light cone: -O2 drops the gate
    src = "qubit q[2]; param w[3]; ry(w[0]) q[0]; cx q[0], q[1]; rz(w[1]) q[1]; rx(w[2]) q[0]; expect z(q[1]);"
    m0 = qcomp.compile(src, optimize=0, cache=False).qasm_result().manifest
    m2 = qcomp.compile(src, optimize=2, cache=False).qasm_result().manifest
    assert m0["unused_params"] == []
    assert m2["unused_params"] == ["w[1]", "w[2]"]
    bound = emit_qasm(qcomp.parse(src), bind_params=[0.1, 0.2, 0.3]).manifest
    assert bound["params_bound"] and bound["unused_params"] == []
