"""The pass contract and the pass manager; the table of passes is in registry.py."""

from __future__ import annotations

import dataclasses
import operator
import time
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Literal, Sequence, get_args

from qcomp.ir.circuit import Circuit
from qcomp.ir.gates import FENCES
from qcomp.ir.gc_pause import paused_gc
from qcomp.ir.program import Program

_NAME = operator.attrgetter("name")
_COND = operator.attrgetter("cond")

# What a pass keeps of its input's meaning:
# "state": the final state vector up to a global phase (hence every output too);
# "outputs": the expectation values and the probabilities of measured qubits, in declared order
#   (gates, qubits or the wire order may change, so the state is not comparable);
# "nothing": the result computes something else (param-shift's shift-slot program).
Preserves = Literal["state", "outputs", "nothing"]
PRESERVES: tuple[str, ...] = get_args(Preserves)


@dataclass(frozen=True)
class Pass:
    """A program transformation. Subclasses set ``name`` (kebab-case) and ``preserves``, declare
    options as dataclass fields and implement ``run``, which returns a new Program and never
    mutates its input. ``apply`` (what the PassManager calls) wraps ``run`` with the GC pause and
    the optional IR verification, so no pass repeats them.

    Passes see the whole Program (circuit plus outputs) because some need the observables
    (light-cone) or renumber qubits (dead-qubit removal).
    """

    name: ClassVar[str] = ""
    preserves: ClassVar[Preserves] = "state"
    # Fences (``qcomp.ir.gates.is_fence``: barrier, noise channels, mid-circuit measure and reset;
    # and every classically conditioned gate) are opaque: nothing may move,
    # cancel, merge or fuse across one. A pass that does not say it handles them itself
    # (``fence_aware``) runs on each stretch of the circuit between fences separately, the fences
    # kept in place (so also gates on other wires stay on their side of a fence).
    fence_aware: ClassVar[bool] = False

    def run(self, program: Program) -> Program:  # pragma: no cover - abstract
        raise NotImplementedError

    def apply(self, program: Program, verify: bool = False) -> Program:
        """``run`` with the cyclic GC paused (passes build many small acyclic objects, and sweeps
        over a large IR find nothing to free; see qcomp.ir.gc_pause), then, with ``verify``, the
        IR verifier on the result."""
        with paused_gc():
            # the scan runs per pass: ~1.5 ms per 10k gates (map/attrgetter: half a generator's cost)
            # classically conditioned gates (qcomp.ir.dynamic) are fences too: passes know
            # nothing of conditions
            ops = program.circuit.ops()
            if not self.fence_aware and (not FENCES.isdisjoint(map(_NAME, ops)) or any(map(_COND, ops))):
                out = self._run_between_fences(program)
            else:
                out = self.run(program)
        if verify:
            out.circuit.verify()
        return out

    def _run_between_fences(self, program: Program) -> Program:
        """``run`` on each stretch between fences, the fences put back between the results."""
        n = program.num_qubits
        out_ops: list = []
        stretch: list = []

        def flush() -> None:
            if stretch:
                res = self.run(program.with_circuit(Circuit.from_ops(n, stretch, checked=True)))
                if res.num_qubits != n or res.observables != program.observables or res.measured != program.measured:
                    raise AssertionError(f"pass {self.name} renumbers qubits or outputs: it must be fence_aware")
                out_ops.extend(res.circuit.ops())
                stretch.clear()

        for op in program.circuit.ops():
            if op.name in FENCES or op.cond:
                flush()
                out_ops.append(op)
            else:
                stretch.append(op)
        flush()
        return program.with_circuit(Circuit.from_ops(n, out_ops, checked=True))

    @classmethod
    def available(cls) -> bool:
        """Whether the pass can run here; one needing an optional extra says False without it, and
        the presets skip it."""
        return True

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
            out = p.apply(program, verify=self.verify_each)
            self.timings.append((p.spec(), time.perf_counter() - t0))
            if self.verify_each and self.equivalence_check is not None:
                self.equivalence_check(program, out, p)
            if self.print_ir_after_all is not None:
                self.print_ir_after_all(f"// after {p.spec()}\n" + out.to_text())
            program = out
        return program
