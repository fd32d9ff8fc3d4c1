"""The pass registry, pipeline spec parsing and the PassManager (passes/base.py)."""

from __future__ import annotations

import dataclasses

import pytest

from qcomp.errors import PassError, QCompError
from qcomp.ir import Operation
from qcomp.ir.program import Program
from qcomp.passes import REGISTRY, Pass, PassManager, make_pass, parse_pipeline
from qcomp.passes.cancel_inverses import CancelInverses
from qcomp.passes.constant_fold import ConstantFold
from qcomp.passes.merge_rotations import MergeRotations


def test_parse_simple_and_options():
    ps = parse_pipeline(" cancel-inverses , merge-rotations{window=8}, constant-fold{normalize=false} ")
    assert ps == [CancelInverses(), MergeRotations(window=8), ConstantFold(normalize=False)]
    assert [p.spec() for p in ps] == ["cancel-inverses", "merge-rotations{window=8}", "constant-fold{normalize=False}"]
    assert parse_pipeline(",".join(p.spec() for p in ps)) == ps  # spec round-trips
    assert parse_pipeline("") == []


def test_unknown_pass_lists_valid_ones():
    with pytest.raises(PassError) as e:
        parse_pipeline("cancel-inverses,cancel-inverse")
    msg = str(e.value)
    assert "unknown pass 'cancel-inverse'" in msg and "did you mean 'cancel-inverses'" in msg
    for name in REGISTRY:
        assert name in msg
    assert isinstance(e.value, QCompError)


def test_unknown_option_lists_valid_ones():
    with pytest.raises(PassError, match=r"pass 'merge-rotations' has no option 'max'; valid options: window"):
        parse_pipeline("merge-rotations{max=3}")
    with pytest.raises(PassError, match=r"has no option 'x'; valid options: none"):
        parse_pipeline("light-cone{x=1}")


def test_bad_option_values():
    with pytest.raises(PassError, match="option 'window' of pass 'cancel-inverses' expects int, got 'many'"):
        parse_pipeline("cancel-inverses{window=many}")
    with pytest.raises(PassError, match="expects bool"):
        parse_pipeline("constant-fold{normalize=maybe}")
    with pytest.raises(PassError, match="bad options for pass 'cancel-inverses'"):
        parse_pipeline("cancel-inverses{window=0}")
    with pytest.raises(PassError, match="must look like key=value"):
        parse_pipeline("cancel-inverses{window}")
    with pytest.raises(PassError, match="cannot parse pass pipeline"):
        parse_pipeline("cancel-inverses;;merge")


def test_make_pass():
    assert make_pass("merge-rotations", {"window": "3"}) == MergeRotations(window=3)


def test_registry_entries_are_frozen_dataclasses_with_descriptions():
    for name, cls in REGISTRY.items():
        assert cls.name == name
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
        assert cls.description(), f"{name} has no one-line description"


def _ops(program: Program):
    return program.circuit.ops()


def test_pass_manager_runs_in_order_and_records(make_program):
    prog = make_program(1, [Operation("h", (0,)), Operation("h", (0,)), Operation("x", (0,))])
    printed: list[str] = []
    pm = PassManager(parse_pipeline("cancel-inverses,constant-fold"), verify_each=True, print_ir_after_all=printed.append)
    out = pm.run(prog)
    assert _ops(out) == [Operation("x", (0,))]
    assert [name for name, _ in pm.timings] == ["cancel-inverses", "constant-fold"]
    assert printed[0].startswith("// after cancel-inverses\n") and "x q[0];" in printed[0]
    assert len(_ops(prog)) == 3  # input untouched


def test_verify_each_runs_the_equivalence_check(make_program):
    calls = []

    def check(before, after, p):
        calls.append(p.name)

    prog = make_program(1, [Operation("h", (0,))])
    PassManager([CancelInverses(), MergeRotations()], verify_each=True, equivalence_check=check).run(prog)
    assert calls == ["cancel-inverses", "merge-rotations"]


@dataclasses.dataclass(frozen=True)
class _Broken(Pass):
    """Swaps h for x: a wrong pass the checks must catch."""

    name = "broken-test-pass"

    def run(self, program):
        c = program.circuit.copy()
        for n, op in c.items():
            if op.name == "h":
                c.replace(n, Operation("x", op.qubits))
        return program.with_circuit(c)


def test_verify_each_catches_a_wrong_pass(make_program, check_equivalent):
    prog = make_program(1, [Operation("h", (0,))])

    def check(before, after, p):
        check_equivalent(before, after)

    with pytest.raises(AssertionError):
        PassManager([_Broken()], verify_each=True, equivalence_check=check).run(prog)
    assert "broken-test-pass" not in REGISTRY


def test_cli_lists_passes_and_presets(capsys):
    from qcomp.cli import main

    assert main(["passes", "--presets"]) == 0
    out = capsys.readouterr().out
    for name, cls in REGISTRY.items():
        assert f"{name}" in out and cls.description() in out
    assert "window=64" in out and "-O2 qasm" in out and "basis-translation" in out
