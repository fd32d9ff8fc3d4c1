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
    """The diagram, with the ``expect`` and ``measure`` lines below it. ``max_width`` > 0 folds it
    into blocks of whole layers, each at most that wide (one layer wider than that stays whole),
    separated by a blank line; wires that continue in the next block end in ``┄``."""
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
    # each layer as its column: one segment per qubit row and one per gap between rows
    columns: list[tuple[int, list[str], list[str]]] = []
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
        wires = []
        for q in range(nq):
            lab = cells.get(q)
            wires.append("─" + (lab.center(w - 2, "─") if lab else "─" * (w - 2)) + "─")
        columns.append((w, wires, ["│".center(w) if r in vert else " " * w for r in range(nq - 1)]))
    # fold: as many layers per block as fit in max_width (at least one, so nothing is cut)
    blocks: list[list[tuple[int, list[str], list[str]]]] = [[]]
    used = head + 1
    for col in columns:
        if max_width and max_width > 0 and blocks[-1] and used + col[0] > max_width:
            blocks.append([])
            used = head + 1
        blocks[-1].append(col)
        used += col[0]
    texts = []
    for b, block in enumerate(blocks):
        last = b == len(blocks) - 1
        out = []
        for q in range(nq):
            # a block that continues on the next one ends in "┄" on every wire
            out.append(f"{names[q]}: ".ljust(head) + "".join(c[1][q] for c in block) + ("─" if last else "┄"))
            if q < nq - 1:
                out.append((" " * head + "".join(c[2][q] for c in block)).rstrip())
        texts.append("\n".join(out))
    text = "\n\n".join(texts)
    tail = []
    if program.declared is None:
        for i, o in enumerate(program.observables):
            tail.append(f"expect[{i}]: {o.text}")
    else:  # var / probs / sample statements: one line per output, as written
        for i, written in enumerate(program.output_texts()):
            tail.append(f"output[{i}]: {written}")
    if program.measured:
        tail.append("measure: " + ", ".join(names[q] for q in program.measured))
    return text + ("\n" + "\n".join(tail) if tail else "") + "\n"
