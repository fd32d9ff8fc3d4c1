"""The PennyLane device ``qcomp.qubit``: tapes lowered to qcomp's IR and run on its simulator, with adjoint derivatives."""

from __future__ import annotations

import inspect
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np
import pennylane as qml
from pennylane.devices import Device, ExecutionConfig
from pennylane.devices.modifiers import simulator_tracking, single_tape_support
from pennylane.devices.preprocess import decompose, validate_device_wires, validate_measurements
from pennylane.measurements import (
    CountsMP,
    ExpectationMP,
    MeasurementProcess,
    ProbabilityMP,
    SampleMeasurement,
    StateMeasurement,
    VarianceMP,
)
from pennylane.tape import QuantumScript
from pennylane.wires import Wires

from ..ir.circuit import Circuit
from ..ir.expr import Expr, Sym
from ..ir.ops import Observable, Operation, Register, ValueDecl
from ..ir.program import Program
from ..backends.simulator import Simulator
from .pennylane_import import (
    MAX_UNITARY_WIRES,
    SKIPPED,
    SUPPORTED_NAMES,
    QCompDeviceError,
    accepts_operation,
    batch_size,
    decompose_operation,
    lower_operations,
    pauli_observable,
    pauli_sentence,
    real_value,
)

try:  # PennyLane >= 0.44 renamed TransformProgram
    from pennylane.transforms.core import CompilePipeline as _Pipeline
except ImportError:  # pragma: no cover - older PennyLane
    from pennylane.transforms.core import TransformProgram as _Pipeline


# the operation lowering is shared with qcomp.from_pennylane (qcomp.bridges.pennylane_import)
_SKIPPED = SKIPPED
_SUPPORTED_NAMES = SUPPORTED_NAMES


@dataclass(frozen=True)
class Lowered:
    """A tape as qcomp gates on flat qubits, with one value column per numeric operation parameter.

    Columns shared by the whole batch are params; broadcast columns are inputs (one row per batch
    row, while the params stay shared: the simulator's fast path), except broadcast columns that
    are differentiated (``keep_params``), which make every param a per-row array.
    PennyLane wire i (after mapping wires to 0..n-1) is flat qubit n-1-i, so qcomp's state index
    (bit k = qubit k) is PennyLane's (wire 0 most significant) and states need no reordering.
    """

    num_qubits: int
    ops: tuple[Operation, ...]
    columns: tuple[np.ndarray, ...]
    phases: tuple[int, ...]  # columns that are GlobalPhase angles
    batch_size: int | None
    param_cols: tuple[int, ...]
    input_cols: tuple[int, ...]

    @property
    def key(self) -> tuple:
        return (self.num_qubits, self.ops, self.param_cols, self.input_cols)

    def _values(self, cols: tuple[int, ...], per_row: bool) -> np.ndarray | None:
        if not cols:
            return None
        B = self.batch_size or 1
        if per_row or any(np.ndim(self.columns[k]) > 0 for k in cols):
            return np.stack([np.broadcast_to(self.columns[k], (B,)) for k in cols], axis=1).astype(float)
        return np.array([float(self.columns[k]) for k in cols])

    def args(self, per_row: bool = False) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(params, inputs) for the simulator; ``per_row`` gives both as (B, .) arrays."""
        return self._values(self.param_cols, per_row), self._values(self.input_cols, per_row)

    def phase(self) -> np.ndarray:
        """exp(-i sum of GlobalPhase angles) per batch row."""
        B = self.batch_size or 1
        total = sum((np.broadcast_to(self.columns[k], (B,)) for k in self.phases), np.zeros(B))
        return np.exp(-1j * total)


def _rows(result: np.ndarray, P: np.ndarray | None, X: np.ndarray | None) -> np.ndarray:
    """A simulator result with its batch axis: the simulator drops it when no argument is a batch."""
    batched = (P is not None and np.ndim(P) == 2) or (X is not None and np.ndim(X) == 2)
    return result if batched else np.asarray(result)[None]


def _real(value: Any, what: str) -> np.ndarray:
    return real_value(value, what)


def lower_tape(tape: QuantumScript, extra_ops: Sequence[Operation] = (), keep_params: Sequence[int] = ()) -> Lowered:
    """Lower a tape whose wires are 0..n-1 (``map_to_standard_wires``); ``keep_params`` are
    broadcast columns that stay params (to be differentiated)."""
    n = max(1, tape.num_wires)
    columns: list[np.ndarray] = []
    phases: list[int] = []
    param_cols: list[int] = []
    input_cols: list[int] = []

    def angle(k: int, d: Any, op) -> Expr:
        # every numeric operation parameter is a value column: broadcast ones are inputs
        # a matrix parameter keeps its column (indices match the tape's) but no angle uses it
        value = np.zeros(()) if op.name == "QubitUnitary" else _real(d, f"the parameter of {op.name}")
        columns.append(value)
        if np.ndim(value) > 0 and k not in keep_params:
            input_cols.append(k)
            return Sym("input", len(input_cols) - 1, f"batch[{len(input_cols) - 1}]")
        param_cols.append(k)
        return Sym("param", len(param_cols) - 1, f"theta[{len(param_cols) - 1}]")

    ops = lower_operations(tape.operations, lambda w: n - 1 - int(w), angle, on_phase=phases.append)
    ops.extend(extra_ops)
    return Lowered(n, tuple(ops), tuple(columns), tuple(phases), batch_size(tape), tuple(param_cols), tuple(input_cols))


# -- observables ------------------------------------------------------------------------------

_pauli_sentence = pauli_sentence


def _observable(ps, n: int) -> Observable:
    return pauli_observable(ps, lambda w: n - 1 - int(w))


# -- the simulators ---------------------------------------------------------------------------

def _program(low: Lowered, observables: tuple[Observable, ...]) -> Program:
    n = low.num_qubits
    P, X = len(low.param_cols), len(low.input_cols)
    params = (ValueDecl("param", "theta", P, 0),) if P else ()
    inputs = (ValueDecl("input", "batch", X, 0),) if X else ()
    return Program(Circuit.from_ops(n, low.ops), (Register("q", n, 0),), params=params, inputs=inputs,
                   observables=observables, source_name="<pennylane tape>")


class _Simulators:
    """An LRU cache of simulators by (qubits, gates, param count, observables): tapes that differ only
    in parameter values reuse one simulator and its plans."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._cache: OrderedDict = OrderedDict()

    def get(self, low: Lowered, observables: tuple[Observable, ...]) -> Simulator:
        key = (low.key, observables)
        sim = self._cache.get(key)
        if sim is None:
            sim = Simulator(_program(low, observables))
            self._cache[key] = sim
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return sim


# -- analytic measurements --------------------------------------------------------------------

@dataclass(frozen=True)
class _Plan:
    """What one tape needs from a simulation: observables, probability qubit sets, the state."""

    observables: tuple[Observable, ...]
    probs: tuple[tuple[int, ...], ...]
    state: bool
    steps: tuple[tuple, ...]  # per measurement: ("expval", i) | ("var", i, j) | ("probs", k) | ("state",)


def _analytic_plan(tape: QuantumScript, n: int) -> _Plan:
    observables: list[Observable] = []
    probs: list[tuple[int, ...]] = []
    steps: list[tuple] = []
    state = False

    def obs_index(o: Observable) -> int:
        if o not in observables:
            observables.append(o)
        return observables.index(o)

    for mp in tape.measurements:
        ps = _pauli_sentence(mp.obs) if mp.mv is None else None
        if isinstance(mp, ExpectationMP) and ps is not None:
            steps.append(("expval", obs_index(_observable(ps, n))))
        elif isinstance(mp, VarianceMP) and ps is not None:
            sq = (ps @ ps)
            sq.simplify()
            steps.append(("var", obs_index(_observable(ps, n)), obs_index(_observable(sq, n))))
        elif type(mp) is ProbabilityMP and mp.obs is None and mp.mv is None and len(mp.wires) > 0:
            qs = tuple(n - 1 - int(w) for w in reversed(mp.wires))
            if qs not in probs:
                probs.append(qs)
            steps.append(("probs", probs.index(qs)))
        else:
            state = True
            steps.append(("state",))
    return _Plan(tuple(observables), tuple(probs), state, tuple(steps))


def _measure_state(mp: MeasurementProcess, state: np.ndarray, n: int, batched: bool):
    from pennylane.devices.qubit.measure import measure

    shape = ((state.shape[0],) if batched else ()) + (2,) * n
    return measure(mp, np.reshape(state, shape), is_state_batched=batched)


def _run_plans(sims: _Simulators, jobs: list[tuple[QuantumScript, Lowered, _Plan]]) -> list:
    """Results of analytic tapes; tapes with the same gates and outputs run as one batch."""
    groups: dict[tuple, list[int]] = {}
    for i, (_, low, plan) in enumerate(jobs):
        key = (low.key, plan.observables, plan.probs, plan.state)
        groups.setdefault(key, []).append(i)
    results: list = [None] * len(jobs)
    for members in groups.values():
        low, plan = jobs[members[0]][1], jobs[members[0]][2]
        if len(members) == 1:
            P, X = low.args()
        else:  # one batch of every member's rows
            parts = [jobs[i][1].args(per_row=True) for i in members]
            P, X = (None if parts[0][j] is None else np.concatenate([p[j] for p in parts]) for j in (0, 1))
        sim = sims.get(low, plan.observables)
        ev = _rows(sim.expval(P, X), P, X) if plan.observables else None
        pr = [_rows(sim.probs(P, X, qubits=qs), P, X).astype(float) for qs in plan.probs]
        st = _rows(sim.state(P, X), P, X).astype(complex) if plan.state else None
        start = 0
        for i in members:
            tape, tlow, tplan = jobs[i]
            if P is None and X is None:  # no values: the members are one circuit, simulated once
                sl = slice(0, 1)
            else:
                sl = slice(start, start + (tlow.batch_size or 1))
                start = sl.stop
            results[i] = _finish(tape, tlow, tplan, ev[sl] if ev is not None else None,
                                 [p[sl] for p in pr], st[sl] if st is not None else None)
    return results


def _finish(tape, low: Lowered, plan: _Plan, ev, pr, st):
    batched = batch_size(tape) is not None
    pick = (lambda a: a) if batched else (lambda a: a[0])
    if st is not None:
        st = st * low.phase()[:, None]
    out = []
    for mp, step in zip(tape.measurements, plan.steps):
        if step[0] == "expval":
            out.append(np.asarray(pick(ev[:, step[1]])))
        elif step[0] == "var":
            out.append(np.asarray(pick(ev[:, step[2]] - ev[:, step[1]] ** 2)))
        elif step[0] == "probs":
            out.append(np.asarray(pick(pr[step[1]])))
        else:
            out.append(_measure_state(mp, st if batched else st[0], low.num_qubits, batched))
    return out[0] if len(out) == 1 else tuple(out)


# -- finite shots -----------------------------------------------------------------------------

# basis rotations that turn X and Y eigenbases into the computational basis (H and H S^dagger)
_ROTATE = {"X": (("h",),), "Y": (("sdg",), ("h",))}


def _basis_ops(basis: dict[int, str]) -> tuple[Operation, ...]:
    ops = []
    for q, p in sorted(basis.items()):
        for (name,) in _ROTATE.get(p, ()):
            ops.append(Operation(name, (q,), ()))
    return tuple(ops)


def _compatible(a: dict[int, str], b: dict[int, str]) -> bool:
    return all(a[q] == p for q, p in b.items() if q in a)


def _word_basis(word, n: int) -> dict[int, str]:
    return {n - 1 - int(w): p for w, p in word.items()}


def _shot_results(device: "QCompQubit", tape: QuantumScript, rng: np.random.Generator) -> Any:
    """Finite-shot results: measurements are grouped into qubit-wise commuting sets; each set
    rotates its qubits into the computational basis, and samples are drawn from qcomp's
    probabilities with the device's generator."""
    n = max(1, tape.num_wires)
    shots = tape.shots
    total = shots.total_shots
    B = batch_size(tape) or 1
    # a unit is (measurement index, Pauli word or None, basis); words are for expectation values
    units: list[tuple[int, Any, dict[int, str]]] = []
    opaque: list[int] = []
    by_words: set[int] = set()  # expectation values summed from their Pauli words
    for i, mp in enumerate(tape.measurements):
        ps = _pauli_sentence(mp.obs) if mp.mv is None else None
        if mp.obs is None and mp.mv is None:
            wires = mp.wires if len(mp.wires) else range(n)
            units.append((i, None, {n - 1 - int(w): "Z" for w in wires}))
        elif isinstance(mp, ExpectationMP) and ps is not None:
            by_words.add(i)
            for word in ps:
                units.append((i, word, _word_basis(word, n)))
        elif ps is not None and len(ps) == 1:
            units.append((i, None, _word_basis(next(iter(ps)), n)))
        else:
            opaque.append(i)
    groups: list[tuple[dict[int, str], list[int]]] = []
    for u, (_, _, basis) in enumerate(units):
        for gbasis, members in groups:
            if _compatible(gbasis, basis):
                gbasis.update(basis)
                members.append(u)
                break
        else:
            groups.append((dict(basis), [u]))
    bits_of = {}
    shifts = np.arange(n - 1, -1, -1)
    for gbasis, members in groups:
        low = lower_tape(tape, _basis_ops(gbasis))
        P, X = low.args(per_row=True)
        probs = _rows(device._sims.get(low, ()).probs(P, X), P, X)
        samples = np.empty((B, total, n), dtype=np.int64)
        for b in range(B):
            p = np.clip(probs[b].astype(float), 0, None)
            idx = rng.choice(p.shape[0], size=total, p=p / p.sum())
            samples[b] = (idx[:, None] >> shifts) & 1
        for u in members:
            bits_of[u] = samples
    state = None
    if opaque:
        low = lower_tape(tape)
        P, X = low.args(per_row=True)
        state = _rows(device._sims.get(low, ()).state(P, X), P, X).astype(complex) * low.phase()[:, None]

    wire_order = Wires(range(n))
    per_partition = []
    start = 0
    for count in shots:
        rng_range = (start, start + count)
        start += count
        values = []
        for i, mp in enumerate(tape.measurements):
            mine = [u for u, unit in enumerate(units) if unit[0] == i]
            rows_out = []
            for b in range(B):
                if i in opaque:
                    rows_out.append(_opaque_sample(mp, state[b], n, count, rng))
                elif i in by_words:
                    ps = _pauli_sentence(mp.obs)
                    val = 0.0
                    for u in mine:
                        word = units[u][1]
                        s = bits_of[u][b, rng_range[0]:rng_range[1]]
                        cols = [int(w) for w in word]
                        sign = 1 - 2 * (s[:, cols].sum(axis=1) % 2) if cols else np.ones(count)
                        val += float(np.real(complex(np.asarray(qml.math.unwrap(ps[word]))))) * float(np.mean(sign))
                    rows_out.append(np.asarray(val))
                else:
                    s = bits_of[mine[0]][b, rng_range[0]:rng_range[1]]
                    rows_out.append(mp.process_samples(s, wire_order))
            if batch_size(tape) is None:
                values.append(rows_out[0])
            elif isinstance(mp, CountsMP):
                values.append(list(rows_out))  # one dict per row, as default.qubit
            else:
                values.append(np.stack([np.asarray(r) for r in rows_out]))
        per_partition.append(values[0] if len(values) == 1 else tuple(values))
    return tuple(per_partition) if shots.has_partitioned_shots else per_partition[0]


def _opaque_sample(mp, state_row: np.ndarray, n: int, count: int, rng: np.random.Generator):
    from pennylane.devices.qubit.sampling import measure_with_samples

    res = measure_with_samples([mp], np.reshape(state_row, (2,) * n), qml.measurements.Shots(count), rng=rng)
    return res[0]


# -- derivatives ------------------------------------------------------------------------------

def _adjoint_ready(tape: QuantumScript) -> bool:
    """Analytic, only Pauli expectation values, no trainable observable parameters."""
    if tape.shots:
        return False
    for mp in tape.measurements:
        if not isinstance(mp, ExpectationMP) or mp.mv is not None or _pauli_sentence(mp.obs) is None:
            return False
    n_op = sum(len(op.data) for op in tape.operations)
    return all(k < n_op for k in tape.trainable_params)


def _gradient_setup(device: "QCompQubit", tape: QuantumScript):
    if not _adjoint_ready(tape):
        raise QCompDeviceError("qcomp.qubit computes derivatives of analytic Pauli expectation values only, "
                               "with respect to gate parameters")
    tape = tape.map_to_standard_wires()
    params = tape.get_parameters(trainable_only=False)
    low = lower_tape(tape, keep_params=[k for k in tape.trainable_params if np.ndim(params[k]) > 0])
    plan = _analytic_plan(tape, low.num_qubits)
    obs = tuple(plan.observables[s[1]] for s in plan.steps)
    return tape, low, device._sims.get(low, obs)


def _format_jacobian(jac: np.ndarray, batched: bool) -> Any:
    """(B, n_meas, n_train) -> PennyLane's nesting: measurements outside, parameters inside."""
    jac = jac if batched else jac[0]
    n_meas, n_train = jac.shape[-2], jac.shape[-1]

    def entry(m: int, k: int) -> np.ndarray:
        return np.asarray(jac[..., m, k])

    def per_meas(m: int):
        return entry(m, 0) if n_train == 1 else tuple(entry(m, k) for k in range(n_train))

    return per_meas(0) if n_meas == 1 else tuple(per_meas(m) for m in range(n_meas))


def _cotangent_rows(tape: QuantumScript, cot: Any, B: int) -> np.ndarray:
    parts = [cot] if len(tape.measurements) == 1 else list(cot)
    return np.stack([np.broadcast_to(np.asarray(qml.math.unwrap(c), dtype=float).reshape(-1), (B,)) for c in parts],
                    axis=1)


def _vjp_of_trainable(tape: QuantumScript, low: Lowered, grad: np.ndarray) -> tuple:
    """The VJP per trainable parameter from the simulator's (P,) sum or (B, P) rows: one entry
    per row for a broadcast parameter, the batch's sum for a shared one."""
    out = []
    for k in tape.trainable_params:
        j = low.param_cols.index(k)
        if grad.ndim == 1:
            out.append(np.asarray(grad[j]))
        else:
            out.append(np.asarray(grad[:, j] if np.ndim(low.columns[k]) > 0 else grad[:, j].sum()))
    return tuple(out)


@qml.transform
def expand_trainable_broadcast(tape: QuantumScript):
    """Split a broadcast tape into one tape per row when a trainable parameter is broadcast.

    PennyLane contracts a device Jacobian with the cotangent by summing over the batch, which is
    right for shared parameters but not for broadcast ones (their VJP has one entry per row);
    device VJPs (``device_vjp=True``) handle both without splitting. The split tapes share
    their gates, so ``execute`` still runs them as one batched simulation."""
    if batch_size(tape) is not None:
        params = tape.get_parameters(trainable_only=False)
        if any(np.ndim(params[k]) > 0 for k in tape.trainable_params):
            return qml.transforms.broadcast_expand(tape)
    return (tape,), lambda results: results[0]


# -- the device -------------------------------------------------------------------------------

_ALLOWED_METHODS = {"adjoint", "device"}


def _call_with_supported(fn, *args, **kwargs):
    """A PennyLane transform with its arguments, keeping the keywords this PennyLane version knows."""
    params = inspect.signature(getattr(fn, "_transform", fn)).parameters
    return fn, args, {k: v for k, v in kwargs.items() if k in params}


@simulator_tracking
@single_tape_support
class QCompQubit(Device):
    """``qml.device("qcomp.qubit", wires=n, shots=None, seed="global")``: qcomp's simulator as a
    PennyLane device, with derivatives and vector-Jacobian products from qcomp's adjoint sweep.

    Broadcast tapes run as one batched simulation; tapes of one ``execute`` call that share their
    gates and outputs run together. ``seed`` seeds the sampling of finite-shot results.
    """

    name = "qcomp.qubit"
    short_name = "qcomp.qubit"
    pennylane_requires = ">=0.38"
    version = "0.1.0"
    author = "qcomp"

    def __init__(self, wires=None, shots=None, seed: Any = "global", max_cached_simulators: int = 64) -> None:
        super().__init__(wires=wires, shots=shots)
        if isinstance(seed, bool) or not (seed is None or isinstance(seed, str) and seed == "global"
                                          or isinstance(seed, (int, np.integer)) and seed >= 0):
            raise QCompDeviceError(f"seed must be a non-negative integer, None or 'global', got {seed!r}")
        if isinstance(max_cached_simulators, bool) or not isinstance(max_cached_simulators, int) or max_cached_simulators < 1:
            raise QCompDeviceError(f"max_cached_simulators must be a positive integer, got {max_cached_simulators!r}")
        seed = np.random.randint(0, high=10_000_000) if seed == "global" else seed
        self._rng = np.random.default_rng(seed)
        self._sims = _Simulators(max_cached_simulators)
        # per-row gradients kept by the last execute call for compute_vjp, by tape hash
        self._row_gradients: dict[int, np.ndarray] = {}

    # -- configuration ------------------------------------------------------------------------
    def preprocess_transforms(self, execution_config: ExecutionConfig | None = None):
        config = execution_config or ExecutionConfig()
        program = _Pipeline()
        program.add_transform(qml.defer_measurements, allow_postselect=False)
        fn, args, kwargs = _call_with_supported(
            decompose, stopping_condition=accepts_operation, skip_initial_state_prep=False,
            decomposer=decompose_operation, device_wires=self.wires, target_gates=set(_SUPPORTED_NAMES), name=self.name)
        program.add_transform(fn, *args, **kwargs)
        program.add_transform(validate_device_wires, self.wires, name=self.name)
        program.add_transform(validate_measurements, analytic_measurements=_accepted_analytic,
                              sample_measurements=_accepted_sample, name=self.name)
        if config.gradient_method in _ALLOWED_METHODS:
            program.add_transform(qml.devices.preprocess.no_sampling, name=f"{config.gradient_method} + qcomp.qubit")
            if not config.use_device_jacobian_product:
                program.add_transform(expand_trainable_broadcast)
        return program

    def setup_execution_config(self, config: ExecutionConfig | None = None, circuit: QuantumScript | None = None):
        config = config or ExecutionConfig()
        updated: dict[str, Any] = {}
        method = config.gradient_method
        if method == "best":
            method = updated["gradient_method"] = "adjoint"
        if config.use_device_gradient is None:
            updated["use_device_gradient"] = method in _ALLOWED_METHODS
        if config.use_device_jacobian_product is None:
            # VJPs from one adjoint sweep (and right for broadcast trainable parameters, which a
            # Jacobian contracted by PennyLane would sum over the batch)
            updated["use_device_jacobian_product"] = method in _ALLOWED_METHODS
        if config.grad_on_execution is None:
            # with device VJPs: a tape with one expectation value gets its per-row gradients in
            # the forward call's adjoint sweep, and the VJP is a contraction (no second forward)
            updated["grad_on_execution"] = method in _ALLOWED_METHODS and updated.get(
                "use_device_jacobian_product", config.use_device_jacobian_product)
        mcm = config.mcm_config
        if mcm.mcm_method not in (None, "deferred"):
            raise QCompDeviceError(f"mcm_method {mcm.mcm_method!r} is not supported by qcomp.qubit; use 'deferred'")
        updated["mcm_config"] = replace(mcm, mcm_method="deferred")
        for option in config.device_options:
            raise QCompDeviceError(f"device option {option} is not present on qcomp.qubit")
        return replace(config, **updated)

    # -- execution -------------------------------------------------------------------------
    def execute(self, circuits, execution_config: ExecutionConfig | None = None):
        single = isinstance(circuits, QuantumScript)
        results = self._execute([circuits] if single else list(circuits), execution_config)
        return results[0] if single else results

    def _execute(self, tapes: list[QuantumScript], execution_config: ExecutionConfig | None) -> tuple:
        """Results of a batch of tapes (untracked: the tracking wrappers count the public calls)."""
        results: list = [None] * len(tapes)
        jobs: list[tuple[QuantumScript, Lowered, _Plan]] = []
        where: list[int] = []
        config = execution_config or ExecutionConfig()
        early = (config.grad_on_execution and config.use_device_jacobian_product
                 and config.gradient_method in _ALLOWED_METHODS)
        self._row_gradients = {}
        for i, tape in enumerate(tapes):
            if early and len(tape.measurements) == 1 and tape.trainable_params and _adjoint_ready(tape):
                results[i] = self._execute_with_gradient(tape)
                continue
            tape = tape.map_to_standard_wires()
            if tape.shots:
                results[i] = _shot_results(self, tape, self._rng)
                continue
            low = lower_tape(tape)
            jobs.append((tape, low, _analytic_plan(tape, low.num_qubits)))
            where.append(i)
        for i, r in zip(where, _run_plans(self._sims, jobs)):
            results[i] = r
        return tuple(results)

    def _execute_with_gradient(self, tape: QuantumScript) -> np.ndarray:
        """The value of a one-expectation tape, keeping its per-row gradients for ``compute_vjp``.

        One adjoint sweep with a unit cotangent per row gives the values and the gradient of
        every row (``Simulator.value_and_gradient``; ``value_and_vjp`` would sum the rows of shared params)."""
        mapped, low, sim = _gradient_setup(self, tape)
        P, X = low.args()
        values, grad = (_rows(a, P, X) for a in sim.value_and_gradient(P, X))
        self._row_gradients[tape.hash] = grad[:, 0, :]
        return np.asarray(values[:, 0] if batch_size(tape) is not None else values[0, 0])

    # -- derivatives ------------------------------------------------------------------------
    def supports_derivatives(self, execution_config: ExecutionConfig | None = None, circuit: QuantumScript | None = None) -> bool:
        if execution_config is None:
            return True
        if execution_config.gradient_method not in _ALLOWED_METHODS | {"best"}:
            return False
        if circuit is None:
            return True
        return _adjoint_ready(circuit) and _decomposable(circuit)

    def supports_vjp(self, execution_config=None, circuit=None) -> bool:
        return self.supports_derivatives(execution_config, circuit)

    def supports_jvp(self, execution_config=None, circuit=None) -> bool:
        return self.supports_derivatives(execution_config, circuit)

    def _jacobian(self, tape: QuantumScript) -> np.ndarray:
        tape, low, sim = _gradient_setup(self, tape)
        P, X = low.args()
        grad = _rows(sim.gradient(P, X), P, X)  # (B, n_meas, params), per row
        return grad[:, :, [low.param_cols.index(k) for k in tape.trainable_params]]

    def compute_derivatives(self, circuits, execution_config: ExecutionConfig | None = None):
        single = isinstance(circuits, QuantumScript)
        tapes = [circuits] if single else list(circuits)
        out = tuple(_format_jacobian(self._jacobian(t), batch_size(t) is not None) for t in tapes)
        return out[0] if single else out

    def execute_and_compute_derivatives(self, circuits, execution_config: ExecutionConfig | None = None):
        single = isinstance(circuits, QuantumScript)
        tapes = [circuits] if single else list(circuits)
        results = self._execute(tapes, None)
        jacs = tuple(_format_jacobian(self._jacobian(t), batch_size(t) is not None) for t in tapes)
        return (results[0], jacs[0]) if single else (results, jacs)

    def compute_vjp(self, circuits, cotangents, execution_config: ExecutionConfig | None = None):
        single = isinstance(circuits, QuantumScript)
        tapes = [circuits] if single else list(circuits)
        cots = [cotangents] if single else list(cotangents)
        saved = self._row_gradients
        if not all(t.hash in saved for t in tapes):
            return self.execute_and_compute_vjp(circuits, cotangents, execution_config)[1]
        vjps = []
        for tape, cot in zip(tapes, cots):
            mapped, low, _ = _gradient_setup(self, tape)
            rows = saved[tape.hash]  # (B, params): one output, so the cotangent scales each row
            c = _cotangent_rows(mapped, cot, rows.shape[0])[:, 0]
            vjps.append(_vjp_of_trainable(mapped, low, rows * c[:, None]))
        return vjps[0] if single else tuple(vjps)

    def execute_and_compute_vjp(self, circuits, cotangents, execution_config: ExecutionConfig | None = None):
        single = isinstance(circuits, QuantumScript)
        tapes = [circuits] if single else list(circuits)
        cots = [cotangents] if single else list(cotangents)
        results, vjps = [], []
        for tape, cot in zip(tapes, cots):
            mapped, low, sim = _gradient_setup(self, tape)
            c = _cotangent_rows(mapped, cot, low.batch_size or 1)
            P, X = low.args()
            values, g = sim.value_and_vjp(P, X, lambda v, sl, c=c: c[sl])
            values = _rows(values, P, X)
            vjps.append(_vjp_of_trainable(mapped, low, g))
            batched = batch_size(tape) is not None
            vals = [np.asarray(values[:, m] if batched else values[0, m]) for m in range(values.shape[1])]
            results.append(vals[0] if len(vals) == 1 else tuple(vals))
        if single:
            return results[0], vjps[0]
        return tuple(results), tuple(vjps)

    def compute_jvp(self, circuits, tangents, execution_config: ExecutionConfig | None = None):
        return self.execute_and_compute_jvp(circuits, tangents, execution_config)[1]

    def execute_and_compute_jvp(self, circuits, tangents, execution_config: ExecutionConfig | None = None):
        single = isinstance(circuits, QuantumScript)
        tapes = [circuits] if single else list(circuits)
        tans = [tangents] if single else list(tangents)
        results = self._execute(tapes, None)  # values only: the Jacobian below takes its own sweeps
        jvps = []
        for tape, tan in zip(tapes, tans):
            grad = self._jacobian(tape)  # (B, n_meas, n_train)
            B = grad.shape[0]
            t = np.stack([np.broadcast_to(np.asarray(qml.math.unwrap(x), dtype=float), (B,)) for x in tan], axis=1) \
                if len(tan) else np.zeros((B, 0))
            j = np.einsum("bmk,bk->bm", grad, t)
            batched = batch_size(tape) is not None
            vals = [np.asarray(j[:, m] if batched else j[0, m]) for m in range(j.shape[1])]
            jvps.append(vals[0] if len(vals) == 1 else tuple(vals))
        if single:
            return results[0], jvps[0]
        return results, tuple(jvps)


def _decomposable(circuit: QuantumScript) -> bool:
    """Whether every operation runs as is or decomposes (adjoint needs no other restriction: each
    qcomp gate angle is an expression of the parameters, differentiated by the simulator)."""
    try:
        decompose(circuit, stopping_condition=accepts_operation, skip_initial_state_prep=False,
                  decomposer=decompose_operation)
    except Exception:  # noqa: BLE001 - any failure to decompose means no device derivatives
        return False
    return True


def _accepted_analytic(m: MeasurementProcess) -> bool:
    if not isinstance(m, StateMeasurement):
        return False
    if m.obs is None:
        return True
    return _pauli_sentence(m.obs) is not None or m.obs.has_matrix


def _accepted_sample(m: MeasurementProcess) -> bool:
    if not isinstance(m, SampleMeasurement):
        return False
    if m.obs is None:
        return True
    return _pauli_sentence(m.obs) is not None or m.obs.has_diagonalizing_gates


__all__ = ["MAX_UNITARY_WIRES", "QCompQubit", "QCompDeviceError", "accepts_operation", "decompose_operation", "lower_tape", "Lowered"]
