"""``qcomp draw``: a text circuit diagram."""

from __future__ import annotations

import argparse

from . import add_source_args, load_program

NAME = "draw"
HELP = "print a text circuit diagram (one row per qubit)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_source_args(p)
    p.add_argument("--width", type=int, default=0, help="fold the diagram into blocks at most this many characters wide (0: one block)")


def run(args: argparse.Namespace) -> int:
    print(load_program(args).draw(args.width), end="")
    return 0
