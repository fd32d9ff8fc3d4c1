"""Every fenced ```python snippet of README.md and docs/*.md runs as written.

Each snippet runs in a fresh process, in a scratch directory holding a copy of ``examples/`` (the
paths the snippets use are relative to the repository root), so files a snippet writes do not land
in the checkout. A snippet that needs an optional extra says so on a line ``# requires: torch``
(several names separated by commas) and is skipped when one of them is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_REQUIRES = re.compile(r"^#\s*requires:\s*(.+)$", re.M)


def snippets() -> list[tuple[str, str]]:
    out = []
    for doc in DOCS:
        for k, m in enumerate(_FENCE.finditer(doc.read_text(encoding="utf-8"))):
            line = doc.read_text(encoding="utf-8")[: m.start()].count("\n") + 1
            out.append((f"{doc.relative_to(ROOT)}:{line}", m.group(1)))
    return out


def test_the_docs_have_snippets():
    assert len(snippets()) >= 10


@pytest.mark.parametrize("where, code", snippets(), ids=[w for w, _ in snippets()])
def test_snippet_runs(where, code, tmp_path):
    for req in _REQUIRES.findall(code):
        for name in (n.strip() for n in req.split(",")):
            if importlib.util.find_spec(name) is None:
                pytest.skip(f"{where} needs {name}")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               MPLBACKEND="Agg", QCOMP_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, f"{where} failed:\n{r.stderr[-3000:]}"
