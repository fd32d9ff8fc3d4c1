"""The public Python API: qcomp.compile, Model, optimize."""

import numpy as np
import pytest

import qcomp
from qcomp.backends import reference

SRC = "qubit q[2]; param w[2]; input x; ry(w[0] * x) q[0]; cx q[0], q[1]; rz(w[1]) q[1]; h q[0]; h q[0]; expect z(q[0]) @ z(q[1]); expect x(q[1]);"


def test_compile_source_and_path(tmp_path):
    m = qcomp.compile(SRC, optimize=0)
    assert (m.num_params, m.num_inputs, m.num_outputs) == (2, 1, 2)
    f = tmp_path / "m.q"
    f.write_text(SRC)
    m2 = qcomp.compile(str(f), optimize=0)
    assert m2.program.circuit.same_ops(m.program.circuit)


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_simulator_matches_reference_at_every_level(level):
    m = qcomp.compile(SRC, optimize=level)
    rng = np.random.default_rng(level)
    w = rng.uniform(-2, 2, 2)
    x = rng.uniform(-1, 1, (5, 1))
    got = m.simulator().expval(w, x)
    want = reference.expvals(m.program, w, x)
    assert got.shape == (5, 2)
    np.testing.assert_allclose(got, want, atol=1e-10)


def test_optimization_removes_cancelling_gates():
    m = qcomp.compile(SRC, optimize=2)
    assert "h" not in m.optimized("qasm").circuit.count_ops()
    assert m.program.circuit.count_ops()["h"] == 2  # the source program is untouched


def test_qasm_text_and_specs():
    m = qcomp.compile(SRC)
    text = m.qasm()
    assert text.startswith("OPENQASM 3.0;")
    specs = m.specs()
    assert specs["qubits"] == 2 and specs["params"] == 2
    # the hardware form is in the rz/sx/x/cx basis
    assert set(specs["optimized"]["gate_counts"]) <= {"rz", "sx", "x", "cx"}


def test_vjp_matches_finite_differences():
    m = qcomp.compile(SRC, optimize=0)
    f = m.simulator()
    rng = np.random.default_rng(3)
    w = rng.uniform(-2, 2, 2)
    x = rng.uniform(-1, 1, (4, 1))
    cot = rng.normal(size=(4, 2))
    g = f.vjp(w, x, cot)
    h = 1e-6
    fd = np.array([
        (np.sum(cot * f.expval(w + h * e, x)) - np.sum(cot * f.expval(w - h * e, x))) / (2 * h)
        for e in np.eye(2)
    ])
    np.testing.assert_allclose(g, fd, atol=1e-7)


def test_bad_level_and_missing_file():
    with pytest.raises(qcomp.QCompError, match="optimization level"):
        qcomp.compile(SRC, optimize=7)
    with pytest.raises(qcomp.QCompError, match="no such file"):
        qcomp.compile("nope/missing.q")


def test_model_hessian_matches_finite_differences_of_the_gradient():
    m = qcomp.compile("qubit q[2]; param w[2]; input x; rx(w[0] * x) q[0]; cry(w[1]) q[0], q[1]; expect z(q[1]) + 0.5 * x(q[0]);",
                      optimize=0)
    w, x = np.array([0.4, 1.3]), np.array([[0.7]])
    H = m.hessian(w, x)
    sim = m.simulator()
    h = 1e-5
    fd = np.stack([(sim.gradient(w + h * e, x) - sim.gradient(w - h * e, x)) / (2 * h) for e in np.eye(2)], axis=-1)
    assert H.shape == (1, 1, 2, 2)
    np.testing.assert_allclose(H, fd, atol=1e-7)
    np.testing.assert_allclose(H[0, 0], H[0, 0].T, atol=1e-12)
    gp = m.gradient_program()
    # rx: two-term rule (2 circuits); cry: four-term rule from its two frequencies (4 circuits)
    assert (gp.num_slots, gp.num_circuits) == (2, 6)
