"""The table of passes by name, and pipeline specs like "a,b{k=2}" turned into pass instances."""

from __future__ import annotations

import dataclasses
import difflib
import re
from types import MappingProxyType
from typing import Mapping

from qcomp.errors import PassError

from .base import PRESERVES, Pass
from .basis_translation import BasisTranslation
from .cancel_inverses import CancelInverses
from .consolidate_2q import Consolidate2Q
from .constant_fold import ConstantFold
from .dead_qubits import DeadQubits
from .defer_measurements import DeferMeasurements
from .elide_swaps import ElideSwaps
from .fuse_1q import Fuse1Q
from .fuse_blocks import FuseBlocks
from .fuse_diagonal import FuseDiagonal
from .group_measurements import GroupMeasurements
from .light_cone import LightCone
from .merge_rotations import MergeRotations
from .param_shift import ParamShift

# Every pass: adding one is its module plus its import and its line here. A pass that needs an
# optional extra imports it inside ``run`` and says whether it can run with ``available()``
# (consolidate-2q), so building this table never needs the extra.
ALL_PASSES: tuple[type[Pass], ...] = (
    BasisTranslation,
    CancelInverses,
    Consolidate2Q,
    ConstantFold,
    DeadQubits,
    DeferMeasurements,
    ElideSwaps,
    Fuse1Q,
    FuseBlocks,
    FuseDiagonal,
    GroupMeasurements,
    LightCone,
    MergeRotations,
    ParamShift,
)

_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def _table(classes: tuple[type[Pass], ...]) -> Mapping[str, type[Pass]]:
    """``{cls.name: cls}``, refusing names that are not kebab-case, repeated or without a known ``preserves``."""
    table: dict[str, type[Pass]] = {}
    for cls in classes:
        if not _NAME.fullmatch(cls.name):
            raise ValueError(f"pass {cls.__name__}: name {cls.name!r} is not kebab-case")
        if cls.name in table:
            raise ValueError(f"pass name {cls.name!r} is used by {table[cls.name].__name__} and {cls.__name__}")
        if cls.preserves not in PRESERVES:
            raise ValueError(f"pass {cls.name}: preserves must be one of {', '.join(PRESERVES)}, got {cls.preserves!r}")
        table[cls.name] = cls
    return MappingProxyType(table)


REGISTRY: Mapping[str, type[Pass]] = _table(ALL_PASSES)

# The passes that keep the outputs (expectation values, measured probabilities) but not the state
# vector: an equivalence check after them compares outputs only, and the "state" target drops them.
OUTPUT_PRESERVING_PASSES: frozenset[str] = frozenset(n for n, c in REGISTRY.items() if c.preserves == "outputs")


def _convert(value: str, f: dataclasses.Field, pass_name: str):
    typ = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if typ in ("int",):
            return int(value)
        if typ in ("float",):
            return float(value)
        if typ in ("bool",):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if typ.startswith("tuple"):
            return tuple(v for v in re.split(r"[ ;:]+", value) if v)
    except ValueError:
        raise PassError(f"option '{f.name}' of pass '{pass_name}' expects {typ}, got '{value}'") from None
    return value


def make_pass(name: str, options: dict[str, str] | None = None) -> Pass:
    """Instantiate a registered pass from its name and textual options."""
    cls = REGISTRY.get(name)
    if cls is None:
        close = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise PassError(f"unknown pass '{name}'{hint}; valid passes: {', '.join(sorted(REGISTRY))}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in (options or {}).items():
        if k not in fields:
            valid = ", ".join(sorted(fields)) or "none"
            raise PassError(f"pass '{name}' has no option '{k}'; valid options: {valid}")
        kwargs[k] = _convert(v, fields[k], name)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise PassError(f"bad options for pass '{name}': {exc}") from None


_ITEM = re.compile(r"\s*([A-Za-z0-9_-]+)\s*(?:\{([^{}]*)\})?\s*(?:,|$)")


def parse_pipeline(spec: str) -> list[Pass]:
    """Parse ``"cancel-inverses,merge-rotations,fuse-blocks{k=2}"`` into pass instances."""
    passes: list[Pass] = []
    pos = 0
    spec = spec.strip()
    while pos < len(spec):
        m = _ITEM.match(spec, pos)
        if not m or m.end() == pos:
            raise PassError(f"cannot parse pass pipeline at '{spec[pos:]}' (expected name or name{{key=value,...}})")
        options: dict[str, str] = {}
        if m.group(2):
            for item in m.group(2).split(","):
                if not item.strip():
                    continue
                if "=" not in item:
                    raise PassError(f"pass option '{item.strip()}' must look like key=value")
                k, v = item.split("=", 1)
                options[k.strip()] = v.strip()
        passes.append(make_pass(m.group(1), options))
        pos = m.end()
    return passes


