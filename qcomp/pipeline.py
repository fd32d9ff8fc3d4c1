"""The one compile pipeline: source -> lowered Program -> optimized Program per target, cached on disk."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .errors import QCompError
from .frontend import DEFAULT_MAX_OPS, DEFAULT_MAX_QUBITS
from .ir.program import Program

if TYPE_CHECKING:
    from .cache import CompileCache
    from .passes import Pass

__all__ = ["DEFAULT_LEVEL", "STATE_TARGET", "TARGETS", "Lowered", "build", "has_channels", "keeps_state", "lower", "pass_list",
           "run_passes"]

# What ``qcomp.compile``, ``qcomp compile``, ``qcomp run`` and ``qcomp train`` optimize at by default.
DEFAULT_LEVEL = 2
# "state": the "sim" pipeline without the passes that keep only the outputs (light-cone,
# dead-qubits, elide-swaps drop gates, remove or relabel qubits), so the final state of the result
# is the declared program's, qubit for qubit.
STATE_TARGET = "state"
TARGETS = ("qasm", "sim", STATE_TARGET)


@dataclass(frozen=True)
class Lowered:
    """A lowered program and where its optimized forms are cached (``key``/``store`` None: not cached)."""

    program: Program
    key: str | None = None
    store: CompileCache | None = None


def _looks_like_path(s: str) -> bool:
    return "\n" not in s and ";" not in s and s.strip().endswith((".q", ".qasm", ".qasm3", ".qasm2"))


def front_end(text: str, name: str, base_dir: Path | None, max_qubits: int, max_ops: int) -> Program:
    """What parse_file / parse do, on text already read (so the cache key and the program agree)."""
    from . import frontend

    if name.lower().endswith((".qasm", ".qasm3", ".qasm2")):
        from .frontend.qasm_import import import_qasm

        return import_qasm(text, name, max_qubits=max_qubits, max_ops=max_ops)
    return frontend.parse(text, name=name, max_qubits=max_qubits, max_ops=max_ops, base_dir=base_dir)


def lower(source: str | os.PathLike, *, max_qubits: int = DEFAULT_MAX_QUBITS, max_ops: int = DEFAULT_MAX_OPS,
          cache: bool = True) -> Lowered:
    """Parse and lower a ``.q``/``.qasm`` file path or .q source text, through the compile cache
    unless ``cache`` is false, ``QCOMP_NO_CACHE`` is set or the cache directory is unusable."""
    from .cache import default_cache, source_key
    from .frontend import parse, parse_file

    is_path = isinstance(source, os.PathLike) or (isinstance(source, str) and _looks_like_path(source))
    if is_path and not Path(source).is_file():
        raise QCompError(f"cannot read '{source}': no such file")
    store = default_cache(cache)
    if store is None or not store.usable():
        program = parse_file(source, max_qubits=max_qubits, max_ops=max_ops) if is_path else \
            parse(str(source), max_qubits=max_qubits, max_ops=max_ops)
        return Lowered(program)
    if is_path:
        from .frontend.source import read_source

        # the one bounded reader of regular files (a FIFO or device given as the model is refused)
        text, _ = read_source(source, name=str(source), error=QCompError, what="")
        name, base_dir = str(source), Path(source).resolve().parent
    else:
        text, name, base_dir = str(source), "<string>", None

    ran: list[bool] = []

    def run_front_end() -> Program:
        ran.append(True)
        return front_end(text, name, base_dir, max_qubits, max_ops)

    key = source_key(text, name, base_dir, {"max_qubits": max_qubits, "max_ops": max_ops}, run_front_end, store)
    program = store.get_or_build("program", key, run_front_end, Program)
    if not ran:  # a cache hit: the front end's warnings (unused declarations) once more
        from .frontend.lower import warn_unused_declarations

        warn_unused_declarations(program)
    return Lowered(program, key, store)


def pass_list(level: int = DEFAULT_LEVEL, target: str = "qasm", passes: str | None = None) -> list[Pass]:
    """The passes ``build`` runs: the -O``level`` preset for ``target`` or the explicit ``passes``
    spec; for "state" either one without the passes that keep only the outputs."""
    from .passes import parse_pipeline, preset_pipeline

    if passes is not None:
        pipeline = parse_pipeline(passes)
    else:
        if level not in (0, 1, 2, 3):
            raise QCompError(f"optimization level must be 0, 1, 2 or 3, got {level}")
        pipeline = preset_pipeline(level, target="sim" if target == STATE_TARGET else target)
    if target == STATE_TARGET:
        pipeline = [p for p in pipeline if p.preserves == "state"]
    return pipeline


def keeps_state(level: int = DEFAULT_LEVEL, passes: str | None = None) -> bool:
    """Whether the "sim" pipeline keeps the full state (then "state" is the same program as "sim")."""
    from .passes import REGISTRY, parse_pipeline
    from .passes.presets import preset_spec

    if passes is not None:
        return all(p.preserves == "state" for p in parse_pipeline(passes))
    # every pass the preset names, available here or not, so the answer does not depend on extras
    return all(REGISTRY[n].preserves == "state" for n, _ in preset_spec(level, "sim"))


def is_dynamic(ops) -> bool:
    from .ir.dynamic import is_dynamic as dyn

    return dyn(ops)


def has_channels(program: Program) -> bool:
    """Whether ``program`` holds noise channels (``qcomp.ir.channels``); the passes treat them as
    fences (``qcomp.ir.gates.is_fence``, docs/noise.md)."""
    from .ir.channels import is_channel

    return any(is_channel(op.name) for op in program.circuit.ops())


def run_passes(program: Program, pipeline: list[Pass], *, verify_each: bool = False,
               print_ir_after_all: Callable[[str], None] | None = None) -> Program:
    """Run ``pipeline`` on ``program`` (no cache); ``verify_each`` adds the IR verifier and the
    statevector equivalence check after every pass."""
    from .passes import PassManager

    check = None
    if verify_each:
        from .verify_passes import statevector_equivalence_check

        check = statevector_equivalence_check
    pm = PassManager(pipeline, verify_each=verify_each, equivalence_check=check, print_ir_after_all=print_ir_after_all)
    return pm.run(program)


def build(source: Program | Lowered | str | os.PathLike, level: int = DEFAULT_LEVEL, target: str = "qasm", *,
          passes: str | None = None, cache: bool = True, verify_each: bool = False,
          print_ir_after_all: Callable[[str], None] | None = None, max_qubits: int = DEFAULT_MAX_QUBITS,
          max_ops: int = DEFAULT_MAX_OPS, defer: bool = True) -> Program:
    """The program of ``source`` after the pipeline of ``pass_list(level, target, passes)``: what
    every entry point exports ("qasm") or simulates ("sim"; "state" keeps the full state).

    ``source`` is a file path or .q text (lowered first, see ``lower``), a ``Lowered`` (its cache
    key and store are used) or a Program (not cached). For "sim" and "state" a dynamic program's
    measurements are deferred to ancillas first unless ``defer`` is false (the branch simulator,
    qcomp.backends.dynamic_sim, runs them as they are). Unless ``cache`` is false, the optimized
    program is read from and written to the compile cache when there is one, except with
    ``verify_each`` or ``print_ir_after_all``, which need the passes to run. A bad level or pass
    spec is never cached, so it is reported on every call.
    """
    if isinstance(source, Program):
        lowered = Lowered(source)
    elif isinstance(source, Lowered):
        lowered = source
    else:
        lowered = lower(source, max_qubits=max_qubits, max_ops=max_ops, cache=cache)

    def run() -> Program:
        # noise channels are fences: passes that do not handle them run between them (passes/base.py)
        pipeline = pass_list(level, target, passes)
        if target != "qasm" and defer and is_dynamic(lowered.program.circuit.ops()) and \
                not any(p.name == "defer-measurements" for p in pipeline):
            # simulators run dynamic circuits as unitary ones with one ancilla per mid-circuit
            # measurement or reset (docs/language.md "Dynamic circuits"); the qasm target keeps them
            from .passes import make_pass

            pipeline = [make_pass("defer-measurements", {"max_qubits": str(max_qubits)})] + pipeline
        return run_passes(lowered.program, pipeline, verify_each=verify_each,
                          print_ir_after_all=print_ir_after_all)

    if not cache or lowered.key is None or lowered.store is None or verify_each or print_ir_after_all is not None:
        return run()
    from .cache import derive_key

    # (undeferred programs get their own key; the deferred ones keep the key they always had)
    key = derive_key(lowered.key, level=level, passes=passes, target=target, **({} if defer else {"defer": False}))
    return lowered.store.get_or_build(f"program-{target}", key, run, Program)
