"""Program: declarations, names, summaries, text/json/dot dumps and the text diagram."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import qcomp
from qcomp.ir import Circuit, Operation

SRC = """
qubit a[2];
qubit r;
param w;
param v[2];
input x[2];
h a;
cx a[0], r;
rzz(w * x[1]) a[1], r;
ccx a[0], a[1], r;
ry(v[1] - 1) a[0];
expect z(r) - 0.5 * x(a[0]) @ y(a[1]);
expect 2 * z(a[0]) + 1;
measure r;
"""


@pytest.fixture(scope="module")
def prog() -> qcomp.Program:
    return qcomp.parse(SRC, name="m.q")


def test_sizes_and_names(prog) -> None:
    assert (prog.num_qubits, prog.num_params, prog.num_inputs, prog.num_outputs) == (3, 3, 2, 2)
    assert prog.qubit_names() == ["a[0]", "a[1]", "r"]
    assert prog.param_names() == ["w", "v[0]", "v[1]"] and prog.input_names() == ["x[0]", "x[1]"]
    assert [s.index for s in prog.param_symbols()] == [0, 1, 2] and prog.input_symbols()[1].name == "x[1]"
    assert prog.measured == (2,) and prog.source_name == "m.q"


def test_specs_and_summary(prog) -> None:
    s = prog.specs()
    assert s == {
        "qubits": 3, "params": 3, "inputs": 2, "gates": 6,
        "gate_counts": {"ccx": 1, "cx": 1, "h": 2, "ry": 1, "rzz": 1},
        "two_qubit_gates": 2, "multi_qubit_gates": 3, "depth": 5,
        "outputs": ["z(r) - 0.5 * x(a[0]) @ y(a[1])", "2 * z(a[0]) + 1"], "measured": ["r"],
        "output_kinds": ["expectation", "expectation"], "output_shapes": [[], []],
    }
    text = prog.summary()
    assert text.splitlines()[:5] == ["program: m.q", "qubits: 3", "params: 3", "inputs: 2", "gates: 6 (two-qubit: 2, depth: 5)"]
    assert "  [1] 2 * z(a[0]) + 1" in text and text.endswith("measured: r")


def test_to_text(prog) -> None:
    assert prog.to_text() == (
        "// m.q: 3 qubits, 3 params, 2 inputs\nqubit a[2];\nqubit r;\nparam w;\nparam v[2];\ninput x[2];\n"
        "h a[0];\nh a[1];\ncx a[0], r;\nrzz(w * x[1]) a[1], r;\nccx a[0], a[1], r;\nry(v[1] - 1) a[0];\n"
        "expect z(r) - 0.5 * x(a[0]) @ y(a[1]);\nexpect 2 * z(a[0]) + 1;\nmeasure r;\n"
    )


def test_to_text_reparses(prog) -> None:
    """to_text() is .q source, declarations included: it parses to the same circuit and text."""
    again = qcomp.parse(prog.to_text(), name=prog.source_name)
    assert again.circuit.ops() == prog.circuit.ops()
    assert again.observables == prog.observables
    assert again.to_text() == prog.to_text()


@pytest.mark.parametrize("example", sorted((Path(__file__).parents[2] / "examples").glob("*.q")), ids=lambda p: p.name)
def test_ir_text_of_the_examples_round_trips(example, capsys) -> None:
    """`qcomp ir --format text` prints a program that parses back to an equal one."""
    from qcomp.cli import main

    assert main(["ir", str(example), "--format", "text", "--no-cache"]) == 0
    text = capsys.readouterr().out
    again = qcomp.parse(text, name=str(example))
    assert again.to_text() == text
    assert again.registers == qcomp.parse_file(example).registers


def test_to_json(prog) -> None:
    data = json.loads(prog.to_json())
    assert data["qubits"] == ["a[0]", "a[1]", "r"] and data["params"] == ["w", "v[0]", "v[1]"]
    assert data["ops"][3] == {"gate": "rzz", "qubits": [1, 2], "angles": ["w * x[1]"]}
    assert data["observables"][0] == [{"coeff": 1.0, "paulis": [[2, "Z"]]}, {"coeff": -0.5, "paulis": [[0, "X"], [1, "Y"]]}]
    assert data["measured"] == [2]


def test_to_dot_is_valid_graphviz_of_the_dag(prog) -> None:
    dot = prog.to_dot()
    assert dot.startswith("digraph circuit {") and dot.rstrip().endswith("}")
    assert 'op3 [label="rzz(w * x[1])"];' in dot and 'op2 -> op3 [label="r"];' in dot
    # one edge line per graph edge
    assert sum(1 for line in dot.splitlines() if "->" in line) == prog.circuit.to_networkx().number_of_edges()


def test_draw(prog) -> None:
    lines = prog.draw().splitlines()
    assert lines[0].startswith("a[0]: ─h──●") and lines[4].startswith("r:    ────x──rzz(w * x[1])#1")
    assert "rzz(w * x[1])#0" in lines[2] and "expect[0]: z(r) - 0.5 * x(a[0]) @ y(a[1])" in lines
    assert "expect[1]: 2 * z(a[0]) + 1" in lines and lines[-1] == "measure: r"
    assert all(len(line) <= 12 for line in prog.draw(12).splitlines()[:5])


def test_draw_folds_long_circuits() -> None:
    p = qcomp.parse("qubit q[2]; param w[10];" + "".join(f"ry(w[{i}]) q[{i % 2}]; cx q[0], q[1];" for i in range(10)))
    whole = p.draw()
    folded = p.draw(40)
    blocks = folded.split("\n\n")
    assert len(blocks) > 2 and all(len(line) <= 40 for line in folded.splitlines())
    assert all(b.startswith("q[0]: ") for b in blocks)
    assert all(line.endswith("┄") for b in blocks[:-1] for line in b.splitlines() if line.startswith("q["))
    for i in range(10):  # nothing is cut
        assert folded.count(f"ry(w[{i}])") == whole.count(f"ry(w[{i}])") == 1
    assert folded.count("●") == whole.count("●") == 10


def test_draw_controlled_and_swap_symbols() -> None:
    p = qcomp.parse("qubit q[3]; crx(0.5) q[2], q[0]; swap q[0], q[1]; cswap q[0], q[1], q[2];")
    text = p.draw()
    assert "rx(0.5)" in text and "●" in text and "×" in text


def test_program_is_frozen_and_with_circuit_copies(prog) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        prog.source_name = "x"  # type: ignore[misc]
    c = prog.circuit.copy()
    c.add(Operation("x", (0,)))
    q = prog.with_circuit(c, source_name="changed")
    assert len(prog.circuit) == 6 and len(q.circuit) == 7 and q.source_name == "changed"
    assert q.params == prog.params and q.observables == prog.observables


def test_qubit_map_renames_after_renumbering(prog) -> None:
    c = Circuit.from_ops(2, [Operation("h", (1,))])
    q = prog.with_circuit(c, qubit_map=(0, 2), measured=(1,), observables=())
    assert q.qubit_names() == ["a[0]", "r"]
    assert "h r;" in q.to_text() and q.to_text().endswith("measure r;\n")
