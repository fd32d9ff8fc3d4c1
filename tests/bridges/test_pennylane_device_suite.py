"""PennyLane's own device test suite (pl-device-test) passes on qcomp.qubit, analytic and with shots."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytest.importorskip("pennylane")
pytest.importorskip("pytest_mock")  # the suite's own requirements
pytest.importorskip("flaky")


@pytest.mark.parametrize("shots", [None, 10000])
def test_pennylane_device_suite(tmp_path, shots):
    # the suite's console script run by this interpreter, so a venv tests its own qcomp (a bare
    # `pl-device-test` on PATH may belong to another Python)
    cmd = [sys.executable, "-c", "import sys; from pennylane.devices.tests import cli; sys.exit(cli())", "--device", "qcomp.qubit", "-q", "--tb=line", "-p", "no:cacheprovider"]
    if shots is not None:
        cmd += ["--shots", str(shots)]
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    summary = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-2000:]
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert not re.search(r"\d+ (failed|errors?)\b", summary), summary
    assert passed >= (380 if shots is None else 360), summary  # lightning.qubit passes 380 analytic here
