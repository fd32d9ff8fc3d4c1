"""Compile-time and gate-count benchmark: qcomp -O0..-O3 vs qiskit.transpile levels 1-3 (rz, sx, x, cx)."""

from __future__ import annotations

import argparse
import glob
import math
import os
import random
import statistics
import sys
import time

from qcomp.ir import Circuit, Const, Operation, Program, Register
from qcomp.ir.gates import inverse
from qcomp.passes import PassManager, preset_pipeline

BASIS = ["rz", "sx", "x", "cx"]
ONE_Q = ["h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx", "rx", "ry", "rz", "p"]
TWO_Q = ["cx", "cx", "cx", "cz", "rzz", "cp", "crz", "swap", "rxx"]


def random_program(num_qubits: int, num_gates: int, seed: int = 0, pair_fraction: float = 0.3) -> Program:
    """Random circuit where about ``pair_fraction`` of the gates sit in cancellable or mergeable
    pairs (an inverse or a same-axis rotation), sometimes with a commuting gate in between."""
    rng = random.Random(seed)
    ops: list[Operation] = []

    def rand_op() -> Operation:
        if rng.random() < 0.35:
            name = rng.choice(TWO_Q)
            qs = tuple(rng.sample(range(num_qubits), 2))
        else:
            name = rng.choice(ONE_Q)
            qs = (rng.randrange(num_qubits),)
        from qcomp.ir import GATES

        angles = tuple(Const(round(rng.uniform(-math.pi, math.pi), 6)) for _ in range(GATES[name].num_angles))
        return Operation(name, qs, angles)

    while len(ops) < num_gates:
        op = rand_op()
        ops.append(op)
        if rng.random() < pair_fraction / 2:
            # something the partner commutes past: a gate on other wires, or rz on a cx control
            r = rng.random()
            if r < 0.3:
                free = [q for q in range(num_qubits) if q not in op.qubits]
                ops.append(Operation("h", (rng.choice(free),)))
            elif r < 0.45 and op.name == "cx":
                ops.append(Operation("rz", (op.qubits[0],), (Const(round(rng.uniform(-3, 3), 6)),)))
            if op.angles and rng.random() < 0.5:
                ops.append(op.with_angles(tuple(Const(round(rng.uniform(-3, 3), 6)) for _ in op.angles)))
            else:
                ops.extend(Operation(n, op.qubits, tuple(a)) for n, a in inverse(op.name, op.angles))
    ops = ops[:num_gates]
    # a hardware circuit ends in measurement: the outputs are the measured probabilities
    return Program(
        Circuit.from_ops(num_qubits, ops),
        (Register("q", num_qubits, 0),),
        measured=tuple(range(num_qubits)),
        source_name=f"random-{num_qubits}q-{num_gates}",
    )


def to_qiskit(program: Program):
    """The same circuit as a qiskit QuantumCircuit (built gate by gate from qcomp's ops)."""
    from qiskit import QuantumCircuit

    from qiskit.circuit import Parameter

    from qcomp.ir.expr import Binary, Const, Func, Neg, Sym

    params: dict = {}

    def conv(e):
        if isinstance(e, Const):
            return e.val
        if isinstance(e, Sym):
            if e not in params:
                params[e] = Parameter(f"{e.kind}_{e.index}")
            return params[e]
        if isinstance(e, Neg):
            return -conv(e.arg)
        if isinstance(e, Func):
            return getattr(conv(e.arg), e.fn)()
        if isinstance(e, Binary):
            a, b = conv(e.left), conv(e.right)
            return {"+": a + b, "-": a - b, "*": a * b, "/": a / b, "**": a**b}[e.op]
        raise TypeError(type(e))

    nm = len(program.measured)
    qc = QuantumCircuit(program.num_qubits, nm) if nm else QuantumCircuit(program.num_qubits)
    for op in program.circuit.ops():
        getattr(qc, op.name)(*[conv(a) for a in op.angles], *op.qubits)
    for i, q in enumerate(program.measured):
        qc.measure(q, i)
    return qc


def from_qasm(program: Program):
    """The circuit in qiskit, loaded from qcomp's OpenQASM export (2 when nothing is symbolic:
    qiskit's OpenQASM 3 importer takes seconds on 20k gates), else built from qcomp's ops."""
    try:
        from qcomp.backends.qasm import emit_qasm
    except ImportError:
        return to_qiskit(program), "built from ops (qcomp.backends.qasm not available)"
    try:
        if not program.num_params and not program.num_inputs:
            import qiskit.qasm2

            text = emit_qasm(program, version=2).text
            qc = qiskit.qasm2.loads(text, custom_instructions=qiskit.qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
            return qc, "loaded from qcomp OpenQASM 2"
        import qiskit.qasm3

        return qiskit.qasm3.loads(emit_qasm(program, version=3).text), "loaded from qcomp OpenQASM 3"
    except Exception as exc:  # noqa: BLE001 - the benchmark falls back and says so
        return to_qiskit(program), f"built from ops (QASM load failed: {type(exc).__name__}: {str(exc)[:60]})"


def counts_qcomp(p: Program) -> tuple[int, int]:
    ops = p.circuit.ops()
    return len(ops), sum(1 for o in ops if len(o.qubits) >= 2)


def counts_qiskit(qc) -> tuple[int, int]:
    gates = [i for i in qc.data if i.operation.name not in ("measure", "barrier")]
    return len(gates), sum(1 for i in gates if i.operation.num_qubits >= 2)


def bench_one(name: str, program: Program, repeat: int, use_qasm: bool) -> list[dict]:
    """Every tool once per round, rounds repeated: on a shared machine a burst of load then hits
    all tools alike instead of one; each tool's time is its median over the rounds."""
    g0, t0 = counts_qcomp(program)
    tools: list[tuple[str, object, dict]] = []
    for level in (0, 1, 2, 3):
        passes = preset_pipeline(level, "qasm")
        tools.append((f"qcomp -O{level}", lambda passes=passes: PassManager(passes).run(program), {}))
    try:
        import qiskit
    except ImportError:
        qiskit = None
    if qiskit is not None:
        qc, how = from_qasm(program) if use_qasm else (to_qiskit(program), "built from ops")
        for level in (1, 2, 3):
            tools.append((
                f"qiskit L{level}",
                lambda level=level: qiskit.transpile(qc, basis_gates=BASIS, optimization_level=level, seed_transpiler=1),
                {"how": how},
            ))
    times: dict[str, list[float]] = {t[0]: [] for t in tools}
    outs: dict[str, object] = {}
    for _ in range(repeat):
        for tool, fn, _extra in tools:
            t = time.perf_counter()
            res = fn()
            times[tool].append(time.perf_counter() - t)
            outs[tool] = res  # the previous round's result is freed here, outside the timing
    rows = []
    for tool, _fn, extra in tools:
        g, t = counts_qcomp(outs[tool]) if tool.startswith("qcomp") else counts_qiskit(outs[tool])
        rows.append(dict(circuit=name, tool=tool, seconds=statistics.median(times[tool]), gates_in=g0, cx_in=t0,
                         gates=g, twoq=t, **extra))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1000,10000,20000,100000", help="random circuit gate counts")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-qasm", dest="qasm", action="store_false", help="build qiskit circuits from qcomp ops instead of loading qcomp's OpenQASM")
    ap.add_argument("--no-examples", action="store_true")
    ap.add_argument("--profile", action="store_true", help="print -O2 time per pass on each random circuit")
    args = ap.parse_args(argv)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def cases():
        """(name, program), built one at a time: a 100k-gate program kept alive while the 20k case
        runs would enlarge the heap every garbage collection walks (qcomp's IR is Python objects)."""
        if not args.no_examples:
            from qcomp.frontend import parse_file

            for path in sorted(glob.glob(os.path.join(root, "examples", "*.q"))):
                try:
                    yield os.path.basename(path), parse_file(path)
                except Exception as exc:  # noqa: BLE001
                    print(f"skip {path}: {exc}", file=sys.stderr)
        for i, size in enumerate(int(s) for s in args.sizes.split(",") if s):
            nq = 20 + (i * 10) % 40 if size < 20000 else 50
            yield f"random {nq}q {size}", random_program(nq, size, seed=size)

    print(f"{'circuit':<24} {'tool':<12} {'seconds':>9} {'gates':>15} {'2q':>13}")
    for name, prog in cases():
        rep = args.repeat if len(prog.circuit) <= 20000 else 1
        rows = bench_one(name, prog, rep, args.qasm)
        for r in rows:
            print(f"{r['circuit']:<24} {r['tool']:<12} {r['seconds']:>9.4f} {r['gates_in']:>7}->{r['gates']:<7} {r['cx_in']:>6}->{r['twoq']:<6}")
        if args.profile and name.startswith("random"):
            best: dict[tuple[int, str], float] = {}
            for _ in range(rep):  # fastest of the repeats per pass: where the time goes, not noise
                pm = PassManager(preset_pipeline(2, "qasm"))
                pm.run(prog)
                for k, (n, t) in enumerate(pm.timings):
                    best[(k, n)] = min(best.get((k, n), t), t)
            print("  -O2 per pass (fastest of the repeats): " + ", ".join(f"{n} {t:.3f}" for (_, n), t in best.items()))
        q2 = next((r for r in rows if r["tool"] == "qcomp -O2"), None)
        k2 = next((r for r in rows if r["tool"] == "qiskit L2"), None)
        if q2 and k2:
            print(
                f"  ratios -O2/L2: time {q2['seconds'] / k2['seconds']:.2f}, gates {q2['gates'] / max(k2['gates'], 1):.3f}, "
                f"2q {q2['twoq'] / max(k2['twoq'], 1):.3f}  ({k2.get('how', '')})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
