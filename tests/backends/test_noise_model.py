"""Noise models: applying them, JSON round trips, Qiskit Aer import (calibration-like backends) and export."""

from __future__ import annotations

import json

import numpy as np
import pytest

import qcomp
from qcomp.backends.density import DensityMatrixSimulator
from qcomp.noise import Channel, NoiseModel, NoiseModelError

SRC = "qubit q[2]; param w[2]; rx(w[0]) q[0]; cx q[0], q[1]; ry(w[1]) q[1]; expect z(q[0]) + z(q[1]); measure q;"


def test_apply_places_channels_after_matching_gates():
    prog = qcomp.compile(SRC, cache=False).program
    nm = (NoiseModel().add_all_qubit_error("depolarizing", ["rx", "ry"], params=[0.1])
          .add_all_qubit_error(Channel("bit_flip", 0.02), "cx")
          .add_quantum_error(Channel("amplitude_damping", 0.3), ["ry"], [1])
          .add_readout_error(0.01, 0.03, qubits=[1]))
    names = [(op.name, op.qubits) for op in nm.apply(prog).circuit.ops()]
    assert names == [("rx", (0,)), ("depolarizing", (0,)), ("cx", (0, 1)), ("bit_flip", (0,)), ("bit_flip", (1,)),
                     ("ry", (1,)), ("amplitude_damping", (1,)), ("readout_error", (1,))]


def test_json_round_trip_and_file(tmp_path):
    K = [np.sqrt(0.9) * np.eye(2), np.sqrt(0.1) * np.array([[0, 1], [1, 0]])]
    nm = (NoiseModel().add_all_qubit_error("thermal_relaxation", "all", params=[50, 60, 3])
          .add_quantum_error(Channel.from_kraus(K), ["rx"], [0]).add_readout_error(0.02, 0.04))
    path = tmp_path / "noise.json"
    nm.save(path)
    back = NoiseModel.load(path)
    assert back == nm
    prog = qcomp.compile(SRC, cache=False).program
    w = np.array([0.3, 0.9])
    assert np.allclose(DensityMatrixSimulator(nm.apply(prog)).probs(w), DensityMatrixSimulator(back.apply(prog)).probs(w))
    bad = json.loads(path.read_text())
    bad["errors"][0]["params"] = [50, 200, 3]  # t2 > 2 t1
    path.write_text(json.dumps(bad))
    with pytest.raises(NoiseModelError, match=r"errors\[0\].*t2 <= 2 t1"):
        NoiseModel.load(path)
    with pytest.raises(NoiseModelError, match="unknown gate 'foo'"):
        NoiseModel().add_all_qubit_error("depolarizing", ["foo"], params=[0.1])
    with pytest.raises(NoiseModelError, match="not trace preserving"):
        Channel.from_kraus([np.eye(2) * 1.1])


def test_model_simulator_with_noise_json_matches_aer_with_exported_model(tmp_path):
    pytest.importorskip("qiskit_aer")
    from noise_oracles import aer_density_matrix

    nm = (NoiseModel().add_all_qubit_error("depolarizing", ["rx", "ry"], params=[0.1])
          .add_all_qubit_error("amplitude_damping", ["cx"], params=[0.05]))
    path = tmp_path / "m.json"
    nm.save(path)
    m = qcomp.compile(SRC, cache=False)
    w = np.array([0.3, 0.9])
    sim = m.simulator(noise=str(path))
    ref = aer_density_matrix(m.program, w, noise_model=nm.to_qiskit())
    from noise_oracles import expval_of

    assert abs(sim.expval(w)[0] - expval_of(ref, m.program.observables[0], 2)) < 1e-10


def test_import_calibration_like_backend_model():
    pytest.importorskip("qiskit_aer")
    from qiskit.providers.fake_provider import GenericBackendV2
    from qiskit_aer.noise import NoiseModel as AerNoiseModel

    from noise_oracles import aer_density_matrix

    aer = AerNoiseModel.from_backend(GenericBackendV2(3, seed=11))
    with pytest.raises(NoiseModelError, match="reset.*unsupported='drop'"):
        NoiseModel.from_qiskit(aer)
    nm = NoiseModel.from_qiskit(aer, unsupported="drop")
    prog = qcomp.compile("qubit q[3]; sx q[0]; x q[1]; cx q[0], q[1]; cx q[1], q[2]; rz(0.3) q[2]; sx q[2];"
                         "expect z(q[0]) @ z(q[1]) + x(q[2]);", cache=False).program
    noisy = nm.apply(prog)
    assert sum(op.name.startswith(("kraus_", "pauli_channel")) for op in noisy.circuit.ops()) >= 4
    rho = DensityMatrixSimulator(noisy).density_matrix()
    ref = aer_density_matrix(prog, np.zeros(0), noise_model=aer)
    assert np.abs(rho - ref).max() < 1e-10


def test_cli_run_with_noise_and_compile_noise_out(tmp_path, capsys):
    from qcomp.cli import main

    src = tmp_path / "m.q"
    src.write_text("qubit q[2]; param w[2]; rx(w[0]) q[0]; cx q[0], q[1]; ry(w[1]) q[1];\n"
                   "expect z(q[0]) + z(q[1]); measure q;\n")
    params = tmp_path / "w.npy"
    np.save(params, np.array([0.3, 0.9]))
    nm = NoiseModel().add_all_qubit_error("depolarizing", "all", params=[0.1])
    nm.save(tmp_path / "noise.json")
    assert main(["run", str(src), "--params", str(params), "--noise", str(tmp_path / "noise.json"),
                 "-o", str(tmp_path / "out.json")]) == 0
    got = json.loads((tmp_path / "out.json").read_text())
    m = qcomp.compile(str(src), cache=False)
    expected = m.simulator(noise=nm).expval(np.array([0.3, 0.9]))[0]
    assert np.isclose(got["values"][0][0], expected)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "qcomp-noise-model", "errors": [{"channel": "depolarizing", "params": [2]}]}')
    capsys.readouterr()
    assert main(["run", str(src), "--params", str(params), "--noise", str(bad)]) == 1
    assert "errors[0]: 'depolarizing' needs 0 <= p <= 1, got 2" in capsys.readouterr().err

    capsys.readouterr()
    assert main(["run", str(src), "--params", str(params), "--noise", str(tmp_path / "noise.json"),
                 "--backend", "qiskit-statevector"]) == 1
    assert "--noise runs on qcomp's simulator" in capsys.readouterr().err

    noisy = tmp_path / "n.q"
    noisy.write_text("qubit q[2]; param w;\nrx(w) q[0];\ndepolarizing(0.1) q;\ncx q[0], q[1];\n"
                     "amplitude_damping(w / 10) q[1];\nexpect z(q[1]);\n")
    capsys.readouterr()
    assert main(["compile", str(noisy), "-o", str(tmp_path / "n.qasm")]) == 1
    err = capsys.readouterr().err
    assert "n.q:3:1: error: 'depolarizing' is a noise channel" in err and "--noise-out" in err
    assert not (tmp_path / "n.qasm").exists()
    assert main(["compile", str(noisy), "-o", str(tmp_path / "n.qasm"), "--noise-out", str(tmp_path / "ch.json")]) == 0
    text = (tmp_path / "n.qasm").read_text()
    assert "rx(" in text and "cx q[0], q[1];" in text and "depolarizing" not in text
    ch = json.loads((tmp_path / "ch.json").read_text())
    assert [(c["channel"], c["qubits"], c["after"], c["line"]) for c in ch["channels"]] == [
        ("depolarizing", [0], 1, 3), ("depolarizing", [1], 1, 3), ("amplitude_damping", [1], 2, 5)]
    assert ch["channels"][2]["params"] == ["w / 10"]


def test_import_ibm_fake_backend_model():
    pytest.importorskip("qiskit_aer")
    fake = pytest.importorskip("qiskit_ibm_runtime.fake_provider")
    from qiskit_aer.noise import NoiseModel as AerNoiseModel

    from noise_oracles import aer_density_matrix

    aer = AerNoiseModel.from_backend(fake.FakeManilaV2())
    nm = NoiseModel.from_qiskit(aer, unsupported="drop")
    prog = qcomp.compile("qubit q[5]; x q[0]; sx q[1]; cx q[0], q[1]; cx q[1], q[2]; cx q[3], q[4]; rz(0.7) q[2];"
                         "sx q[2]; cx q[2], q[3]; expect z(q[1]) @ z(q[2]) + x(q[2]) + z(q[4]); measure q;",
                         cache=False).program
    ref = aer_density_matrix(prog, np.zeros(0), noise_model=aer)
    sim = DensityMatrixSimulator(nm.apply(prog))
    # 4e-10 rather than 1e-15: with each cx error alone, only cx(0, 1) (a 144-term error with
    # terms of probability ~1e-10) differs from Aer; the imported channels are the errors' exact
    # superoperators (next test), so the difference is in Aer's simulation of that error
    assert np.abs(sim.density_matrix() - ref).max() < 1e-9
    # readout errors from the calibration act on the outcome probabilities
    probs = sim.probs(qubits=[0])
    p0 = float(np.real(ref[0::2, 0::2].trace()))  # qubit 0 in |0> (index bit 0 clear)
    ro = aer._local_readout_errors[(0,)].probabilities
    assert np.isclose(probs[0], p0 * ro[0][0] + (1 - p0) * ro[1][0])


def test_imported_errors_are_the_exact_superoperators():
    pytest.importorskip("qiskit_aer")
    fake = pytest.importorskip("qiskit_ibm_runtime.fake_provider")
    from qiskit.quantum_info import Kraus, SuperOp
    from qiskit_aer.noise import NoiseModel as AerNoiseModel

    from qcomp.ir.channels import CHANNELS
    from qcomp.noise import _reverse_qubits

    aer = AerNoiseModel.from_backend(fake.FakeManilaV2())
    nm = NoiseModel.from_qiskit(aer, unsupported="drop")
    checked = 0
    for e in nm._errors:
        gate, qubits = e.gates[0], e.qubits
        err = aer._local_quantum_errors[gate][qubits]
        k = len(qubits)
        ours = [_reverse_qubits(np.asarray(K), k) for K in CHANNELS[e.channel.name].kraus(*e.channel.params)]
        assert np.abs(SuperOp(Kraus(ours)).data - SuperOp(err.to_quantumchannel()).data).max() < 1e-14
        checked += 1
    assert checked == 8 + 5 * 3  # cx on 8 directed pairs; id, sx, x on 5 qubits


DYNAMIC = """qubit q[2];
bit c;
param w;
ry(w) q[0];
c = measure q[0];
if (c == 1) { x q[1]; }
expect z(q[1]);
"""


def test_noise_on_dynamic_programs():
    """Noise after unconditioned gates works on a dynamic program (the branch mixture, checked by
    hand); noise on a conditioned gate or readout errors on mid-circuit bits are refused, located."""
    model = qcomp.Model(qcomp.parse(DYNAMIC, name="d.q"), 0)
    nm = NoiseModel().add_all_qubit_error(Channel("bit_flip", 0.1), ["ry"])
    w = 0.7
    # ry(w) then a bit flip of q[0]: P(c = 1) = 0.9 sin^2(w/2) + 0.1 cos^2(w/2); then <Z q1> = 1 - 2 P
    p1 = 0.9 * np.sin(w / 2) ** 2 + 0.1 * np.cos(w / 2) ** 2
    got = model.simulator(noise=nm).expval(np.array([[w]]))
    assert np.allclose(got, 1 - 2 * p1, atol=1e-12)

    cond = NoiseModel().add_all_qubit_error(Channel("bit_flip", 0.1), ["x"])
    with pytest.raises(NoiseModelError, match="conditioned gate 'x'") as info:
        model.simulator(noise=cond)
    assert (info.value.span.file, info.value.span.line) == ("d.q", 6)
    readout = NoiseModel().add_readout_error(0.02, 0.05)
    with pytest.raises(NoiseModelError, match="mid-circuit") as info:
        model.simulator(noise=readout)
    assert info.value.span.line == 5
