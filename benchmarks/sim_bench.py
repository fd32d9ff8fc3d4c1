"""Simulator benchmark: qcomp vs the reference simulator, qiskit-aer, pennylane-lightning and qsimcirq, in one process.

Run: python benchmarks/sim_bench.py [--repeats 3] [--quick]
Prints one table of median wall times (seconds) and ratios peer/qcomp (> 1 means qcomp is faster).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qcomp import parse  # noqa: E402
from qcomp.backends import reference as R  # noqa: E402
from qcomp.backends.simulator import Simulator  # noqa: E402
from qcomp.ir.expr import Binary, Const, Func, Neg, Sym  # noqa: E402


def hea_source(n: int = 20, layers: int = 10) -> str:
    lines = [f"qubit q[{n}];", f"param w[{2 * n * layers}];"]
    for l in range(layers):
        for i in range(n):
            lines.append(f"ry(w[{2 * n * l + i}]) q[{i}];")
            lines.append(f"rz(w[{2 * n * l + n + i}]) q[{i}];")
        for i in range(n - 1):
            lines.append(f"cx q[{i}], q[{i + 1}];")
    lines.append("expect " + " + ".join(f"z(q[{i}])" for i in range(n)) + ";")
    return "\n".join(lines)


def qft_source(n: int = 24) -> str:
    lines = [f"qubit q[{n}];"]
    for i in range(n):
        lines.append(f"x q[{i}];" if i % 3 == 0 else f"h q[{i}];")  # a non-trivial input state
    for j in reversed(range(n)):
        lines.append(f"h q[{j}];")
        for k in reversed(range(j)):
            lines.append(f"cp({math.pi / 2 ** (j - k)!r}) q[{k}], q[{j}];")
    for i in range(n // 2):
        lines.append(f"swap q[{i}], q[{n - 1 - i}];")
    return "\n".join(lines)


def timeit(fn, repeats: int) -> float:
    fn()  # warm-up (plan building, imports, JIT caches)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


# -- peers ----------------------------------------------------------------------------------------

def _qiskit_expr(e, P, X):
    if isinstance(e, Const):
        return e.val
    if isinstance(e, Sym):
        return P[e.index] if e.kind == "param" else X[e.index]
    if isinstance(e, Neg):
        return -_qiskit_expr(e.arg, P, X)
    if isinstance(e, Binary):
        a, b = _qiskit_expr(e.left, P, X), _qiskit_expr(e.right, P, X)
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b, "**": a ** b}[e.op]
    if isinstance(e, Func):
        return getattr(_qiskit_expr(e.arg, P, X), e.fn)()
    raise TypeError(e)


def qiskit_circuit(program):
    from qiskit import QuantumCircuit
    from qiskit.circuit import ParameterVector

    P = ParameterVector("w", program.num_params)
    X = ParameterVector("x", program.num_inputs)
    qc = QuantumCircuit(program.num_qubits)
    for op in program.circuit.ops():
        getattr(qc, op.name)(*[_qiskit_expr(a, P, X) for a in op.angles], *op.qubits)
    return qc, list(P) + list(X)


def aer_expval(program, w, x):
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_aer.primitives import EstimatorV2

    qc, _ = qiskit_circuit(program)
    obs = SparsePauliOp.from_list(program.observables[0].sparse_pauli_list(program.num_qubits))
    est = EstimatorV2(options={"backend_options": {"method": "statevector", "max_parallel_threads": os.cpu_count()}})
    B = x.shape[0] if x is not None else 1
    vals = np.hstack([np.broadcast_to(w, (B, w.shape[-1])), x]) if x is not None else np.atleast_2d(w)
    # qiskit orders circuit parameters by name: w[...] then x[...], as built here
    names = [p.name for p in qc.parameters]
    order = [names.index(f"w[{i}]") for i in range(program.num_params)] + \
            [names.index(f"x[{i}]") for i in range(program.num_inputs)]
    bound = np.empty_like(vals)
    bound[:, order] = vals

    def run():
        return est.run([(qc, obs, bound)]).result()[0].data.evs

    return run


def aer_state(program):
    from qiskit_aer import AerSimulator

    qc, _ = qiskit_circuit(program)
    qc.save_statevector()
    sim = AerSimulator(method="statevector", max_parallel_threads=os.cpu_count())

    def run():
        return sim.run(qc).result().get_statevector()

    return run


def _cirq_gate(cirq, name: str, t: float | None):
    """The cirq gate for a qcomp gate; rotation angles enter as exp(-i t P / 2) like qcomp's."""
    import sympy  # noqa: F401  (cirq angles are sympy symbols)

    if name in ("rx", "ry", "rz"):
        return getattr(cirq, name)(t)
    if name in ("rxx", "ryy", "rzz"):
        pow_gate = {"rxx": cirq.XXPowGate, "ryy": cirq.YYPowGate, "rzz": cirq.ZZPowGate}[name]
        return pow_gate(exponent=t / np.pi, global_shift=-0.5)
    if name == "cp":
        return cirq.CZPowGate(exponent=t / np.pi)
    return {"h": cirq.H, "x": cirq.X, "cx": cirq.CNOT, "swap": cirq.SWAP, "cz": cirq.CZ}[name]


def qsim_fns(program, w, x, state: bool = False):
    """qsimcirq (single precision, cpu_threads = all cores): one expectation sweep over the batch
    (a resolver per sample; every gate angle is its own symbol), or the final state."""
    import cirq
    import qsimcirq
    import sympy

    from qcomp.ir.expr import CompiledExprs

    n = program.num_qubits
    qs = cirq.LineQubit.range(n)
    ops = program.circuit.ops()
    exprs = [a for op in ops for a in op.angles]
    syms = [sympy.Symbol(f"a{i}") for i in range(len(exprs))]
    it = iter(syms)
    circuit = cirq.Circuit()
    for op in ops:
        t = next(it) if op.angles else None
        circuit.append(_cirq_gate(cirq, op.name, t).on(*[qs[q] for q in op.qubits]))
    sim = qsimcirq.QSimSimulator(qsimcirq.QSimOptions(cpu_threads=os.cpu_count()))
    B = x.shape[0] if x is not None else 1
    P = np.broadcast_to(np.asarray(w, dtype=float), (B, program.num_params)) if program.num_params else np.zeros((B, 0))
    X = x if x is not None else np.zeros((B, 0))
    vals = CompiledExprs(exprs)(P, X) if exprs else np.zeros((0, B))
    sweep = [cirq.ParamResolver({str(s): float(vals[i, b]) for i, s in enumerate(syms)}) for b in range(B)]
    if state:
        return lambda: sim.simulate(circuit, param_resolver=sweep[0]).final_state_vector
    obs = sum((t.coeff * cirq.PauliString({qs[q]: getattr(cirq, p) for q, p in t.paulis})
               for t in program.observables[0].terms), cirq.PauliSum())
    return lambda: sim.simulate_expectation_values_sweep(circuit, [obs], sweep)


PL_GATES = {"rx": "RX", "ry": "RY", "rz": "RZ", "h": "Hadamard", "x": "PauliX", "cx": "CNOT", "rxx": "IsingXX",
            "rzz": "IsingZZ", "cp": "ControlledPhaseShift", "swap": "SWAP"}


def lightning_fns(program, w, x, diff: bool = False):
    import pennylane as qml
    from pennylane import numpy as pnp

    n = program.num_qubits
    dev = qml.device("lightning.qubit", wires=n)
    ops = program.circuit.ops()

    def body(P, X):
        for op in ops:
            vals = [a.evaluate(P, X) for a in op.angles]
            getattr(qml, PL_GATES[op.name])(*vals, wires=[n - 1 - q for q in op.qubits])

    if program.observables:
        terms = program.observables[0].terms

        @qml.qnode(dev, diff_method="adjoint" if diff else None)
        def circuit(P, X):
            body(P, X)
            return qml.expval(qml.sum(*[t.coeff * qml.prod(*[getattr(qml, "Pauli" + p)(n - 1 - q) for q, p in t.paulis])
                                        for t in terms]) if len(terms) > 1 else
                              qml.prod(*[getattr(qml, "Pauli" + p)(n - 1 - q) for q, p in terms[0].paulis]))
    else:
        @qml.qnode(dev)
        def circuit(P, X):
            body(P, X)
            return qml.state()

    if not diff:
        # broadcast over the batch: angles become (B,) arrays
        Xb = x if x is not None else np.zeros((1, 0))
        return lambda: circuit(w, Xb if x is not None else np.zeros((1, 0)))  # (B, I): angles broadcast over the batch

    cot = np.random.default_rng(0).normal(size=x.shape[0])

    def loss(P):
        return sum(cot[b] * circuit(P, x[b]) for b in range(x.shape[0]))

    g = qml.grad(loss)
    wp = pnp.array(w, requires_grad=True)
    return lambda: g(wp)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="smaller circuits (smoke test)")
    ap.add_argument("--cases", default="mnist,hea,qft", help="comma-separated subset of mnist,hea,qft")
    args = ap.parse_args()
    cases = set(args.cases.split(","))
    rng = np.random.default_rng(0)
    rows: list[tuple[str, str, float | None, str]] = []

    def add(case, who, fn, note=""):
        try:
            t = timeit(fn, args.repeats)
        except ImportError as exc:
            rows.append((case, who, None, f"not installed ({exc.name})"))
            return
        rows.append((case, who, t, note))
        print(f"  {case:<34} {who:<26} {t:9.4f} s {note}", file=sys.stderr, flush=True)

    def add_optional(case, who, make):
        """A peer from an optional extra: a 'not installed' row when its import fails."""
        try:
            fn = make()
        except ImportError as exc:
            rows.append((case, who, None, f"not installed ({exc.name})"))
            return
        add(case, who, fn)

    def add_qsim(case, make):
        add_optional(case, "qsimcirq (single)", make)

    # MNIST QNN forward, batch 32
    if 'mnist' in cases:
        mnist = parse((ROOT / "examples" / "mnist_qnn.q").read_text())
        w = rng.uniform(-1, 1, mnist.num_params)
        x = rng.integers(0, 2, (32, mnist.num_inputs)).astype(float)
        case = "MNIST QNN 17q fwd, batch 32"
        for prec in ("double", "single"):
            sim = Simulator(mnist, precision=prec)
            add(case, f"qcomp ({prec})", lambda sim=sim: sim.expval(w, x))
        add(case, "reference", lambda: R.expvals(mnist, w, x))
        add(case, "qiskit-aer EstimatorV2", aer_expval(mnist, w, x))
        add_optional(case, "lightning (broadcast)", lambda: lightning_fns(mnist, w, x))
        add_qsim(case, lambda: qsim_fns(mnist, w, x))

        # MNIST vjp
        case = "MNIST QNN 17q VJP, batch 32"
        cot = np.random.default_rng(0).normal(size=(32, 1))
        for prec in ("double", "single"):
            sim = Simulator(mnist, precision=prec)
            add(case, f"qcomp adjoint ({prec})", lambda sim=sim: sim.vjp(w, x, cot))
        add_optional(case, "lightning adjoint (loop)", lambda: lightning_fns(mnist, w, x, diff=True))

    # HEA 20 qubits x 10 layers
    if 'hea' in cases:
        nq, layers = (12, 4) if args.quick else (20, 10)
        hea = parse(hea_source(nq, layers))
        wh = rng.uniform(-1, 1, hea.num_params)
        case = f"HEA {nq}q x {layers} layers fwd"
        for prec in ("double", "single"):
            sim = Simulator(hea, precision=prec)
            add(case, f"qcomp ({prec})", lambda sim=sim: sim.expval(wh))
        if nq <= 16:
            add(case, "reference", lambda: R.expvals(hea, wh))
        else:
            rows.append((case, "reference", None, "skipped: > 60 s"))
        add(case, "qiskit-aer EstimatorV2", aer_expval(hea, wh, None))
        add_optional(case, "lightning", lambda: lightning_fns(hea, wh, None))
        add_qsim(case, lambda: qsim_fns(hea, wh, None))

    # QFT-24 full state
    if 'qft' in cases:
        nq = 14 if args.quick else 24
        qft = parse(qft_source(nq))
        case = f"QFT-{nq} full state"
        for prec in ("double", "single"):
            sim = Simulator(qft, precision=prec)
            add(case, f"qcomp ({prec})", lambda sim=sim: sim.state())
        if nq <= 16:
            add(case, "reference", lambda: R.simulate(qft))
        else:
            rows.append((case, "reference", None, "skipped: > 60 s"))
        add(case, "qiskit-aer statevector", aer_state(qft))
        add_optional(case, "lightning", lambda: lightning_fns(qft, np.zeros(0), None))
        add_qsim(case, lambda: qsim_fns(qft, np.zeros(0), None, state=True))

    # the table
    import numexpr
    import qiskit

    versions = [f"python {platform.python_version()}", f"numpy {np.__version__}", f"numexpr {numexpr.__version__}",
                f"qiskit {qiskit.__version__}"]
    from importlib import metadata

    for dist in ("qiskit-aer", "pennylane", "pennylane-lightning", "qsimcirq", "cirq-core"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    print(f"# machine: {_cpu_model()}, {os.cpu_count()} cores; {', '.join(versions)}; median of {args.repeats} runs")
    print("| case | simulator | seconds | time ÷ qcomp (double) | note |")
    print("|---|---|---|---|---|")
    base: dict[str, float] = {}
    for case, who, t, note in rows:
        if who == "qcomp (double)" or who == "qcomp adjoint (double)":
            base[case] = t
    for case, who, t, note in rows:
        ratio = "" if t is None or case not in base else f"{t / base[case]:.2f}x"
        ts = "-" if t is None else f"{t:.4f}"
        print(f"| {case} | {who} | {ts} | {ratio} | {note} |")
    return 0


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="ascii"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    raise SystemExit(main())
