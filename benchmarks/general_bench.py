"""General-circuit benchmark: qcomp against qsimcirq, pennylane-lightning, qiskit-aer and PennyLane+JAX, side by side.

Run:  python benchmarks/general_bench.py                 # default cases, median of 3 (15 min on 2 cores at load 5-7)
      python benchmarks/general_bench.py --quick         # smaller circuits: a smoke run in seconds
      python benchmarks/general_bench.py --cases hea20,iqp --repeat 5 --busy --json out.json
      python benchmarks/general_bench.py --full          # adds iqp at 16/18 qubits and the 28-qubit big28 case

Cases (``--cases``, comma-separated; default: hea20,iqp,qft24,random20,seed,passes; big28 with --full or by name):
  hea20     hardware-efficient ansatz 20 qubits x 10 layers (ry, rz on every qubit, cx ladder), <sum Z_i>, 400 params:
            forward expectation and the adjoint gradient
  iqp       IQP embedding + 10 strongly entangling layers (cz rings), <Z0 Z1>, batch 32: one MSE training step
            (loss and gradient) against PennyLane default.qubit + jax.jit(jax.value_and_grad) over jax.vmap
  qft24     QFT on 24 qubits from a product input state: the full final state
  random20  qiskit random_circuit(20, 40, max_operands=2) imported through OpenQASM 3: the full final state
  big28     one 28-qubit HEA forward (2 layers) in complex64 (2 GiB state); skipped when memory is short
  seed      the seed QNN examples/mnist_qnn.q, forward, batch 32 (peers from benchmarks/sim_bench.py)
  passes    the time of one streaming pass over a state (numpy ``x *= c``) and a floor per workload

Every contender of a case is timed in turn (a, b, c, a, b, c, ...) after one warm-up call, so all see the same
machine load; the table gives medians and qcomp/peer (< 1 means qcomp is faster), comparing qcomp at the peer's
precision when that precision was run. Each peer's result is checked against qcomp once (max deviation).
Peers are optional: a missing one is a row with a note. Thread settings are the environment's (nothing is set here).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import qcomp  # noqa: E402
from qcomp.backends.simulator import Simulator  # noqa: E402
from sim_bench import PL_GATES, _cirq_gate, _cpu_model, aer_expval, aer_state, hea_source, qft_source, qsim_fns  # noqa: E402

ALL_CASES = ("hea20", "iqp", "qft24", "random20", "big28", "seed", "passes")
DEFAULT_CASES = ("hea20", "iqp", "qft24", "random20", "seed", "passes")


# -- results ----------------------------------------------------------------------------------------

@dataclass
class Row:
    case: str
    who: str
    prec: str  # "single" / "double" / "" (the precision of this contender's arithmetic)
    seconds: float | None = None
    dev: float | None = None  # max |result - qcomp result|
    note: str = ""
    qcomp: bool = False
    times: list = field(default_factory=list)


@dataclass
class Structure:
    case: str
    qubits: int
    batch: int
    gate_ops: int
    kernels: int | None
    plan_kind: str
    floor_s: float | None = None  # kernels x one streaming pass over the state(s)


class Bench:
    def __init__(self, args):
        self.args = args
        self.rows: list[Row] = []
        self.structure: list[Structure] = []
        self.stream: dict[str, float] = {}

    def log(self, msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    def run_case(self, case: str, contenders: list[tuple], compare=None, repeat: int | None = None) -> dict:
        """contenders: (who, prec, make, is_qcomp); make() -> fn (ImportError: peer not installed) and fn()
        -> result. The first qcomp contender's result is the reference that ``compare(ref, result)`` measures
        each other result against. Timed in turn after one warm-up call each (short calls: per call
        over a block of back-to-back calls); returns {who: result}."""
        repeat = self.args.repeat if repeat is None else repeat
        live: list[tuple[Row, object]] = []
        results: dict[str, object] = {}
        ref = None
        for who, prec, make, is_q in contenders:
            row = Row(case, who, prec, qcomp=is_q)
            self.rows.append(row)
            try:
                fn = make()
                results[who] = fn()  # warm-up (plans, JIT caches) and the value for the check
            except ImportError as exc:
                row.note = f"not installed ({exc.name or exc})"
                self.log(f"  {case:<28} {who:<30} {row.note}")
                continue
            except MemoryError as exc:
                row.note = f"skipped: out of memory ({exc})"
                continue
            except Exception as exc:  # noqa: BLE001 - a failing peer must not end the run
                row.note = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''}"
                self.log(f"  {case:<28} {who:<30} {row.note}")
                if self.args.verbose:
                    traceback.print_exc()
                continue
            if is_q and ref is None:
                ref = results[who]
            elif compare is not None and ref is not None:
                try:
                    row.dev = float(compare(ref, results[who]))
                except Exception as exc:  # noqa: BLE001
                    row.note = f"check failed: {exc}"
            live.append((row, fn))
        # calls shorter than ~10 ms are timed as a block of back-to-back calls per turn (a training
        # loop runs its steps back to back; one call right after another library's is mostly
        # that library's cache footprint and timer noise), the block sized per contender to ~50 ms
        inner = {}
        for row, fn in live:
            t0 = time.perf_counter()
            fn()
            inner[row.who] = max(1, min(200, int(0.05 / max(time.perf_counter() - t0, 1e-6))))
        for _ in range(repeat):
            for row, fn in live:
                k = inner[row.who]
                t0 = time.perf_counter()
                for _ in range(k):
                    fn()
                row.times.append((time.perf_counter() - t0) / k)
        for row, _ in live:
            row.seconds = statistics.median(row.times)
            dev = "" if row.dev is None else f"  max dev {row.dev:.1e}"
            self.log(f"  {case:<28} {row.who:<30} {row.seconds:9.4f} s{dev}")
        return results

    def add_row(self, row: Row) -> None:
        self.rows.append(row)
        self.log(f"  {row.case:<28} {row.who:<30} {row.seconds if row.seconds is not None else '-'}")

    def add_structure(self, case: str, program, batch: int = 1, sim: Simulator | None = None,
                      plan_kind: str = "forward") -> None:
        ops = len(program.circuit.ops())
        kernels = plan_kernels(sim, plan_kind) if sim is not None else None
        self.structure.append(Structure(case, program.num_qubits, batch, ops, kernels, plan_kind))


def plan_kernels(sim, kind: str) -> int | None:
    """The number of kernels (state passes) in qcomp's plan, if the simulator exposes one; None otherwise.
    Only getattr: the engine's internals may change."""
    passes = getattr(sim, "state_passes", None)
    if callable(passes):
        return int(passes())
    try:
        plan = getattr(sim, "plan", None)
        p = plan(kind) if callable(plan) else None
        kernels = getattr(p, "kernels", None)
        if kernels is not None:
            return len(kernels)
        for name in ("num_kernels", "num_passes", "passes"):
            v = getattr(p, name, None) if p is not None else None
            if isinstance(v, int):
                return v
        describe = getattr(sim, "describe", None)
        if callable(describe):
            lines = [ln for ln in str(describe()).splitlines() if ln.startswith("  ")]
            return len(lines) or None
    except Exception:  # noqa: BLE001
        return None
    return None


# -- comparisons --------------------------------------------------------------------------------------

def dev_values(a, b) -> float:
    return float(np.max(np.abs(np.ravel(np.asarray(a, dtype=complex)) - np.ravel(np.asarray(b, dtype=complex)))))


def dev_states(a, b) -> float:
    """max |a - b| over amplitudes after taking out a global phase (a, b: qcomp order, 1-D)."""
    a = np.ravel(np.asarray(a)).astype(np.complex128)
    b = np.ravel(np.asarray(b)).astype(np.complex128)
    ov = np.vdot(b, a)
    ph = ov / abs(ov) if abs(ov) > 1e-12 else 1.0
    return float(np.max(np.abs(a - ph * b)))


def big_to_little(state, n: int) -> np.ndarray:
    """A cirq (big-endian: qubit 0 most significant) state in qcomp/Qiskit order (bit k = qubit k)."""
    return np.asarray(state).reshape((2,) * n).transpose(tuple(range(n))[::-1]).ravel()


# -- peers --------------------------------------------------------------------------------------------

def cirq_from_program(program, w=None, x=None):
    """The program's circuit in cirq with every angle evaluated (no symbols left to resolve)."""
    import cirq

    qs = cirq.LineQubit.range(program.num_qubits)
    P = np.asarray(w if w is not None else np.zeros(0), dtype=float)
    X = np.asarray(x if x is not None else np.zeros(0), dtype=float)
    ops = []
    for op in program.circuit.ops():
        t = float(op.angles[0].evaluate(P, X)) if op.angles else None
        ops.append(_cirq_gate(cirq, op.name, t).on(*[qs[q] for q in op.qubits]))
    return cirq.Circuit(ops), qs


def qsim_simulator(threads: int):
    import qsimcirq

    return qsimcirq.QSimSimulator(qsimcirq.QSimOptions(cpu_threads=threads))


def qsim_expval_fn(program, w, threads: int):
    import cirq

    circuit, qs = cirq_from_program(program, w)
    obs = sum((t.coeff * cirq.PauliString({qs[q]: getattr(cirq, p) for q, p in t.paulis})
               for t in program.observables[0].terms), cirq.PauliSum())
    sim = qsim_simulator(threads)
    return lambda: np.real(sim.simulate_expectation_values(circuit, [obs])[0])


def qsim_state_fn(circuit, n: int, threads: int):
    """qsim's final state in qcomp order, asked for with the qubits reversed (qubit_order) so that no
    conversion of the state is timed (the transposition took 20-27 ms of qsim's 70 ms at 20 qubits)."""
    import cirq

    sim = qsim_simulator(threads)
    order = cirq.LineQubit.range(n)[::-1]
    return lambda: sim.simulate(circuit, qubit_order=order).final_state_vector


def lightning_hea(n: int, layers: int, w: np.ndarray, grad: bool):
    """The HEA as a PennyLane QNode on lightning.qubit (qcomp qubit i = wire i; the layout of hea_source)."""
    import pennylane as qml
    from pennylane import numpy as pnp

    dev = qml.device("lightning.qubit", wires=n)
    obs = qml.sum(*[qml.PauliZ(i) for i in range(n)])

    @qml.qnode(dev, diff_method="adjoint" if grad else "best")
    def circuit(p):
        for l in range(layers):
            for i in range(n):
                qml.RY(p[2 * n * l + i], wires=i)
                qml.RZ(p[2 * n * l + n + i], wires=i)
            for i in range(n - 1):
                qml.CNOT(wires=[i, i + 1])
        return qml.expval(obs)

    if not grad:
        return lambda: float(circuit(w))
    g = qml.grad(circuit)
    wp = pnp.array(w, requires_grad=True)
    return lambda: np.asarray(g(wp))


def lightning_expval_fn(program, w, x):
    """The program on lightning.qubit with parameter broadcasting over the batch (x: (B, I); every angle becomes a
    (B,) array). sim_bench.lightning_fns passes x transposed, which indexes samples instead of features."""
    import pennylane as qml

    n = program.num_qubits
    dev = qml.device("lightning.qubit", wires=n)
    ops = program.circuit.ops()
    terms = program.observables[0].terms
    obs = qml.sum(*[t.coeff * qml.prod(*[getattr(qml, "Pauli" + p)(n - 1 - q) for q, p in t.paulis]) for t in terms])

    @qml.qnode(dev)
    def circuit(P, X):
        for op in ops:
            vals = [a.evaluate(P, X) for a in op.angles]
            getattr(qml, PL_GATES[op.name])(*vals, wires=[n - 1 - q for q in op.qubits])
        return qml.expval(obs)

    return lambda: np.asarray(circuit(w, x))


def aer_random_state_fn(qc):
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    sim = AerSimulator(method="statevector", max_parallel_threads=os.cpu_count())
    c = qc.copy()
    c.save_statevector()
    c = transpile(c, sim, optimization_level=0)
    return lambda: np.asarray(sim.run(c).result().get_statevector())


def cirq_from_qiskit(qc):
    """Each qiskit instruction as a cirq.MatrixGate (qiskit matrices are little-endian in their qargs)."""
    import cirq
    from qiskit.quantum_info import Operator

    qs = cirq.LineQubit.range(qc.num_qubits)
    ops = []
    for inst in qc.data:
        idx = [qc.find_bit(q).index for q in inst.qubits]
        m = Operator(inst.operation).data
        ops.append(cirq.MatrixGate(m).on(*[qs[i] for i in reversed(idx)]))
    return cirq.Circuit(ops)


# -- the IQP classifier ---------------------------------------------------------------------------------

def iqp_source(n: int, layers: int) -> str:
    """qml.IQPEmbedding (H, RZ(x_i) per qubit, then MultiRZ(x_i x_j) = rzz(x_i x_j) = exp(-i x_i x_j ZZ/2) on all
    pairs i < j in itertools.combinations order) and qml.StronglyEntanglingLayers with imprimitive=CZ (Rot(a, b, c)
    = rz(a), ry(b), rz(c) on each qubit, then cz(i, (i + r) mod n) with r = l mod (n - 1) + 1); <Z0 Z1>.
    Weights w[(l * n + i) * 3 + k] are PennyLane's (layers, n, 3) array flattened."""
    lines = [f"qubit q[{n}];", f"input x[{n}];", f"param w[{3 * n * layers}];"]
    for i in range(n):
        lines += [f"h q[{i}];", f"rz(x[{i}]) q[{i}];"]
    for i in range(n):
        for j in range(i + 1, n):
            lines.append(f"rzz(x[{i}] * x[{j}]) q[{i}], q[{j}];")
    for l in range(layers):
        for i in range(n):
            b = (l * n + i) * 3
            lines += [f"rz(w[{b}]) q[{i}];", f"ry(w[{b + 1}]) q[{i}];", f"rz(w[{b + 2}]) q[{i}];"]
        r = l % (n - 1) + 1
        for i in range(n):
            lines.append(f"cz q[{i}], q[{(i + r) % n}];")
    lines.append("expect z(q[0]) @ z(q[1]);")
    return "\n".join(lines)


def jax_iqp_step(n: int, layers: int):
    """PennyLane default.qubit + JAX, the qml-benchmarks style: jax.jit(jax.value_and_grad(loss)) with the loss a
    mean over jax.vmap of the QNode. Returns step(weights (L, n, 3), X, y) -> (loss, grad)."""
    import jax
    import jax.numpy as jnp
    import pennylane as qml

    dev = qml.device("default.qubit", wires=n)

    @qml.qnode(dev, interface="jax")
    def circuit(weights, x):
        qml.IQPEmbedding(x, wires=range(n))
        qml.StronglyEntanglingLayers(weights, wires=range(n), imprimitive=qml.CZ)
        return qml.expval(qml.PauliZ(0) @ qml.PauliZ(1))

    batched = jax.vmap(circuit, in_axes=(None, 0))

    def loss(weights, X, y):
        return jnp.mean((batched(weights, X) - y) ** 2)

    step = jax.jit(jax.value_and_grad(loss))

    def run(weights, X, y):
        v, g = step(weights, X, y)
        g.block_until_ready()
        return float(v), np.asarray(g).ravel()

    return run


def case_iqp(bench: Bench, sizes: list[int], layers: int, batch: int, precs: list[str], jax_max: int) -> None:
    have_jax = True
    try:
        import jax
        import pennylane  # noqa: F401  (its import time is not part of a first step)

        jax.config.update("jax_enable_x64", True)  # the check needs double precision on both sides
        jax.jit(lambda a: a + 1)(np.ones(2)).block_until_ready()  # backend start-up outside the first-step times
    except ImportError:
        have_jax = False
    for n in sizes:
        rng = np.random.default_rng(n)
        src = iqp_source(n, layers)
        program = qcomp.parse(src)
        w = rng.uniform(-np.pi, np.pi, program.num_params)
        X = rng.uniform(-1, 1, (batch, n))
        y = rng.choice([-1.0, 1.0], batch)
        case = f"iqp {n}q step"

        def cot_fn(v, rows, y=y):
            return 2.0 * (v - y[rows, None]) / batch

        def qcomp_step(sim):
            v, g = sim.value_and_vjp(w, X, cot_fn)
            return float(np.mean((v[:, 0] - y) ** 2)), np.asarray(g)

        first: dict[str, float] = {}
        contenders = []
        for prec in precs:
            def make(prec=prec):
                t0 = time.perf_counter()
                sim = Simulator(qcomp.parse(src), precision=prec)  # parse + plan build in the first step
                qcomp_step(sim)
                first[f"qcomp ({prec})"] = time.perf_counter() - t0
                return lambda: qcomp_step(sim)
            contenders.append((f"qcomp ({prec})", prec, make, True))
        skipped = None
        if not have_jax:
            skipped = Row(case, "PennyLane default.qubit+JAX", "double", note="not installed (jax)")
        elif n > jax_max:
            skipped = Row(case, "PennyLane default.qubit+JAX", "double",
                          note=f"skipped: n > --jax-max-qubits {jax_max} (XLA compile takes minutes)")
        else:
            def make_jax():
                t0 = time.perf_counter()
                run = jax_iqp_step(n, layers)
                W = w.reshape(layers, n, 3)
                run(W, X, y)
                first["PennyLane default.qubit+JAX"] = time.perf_counter() - t0
                return lambda: run(W, X, y)
            contenders.append(("PennyLane default.qubit+JAX", "double", make_jax, False))

        def compare(ref, res):
            return max(abs(ref[0] - res[0]), float(np.max(np.abs(ref[1] - res[1]))))

        bench.run_case(case, contenders, compare)
        if skipped is not None:
            bench.rows.append(skipped)
        for row in [r for r in bench.rows if r.case == case]:
            if row.who in first:
                bench.rows.append(Row(f"iqp {n}q first step", row.who, row.prec, seconds=first[row.who],
                                      note="incl. parse+plan" if row.qcomp else "incl. trace+jit", qcomp=row.qcomp))
        bench.add_structure(case, program, batch, Simulator(program), "adjoint")


# -- cases ----------------------------------------------------------------------------------------------

def case_hea(bench: Bench, n: int, layers: int, precs: list[str], threads: int, grad: bool = True) -> None:
    program = qcomp.parse(hea_source(n, layers))
    w = np.random.default_rng(0).uniform(-1, 1, program.num_params)
    case = f"hea{n} {layers}L fwd"
    c = [(f"qcomp ({p})", p, (lambda p=p: (lambda s: lambda: np.ravel(s.expval(w))[0])(Simulator(program, precision=p))), True)
         for p in precs]
    c += [("qsimcirq", "single", lambda: qsim_expval_fn(program, w, threads), False),
          ("lightning.qubit", "double", lambda: lightning_hea(n, layers, w, False), False),
          ("qiskit-aer EstimatorV2", "double", lambda: (lambda f: lambda: f()[0])(aer_expval(program, w, None)), False)]
    bench.run_case(case, c, dev_values)
    bench.add_structure(case, program, 1, Simulator(program), "expval")
    if not grad:
        return
    case = f"hea{n} {layers}L adjoint grad"
    c = [(f"qcomp ({p})", p, (lambda p=p: (lambda s: lambda: s.gradient(w, method="adjoint").ravel())(
        Simulator(program, precision=p))), True) for p in precs]
    c += [("lightning.qubit adjoint", "double", lambda: lightning_hea(n, layers, w, True), False)]
    bench.run_case(case, c, dev_values)
    bench.add_structure(case, program, 1, Simulator(program), "adjoint")


def case_big(bench: Bench, n: int, layers: int, threads: int) -> None:
    case = f"big{n} {layers}L fwd"
    need = 4 * (2 ** n) * 8  # qcomp's buffers plus qsim's state, complex64
    avail = mem_available()
    if avail is not None and avail < need:
        bench.rows.append(Row(case, "qcomp (single)", "single",
                              note=f"skipped: needs ~{need / 2**30:.0f} GiB, {avail / 2**30:.1f} GiB available"))
        return
    program = qcomp.parse(hea_source(n, layers))
    w = np.random.default_rng(0).uniform(-1, 1, program.num_params)
    c = [("qcomp (single)", "single", lambda: (lambda s: lambda: np.ravel(s.expval(w))[0])(Simulator(program, precision="single")), True),
         ("qsimcirq", "single", lambda: qsim_expval_fn(program, w, threads), False)]
    bench.run_case(case, c, dev_values, repeat=max(1, min(bench.args.repeat, 3)))
    bench.add_structure(case, program, 1, Simulator(program, precision="single"), "expval")


def state_contenders(program, precs):
    return [(f"qcomp ({p})", p, (lambda p=p: (lambda s: lambda: s.state().reshape(-1))(Simulator(program, precision=p))), True)
            for p in precs]


def case_qft(bench: Bench, n: int, precs: list[str], threads: int) -> None:
    program = qcomp.parse(qft_source(n))
    case = f"qft{n} state"
    c = state_contenders(program, precs)
    c += [("qsimcirq", "single", lambda: qsim_state_fn(cirq_from_program(program)[0], n, threads), False),
          ("qiskit-aer statevector", "double", lambda: (lambda f: lambda: np.asarray(f()))(aer_state(program)), False)]
    bench.run_case(case, c, dev_states)
    bench.add_structure(case, program, 1, Simulator(program), "forward")


def case_random(bench: Bench, n: int, depth: int, seed: int, precs: list[str], threads: int) -> None:
    case = f"random{n} d{depth} state"
    try:
        from qiskit import qasm3
        from qiskit.circuit.random import random_circuit
    except ImportError as exc:
        bench.rows.append(Row(case, "qcomp", "", note=f"needs qiskit to generate the circuit ({exc.name})"))
        return
    qc = random_circuit(n, depth, seed=seed, max_operands=2)
    text = qasm3.dumps(qc)
    with tempfile.TemporaryDirectory() as d:  # qcomp reads OpenQASM from a .qasm file (qcomp.parse is .q text)
        path = Path(d) / f"random{n}.qasm"
        path.write_text(text)
        t0 = time.perf_counter()
        program = qcomp.parse_file(path)
        t_import = time.perf_counter() - t0
    c = state_contenders(program, precs)
    c += [("qsimcirq (MatrixGate per op)", "single", lambda: qsim_state_fn(cirq_from_qiskit(qc), n, threads), False),
          ("qiskit-aer statevector", "double", lambda: aer_random_state_fn(qc), False)]
    bench.run_case(case, c, dev_states)
    bench.rows.append(Row(f"random{n} d{depth} import", "qcomp OpenQASM 3 import", "", seconds=t_import,
                          note=f"{len(qc.data)} qiskit ops -> {len(program.circuit.ops())} qcomp ops", qcomp=True))
    bench.add_structure(case, program, 1, Simulator(program), "forward")


def case_seed(bench: Bench, batch: int, precs: list[str]) -> None:
    program = qcomp.parse_file(ROOT / "examples" / "mnist_qnn.q")
    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, program.num_params)
    x = rng.integers(0, 2, (batch, program.num_inputs)).astype(float)
    case = f"seed mnist_qnn fwd b{batch}"
    c = [(f"qcomp ({p})", p, (lambda p=p: (lambda s: lambda: s.expval(w, x)[:, 0])(Simulator(program, precision=p))), True)
         for p in precs]
    c += [("qsimcirq (sweep)", "single", lambda: (lambda f: lambda: np.real(np.asarray(f())[:, 0]))(qsim_fns(program, w, x)), False),
          ("lightning.qubit (broadcast)", "double", lambda: lightning_expval_fn(program, w, x), False),
          ("qiskit-aer EstimatorV2", "double", lambda: aer_expval(program, w, x), False)]
    bench.run_case(case, c, dev_values)
    bench.add_structure(case, program, batch, Simulator(program), "expval")


def case_passes(bench: Bench, quick: bool) -> None:
    """One streaming pass (read + write) over a complex64 state: numpy ``x *= c``."""
    for k in ((16, 20) if quick else (20, 24)):
        x = np.ones(2 ** k, dtype=np.complex64)
        c = np.complex64(0.5 + 0.5j)
        ts = []
        for _ in range(5 if k > 20 else 20):
            t0 = time.perf_counter()
            x *= c
            ts.append(time.perf_counter() - t0)
        t = statistics.median(ts)
        bench.stream[f"2^{k} complex64"] = t
        bench.log(f"  stream pass 2^{k} complex64 ({x.nbytes / 2**20:.0f} MiB): {t * 1e3:.2f} ms, "
                  f"{2 * x.nbytes / t / 1e9:.1f} GB/s (read + write)")


def pass_floor(bench: Bench, s: Structure, itemsize: int = 16) -> float | None:
    """kernels x (one streaming pass over batch states at the bandwidth measured nearest that size)."""
    if not bench.stream or s.kernels is None:
        return None
    nbytes = (2 ** s.qubits) * s.batch * itemsize
    best = min(bench.stream, key=lambda k: abs(int(k.split()[0][2:]) + 3 - math.log2(max(nbytes, 1))))
    k = int(best.split()[0][2:])
    bw = 2 * (2 ** k) * 8 / bench.stream[best]
    return s.kernels * 2 * nbytes / bw


def mem_available() -> int | None:
    try:
        for line in open("/proc/meminfo", encoding="ascii"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


# -- report -----------------------------------------------------------------------------------------------

def versions() -> list[str]:
    from importlib import metadata

    out = [f"python {platform.python_version()}", f"numpy {np.__version__}", f"qcomp {qcomp.__version__}"]
    for dist in ("qiskit", "qiskit-aer", "pennylane", "pennylane-lightning", "jax", "qsimcirq", "cirq-core"):
        try:
            out.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    return out


def ratio_base(bench: Bench, row: Row) -> Row | None:
    """The qcomp row of the same case at the peer's precision (else any timed qcomp row)."""
    qs = [r for r in bench.rows if r.case == row.case and r.qcomp and r.seconds is not None and r.who.startswith("qcomp (")]
    same = [r for r in qs if r.prec == row.prec]
    return (same or qs or [None])[0]


def report(bench: Bench, header: str) -> None:
    print(header)
    print("| case | contender | precision | median s | qcomp/peer | max dev vs qcomp | note |")
    print("|---|---|---|---|---|---|---|")
    for r in bench.rows:
        ratio = ""
        if not r.qcomp and r.seconds:
            base = ratio_base(bench, r)
            if base is not None:
                ratio = f"{base.seconds / r.seconds:.3g}" + ("" if base.prec == r.prec else f" ({base.prec})")
        ts = "-" if r.seconds is None else f"{r.seconds:.4f}"
        dev = "" if r.dev is None else f"{r.dev:.1e}"
        print(f"| {r.case} | {r.who} | {r.prec} | {ts} | {ratio} | {dev} | {r.note} |")
    if bench.structure:
        print()
        print("| workload | qubits | batch | gate ops | qcomp kernels (plan) | floor: kernels x 1 pass (double) |")
        print("|---|---|---|---|---|---|")
        for s in bench.structure:
            s.floor_s = pass_floor(bench, s)
            fl = "" if s.floor_s is None else f"{s.floor_s:.4f} s"
            k = "n/a" if s.kernels is None else f"{s.kernels} ({s.plan_kind})"
            print(f"| {s.case} | {s.qubits} | {s.batch} | {s.gate_ops} | {k} | {fl} |")
    if bench.stream:
        print()
        for k, t in bench.stream.items():
            nbytes = 2 ** int(k.split()[0][2:]) * 8
            print(f"stream pass {k}: {t * 1e3:.2f} ms = {2 * nbytes / t / 1e9:.1f} GB/s (numpy x *= c, read + write)")


def start_busy():
    """One pure-Python spin loop in a subprocess (one core busy) while the timings run."""
    return subprocess.Popen([sys.executable, "-c", "while True:\n    pass"], stdin=subprocess.DEVNULL)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=None, help=f"comma-separated subset of {','.join(ALL_CASES)} "
                    f"(default {','.join(DEFAULT_CASES)}, plus big28 with --full)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per contender after one warm-up (median)")
    ap.add_argument("--precision", default="single,double",
                    help="qcomp precision(s): single, double or single,double (default both)")
    ap.add_argument("--quick", action="store_true", help="small circuits: a smoke run in seconds")
    ap.add_argument("--full", action="store_true", help="also iqp at 16 and 18 qubits and the big28 case")
    ap.add_argument("--busy", action="store_true", help="a background pure-Python spin process during the timings")
    ap.add_argument("--iqp-sizes", default=None, help="comma-separated qubit counts for iqp (default 4,6,8,10,14)")
    ap.add_argument("--jax-max-qubits", type=int, default=None,
                    help="largest iqp size with the PennyLane+JAX peer (default 6, 4 with --quick): its jit compile "
                         "of the vmapped 10-layer QNode took ~1 min at 4 qubits and ~5 min at 8 on 2 busy cores")
    ap.add_argument("--batch", type=int, default=32, help="batch of the iqp and seed cases")
    ap.add_argument("--seed", type=int, default=1, help="seed of random_circuit")
    ap.add_argument("--qsim-threads", type=int, default=os.cpu_count() or 1, help="qsimcirq cpu_threads (default: all cores)")
    ap.add_argument("--json", default=None, help="also save the results to this JSON file")
    ap.add_argument("--verbose", action="store_true", help="tracebacks of failing peers")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    cases = [c.strip() for c in (args.cases or ",".join(DEFAULT_CASES + (("big28",) if args.full else ()))).split(",") if c.strip()]
    bad = [c for c in cases if c not in ALL_CASES]
    if bad:
        ap.error(f"unknown case(s) {', '.join(bad)}; valid: {', '.join(ALL_CASES)}")
    precs = [p.strip() for p in args.precision.split(",") if p.strip()]
    if not precs or any(p not in ("single", "double") for p in precs):
        ap.error("--precision must be single, double or single,double")
    precs = sorted(set(precs), key=["double", "single"].index)  # double first: the reference for the checks
    if args.iqp_sizes:
        sizes = [int(s) for s in args.iqp_sizes.split(",")]
    else:
        sizes = [4, 6] if args.quick else [4, 6, 8, 10, 14] + ([16, 18] if args.full else [])

    bench = Bench(args)
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    busy = start_busy() if args.busy else None
    t_start = time.perf_counter()
    try:
        if "passes" in cases:
            case_passes(bench, args.quick)
        if "hea20" in cases:
            n, layers = (12, 4) if args.quick else (20, 10)
            case_hea(bench, n, layers, precs, args.qsim_threads)
        if "iqp" in cases:
            jax_max = args.jax_max_qubits if args.jax_max_qubits is not None else (4 if args.quick else 6)
            case_iqp(bench, sizes, 2 if args.quick else 10, args.batch, precs, jax_max)
        if "qft24" in cases:
            case_qft(bench, 14 if args.quick else 24, precs, args.qsim_threads)
        if "random20" in cases:
            case_random(bench, 12 if args.quick else 20, 10 if args.quick else 40, args.seed, precs, args.qsim_threads)
        if "big28" in cases:
            n = 20 if args.quick else 28
            case_big(bench, n, 2, args.qsim_threads)
        if "seed" in cases:
            case_seed(bench, 4 if args.quick else args.batch, precs)
    finally:
        if busy is not None:
            busy.terminate()
            busy.wait()
    wall = time.perf_counter() - t_start

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = (f"# general_bench: {_cpu_model()}, {os.cpu_count()} cores; {', '.join(versions())}\n"
              f"# median of {args.repeat} runs (contenders in turn; calls under ~10 ms timed as blocks of back-to-back calls); qsimcirq cpu_threads={args.qsim_threads}; "
              f"busy spin process: {'yes' if args.busy else 'no'}; 1-min load average {load0:.2f} at the start, {load:.2f} at the end; "
              f"{'quick; ' if args.quick else ''}wall {wall:.0f} s; "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
              f"# qcomp/peer < 1: qcomp faster (qcomp at the peer's precision when run, else as marked); "
              f"max dev: against qcomp's first precision (states: up to a global phase; iqp: loss and gradient)")
    report(bench, header)
    if args.json:
        out = {"header": header, "args": vars(args), "machine": _cpu_model(), "cores": os.cpu_count(),
               "versions": versions(), "wall_s": wall,
               "rows": [asdict(r) for r in bench.rows], "structure": [asdict(s) for s in bench.structure],
               "stream_pass_s": bench.stream}
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
