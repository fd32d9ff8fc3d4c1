"""``qcomp check``: parse, lower and verify a model, then print its resource summary."""

from __future__ import annotations

import argparse
import json

from . import add_source_args, load_program

NAME = "check"
HELP = "parse, lower and verify a model; print qubits, params, inputs, gate counts, depth and outputs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_source_args(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    program = load_program(args)
    program.circuit.verify()
    if args.json:
        print(json.dumps(program.specs(), indent=2))
    else:
        print(program.summary())
        print("ok")
    return 0
