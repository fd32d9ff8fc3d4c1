"""include: relative resolution, nesting, shared names, cycles, missing files, placement."""

from __future__ import annotations

from pathlib import Path

import pytest

import qcomp
from qcomp.errors import IncludeError, ParseError, SemanticError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_include_relative_to_including_file(tmp_path: Path) -> None:
    write(tmp_path / "lib" / "gates.q", 'include "more/ent.q";\ngate layer(t) a, b { ry(t) a; ry(t) b; ent a, b; }\n')
    write(tmp_path / "lib" / "more" / "ent.q", "gate ent a, b { cx a, b; }\nconst width = 2;\n")
    main = write(tmp_path / "main.q", 'include "lib/gates.q";\nqubit q[width];\nparam w;\nlayer(w) q[0], q[1];\n')
    p = qcomp.parse_file(main)
    assert [o.name for o in p.circuit.ops()] == ["ry", "ry", "cx"]
    assert p.num_qubits == 2


def test_include_declarations_and_ops_are_shared(tmp_path: Path) -> None:
    write(tmp_path / "decl.q", "qubit q[2];\nparam w[2];\nh q;\n")
    main = write(tmp_path / "m.q", 'include "decl.q";\nrx(w[1]) q[0];\nexpect z(q[0]);\n')
    p = qcomp.parse_file(main)
    assert [o.name for o in p.circuit.ops()] == ["h", "h", "rx"] and p.num_params == 2


def test_include_same_file_twice_redeclares(tmp_path: Path) -> None:
    write(tmp_path / "d.q", "qubit q;\n")
    main = write(tmp_path / "m.q", 'include "d.q";\ninclude "d.q";\n')
    with pytest.raises(SemanticError, match="redeclaration of 'q'") as info:
        qcomp.parse_file(main)
    assert info.value.span.file == "d.q" and info.value.span.line == 1


def test_include_cycle(tmp_path: Path) -> None:
    write(tmp_path / "a.q", 'qubit q;\ninclude "b.q";\n')
    write(tmp_path / "b.q", '\n  include "a.q";\n')
    with pytest.raises(IncludeError) as info:
        qcomp.parse_file(tmp_path / "a.q")
    err = info.value
    assert err.message == "include cycle: a.q -> b.q -> a.q"
    assert (err.span.file, err.span.line, err.span.column) == ("b.q", 2, 3)
    assert err.render().split("\n")[1:3] == ['      include "a.q";', "      ^~~~~~~~~~~~~~"]


def test_self_include(tmp_path: Path) -> None:
    main = write(tmp_path / "self.q", 'qubit q;\ninclude "./self.q";\n')
    with pytest.raises(IncludeError, match=r"include cycle: self.q -> self.q"):
        qcomp.parse_file(main)


def test_missing_include(tmp_path: Path) -> None:
    main = write(tmp_path / "m.q", 'qubit q;\ninclude "nope.q";\n')
    with pytest.raises(IncludeError) as info:
        qcomp.parse_file(main)
    err = info.value
    assert err.message.startswith("cannot find include file 'nope.q' (looked in ")
    assert (err.span.line, err.span.column) == (2, 1)
    assert "^" in err.render()


def test_error_inside_included_file_names_that_file(tmp_path: Path) -> None:
    write(tmp_path / "bad.q", "gate g a {\n  h a\n}\n")
    main = write(tmp_path / "m.q", 'include "bad.q";\nqubit q;\n')
    with pytest.raises(ParseError) as info:
        qcomp.parse_file(main)
    assert str(info.value).startswith("bad.q:2:6: error: missing ';'")


def test_include_not_allowed_in_blocks(tmp_path: Path) -> None:
    write(tmp_path / "x.q", "h q;\n")
    main = write(tmp_path / "m.q", 'qubit q;\nfor i in range(2) { include "x.q"; }\n')
    with pytest.raises(SemanticError, match="include is not allowed inside a loop or if block"):
        qcomp.parse_file(main)


def test_include_from_string_uses_base_dir(tmp_path: Path) -> None:
    write(tmp_path / "g.q", "gate bell a, b { h a; cx a, b; }\n")
    p = qcomp.parse('include "g.q";\nqubit q[2];\nbell q[0], q[1];', base_dir=tmp_path)
    assert [o.name for o in p.circuit.ops()] == ["h", "cx"]
