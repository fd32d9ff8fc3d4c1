"""The fused engine on gates of 4-6 qubits (c3x, c4x, rc3x, c3sqrtx, ctrl(k) @ / negctrl @ gates,
dense unitary blocks) vs the reference simulator, Qiskit and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcomp import parse
from qcomp.backends import engine as E
from qcomp.backends import reference as R
from qcomp.backends.simulator import Simulator
from qcomp.ir.circuit import Circuit
from qcomp.ir.gates import GATES
from qcomp.ir.ops import make_unitary_op

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
LIBRARY_WIDE = ("c3x", "c4x", "rc3x", "c3sqrtx")
# bases of derived gates, with their arity and angle count (Qiskit's .control() is the oracle)
DERIVED_BASES = {"rx": (1, 1), "ry": (1, 1), "rz": (1, 1), "p": (1, 1), "h": (1, 0), "x": (1, 0),
                 "sx": (1, 0), "rzz": (2, 1)}
SMALL = {"rx": (1, 1), "ry": (1, 1), "rz": (1, 1), "h": (1, 0), "cx": (2, 0), "crz": (2, 1), "cp": (2, 1),
         "rzz": (2, 1), "ccx": (3, 0)}
ANGLES = ("w[{p}]", "0.5 * w[{p}] + x[{i}]", "sin(x[{i}]) * w[{p}]", "{c}", "w[{p}] * w[{p2}] - 0.3")


def _angle(draw) -> str:
    return draw(st.sampled_from(ANGLES)).format(p=draw(st.integers(0, 2)), p2=draw(st.integers(0, 2)),
                                                i=draw(st.integers(0, 1)), c=round(draw(st.floats(-3, 3)), 3))


def _unitary(rng, d: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d)))
    return q * (np.diag(r) / np.abs(np.diag(r)))


@st.composite
def wide_programs(draw, min_qubits: int = 4, max_qubits: int = 7, max_items: int = 10, unitaries: bool = True):
    """A random program mixing small gates with gates on 4-6 qubits. Dense unitary blocks are
    written as ``barrier`` placeholders on their qubits and then replaced by ``unitary`` ops, so
    they sit in the op order where the source put them."""
    n = draw(st.integers(min_qubits, max_qubits))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    lines = [f"qubit q[{n}];", "param w[3];", "input x[2];"]
    lines += [f"ry(w[{q % 3}] + 0.3 * x[{q % 2}] + {0.3 * q}) q[{q}];" for q in range(n)]  # a generic state first
    mats = []
    items = draw(st.integers(1, max_items))
    kinds = ["lib", "derived", "small", "small"] + (["unitary"] if unitaries else [])
    for _ in range(items):
        kind = draw(st.sampled_from(kinds))
        if kind == "lib":
            name = draw(st.sampled_from([g for g in LIBRARY_WIDE if GATES[g].num_qubits <= n]))
            qs = draw(st.permutations(range(n)))[:GATES[name].num_qubits]
            lines.append(f"{name} " + ", ".join(f"q[{q}]" for q in qs) + ";")
        elif kind == "derived":
            base = draw(st.sampled_from(sorted(DERIVED_BASES)))
            arity, nang = DERIVED_BASES[base]
            k = draw(st.integers(max(1, 4 - arity), min(6, n) - arity))  # 4-6 qubits in all
            ctrl = draw(st.lists(st.booleans(), min_size=k, max_size=k))
            qs = draw(st.permutations(range(n)))[:k + arity]
            mods = "".join("ctrl @ " if c else "negctrl @ " for c in ctrl)
            args = f"({_angle(draw)})" if nang else ""
            lines.append(f"{mods}{base}{args} " + ", ".join(f"q[{q}]" for q in qs) + ";")
        elif kind == "small":
            name = draw(st.sampled_from(sorted(SMALL)))
            arity, nang = SMALL[name]
            qs = draw(st.permutations(range(n)))[:arity]
            args = f"({_angle(draw)})" if nang else ""
            lines.append(f"{name}{args} " + ", ".join(f"q[{q}]" for q in qs) + ";")
        else:
            k = draw(st.integers(4, min(5, n)))
            qs = draw(st.permutations(range(n)))[:k]
            mats.append(_unitary(rng, 2**k))
            lines.append("barrier " + ", ".join(f"q[{q}]" for q in qs) + ";")
    lines.append(f"expect z(q[0]) @ z(q[{n - 1}]) + 0.4 * x(q[1]);")
    lines.append("expect 0.7 * y(q[2]) @ x(q[0]) - 0.2 * z(q[3]);")
    program = parse("\n".join(lines))
    ops, it = [], iter(mats)
    for op in program.circuit.ops():
        ops.append(make_unitary_op(next(it), op.qubits) if op.name == "barrier" else op)
    return program.with_circuit(Circuit.from_ops(n, ops))


def _qiskit_state(program, params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """Qiskit's Statevector for one row: library classes for the qelib1 wide gates, Qiskit's own
    ``.control(k, ctrl_state)`` for derived gates (not our matrices)."""
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import (C3SXGate, C3XGate, C4XGate, RC3XGate, UnitaryGate,
                                        get_standard_gate_name_mapping)
    from qiskit.quantum_info import Statevector

    classes = {"c3x": C3XGate, "c4x": C4XGate, "rc3x": RC3XGate, "c3sqrtx": C3SXGate}
    std = get_standard_gate_name_mapping()
    qc = QuantumCircuit(program.num_qubits)
    for op in program.circuit.ops():
        qs = list(op.qubits)
        vals = [float(a.evaluate(params, inputs)) for a in op.angles]
        g = GATES.get(op.name)
        if op.name == "unitary":  # ours: first qubit = msb; UnitaryGate: first qubit = lsb
            qc.append(UnitaryGate(np.array(op.matrix)), list(reversed(qs)))
        elif op.name in classes:
            qc.append(classes[op.name](), qs)
        elif g is not None and g.base is not None:
            assert g.power is None, op.name
            state = sum(1 << i for i, c in enumerate(g.controls) if c == "c")  # bit i: control i
            qc.append(type(std[g.base])(*vals).control(len(g.controls), ctrl_state=state, annotated=False), qs)
        else:
            getattr(qc, op.name)(*vals, *qs)
    return np.asarray(Statevector(qc).data)


def _values(draw, program, batch: int, per_row: bool):
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    w = rng.uniform(-2, 2, (batch, 3) if per_row else 3)
    x = rng.uniform(-2, 2, (batch, 2))
    return w, x


def _widest_block(program, gradient: bool) -> int:
    plan = E.build_plan(program.circuit.ops(), program.num_qubits, with_gradient=gradient)
    return max((len(b.qubits) for b in plan.blocks if not b.diagonal), default=0)


def _has_wide_gate(program) -> bool:
    return any(len(op.qubits) >= 4 and not GATES.get(op.name, GATES["cx"]).diagonal
               for op in program.circuit.ops())


@SETTINGS
@given(st.data())
def test_states_match_the_reference_and_qiskit(data):
    program = data.draw(wide_programs())
    w, x = _values(data.draw, program, data.draw(st.sampled_from([1, 3])), data.draw(st.booleans()))
    want = R.simulate(program, w, x)
    if _has_wide_gate(program):  # the wide gates reach the kernels as blocks of their own
        assert _widest_block(program, False) >= 4
    for precision, tol in (("double", 1e-12), ("single", 3e-6)):
        got = Simulator(program, engine="fused", precision=precision).state(w, x)
        np.testing.assert_allclose(got, want, atol=tol, rtol=0)
    W = np.broadcast_to(w, (x.shape[0], 3))
    for r in range(x.shape[0]):
        np.testing.assert_allclose(want[r], _qiskit_state(program, W[r], x[r]), atol=1e-10, rtol=0)


@SETTINGS
@given(data=st.data())
def test_expvals_and_adjoint_gradients_match_finite_differences(data, reference_fd):
    program = data.draw(wide_programs(max_qubits=6, max_items=8))
    per_row = data.draw(st.booleans())
    w, x = _values(data.draw, program, data.draw(st.sampled_from([1, 3])), per_row)
    B = x.shape[0]
    W = np.broadcast_to(w, (B, 3)).copy()
    cot = np.random.default_rng(5).normal(size=(B, program.num_outputs))
    fd = np.einsum("bk,bkp->bp", cot, reference_fd(program, W, x))
    if _has_wide_gate(program):
        assert _widest_block(program, True) >= 4
    for precision, tol, gtol in (("double", 1e-12, 1e-7), ("single", 3e-6, 2e-4)):
        sim = Simulator(program, engine="fused", precision=precision)
        np.testing.assert_allclose(sim.expval(w, x), R.expvals(program, w, x), atol=tol)
        np.testing.assert_allclose(sim.vjp(w, x, cot), fd if per_row else fd.sum(axis=0), atol=gtol)
        np.testing.assert_allclose(sim.gradient(W, x), reference_fd(program, W, x), atol=gtol)


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_large_state_paths(data):
    # a tiny chunk makes 7-qubit states "large": wide blocks then run split by pair ranges
    program = data.draw(wide_programs(min_qubits=7, max_qubits=7, max_items=6))
    w, x = _values(data.draw, program, 2, False)
    cot = np.random.default_rng(7).normal(size=(2, program.num_outputs))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(E, "CHUNK_BYTES", 16 * 8)  # 3 local qubits in double precision
        mp.setattr(E, "BLOCK_BYTES", 16 * 8)
        for precision, tol in (("double", 1e-12), ("single", 3e-6)):
            sim = Simulator(program, engine="fused", threads=2, precision=precision)
            np.testing.assert_allclose(sim.state(w, x), R.simulate(program, w, x), atol=tol)
        g = Simulator(program, engine="fused", threads=2).vjp(w, x, cot)
    np.testing.assert_allclose(g, Simulator(program, engine="layers").vjp(w, x, cot), atol=1e-10)


@pytest.mark.parametrize("n", [4, 5, 6, 7, 8])
def test_one_multi_controlled_x_at_every_position(n):
    # the minimal case: one c3x / c4x on a generic product state, no params
    rng = np.random.default_rng(n)
    for name in ("c3x", "c4x")[:n - 3]:
        k = GATES[name].num_qubits
        for _ in range(4):
            qs = rng.permutation(n)[:k]
            prep = " ".join(f"ry({rng.uniform(0, 3):.4f}) q[{q}]; rz({rng.uniform(0, 3):.4f}) q[{q}];"
                            for q in range(n))
            program = parse(f"qubit q[{n}]; {prep} {name} " + ", ".join(f"q[{q}]" for q in qs)
                            + "; expect z(q[0]);")
            want = _qiskit_state(program, np.zeros(0), np.zeros(0))
            for precision, tol in (("double", 1e-12), ("single", 3e-6)):
                got = Simulator(program, engine="fused", precision=precision).state()
                np.testing.assert_allclose(got, want, atol=tol, rtol=0)


@pytest.mark.parametrize("g", [1, 2, 3, 4, 5])
def test_block_products_of_wide_gates(g):
    # the composition kernels against numpy: (G x I) M, M (G x I), M (G x I)^dagger, Re Tr((G x I) M)
    rng = np.random.default_rng(g)
    k = g + 1
    D = 2**k
    pos = rng.permutation(k)[:g].astype(np.int64)
    G = _unitary(rng, 2**g)
    full = np.zeros((D, D), dtype=complex)  # G on block bits pos (argument i = bit g-1-i of G's index)
    for row in range(D):
        for col in range(D):
            ry = sum(((row >> pos[i]) & 1) << (g - 1 - i) for i in range(g))
            rx = sum(((col >> pos[i]) & 1) << (g - 1 - i) for i in range(g))
            other = [p for p in range(k) if p not in pos]
            if all(((row >> p) & 1) == ((col >> p) & 1) for p in other):
                full[row, col] = G[ry, rx]
    M = rng.normal(size=(D, D)) + 1j * rng.normal(size=(D, D))
    for conj in (False, True):
        A = M.copy()
        E._lmul(A, D, G, g, pos, conj)
        np.testing.assert_allclose(A, (full.conj() if conj else full) @ M, atol=1e-12)
    for dag in (False, True):
        A = M.copy()
        E._rmul(A, D, G, g, pos, dag)
        np.testing.assert_allclose(A, M @ (full.conj().T if dag else full), atol=1e-12)
    assert abs(E._trace_lmul(G, g, pos, M, D) - np.trace(full @ M).real) < 1e-10


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_gates_past_the_width_limit_are_decomposed_exactly(data):
    # past WIDE_QUBITS a gate is decomposed (a cost choice): the states agree either way
    program = data.draw(wide_programs(max_qubits=6, max_items=6, unitaries=False))
    w, x = _values(data.draw, program, 2, True)
    want = R.simulate(program, w, x)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(E, "WIDE_QUBITS", 3)
        assert all(len(op.qubits) <= 3 for op in E._split_widest(program.circuit.ops(), 3))
        got = Simulator(program, engine="fused").state(w, x)
    np.testing.assert_allclose(got, want, atol=1e-12, rtol=0)
