"""Model simulators report state, probs and sample over the declared qubits, whatever the passes
removed (dead-qubits), relabelled (elide-swaps) or pruned (light-cone)."""

import numpy as np
import pytest

import qcomp
from qcomp.backends import reference


def _fidelity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(np.sum(np.conj(a) * b, axis=1))


def test_dead_qubit_keeps_its_place():
    m = qcomp.compile("qubit a; qubit b; qubit c; x c; expect z(c);", optimize=2, cache=False)
    sim = m.simulator()
    assert m.optimized("sim").num_qubits == 1  # the passes did drop a and b
    st = sim.state()
    assert st.shape == (8,)  # no argument batched: no batch axis
    assert abs(st[0b100]) == pytest.approx(1.0)
    assert sim.sample(shots=16, seed=0) == {"100": 16}
    np.testing.assert_allclose(sim.probs(qubits=[2]), [0.0, 1.0])
    np.testing.assert_allclose(sim.probs(qubits=[0]), [1.0, 0.0])
    np.testing.assert_allclose(sim.expval(), [-1.0])


def test_swap_is_not_a_relabelling_of_the_result():
    m = qcomp.compile("qubit a; qubit b; x a; swap a, b; expect z(b);", optimize=2, cache=False)
    sim = m.simulator()
    assert sim.sample(shots=8, seed=1) == {"10": 8}
    np.testing.assert_allclose(sim.probs(), [0, 0, 1, 0], atol=1e-12)


def test_measured_qubits_after_swap_and_light_cone():
    src = "qubit q[3]; x q[0]; swap q[0], q[2]; h q[1]; measure q[2]; expect z(q[2]);"
    m = qcomp.compile(src, optimize=3, cache=False)
    sim = m.simulator()
    assert sim.sample(shots=8, seed=2) == {"1": 8}  # default: the measured qubit, declared q[2]
    np.testing.assert_allclose(sim.probs(qubits=[2]), [0, 1], atol=1e-12)
    np.testing.assert_allclose(sim.probs(qubits=[1]), [0.5, 0.5], atol=1e-12)


GATES1 = ["h", "x", "s", "t", "sx"]
GATES_P = ["rx", "ry", "rz"]


def _random_program(rng: np.random.Generator) -> tuple[str, int]:
    n = int(rng.integers(2, 6))
    active = sorted(rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False).tolist())
    lines = [f"qubit q[{n}];", "param w[3];"]
    for _ in range(int(rng.integers(3, 14))):
        kind = rng.integers(0, 4)
        if kind == 0:
            lines.append(f"{rng.choice(GATES1)} q[{rng.choice(active)}];")
        elif kind == 1:
            lines.append(f"{rng.choice(GATES_P)}(w[{rng.integers(0, 3)}]) q[{rng.choice(active)}];")
        elif len(active) > 1:
            a, b = rng.choice(active, size=2, replace=False)
            lines.append(f"{'swap' if kind == 2 else rng.choice(['cx', 'cz'])} q[{a}], q[{b}];")
    observed = rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False)
    if rng.random() < 0.4:
        lines.append(f"measure q[{observed[0]}];")
    lines.append(f"expect z(q[{observed[0]}]);")
    if len(observed) > 2:
        lines.append(f"expect x(q[{observed[1]}]) @ z(q[{observed[2]}]);")
    return " ".join(lines), n


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_random_programs_match_the_reference_on_the_source(level):
    rng = np.random.default_rng(100 + level)
    for trial in range(25):
        src, n = _random_program(rng)
        m = qcomp.compile(src, optimize=level, cache=False)
        sim = m.simulator()
        w = rng.uniform(-np.pi, np.pi, (3, 3))
        want = reference.simulate(m.program, w)
        got = sim.state(w)
        assert got.shape == want.shape, src
        np.testing.assert_allclose(_fidelity(got, want), 1.0, atol=1e-9, err_msg=src)
        np.testing.assert_allclose(sim.probs(w), reference.probabilities(want, m.program.measured or None),
                                   atol=1e-9, err_msg=src)
        qs = rng.permutation(n)[: int(rng.integers(1, n + 1))].tolist()
        np.testing.assert_allclose(sim.probs(w, qubits=qs), reference.probabilities(want, qs), atol=1e-9,
                                   err_msg=f"{src} qubits={qs}")
        np.testing.assert_allclose(sim.expval(w), reference.expvals(m.program, w), atol=1e-9, err_msg=src)
        # sampling: only outcomes with reference probability > 0, with the declared width
        counts = sim.sample(w, shots=64, seed=trial, qubits=qs)
        p = reference.probabilities(want, qs)
        for b, c in enumerate(counts):
            assert sum(c.values()) == 64
            for key in c:
                assert len(key) == len(qs)
                assert p[b, int(key, 2)] > 1e-12, (src, qs, key)


def test_qubit_out_of_declared_range_is_an_input_error():
    m = qcomp.compile("qubit a; qubit b; qubit c; x c; expect z(c);", cache=False)
    with pytest.raises(qcomp.QCompError, match="out of range for a 3-qubit"):
        m.simulator().probs(qubits=[3])


def test_state_program_is_the_sim_program_when_no_pass_drops_qubits():
    m = qcomp.compile("qubit a; qubit b; x b; expect z(a);", optimize=1, cache=False)
    assert m.optimized("state") is m.optimized("sim")
    m2 = qcomp.compile("qubit a; qubit b; x b; expect z(a);", optimize=2, cache=False)
    assert m2.optimized("state").num_qubits == 2


def test_model_simulator_pickles_by_name():
    import pickle

    m = qcomp.compile("qubit a; qubit b; param w; rx(w) b; expect z(b);", cache=False)
    sim = pickle.loads(pickle.dumps(m.simulator()))
    assert type(sim).__qualname__ == "ModelSimulator"
    assert sim.state([0.3]).shape == (4,)  # flat params: no batch axis
    np.testing.assert_allclose(sim.probs([np.pi], qubits=[1]), [0.0, 1.0], atol=1e-12)
