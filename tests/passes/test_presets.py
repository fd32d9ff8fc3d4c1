"""Preset pipelines -O0..-O3 for both targets: semantics preserved on random circuits, basis respected."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcomp.errors import PassError
from qcomp.passes import REGISTRY, PassManager
from qcomp.passes.presets import preset_pipeline, preset_spec


@pytest.mark.parametrize("level", [0, 1, 2, 3])
@pytest.mark.parametrize("target", ["qasm", "sim"])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_presets_preserve_outputs(level, target, data, random_program, check_equivalent):
    prog = data.draw(random_program(max_qubits=6, max_gates=25))
    passes = preset_pipeline(level, target)
    out = PassManager(passes).run(prog)
    # light-cone, dead-qubits and elide-swaps declare that they keep the outputs, not the full state
    state = all(p.preserves == "state" for p in passes)
    check_equivalent(prog, out, state=state)
    if target == "qasm" and level >= 1:
        assert all(op.name in ("rz", "sx", "x", "cx") for op in out.circuit.ops())


def test_levels_and_targets():
    assert preset_pipeline(0) == [] and preset_pipeline(0, "sim") == []
    names1 = [p.name for p in preset_pipeline(1)]
    assert names1 == ["constant-fold", "cancel-inverses", "merge-rotations", "basis-translation", "cancel-inverses"]
    assert [p.spec() for p in preset_pipeline(3)][2] == "cancel-inverses{window=256,merge=True}"
    names2 = [p.name for p in preset_pipeline(2)]
    assert "light-cone" in names2 and "dead-qubits" in names2
    # every pass a preset names is in the table; those that cannot run here are skipped
    sim3 = [p.name for p in preset_pipeline(3, "sim")]
    specs3 = [n for n, _ in preset_spec(3, "sim")]
    assert sim3 == [n for n in specs3 if REGISTRY[n].available()]


@pytest.mark.parametrize("level,target,msg", [(4, "qasm", "optimization level"), (1, "gpu", "valid targets: qasm, sim")])
def test_bad_preset(level, target, msg):
    with pytest.raises(PassError, match=msg):
        preset_pipeline(level, target)
