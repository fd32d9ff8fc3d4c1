"""Declared params and inputs that no gate uses are warned about at compile time (API and CLI)."""

import warnings

import pytest

import qcomp
from qcomp.cli import main
from qcomp.frontend.lower import UnusedDeclarationWarning

SRC = "qubit q[2];\nparam w[2];\nparam unused;\ninput x[3];\nrx(w[0] * x[0]) q[0];\nry(floor(x[2])) q[1];\nexpect z(q[0]);\n"


def _messages(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, UnusedDeclarationWarning)]


def test_parse_warns_once_per_declaration():
    with pytest.warns(UnusedDeclarationWarning) as record:
        qcomp.parse(SRC, name="m.q")
    assert _messages(record) == [
        "m.q:2:1: param 'w': no gate uses w[1]; it does not affect any output",
        "m.q:3:1: param 'unused' is declared but no gate uses it; it does not affect any output",
        "m.q:4:1: input 'x': no gate uses x[1]; it does not affect any output",
    ]
    assert issubclass(UnusedDeclarationWarning, UserWarning)


def test_a_program_using_everything_is_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        qcomp.parse("qubit q; param w; input x; rx(w * x) q; expect z(q);")


def test_compile_warns_on_a_cache_hit_too(tmp_path, monkeypatch):
    monkeypatch.setenv("QCOMP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("QCOMP_NO_CACHE", raising=False)
    src = tmp_path / "m.q"
    src.write_text(SRC)
    for _ in range(2):  # a miss, then a hit
        with pytest.warns(UnusedDeclarationWarning) as record:
            qcomp.compile(src)
        assert len(_messages(record)) == 3


def test_cli_prints_warning_lines(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QCOMP_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "m.q"
    src.write_text(SRC)
    for _ in range(2):
        assert main(["check", str(src)]) == 0
        err = capsys.readouterr().err.splitlines()
        assert err == [f"warning: {src}:2:1: param 'w': no gate uses w[1]; it does not affect any output",
                       f"warning: {src}:3:1: param 'unused' is declared but no gate uses it; it does not affect any output",
                       f"warning: {src}:4:1: input 'x': no gate uses x[1]; it does not affect any output"]
