"""`qcomp check|run|draw` with var/probs/sample/hermitian outputs; train/eval/grad refuse them."""

from __future__ import annotations

import json

import numpy as np

import qcomp

SRC = """
const M = [[1, 0.5, 0, 0], [0.5, -1, 0.2, 0], [0, 0.2, 2, 1], [0, 0, 1, 0]];
qubit idle;
qubit q[3];
param w[3];
input x;
ry(w[0] * x) q[0]; rx(w[1]) q[1]; cx q[0], q[1]; ry(w[2]) q[2]; crz(w[0]) q[1], q[2]; h q[0];
var x(q[0]) + 0.3 * z(q[1]) @ y(q[2]);
probs q[2], q[0];
expect hermitian(M) q[1], q[2];
var hermitian(M) q[0], q[2];
expect sum(z(q[k]) for k in range(3));
sample(50) q[1];
"""

BRIDGE_SRC = """
qubit q[2];
param w[2];
input x[2];
ry(x[0] * w[0]) q[0]; rx(x[1]) q[1]; cx q[0], q[1]; ry(w[1]) q[1];
var x(q[0]) + z(q[1]);
probs q[1], q[0];
expect z(q[0]) @ z(q[1]);
"""


def test_cli_run_and_check_print_every_output(tmp_path, capsys) -> None:
    from qcomp.cli import main

    f = tmp_path / "m.q"
    f.write_text(SRC)
    (tmp_path / "w.json").write_text("[0.3, 0.7, -0.4]")
    (tmp_path / "x.json").write_text("[[0.5], [1.2]]")
    assert main(["check", str(f)]) == 0
    out = capsys.readouterr().out
    assert "[1] probs q[2], q[0]  (probabilities, shape (4,))" in out and "[5] sample(50) q[1]  (samples, shape (50,))" in out
    assert main(["run", str(f), "--params", str(tmp_path / "w.json"), "--inputs", str(tmp_path / "x.json"),
                 "--seed", "3", "-o", str(tmp_path / "o.json")]) == 0
    doc = json.loads((tmp_path / "o.json").read_text())
    assert doc["columns"][:6] == ["output0", "output1[0]", "output1[1]", "output1[2]", "output1[3]", "output2"]
    assert len(doc["columns"]) == 1 + 4 + 1 + 1 + 1 + 50 and len(doc["values"]) == 2
    want = qcomp.compile(SRC).simulator().outputs([0.3, 0.7, -0.4], [[0.5], [1.2]])
    np.testing.assert_allclose(np.array(doc["values"])[:, 1:5], want[1], atol=1e-12)
    assert main(["run", str(f), "--params", str(tmp_path / "w.json"), "--inputs", str(tmp_path / "x.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "output1: probs q[2], q[0]" and lines[6].split()[:3] == ["sample", "output0", "output1[0]"]


def test_draw_lists_outputs_and_expectation_commands_refuse_other_kinds(tmp_path, capsys) -> None:
    from qcomp.cli import main

    f = tmp_path / "m.q"
    f.write_text(BRIDGE_SRC)
    assert main(["draw", str(f)]) == 0
    out = capsys.readouterr().out
    assert "q[1]:" in out and out.splitlines()[-2:] == ["output[1]: probs q[1], q[0]", "output[2]: z(q[0]) @ z(q[1])"]
    (tmp_path / "w.json").write_text("[0.1, 0.2]")
    for argv in (["grad", str(f), "-o", str(tmp_path / "g")],
                 ["train", str(f), "--data", "digits:3,6", "--epochs", "1"],
                 ["eval", str(f), "--params", str(tmp_path / "w.json"), "--data", "digits:3,6"]):
        assert main(argv) == 1
        assert "works on 'expect' outputs; this model declares probabilities, variance outputs" in capsys.readouterr().err
