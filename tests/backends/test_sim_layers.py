"""Pauli layers (basis change + one phase table), Hadamard/Walsh kernels and observable folding vs the reference simulator."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcomp import parse
from qcomp.backends import kernels as K
from qcomp.backends import reference as R
from qcomp.backends import sim_plan as SP
from qcomp.backends.simulator import Simulator
from qcomp.ir.ops import Observable, Operation, PauliTerm

ROT2 = ["rxx", "ryy", "rzz"]
ROT1 = ["rx", "ry", "rz"]
OTHER = ["h", "s", "cx", "cz", "t", "crz", "sx", "cp"]


@st.composite
def layered_source(draw):
    """Programs dominated by same-letter two-qubit rotations (so layers form), with 1-qubit
    rotations, other gates in between, angles mixing params and inputs, and mixed observables."""
    n = draw(st.integers(2, 7))
    lines = [f"qubit q[{n}];", "param w[4];", "input x[2];"]
    letter_runs = draw(st.integers(1, 3))
    for _ in range(letter_runs):
        name = draw(st.sampled_from(ROT2))
        for _ in range(draw(st.integers(2, 3 * n))):
            a, b = draw(st.permutations(range(n)))[:2]
            kind = draw(st.integers(0, 9))
            angle = draw(st.sampled_from(["w[0]", "w[1] * x[0]", "0.7", "w[2] + x[1]", "sin(w[3])"]))
            if kind < 6:
                lines.append(f"{name}({angle}) q[{a}], q[{b}];")
            elif kind < 8:
                lines.append(f"{draw(st.sampled_from(ROT1))}({angle}) q[{a}];")
            else:
                g = draw(st.sampled_from(OTHER))
                if g in ("cx", "cz"):
                    lines.append(f"{g} q[{a}], q[{b}];")
                elif g in ("crz", "cp"):
                    lines.append(f"{g}({angle}) q[{a}], q[{b}];")
                else:
                    lines.append(f"{g} q[{a}];")
    # trailing one-qubit Cliffords that the expectation plans fold into the observables
    for q in range(n):
        if draw(st.booleans()):
            lines.append(f"{draw(st.sampled_from(['h', 's', 'sdg', 'x', 'sx', 'y']))} q[{q}];")
    p = [draw(st.sampled_from("XYZ")) for _ in range(n)]
    lines.append(f"expect {p[0].lower()}(q[0]);")
    lines.append(f"expect 0.5 * {p[1].lower()}(q[{n - 1}]) @ z(q[0]) + 0.25 * x(q[{n // 2}]);")
    return "\n".join(lines)


@settings(max_examples=60, deadline=None)
@given(layered_source(), st.integers(0, 2**31), st.sampled_from([1, 3]), st.booleans())
def test_layer_plans_match_reference(reference_fd, src, seed, B, per_row_params):
    program = parse(src)
    rng = np.random.default_rng(seed)
    w = rng.uniform(-3, 3, (B, 4) if per_row_params else 4)
    x = rng.uniform(-2, 2, (B, 2))
    sim = Simulator(program, engine="layers")
    want = R.expvals(program, w, x)
    np.testing.assert_allclose(sim.expval(w, x), want, atol=1e-10, rtol=0)
    np.testing.assert_allclose(sim.state(w, x), R.simulate(program, w, x), atol=1e-10, rtol=0)
    np.testing.assert_allclose(Simulator(program, engine="layers", precision="single").expval(w, x), want, atol=2e-5, rtol=0)
    # adjoint through layers, Hadamard kernels and folded observables vs central differences
    g = sim.gradient(w, x)
    np.testing.assert_allclose(g, reference_fd(program, w, x), atol=1e-6, rtol=0)


def test_xx_layer_becomes_one_layer_and_matches_rotation_kernels():
    n = 9
    src = [f"qubit q[{n}];", f"param w[{2 * (n - 1)}];", "h q[0];"]
    src += [f"rxx(w[{i}]) q[{i}], q[{n - 1}];" for i in range(n - 1)]
    src += [f"ryy(w[{n - 1 + i}]) q[{i}], q[{i + 1}];" for i in range(n - 1)]
    src += ["expect z(q[0]);", f"expect x(q[{n - 1}]);"]
    program = parse("\n".join(src))
    sim = Simulator(program, engine="layers")
    plan = sim.plan("adjoint")
    layers = [k for k in plan.kernels if k.kind == "diag" and k.layer]
    assert [len(k.terms) for k in layers] == [n - 1, n - 1]
    # the first layer's Hadamards reach |0> and fold into the product state
    assert plan.kernels[0].kind == "diag" and plan.kernels[0].layer
    rng = np.random.default_rng(0)
    w = rng.uniform(-3, 3, 2 * (n - 1))
    slow = Simulator(program, engine="layers", pauli_layers=False)
    assert not any(k.kind == "wht" for k in slow.plan("adjoint").kernels)
    np.testing.assert_allclose(sim.expval(w), slow.expval(w), atol=1e-12)
    np.testing.assert_allclose(sim.gradient(w), slow.gradient(w), atol=1e-12)
    np.testing.assert_allclose(sim.expval(w), R.expvals(program, w)[0], atol=1e-12)  # flat params: no batch axis


def test_split_keeps_conflicting_letters_out_and_moves_passed_ops_after_the_layer():
    ops = [Operation("rxx", (0, 1)), Operation("h", (2,)), Operation("ryy", (1, 2)),
           Operation("rxx", (0, 3)), Operation("rxx", (2, 3)), Operation("rxx", (1, 3)), Operation("rxx", (0, 2))]
    # force every layer to be formed: the cost model is tested separately
    parts = SP.split_pauli_layers(ops, 4, worthwhile=lambda layer: True)
    # ryy(1,2) conflicts with X on qubit 1 and stays behind, blocking qubits 1 and 2 (with h(2)) for
    # the first layer; rxx(0,3) is disjoint from both and moves up. The rest forms a second layer.
    assert parts == [("layer", [ops[0], ops[3]]), ("ops", [ops[1], ops[2]]), ("layer", [ops[4], ops[5], ops[6]])]


def test_cost_model_skips_small_layers():
    assert not SP.layer_worthwhile([Operation("rxx", (0, 1))])
    many = [Operation("rxx", (i, 16)) for i in range(16)]
    assert SP.layer_worthwhile(many)
    # an all-Z layer is formed only where diagonal grouping would need several tables
    zz = [Operation("rzz", (i, 16)) for i in range(16)]
    assert SP.layer_worthwhile(zz) and not SP.layer_worthwhile(zz[:4])


@pytest.mark.parametrize("n", [1, 3, 6, 9])
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_wht_view_is_hadamard_on_each_qubit(n, dtype):
    rng = np.random.default_rng(n)
    H = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
    for qs in [list(range(n)), [n - 1], sorted(set(rng.integers(0, n, 3).tolist()))]:
        X = (rng.normal(size=(2, 2**n)) + 1j * rng.normal(size=(2, 2**n))).astype(dtype)
        want = X.astype(complex).reshape((2,) + (2,) * n)
        for q in qs:
            ax = 1 + (n - 1 - q)
            want = np.moveaxis(np.tensordot(H, want, axes=([1], [ax])), 0, ax)
        Y = np.empty_like(X)
        got = Y if K.WhtView(n, qs).apply(X, Y) else X
        np.testing.assert_allclose(got, want.reshape(2, -1), atol=1e-12 if dtype == np.complex128 else 1e-5)


def test_walsh_coefficients_match_sign_sums():
    rng = np.random.default_rng(1)
    n = 8
    A = rng.normal(size=(3, 2**n))
    masks = [(), (0,), (7,), (3,), (0, 7), (2, 5), (1, 5), (5, 6), (0, 3)]
    got = K.walsh_coefficients(A, n, masks)
    x = np.arange(2**n)
    for m in masks:
        sign = np.ones(2**n)
        for q in m:
            sign *= 1 - 2 * ((x >> q) & 1)
        np.testing.assert_allclose(got[m], A @ sign, atol=1e-10)


def test_trailing_cliffords_fold_into_observables():
    ops = [Operation("cx", (0, 1)), Operation("h", (1,)), Operation("s", (1,)), Operation("h", (0,)),
           Operation("rz", (0,), ()), Operation("x", (2,))]
    kept, folded = SP.strip_trailing_cliffords(ops)
    # rz (not a Clifford here) stops the fold on qubit 0; h(0) before it stays too
    assert kept == ops[:1] + ops[3:5] and folded == [ops[1], ops[2], ops[5]]
    obs = Observable((PauliTerm(2.0, ((1, "X"), (2, "Z"))), PauliTerm(1.0, ((1, "Y"),))))
    got = SP.conjugate_observable(obs, folded)
    # U = x(2) s(1) h(1): X1 Z2 -> Y1 (-Z2) and Y1 -> Z1
    assert got.terms == (PauliTerm(-2.0, ((1, "Y"), (2, "Z"))), PauliTerm(1.0, ((1, "Z"),)))
    # and the same numerically: U^dagger O U as dense matrices
    from qcomp.ir.circuit import Circuit

    U = R.unitary(Circuit.from_ops(3, folded))
    for before, after in zip(obs.terms, got.terms):
        o = _dense(3, before)
        np.testing.assert_allclose(U.conj().T @ o @ U, _dense(3, after), atol=1e-12)


def _dense(n: int, term: PauliTerm) -> np.ndarray:
    P = {"X": np.array([[0, 1], [1, 0]]), "Y": np.array([[0, -1j], [1j, 0]]), "Z": np.diag([1.0, -1.0])}
    word = dict(term.paulis)
    m = np.eye(1)
    for q in reversed(range(n)):
        m = np.kron(m, P.get(word.get(q), np.eye(2)))
    return term.coeff * m


def test_folded_observables_do_not_change_states_or_probabilities():
    program = parse("qubit q[3]; param w[1]; rxx(w[0]) q[0], q[1]; h q[2]; s q[1]; h q[1]; measure q; expect z(q[1]);")
    sim = Simulator(program, engine="layers")
    assert [g.name for g in sim.plan("expval").obs_gates] == ["h", "s", "h"]
    assert not sim.plan("forward").obs_gates
    w = np.array([0.8])
    # flat params: no batch axis (the reference oracle always returns rows)
    np.testing.assert_allclose(sim.state(w), R.simulate(program, w)[0], atol=1e-12)
    np.testing.assert_allclose(sim.probs(w), R.probabilities(R.simulate(program, w))[0], atol=1e-12)
    np.testing.assert_allclose(sim.expval(w), R.expvals(program, w)[0], atol=1e-12)  # flat params: no batch axis


@pytest.mark.parametrize("qubits,mode", [((0, 1), "wide"), ((1, 2), "wide"), ((0, 4), "wide"), ((2,), "wide"),
                                         ((5, 6), "matmul"), ((7,), "matmul"), ((6, 7, 8), "matmul"),
                                         ((3, 8), "slices"), ((5, 8), "slices")])
def test_dense_block_modes_match_reference(qubits, mode):
    """Dense blocks run as one widened product, stacked products or slices; all agree with the
    reference, with per-row angles, in both precisions, and through the adjoint."""
    assert K.dense_mode(qubits) == mode
    n = 9
    lines = [f"qubit q[{n}];", "param w[2];", "input x[1];"]
    lines += [f"ry(0.3 * {i + 1}) q[{i}];" for i in range(n)]
    lines += [f"cx q[{i}], q[{i + 1}];" for i in range(n - 1)]  # entangle so blocks act on a general state
    qs = [f"q[{q}]" for q in qubits]
    lines.append(f"rx(w[0] * x[0]) {qs[0]};")
    lines.append(f"ry(w[1]) {qs[-1]};")
    if len(qubits) > 1:
        lines.append(f"cx {qs[0]}, {qs[1]};")
        lines.append(f"rz(w[0] + w[1]) {qs[1]};")
    if len(qubits) > 2:
        lines.append(f"cz {qs[1]}, {qs[2]};")
        lines.append(f"ry(w[1]) {qs[2]};")
    lines.append(f"expect z({qs[0]}) + 0.5 * z({qs[-1]}) @ x(q[{n - 1 if qubits[-1] != n - 1 else 0}]);")
    program = parse("\n".join(lines))
    sim = Simulator(program, engine="layers")
    for kind in ("expval", "adjoint"):
        modes = {K.dense_mode(k.qubits) for k in sim.plan(kind).kernels if k.kind == "dense" and k.uses_params}
        assert mode in modes, (kind, sim.plan(kind).describe())
    rng = np.random.default_rng(len(qubits))
    w = rng.uniform(-2, 2, (3, 2))
    x = rng.uniform(-2, 2, (3, 1))
    want = R.expvals(program, w, x)
    np.testing.assert_allclose(sim.expval(w, x), want, atol=1e-12)
    np.testing.assert_allclose(Simulator(program, engine="layers", precision="single").expval(w, x), want, atol=2e-5)
    g = sim.gradient(w, x)
    fd = np.zeros_like(g)
    for i in range(2):
        d = np.zeros(2)
        d[i] = 1e-6
        fd[:, :, i] = (R.expvals(program, w + d, x) - R.expvals(program, w - d, x)) / 2e-6
    np.testing.assert_allclose(g, fd, atol=1e-7)


def test_layer_inside_a_cache_blocked_run_at_17_qubits():
    """A layer on low qubits of a 17-qubit state runs piece by piece (pieces of 2**16 elements),
    including its Hadamard kernels; the adjoint then transforms psi back instead of restoring it."""
    n = 17
    lines = [f"qubit q[{n}];", "param w[8];", "input x[2];"]
    lines += [f"ry({0.2 * (i + 1)}) q[{i}];" for i in range(n)]
    lines += [f"cx q[{i}], q[{i + 1}];" for i in range(n - 1)]
    lines += [f"rxx(w[{i}]) q[{i}], q[7];" for i in range(7)]
    lines += ["ryy(w[7] * x[0]) q[3], q[16];", "expect z(q[7]) + 0.5 * x(q[2]);"]
    program = parse("\n".join(lines))
    sim = Simulator(program, engine="layers")
    plan = sim.plan("adjoint")
    m = SP.local_qubits(sim.dtype)
    layer = [k for k in plan.kernels if k.kind == "diag" and k.layer]
    assert layer and max(layer[0].qubits) < m and any(k.kind == "wht" and max(k.qubits) < m for k in plan.kernels)
    rng = np.random.default_rng(5)
    w = rng.uniform(-2, 2, 8)
    x = rng.uniform(-1, 1, (2, 2))
    np.testing.assert_allclose(sim.expval(w, x), R.expvals(program, w, x), atol=1e-10)
    g = sim.gradient(w, x)
    for i in (0, 6, 7):
        d = np.zeros(8)
        d[i] = 1e-6
        fd = (R.expvals(program, w + d, x) - R.expvals(program, w - d, x)) / 2e-6
        np.testing.assert_allclose(g[:, :, i], fd, atol=1e-7)


def _many_layers(n: int = 14, layers: int = 6):
    lines = [f"qubit q[{n}];", f"param w[{layers}];"]
    for layer in range(layers):
        word = "rxx" if layer % 2 == 0 else "ryy"
        lines += [f"{word}({0.1 * (i + 1) + layer}) q[{i}], q[{(i + 1) % n}];" for i in range(n)]
        lines += [f"rz(w[{layer}]) q[{layer}];", f"cx q[{layer}], q[{layer + 1}];"]
    lines.append("expect z(q[0]);")
    return parse("\n".join(lines))


@pytest.mark.parametrize("gradient", [False, True])
def test_memory_guard_counts_layer_phase_tables(gradient):
    """Pauli-layer phase tables are as large as a state and live for the whole call: the memory
    guard budgets them (traced peak within the budget) and refuses when they do not fit."""
    import tracemalloc

    from qcomp.errors import ResourceLimitError

    program = _many_layers()
    mp = Simulator(program, engine="layers", threads=1).memory_plan(1, gradient=gradient)
    assert mp["table_bytes"] >= 6 * mp["bytes_per_state"]
    budget = mp["workspace_bytes"] + mp["table_bytes"]
    sim = Simulator(program, engine="layers", threads=1, max_memory_bytes=budget)
    w = np.linspace(0.1, 0.6, 6)
    run = (lambda s: s.gradient(w)) if gradient else (lambda s: s.expval(w))
    tracemalloc.start()
    try:
        run(sim)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= budget
    with pytest.raises(ResourceLimitError, match="phase tables"):
        run(Simulator(program, engine="layers", threads=1, max_memory_bytes=mp["workspace_bytes"]))


def test_blas_threads_restored_after_concurrent_calls():
    """The chunk threads hold BLAS at one thread; concurrent simulator calls from several user
    threads must leave BLAS's own thread count as it was."""
    import threading

    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    if not before:
        pytest.skip("no BLAS library visible to threadpoolctl")
    program = parse("qubit q[6]; param w[3]; " + " ".join(f"rxx(w[{i % 3}]) q[{i}], q[{(i + 1) % 6}];" for i in range(6))
                    + " expect z(q[0]);")
    sim = Simulator(program, engine="layers", threads=4, batch_size=2)
    w = np.random.default_rng(0).uniform(-1, 1, (64, 3))

    def go():
        for _ in range(100):
            sim.expval(w)

    threads = [threading.Thread(target=go) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert blas_threads() == before
