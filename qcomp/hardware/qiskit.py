"""Run compiled OpenQASM 3 through Qiskit: exact statevector, Aer shots, or any EstimatorV2 primitive.

Every executor loads the emitted text with ``qiskit.qasm3.loads`` (each ``input float[64]`` becomes a
Qiskit Parameter of the same name), binds one row of values per batch sample (params, inputs and
derived inputs, mapped through the emitter's manifest) and returns expectation values shaped
``(B, n_outputs)`` like qcomp's simulator. They also implement ``estimate(circuits, values,
observables)``, the ``qcomp.hardware.HardwareExecutor`` interface, so exported gradient programs
run the same way: ``run_gradient_program(dir, QiskitAerExecutor(shots=4000))``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import InputError, ResourceLimitError, UnsupportedError
from ..ir.values import bind_pair, element_names
from .manifest import estimate_from_group_counts, manifest_decls, manifest_measurement_groups, manifest_pauli_list

__all__ = [
    "BACKENDS",
    "EstimatorExecutor",
    "QiskitStatevectorExecutor",
    "QiskitAerExecutor",
    "executor_for",
    "measurement_circuits",
    "run_measurement_groups",
    "model_values",
    "run_on_qiskit",
    "run_for_cli",
    "DEFAULT_AER_SHOTS",
    "DEFAULT_SAMPLE_SHOTS",
]

BACKENDS = ("qiskit-statevector", "qiskit-aer")
# Shots per measured Pauli group when estimating expectation values on Aer without --shots.
DEFAULT_AER_SHOTS = 4096
# Shots for counts when none are given (as qcomp's Simulator.sample).
DEFAULT_SAMPLE_SHOTS = 1024

Values = Mapping[str, np.ndarray]
Observable = Sequence[tuple[str, float]]


def _qiskit():
    try:
        import qiskit.qasm3  # noqa: F401
        from qiskit.quantum_info import SparsePauliOp  # noqa: F401
    except ImportError as exc:  # pragma: no cover - qiskit is installed with qcomp[qiskit]
        raise UnsupportedError(f"running on Qiskit needs qiskit and qiskit-qasm3-import ('pip install qcomp[qiskit]'): {exc}") from None


# Loaded circuits by (text, keep_measurements): Qiskit's OpenQASM 3 parser takes ~0.1-0.3 s per file,
# and training loops or repeated gradient evaluations load the same texts again.
_LOADED: dict[tuple[str, bool], Any] = {}
_LOADED_MAX = 512


def _load(text: str, keep_measurements: bool = False):
    """The QuantumCircuit of OpenQASM 3 ``text`` (final measurements removed unless kept); a copy."""
    import qiskit.qasm3

    _qiskit()
    key = (text, keep_measurements)
    circ = _LOADED.get(key)
    if circ is None:
        try:
            circ = qiskit.qasm3.loads(text)
        except Exception as exc:  # the importer raises its own error types
            raise UnsupportedError(f"Qiskit cannot load the OpenQASM 3 program: {exc}") from None
        if not keep_measurements:
            circ = circ.remove_final_measurements(inplace=False)
        if len(_LOADED) >= _LOADED_MAX:
            _LOADED.clear()
        _LOADED[key] = circ
    return circ.copy()


def _batch(values: Values) -> int:
    return max((int(np.shape(v)[0]) for v in values.values() if np.ndim(v)), default=1)


def _bindings(circ, values: Values, B: int) -> np.ndarray:
    """(B, n_params) values in ``circ.parameters`` order; the file may not use every declared input."""
    names = [p.name for p in circ.parameters]
    missing = [n for n in names if n not in values]
    if missing:
        raise InputError(f"no value for circuit input '{missing[0]}'")
    if not names:
        return np.zeros((B, 0))
    return np.stack([np.broadcast_to(np.asarray(values[n], dtype=float), (B,)) for n in names], axis=1)


def _sparse_ops(observables: Sequence[Observable], num_qubits: int):
    from qiskit.quantum_info import SparsePauliOp

    return [SparsePauliOp.from_list(list(o) or [("I" * num_qubits, 0.0)]) for o in observables]


# -- executors -----------------------------------------------------------------------------


class _Base:
    """Shared model-level entry point; subclasses implement ``estimate`` (and ``sample``)."""

    def estimate(self, circuits: Sequence[str], values: Sequence[Values],
                 observables: Sequence[Observable]) -> list[np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def expval(self, qasm, params: Any = None, inputs: Any = None, program=None) -> np.ndarray:
        """(B, n_outputs) for an emitted ``QasmResult`` (or (text, manifest)) and a batch of rows.

        ``program`` (the Program that was emitted) is only needed for its param/input names; by
        default they are taken from the manifest.
        """
        text, manifest = _text_manifest(qasm)
        vals = model_values(manifest, params, inputs, program)
        obs = [_manifest_observable(manifest, k) for k in range(len(manifest["outputs"]))]
        if not obs:
            raise InputError("the model has no 'expect' outputs")
        return self.estimate([text], [vals], obs)[0]


class EstimatorExecutor(_Base):
    """Adapter for ANY Qiskit EstimatorV2-style primitive (``run(pubs[, precision]).result()``).

    One pub per circuit: the circuit, its observables as SparsePauliOps, and a (B, 1, n_params)
    array of bindings, so ``evs`` come back (B, n_outputs). For hardware primitives (e.g.
    ``qiskit_ibm_runtime.EstimatorV2(mode=backend)``), pass ``pass_manager`` (e.g.
    ``generate_preset_pass_manager(backend=backend, optimization_level=1)``): circuits are
    transpiled to the backend's ISA and the observables moved to the chosen layout. ``precision``
    is handed to ``run`` when given (shot-based estimators take it as the target standard error).
    """

    def __init__(self, estimator: Any, *, precision: float | None = None, pass_manager: Any = None):
        _qiskit()
        if not callable(getattr(estimator, "run", None)):
            raise InputError(f"{type(estimator).__name__} is not an Estimator primitive (it has no run method)")
        self.estimator = estimator
        self.precision = precision
        self.pass_manager = pass_manager

    def estimate(self, circuits, values, observables):
        pubs, shapes = [], []
        for text, vals in zip(circuits, values):
            circ = _load(text)
            ops = _sparse_ops(observables, circ.num_qubits)
            B = _batch(vals)
            bind = _bindings(circ, vals, B)  # before transpiling: names are the file's inputs
            order = [p.name for p in circ.parameters]
            if self.pass_manager is not None:
                circ = self.pass_manager.run(circ)
                ops = [op.apply_layout(circ.layout) for op in ops]
                pos = {n: k for k, n in enumerate(order)}
                bind = bind[:, [pos[p.name] for p in circ.parameters]] if circ.parameters else np.zeros((B, 0))
            if bind.shape[1]:
                pubs.append((circ, [ops], bind[:, None, :]))  # (B, 1) bindings x (1, n_out) observables
            else:
                pubs.append((circ, ops))
            shapes.append(B)
        job = self.estimator.run(pubs) if self.precision is None else self.estimator.run(pubs, precision=self.precision)
        result = job.result()
        n_out = len(observables)
        return [np.broadcast_to(np.asarray(r.data.evs, dtype=float).reshape(-1, n_out), (B, n_out)).copy()
                for r, B in zip(result, shapes)]


class QiskitStatevectorExecutor(EstimatorExecutor):
    """Exact expectation values with ``qiskit.primitives.StatevectorEstimator``; counts with
    ``StatevectorSampler`` (exact probabilities, sampled with ``seed``)."""

    def __init__(self, seed: int | None = None, *, max_memory_bytes: int | None = None):
        _qiskit()
        from qiskit.primitives import StatevectorEstimator

        if max_memory_bytes is not None and max_memory_bytes <= 0:
            raise InputError(f"max_memory_bytes must be positive, got {max_memory_bytes}")
        super().__init__(StatevectorEstimator())
        self.seed = seed
        self.max_memory_bytes = max_memory_bytes

    def _check_memory(self, circ) -> None:
        """Refuse circuits whose state vectors do not fit, before Qiskit allocates them (it would
        raise a bare MemoryError, or take the machine into swap)."""
        from ..backends.simulator import FORWARD_WORKSPACE, _fmt_bytes, _raw_bytes, available_memory

        n = circ.num_qubits
        avail = self.max_memory_bytes if self.max_memory_bytes is not None else available_memory()
        state = (2**n) * 16  # Qiskit's Statevector is complex128
        need = state * FORWARD_WORKSPACE
        if need > avail:
            raise ResourceLimitError(
                f"simulating {n} qubits with qiskit-statevector needs {_fmt_bytes(need)} ({_raw_bytes(need)}: a "
                f"{_fmt_bytes(state)} state and its workspace) but only {_fmt_bytes(avail)} is available")

    def estimate(self, circuits, values, observables):
        for text in circuits:
            self._check_memory(_load(text))
        return super().estimate(circuits, values, observables)

    def sample(self, text: str, values: Values, shots: int = DEFAULT_SAMPLE_SHOTS) -> list[dict[str, int]]:
        """Counts per batch row of the circuit's measurements (all qubits if it measures none)."""
        from qiskit.primitives import StatevectorSampler

        circ = _measured(_load(text, keep_measurements=True))
        self._check_memory(circ)
        B = _batch(values)
        bind = _bindings(circ, values, B)
        pub = (circ, bind) if bind.shape[1] else (circ,)
        res = StatevectorSampler(seed=self.seed).run([pub], shots=_check_shots(shots)).result()[0]
        data = getattr(res.data, circ.cregs[0].name)
        if not bind.shape[1]:
            return [data.get_counts()] * B if B > 1 else [data.get_counts()]
        return [data.get_counts(b) for b in range(B)]


class QiskitAerExecutor(_Base):
    """Shot-based estimation on qiskit-aer's ``AerSimulator``, measured like hardware (no noise model
    unless ``backend_options`` give one).

    Each circuit is transpiled once for Aer; the observables' Pauli terms are grouped into
    qubit-wise commuting sets (qcomp.passes.group_measurements: never more sets than Qiskit's
    ``group_commuting(qubit_wise=True)``), each set measured after basis changes with ``shots`` shots, and all
    circuits and batch rows run in one Aer call. The estimate of an output sum_k c_k P_k
    has standard deviation at most sum_k |c_k| / sqrt(shots).
    """

    def __init__(self, shots: int = DEFAULT_AER_SHOTS, seed: int | None = None, **backend_options: Any):
        self.shots = _check_shots(shots)  # the user's mistake first, before what is installed
        try:
            from qiskit_aer import AerSimulator
        except ImportError:
            raise UnsupportedError("the qiskit-aer backend needs qiskit-aer ('pip install qiskit-aer')") from None
        _qiskit()
        self.seed = seed
        opts = dict(backend_options)
        # Aer's thread pools cost more than they give for these small, many-experiment jobs
        # (measured 4-6x slower on 2 cores, even at 17 qubits); pass max_parallel_threads=0 for all cores
        opts.setdefault("max_parallel_threads", 1)
        if seed is not None:
            opts.setdefault("seed_simulator", seed)
        self.backend = AerSimulator(**opts)
        self._pm = None

    def _transpile(self, circ):
        # one pass manager per executor: transpile(circ, backend) rebuilds Aer's target every call
        if self._pm is None:
            from qiskit.transpiler import generate_preset_pass_manager

            self._pm = generate_preset_pass_manager(optimization_level=0, backend=self.backend)
        return self._pm.run(circ)

    def _prepare(self, text: str, vals: Values, keep_measurements: bool):
        """(transpiled circuit, its Parameters, (rows, n) bindings, B); rows is 1 without parameters."""
        circ = _load(text, keep_measurements)
        if keep_measurements:
            circ = _measured(circ)
        B = _batch(vals)
        bind = _bindings(circ, vals, B)
        base = self._transpile(circ)
        params = list(base.parameters)
        pos = {p.name: k for k, p in enumerate(circ.parameters)}
        bind = bind[:, [pos[p.name] for p in params]] if params else np.zeros((1, 0))
        return base, params, bind, B

    def _run(self, jobs: list[tuple[Any, list, np.ndarray]], shots: int) -> list[list[dict[str, int]]]:
        """One Aer call for all (circuit, params, bindings): counts per circuit per binding row.

        Values are bound in Python (``assign_parameters``), not with Aer's ``parameter_binds``:
        qiskit-aer 0.18 with Qiskit 2 gives wrong results for bound controlled rotations (crz) that way.
        """
        if not jobs:
            return []
        bound, sizes = [], []
        for circ, params, bind in jobs:
            if params:
                bound.extend(circ.assign_parameters(dict(zip(params, row))) for row in bind.tolist())
                sizes.append(bind.shape[0])
            else:
                bound.append(circ)
                sizes.append(1)
        result = self.backend.run(bound, shots=shots).result()
        if not result.success:  # pragma: no cover - Aer reports failures in the result
            raise UnsupportedError(f"Aer failed: {result.status}")
        out, k = [], 0
        for rows in sizes:
            out.append([dict(result.get_counts(k + b)) for b in range(rows)])
            k += rows
        return out

    def estimate(self, circuits, values, observables):
        from qiskit import ClassicalRegister

        plans, jobs = [], []
        for text, vals in zip(circuits, values):
            base, params, bind, B = self._prepare(text, vals, keep_measurements=False)
            n = base.num_qubits
            ops = _sparse_ops(observables, n)
            labels = sorted({lbl for op in ops for lbl in op.paulis.to_labels()} - {"I" * n})
            first = len(jobs)
            group_info = []
            for glabels in _group_labels(labels, n):
                basis: dict[int, str] = {}
                for lbl in glabels:
                    for q in range(n):
                        if lbl[n - 1 - q] != "I":
                            basis[q] = lbl[n - 1 - q]
                support = sorted(basis)
                mc = base.copy()
                creg = ClassicalRegister(len(support), "m")
                mc.add_register(creg)
                for j, q in enumerate(support):
                    if basis[q] == "X":
                        mc.h(q)
                    elif basis[q] == "Y":
                        mc.sdg(q)
                        mc.h(q)
                    mc.measure(q, creg[j])
                jobs.append((mc, params, bind))
                group_info.append((glabels, support))
            plans.append((n, ops, B, bool(params), first, group_info))
        counts = self._run(jobs, self.shots)
        out = []
        for n, ops, B, has_params, first, group_info in plans:
            rows = B if has_params else 1  # without parameters every row is the same circuit
            pauli_ev: dict[str, np.ndarray] = {"I" * n: np.ones(rows)}
            for g, (glabels, support) in enumerate(group_info):
                for b, cnt in enumerate(counts[first + g]):
                    keys = list(cnt)
                    freq = np.array([cnt[k] for k in keys], dtype=float) / self.shots
                    # bit j of an outcome (rightmost character = bit 0) is qubit support[j]
                    m = len(support)
                    bits = np.array([[k.replace(" ", "")[m - 1 - j] == "1" for j in range(m)] for k in keys], dtype=bool)
                    for lbl in glabels:
                        mask = np.array([lbl[n - 1 - q] != "I" for q in support], dtype=bool)
                        parity = bits[:, mask].sum(axis=1) % 2
                        pauli_ev.setdefault(lbl, np.zeros(rows))[b] = float(np.sum(freq * (1 - 2 * parity)))
            ev = np.zeros((rows, len(ops)))
            for k, op in enumerate(ops):
                for lbl, coeff in zip(op.paulis.to_labels(), op.coeffs):
                    ev[:, k] += float(np.real(coeff)) * pauli_ev[lbl]
            out.append(np.broadcast_to(ev, (B, len(ops))).copy())
        return out

    def sample(self, text: str, values: Values, shots: int = DEFAULT_SAMPLE_SHOTS) -> list[dict[str, int]]:
        """Counts per batch row of the circuit's measurements (all qubits if it measures none)."""
        base, params, bind, B = self._prepare(text, values, keep_measurements=True)
        counts = self._run([(base, params, bind)], _check_shots(shots))[0]
        return counts if params else counts * B


def _group_labels(labels: Sequence[str], n: int) -> list[list[str]]:
    """Qiskit-style Pauli labels in qubit-wise commuting groups (qcomp's grouping pass)."""
    from ..passes.group_measurements import group_paulis

    words = [tuple((n - 1 - i, ch) for i, ch in reversed(list(enumerate(lbl))) if ch != "I") for lbl in labels]
    return [[labels[i] for i in g] for g in group_paulis(words, n)]


def measurement_circuits(qasm) -> list:
    """Qiskit circuits of an emitted program (a ``QasmResult`` or (text, manifest)), one per
    measurement group of its manifest: the program without its final measurements, the group's basis
    rotations (h for X, sdg h for Y) and its qubits measured into a register ``m`` (bit j is the
    group's qubits[j]). Their counts give the outputs through
    :func:`qcomp.hardware.manifest.estimate_from_group_counts`."""
    from qiskit import ClassicalRegister

    text, manifest = _text_manifest(qasm)
    base = _load(text)
    out = []
    for g in manifest_measurement_groups(manifest):
        mc = base.copy()
        creg = ClassicalRegister(len(g["qubits"]), "m")
        mc.add_register(creg)
        for j, (q, b) in enumerate(zip(g["qubits"], g["basis"])):
            if b == "X":
                mc.h(q)
            elif b == "Y":
                mc.sdg(q)
                mc.h(q)
            mc.measure(q, creg[j])
        out.append(mc)
    return out


def run_measurement_groups(qasm, sampler: Any, shots: int, params: Any = None, inputs: Any = None,
                           program=None) -> tuple[np.ndarray, np.ndarray]:
    """Expectation values and standard errors (B, n_outputs) of an emitted program measured with any
    Qiskit SamplerV2 primitive (``StatevectorSampler``, Aer's ``SamplerV2``, a hardware sampler with
    ISA circuits): one pub per measurement group of the manifest, ``shots`` shots each, every batch row
    bound in the pub. A Pauli sum costs one circuit per qubit-wise commuting group."""
    text, manifest = _text_manifest(qasm)
    shots = _check_shots(shots)
    vals = model_values(manifest, params, inputs, program)
    circuits = measurement_circuits((text, manifest))
    B = _batch(vals)
    pubs = []
    for circ in circuits:
        bind = _bindings(circ, vals, B)
        pubs.append((circ, bind) if bind.shape[1] else (circ,))
    result = sampler.run(pubs, shots=shots).result() if pubs else []
    counts = []
    for pub, res in zip(pubs, result):
        data = res.data.m
        counts.append([data.get_counts(b) for b in range(B)] if len(pub) > 1 else [data.get_counts()])
    return estimate_from_group_counts(manifest, counts)


def _check_shots(shots: Any) -> int:
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
        raise InputError(f"shots must be a positive integer, got {shots!r}")
    return int(shots)


def _measured(circ):
    """``circ`` with its measurements, or every qubit measured when it has none."""
    if circ.num_clbits and any(inst.operation.name == "measure" for inst in circ.data):
        return circ
    return circ.measure_all(inplace=False)


# -- models --------------------------------------------------------------------------------


def _text_manifest(qasm) -> tuple[str, Mapping[str, Any]]:
    if hasattr(qasm, "text") and hasattr(qasm, "manifest"):
        return qasm.text, qasm.manifest
    text, manifest = qasm
    return text, manifest


def _manifest_observable(manifest: Mapping[str, Any], k: int) -> list[tuple[str, float]]:
    return manifest_pauli_list(manifest, k)


def model_values(manifest: Mapping[str, Any], params: Any = None, inputs: Any = None, program=None) -> dict[str, np.ndarray]:
    """Values (B,) of every ``input float[64]`` of an emitted file for a batch of rows.

    ``params`` and ``inputs`` take the forms of :mod:`qcomp.ir.values` (flat, (B, n), by name);
    rows broadcast like the simulator's. ``program`` (the Program emitted) gives the declarations,
    else they are read from the manifest.
    """
    from .gradient_runs import circuit_values

    if program is not None:
        pdecls, idecls = list(program.params), list(program.inputs)
    else:
        pdecls = manifest_decls(manifest, "params") if manifest.get("params") else []
        idecls = manifest_decls(manifest, "inputs") if manifest.get("input_decls") else []
    if manifest.get("inputs_bound"):
        idecls, inputs = [], None  # folded into the circuit: nothing to pass
    elif isinstance(inputs, (list, tuple, np.ndarray)) and sum(d.size for d in idecls) == 1 and np.ndim(inputs) == 1:
        inputs = np.asarray(inputs)[:, None]  # one input: a column of samples
    p, x, B, _, _ = bind_pair(pdecls, idecls, params, inputs)
    p = np.broadcast_to(p, (B, p.shape[1]))
    x = np.broadcast_to(x, (B, x.shape[1]))
    return circuit_values(manifest, element_names(pdecls), element_names(idecls), p, x)


def executor_for(backend: str, shots: int | None = None, seed: int | None = None):
    """The executor named by ``--backend`` (qcomp, qiskit-statevector or qiskit-aer)."""
    if backend == "qcomp":
        from .gradient_runs import QcompExecutor

        return QcompExecutor()
    if backend == "qiskit-statevector":
        if shots is not None:
            raise InputError("qiskit-statevector computes exact expectation values; --shots needs --backend qiskit-aer")
        return QiskitStatevectorExecutor(seed=seed)
    if backend == "qiskit-aer":
        return QiskitAerExecutor(shots if shots is not None else DEFAULT_AER_SHOTS, seed)
    raise InputError(f"unknown backend '{backend}'; valid backends: qcomp, {', '.join(BACKENDS)}")


def _program_and_qasm(model):
    """(Program emitted, QasmResult) of a Model or a Program (compiled at level 2, as ``Model(program)``)."""
    from ..backends.qasm import emit_qasm
    from ..ir.program import Program
    from ..pipeline import build

    if isinstance(model, Program):
        return model, emit_qasm(build(model, 2, "qasm"), version=3, source=model)
    if not (isinstance(getattr(model, "program", None), Program) and callable(getattr(model, "qasm_result", None))):
        raise InputError(f"expected a qcomp Model or Program, got {type(model).__name__}")
    return model.program, model.qasm_result(3)


def run_on_qiskit(model, params: Any = None, inputs: Any = None, backend: str = "qiskit-statevector",
                  shots: int | None = None, seed: int | None = None, *, counts: bool = False,
                  estimator: Any = None):
    """Execute ``model``'s compiled OpenQASM 3 through Qiskit.

    Returns expectation values (B, n_outputs), or with ``counts=True`` a list of {bitstring: count}
    per row for the measured qubits (all qubits if none; bitstrings Qiskit-style, as
    Simulator.sample). ``backend``: "qiskit-statevector" (exact; counts sampled from the exact
    state) or "qiskit-aer" (``shots`` per Pauli group, default 4096). ``estimator``: any
    EstimatorV2 primitive instead of ``backend`` (expectation values only).
    """
    program, qres = _program_and_qasm(model)
    if estimator is not None:
        if counts:
            raise InputError("an Estimator primitive gives expectation values, not counts")
        return EstimatorExecutor(estimator).expval(qres, params, inputs, program)
    if backend not in BACKENDS:
        raise InputError(f"unknown Qiskit backend '{backend}'; valid backends: {', '.join(BACKENDS)}")
    if counts:
        vals = model_values(qres.manifest, params, inputs, program)
        n = shots if shots is not None else DEFAULT_SAMPLE_SHOTS
        ex = QiskitStatevectorExecutor(seed) if backend == "qiskit-statevector" else QiskitAerExecutor(n, seed)
        return ex.sample(qres.text, vals, n)
    return executor_for(backend, shots, seed).expval(qres, params, inputs, program)


def run_for_cli(model, params: Any, inputs: Any, backend: str, shots: int | None = None,
                seed: int | None = None) -> tuple[str, Any]:
    """What ``qcomp run --backend qiskit-*`` prints: ("values", (B, n_out)) or ("counts", [dict]).

    A model with 'expect' outputs gives expectation values (exact on qiskit-statevector, where
    --shots is an error; estimated with --shots shots per Pauli group on qiskit-aer); a model with
    only measurements gives counts of --shots shots.
    """
    from ..ir.program import Program

    program = model if isinstance(model, Program) else model.program
    if program.observables:
        return "values", run_on_qiskit(model, params, inputs, backend, shots, seed)
    return "counts", run_on_qiskit(model, params, inputs, backend, shots, seed, counts=True)
