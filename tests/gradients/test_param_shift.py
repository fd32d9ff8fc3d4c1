"""Parameter-shift GradientPrograms: equal to finite differences and to the adjoint method."""

from __future__ import annotations

import glob
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qcomp
from qcomp.errors import InputError, PassError
from qcomp.gradients import (
    ReferenceExecutor,
    SimulatorExecutor,
    evaluate_gradient_program,
    finite_diff_gradient,
    gradient_program,
    parameter_shift_gradient,
)
from qcomp.ir.gates import GATES
from qcomp.passes import make_pass
from qcomp.passes.param_shift import build_gradient_program, light_cones

REF = ReferenceExecutor()
EXAMPLES = sorted(glob.glob("examples/*.q"))


def _simulator():
    try:
        from qcomp.backends.simulator import Simulator
    except ImportError:
        return None
    return Simulator if hasattr(Simulator, "gradient") else None


def _values(program, B, seed):
    rng = np.random.default_rng(seed)
    w = rng.uniform(-math.pi, math.pi, (B, program.num_params))
    x = rng.uniform(-1, 1, (B, program.num_inputs))
    return w, x


@pytest.mark.parametrize("path", EXAMPLES)
def test_examples_shift_equals_finite_diff_and_adjoint(path):
    program = qcomp.parse_file(path)
    big = program.num_qubits > 10
    B = 1 if big else 3
    w, x = _values(program, B, 1)
    if "mnist" in path:
        x = np.round((x + 1) / 2)  # binary pixels
    Sim = _simulator()
    ex = SimulatorExecutor() if (big and Sim) else REF
    wrt = "params" if big else "both"
    g = parameter_shift_gradient(program, w, x, ex, wrt=wrt)
    n = program.num_params + (0 if big else program.num_inputs)
    assert g.shape == (B, program.num_outputs, n)
    fd = finite_diff_gradient(program, w, x, ex, wrt=wrt)
    np.testing.assert_allclose(g, fd, atol=1e-7, rtol=0)
    if Sim is not None and program.num_params:
        adj = Sim(program).gradient(w, x, method="adjoint")
        np.testing.assert_allclose(g[..., : program.num_params], adj, atol=1e-8, rtol=0)
    assert np.abs(g).max() > 1e-3  # not trivially zero


# -- hypothesis-generated programs covering every parameterized gate ------------------------

ANGLE_FORMS = [
    "w[{i}]",
    "w[{i}] * x[{k}]",
    "sin(w[{i}])",
    "cos(w[{i}]) + 0.5 * x[{k}]",
    "w[{i}] * w[{j}]",
    "2 * w[{i}] - 0.3",
    "w[{i}] ** 2",
    "exp(0.3 * w[{j}]) * x[{k}]",
    "0.7",
    "x[{k}]",
    "-w[{j}] / 3",
]
PARAM_GATES = [g.name for g in GATES.values() if g.num_angles]
FIXED_GATES = ["h", "cx", "sx", "s", "t", "swap", "iswap", "cz", "y"]
NQ, NP, NI = 3, 4, 2
USER_GATES = """
gate blk(a, b) s, t { ry(a) s; crx(b) s, t; u(a, b, 0.3) t; rzz(a * b) s, t; sx t; }
gate pair(a) s, t { cp(a) s, t; ryy(2 * a) s, t; inv @ blk(a, 0.4) t, s; }
"""


@st.composite
def angle(draw):
    form = draw(st.sampled_from(ANGLE_FORMS))
    return form.format(i=draw(st.integers(0, NP - 1)), j=draw(st.integers(0, NP - 1)), k=draw(st.integers(0, NI - 1)))


@st.composite
def statement(draw):
    kind = draw(st.sampled_from(PARAM_GATES + FIXED_GATES + ["blk", "inv_blk", "pair", "inv_pair", "inv_lib"]))
    qs = draw(st.permutations(range(NQ)))
    if kind in ("blk", "inv_blk"):
        pre = "inv @ " if kind == "inv_blk" else ""
        return f"{pre}blk({draw(angle())}, {draw(angle())}) q[{qs[0]}], q[{qs[1]}];"
    if kind in ("pair", "inv_pair"):
        pre = "inv @ " if kind == "inv_pair" else ""
        return f"{pre}pair({draw(angle())}) q[{qs[0]}], q[{qs[1]}];"
    name = draw(st.sampled_from(PARAM_GATES)) if kind == "inv_lib" else kind
    g = GATES[name]
    args = "(" + ", ".join(draw(angle()) for _ in range(g.num_angles)) + ")" if g.num_angles else ""
    pre = "inv @ " if kind == "inv_lib" else ""
    return f"{pre}{name}{args} " + ", ".join(f"q[{q}]" for q in qs[: g.num_qubits]) + ";"


OBSERVABLES = [
    "z(q[0])",
    "x(q[1]) @ y(q[2])",
    "0.5 * z(q[0]) @ z(q[1]) - 0.25 * x(q[2])",
    "y(q[0]) + 2 * z(q[2])",
]


@st.composite
def program_source(draw):
    # every parameterized gate at least once, in random order, mixed with the drawn statements
    forced = []
    for name in PARAM_GATES:
        g = GATES[name]
        qs = draw(st.permutations(range(NQ)))
        args = ", ".join(draw(angle()) for _ in range(g.num_angles))
        forced.append(f"{name}({args}) " + ", ".join(f"q[{q}]" for q in qs[: g.num_qubits]) + ";")
    body = forced + draw(st.lists(statement(), min_size=1, max_size=8))
    body = draw(st.permutations(body))
    outs = draw(st.lists(st.sampled_from(OBSERVABLES), min_size=1, max_size=2, unique=True))
    return (
        f"qubit q[{NQ}];\nparam w[{NP}];\ninput x[{NI}];\n{USER_GATES}\n"
        + "\n".join(body)
        + "\n"
        + "\n".join(f"expect {o};" for o in outs)
        + "\n"
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(src=program_source(), seed=st.integers(0, 2**31))
def test_generated_programs_shift_equals_finite_diff_and_adjoint(src, seed):
    program = qcomp.parse(src)
    # the light cone is exactly the set of DAG ancestors of the output qubits
    g_nx = program.circuit.to_networkx()
    pos = {n: i for i, n in enumerate(program.circuit.nodes())}
    for obs, cone in zip(program.observables, light_cones(program)):
        anc = {pos[n] for q in obs.qubits for n in nx.ancestors(g_nx, ("out", q)) if isinstance(n, int)}
        assert cone == anc
    w, x = _values(program, 2, seed)
    g = parameter_shift_gradient(program, w, x, REF, wrt="both")
    fd = finite_diff_gradient(program, w, x, REF, wrt="both")
    # central differences (h = 1e-5) carry O(h^2 |f'''|) truncation error: relative slack for steep programs
    np.testing.assert_allclose(g, fd, atol=2e-6, rtol=1e-6)  # exactness is checked against the adjoint below
    Sim = _simulator()
    if Sim is not None:
        adj = Sim(program).gradient(w, x, method="adjoint")
        np.testing.assert_allclose(g[..., :NP], adj, atol=1e-8, rtol=0)
        np.testing.assert_allclose(parameter_shift_gradient(program, w, x, SimulatorExecutor()), g[..., :NP], atol=1e-10)


def test_every_parametric_gate_is_applied_directly():
    # crx/cry/crz use four circuits, the others two; no decomposition (the shifted op is the same gate)
    for name in PARAM_GATES:
        g = GATES[name]
        args = ", ".join(f"w[{k}]" for k in range(g.num_angles))
        qs = ", ".join(f"q[{k}]" for k in range(g.num_qubits))
        prog = qcomp.parse(f"qubit q[2]; param w[3]; h q[0]; h q[1]; {name}({args}) {qs}; expect x(q[0]) + y(q[1]);")
        gp = build_gradient_program(prog)
        expected = 4 if name in ("crx", "cry", "crz") else 2
        assert gp.num_circuits == expected * g.num_angles, name
        for c in range(gp.num_circuits):
            assert [op.name for op in gp.shifted_ops(c)] == ["h", "h", name]


def test_shared_params_light_cone_and_dedup():
    src = """
    qubit q[3]; param w[4]; input x[2];
    rx(w[0] * x[1]) q[0];
    ry(w[0]) q[1];
    rz(sin(w[1])) q[1];
    cx q[0], q[1];
    rx(w[3]) q[2];       // not in the light cone of the output
    rx(w[0]) q[0];       // after the cx: outside the light cone too
    expect z(q[1]);
    """
    program = qcomp.parse(src)
    gp = build_gradient_program(program)
    assert gp.num_circuits == 2 * 3  # two live occurrences of w[0], one of w[1]; none for w[2], w[3]
    assert set(gp.terms) == {(0, 0), (0, 1)}
    assert len(gp.terms[(0, 0)]) == 4
    coeff_texts = {str(e) for _, e in gp.terms[(0, 0)]}
    assert "0.5 * x[1]" in coeff_texts and "-0.5 * x[1]" in coeff_texts
    assert {str(e) for _, e in gp.terms[(0, 1)]} == {"0.5 * cos(w[1])", "-0.5 * cos(w[1])"}
    w, x = _values(program, 4, 3)
    g = evaluate_gradient_program(gp, w, x, REF)
    assert np.all(g[..., 2:] == 0.0)  # exact zeros
    np.testing.assert_allclose(g, finite_diff_gradient(program, w, x, REF), atol=1e-8)


def test_identical_shifted_circuits_are_deduplicated():
    # one angle depending on two params and read by two outputs: its two shifted circuits serve all
    # four (output, param) derivatives
    program = qcomp.parse("qubit q[2]; param w[2]; h q[0]; rx(w[0] * w[1]) q[0]; cx q[0], q[1]; expect y(q[0]); expect z(q[1]);")
    gp = build_gradient_program(program)
    assert gp.num_circuits == 2
    assert set(gp.terms) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert {c for lst in gp.terms.values() for c, _ in lst} == {0, 1}
    # second order: the rule applied twice shifts by 0 and pi, and 0 is the shared unshifted circuit
    program = qcomp.parse("qubit q; param w; h q; rz(w) q; expect x(q);")
    gp = build_gradient_program(program, order=2)
    assert gp.circuits[0] == ()  # the unshifted circuit is listed first
    assert gp.num_circuits == 2
    assert {str(e) for _, e in gp.terms[(0, 0, 0)]} == {"-0.5", "0.5"}


def test_pass_registered_and_slot_program():
    program = qcomp.parse("qubit q[2]; param w[2]; ry(w[0]) q[0]; crz(w[1] * 2) q[0], q[1]; h q[1]; expect x(q[1]);")
    p = make_pass("param-shift", {"order": "1"})
    slot = p.run(program)
    assert slot.num_params == program.num_params + 2
    assert slot.params[-1].name == "qcomp_shift"
    assert program.num_params == 2  # input not mutated
    gp = p.build(program)
    w = np.array([0.3, -1.1])
    # shifted circuit c == slot program with its shift vector appended
    from qcomp.backends.reference import expvals

    for c in range(gp.num_circuits):
        a = expvals(gp.shifted_program(c), w)
        b = expvals(slot, np.concatenate([w, gp.shift_matrix()[c]]))
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_input_gradients_and_errors():
    program = qcomp.parse("qubit q; param w; input x[2]; rx(w * x[0]) q; ry(x[1] ** 2) q; expect z(q);")
    w, x = np.array([0.4]), np.array([[0.5, -0.7], [1.2, 0.1]])
    gi = parameter_shift_gradient(program, w, x, REF, wrt="inputs")
    assert gi.shape == (2, 1, 2)
    np.testing.assert_allclose(gi, finite_diff_gradient(program, w, x, REF, wrt="inputs"), atol=1e-8)
    with pytest.raises(PassError, match="differentiate with respect"):
        gradient_program(program, wrt="weights")
    with pytest.raises(PassError, match="order"):
        build_gradient_program(program, order=3)
    with pytest.raises(InputError, match="params"):
        parameter_shift_gradient(program, np.zeros(3), x, REF)
    with pytest.raises(InputError, match="1 param"):
        parameter_shift_gradient(program, None, x, REF)
    with pytest.raises(InputError, match="2 input"):
        finite_diff_gradient(program, w, None, REF)
    with pytest.raises(InputError, match="finite"):
        parameter_shift_gradient(program, np.array([np.nan]), x, REF)


def test_no_params_and_constant_observable():
    program = qcomp.parse("qubit q; input x; rx(x) q; expect z(q);")
    g = parameter_shift_gradient(program, None, np.array([[0.3]]), REF)
    assert g.shape == (1, 1, 0)
    program = qcomp.parse("qubit q[2]; param w; rx(w) q[0]; expect z(q[1]);")
    gp = build_gradient_program(program)
    assert gp.num_circuits == 0
    assert np.all(evaluate_gradient_program(gp, np.array([0.2]), None, REF) == 0)


def test_chunked_evaluation_matches():
    program = qcomp.parse_file("examples/hea_vqe.q")
    w, x = _values(program, 3, 5)
    a = parameter_shift_gradient(program, w, x, REF)
    b = parameter_shift_gradient(program, w, x, REF, batch_bytes=16 * 2**program.num_qubits * 7)
    np.testing.assert_allclose(a, b, atol=1e-13)


def test_simulator_gradient_dispatch():
    Sim = _simulator()
    if Sim is None:
        pytest.skip("qcomp.backends.simulator is not available")
    from qcomp.gradients import GradientMethods, finite_diff_hessian, simulator_hessian

    program = qcomp.parse_file("examples/reuploading_classifier.q")
    # the simulator itself differentiates by adjoint only; the gradients mixin adds the others
    with pytest.raises(qcomp.QCompError, match="adjoint"):
        Sim(program).gradient(np.zeros(program.num_params), np.zeros(program.num_inputs), method="parameter-shift")

    class WithMethods(GradientMethods, Sim):
        pass

    sim = WithMethods(program)
    w, x = _values(program, 3, 9)
    adj = sim.gradient(w, x, method="adjoint")
    with pytest.raises(qcomp.QCompError, match="unknown gradient method 'backprop'"):
        sim.gradient(w, x, method="backprop")
    np.testing.assert_allclose(sim.hessian(w[:1], x[:1]), simulator_hessian(sim, w[:1], x[:1]), atol=1e-12)
    np.testing.assert_allclose(sim.gradient(w, x, method="parameter-shift"), adj, atol=1e-10)
    np.testing.assert_allclose(sim.gradient(w, x, method="finite-diff"), adj, atol=1e-7)
    H = simulator_hessian(sim, w[:1], x[:1])
    assert H.shape == (1, 2, 24, 24)
    np.testing.assert_allclose(H, finite_diff_hessian(program, w[:1], x[:1], SimulatorExecutor()), atol=2e-7)
