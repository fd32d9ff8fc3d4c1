"""A Program: the circuit graph plus declarations (registers, params, inputs) and outputs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from .circuit import Circuit
from .expr import Sym, to_text
from .ops import Observable, Register, ValueDecl
from .outputs import DeclaredOutput, Expectation, Output, z_qubit


@dataclass(frozen=True)
class Program:
    """What the front end produces and passes and backends consume.

    Flat qubit k is bit k of the state-vector index (as in Qiskit). Flat parameter order is
    declaration order then index; the same for inputs.
    """

    circuit: Circuit = field(compare=False)
    registers: tuple[Register, ...]
    params: tuple[ValueDecl, ...] = ()
    inputs: tuple[ValueDecl, ...] = ()
    observables: tuple[Observable, ...] = ()
    measured: tuple[int, ...] = ()
    source_name: str = "<string>"
    # original flat qubit index of each current qubit (dead-qubit removal renumbers qubits)
    qubit_map: tuple[int, ...] | None = None
    # the output statements when they are not one ``expect`` per observable (var, probs, sample):
    # each names the observables it is computed from by position (see qcomp.ir.outputs.DeclaredOutput)
    declared: tuple[DeclaredOutput, ...] | None = None
    # classical bit registers (``bit c[2];``) written by mid-circuit measurements (qcomp.ir.dynamic);
    # Register offsets count flat bits
    bits: tuple[Register, ...] = ()
    # the last ``ancillas`` qubits were added by deferring measurements: traced out of every output
    ancillas: int = 0

    # -- sizes and names -------------------------------------------------------------
    @property
    def num_qubits(self) -> int:
        return self.circuit.num_qubits

    @property
    def num_bits(self) -> int:
        return sum(r.size for r in self.bits)

    @property
    def visible_qubits(self) -> int:
        """The qubits outputs describe: all but the ancillas of deferred measurements."""
        return self.circuit.num_qubits - self.ancillas

    @property
    def num_params(self) -> int:
        return sum(d.size for d in self.params)

    @property
    def num_inputs(self) -> int:
        return sum(d.size for d in self.inputs)

    @property
    def num_outputs(self) -> int:
        """The number of observables (the columns of ``expval``); see ``outputs`` for the declared outputs."""
        return len(self.observables)

    @property
    def outputs(self) -> tuple[Output, ...]:
        """The declared outputs as typed kinds, in statement order: one Expectation per ``expect``,
        Variance per ``var``, Probabilities per ``probs``, Samples per ``sample``."""
        if self.declared is None:
            return tuple(Expectation(o) for o in self.observables)
        return tuple(d.build(self.observables) for d in self.declared)

    @property
    def expectations_only(self) -> bool:
        """True when the outputs are exactly the expectation values of ``observables`` (what
        ``expval``, the gradients and the framework bridges compute)."""
        return self.declared is None or all(
            d.kind == "expectation" and d.observables == (i,) for i, d in enumerate(self.declared)
        ) and len(self.declared) == len(self.observables)

    def output_texts(self) -> list[str]:
        """One display text per declared output (``var z(q[0])``, ``probs q[0], q[1]``; an
        expectation is its observable's text)."""
        names = self.qubit_names()
        if self.declared is None:
            return [o.text or _observable_text(o, names) for o in self.observables]
        out = []
        for d in self.declared:
            o = self.observables[d.observables[0]]
            if d.kind == "expectation":
                out.append(d.text or o.text or _observable_text(o, names))
            elif d.kind == "variance":
                out.append("var " + (d.text or o.text or _observable_text(o, names)))
            else:
                qs = ", ".join(names[q] for q in d.build(self.observables).qubits)  # type: ignore[attr-defined]
                out.append(f"probs {qs}" if d.kind == "probabilities" else f"sample({d.shots}) {qs}")
        return out

    def param_names(self) -> list[str]:
        return [d.element_name(i) for d in self.params for i in range(d.size)]

    def input_names(self) -> list[str]:
        return [d.element_name(i) for d in self.inputs for i in range(d.size)]

    def param_symbols(self) -> list[Sym]:
        return [d.symbol(i) for d in self.params for i in range(d.size)]

    def input_symbols(self) -> list[Sym]:
        return [d.symbol(i) for d in self.inputs for i in range(d.size)]

    def qubit_names(self) -> list[str]:
        names = [f"q{i}" for i in range(self.num_qubits)]
        original = self.qubit_map or tuple(range(self.num_qubits))
        by_flat = {r.offset + i: r.qubit_name(i) for r in self.registers for i in range(r.size)}
        for k, orig in enumerate(original):
            if orig in by_flat:
                names[k] = by_flat[orig]
        return names

    def bit_names(self) -> list[str]:
        names = [f"b{i}" for i in range(self.num_bits)]
        for r in self.bits:
            for i in range(r.size):
                names[r.offset + i] = r.qubit_name(i)
        return names

    def with_circuit(self, circuit: Circuit, **changes: Any) -> "Program":
        """A copy with another circuit (passes never mutate a Program)."""
        return replace(self, circuit=circuit, **changes)

    # -- summaries ---------------------------------------------------------------------
    def specs(self) -> dict[str, Any]:
        """A resource summary: qubits, params, inputs, gate counts, depth, outputs."""
        c = self.circuit
        return {
            "qubits": self.num_qubits,
            "params": self.num_params,
            "inputs": self.num_inputs,
            "gates": len(c),
            "gate_counts": c.count_ops(),
            "two_qubit_gates": sum(1 for op in c.ops() if len(op.qubits) == 2),
            "multi_qubit_gates": c.num_multi_qubit(),
            "depth": c.depth(),
            "outputs": self.output_texts(),
            "output_kinds": [o.kind for o in self.outputs],
            "output_shapes": [list(o.shape(self.num_qubits)) for o in self.outputs],
            "measured": [self.qubit_names()[q] for q in self.measured],
        }

    def summary(self) -> str:
        s = self.specs()
        lines = [
            f"program: {self.source_name}",
            f"qubits: {s['qubits']}",
            f"params: {s['params']}",
            f"inputs: {s['inputs']}",
            f"gates: {s['gates']} (two-qubit: {s['two_qubit_gates']}, depth: {s['depth']})",
        ]
        for name, n in s["gate_counts"].items():
            lines.append(f"  {name}: {n}")
        lines.append(f"outputs: {len(s['outputs'])}")
        for i, (o, kind, shape) in enumerate(zip(s["outputs"], s["output_kinds"], s["output_shapes"])):
            # the kind and per-row shape only where they are not a scalar expectation (older output)
            extra = "" if kind == "expectation" else f"  ({kind}, shape ({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''}))"
            lines.append(f"  [{i}] {o}{extra}")
        if s["measured"]:
            lines.append("measured: " + ", ".join(s["measured"]))
        return "\n".join(lines)

    def to_text(self) -> str:
        """The IR as ``.q`` source that parses back to an equal program: the qubit, param and
        input declarations, then one operation per line in topological order."""
        names = self.qubit_names()
        lines = [f"// {self.source_name}: {self.num_qubits} qubits, {self.num_params} params, {self.num_inputs} inputs"]
        # whole registers, even where dead-qubit removal dropped some of their qubits, so every
        # name an operation uses is declared; a qubit outside every register is declared alone
        declared = {r.qubit_name(i) for r in self.registers for i in range(r.size)}
        for r in sorted(self.registers, key=lambda r: r.offset):
            lines.append(f"qubit {r.name}" + ("" if r.scalar else f"[{r.size}]") + ";")
        lines.extend(f"qubit {n};" for n in names if n not in declared)
        for r in self.bits:
            lines.append(f"bit {r.name}" + ("" if r.scalar else f"[{r.size}]") + ";")
        for d in self.params + self.inputs:
            lines.append(f"{d.kind} {d.name}" + ("" if d.scalar else f"[{d.size}]") + ";")
        from .dynamic import op_text

        bits = self.bit_names() if self.bits else []
        for op in self.circuit.ops():
            lines.append(op_text(op, names, bits, self.bits))
        if self.declared is None:
            for o in self.observables:
                lines.append(f"expect {o.text or _observable_text(o, names)};")
        for d in self.declared or ():
            o = self.observables[d.observables[0]]
            if d.kind in ("expectation", "variance"):
                lines.append(f"{'expect' if d.kind == 'expectation' else 'var'} {o.text or _observable_text(o, names)};")
            else:
                qs = ", ".join(names[z_qubit(self.observables[i])] for i in d.observables)
                lines.append(f"probs {qs};" if d.kind == "probabilities" else f"sample({d.shots}) {qs};")
        if self.measured:
            lines.append("measure " + ", ".join(names[q] for q in self.measured) + ";")
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        names = self.qubit_names()
        data = {
            "source": self.source_name,
            "qubits": names,
            "params": self.param_names(),
            "inputs": self.input_names(),
            "ops": [
                {"gate": op.name, "qubits": list(op.qubits), "angles": [to_text(a) for a in op.angles],
                 **({"bit": op.bit} if op.bit is not None else {}),
                 **({"if": [{"bits": list(b), "value": v, "equal": eq} for b, v, eq in op.cond]} if op.cond else {})}
                for op in self.circuit.ops()
            ],
            "observables": [
                [{"coeff": t.coeff, "paulis": [[q, p] for q, p in t.paulis]} for t in o.terms]
                for o in self.observables
            ],
            "measured": list(self.measured),
        }
        if self.bits:
            data["bits"] = self.bit_names()
        if self.ancillas:
            data["ancillas"] = self.ancillas
        if self.declared is not None:
            data["declared_outputs"] = [d.to_json() for d in self.declared]
        return json.dumps(data, indent=2) + "\n"

    def to_dot(self) -> str:
        """Graphviz text of the circuit DAG."""
        names = self.qubit_names()
        g = self.circuit.graph_view()
        lines = ["digraph circuit {", "  rankdir=LR;"]

        def nid(n) -> str:
            return f"op{n}" if isinstance(n, int) else f"{n[0]}{n[1]}"

        for n in sorted(g.nodes, key=lambda n: (0, n) if isinstance(n, int) else (-1 if n[0] == "in" else 1, n[1])):
            if isinstance(n, int):
                op = g.nodes[n]["op"]
                args = "(" + ", ".join(to_text(a) for a in op.angles) + ")" if op.angles else ""
                label = f"{op.name}{args}"
                lines.append(f'  {nid(n)} [label="{label}"];')
            else:
                lines.append(f'  {nid(n)} [label="{n[0]} {names[n[1]]}", shape=plaintext];')
        for u, v, k in sorted(g.edges(keys=True), key=lambda e: (str(e[0]), str(e[1]), e[2])):
            lines.append(f'  {nid(u)} -> {nid(v)} [label="{names[k]}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"

    def draw(self, max_width: int = 0) -> str:
        """A text circuit diagram: one row per qubit, gates in layers with their angles."""
        from .draw import draw_program

        return draw_program(self, max_width)


def _observable_text(o: Observable, names: list[str]) -> str:
    parts = []
    for t in o.terms:
        word = " @ ".join(f"{p.lower()}({names[q]})" for q, p in t.paulis)
        parts.append(f"{t.coeff!r}" + (f" * {word}" if word else ""))
    return " + ".join(parts) if parts else "0"
