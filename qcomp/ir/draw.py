"""Text circuit diagrams: one row per qubit, operations packed into layers left to right."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .expr import to_text
from .gates import GATES

if TYPE_CHECKING:
    from .program import Program

def _labels(op) -> list[str]:
    args = "(" + ", ".join(to_text(a) for a in op.angles) + ")" if op.angles else ""
    g = GATES.get(op.name)
    if g is not None:
        return g.label_row(args)
    if len(op.qubits) == 1:
        return [op.name + args]
    return [f"{op.name}{args}#{i}" for i in range(len(op.qubits))]


def draw_program(program: "Program", max_width: int = 0) -> str:
    names = program.qubit_names()
    nq = program.num_qubits
    layers: list[list] = []
    busy_until = [0] * nq  # first free layer per row
    for op in program.circuit.ops():
        lo, hi = min(op.qubits), max(op.qubits)
        layer = max(busy_until[lo : hi + 1])
        if layer == len(layers):
            layers.append([])
        layers[layer].append(op)
        for r in range(lo, hi + 1):
            busy_until[r] = layer + 1
    head = max((len(n) for n in names), default=0) + 2
    rows = [f"{n}: ".ljust(head) for n in names]
    gaps = [" " * head for _ in range(max(nq - 1, 0))]
    for ops in layers:
        cells: dict[int, str] = {}
        vert: set[int] = set()
        for op in ops:
            for q, lab in zip(op.qubits, _labels(op)):
                cells[q] = lab
            lo, hi = min(op.qubits), max(op.qubits)
            for r in range(lo, hi):
                vert.add(r)
            for r in range(lo + 1, hi):
                cells.setdefault(r, "│")
        w = max((len(s) for s in cells.values()), default=1) + 2
        for q in range(nq):
            lab = cells.get(q)
            rows[q] += "─" + (lab.center(w - 2, "─") if lab else "─" * (w - 2)) + "─"
        for r in range(nq - 1):
            gaps[r] += ("│".center(w) if r in vert else " " * w)
    for q in range(nq):
        rows[q] += "─"
    out = []
    for q in range(nq):
        out.append(rows[q])
        if q < nq - 1:
            out.append(gaps[q].rstrip())
    text = "\n".join(line for line in out)
    if max_width and max_width > 0:
        text = "\n".join(line[:max_width] for line in text.split("\n"))
    tail = []
    for i, o in enumerate(program.observables):
        tail.append(f"expect[{i}]: {o.text}")
    if program.measured:
        tail.append("measure: " + ", ".join(names[q] for q in program.measured))
    return text + ("\n" + "\n".join(tail) if tail else "") + "\n"
