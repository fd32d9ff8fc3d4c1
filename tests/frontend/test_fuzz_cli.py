"""Fuzz the CLI with hostile .q and .qasm sources: mutated valid programs (tokens deleted or
inserted, huge numbers, deep nesting, long names, control characters, unknown gates).

Whatever the input, the CLI must answer with exit status 0 or 1, never a traceback or an
"internal error", within a bounded time, and must leave no output file behind when it fails."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from qcomp.cli import main  # noqa: E402

Q_SEEDS = [
    "qubit q[2];\nparam w[2];\nh q[0];\ncx q[0], q[1];\nrx(w[0]) q[1];\nexpect z(q[0]) @ z(q[1]);\n",
    "const n = 3;\nqubit q[n];\nparam t;\ngate layer(a) x, y { ry(a) x; cz x, y; }\n"
    "for i in range(n - 1) { layer(t * (i + 1)) q[i], q[i + 1]; }\ninv @ layer(t) q[0], q[1];\nexpect x(q[2]);\n",
    "qubit q;\ninput x;\nparam w;\nif (1 < 2) { rx(x) q; } else { h q; }\nrz(sin(w) / 2 + pi) q;\nexpect 0.5 * z(q);\n",
]
QASM_SEEDS = [
    'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float t;\nqubit[2] q;\nbit[2] c;\nh q[0];\ncx q[0], q[1];\n'
    "rz(t) q[1];\nc = measure q;\n",
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\ngate g(a) x, y { u3(a, 0, pi) x; cx x, y; }\n'
    "g(pi/4) q[0], q[1];\nbarrier q;\nmeasure q -> c;\n",
    'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\nfor int i in [0:1] { cx q[i], q[i + 1]; }\n'
    "pow(2) @ inv @ s q[0];\nh q[0:2];\n",
]
HOSTILE = [
    "9" * 5000, "1e400", "-1e400", "0.0/0.0", "1/0", "w/0", "2**1000000", "99999999999", "10000000",
    "\x1b[2J", "\x00", "\r", "\u202e", "\t", "\x7f", "é", "a" * 3000, "hh", "cnt", "foo(1)", "sqrt(-1)",
    "(" * 200 + "1" + ")" * 200, "sin(" * 100 + "1" + ")" * 100, "{", "}", "(", ")", "[", "]", ";", ",",
    "@", "inv @", "pow(1e400) @", "pow(nan) @", "ctrl @", "gate", "for", "in", "range(", "if", "else",
    "qubit", "param", "input", "const", "include", '"x.q"', '"/dev/zero"', "expect", "measure", "OPENQASM 4.0;",
    "q[0:100000000000]", "[0:99999]", "range(10000000)", "/*", "//", "\n", " ", "x", "q", "w", "0", "-",
]
COMMANDS = ["check", "draw", "compile", "run", "grad"]
TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def _tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


@st.composite
def hostile_source(draw) -> tuple[str, str]:
    suffix = draw(st.sampled_from([".q", ".qasm"]))
    tokens = _tokens(draw(st.sampled_from(Q_SEEDS if suffix == ".q" else QASM_SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["delete", "insert", "replace", "repeat"]))
        i = draw(st.integers(0, max(len(tokens) - 1, 0)))
        if kind == "delete" and tokens:
            del tokens[i]
        elif kind == "insert":
            tokens.insert(i, draw(st.sampled_from(HOSTILE)))
        elif kind == "replace" and tokens:
            tokens[i] = draw(st.sampled_from(HOSTILE))
        elif kind == "repeat" and tokens:  # a statement or expression over and over: depth and size
            j = draw(st.integers(i, min(i + 12, len(tokens))))
            tokens[i:j] = tokens[i:j] * draw(st.integers(2, 40))
    return suffix, "".join(tokens)


@settings(max_examples=50, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(source=hostile_source(), command=st.sampled_from(COMMANDS))
def test_hostile_sources_get_a_diagnostic_not_a_crash(source, command, tmp_path: Path, capsys) -> None:
    suffix, text = source
    case = tmp_path / f"case{time.monotonic_ns()}"
    case.mkdir()
    src = case / f"m{suffix}"
    src.write_text(text, encoding="utf-8")
    out = case / ("out" if command == "grad" else "out.qasm")
    argv = [command, str(src), "--no-cache", "--max-ops", "5000", "--max-qubits", "10"]
    if command in ("compile", "grad"):
        argv += ["-o", str(out)]
    t0 = time.perf_counter()
    status = main(argv)
    elapsed = time.perf_counter() - t0
    captured = capsys.readouterr()
    text_out = captured.out + captured.err
    assert status in (0, 1), (status, text, text_out)
    assert "Traceback" not in text_out, (text, text_out)
    assert "internal error" not in text_out, (text, text_out)
    assert "\x1b" not in captured.err, (text, captured.err)
    assert elapsed < 20, (elapsed, text)
    if status == 1:
        assert not out.exists(), (text, text_out)
        assert re.search(r"error: ", captured.err), (text, text_out)
