"""The layer and acyclicity contracts of .importlinter hold (import-linter on the installed layout)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts(tmp_path):
    # passes/ and grammar/ are top-level directories mapped into the package at install time;
    # import-linter reads packages from disk, so lint a copy laid out as the wheel installs it
    pkg = tmp_path / "qcomp"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "qcomp", pkg, ignore=ignore)
    shutil.copytree(ROOT / "passes", pkg / "passes", ignore=ignore)
    shutil.copytree(ROOT / "grammar", pkg / "grammar", ignore=ignore)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    lint = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
            "sys.argv = ['lint-imports', sys.argv[1], '--no-cache']; lint_imports_command()",
            str(ROOT / ".importlinter")]
    r = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "BROKEN" not in r.stdout and "KEPT" in r.stdout
