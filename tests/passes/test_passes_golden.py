"""Golden tests: tests/golden/passes/*.q (first line "// pipeline: ...") -> expected IR text (.txt).

Regenerate after an intended change with QCOMP_REGEN_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qcomp.backends import reference
from qcomp.frontend import parse_file
from qcomp.passes import PassManager, parse_pipeline
from qcomp.passes.presets import preset_pipeline

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "passes"
CASES = sorted(p.stem for p in GOLDEN.glob("*.q"))


def _pipeline(path: Path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("// pipeline:"), f"{path} must start with '// pipeline: ...'"
    spec = first.split(":", 1)[1].strip()
    if spec.startswith("-O"):
        parts = spec.split()
        return preset_pipeline(int(parts[0][2:]), parts[1] if len(parts) > 1 else "qasm")
    return parse_pipeline(spec)


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str) -> None:
    src = GOLDEN / f"{name}.q"
    prog = parse_file(src)
    out = PassManager(_pipeline(src), verify_each=True).run(prog)
    text = out.to_text().replace(str(src), f"{name}.q")
    expected = GOLDEN / f"{name}.txt"
    if os.environ.get("QCOMP_REGEN_GOLDEN"):
        expected.write_text(text)
    if not expected.exists():
        pytest.fail(f"missing golden file {expected}; run with QCOMP_REGEN_GOLDEN=1 to create it")
    assert text == expected.read_text()
    # and the golden output computes the same outputs as the source
    if prog.num_qubits <= 10 and not any(op.name == "unitary" for op in out.circuit.ops()) or prog.num_qubits <= 10:
        import numpy as np

        params = np.random.default_rng(0).uniform(-3, 3, (2, prog.num_params))
        np.testing.assert_allclose(reference.expvals(prog, params), reference.expvals(out, params), atol=1e-9)
        if prog.measured:
            p1 = reference.probabilities(reference.simulate(prog, params), prog.measured)
            p2 = reference.probabilities(reference.simulate(out, params), out.measured)
            np.testing.assert_allclose(p1, p2, atol=1e-9)
