"""CLI skeleton: check/draw/ir, --help, --version, error exits, --traceback, python -m qcomp, atomic -o."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import qcomp
from qcomp.cli import COMMAND_MODULES, main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.q"))
BAD = "qubit q[2];\nh q[0];\ncx q[0], q[5];\n"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def bad_file(tmp_path: Path) -> Path:
    p = tmp_path / "bad.q"
    p.write_text(BAD)
    return p


def test_examples_exist() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"mnist_qnn.q", "hea_vqe.q", "qaoa_maxcut.q", "reuploading_classifier.q", "quantum_kernel.q"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_checks(path: Path, capsys) -> None:
    code, out, err = run(["check", str(path)], capsys)
    assert code == 0, err
    assert out.startswith(f"program: {path}") and out.rstrip().endswith("ok")
    assert path.read_text().startswith("// examples/"), "each example starts with a header comment"
    qcomp.parse_file(path).circuit.verify()


def test_check_summary_and_json(capsys) -> None:
    code, out, _ = run(["check", str(ROOT / "examples" / "mnist_qnn.q")], capsys)
    assert code == 0
    assert "qubits: 17\nparams: 32\ninputs: 16\ngates: 51 (two-qubit: 32, depth: 35)" in out
    assert "  rxx: 16\n" in out and "  [0] z(readout)" in out
    code, out, _ = run(["check", "--json", str(ROOT / "examples" / "mnist_qnn.q")], capsys)
    data = json.loads(out)
    assert data["qubits"] == 17 and data["gate_counts"]["rzz"] == 16 and data["outputs"] == ["z(readout)"]


def test_draw_command(tmp_path: Path, capsys) -> None:
    p = tmp_path / "d.q"
    p.write_text("qubit q[2]; param w; h q[0]; crx(w) q[0], q[1]; expect z(q[1]);")
    code, out, _ = run(["draw", str(p)], capsys)
    assert code == 0
    assert out.splitlines()[0].startswith("q[0]: ─h─") and "●" in out.splitlines()[0] and "rx(w)" in out and "expect[0]: z(q[1])" in out
    # --width folds instead of cutting: a layer wider than the width stays whole in its own block
    code, out, _ = run(["draw", "--width", "8", str(p)], capsys)
    assert code == 0 and "rx(w)" in out and out.count("q[0]: ") == 2


@pytest.mark.parametrize("fmt", ["text", "json", "dot"])
def test_ir_command_formats_and_output_file(fmt: str, tmp_path: Path, capsys) -> None:
    src = ROOT / "examples" / "quantum_kernel.q"
    program = qcomp.parse_file(src)
    want = {"text": program.to_text, "json": program.to_json, "dot": program.to_dot}[fmt]()
    code, out, _ = run(["ir", "--format", fmt, str(src)], capsys)
    assert code == 0 and out == want
    target = tmp_path / "sub" / f"out.{fmt}"
    code, out, _ = run(["ir", "--format", fmt, "-o", str(target), str(src)], capsys)
    assert code == 0 and out == "" and target.read_text() == want


def test_error_exit_1_without_traceback(bad_file: Path, capsys) -> None:
    for cmd in ("check", "draw", "ir"):
        code, out, err = run([cmd, str(bad_file)], capsys)
        assert code == 1 and out == ""
        assert err.startswith(f"{bad_file}:3:12: error: qubit index 5 out of range for register 'q' of size 2\n")
        assert "    cx q[0], q[5];\n" in err and "\n               ^\n" in err
        assert "Traceback" not in err


def test_missing_file_and_limits(tmp_path: Path, capsys) -> None:
    code, _, err = run(["check", str(tmp_path / "nope.q")], capsys)
    assert code == 1 and "no such file" in err
    p = tmp_path / "big.q"
    p.write_text("qubit q[8];\nfor i in range(8) { h q; }\n")
    code, _, err = run(["check", "--max-qubits", "4", str(p)], capsys)
    assert code == 1 and "over the limit of 4" in err
    code, _, err = run(["check", "--max-ops", "10", str(p)], capsys)
    assert code == 1 and "more than 10 operations" in err
    code, _, _ = run(["check", "--max-ops", "64", "--max-qubits", "8", str(p)], capsys)
    assert code == 0


def test_ir_output_not_written_on_error(bad_file: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "out.txt"
    code, _, _ = run(["ir", "-o", str(target), str(bad_file)], capsys)
    assert code == 1 and not target.exists()
    target.write_text("old contents")
    code, _, _ = run(["ir", "-o", str(target), str(bad_file)], capsys)
    assert code == 1 and target.read_text() == "old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.q", "out.txt"]  # no temporary files left


def _traceback_run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qcomp", *argv], capture_output=True, text=True)


def test_traceback_flag_after_command(bad_file: Path) -> None:
    r = _traceback_run(["check", "--traceback", str(bad_file)])
    assert r.returncode == 1
    assert "Traceback (most recent call last)" in r.stderr and "SemanticError" in r.stderr


def test_traceback_flag_before_command(bad_file: Path) -> None:
    r = _traceback_run(["--traceback", "check", str(bad_file)])
    assert r.returncode == 1 and "Traceback (most recent call last)" in r.stderr


def test_python_m_qcomp_and_console_script(bad_file: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "qcomp", "check", str(ROOT / "examples" / "hea_vqe.q")],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "qubits: 4" in r.stdout and r.stdout.rstrip().endswith("ok")
    r = subprocess.run([sys.executable, "-m", "qcomp", "check", str(bad_file)], capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "error: qubit index 5" in r.stderr


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"qcomp {qcomp.__version__}"


@pytest.mark.parametrize("cmd", [None, *COMMAND_MODULES])
def test_help(cmd: str | None, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"] if cmd is None else [cmd, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: qcomp")
    if cmd is None:
        assert all(name in out for name in ("check", "draw", "ir"))
    elif cmd in ("check", "draw", "ir"):
        assert "--max-qubits" in out and "--max-ops" in out and "source" in out


def test_no_command_prints_help(capsys) -> None:
    assert main([]) == 2
    assert "usage: qcomp" in capsys.readouterr().out


def test_closed_pipe_is_quiet(tmp_path: Path) -> None:
    # "qcomp ir big.q | head -1": the reader leaves early; no traceback, no error text
    big = tmp_path / "big.q"
    big.write_text("qubit q[2]; for i in range(20000) { h q[0]; cx q[0], q[1]; }\n")
    proc = subprocess.Popen([sys.executable, "-m", "qcomp", "ir", str(big)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read()
    proc.wait()
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_unexpected_exceptions_are_reported_without_a_traceback(tmp_path, capsys, monkeypatch):
    import qcomp.commands.check as check_cmd

    def boom(args):
        raise ZeroDivisionError("synthetic")

    monkeypatch.setattr(check_cmd, "run", boom)
    from qcomp.cli import main

    p = tmp_path / "m.q"
    p.write_text("qubit q;\nh q;\n")
    assert main(["check", str(p)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error: ZeroDivisionError: synthetic" in err and "--traceback" in err


def test_outputs_get_the_usual_file_mode(tmp_path):
    import os
    import stat

    from qcomp._io import atomic_write_text

    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    (tmp_path / "a.txt").chmod(0o604)
    atomic_write_text(tmp_path / "a.txt", "y")  # an existing file keeps its mode
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o604 and (tmp_path / "a.txt").read_text() == "y"


def test_sources_with_a_utf8_byte_order_mark(tmp_path, capsys):
    from qcomp.cli import main

    (tmp_path / "m.q").write_bytes(b"\xef\xbb\xbfqubit q;\nh q;\nexpect z(q);\n")
    (tmp_path / "m.qasm").write_bytes(b"\xef\xbb\xbfOPENQASM 3.0;\nqubit[1] q;\nh q[0];\n")
    assert main(["check", str(tmp_path / "m.q")]) == 0
    assert main(["check", str(tmp_path / "m.qasm")]) == 0
    assert capsys.readouterr().out.count("ok") == 2


@pytest.mark.parametrize("argv", [["run", "M", "--shots", "10", "--seed", "-1"], ["run", "M", "--shots", "100000000000000000000"],
                                  ["run", "M", "--threads", "0"], ["train", "M", "--data", "digits:3,6", "--seed", "-5"]])
def test_out_of_range_counts_are_usage_errors(argv, tmp_path, capsys):
    from qcomp.cli import main

    (tmp_path / "m.q").write_text("qubit q;\nh q;\nexpect z(q);\n")
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path / "m.q") if a == "M" else a for a in argv])
    assert e.value.code == 2 and "must be between" in capsys.readouterr().err
