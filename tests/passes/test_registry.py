"""The table of passes (passes/registry.py), what each pass declares it preserves, and Pass.apply."""

from __future__ import annotations

import ast
import dataclasses
import gc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qcomp.passes as passes_pkg
from qcomp.ir import Circuit, Operation
from qcomp.ir.verify import IRVerificationError
from qcomp.passes import OUTPUT_PRESERVING_PASSES, REGISTRY, Pass, PassManager
from qcomp.passes import presets, registry
from qcomp.passes.base import PRESERVES

PASSES_DIR = Path(passes_pkg.__file__).resolve().parent


def _pass_classes_in_sources() -> set[str]:
    """Names of the classes in passes/*.py that subclass Pass directly (read from the source, not imported)."""
    found = set()
    for f in sorted(PASSES_DIR.glob("*.py")):
        for node in ast.parse(f.read_text()).body:
            if isinstance(node, ast.ClassDef) and any(getattr(b, "id", None) == "Pass" for b in node.bases):
                found.add(node.name)
    return found


def test_every_pass_class_is_in_the_table():
    # forgetting the table line is the one way to add a pass wrong: this names the class
    assert {cls.__name__ for cls in registry.ALL_PASSES} == _pass_classes_in_sources()
    assert list(REGISTRY) == [cls.name for cls in registry.ALL_PASSES]


def test_the_table_is_read_only_and_not_filled_by_subclassing():
    with pytest.raises(TypeError):
        REGISTRY["x"] = Pass  # type: ignore[index]

    @dataclasses.dataclass(frozen=True)
    class Local(Pass):
        name = "local-test-pass"

    assert "local-test-pass" not in REGISTRY


@pytest.mark.parametrize(
    "classes,msg",
    [
        ((type("A", (Pass,), {"name": "Not_Kebab"}),), "is not kebab-case"),
        ((type("A", (Pass,), {"name": "same"}), type("B", (Pass,), {"name": "same"})), "is used by A and B"),
        ((type("A", (Pass,), {"name": "a", "preserves": "phase"}),), "preserves must be one of state, outputs, nothing"),
    ],
)
def test_a_bad_table_is_refused(classes, msg):
    with pytest.raises(ValueError, match=msg):
        registry._table(classes)


def test_preserves_is_declared_on_the_classes():
    assert {cls.preserves for cls in REGISTRY.values()} <= set(PRESERVES)
    assert OUTPUT_PRESERVING_PASSES == {"light-cone", "dead-qubits", "elide-swaps", "defer-measurements"}
    assert presets.OUTPUT_PRESERVING_PASSES is OUTPUT_PRESERVING_PASSES
    assert REGISTRY["param-shift"].preserves == "nothing"
    assert all(REGISTRY[n].preserves == "state" for n in ("constant-fold", "cancel-inverses", "fuse-blocks"))


@pytest.mark.parametrize("name", sorted(n for n, c in REGISTRY.items() if c.preserves != "nothing" and c.available()))
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_each_pass_keeps_what_it_declares(name, data, random_program, check_equivalent):
    # fused unitaries and basis translation need constant-enough programs; the random ones suffice
    prog = data.draw(random_program(max_qubits=5, max_gates=20))
    out = REGISTRY[name]().apply(prog, verify=True)
    check_equivalent(prog, out, state=REGISTRY[name].preserves == "state")


def test_apply_pauses_the_collector_and_verifies_when_asked(make_program):
    seen = []

    @dataclasses.dataclass(frozen=True)
    class Spy(Pass):
        name = "spy"

        def run(self, program):
            seen.append(gc.isenabled())
            return program

    prog = make_program(1, [Operation("h", (0,))])
    assert gc.isenabled()
    assert Spy().apply(prog) is prog
    assert seen == [False] and gc.isenabled()

    @dataclasses.dataclass(frozen=True)
    class Corrupt(Pass):
        """Leaves a gate on a qubit the program does not have."""

        name = "corrupt"

        def run(self, program):
            # checked=True skips the qubit sweep, as a pass that only permutes wires may
            return program.with_circuit(Circuit.from_ops(program.num_qubits, [Operation("x", (5,))], checked=True))

    Corrupt().apply(prog)  # no verification asked
    with pytest.raises(IRVerificationError, match="qubit"):
        Corrupt().apply(prog, verify=True)
    with pytest.raises(IRVerificationError, match="qubit"):
        PassManager([Corrupt()], verify_each=True).run(prog)


def test_available_passes_run_from_the_presets():
    assert all(cls.available() for n, cls in REGISTRY.items() if n != "consolidate-2q")
    names = {p.name for lvl in range(4) for t in presets.TARGETS for p in presets.preset_pipeline(lvl, t)}
    assert ("consolidate-2q" in names) == REGISTRY["consolidate-2q"].available()


def test_cli_says_what_a_pass_keeps(capsys):
    from qcomp.cli import main

    assert main(["passes"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    for name in OUTPUT_PRESERVING_PASSES:
        assert lines[name].endswith("(keeps the outputs, not the state)")
    assert lines["param-shift"].endswith("(computes another program)")
    assert "keeps" not in lines["cancel-inverses"].split("]")[-1]
