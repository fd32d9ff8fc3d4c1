"""The pass pipeline on noisy programs: channels are fences (nothing moves, merges or cancels across
one), and every -O level and target keeps the noisy result. Oracles: the unoptimised program's
exact density matrix and Qiskit Aer's density matrix (to 1e-10), random programs by hypothesis."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import qcomp
from qcomp.backends.density import DensityMatrixSimulator
from qcomp.ir.channels import is_channel, register_kraus_channel, remove_channel
from qcomp.ir.gates import is_fence
from qcomp.noise import Channel, NoiseModel
from qcomp.pipeline import build

sys.path.insert(0, str(Path(__file__).parent / "backends"))
from noise_oracles import aer_density_matrix, random_noisy_source  # noqa: E402

pytest.importorskip("qiskit_aer")


def _lowered(src: str):
    return qcomp.compile(src, cache=False, optimize=0).program


def _check_levels(prog, params):
    """Every level and target against the unoptimised density matrix; "state" also rho itself."""
    ref = DensityMatrixSimulator(prog)
    rho = ref.density_matrix(params)
    aer = aer_density_matrix(prog, params)
    assert np.abs(rho - aer).max() < 1e-10
    ev = ref.expval(params)
    pm = ref.probs(params, qubits=prog.measured)
    for level in range(4):
        for target in ("state", "sim", "qasm"):
            opt = build(prog, level, target, verify_each=level == 3)  # also every pass's own check
            sim = DensityMatrixSimulator(opt)
            assert np.abs(sim.expval(params) - ev).max() < 1e-10, (level, target)
            # measured qubits keep their declared order (dead-qubits and elide-swaps renumber them)
            assert np.abs(sim.probs(params, qubits=opt.measured) - pm).max() < 1e-10, (level, target)
            if target == "state":
                assert opt.num_qubits == prog.num_qubits
                assert np.abs(sim.density_matrix(params) - rho).max() < 1e-10, level
            if target == "state":  # every channel survives, in its order on each qubit
                for q in range(prog.num_qubits):
                    assert [op.name for op in opt.circuit.ops() if is_channel(op.name) and q in op.qubits] == \
                        [op.name for op in prog.circuit.ops() if is_channel(op.name) and q in op.qubits]


def test_verify_each_checks_noisy_programs_on_the_density_matrix():
    """--verify-each compares density matrices of noisy programs (the reference simulator would
    ignore the channels): a pass that merged across a channel is caught."""
    from qcomp.errors import PassError
    from qcomp.verify_passes import statevector_equivalence_check

    before = _lowered("qubit q; param w; rx(w) q; amplitude_damping(0.5) q; rx(w) q; expect z(q);")
    merged = _lowered("qubit q; param w; rx(2 * w) q; amplitude_damping(0.5) q; expect z(q);")
    with pytest.raises(PassError, match="changed the density matrix"):
        statevector_equivalence_check(before, merged)
    statevector_equivalence_check(before, before)


def test_channels_are_fences():
    assert all(is_fence(n) for n in ("depolarizing", "amplitude_damping", "thermal_relaxation", "readout_error",
                                     "barrier"))
    assert not is_fence("rx")


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 3), length=st.integers(1, 16))
def test_random_noisy_programs_at_every_level_match_the_unoptimised_and_aer(seed, n, length):
    src = random_noisy_source(seed, n, length).replace("measure q;", "readout_error(0.03, 0.06) q[0];\nmeasure q;")
    prog = _lowered(src)
    params = np.random.default_rng(seed).uniform(-np.pi, np.pi, 3)
    _check_levels(prog, params)


def test_no_merge_or_cancel_across_a_channel_on_the_same_qubit():
    src = """qubit q[2]; param w[1];
    rx(w[0]) q[0]; amplitude_damping(0.5) q[0]; rx(-w[0]) q[0];
    h q[1]; phase_damping(0.3) q[1]; h q[1];
    cx q[0], q[1]; cx q[0], q[1];
    expect z(q[0]); expect x(q[1]); measure q;"""
    prog = _lowered(src)
    for level in range(4):
        opt = build(prog, level, "state")
        names = [op.name for op in opt.circuit.ops()]
        assert names.count("amplitude_damping") == 1 and names.count("phase_damping") == 1
        # the rx pair and the h pair straddle channels: still two gates each side (whatever their
        # names after fusion); the cx pair has no channel between it and cancels from -O1
        ch = names.index("amplitude_damping")
        assert any(not is_channel(n) for n in names[:ch]) and any(not is_channel(n) for n in names[ch + 1:])
        assert names.count("cx") == (2 if level == 0 else 0)
    _check_levels(prog, np.array([0.7]))


def test_two_qubit_channels_widen_the_light_cone_and_keep_their_qubits():
    """A correlated two-qubit channel couples an unobserved qubit into the cone: light-cone must
    keep the gates on it, dead-qubits must not cut the channel down."""
    p = 0.4
    cnot = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex)
    name = "test_noisy_cnot_mix"
    register_kraus_channel(name, [np.sqrt(1 - p) * np.eye(4), np.sqrt(p) * cnot])
    try:
        src = f"""qubit q[3]; param w[2];
        ry(w[0]) q[1]; rz(w[1]) q[0]; {name} q[1], q[0]; x q[2]; {name} q[2], q[2 - 2];
        expect z(q[0]); measure q[0];"""
        src = src.replace("q[2 - 2]", "q[0]")
        prog = _lowered(src)
        params = np.array([1.1, 0.4])
        _check_levels(prog, params)
        opt = build(prog, 2, "sim")
        assert opt.num_qubits == 3  # both partners of the channel stay
        assert any(op.name == "ry" or op.name == "u" for op in opt.circuit.ops() if op.qubits == (1,))
        # a qubit with no gate, only the channel: it dephases q[0] through the channel, so it stays
        prog = _lowered(f"qubit q[2]; param w[1]; ry(w[0]) q[0]; {name} q[0], q[1]; expect x(q[0]);")
        _check_levels(prog, np.array([0.8]))
        assert build(prog, 2, "sim").num_qubits == 2
    finally:
        remove_channel(name)


def test_one_qubit_channels_on_unobserved_qubits_are_dropped_with_them():
    src = """qubit q[3]; param w[1];
    ry(w[0]) q[0]; depolarizing(0.1) q[2]; amplitude_damping(0.2) q[1]; ry(0.3) q[1];
    expect z(q[0]);"""
    prog = _lowered(src)
    opt = build(prog, 2, "sim")
    assert opt.num_qubits == 1 and not any(is_channel(op.name) for op in opt.circuit.ops())
    _check_levels(prog, np.array([0.9]))


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_model_simulator_applies_the_noise_model_before_the_passes(level):
    """The noise model attaches by the source's gate names; the passes (which may translate or fuse
    those gates) run afterwards, so every level gives Aer's result with the same model."""
    src = """qubit q[3]; param w[3];
    h q[0]; ry(w[0]) q[0]; ry(w[1]) q[0]; cx q[0], q[1]; rz(w[2]) q[1]; rz(0.2) q[1]; swap q[1], q[2];
    ry(w[2]) q[2]; cx q[2], q[0];
    expect z(q[0]) @ z(q[2]) + 0.5 * x(q[1]); measure q[2], q[0];"""
    noise = (NoiseModel().add_all_qubit_error("depolarizing", ["ry"], params=[0.05])
             .add_all_qubit_error(Channel("amplitude_damping", 0.1), ["cx", "rz"])
             .add_readout_error(0.02, 0.07))
    w = np.array([0.3, -0.8, 1.4])
    model = qcomp.compile(src, cache=False, optimize=level)
    sim = model.simulator(noise=noise, method="density_matrix")
    declared = qcomp.compile(src, cache=False, optimize=0).program
    rho = aer_density_matrix(declared, w, noise_model=noise.to_qiskit())
    assert np.abs(sim.density_matrix(w) - rho).max() < 1e-10
    exact0 = qcomp.compile(src, cache=False, optimize=0).simulator(noise=noise)
    assert np.abs(sim.expval(w) - exact0.expval(w)).max() < 1e-10
    assert np.abs(sim.probs(w) - exact0.probs(w)).max() < 1e-10  # readout included, declared qubits
    assert np.abs(sim.gradient(w) - exact0.gradient(w)).max() < 1e-9
