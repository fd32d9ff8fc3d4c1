"""Packaging: a wheel built from the repo ships qcomp.grammar (with the .lark file) and qcomp.passes.

Runs by default (also in CI, ~10 s; with an isolated build when setuptools cannot build wheels
in the current environment). The build happens in a copy of the sources under tmp_path so
it never leaves build/ or *.egg-info directories in the working tree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _can_build_without_isolation() -> bool:
    """setuptools builds wheels itself from 70.1 on; older versions need the ``wheel`` package."""
    import importlib.util

    import setuptools

    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


def test_wheel_contains_grammar_and_passes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in ("qcomp", "passes", "grammar"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path / "dist"
    cmd = [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(src)]
    if _can_build_without_isolation():
        cmd.insert(4, "--no-isolation")  # faster, no index access
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = out.glob("qcomp-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "qcomp/grammar/qcomp.lark" in names
    assert "qcomp/grammar/__init__.py" in names
    assert "qcomp/passes/__init__.py" in names and "qcomp/passes/base.py" in names
    assert "qcomp/ir/circuit.py" in names and "qcomp/frontend/parser.py" in names
    top = {n.split("/")[0] for n in names}
    assert "passes" not in top and "grammar" not in top, f"top-level packages: {sorted(top)}"
    assert not any(n.endswith(".pyc") for n in names)


def test_grammar_loads_from_package_resources() -> None:
    from importlib import resources

    text = resources.files("qcomp.grammar").joinpath("qcomp.lark").read_text(encoding="utf-8")
    assert "gate_call" in text
    import qcomp.passes

    assert qcomp.passes.__name__ == "qcomp.passes"
