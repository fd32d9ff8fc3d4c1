"""Commands writing several files publish them as a set: a failure part way leaves the old
files untouched and no new or temporary file behind; a killed run's temporaries are cleaned."""

from __future__ import annotations

import errno
import json
import os
import time

import numpy as np
import pytest

import qcomp._io as qio
from qcomp.cli import main

SRC = "qubit q[2];\nparam w;\ninput x;\nrx(w * x) q[0];\ncx q[0], q[1];\nexpect z(q[1]);\n"


@pytest.fixture()
def model(tmp_path):
    p = tmp_path / "m.q"
    p.write_text(SRC)
    return p


def _fail_on_call(monkeypatch, name: str, n: int, exc: OSError) -> None:
    """Make ``os.<name>`` as used by qcomp._io raise ``exc`` on its n-th call."""
    real = getattr(os, name)
    calls = {"n": 0}

    def patched(*args, **kw):
        calls["n"] += 1
        if calls["n"] == n:
            raise exc
        return real(*args, **kw)

    monkeypatch.setattr(qio.os, name, patched)


def _snapshot(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def test_a_failed_rename_restores_the_old_program_and_manifest(model, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out.qasm"
    out.write_text("old program\n")
    (tmp_path / "out.qasm.json").write_text("old manifest\n")
    before = _snapshot(tmp_path)
    _fail_on_call(monkeypatch, "replace", 2, OSError(errno.EIO, "Input/output error"))
    assert main(["compile", str(model), "--no-cache", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write '{out}.json': ") and "Input/output error" in err and "Traceback" not in err, err
    assert _snapshot(tmp_path) == before  # the first file's rename was undone; no temporaries left


def test_a_full_disk_on_the_second_file_writes_nothing(model, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out.qasm"
    out.write_text("old program\n")
    (tmp_path / "out.qasm.json").write_text("old manifest\n")
    before = _snapshot(tmp_path)
    _fail_on_call(monkeypatch, "fsync", 2, OSError(errno.ENOSPC, "No space left on device"))
    assert main(["compile", str(model), "--no-cache", "-o", str(out)]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert _snapshot(tmp_path) == before


def test_bind_inputs_writes_all_samples_or_none(model, tmp_path, monkeypatch, capsys):
    np.save(tmp_path / "x.npy", np.linspace(0, 1, 5)[:, None])
    np.save(tmp_path / "w.npy", np.array([0.4]))
    outdir = tmp_path / "progs"
    argv = ["compile", str(model), "--no-cache", "--bind-params", str(tmp_path / "w.npy"), "--bind-inputs", str(tmp_path / "x.npy"),
            "-o", str(outdir / "p.qasm")]
    _fail_on_call(monkeypatch, "replace", 7, OSError(errno.EIO, "Input/output error"))
    assert main(argv) == 1
    assert not outdir.exists()  # nothing published, and the directory made for the set is removed
    monkeypatch.undo()
    assert main(argv) == 0
    assert len(list(outdir.glob("p_*.qasm"))) == 5 and len(list(outdir.glob("p_*.qasm.json"))) == 5
    first = _snapshot(outdir)
    _fail_on_call(monkeypatch, "fsync", 9, OSError(errno.ENOSPC, "No space left on device"))
    np.save(tmp_path / "w.npy", np.array([0.7]))
    assert main(argv) == 1
    assert _snapshot(outdir) == first
    capsys.readouterr()


def test_grad_export_is_replaced_as_a_whole_or_not_at_all(model, tmp_path, monkeypatch, capsys):
    out = tmp_path / "g"
    assert main(["grad", str(model), "-o", str(out), "--order", "2"]) == 0
    big = _snapshot(out)
    _fail_on_call(monkeypatch, "replace", 2, OSError(errno.EIO, "Input/output error"))
    assert main(["grad", str(model), "--no-cache", "-o", str(out)]) == 1
    assert _snapshot(out) == big
    monkeypatch.undo()
    assert main(["grad", str(model), "--no-cache", "-o", str(out)]) == 0  # fewer circuits: the extra old ones go
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["order"] == 1
    assert sorted(p.name for p in out.iterdir()) == sorted([c["file"] for c in manifest["circuits"]] + ["manifest.json"])
    capsys.readouterr()


def test_stale_temporaries_are_cleaned_and_nothing_else(model, tmp_path, capsys, monkeypatch):
    old = time.time() - 3600
    stale = tmp_path / ".out.qasm.qcomp-tmp-ab12cd34"
    others = [tmp_path / ".out.qasm.tmp-ab12cd34", tmp_path / "out.qcomp-tmp-ab12cd34", tmp_path / ".notes.qcomp-tmp-",
              tmp_path / "keep.txt"]
    for p in [stale, *others]:
        p.write_text("x")
        os.utime(p, (old, old))
    linked = tmp_path / ".link.qcomp-tmp-aaaa1111"  # a symlink is never one of qcomp's temporaries
    linked.symlink_to(model)
    os.utime(linked, (old, old), follow_symlinks=False)
    argv = ["compile", str(model), "-o", str(tmp_path / "out.qasm")]
    # an old mtime is not enough: a backup name linked to an old file a moment ago looks like that
    assert main(argv) == 0 and stale.exists()
    monkeypatch.setattr(qio, "STALE_SECONDS", -1.0)  # as if a minute had passed since
    assert main(argv) == 0
    assert not stale.exists() and all(p.exists() for p in others)
    assert linked.is_symlink() and model.read_text() == SRC
    assert sorted(p.name for p in tmp_path.iterdir() if "qcomp-tmp" in p.name) == sorted(
        [".link.qcomp-tmp-aaaa1111", "out.qcomp-tmp-ab12cd34", ".notes.qcomp-tmp-"])
    capsys.readouterr()


def test_write_files_atomically_api(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "sub" / "b.bin"
    qio.write_files_atomically({a: "text ü", b: b"\x00\x01"})
    assert a.read_text(encoding="utf-8") == "text ü" and b.read_bytes() == b"\x00\x01"
    with pytest.raises(qio.OutputError, match="same file"):
        qio.write_files_atomically({str(a): "1", f"{tmp_path}/sub/../a.txt": "2"})
    with pytest.raises(qio.OutputError, match="is a directory"):
        qio.write_files_atomically({a: "1", tmp_path / "sub": "2"})
    assert a.read_text(encoding="utf-8") == "text ü"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.txt", "b.bin", "sub"]
