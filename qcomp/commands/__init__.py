"""CLI subcommands, one module each (see qcomp.cli.COMMAND_MODULES)."""

from __future__ import annotations

import argparse


def add_source_args(p: argparse.ArgumentParser) -> None:
    """The model file plus the front end's resource limits."""
    from ..frontend import DEFAULT_MAX_OPS, DEFAULT_MAX_QUBITS

    p.add_argument("source", help="a .q model (or an OpenQASM .qasm file)")
    p.add_argument("--max-qubits", type=int, default=DEFAULT_MAX_QUBITS, help="refuse programs with more qubits")
    p.add_argument("--max-ops", type=int, default=DEFAULT_MAX_OPS, help="refuse programs that unroll to more operations")
    p.add_argument("--no-cache", action="store_true", help="do not use the on-disk compile cache (QCOMP_CACHE_DIR or ~/.cache/qcomp)")


def add_level_arg(p: argparse.ArgumentParser, what: str) -> None:
    """``-O0``..``-O3``: the preset pipeline (qcomp.pipeline) of a command that optimizes."""
    from ..pipeline import DEFAULT_LEVEL

    p.add_argument("-O", dest="opt_level", type=int, choices=(0, 1, 2, 3), default=DEFAULT_LEVEL,
                   help=f"optimization level -O0..-O3 of the program {what} (default -O{DEFAULT_LEVEL}, as qcomp.compile)")


def load_model(args: argparse.Namespace, *, optimizing: bool = True):
    """The source as a qcomp Model, the API's object, through which every command optimizes (with
    its ``-O``/``--passes`` when ``optimizing`` and the command has them; see qcomp.pipeline).
    The lowered program comes from the compile cache when the source, its includes and the limits
    are unchanged."""
    from pathlib import Path

    from ..pipeline import DEFAULT_LEVEL

    level = getattr(args, "opt_level", DEFAULT_LEVEL) if optimizing else DEFAULT_LEVEL
    passes = getattr(args, "passes", None) if optimizing else None
    return compile_source(Path(args.source), optimize=level, passes=passes, max_qubits=args.max_qubits,
                          max_ops=args.max_ops, cache=not getattr(args, "no_cache", False))


def compile_source(source, **options):
    """``qcomp.compile(source, **options)`` with the front end's warnings (unused params and inputs)
    printed as ``warning: ...`` lines on stderr, the same on a compile-cache hit as on a miss."""
    import sys
    import warnings

    from ..api import compile as qcompile
    from ..frontend.lower import UnusedDeclarationWarning, unused_declarations

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedDeclarationWarning)
        model = qcompile(source, **options)
    for message in unused_declarations(model.program):
        print(f"warning: {message}", file=sys.stderr)
    return model


def require_expect_outputs(program, command: str) -> None:
    """Refuse, before any work, a model whose outputs are not all 'expect' values (var, probs,
    sample) in a command that trains on or differentiates expectation values."""
    if not program.expectations_only:
        from ..errors import UnsupportedError

        kinds = sorted({o.kind for o in program.outputs} - {"expectation"})
        raise UnsupportedError(f"qcomp {command} works on 'expect' outputs; this model declares {', '.join(kinds)}"
                               " outputs (see docs/language.md, \"Outputs beyond expect\": the Python API"
                               " computes them and their gradients)")


def load_program(args: argparse.Namespace):
    """The lowered (not optimized) program of the source."""
    return load_model(args, optimizing=False).program


def check_outputs(outputs, inputs=(), *, rewrites=()) -> None:
    """Refuse before any work when an output path is an input file or another output (a user
    typing the same name twice would lose the source, a checkpoint or one of the outputs), or
    cannot be written (see qcomp._io.check_writable). ``rewrites`` holds (output, input) pairs
    that may be one file: an input read in full before that output is written (train --save
    rewriting its --resume checkpoint). Devices and FIFOs (/dev/null) are never "the same file"."""
    from pathlib import Path

    from .._io import check_writable, is_special_output
    from ..errors import InputError

    allowed = {(str(o), Path(i).resolve()) for o, i in rewrites if o and i}
    seen: dict[Path, tuple[str, Path | None]] = {}
    for name in inputs:
        if name and str(name) != "-":
            p = Path(name).resolve()
            seen[p] = (f"input '{name}'", p)
    for name in outputs:
        if not name or str(name) == "-" or is_special_output(name):
            continue
        p = Path(name).resolve()
        if p in seen and (str(name), seen[p][1]) not in allowed:
            raise InputError(f"output '{name}' is the same file as the {seen[p][0]}; choose another path")
        seen[p] = (f"output '{name}'", None)
    check_writable(outputs)


def int_in(lo: int, hi: int, what: str):
    """An argparse type: an integer in [lo, hi] (numpy refuses negative seeds, shot counts past
    int64 overflow, thread counts are checked by numexpr only with a printed warning)."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an integer, got '{text}'") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{what} must be between {lo} and {hi}, got {v}")
        return v

    return parse
