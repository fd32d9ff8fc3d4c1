"""The ``qcomp`` command line: one subcommand per module in qcomp.commands."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from ._version import __version__
from .errors import QCompError

# Each module defines NAME, HELP, add_arguments(parser) and run(args) -> int.
COMMAND_MODULES = (
    "check",
    "draw",
    "ir",
    "compile",
    "train",
    "eval",
    "passes",
    "run",
    "grad",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qcomp",
        description="qcomp: compile differentiable quantum programs (.q) to OpenQASM and fast simulator kernels.",
    )
    parser.add_argument("--version", action="version", version=f"qcomp {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show a Python traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod_name in COMMAND_MODULES:
        mod = importlib.import_module(f"qcomp.commands.{mod_name}")
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        # SUPPRESS: an absent subcommand flag must not reset "qcomp --traceback CMD"
        p.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS,
                       help="show a Python traceback on errors")
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except QCompError as exc:
        if getattr(args, "traceback", False):
            raise
        print(exc.render(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (e.g. "qcomp draw m.q | head"): stop quietly, as Unix tools do
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:
        # a path the file system refuses (missing directory, a directory, read-only, too long):
        # a user mistake, reported like the others (each output file is written atomically)
        if getattr(args, "traceback", False):
            raise
        where = f"'{exc.filename}': " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except MemoryError:
        if getattr(args, "traceback", False):
            raise
        print("error: out of memory (lower the problem size, --batch-size or --max-qubits)", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a bug, or a mistake not yet diagnosed
        if getattr(args, "traceback", False):
            raise
        print(f"error: internal error: {type(exc).__name__}: {exc}\n"
              f"note: this input is not diagnosed yet; rerun with --traceback and report it", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
