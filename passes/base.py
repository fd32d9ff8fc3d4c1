"""The pass contract, the registry and the pass manager (pipeline specs like "a,b{k=2}")."""

from __future__ import annotations

import dataclasses
import difflib
import re
import time
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Sequence

from qcomp.errors import PassError
from qcomp.ir.program import Program

from .commutation import paused_gc

REGISTRY: dict[str, type["Pass"]] = {}


@dataclass(frozen=True)
class Pass:
    """A program transformation. Subclasses set ``name`` (kebab-case), declare options as
    dataclass fields and implement ``run``, which returns a new Program and never mutates its input.

    Passes see the whole Program (circuit plus outputs) because some need the observables
    (light-cone) or renumber qubits (dead-qubit removal).
    """

    name: ClassVar[str] = ""

    def run(self, program: Program) -> Program:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def description(cls) -> str:
        doc = (cls.__doc__ or "").strip().splitlines()
        return doc[0] if doc else ""

    def spec(self) -> str:
        """This pass as pipeline text, e.g. ``fuse-blocks{k=2}``."""
        opts = [
            f"{f.name}={_format_option(getattr(self, f.name))}"
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != f.default
        ]
        return self.name + ("{" + ",".join(opts) + "}" if opts else "")


def _format_option(value: object) -> str:
    """An option value as pipeline text that parses back (tuples as ``a;b;c``)."""
    if isinstance(value, tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def register(cls: type[Pass]) -> type[Pass]:
    """Class decorator adding a pass to the registry under its ``name``."""
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", cls.name), f"pass name {cls.name!r} is not kebab-case"
    assert cls.name not in REGISTRY, f"duplicate pass {cls.name}"
    REGISTRY[cls.name] = cls
    return cls


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


@dataclass
class PassManager:
    """Runs passes in order. ``verify_each`` runs the IR verifier and, when an
    ``equivalence_check(before, after)`` is given, that too after every pass."""

    passes: Sequence[Pass]
    verify_each: bool = False
    equivalence_check: Callable[[Program, Program, Pass], None] | None = None
    print_ir_after_all: Callable[[str], None] | None = None
    timings: list[tuple[str, float]] = field(default_factory=list)

    def run(self, program: Program) -> Program:
        with paused_gc():  # once for the pipeline: re-enabling between passes cost a full sweep each
            return self._run(program)

    def _run(self, program: Program) -> Program:
        for p in self.passes:
            t0 = time.perf_counter()
            out = p.run(program)
            self.timings.append((p.spec(), time.perf_counter() - t0))
            if self.verify_each:
                out.circuit.verify()
                if self.equivalence_check is not None:
                    self.equivalence_check(program, out, p)
            if self.print_ir_after_all is not None:
                self.print_ir_after_all(f"// after {p.spec()}\n" + out.to_text())
            program = out
        return program
