"""Reading includes safely: regular files only, bounded, located errors that never quote the content."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import qcomp
import qcomp.frontend.source as src
from qcomp.errors import IncludeError, QCompError
from qcomp.frontend.qasm_import import import_qasm


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def include_error(tmp_path: Path, name: str) -> IncludeError:
    main = write(tmp_path / "m.q", f'qubit q;\ninclude "{name}";\n')
    with pytest.raises(IncludeError) as info:
        qcomp.parse_file(main)
    err = info.value
    assert (err.span.file, err.span.line, err.span.column) == (str(main), 2, 1)  # located at the include
    assert "^" in err.render()
    return err


def run_check(tmp_path: Path, main: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, QCOMP_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("QCOMP_NO_CACHE", None)
    # a timeout: before the fix a FIFO hung forever and /dev/zero grew without bound
    return subprocess.run([sys.executable, "-m", "qcomp", "check", str(main), *extra], capture_output=True,
                          text=True, timeout=60, env=env, cwd=tmp_path)


@pytest.mark.parametrize("cached", [True, False])
def test_device_and_fifo_includes_are_located_errors_not_hangs(tmp_path, cached):
    os.symlink("/dev/zero", tmp_path / "zero.q")
    os.mkfifo(tmp_path / "pipe.q")
    flags = () if cached else ("--no-cache",)
    for name, why in [("/dev/zero", "not a .q file"), ("zero.q", "it is a device, not a regular file"),
                      ("pipe.q", "it is a FIFO, not a regular file")]:
        main = write(tmp_path / "m.q", f'qubit q;\ninclude "{name}";\n')
        r = run_check(tmp_path, main, *flags)
        assert r.returncode == 1, r.stderr
        assert f"m.q:2:1: error: cannot read include file '{name}': {why}" in r.stderr
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr


def test_fifo_and_device_in_process(tmp_path):
    os.mkfifo(tmp_path / "pipe.q")
    assert "FIFO" in include_error(tmp_path, "pipe.q").message
    os.symlink("/dev/zero", tmp_path / "zero.q")
    assert "device" in include_error(tmp_path, "zero.q").message
    (tmp_path / "dir.q").mkdir()
    assert include_error(tmp_path, "dir.q").message.endswith("it is a directory, not a regular file")
    with pytest.raises(QCompError, match="FIFO"):  # the main file goes through the same reader
        qcomp.parse_file(tmp_path / "pipe.q")


def test_symlink_loop_and_nul_byte_are_include_errors(tmp_path):
    os.symlink("loop.q", tmp_path / "loop.q")
    err = include_error(tmp_path, "loop.q")
    assert err.message == "cannot read include file 'loop.q': too many levels of symbolic links (a symlink loop?)"
    os.symlink("b.q", tmp_path / "a.q")
    os.symlink("a.q", tmp_path / "b.q")
    assert "symbolic links" in include_error(tmp_path, "a.q").message
    err = include_error(tmp_path, "x\0y.q")
    assert err.message == "cannot read include file 'x\\0y.q': the file name contains a NUL byte"


def test_cli_symlink_loop_and_nul_are_not_internal_errors(tmp_path):
    os.symlink("loop.q", tmp_path / "loop.q")
    for name in ("loop.q", "x\0y.q"):
        main = tmp_path / "m.q"
        main.write_bytes(b'qubit q;\ninclude "' + name.encode() + b'";\n')
        for flags in ((), ("--no-cache",)):
            r = run_check(tmp_path, main, *flags)
            assert r.returncode == 1 and "m.q:2:1: error: cannot read include file" in r.stderr, r.stderr
            assert "internal error" not in r.stderr


def test_errors_never_quote_files_that_are_not_source(tmp_path):
    secret = "root:$6$TOPSECRET:19000:0:99999:7:::"
    write(tmp_path / "shadow", secret + "\n")
    err = include_error(tmp_path, "shadow")
    assert err.message == "cannot read include file 'shadow': not a .q file"
    assert "TOPSECRET" not in err.render()
    assert "not a .q file" in include_error(tmp_path, "/proc/self/environ").message
    os.symlink(tmp_path / "shadow", tmp_path / "innocent.q")
    err = include_error(tmp_path, "innocent.q")
    assert err.message == f"cannot read include file 'innocent.q': it resolves to '{tmp_path / 'shadow'}', not a .q file"
    assert "TOPSECRET" not in err.render()
    # a .q file that is not UTF-8: say so, without the bytes
    (tmp_path / "bin.q").write_bytes(b"\xffTOPSECRET\xfe\n")
    err = include_error(tmp_path, "bin.q")
    assert err.message == "cannot read include file 'bin.q': it is not UTF-8 text"
    assert "TOPSECRET" not in err.render() and "0xff" not in err.render()


def test_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(src, "MAX_SOURCE_BYTES", 100)
    write(tmp_path / "big.q", "// padding\n" * 20)
    err = include_error(tmp_path, "big.q")
    assert err.message == "cannot read include file 'big.q': it is larger than the limit of 100 bytes for source files"
    write(tmp_path / "small.q", "h q;\n")
    main = write(tmp_path / "ok.q", 'qubit q;\ninclude "small.q";\n')
    assert [o.name for o in qcomp.parse_file(main).circuit.ops()] == ["h"]


def test_qasm_includes_use_the_same_reader(tmp_path):
    os.mkfifo(tmp_path / "pipe.inc")
    head = "OPENQASM 3.0;\n"
    with pytest.raises(IncludeError, match="it is a FIFO, not a regular file"):
        import_qasm(head + 'include "pipe.inc";\nqubit q;\n', str(tmp_path / "m.qasm"))
    write(tmp_path / "secret.txt", "TOPSECRET\n")
    with pytest.raises(IncludeError, match="not a .inc or .qasm or .qasm2 or .qasm3 file") as info:
        import_qasm(head + 'include "secret.txt";\nqubit q;\n', str(tmp_path / "m.qasm"))
    assert "TOPSECRET" not in info.value.render()
    write(tmp_path / "g.inc", "gate bell a, b { h a; cx a, b; }\n")
    p = import_qasm(head + 'include "stdgates.inc";\ninclude "g.inc";\nqubit[2] q;\nbell q[0], q[1];\n',
                    str(tmp_path / "m.qasm"))
    assert [o.name for o in p.circuit.ops()] == ["h", "cx"]


def test_reads_are_recorded(tmp_path):
    write(tmp_path / "lib" / "inner.q", "gate ent a, b { cx a, b; }\n")
    write(tmp_path / "lib" / "gates.q", 'include "inner.q";\n')
    main = write(tmp_path / "m.q", 'include "lib//gates.q"; // include "not/this.q"\nqubit q[2];\nent q[0], q[1];\n')
    with src.record_reads() as reads:
        qcomp.parse(main.read_text(), name="m.q", base_dir=tmp_path)
    assert [Path(r.resolved) for r in reads] == [tmp_path / "lib" / "gates.q", tmp_path / "lib" / "inner.q"]
    assert reads[0].path == str(tmp_path / "lib" / "gates.q") and reads[0].size == len('include "inner.q";\n')
    assert src.digest_of(reads[1].path) == (reads[1].resolved, reads[1].sha256)
    with src.record_reads() as outside:
        pass
    qcomp.parse(main.read_text(), name="m.q", base_dir=tmp_path)
    assert outside == []  # only inside the context
