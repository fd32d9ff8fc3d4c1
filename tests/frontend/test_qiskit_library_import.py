"""Acceptance: Qiskit's QML circuit library and random circuits, written by qasm2.dumps and
qasm3.dumps, import into qcomp and give Qiskit's state vector (1e-10); qcomp's own export of every
modifier loads back into Qiskit (qasm3.loads, and qasm2.loads for version 2) with the same unitary."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

qiskit = pytest.importorskip("qiskit")
from qiskit import qasm2, qasm3  # noqa: E402
from qiskit.circuit.random import random_circuit  # noqa: E402
from qiskit.quantum_info import Operator, SparsePauliOp, Statevector  # noqa: E402

pytest.importorskip("qiskit_qasm3_import")

import qcomp  # noqa: E402
from qcomp.backends import reference  # noqa: E402
from qcomp.backends.qasm import emit_qasm  # noqa: E402
from qcomp.frontend.qasm_import import import_qasm  # noqa: E402
from qcomp.ir.unitary import ops_unitary  # noqa: E402
from qcomp.passes import preset_pipeline  # noqa: E402


def _library() -> dict[str, object]:
    from qiskit.circuit.library import (QFTGate, efficient_su2, n_local, pauli_feature_map, qaoa_ansatz,
                                        real_amplitudes, zz_feature_map)

    qft = qiskit.QuantumCircuit(4)
    qft.append(QFTGate(4), range(4))
    qft_inv = qiskit.QuantumCircuit(3)
    qft_inv.h(range(3))
    qft_inv.append(QFTGate(3).inverse(), range(3))
    cost = SparsePauliOp.from_list([("IIZZ", 1.0), ("IZZI", 1.0), ("ZZII", 1.0), ("ZIIZ", 0.5)])
    return {
        "qft": qft, "qft_inverse": qft_inv,
        "efficient_su2": efficient_su2(4, reps=2), "efficient_su2_full": efficient_su2(3, reps=1, entanglement="full"),
        "real_amplitudes": real_amplitudes(4, reps=3), "zz_feature_map": zz_feature_map(3, reps=2),
        "pauli_feature_map": pauli_feature_map(3, paulis=["X", "Y", "ZZ", "XY"]),
        "two_local": n_local(4, ["ry", "rz"], "cz", reps=2, entanglement="circular"),
        "two_local_crx": n_local(3, "ry", "crx", reps=1, entanglement="full"),
        "qaoa": qaoa_ansatz(cost, reps=2),
    }


def _bind(qc, seed: int):
    rng = np.random.default_rng(seed)
    return qc.assign_parameters(rng.uniform(-np.pi, np.pi, qc.num_parameters)) if qc.num_parameters else qc


def _check(qc, levels=(0,)) -> None:
    want = Statevector(qc.remove_final_measurements(inplace=False)).data
    for dump in (qasm3.dumps, qasm2.dumps):
        text = dump(qc)
        program = import_qasm(text)
        got = reference.simulate(program)[0]
        assert abs(abs(np.vdot(got, want)) - 1) < 1e-10, f"{dump.__module__}: state differs"
        for level in levels:  # the sim presets keep the full state of a program without outputs
            p = program
            for pss in preset_pipeline(level, "sim"):
                p = pss.apply(p)
            if p.num_qubits == program.num_qubits and not p.measured:
                assert abs(abs(np.vdot(reference.simulate(p)[0], want)) - 1) < 1e-10, f"-O{level}"


@pytest.mark.parametrize("name", sorted(_library()))
def test_circuit_library(name: str) -> None:
    qc = _library()[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _check(_bind(qc, 7), levels=(0, 1, 2, 3))
        _check(_bind(qc.decompose(), 8))  # the same after one level of Qiskit's decomposition


@pytest.mark.parametrize("seed", range(48))
def test_random_circuits(seed: int) -> None:
    n = 1 + seed % 8
    qc = random_circuit(n, 4 + seed % 3, max_operands=min(4, n), seed=seed, measure=seed % 2 == 1)
    _check(qc)


MODIFIED = """
qubit q[4];
ctrl @ ry(0.4) q[0], q[1];
ctrl(2) @ rz(0.3) q[3], q[1], q[2];
negctrl @ rx(-0.7) q[2], q[0];
ctrl @ negctrl @ h q[0], q[1], q[2];
negctrl(2) @ x q[1], q[2], q[3];
ctrl @ rxx(0.2) q[0], q[1], q[3];
barrier q[0], q[2];
ctrl @ u(0.1, 0.2, 0.3) q[1], q[0];
pow(0.3) @ t q[0];
ctrl @ pow(0.5) @ y q[1], q[3];
inv @ ctrl @ s q[2], q[1];
pow(2) @ ctrl @ sx q[3], q[2];
ctrl @ gphase(0.6) q[2];
negctrl @ ctrl @ gphase(-0.2) q[0], q[1];
ctrl(3) @ x q[0], q[1], q[2], q[3];
c3sqrtx q[0], q[1], q[2], q[3]; rccx q[2], q[0], q[1]; rc3x q[0], q[1], q[2], q[3]; csx q[1], q[2];
"""


def test_export_of_every_modifier_loads_in_qiskit() -> None:
    program = qcomp.parse(MODIFIED)
    want = ops_unitary(program.circuit.ops(), program.num_qubits)
    text3 = emit_qasm(program, version=3).text
    assert "ctrl(2) @ rz" in text3 and "negctrl @ rx" in text3 and "barrier q[0], q[2];" in text3
    np.testing.assert_allclose(Operator(qasm3.loads(text3)).data, want, atol=1e-10)
    text2 = emit_qasm(program, version=2).text
    qc2 = qasm2.loads(text2, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    np.testing.assert_allclose(Operator(qc2).data, want, atol=1e-10)
    # and back: qcomp reads its own OpenQASM 3 (modifiers included)
    again = import_qasm(text3)
    np.testing.assert_allclose(ops_unitary(again.circuit.ops(), 4), want, atol=1e-10)


def test_export_in_a_basis_and_at_every_level() -> None:
    program = qcomp.parse(MODIFIED + "expect z(q[0]) @ x(q[3]);\nexpect y(q[1]);\n")
    want = reference.expvals(program)
    for level in (1, 2, 3):
        p = program
        for pss in preset_pipeline(level, "qasm"):
            p = pss.apply(p)
        assert {op.name for op in p.circuit.ops()} <= {"rz", "sx", "x", "cx", "barrier"}
        np.testing.assert_allclose(reference.expvals(p), want, atol=1e-9)
    text = emit_qasm(program, version=2, basis="rz,sx,x,cx").text
    qc = qasm2.loads(text)
    assert set(qc.count_ops()) <= {"rz", "sx", "x", "cx", "barrier"}


def test_let_aliases_and_several_registers() -> None:
    text = ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nqubit[2] r;\nlet a = q[1] ++ r[0:1];\nlet b = q;\n'
            "x a[0]; h a[2]; cx b[0], a[1]; ctrl @ ry(0.3) a[2], b[0];\nbarrier a;\n")
    qc = qiskit.QuantumCircuit(4)
    qc.x(1); qc.h(3); qc.cx(0, 2); qc.cry(0.3, 3, 0)
    got = reference.simulate(import_qasm(text))[0]
    np.testing.assert_allclose(got, Statevector(qc).data, atol=1e-12)


def test_q_program_takes_its_circuit_from_a_qasm_file(tmp_path) -> None:
    qc = _bind(_library()["real_amplitudes"], 3)
    (tmp_path / "ansatz.qasm").write_text(qasm3.dumps(qc))
    (tmp_path / "model.q").write_text('include "ansatz.qasm";\nexpect z(q[0]) @ z(q[3]);\nexpect x(q[1]);\n')
    program = qcomp.parse_file(str(tmp_path / "model.q"))
    sv = Statevector(qc)
    want = [sv.expectation_value(SparsePauliOp("ZIIZ")).real, sv.expectation_value(SparsePauliOp("IIXI")).real]
    np.testing.assert_allclose(reference.expvals(program)[0], want, atol=1e-10)
