"""`qcomp grad` exports: OpenQASM 3 gradient circuits + manifest, run through Qiskit and qcomp executors."""

from __future__ import annotations

import glob
import math
from pathlib import Path

import numpy as np
import pytest

import qcomp
from qcomp.cli import main
from qcomp.errors import InputError, QCompError
from qcomp.gradients import ReferenceExecutor, SimulatorExecutor, hessian, parameter_shift_gradient
from qcomp.hardware import QcompExecutor, load_manifest, run_gradient_program
from qcomp.hardware.qiskit import QiskitAerExecutor, QiskitStatevectorExecutor

REF = ReferenceExecutor()
EXAMPLES = sorted(glob.glob("examples/*.q"))

SMALL = """
qubit q[3]; param w[3]; input x[2];
gate blk(a, b) s, t { ry(a) s; crx(b) s, t; u(a, b, 0.3) t; }
h q[0];
rx(w[0] * x[0]) q[0];
cry(w[1] - x[1]) q[0], q[1];
inv @ blk(w[2] * w[0], w[1]) q[2], q[0];
cp(w[0] + 0.25) q[2], q[1];
rzz(w[2]) q[0], q[2];
rx(w[1]) q[2];
expect z(q[0]) @ x(q[1]) + 0.3 * y(q[2]);
expect x(q[1]);
"""


def _export(tmp_path: Path, src: str | Path, *args: str, name: str = "grad") -> Path:
    if isinstance(src, str) and not src.endswith(".q"):
        f = tmp_path / "model.q"
        f.write_text(src)
        src = f
    out = tmp_path / name
    assert main(["grad", str(src), "-o", str(out), *args]) == 0
    return out


def _values(program, B, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(-math.pi, math.pi, (B, program.num_params)), rng.uniform(-1, 1, (B, program.num_inputs))


@pytest.mark.parametrize("path", EXAMPLES)
def test_examples_exported_gradient_through_qiskit_statevector_estimator(tmp_path, path):
    program = qcomp.parse_file(path)
    if any(op.cond or op.name in ("measure", "reset") for op in program.circuit.ops()):
        pytest.skip("a dynamic circuit has no Qiskit statevector; tests/backends/test_dynamic_qasm.py checks it")
    big = program.num_qubits > 10
    w, x = _values(program, 1 if big else 2, 7)
    if "mnist" in path:
        x = np.round((x + 1) / 2)
    wrt = "params" if program.num_params else "inputs"
    out = _export(tmp_path, Path(path), "--wrt", wrt)
    m = load_manifest(out)
    ex = SimulatorExecutor() if big else REF
    expected = parameter_shift_gradient(program, w, x, ex, wrt=wrt)
    if big:
        # Qiskit's statevector estimator needs seconds per 17-qubit circuit: check an rxx and an rzz
        # derivative through it (4 of the 64 circuits); the small examples check every derivative
        sel = ["w[3]", "w[20]"]
        expected = expected[..., [3, 20]]
        got = run_gradient_program(out, QiskitStatevectorExecutor(), params=w[0], inputs=x, wrt=sel)
    else:
        got = run_gradient_program(out, QiskitStatevectorExecutor(), params=w, inputs=x)
    np.testing.assert_allclose(got, expected, atol=1e-8, rtol=0)
    assert len(list(out.glob("*.qasm"))) == len(m["circuits"])
    # every coefficient is printed in .q syntax over params and inputs
    for d in m["derivatives"]:
        assert d["terms"] and all(isinstance(t["coeff"], str) for t in d["terms"])


def test_exported_program_through_qcomp_executor_and_structure(tmp_path):
    out = _export(tmp_path, SMALL, "--wrt", "both")
    program = qcomp.parse(SMALL)
    m = load_manifest(out)
    assert m["wrt"] == ["w[0]", "w[1]", "w[2]", "x[0]", "x[1]"]
    assert m["order"] == 1 and m["params"] == ["w[0]", "w[1]", "w[2]"]
    files = {c["file"] for c in m["circuits"]}
    assert files == {p.name for p in out.glob("*.qasm")}
    # the unshifted circuit is never needed at first order; the cry occurrence needs four circuits
    assert all(c["shifts"] for c in m["circuits"])
    cry = [c for c in m["circuits"] if any(s["gate"].startswith("cry") for s in c["shifts"])]
    assert len(cry) == 4
    # rx(w[1]) on q[2] is outside the light cone of output 1 (x(q[1])) ... but w[1] reaches it via cry
    w, x = _values(program, 3, 2)
    expected = parameter_shift_gradient(program, w, x, REF, wrt="both")
    np.testing.assert_allclose(run_gradient_program(out, QcompExecutor(REF), params=w, inputs=x), expected, atol=1e-10)
    np.testing.assert_allclose(run_gradient_program(out, QiskitStatevectorExecutor(), params=w, inputs=x), expected, atol=1e-8)


HESS = """
qubit q[2]; param w[2]; input x;
h q[0];
cry(w[0] * x) q[0], q[1];
rx(w[1]) q[1];
cp(w[0] - w[1]) q[1], q[0];
expect z(q[0]) @ x(q[1]);
expect y(q[1]);
"""


def test_hessian_export(tmp_path):
    out = _export(tmp_path, HESS, "--order", "2")
    program = qcomp.parse(HESS)
    m = load_manifest(out)
    assert m["order"] == 2
    assert len(m["circuits"]) == 26  # 1 unshifted + 3 (cry twice) + 1 + 1 + 8 + 8 + 4 (pairs)
    assert any(not c["shifts"] for c in m["circuits"])  # the unshifted circuit appears once
    w, x = _values(program, 2, 4)
    got = run_gradient_program(out, QiskitStatevectorExecutor(), params=w, inputs=x)
    np.testing.assert_allclose(got, hessian(program, w, x, REF), atol=1e-8)


def test_params_file_and_bound_export(tmp_path, capsys):
    src = "qubit q[2]; param w[2]; input x; ry(sin(w[0]) * x) q[0]; crx(w[1] ** 3) q[0], q[1]; expect z(q[1]) + x(q[0]);"
    f = tmp_path / "m.q"
    f.write_text(src)
    # sin of a param has no OpenQASM form Qiskit loads: without values the export fails and writes nothing
    assert main(["grad", str(f), "-o", str(tmp_path / "g")]) == 1
    assert "--params" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()
    vals = np.array([0.4, -0.9])
    np.save(tmp_path / "p.npy", vals)
    out = _export(tmp_path, f, "--params", str(tmp_path / "p.npy"))
    m = load_manifest(out)
    assert m["params_bound"] and m["param_values"] == [0.4, -0.9]
    program = qcomp.parse(src)
    x = np.array([[0.5], [-1.5]])
    expected = parameter_shift_gradient(program, vals, x, REF)
    np.testing.assert_allclose(run_gradient_program(out, QiskitStatevectorExecutor(), inputs=x), expected, atol=1e-8)
    with pytest.raises(InputError, match="bound"):
        run_gradient_program(out, QiskitStatevectorExecutor(), params=vals + 1, inputs=x)
    # a malformed params file is a user error
    np.save(tmp_path / "bad.npy", np.zeros(5))
    assert main(["grad", str(f), "-o", str(tmp_path / "g2"), "--params", str(tmp_path / "bad.npy")]) == 1
    assert "params have 5 values; the program declares 2 (w[2])" in capsys.readouterr().err
    assert not (tmp_path / "g2").exists()


def test_output_directory_handling(tmp_path, capsys):
    out = _export(tmp_path, HESS, "--order", "2")
    assert len(list(out.glob("*.qasm"))) == 26
    out = _export(tmp_path, SMALL)  # a previous export is replaced as a whole: no stale files
    m = load_manifest(out)
    assert m["order"] == 1
    assert {p.name for p in out.iterdir()} == {c["file"] for c in m["circuits"]} | {"manifest.json"}
    assert len(m["circuits"]) < 26
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    f = tmp_path / "model.q"
    assert main(["grad", str(f), "-o", str(other)]) == 1
    assert "refusing" in capsys.readouterr().err
    assert (other / "keep.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left behind
    with pytest.raises(QCompError, match="manifest"):
        load_manifest(other)


def test_aer_shots_within_statistical_bound(tmp_path):
    pytest.importorskip("qiskit_aer")

    src = "qubit q[2]; param w[2]; ry(w[0]) q[0]; crx(w[1]) q[0], q[1]; rx(0.3) q[1]; expect z(q[1]) + 0.5 * x(q[0]);"
    out = _export(tmp_path, src)
    program = qcomp.parse(src)
    w = np.array([0.8, 1.9])
    exact = parameter_shift_gradient(program, w, None, REF)
    shots = 20000
    got = run_gradient_program(out, QiskitAerExecutor(shots=shots, seed=11), params=w)
    # each circuit's estimate has std <= sum|coeff| / sqrt(shots); the gradient combines them linearly
    m = load_manifest(out)
    norm1 = 1.5
    for d in m["derivatives"]:
        coeffs = np.array([qcomp.parse(f"qubit a; param w[2]; rz({t['coeff']}) a;").circuit.ops()[0].angles[0].evaluate(w, np.zeros(0))
                           for t in d["terms"]])
        bound = 5 * norm1 * np.sqrt(np.sum(coeffs**2)) / np.sqrt(shots)
        diff = abs(got[0, d["output"], d["wrt_index"][0]] - exact[0, d["output"], d["wrt_index"][0]])
        assert diff < bound
    assert not np.allclose(got, exact, atol=1e-9)  # it really is shot noise, not an exact simulator
