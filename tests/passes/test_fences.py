"""Fences (barrier): every pass keeps them and moves, cancels, merges or fuses nothing across one.

Golden files tests/golden/passes/fences/<pass>.txt hold the IR after each pass on a program whose
gates would cancel, merge or fuse but for the barriers between them (QCOMP_REGEN_GOLDEN=1 rewrites
them; review the diff). Each output is also checked to keep every barrier, in order, and to have
the input's outputs (reference simulator).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from qcomp.backends import reference
from qcomp.frontend import parse
from qcomp.ir.gates import FENCES, is_fence
from qcomp.passes import REGISTRY, make_pass

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "passes" / "fences"

# Each barrier separates gates that some pass would otherwise remove or combine: h h (cancel),
# rz rz (merge), x . x (fuse-1q), cx cx (cancel, fuse-blocks), s t (fuse-diagonal), swap (elide).
SOURCE = """qubit q[4];
param w;
h q[0];
barrier q[0];
h q[0];
rz(w) q[1];
barrier q[1], q[2];
rz(w) q[1];
x q[2];
barrier;
x q[2];
cx q[0], q[1];
barrier q[0], q[1];
cx q[0], q[1];
s q[3];
barrier q[3];
t q[3];
swap q[0], q[2];
barrier q[2];
ctrl @ ry(w) q[2], q[1];
h q[3];
barrier q[3];
expect z(q[0]) + z(q[1]) @ x(q[2]);
expect x(q[3]);
"""
W = np.array([0.37])


def _barriers(program) -> list[int]:
    return [len(op.qubits) for op in program.circuit.ops() if op.name == "barrier"]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_pass_keeps_fences(name: str) -> None:
    cls = REGISTRY[name]
    if not cls.available():
        pytest.skip(f"{name} cannot run here (optional extra missing)")
    program = parse(SOURCE, name="fences.q")
    p = make_pass(name, {})
    out = p.apply(program, verify=True)
    text = out.to_text()
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("QCOMP_REGEN_GOLDEN") or not path.exists():
        if not os.environ.get("QCOMP_REGEN_GOLDEN"):
            pytest.fail(f"missing golden file {path}; run with QCOMP_REGEN_GOLDEN=1")
        path.write_text(text)
    assert text == path.read_text(), f"{name}: output differs from {path} (QCOMP_REGEN_GOLDEN=1 to update)"
    # every barrier survives (dead-qubits may only narrow one to the qubits it keeps)
    assert len(_barriers(out)) == len(_barriers(program))
    if cls.preserves != "nothing":
        np.testing.assert_allclose(reference.expvals(out, W), reference.expvals(program, W), atol=1e-10)


def test_nothing_moves_across_a_barrier() -> None:
    """For every stretch-based pass, the gates before each barrier stay before it."""
    program = parse(SOURCE)
    for name, cls in sorted(REGISTRY.items()):
        if not cls.available() or cls.fence_aware:
            continue
        out = make_pass(name, {}).apply(program)
        ops = out.circuit.ops()
        # h q[0]; barrier q[0]; h q[0] must not cancel: an h-like gate stays on each side
        first = [i for i, op in enumerate(ops) if op.name == "barrier"][0]
        assert any(0 in op.qubits for op in ops[:first]), name
        assert any(0 in op.qubits and not is_fence(op.name) for op in ops[first + 1:]), name


def test_fence_predicate_is_the_single_test() -> None:
    assert is_fence("barrier") and not is_fence("h") and "barrier" in FENCES


def test_simulators_ignore_barriers() -> None:
    from qcomp.backends.simulator import Simulator

    with_b = parse(SOURCE)
    without = parse("\n".join(line for line in SOURCE.splitlines() if not line.startswith("barrier")))
    for engine in ("fused", "layers"):
        a = Simulator(with_b, engine=engine)
        b = Simulator(without, engine=engine)
        np.testing.assert_allclose(a.expval(W), b.expval(W), atol=1e-12)
        np.testing.assert_allclose(a.gradient(W), b.gradient(W), atol=1e-12)
