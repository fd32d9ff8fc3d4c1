"""One golden file per pass: tests/golden/passes/<pass-name>.txt holds a pipeline spec of that one
pass, an input program (.q source) and the printed IR after the pass.

A file reads::

    // pass: <spec>
    <.q source>
    // ==== after <spec> ====
    <IR text>

To add one for a new pass, write the first two parts and run with QCOMP_REGEN_GOLDEN=1 (which
rewrites the part after the separator of every file), then review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from qcomp.backends import reference
from qcomp.frontend import parse
from qcomp.passes import REGISTRY, parse_pipeline

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "passes"
SEPARATOR = "// ==== after "


def _read(name: str) -> tuple[str, str, str | None]:
    """(pass spec, input source, expected IR text or None when not generated yet)."""
    path = GOLDEN / f"{name}.txt"
    if not path.exists():
        pytest.fail(f"missing golden file {path}: write '// pass: {name}' and an input program in it, then run"
                    " with QCOMP_REGEN_GOLDEN=1")
    text = path.read_text()
    first, _, rest = text.partition("\n")
    assert first.startswith("// pass: "), f"{path} must start with '// pass: <spec>'"
    spec = first[len("// pass: "):].strip()
    source, sep, after = rest.partition(SEPARATOR)
    if not sep:
        return spec, source, None
    return spec, source, after.partition("\n")[2]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_pass_golden(name: str) -> None:
    spec, source, expected = _read(name)
    (p,) = parse_pipeline(spec)
    assert p.name == name, f"{name}.txt runs '{p.name}'"
    if not p.available():
        pytest.skip(f"{name} cannot run here (optional extra missing)")
    program = parse(source, name=f"{name}.q")
    out = p.apply(program, verify=True)
    text = out.to_text()
    if os.environ.get("QCOMP_REGEN_GOLDEN"):
        (GOLDEN / f"{name}.txt").write_text(f"// pass: {spec}\n{source}{SEPARATOR}{spec} ====\n{text}")
        expected = text
    assert expected is not None, f"{name}.txt has no output part; run with QCOMP_REGEN_GOLDEN=1"
    assert text == expected
    assert text != program.to_text(), f"the input of {name}.txt does not exercise the pass"
    if p.preserves == "nothing":
        return
    # the golden output computes what the input does (and, for "state" passes, the same state)
    rng = np.random.default_rng(0)
    params = rng.uniform(-3, 3, (2, program.num_params))
    inputs = rng.uniform(-1, 1, (2, program.num_inputs))
    np.testing.assert_allclose(reference.expvals(out, params, inputs), reference.expvals(program, params, inputs),
                               atol=1e-9)
    s1, s2 = reference.simulate(program, params, inputs), reference.simulate(out, params, inputs)
    if program.measured:
        np.testing.assert_allclose(reference.probabilities(s2, out.measured),
                                   reference.probabilities(s1, program.measured), atol=1e-9)
    if p.preserves == "state":
        overlap = np.abs(np.sum(np.conj(s1) * s2, axis=1))
        np.testing.assert_allclose(overlap, 1.0, atol=1e-9)
