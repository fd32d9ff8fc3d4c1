"""PennyLane's own device test suite (pl-device-test) passes on qcomp.qubit, analytic and with shots."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytest.importorskip("pennylane")
pytest.importorskip("pytest_mock")  # the suite's own requirements
pytest.importorskip("flaky")


def test_pennylane_device_suite(tmp_path):
    # the suite's console script run by this interpreter, so a venv tests its own qcomp (a bare
    # `pl-device-test` on PATH may belong to another Python); analytic and with shots, the two
    # runs side by side (each is single-threaded: half the wall time of running them in turn)
    base = [sys.executable, "-c", "import sys; from pennylane.devices.tests import cli; sys.exit(cli())", "--device",
            "qcomp.qubit", "-q", "--tb=line", "-p", "no:cacheprovider"]
    runs = {}
    for shots in (None, 10000):
        cwd = tmp_path / f"shots-{shots}"
        cwd.mkdir()
        cmd = base + ([] if shots is None else ["--shots", str(shots)])
        runs[shots] = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for shots, proc in runs.items():
            out, err = proc.communicate(timeout=900)
            summary = out.strip().splitlines()[-1] if out.strip() else err[-2000:]
            assert proc.returncode == 0, f"shots={shots}: " + out[-4000:] + err[-2000:]
            passed = int(re.search(r"(\d+) passed", summary).group(1))
            assert not re.search(r"\d+ (failed|errors?)\b", summary), summary
            assert passed >= (380 if shots is None else 360), summary  # lightning.qubit passes 380 analytic here
    finally:
        for proc in runs.values():
            if proc.poll() is None:
                proc.kill()
