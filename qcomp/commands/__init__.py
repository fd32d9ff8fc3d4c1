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


def load_program(args: argparse.Namespace):
    from pathlib import Path

    from ..api import compile as qcompile

    # the lowered program, from the compile cache when the source, its includes and the limits are unchanged
    return qcompile(Path(args.source), max_qubits=args.max_qubits, max_ops=args.max_ops,
                    cache=not getattr(args, "no_cache", False)).program


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
