"""Outputs that are devices, FIFOs or symbolic links are written through, never replaced."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from qcomp.cli import main

SRC = "qubit q[2];\nparam w;\nrx(w) q[0];\ncx q[0], q[1];\nexpect z(q[1]);\n"


@pytest.fixture()
def model(tmp_path):
    p = tmp_path / "m.q"
    p.write_text(SRC)
    return p


def test_dev_null_stays_a_character_device(model, capsys):
    assert main(["compile", str(model), "-o", "/dev/null"]) == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not os.path.lexists("/dev/null.json")  # no manifest beside a device unless --manifest names one
    assert main(["ir", str(model), "-o", "/dev/null"]) == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_device_is_a_clean_error_and_nothing_else_is_written(model, tmp_path, capsys):
    man = tmp_path / "x.json"
    assert main(["compile", str(model), "-o", "/dev/full", "--manifest", str(man)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write '/dev/full': ") and "Traceback" not in err, err
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode) and not man.exists()


def _read_fifo(path: Path, got: list[bytes]) -> threading.Thread:
    def reader() -> None:
        with open(path, "rb") as f:
            got.append(f.read())

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    return t


def test_a_fifo_is_written_through(model, tmp_path, capsys):
    fifo = tmp_path / "pipe.qasm"
    os.mkfifo(fifo)
    got: list[bytes] = []
    t = _read_fifo(fifo, got)
    assert main(["compile", str(model), "-o", str(fifo)]) == 0
    t.join(timeout=30)
    assert got and got[0].startswith(b"OPENQASM 3.0;")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.q", "pipe.qasm"]


def test_a_symlink_output_writes_the_file_it_points_to(model, tmp_path, capsys):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    real = real_dir / "prog.qasm"
    real.write_text("old\n")
    real.chmod(0o640)
    link = tmp_path / "link.qasm"
    link.symlink_to(real)
    assert main(["compile", str(model), "-o", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text().startswith("OPENQASM 3.0;") and stat.S_IMODE(real.stat().st_mode) == 0o640
    # the manifest is named after the path given (link.qasm.json), a plain new file
    assert (tmp_path / "link.qasm.json").is_file() and not (tmp_path / "link.qasm.json").is_symlink()
    # a dangling link: the file it names is created
    dangling = tmp_path / "d.qasm"
    dangling.symlink_to(real_dir / "new.qasm")
    assert main(["ir", str(model), "-o", str(dangling)]) == 0
    assert dangling.is_symlink() and (real_dir / "new.qasm").read_text()


def test_a_directory_or_a_missing_parent_file_is_refused_before_work(model, tmp_path, capsys):
    (tmp_path / "f").write_text("a file")
    for out in (tmp_path / "f" / "x.qasm", ):
        assert main(["compile", str(model), "-o", str(out)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: cannot write") and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "m.q"]
