"""`qcomp run` prints short, aligned columns with a legend of the outputs."""

import numpy as np

from qcomp.cli import main

SRC = ("qubit q[2]; param w[2]; ry(w[0]) q[0]; ry(w[1]) q[1];\n"
       "expect 0.5 * z(q[0]) @ z(q[1]) + x(q[0]);\nexpect z(q[1]);\n")


def test_table_has_a_legend_short_headers_and_aligned_columns(tmp_path, capsys):
    model = tmp_path / "m.q"
    model.write_text(SRC)
    np.save(tmp_path / "w.npy", np.array([[0.5, 2.9], [3.0, -0.2], [0.1, 0.1]]))
    assert main(["run", str(model), "--params", str(tmp_path / "w.npy")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["output0: 0.5 * z(q[0]) @ z(q[1]) + x(q[0])", "output1: z(q[1])"]
    header, rows = lines[2], lines[3:]
    assert header.split() == ["sample", "output0", "output1"]
    assert len(rows) == 3 and len({len(r) for r in rows + [header]}) == 1  # one width, signs included
    for col in ("output0", "output1"):  # every value ends under the end of its header
        end = header.index(col) + len(col)
        assert all(r[end - 1].isdigit() and (end == len(r) or r[end] == " ") for r in rows)
    assert any("-" in r for r in rows)
