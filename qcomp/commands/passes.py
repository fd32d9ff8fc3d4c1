"""``qcomp passes``: list the passes with one-line descriptions, options, what they keep, and presets."""

from __future__ import annotations

import argparse
import dataclasses

NAME = "passes"
# what a line says about a pass that does not keep the full state (Pass.preserves)
_KEEPS = {"outputs": "keeps the outputs, not the state", "nothing": "computes another program"}
HELP = "list the available passes (for --passes) and the -O preset pipelines"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--presets", action="store_true", help="also show the pass pipeline of each -O level")


def run(args: argparse.Namespace) -> int:
    from ..passes import REGISTRY
    from ..passes.presets import TARGETS, preset_pipeline

    width = max((len(n) for n in REGISTRY), default=0)
    for name in sorted(REGISTRY):
        cls = REGISTRY[name]
        opts = ", ".join(f"{f.name}={_default(f)}" for f in dataclasses.fields(cls))
        line = f"{name:<{width}}  {cls.description()}"
        if opts:
            line += f"  [{opts}]"
        if cls.preserves in _KEEPS:
            line += f"  ({_KEEPS[cls.preserves]})"
        print(line)
    if args.presets:
        print()
        for target in TARGETS:
            for level in range(4):
                specs = ",".join(p.spec() for p in preset_pipeline(level, target)) or "(none)"
                print(f"-O{level} {target:<4}  {specs}")
    return 0


def _default(f: dataclasses.Field) -> str:
    v = f.default
    if isinstance(v, tuple):
        return ";".join(str(x) for x in v)
    return str(v)
