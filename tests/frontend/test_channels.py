"""Channels in .q source: lowering, broadcasting, located errors, text round trip, passes and export."""

from __future__ import annotations

import numpy as np
import pytest

import qcomp
from qcomp.errors import ExportError, SemanticError
from qcomp.ir.channels import register_kraus_channel, remove_channel


def _lower(src: str):
    return qcomp.compile(src, cache=False, optimize=0).program


def test_channels_lower_like_gates_and_broadcast():
    p = _lower("qubit q[3]; param w; input x; depolarizing(0.1) q; amplitude_damping(w * x) q[1];"
               "thermal_relaxation(50, 70, 2 * w) q[0]; pauli_channel(0.1, 0.2, 0.3) q[2]; expect z(q[0]);")
    ops = [(op.name, op.qubits) for op in p.circuit.ops()]
    assert ops == [("depolarizing", (0,)), ("depolarizing", (1,)), ("depolarizing", (2,)),
                   ("amplitude_damping", (1,)), ("thermal_relaxation", (0,)), ("pauli_channel", (2,))]
    p.circuit.verify()
    # the text form parses back to the same program
    again = _lower(p.to_text())
    assert [str(op) for op in again.circuit.ops()] == [str(op) for op in p.circuit.ops()]
    assert "depolarizing(0.1)" in p.draw()


@pytest.mark.parametrize("src, message", [
    ("qubit q; depolarizing(1.5) q;", r"<string>:1:10: error: 'depolarizing' needs 0 <= p <= 1, got 1.5"),
    ("qubit q; thermal_relaxation(10, 30, 1) q;", r"t2 <= 2 t1"),
    ("qubit q; amplitude_damping(0.1, 0.2) q;", r"channel 'amplitude_damping' takes 1 parameter, got 2"),
    ("qubit q[2]; depolarizing(0.1) q[0], q[1];", r"takes 1 qubit, got 2"),
    ("qubit q; inv @ bit_flip(0.1) q;", r"'inv @' cannot be applied to the noise channel 'bit_flip'"),
    ("qubit q; measure q; phase_flip(0.1) q;", r"after it was measured"),
    ("qubit q; pauli_channel(0.5, 0.4, 0.3) q;", r"px \+ py \+ pz <= 1"),
    ("qubit q; readout_error(0.1, 2) q;", r"0 <= p10 <= 1"),
])
def test_bad_channel_calls_are_located_errors(src, message):
    with pytest.raises(SemanticError, match=message) as e:
        _lower(src)
    assert e.value.span is not None and e.value.span.line == 1


def test_noisy_programs_optimize_around_channels_and_refuse_qasm_export():
    src = "qubit q[2]; param w; h q[0]; h q[0]; rx(w) q[1]; depolarizing(0.1) q[1]; rx(w) q[1]; expect z(q[1]);"
    m = qcomp.compile(src, cache=False, optimize=3)
    # the h pair cancels (no channel between), the rx pair does not merge across the channel
    assert [op.name for op in m.optimized("sim").circuit.ops()] == ["rx", "depolarizing", "rx"]
    with pytest.raises(ExportError, match=r"<string>:1:\d+: error: .*'depolarizing'"):
        m.qasm()


def test_registered_kraus_channel_is_usable_in_source():
    K = [np.sqrt(0.7) * np.eye(4), np.sqrt(0.3) * np.kron([[0, 1], [1, 0]], [[1, 0], [0, -1]])]
    register_kraus_channel("xz_noise", K)
    try:
        p = _lower("qubit q[2]; x q[0]; xz_noise q[0], q[1]; expect z(q[0]);")
        from qcomp.backends.density import DensityMatrixSimulator

        assert np.isclose(DensityMatrixSimulator(p).expval()[0], -0.7 + 0.3)
    finally:
        remove_channel("xz_noise")
