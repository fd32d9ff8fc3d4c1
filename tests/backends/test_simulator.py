"""The batched simulator vs the reference simulator, Qiskit and finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcomp import parse
from qcomp.backends import reference as R
from qcomp.backends.simulator import Simulator
from qcomp.errors import InputError, QCompError, ResourceLimitError
from qcomp.ir.gates import GATES

GATE_NAMES = sorted(GATES)
ANGLE_FORMS = ("w[{p}]", "x[{i}]", "0.5 * w[{p}] + x[{i}]", "sin(x[{i}]) * w[{p}]", "{c}", "w[{p}] * w[{p2}] - 0.3")


def random_source(draw, n: int, num_ops: int, num_params: int = 3, num_inputs: int = 2, gates=GATE_NAMES,
                  with_y_terms: bool = True) -> str:
    lines = [f"qubit q[{n}];", f"param w[{num_params}];", f"input x[{num_inputs}];"]
    for _ in range(num_ops):
        fits = [g for g in gates if GATES[g].num_qubits <= n]
        g = GATES[draw(st.sampled_from(fits))]
        qs = draw(st.permutations(range(n)))[: g.num_qubits]
        angles = []
        for _ in range(g.num_angles):
            form = draw(st.sampled_from(ANGLE_FORMS))
            angles.append(form.format(p=draw(st.integers(0, num_params - 1)), p2=draw(st.integers(0, num_params - 1)),
                                      i=draw(st.integers(0, num_inputs - 1)),
                                      c=round(draw(st.floats(-3, 3)), 3)))
        args = f"({', '.join(angles)})" if angles else ""
        lines.append(f"{g.name}{args} " + ", ".join(f"q[{q}]" for q in qs) + ";")
    # one Z-only output and one mixed output
    lines.append("expect z(q[0])" + (f" @ z(q[{n - 1}])" if n > 1 else "") + ";")
    if with_y_terms:
        lines.append(f"expect 0.7 * x(q[{n - 1}]) - 0.2 * y(q[0])" + (" @ z(q[1])" if n > 1 else "") + " + 0.1;")
    return "\n".join(lines)


def _qiskit_classes() -> dict:
    try:
        from qiskit.circuit.library import C3SXGate, C3XGate, C4XGate, CSXGate, RC3XGate, RCCXGate
    except ImportError:
        return {}
    return {"csx": CSXGate, "rccx": RCCXGate, "rc3x": RC3XGate, "c3x": C3XGate, "c3sqrtx": C3SXGate, "c4x": C4XGate}


_QISKIT_CLASSES = _qiskit_classes()


def qiskit_state(program, params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """Qiskit Statevector of the program for one row (qubit order = Qiskit's)."""
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import UnitaryGate
    from qiskit.quantum_info import Statevector

    qc = QuantumCircuit(program.num_qubits)
    for op in program.circuit.ops():
        if op.name == "unitary":
            # our matrices: first qubit = msb; Qiskit's UnitaryGate: first qubit = lsb
            qc.append(UnitaryGate(np.array(op.matrix)), list(reversed(op.qubits)))
            continue
        vals = [float(a.evaluate(params, inputs)) for a in op.angles]
        if op.name in _QISKIT_CLASSES:  # qelib1.inc gates QuantumCircuit has no method for
            qc.append(_QISKIT_CLASSES[op.name](), list(op.qubits))
            continue
        getattr(qc, op.name)(*vals, *op.qubits)
    return np.asarray(Statevector(qc).data)


@st.composite
def circuits(draw, max_qubits: int = 5, max_ops: int = 14):
    n = draw(st.integers(1, max_qubits))
    src = random_source(draw, n, draw(st.integers(0, max_ops)))
    batch = draw(st.sampled_from([1, 7]))
    seed = draw(st.integers(0, 2**31))
    return src, batch, seed


def _data(program, batch: int, seed: int, per_row_params: bool = False):
    rng = np.random.default_rng(seed)
    w = rng.uniform(-2, 2, (batch, program.num_params) if per_row_params else program.num_params)
    x = rng.uniform(-2, 2, (batch, program.num_inputs))
    return w, x


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(circuits(), st.sampled_from(["double", "single"]), st.booleans(), st.sampled_from([1, 2, 3]))
def test_random_circuits_match_reference_and_qiskit(case, precision, per_row, k):
    src, batch, seed = case
    program = parse(src)
    w, x = _data(program, batch, seed, per_row)
    sim = Simulator(program, precision=precision, block_qubits=k)
    tol = 1e-10 if precision == "double" else 1e-5
    ref = R.simulate(program, w, x)
    got = sim.state(w, x)
    assert got.dtype == (np.complex128 if precision == "double" else np.complex64)
    assert got.shape == ref.shape == (batch, 2**program.num_qubits)
    np.testing.assert_allclose(got, ref, atol=tol, rtol=0)
    for b in {0, batch - 1}:
        wb = w[b] if per_row else w
        np.testing.assert_allclose(got[b], qiskit_state(program, wb, x[b]), atol=tol, rtol=0)
    np.testing.assert_allclose(sim.expval(w, x), R.expvals(program, w, x), atol=10 * tol, rtol=0)
    np.testing.assert_allclose(sim.probs(w, x), np.abs(ref) ** 2, atol=10 * tol, rtol=0)


@settings(max_examples=4, deadline=None)
@given(st.data())
def test_larger_circuits_match_reference(data):
    n = data.draw(st.integers(8, 12))
    program = parse(random_source(data.draw, n, 40))
    w, x = _data(program, 7, data.draw(st.integers(0, 1000)))
    ref = R.simulate(program, w, x)
    for precision, tol in (("double", 1e-10), ("single", 1e-5)):
        got = Simulator(program, precision=precision).state(w, x)
        np.testing.assert_allclose(got, ref, atol=tol, rtol=0)


def test_qiskit_agreement_on_every_gate():
    """Each library gate alone on 3 qubits (arguments in a non-sorted order) vs Qiskit."""
    for name, g in GATES.items():
        if g.base is not None or g.num_qubits > 3:  # derived gates: tests/ir/test_modifiers.py; 4-5 qubits: above
            continue
        qs = [2, 0, 1][: g.num_qubits]
        angles = ", ".join(f"w[{i}]" for i in range(g.num_angles))
        src = "qubit q[3]; param w[3]; h q[0]; h q[1]; ry(0.3) q[2]; "
        src += f"{name}{'(' + angles + ')' if angles else ''} " + ", ".join(f"q[{q}]" for q in qs) + ";"
        program = parse(src)
        w = np.array([0.7, -1.3, 2.1])
        got = Simulator(program).state(w)  # unbatched params: no batch axis
        np.testing.assert_allclose(got, qiskit_state(program, w, np.zeros(0)), atol=1e-12, err_msg=name)


# -- gradients ---------------------------------------------------------------------------------

PARAM_GATES = [g for g in GATE_NAMES if GATES[g].num_angles > 0] + ["h", "cx", "cz", "s", "swap", "ccx"]


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_adjoint_gradient_matches_finite_differences(reference_fd, data):
    n = data.draw(st.integers(1, 4))
    src = random_source(data.draw, n, data.draw(st.integers(1, 12)), gates=PARAM_GATES)
    program = parse(src)
    batch = data.draw(st.sampled_from([1, 3]))
    w, x = _data(program, batch, data.draw(st.integers(0, 1000)))
    sim = Simulator(program)
    g = sim.gradient(w, x)
    assert g.shape == (batch, program.num_outputs, program.num_params)
    np.testing.assert_allclose(g, reference_fd(program, w, x), atol=1e-6, rtol=0)
    cot = np.random.default_rng(1).normal(size=(batch, program.num_outputs))
    np.testing.assert_allclose(sim.vjp(w, x, cot), np.einsum("bk,bkp->p", cot, g), atol=1e-10)


def test_vjp_with_per_row_params_and_mnist_model():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "mnist_qnn.q"
    program = parse(path.read_text().replace("const n = 16;", "const n = 6;"))  # same structure, 7 qubits
    rng = np.random.default_rng(3)
    w = rng.uniform(-1, 1, 12)
    x = rng.integers(0, 2, (2, 6)).astype(float)
    sim = Simulator(program, precision="double")
    cot = rng.normal(size=(2, 1))
    shared = sim.vjp(w, x, cot)
    assert shared.shape == (12,)
    per_row = sim.vjp(np.tile(w, (2, 1)), x, cot)
    assert per_row.shape == (2, 12)
    np.testing.assert_allclose(per_row.sum(axis=0), shared, atol=1e-10)
    eps = 1e-5
    for i in range(12):  # rxx and rzz weights
        d = np.zeros(12)
        d[i] = eps
        fd = (R.expvals(program, w + d, x) - R.expvals(program, w - d, x)) / (2 * eps)
        np.testing.assert_allclose(shared[i], float(cot[:, 0] @ fd[:, 0]), atol=1e-6)


def test_gradient_methods_dispatch():
    program = parse("qubit q; param w; ry(w) q; expect z(q);")
    sim = Simulator(program)
    np.testing.assert_allclose(sim.gradient([0.3])[0, 0], -math.sin(0.3), atol=1e-12)  # unbatched: (outputs, params)
    # the simulator owns the adjoint method only; the others come from qcomp.gradients
    with pytest.raises(QCompError, match="adjoint gradients; for method 'parameter-shift'"):
        sim.gradient([0.3], method="parameter-shift")


def test_expval_batch_rows():
    program = parse("qubit q[2]; param w[2]; input x; ry(w[0] + x) q[0]; cx q[0], q[1]; rx(w[1]) q[1]; "
                    "expect z(q[1]); expect x(q[0]);")
    sim = Simulator(program)
    rng = np.random.default_rng(0)
    pr, xr = rng.normal(size=(5, 2)), rng.normal(size=(5, 1))
    out = sim.expval_batch(pr, xr)
    assert out.shape == (5, 2)
    for b in range(5):
        np.testing.assert_allclose(out[b], R.expvals(program, pr[b], xr[b])[0], atol=1e-12)


# -- sampling, probabilities ---------------------------------------------------------------------

def test_sampling_chi_square_and_seed():
    program = parse("qubit q[3]; param w[3]; ry(w[0]) q[0]; ry(w[1]) q[1]; cx q[0], q[2]; ry(w[2]) q[2]; "
                    "measure q[0], q[2];")
    w = np.array([1.1, 0.4, 2.0])
    sim = Simulator(program)
    p = sim.probs(w)  # unbatched params: no batch axis
    np.testing.assert_allclose(p, R.probabilities(R.simulate(program, w), [0, 2])[0], atol=1e-12)
    shots = 20000
    counts = sim.sample(w, shots=shots, seed=7)  # unbatched params: one dict
    assert isinstance(counts, dict) and sum(counts.values()) == shots
    assert all(len(k) == 2 for k in counts)
    assert sim.sample(w[None], shots=shots, seed=7) == [counts]
    observed = np.array([counts.get(format(i, "02b"), 0) for i in range(4)])
    expected = shots * p
    chi2 = float(np.sum((observed - expected) ** 2 / expected))
    assert chi2 < 16.27  # chi-square 99.9% quantile with 3 degrees of freedom
    assert sim.sample(w, shots=shots, seed=7) == counts
    assert sim.sample(w, shots=shots, seed=8) != counts


def test_sampling_bit_order_and_all_qubits():
    program = parse("qubit q[3]; x q[0]; x q[1];")
    counts = Simulator(program).sample(None, shots=10, seed=0)
    assert counts == {"011": 10}  # rightmost character is qubit 0
    counts = Simulator(program).sample(None, shots=5, seed=0, qubits=[1, 2])
    assert counts == {"01": 5}
    with pytest.raises(InputError, match="shots"):
        Simulator(program).sample(None, shots=0)


# -- memory guard ----------------------------------------------------------------------------------

def test_memory_chunking_matches_unchunked():
    program = parse("qubit q[8]; param w[8]; input x[8]; for i in range(8) { ry(x[i] * w[i]) q[i]; } "
                    "for i in range(7) { cx q[i], q[i+1]; rz(w[i]) q[i+1]; } expect z(q[7]); expect x(q[0]);")
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=8), rng.normal(size=(9, 8))
    full = Simulator(program)
    small = Simulator(program, max_memory_bytes=2**8 * 16 * 17)  # the 9-row state output + ~2 rows of workspace
    plan = small.memory_plan(9)
    assert plan["chunks"] > 1
    np.testing.assert_allclose(small.expval(w, x), full.expval(w, x), atol=1e-12)
    np.testing.assert_allclose(small.state(w, x), full.state(w, x), atol=1e-12)
    np.testing.assert_allclose(small.gradient(w, x), full.gradient(w, x), atol=1e-12)
    bs = Simulator(program, batch_size=2)
    assert bs.memory_plan(9)["rows_per_chunk"] == 2
    np.testing.assert_allclose(bs.expval(w, x), full.expval(w, x), atol=1e-12)


def test_memory_refusal_names_qubits_and_bytes():
    program = parse("qubit q[10]; h q[0]; expect z(q[0]);")
    sim = Simulator(program, max_memory_bytes=1000)
    with pytest.raises(ResourceLimitError, match=r"10 qubits needs .*\d+ bytes"):
        sim.expval()
    big = parse("qubit q[40]; h q[0]; expect z(q[0]);", max_qubits=64)
    with pytest.raises(ResourceLimitError, match="40 qubits"):
        Simulator(big).expval()


# -- bad input ---------------------------------------------------------------------------------------

MODEL = "qubit q[2]; param w[2]; input pixel[4]; ry(w[0] * pixel[0]) q[0]; rx(w[1] + pixel[3]) q[1]; expect z(q[0]);"


def test_bad_inputs_are_named():
    sim = Simulator(parse(MODEL))
    x = np.zeros((6, 4))
    x[5, 3] = np.nan
    with pytest.raises(InputError, match=r"input pixel\[3\] of sample 5 is NaN"):
        sim.expval([0.1, 0.2], x)
    with pytest.raises(InputError, match=r"param w\[1\] is infinite"):
        sim.expval([0.1, np.inf], np.zeros(4))
    with pytest.raises(InputError, match="params have 3 values; the program declares 2"):
        sim.expval([0.1, 0.2, 0.3], np.zeros(4))
    with pytest.raises(InputError, match=r"expected \(batch, 4\)"):
        sim.expval([0.1, 0.2], np.zeros((3, 5)))
    with pytest.raises(InputError, match="missing input 'pixel'"):
        sim.expval({"w": [0.1, 0.2]}, {})
    with pytest.raises(InputError, match="unknown param 'v'"):
        sim.expval({"w": [0.1, 0.2], "v": [1.0]}, np.zeros(4))
    with pytest.raises(InputError, match="missing inputs"):
        sim.expval([0.1, 0.2], None)
    with pytest.raises(InputError, match="params have 2 rows but inputs have 3"):
        sim.expval(np.zeros((2, 2)), np.zeros((3, 4)))
    with pytest.raises(QCompError, match="precision"):
        Simulator(parse(MODEL), precision="half")


def test_dict_arguments_match_arrays():
    sim = Simulator(parse(MODEL))
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=2), rng.normal(size=(3, 4))
    np.testing.assert_allclose(sim.expval({"w": w}, {"pixel": x}), sim.expval(w, x), atol=0)
    assert sim.expval(w, x[0]).shape == (1,)  # no argument batched: no batch axis
    assert sim.expval(w, x[:1]).shape == (1, 1)


def test_plan_is_cached_and_fused():
    program = parse("qubit q[3]; param w[3]; h q[0]; rz(w[0]) q[0]; ry(w[1]) q[1]; cx q[0], q[1]; "
                    "rz(w[2]) q[1]; cz q[1], q[2]; rzz(w[0]) q[0], q[2]; cx q[1], q[2]; expect z(q[2]);")
    sim = Simulator(program)
    assert sim.plan() is sim.plan()
    plan = sim.plan()
    assert sum(len(v) for v in plan.prep.values()) == 3  # h, rz, ry fold into the product state
    kinds = [k.kind for k in plan.kernels]
    assert "diag" in kinds and len(plan.kernels) < len(program.circuit) - 3


# -- CLI: qcomp run --------------------------------------------------------------------------------

def test_cli_run_outputs(tmp_path, capsys):
    import json

    from qcomp.cli import main

    model = tmp_path / "m.q"
    model.write_text(MODEL)
    w = np.array([0.4, -0.3])
    x = np.random.default_rng(0).normal(size=(3, 4))
    np.save(tmp_path / "w.npy", w)
    np.save(tmp_path / "x.npy", x)
    expected = Simulator(parse(MODEL)).expval(w, x)
    assert main(["run", str(model), "--params", str(tmp_path / "w.npy"), "--inputs", str(tmp_path / "x.npy")]) == 0
    printed = capsys.readouterr().out
    assert "z(q[0])" in printed and f"{expected[2, 0]:.10f}" in printed
    for suffix in ("npy", "json", "csv"):
        out = tmp_path / f"out.{suffix}"
        assert main(["run", str(model), "--params", str(tmp_path / "w.npy"), "--inputs", str(tmp_path / "x.npy"),
                     "--precision", "single", "--batch-size", "2", "-o", str(out)]) == 0
        if suffix == "npy":
            got = np.load(out)
        elif suffix == "json":
            got = np.array(json.loads(out.read_text())["values"])
        else:
            got = np.loadtxt(out, delimiter=",", skiprows=1).reshape(3, 1)
        np.testing.assert_allclose(got, expected, atol=1e-5)
    (tmp_path / "w.json").write_text(json.dumps({"w": w.tolist()}))
    (tmp_path / "x.csv").write_text("a,b,c,d\n" + "\n".join(",".join(map(repr, r)) for r in x.tolist()) + "\n")
    out = tmp_path / "o2.npy"
    assert main(["run", str(model), "--params", str(tmp_path / "w.json"), "--inputs", str(tmp_path / "x.csv"),
                 "-o", str(out)]) == 0
    np.testing.assert_allclose(np.load(out), expected, atol=1e-12)


def test_cli_run_shots_and_errors(tmp_path, capsys):
    from qcomp.cli import main

    model = tmp_path / "bell.q"
    model.write_text("qubit q[2]; h q[0]; cx q[0], q[1]; measure q[0], q[1];")
    out = tmp_path / "counts.npy"
    assert main(["run", str(model), "--shots", "1000", "--seed", "3", "-o", str(out)]) == 0
    counts = np.load(out)
    assert counts.shape == (1, 4) and counts.sum() == 1000 and counts[0, 1] == counts[0, 2] == 0
    m2 = tmp_path / "m.q"
    m2.write_text(MODEL)
    bad = tmp_path / "bad.csv"
    assert main(["run", str(m2), "--params", str(tmp_path / "nope.npy"), "-o", str(bad)]) == 1
    assert "no such file" in capsys.readouterr().err and not bad.exists()
    np.save(tmp_path / "w.npy", np.zeros(2))
    np.save(tmp_path / "x.npy", np.zeros((3, 5)))
    assert main(["run", str(m2), "--params", str(tmp_path / "w.npy"), "--inputs", str(tmp_path / "x.npy"),
                 "-o", str(bad)]) == 1
    assert "expected (batch, 4)" in capsys.readouterr().err and not bad.exists()


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_cache_blocked_segments_match_reference(data):
    """Shrink the cache-blocking piece and the phase tables so small circuits exercise those paths."""
    from qcomp.backends import sim_plan as SP

    n = data.draw(st.integers(5, 8))
    program = parse(random_source(data.draw, n, 30))
    w, x = _data(program, 3, data.draw(st.integers(0, 1000)))
    saved = SP.LOCAL_BYTES, SP.PHASE_TABLE_ELEMENTS, SP.MAX_DIAGONAL_QUBITS
    try:
        SP.LOCAL_BYTES, SP.PHASE_TABLE_ELEMENTS, SP.MAX_DIAGONAL_QUBITS = 16 * 2**3, 8, 3
        for k in (1, 2):
            sim = Simulator(program, block_qubits=k)
            np.testing.assert_allclose(sim.state(w, x), R.simulate(program, w, x), atol=1e-10)
            np.testing.assert_allclose(sim.state(w[None].repeat(3, 0), x), R.simulate(program, w, x), atol=1e-10)
    finally:
        SP.LOCAL_BYTES, SP.PHASE_TABLE_ELEMENTS, SP.MAX_DIAGONAL_QUBITS = saved


def test_memory_message_for_a_thousand_qubits():
    # the byte count no longer fits a float: the message still comes out, as a power of two
    prog = parse("qubit q[1100];\nh q;\nexpect z(q[0]);\n")
    with pytest.raises(ResourceLimitError, match=r"1100 qubits needs ~2\^110[5-6] bytes"):
        Simulator(prog).expval(np.zeros(0))


@pytest.mark.parametrize("n", [40, 64])
def test_state_refuses_results_beyond_memory_before_allocating(n):
    # (B, 2**n) results were allocated before the guard: MemoryError at 40 qubits, ValueError at 64
    prog = parse(f"qubit q[{n}];\nh q[0];\nexpect z(q[0]);\n")
    with pytest.raises(ResourceLimitError, match=rf"the final states of 1 row\(s\) of a {n}-qubit simulation need"):
        Simulator(prog).state()


def test_probs_results_are_counted_against_the_memory_budget():
    prog = parse("qubit q[10];\nparam w;\nh q;\nrx(w) q[3];\n")
    w = np.linspace(0, 1, 200)[:, None]
    # one state and its workspace fit, but not 200 rows of 2**10 probabilities
    sim = Simulator(prog, max_memory_bytes=1 << 20, batch_size=4)
    with pytest.raises(ResourceLimitError, match=r"the probabilities of 200 row\(s\)"):
        sim.probs(w)
    assert sim.probs(w, qubits=[3]).shape == (200, 2)


def test_sample_draws_per_chunk_and_keeps_no_probability_rows():
    import tracemalloc

    prog = parse("qubit q[12];\nparam w;\nh q;\nrx(w) q[3];\n")
    w = np.linspace(0, 1, 64)[:, None]
    sim = Simulator(prog, batch_size=2, threads=1)
    want = Simulator(prog, batch_size=64, threads=1).sample(w, shots=50, seed=3)
    sim.sample(w[:2], shots=1, seed=0)  # plans built outside the measurement
    tracemalloc.start()
    try:
        got = sim.sample(w, shots=50, seed=3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got == want  # the same counts for a seed whatever the chunking
    # the whole batch's probability rows are 64 x 32 KiB = 2 MiB; a chunk of 2 rows ~ 64 KiB
    assert peak < (1 << 20), peak


def test_sample_in_parallel_chunks_is_deterministic():
    prog = parse("qubit q[3];\nparam w;\nh q;\nrx(w) q[1];\n")
    w = np.linspace(0, 3, 40)[:, None]
    a = Simulator(prog, batch_size=1, threads=4).sample(w, shots=30, seed=11)
    b = Simulator(prog, batch_size=40, threads=1).sample(w, shots=30, seed=11)
    assert a == b and len(a) == 40


@pytest.mark.parametrize("engine", ["fused", "layers"])
def test_value_and_gradient_per_row(engine):
    one = parse("qubit q[2]; param w[2]; input x; ry(w[0] * x) q[0]; cx q[0], q[1]; rx(w[1]) q[1]; expect z(q[1]);")
    two = parse("qubit q[2]; param w[2]; input x; ry(w[0] * x) q[0]; cx q[0], q[1]; rx(w[1]) q[1]; "
                "expect z(q[1]); expect x(q[0]) @ z(q[1]);")
    rng = np.random.default_rng(3)
    w, x = rng.normal(size=2), rng.normal(size=(4, 1))
    for program in (one, two):
        sim = Simulator(program, engine=engine)
        v, g = sim.value_and_gradient(w, x)
        np.testing.assert_allclose(v, sim.expval(w, x), atol=1e-12)
        np.testing.assert_allclose(g, sim.gradient(w, x), atol=1e-12)
        assert g.shape == (4, program.num_outputs, 2)
