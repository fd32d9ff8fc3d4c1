"""The fusion passes (fuse-1q, fuse-diagonal, fuse-blocks) preserve the state vector and shrink circuits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcomp import parse
from qcomp.backends import reference as R
from qcomp.backends.simulator import Simulator
from qcomp.errors import PassError
from qcomp.ir.gates import GATES
from qcomp.passes import REGISTRY, PassManager, parse_pipeline

GATE_NAMES = sorted(GATES)


@st.composite
def programs(draw, max_qubits: int = 5, max_ops: int = 25):
    n = draw(st.integers(1, max_qubits))
    lines = [f"qubit q[{n}];", "param w[2];"]
    for _ in range(draw(st.integers(0, max_ops))):
        g = GATES[draw(st.sampled_from([g for g in GATE_NAMES if GATES[g].num_qubits <= n]))]
        qs = draw(st.permutations(range(n)))[: g.num_qubits]
        # mostly constant angles (what the passes fuse), sometimes a param (a fusion barrier)
        angles = [draw(st.sampled_from(["w[0]", "0.25", "-1.5", "2.75", "w[1] * 0.5"])) for _ in range(g.num_angles)]
        args = f"({', '.join(angles)})" if angles else ""
        lines.append(f"{g.name}{args} " + ", ".join(f"q[{q}]" for q in qs) + ";")
    lines.append("expect z(q[0]);")
    return parse("\n".join(lines))


PIPELINES = ["fuse-1q", "fuse-diagonal", "fuse-diagonal{k=2}", "fuse-blocks", "fuse-blocks{k=1}",
             "fuse-blocks{k=3}", "fuse-1q,fuse-diagonal,fuse-blocks{k=2}"]


@settings(max_examples=60, deadline=None)
@given(programs(), st.sampled_from(PIPELINES))
def test_fusion_preserves_state(program, spec):
    out = PassManager(parse_pipeline(spec), verify_each=True).run(program)
    w = np.array([0.3, -1.1])
    np.testing.assert_allclose(R.simulate(out, w), R.simulate(program, w), atol=1e-10)
    assert len(out.circuit) <= len(program.circuit)
    # the simulator runs fused programs (unitary ops) too
    np.testing.assert_allclose(Simulator(out).state(w), R.simulate(program, w)[0], atol=1e-10)  # flat w: no batch axis


def test_passes_registered_and_options():
    for name in ("fuse-1q", "fuse-diagonal", "fuse-blocks"):
        assert name in REGISTRY
    assert parse_pipeline("fuse-blocks{k=3}")[0].k == 3
    with pytest.raises(PassError):
        parse_pipeline("fuse-blocks{k=0}")
    with pytest.raises(PassError):
        parse_pipeline("fuse-blocks{size=2}")


def test_fuse_1q_merges_constant_runs_only():
    p = parse("qubit q[2]; param w; h q[0]; t q[0]; s q[0]; rx(w) q[0]; h q[1]; h q[1]; cx q[0], q[1];")
    out = parse_pipeline("fuse-1q")[0].run(p)
    names = [op.name for op in out.circuit.ops()]
    assert names == ["unitary", "rx", "cx"]  # h h on q[1] is the identity and is dropped
    assert len(p.circuit) == 7  # input untouched


def test_fuse_diagonal_and_blocks_shapes():
    p = parse("qubit q[3]; z q[0]; cz q[0], q[1]; t q[1]; crz(0.5) q[1], q[2]; h q[2]; cx q[1], q[2];")
    out = parse_pipeline("fuse-diagonal")[0].run(p)
    ops = out.circuit.ops()
    assert ops[0].name == "unitary" and len(ops[0].qubits) == 3
    m = np.array(ops[0].matrix)
    assert np.allclose(m, np.diag(np.diag(m)))
    blocks = parse_pipeline("fuse-blocks{k=3}")[0].run(p)
    assert [op.name for op in blocks.circuit.ops()] == ["unitary"]
