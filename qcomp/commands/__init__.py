"""CLI subcommands, one module each (see qcomp.cli.COMMAND_MODULES)."""

from __future__ import annotations

import argparse


def add_source_args(p: argparse.ArgumentParser) -> None:
    """The model file plus the front end's resource limits."""
    from ..frontend import DEFAULT_MAX_OPS, DEFAULT_MAX_QUBITS

    p.add_argument("source", help="a .q model (or an OpenQASM .qasm file)")
    p.add_argument("--max-qubits", type=int, default=DEFAULT_MAX_QUBITS, help="refuse programs with more qubits")
    p.add_argument("--max-ops", type=int, default=DEFAULT_MAX_OPS, help="refuse programs that unroll to more operations")


def load_program(args: argparse.Namespace):
    from ..frontend import parse_file

    return parse_file(args.source, max_qubits=args.max_qubits, max_ops=args.max_ops)
