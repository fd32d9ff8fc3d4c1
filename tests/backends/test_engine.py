"""The fused kernel engine (numba) vs the reference simulator, the layers engine and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcomp import parse
from qcomp.backends import engine as E
from qcomp.backends import reference as R
from qcomp.backends.simulator import Simulator, choose_engine

from test_simulator import random_source

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


def _values(draw, program, batch: int, per_row_params: bool):
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    w = rng.uniform(-2, 2, (batch, program.num_params) if per_row_params else program.num_params)
    x = rng.uniform(-2, 2, (batch, program.num_inputs))
    return w, x


@SETTINGS
@given(st.data())
def test_states_match_the_reference(data):
    n = data.draw(st.integers(1, 6))
    program = parse(random_source(data.draw, n, data.draw(st.integers(1, 25))))
    w, x = _values(data.draw, program, data.draw(st.integers(1, 5)), data.draw(st.booleans()))
    want = R.simulate(program, w, x)
    for precision, tol in (("double", 1e-12), ("single", 2e-6)):
        got = Simulator(program, engine="fused", precision=precision).state(w, x)
        np.testing.assert_allclose(got, want, atol=tol, rtol=0)


@SETTINGS
@given(st.data())
def test_fusion_sizes_agree(data):
    n = data.draw(st.integers(2, 6))
    program = parse(random_source(data.draw, n, data.draw(st.integers(1, 25))))
    w, x = _values(data.draw, program, 3, True)
    want = R.simulate(program, w, x)
    ops = program.circuit.ops()
    for dense in (1, 2, 3, 4):
        for diag in (1, 3, 10):
            plan = E.build_plan(ops, n, dense_qubits=dense, diag_qubits=diag)
            bound = E.Bound(plan, w, x, True, True, np.dtype(np.complex128))
            planes = bound.forward(slice(0, 3), np.empty((2, 3, 2**n)), 2)
            np.testing.assert_allclose(E.to_complex(planes, complex), want, atol=1e-12, rtol=0)


@SETTINGS
@given(st.data())
def test_expvals_and_adjoint_gradients(data):
    n = data.draw(st.integers(1, 5))
    program = parse(random_source(data.draw, n, data.draw(st.integers(1, 20))))
    per_row = data.draw(st.booleans())
    w, x = _values(data.draw, program, data.draw(st.integers(1, 4)), per_row)
    sim = Simulator(program, engine="fused")
    np.testing.assert_allclose(sim.expval(w, x), R.expvals(program, w, x), atol=1e-12)
    B = x.shape[0]
    cot = np.random.default_rng(3).normal(size=(B, program.num_outputs))
    got = sim.vjp(w, x, cot)
    # central differences of sum(cot * expval), per row when params are per row
    eps = 1e-6
    W = np.broadcast_to(w, (B, program.num_params)).copy()
    fd = np.zeros_like(W)
    for j in range(program.num_params):
        up, dn = W.copy(), W.copy()
        up[:, j] += eps
        dn[:, j] -= eps
        fd[:, j] = ((R.expvals(program, up, x) - R.expvals(program, dn, x)) * cot).sum(axis=1) / (2 * eps)
    # the vjp has the shape of the params: (B, P) rows (B == 1 too), (P,) for one flat row
    np.testing.assert_allclose(got, fd if per_row else fd.sum(axis=0), atol=1e-6)


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_cache_blocked_and_state_parallel_paths(data):
    # a tiny chunk makes 7-qubit states "large": low-qubit runs go chunk by chunk, the rest over
    # the whole state split over threads; the adjoint takes its one-row path
    n = 7
    program = parse(random_source(data.draw, n, data.draw(st.integers(5, 30))))
    w, x = _values(data.draw, program, 2, data.draw(st.booleans()))
    cot = np.ones((2, program.num_outputs))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(E, "CHUNK_BYTES", 16 * 8)  # 3 local qubits in double precision
        mp.setattr(E, "BLOCK_BYTES", 16 * 8)
        sim = Simulator(program, engine="fused", threads=2)
        np.testing.assert_allclose(sim.state(w, x), R.simulate(program, w, x), atol=1e-12)
        g = sim.vjp(w, x, cot)
    np.testing.assert_allclose(g, Simulator(program, engine="fused").vjp(w, x, cot), atol=1e-10)


@SETTINGS
@given(st.data())
def test_fused_and_layers_engines_agree(data):
    n = data.draw(st.integers(2, 6))
    program = parse(random_source(data.draw, n, data.draw(st.integers(1, 25))))
    w, x = _values(data.draw, program, 3, False)
    a, b = Simulator(program, engine="fused"), Simulator(program, engine="layers")
    np.testing.assert_allclose(a.expval(w, x), b.expval(w, x), atol=1e-12)
    np.testing.assert_allclose(a.gradient(w, x), b.gradient(w, x), atol=1e-10)


def test_value_and_vjp_matches_expval_and_vjp():
    program = parse("""
qubit q[4]; param w[8]; input x[4];
for i in range(4) { h q[i]; rz(x[i]) q[i]; }
for i in range(3) { rzz(x[i] * x[i + 1]) q[i], q[i + 1]; }
for i in range(4) { ry(w[i]) q[i]; rz(w[4 + i]) q[i]; }
for i in range(3) { cz q[i], q[i + 1]; }
expect z(q[0]) @ z(q[1]);
""")
    sim = Simulator(program, engine="fused")
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=8), rng.normal(size=(6, 4))
    y = rng.choice([-1.0, 1.0], size=(6, 1))
    vals, g = sim.value_and_vjp(w, x, lambda v, rows: -y[rows] / 6)
    np.testing.assert_allclose(vals, R.expvals(program, w, x), atol=1e-12)
    np.testing.assert_allclose(g, sim.vjp(w, x, -y / 6), atol=1e-12)


def test_plan_fuses_and_folds():
    program = parse("""
qubit q[3]; param w[6];
for i in range(3) { ry(w[i]) q[i]; }
cx q[0], q[1]; rz(w[3]) q[1]; cx q[1], q[2]; rzz(w[4]) q[0], q[2]; rz(w[5]) q[2];
expect z(q[2]);
""")
    plan = E.build_plan(program.circuit.ops(), 3)
    assert sum(len(v) for v in plan.prep.values()) == 3  # the leading ry fold into the product state
    assert [b.qubits for b in plan.blocks] == [(0, 1), (1, 2), (0, 2)]
    assert not plan.blocks[0].diagonal and plan.blocks[2].diagonal  # rzz then rz: a phase table
    gplan = E.build_plan(program.circuit.ops(), 3, with_gradient=True)
    assert not gplan.prep  # param gates stay differentiable kernels in the gradient plan
    assert "3 blocks" in Simulator(program, engine="fused").describe() or plan.describe()


def test_auto_engine_choice():
    qnn = parse("qubit q[5]; param w[4]; h q[4]; for i in range(4) { rxx(w[i]) q[i], q[4]; }\n"
                "for i in range(4) { rzz(w[i]) q[i], q[4]; } expect z(q[4]);")
    hea = parse("qubit q[2]; param w[1]; ry(w[0]) q[0]; cx q[0], q[1]; expect z(q[1]);")
    # a few XX rotations among many other two-qubit gates (random circuits) stay on the fused engine
    mixed = parse("qubit q[3]; param w[1]; rxx(w[0]) q[0], q[1];\n"
                  "for i in range(10) { cx q[0], q[1]; cz q[1], q[2]; } expect z(q[1]);")
    assert choose_engine(qnn.circuit.ops()) == "layers"
    assert choose_engine(hea.circuit.ops()) == "fused"
    assert choose_engine(mixed.circuit.ops()) == "fused"
    assert Simulator(hea).engine == "fused"
    with pytest.raises(Exception, match="unknown engine"):
        Simulator(hea, engine="gpu")


def test_memory_plan_counts_block_matrices():
    program = parse("qubit q[10]; param w[10]; input x[10];\n"
                    "for i in range(10) { ry(x[i] * w[i]) q[i]; }\nfor i in range(9) { cx q[i], q[i + 1]; ry(w[i]) q[i + 1]; }\n"
                    "expect z(q[0]);")
    sim = Simulator(program, engine="fused")
    mp = sim.memory_plan(64, gradient=True)
    assert mp["workspace_bytes"] > mp["rows_per_chunk"] * 3 * 2**10 * 16
    small = Simulator(program, engine="fused", max_memory_bytes=mp["workspace_bytes"] // 4)
    rng = np.random.default_rng(1)
    w, x = rng.normal(size=10), rng.normal(size=(64, 10))
    assert small.memory_plan(64, gradient=True)["chunks"] > 1
    np.testing.assert_allclose(small.vjp(w, x, np.ones((64, 1))), sim.vjp(w, x, np.ones((64, 1))), atol=1e-10)


def test_fused_unitary_blocks_of_several_sizes():
    # passes emit constant "unitary" blocks of 1 and 2 qubits under one name
    from qcomp.ir.circuit import Circuit
    from qcomp.ir.ops import make_unitary_op

    program = parse("qubit q[3]; param w[1]; ry(w[0]) q[0]; cx q[0], q[1]; expect z(q[1]) @ x(q[2]);")
    rng = np.random.default_rng(5)

    def haar(d):
        return np.linalg.qr(rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d)))[0]

    ops = list(program.circuit.ops()) + [make_unitary_op(haar(2), (2,)), make_unitary_op(haar(4), (1, 2)),
                                         make_unitary_op(haar(2), (0,)), make_unitary_op(haar(8), (2, 0, 1))]
    program = program.with_circuit(Circuit.from_ops(3, ops))
    w = np.array([0.4])
    # flat params: the simulator's state has no batch axis, the reference oracle's rows do
    np.testing.assert_allclose(Simulator(program, engine="fused").state(w), R.simulate(program, w)[0], atol=1e-12)
    g = Simulator(program, engine="fused").gradient(w)
    np.testing.assert_allclose(g, Simulator(program, engine="layers").gradient(w), atol=1e-10)


def test_large_phase_tables_and_state_split_match_the_reference():
    # 15 qubits: diagonal blocks take the table path, the state is "large" (chunked runs and
    # pair-range splits over two threads) in double precision
    n = 15
    rng = np.random.default_rng(11)
    lines = [f"qubit q[{n}]; param w[4];"] + [f"h q[{i}];" for i in range(n)]
    for _ in range(40):
        a, b = rng.choice(n, 2, replace=False)
        lines.append(rng.choice([f"cp(w[0] + {rng.uniform(-2, 2):.3f}) q[{a}], q[{b}];",
                                 f"rzz(w[1]) q[{a}], q[{b}];", f"rz(w[2]) q[{a}];", f"t q[{a}];",
                                 f"cx q[{a}], q[{b}];", f"ry(w[3]) q[{b}];"]))
    lines.append("expect z(q[0]) @ z(q[14]) + x(q[7]);")
    program = parse("\n".join(lines))
    w = rng.uniform(-1, 1, 4)
    sim = Simulator(program, engine="fused", threads=2)
    assert any(b.diagonal and len(b.qubits) > 4 for b in sim.fused_plan().blocks)
    np.testing.assert_allclose(sim.state(w), R.simulate(program, w)[0], atol=1e-12)  # flat params: no batch axis
    np.testing.assert_allclose(sim.gradient(w), Simulator(program, engine="layers").gradient(w), atol=1e-9)


@pytest.mark.parametrize("n", [1, 3, 7, 9])
def test_sums_of_single_z_terms_in_one_pass(n):
    rng = np.random.default_rng(n)
    lines = [f"qubit q[{n}]; param w[{n}];"] + [f"ry(w[{i}]) q[{i}]; h q[{i}];" for i in range(n)]
    lines += [f"cx q[{i}], q[{i + 1}]; rz(w[{i}]) q[{i + 1}];" for i in range(n - 1)]
    zs = " + ".join(f"{rng.uniform(-1, 1):.3f} * z(q[{i}])" for i in range(n))
    lines.append(f"expect {zs};")
    lines.append(f"expect {zs} - 0.5 * z(q[0]) @ z(q[{n - 1}]) + x(q[0]);" if n > 1 else "expect x(q[0]);")
    program = parse("\n".join(lines))
    w = rng.uniform(-2, 2, (3, n))
    for precision, tol in (("double", 1e-12), ("single", 1e-5)):
        got = Simulator(program, engine="fused", precision=precision).expval(w)
        np.testing.assert_allclose(got, R.expvals(program, w), atol=tol)


def test_low_qubit_blocks_fuse_into_contiguous_groups():
    n = 6
    src = "\n".join([f"qubit q[{n}]; param w[{2 * n}];"] + [f"ry(w[{i}]) q[{i}]; h q[{i}];" for i in range(n)]
                    + [f"cx q[{i}], q[{i + 1}]; rz(w[{n + i}]) q[{i + 1}];" for i in range(n - 1)]
                    + ["expect z(q[5]) + x(q[0]);"])
    program = parse(src)
    plan = E.build_plan(program.circuit.ops(), n, low_qubits=4)
    assert (0, 1, 2, 3) in [b.qubits for b in plan.blocks]  # the ladder's low end: one contiguous block
    w = np.random.default_rng(2).uniform(-2, 2, (2, 2 * n))
    for low in (0, 4):
        for grad in (False, True):
            p = E.build_plan(program.circuit.ops(), n, low_qubits=low, with_gradient=grad)
            b = E.Bound(p, w, np.zeros((1, 0)), True, False, np.dtype(complex))
            st = E.to_complex(b.forward(slice(0, 2), np.empty((2, 2, 2**n)), 2), complex)
            np.testing.assert_allclose(st, R.simulate(program, w), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-50, 50), min_size=1, max_size=9))
def test_fast_rotation_matrices_equal_the_gate_table(angles):
    from qcomp.ir.gates import GATES

    t = np.array(angles)
    for name in ("rx", "ry", "rz", "p", "rzz"):
        np.testing.assert_array_equal(E._fast_matrices(name, GATES[name], [t]), GATES[name].matrix(t))
    # any other gate goes to the table
    np.testing.assert_array_equal(E._fast_matrices("crz", GATES["crz"], [t]), GATES["crz"].matrix(t))


def _check_gradients_against_differences(program, per_row: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    B = 7
    w = rng.uniform(-2, 2, (B, program.num_params) if per_row else program.num_params)
    x = rng.uniform(-2, 2, (B, program.num_inputs))
    cot = rng.normal(size=(B, program.num_outputs))
    sim = Simulator(program, engine="fused")
    np.testing.assert_allclose(sim.expval(w, x), R.expvals(program, w, x), atol=1e-12)
    W = np.broadcast_to(w, (B, program.num_params)).copy()
    fd = np.zeros_like(W)
    for j in range(program.num_params):
        up, dn = W.copy(), W.copy()
        up[:, j] += 1e-6
        dn[:, j] -= 1e-6
        fd[:, j] = ((R.expvals(program, up, x) - R.expvals(program, dn, x)) * cot).sum(axis=1) / 2e-6
    want = fd if per_row else fd.sum(axis=0)
    np.testing.assert_allclose(sim.vjp(w, x, cot), want, atol=1e-6)
    vals, g = sim.value_and_vjp(w, x, lambda v, rows: cot[rows])
    np.testing.assert_allclose(g, want, atol=1e-6)
    np.testing.assert_allclose(vals, R.expvals(program, w, x), atol=1e-12)


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("per_row", [False, True])
def test_one_qubit_block_gradients(n, per_row):
    """Dense one-qubit blocks of several gates (their composition and gradient run in registers):
    gradients equal central differences, per row and summed, on one qubit (rows stored back to
    back) and on separate qubits of a larger state."""
    body = "".join(f"rz(w[{6 * q}]) q[{q}]; ry(w[{6 * q + 1}] * x[0]) q[{q}]; rx(x[1]) q[{q}]; h q[{q}]; "
                   f"rz(w[{6 * q + 2}]) q[{q}]; ry(w[{6 * q + 3}]) q[{q}]; s q[{q}]; rx(w[{6 * q + 4}] + x[0]) q[{q}]; "
                   f"rz(w[{6 * q + 5}]) q[{q}]; " for q in range(n))
    program = parse(f"qubit q[{n}];\nparam w[{6 * n}];\ninput x[2];\n{body}\n"
                    + "".join(f"expect z(q[{q}]);\nexpect x(q[{q}]);\n" for q in range(n)))
    _check_gradients_against_differences(program, per_row, n)


@pytest.mark.parametrize("n", [2, 4])
@pytest.mark.parametrize("per_row", [False, True])
def test_two_qubit_block_gradients(n, per_row):
    """Dense two-qubit blocks of one- and two-qubit gates in both argument orders (their gradient
    reads the gates in place): gradients equal central differences, per row and summed."""
    body = ""
    for layer in range(3):
        for q in range(n):
            body += f"rz(x[{q % 2}]) q[{q}]; ry(w[{3 * layer}] + x[1]) q[{q}]; "
        for q in range(0, n - 1, 2):
            a, b = (q, q + 1) if layer % 2 else (q + 1, q)
            body += (f"cz q[{a}], q[{b}]; crx(w[{3 * layer + 1}]) q[{a}], q[{b}]; rzz(w[{3 * layer + 2}] * x[0]) "
                     f"q[{b}], q[{a}]; rx(w[{3 * layer + 2}]) q[{a}]; cx q[{b}], q[{a}]; ")
    program = parse(f"qubit q[{n}];\nparam w[9];\ninput x[2];\n{body}\n"
                    + "".join(f"expect z(q[{q}]);\nexpect y(q[{q}]);\n" for q in range(n)))
    _check_gradients_against_differences(program, per_row, 10 + n)
