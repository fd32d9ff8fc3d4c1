"""``qcomp ir``: dump the IR as text, JSON or Graphviz dot."""

from __future__ import annotations

import argparse

from .._io import atomic_write_text
from . import add_source_args, check_outputs, load_program

NAME = "ir"
HELP = "dump the lowered IR (text, json or dot)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_source_args(p)
    p.add_argument("--format", choices=("text", "json", "dot"), default="text")
    p.add_argument("-o", "--output", default="-", help="output file ('-' for stdout)")


def run(args: argparse.Namespace) -> int:
    check_outputs([args.output], [args.source])
    program = load_program(args)
    text = {"text": program.to_text, "json": program.to_json, "dot": program.to_dot}[args.format]()
    if args.output == "-":
        print(text, end="")
    else:
        atomic_write_text(args.output, text)
    return 0
