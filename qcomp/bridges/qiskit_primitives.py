"""Qiskit primitives on qcomp's simulator: ``EstimatorV2`` and ``SamplerV2`` (public name ``qcomp.qiskit``).

Each PUB's circuit is converted once (``from_qiskit``, cached by the circuit's structure) and all of
its parameter-value rows run as one batched simulation; the results broadcast exactly as Qiskit's
``StatevectorEstimator`` / ``StatevectorSampler`` do (ObservablesArray and BindingsArray shapes).
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from typing import Any, Iterable, Mapping

import numpy as np
from qiskit.primitives import (
    BaseEstimatorV2,
    BaseSamplerV2,
    BitArray,
    DataBin,
    PrimitiveResult,
    PubResult,
    SamplerPubResult,
)
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.primitives.primitive_job import PrimitiveJob

from ..api import Model
from ..errors import InputError, QCompError, UnsupportedError
from ..ir.circuit import Circuit
from ..ir.expr import Sym
from ..ir.ops import Observable, PauliTerm, ValueDecl
from ..ir.program import Program
from .qiskit_import import QiskitImport, _standard, convert, observable_from_qiskit

# EstimatorGradient (qiskit-machine-learning) is built on first access, so it is not in __all__
__all__ = ["EstimatorV2", "SamplerV2", "ObservableError", "circuit_key"]

DEFAULT_SHOTS = 1024


def _value_key(v: Any) -> Any:
    from qiskit.circuit import ParameterExpression

    if isinstance(v, ParameterExpression):
        return ("expr", str(v))
    if isinstance(v, np.ndarray):
        return ("array", v.shape, v.tobytes())
    try:
        return ("num", complex(v))
    except (TypeError, ValueError):
        return ("obj", repr(v))


def circuit_key(circuit: Any) -> tuple[tuple, list[Any]]:
    """A hashable key of what ``from_qiskit`` reads from ``circuit`` (registers, parameters, every
    instruction with its qubits, clbits and parameters), and the non-standard operations the key
    names by identity (the cache keeps them alive, so an id is never reused while cached)."""
    alive: list[Any] = []
    insts = []
    for inst in circuit.data:
        op = inst.operation
        if _standard(op) or op.name in ("measure", "reset", "barrier"):
            ident: Any = op.name
        else:
            ident = (op.name, id(op))
            alive.append(op)
        insts.append((ident, tuple(circuit.find_bit(q).index for q in inst.qubits),
                      tuple(circuit.find_bit(c).index for c in inst.clbits), tuple(_value_key(p) for p in op.params)))
    key = (circuit.num_qubits, tuple((r.name, r.size) for r in circuit.qregs),
           tuple((r.name, r.size) for r in circuit.cregs), tuple(p.name for p in circuit.parameters), tuple(insts))
    return key, alive


class _Converted:
    """One converted circuit and its simulators (one per set of observables, LRU)."""

    MAX_SIMULATORS = 16

    def __init__(self, imp: QiskitImport, alive: list[Any], optimize: int, options: Mapping[str, Any]) -> None:
        self.imp = imp
        self._alive = alive
        self._optimize = optimize
        self._options = dict(options)
        self._sims: OrderedDict[tuple[Observable, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def simulator(self, observables: tuple[Observable, ...] = ()) -> Any:
        with self._lock:
            return self._simulator(observables)

    def _simulator(self, observables: tuple[Observable, ...]) -> Any:
        sim = self._sims.get(observables)
        if sim is None:
            program = self.imp.program
            program = program.with_circuit(program.circuit, observables=observables)
            sim = self._sims[observables] = Model(program, self._optimize).simulator(**self._options)
            while len(self._sims) > self.MAX_SIMULATORS:
                self._sims.popitem(last=False)
        else:
            self._sims.move_to_end(observables)
        return sim

    def rows(self, bindings: Any) -> np.ndarray:
        """The BindingsArray's values as (N, P) rows in qcomp's flat param order (circuit.parameters)."""
        n = int(np.prod(bindings.shape, dtype=int))
        if not self.imp.parameters:
            return np.zeros((n, 0))
        return np.asarray(bindings.as_array(self.imp.parameters), dtype=float).reshape(n, len(self.imp.parameters))

    def _split_simulator(self, observables: tuple[Observable, ...], varying: tuple[bool, ...]) -> Any:
        """The simulator of the program whose varying columns are inputs and the others params."""
        key = ("split", observables, varying)
        with self._lock:
            sim = self._sims.get(key)
            if sim is None:
                sim = self._sims[key] = Model(_split_program(self.imp.program, observables, varying),
                                              self._optimize).simulator(**self._options)
                while len(self._sims) > self.MAX_SIMULATORS:
                    self._sims.popitem(last=False)
            else:
                self._sims.move_to_end(key)
            return sim

    @staticmethod
    def _varying(rows: np.ndarray) -> tuple[bool, ...] | None:
        """Which columns differ between rows, or None when all do (or there is one row): a PUB gives
        every row all parameters, but the simulator is fastest when values shared by every row
        (a QNN's weights) are params of one row and only the rest vary per row (its inputs)."""
        if rows.shape[0] < 2:
            return None
        varying = tuple(bool(v) for v in np.any(rows != rows[:1], axis=0))
        return None if all(varying) else varying

    def expvals(self, observables: tuple[Observable, ...], rows: np.ndarray) -> np.ndarray:
        """(N, K) expectation values of ``observables`` for every row, one batched simulation."""
        N = rows.shape[0]
        varying = self._varying(rows) if rows.shape[1] else None
        if varying is not None:
            mask = np.array(varying)
            sim = self._split_simulator(observables, varying)
            if not mask.any():
                return np.broadcast_to(np.asarray(sim.expval(rows[0])), (N, len(observables)))
            shared = rows[0, ~mask]
            return np.asarray(sim.expval(shared if shared.size else None, rows[:, mask]))
        sim = self.simulator(observables)
        if rows.shape[1] == 0:
            return np.broadcast_to(np.asarray(sim.expval(None)), (N, len(observables)))
        return np.asarray(sim.expval(rows))

    def gradients(self, observables: tuple[Observable, ...], rows: np.ndarray,
                  wanted: Iterable[int] | None = None) -> np.ndarray:
        """(N, K, P) adjoint gradients of ``observables`` for every row, one batched adjoint sweep.
        When every ``wanted`` column is shared by all rows, only those columns are filled (the
        adjoint differentiates params; the varying columns are then inputs)."""
        varying = self._varying(rows)
        wanted = list(range(rows.shape[1])) if wanted is None else list(wanted)
        if varying is not None and not any(varying[k] for k in wanted):
            mask = np.array(varying)
            sim = self._split_simulator(observables, varying)
            shared = rows[0, ~mask]
            g = sim.gradient(shared, rows[:, mask]) if mask.any() else sim.gradient(shared[None])
            out = np.zeros((rows.shape[0], len(observables), rows.shape[1]))
            out[:, :, np.flatnonzero(~mask)] = np.asarray(g).reshape(-1, len(observables), int((~mask).sum()))
            return out
        return np.asarray(self.simulator(observables).gradient(rows))


def _split_program(program: Program, observables: tuple[Observable, ...], varying: tuple[bool, ...]) -> Program:
    """``program`` with flat param k an input where ``varying[k]``, a param otherwise (scalar
    declarations ``c<k>``, in column order within each kind)."""
    mapping: dict[Sym, Sym] = {}
    params: list[ValueDecl] = []
    inputs: list[ValueDecl] = []
    for k, sym in enumerate(program.param_symbols()):
        decls = inputs if varying[k] else params
        decl = ValueDecl("input" if varying[k] else "param", f"c{k}", 1, len(decls), scalar=True)
        decls.append(decl)
        mapping[sym] = decl.symbol(0)
    ops = [op.with_angles([a.subs(mapping) for a in op.angles]) if op.angles else op for op in program.circuit.ops()]
    return Program(Circuit.from_ops(program.num_qubits, ops, checked=True), program.registers, params=tuple(params),
                   inputs=tuple(inputs), observables=observables, measured=program.measured,
                   source_name=program.source_name)


class _Cache:
    """Converted circuits by structure (LRU): a circuit given again, or an equal copy, converts once."""

    def __init__(self, optimize: int, options: Mapping[str, Any], size: int = 64) -> None:
        self.optimize, self.options, self.size = optimize, dict(options), size
        self._items: OrderedDict[tuple, _Converted] = OrderedDict()
        # jobs run on PrimitiveJob's worker threads: two jobs may look up the same circuit at once
        self._lock = threading.Lock()

    def get(self, circuit: Any) -> _Converted:
        key, alive = circuit_key(circuit)
        with self._lock:
            item = self._items.get(key)
            if item is None:
                imp = convert(circuit)
                if imp.program.bits:
                    # the primitives report final measurements per classical register; a bit written
                    # mid-circuit has no such value in qcomp's outputs
                    raise UnsupportedError("the qcomp primitives run circuits whose measurements are final; this one "
                                           "has mid-circuit measurements, resets or conditions: simulate it with "
                                           "qcomp.Model(qcomp.from_qiskit(circuit)).simulator()")
                item = self._items[key] = _Converted(imp, alive, self.optimize, self.options)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
            else:
                self._items.move_to_end(key)
            return item


def _check_options(optimize: int, seed: Any, simulator_options: Mapping[str, Any] | None) -> dict[str, Any]:
    if isinstance(optimize, bool) or optimize not in (0, 1, 2, 3):
        raise InputError(f"optimize must be 0, 1, 2 or 3, got {optimize!r}")
    if seed is not None and not isinstance(seed, (int, np.integer, np.random.Generator)) or isinstance(seed, bool):
        raise InputError(f"seed must be an integer, a numpy Generator or None, got {seed!r}")
    from ..api import _check_simulator_options

    options = dict(simulator_options or {})
    _check_simulator_options(options)
    return options


class ObservableError(UnsupportedError, ValueError):
    """An observable qcomp cannot estimate (complex coefficients, non-Pauli terms): a qcomp error
    that is also the ValueError Qiskit's primitives raise for it."""


def _unique_observables(obs_array: Any, num_qubits: int) -> tuple[tuple[Observable, ...], np.ndarray]:
    """The distinct observables of an ObservablesArray and the index of each element's one."""
    found: dict[Observable, int] = {}
    index = np.zeros(obs_array.shape, dtype=np.intp)
    for pos in np.ndindex(*obs_array.shape):
        try:
            o = observable_from_qiskit(obs_array[pos], num_qubits)
        except QCompError as err:
            raise ObservableError(err.message) from None
        index[pos] = found.setdefault(o, len(found))
    return tuple(found), index


class EstimatorV2(BaseEstimatorV2):
    """Qiskit's ``BaseEstimatorV2`` on qcomp's batched simulator.

    ``default_precision`` 0 (as ``StatevectorEstimator``) gives exact expectation values with
    ``stds`` 0. A precision ``p > 0`` (per PUB or per run) estimates each Pauli term of an
    observable from ``ceil(1 / p**2)`` simulated shots (binomial draws from the exact term
    expectation, ``seed`` for reproducibility) and reports the estimate's standard error in
    ``stds``. ``optimize`` is qcomp's pass level; ``simulator_options`` go to the simulator
    (precision, threads, batch_size, ...).
    """

    def __init__(self, *, default_precision: float = 0.0, seed: int | np.random.Generator | None = None,
                 optimize: int = 2, simulator_options: Mapping[str, Any] | None = None) -> None:
        options = _check_options(optimize, seed, simulator_options)
        if not isinstance(default_precision, (int, float, np.floating, np.integer)) or default_precision < 0:
            raise InputError(f"default_precision must be a non-negative number, got {default_precision!r}")
        self._default_precision = float(default_precision)
        self._seed = seed
        self._cache = _Cache(optimize, options)

    @property
    def default_precision(self) -> float:
        return self._default_precision

    @property
    def seed(self) -> int | np.random.Generator | None:
        return self._seed

    def run(self, pubs: Iterable[Any], *, precision: float | None = None) -> PrimitiveJob:
        if precision is None:
            precision = self._default_precision
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        job = PrimitiveJob(self._run, coerced)
        job._submit()
        return job

    def _run(self, pubs: list[EstimatorPub]) -> PrimitiveResult:
        # a generator per PUB from the seed, as StatevectorEstimator: equal PUBs give equal results
        return PrimitiveResult([self._run_pub(pub, np.random.default_rng(self._seed)) for pub in pubs],
                               metadata={"version": 2})

    def _run_pub(self, pub: EstimatorPub, rng: np.random.Generator) -> PubResult:
        conv = self._cache.get(pub.circuit)
        n = pub.circuit.num_qubits
        observables, obs_index = _unique_observables(pub.observables, n)
        rows = conv.rows(pub.parameter_values)
        shape = pub.shape
        row_index = np.broadcast_to(np.arange(rows.shape[0]).reshape(pub.parameter_values.shape), shape)
        obs_index = np.broadcast_to(obs_index, shape)
        precision = pub.precision
        metadata: dict[str, Any] = {"target_precision": precision, "circuit_metadata": pub.circuit.metadata}
        if not precision:
            values = conv.expvals(observables, rows)
            evs = np.array(values[row_index, obs_index], dtype=np.float64)
            stds = np.zeros(shape)
        else:
            shots = max(1, math.ceil(1.0 / precision ** 2))
            evs, stds = _sampled(conv, observables, rows, row_index, obs_index, shots, rng)
            metadata["shots"] = shots
        return PubResult(DataBin(evs=evs, stds=stds, shape=shape), metadata=metadata)


def _sampled(conv: _Converted, observables: tuple[Observable, ...], rows: np.ndarray, row_index: np.ndarray,
             obs_index: np.ndarray, shots: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shot estimates: every Pauli term measured ``shots`` times (a binomial draw from its exact
    expectation), summed with its coefficient; the standard error from the sampled variances."""
    words: dict[tuple, int] = {}
    for o in observables:
        for t in o.terms:
            if t.paulis:
                words.setdefault(t.paulis, len(words))
    term_obs = tuple(Observable((PauliTerm(1.0, w),)) for w in words)
    exact = conv.expvals(term_obs, rows) if term_obs else np.zeros((rows.shape[0], 0))
    evs = np.zeros(row_index.shape)
    var = np.zeros(row_index.shape)
    for k, o in enumerate(observables):
        where = obs_index == k
        b = row_index[where]
        ev = np.zeros(b.shape)
        vk = np.zeros(b.shape)
        for t in o.terms:
            if not t.paulis:
                ev += t.coeff
                continue
            m = np.clip(exact[b, words[t.paulis]], -1.0, 1.0)
            est = 2.0 * rng.binomial(shots, (1.0 + m) / 2.0) / shots - 1.0
            ev += t.coeff * est
            vk += t.coeff ** 2 * (1.0 - est ** 2) / shots
        evs[where] = ev
        var[where] = vk
    return evs, np.sqrt(var)


class SamplerV2(BaseSamplerV2):
    """Qiskit's ``BaseSamplerV2`` on qcomp's batched simulator: a ``BitArray`` per classical
    register (as ``StatevectorSampler``: bits never measured read 0), ``shots`` per PUB
    (``default_shots`` otherwise), reproducible with ``seed``. Only final measurements."""

    def __init__(self, *, default_shots: int = DEFAULT_SHOTS, seed: int | np.random.Generator | None = None,
                 optimize: int = 2, simulator_options: Mapping[str, Any] | None = None) -> None:
        options = _check_options(optimize, seed, simulator_options)
        if not isinstance(default_shots, (int, np.integer)) or isinstance(default_shots, bool) or default_shots < 1:
            raise InputError(f"default_shots must be a positive integer, got {default_shots!r}")
        self._default_shots = int(default_shots)
        self._seed = seed
        self._cache = _Cache(optimize, options)

    @property
    def default_shots(self) -> int:
        return self._default_shots

    @property
    def seed(self) -> int | np.random.Generator | None:
        return self._seed

    def run(self, pubs: Iterable[Any], *, shots: int | None = None) -> PrimitiveJob:
        if shots is None:
            shots = self._default_shots
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        job = PrimitiveJob(self._run, coerced)
        job._submit()
        return job

    def _run(self, pubs: list[SamplerPub]) -> PrimitiveResult:
        return PrimitiveResult([self._run_pub(pub, np.random.default_rng(self._seed)) for pub in pubs],
                               metadata={"version": 2})

    def _run_pub(self, pub: SamplerPub, rng: np.random.Generator) -> SamplerPubResult:
        conv = self._cache.get(pub.circuit)
        shots = int(pub.shots)
        rows = conv.rows(pub.parameter_values)
        N = rows.shape[0]
        qs = sorted({q for _, _, bits in conv.imp.clbits for q in bits if q is not None})
        if qs:
            sim = conv.simulator(())
            probs = np.asarray(sim.probs(rows if rows.shape[1] else None, qubits=qs), dtype=np.float64)
            probs = np.broadcast_to(probs.reshape(-1, 2 ** len(qs)), (N, 2 ** len(qs)))
            outcomes = np.empty((N, shots), dtype=np.int64)
            for b in range(N):
                cdf = np.cumsum(np.clip(probs[b], 0.0, None))
                outcomes[b] = np.minimum(np.searchsorted(cdf, rng.random(shots) * cdf[-1], side="right"), cdf.size - 1)
        else:
            outcomes = np.zeros((N, shots), dtype=np.int64)
        pos = {q: j for j, q in enumerate(qs)}
        data = {}
        for name, size, bits in conv.imp.clbits:
            arr = np.zeros((N, shots, size), dtype=bool)
            for i, q in enumerate(bits):
                if q is not None:
                    arr[:, :, i] = (outcomes >> pos[q]) & 1
            data[name] = BitArray.from_bool_array(arr.reshape(pub.shape + (shots, size)), order="little")
        return SamplerPubResult(DataBin(**data, shape=pub.shape),
                                metadata={"shots": shots, "circuit_metadata": pub.circuit.metadata})


@functools.cache
def _estimator_gradient_class() -> type:
    # built on first use: qiskit-machine-learning is optional and only this class needs it
    from qiskit.providers import Options

    try:
        from qiskit_machine_learning.gradients import BaseEstimatorGradient, EstimatorGradientResult
    except ImportError as exc:
        raise ImportError(f"qcomp.qiskit.EstimatorGradient needs qiskit-machine-learning "
                          f"('pip install qiskit-machine-learning'): {exc}") from None

    class EstimatorGradient(BaseEstimatorGradient):
        """qiskit-machine-learning's ``BaseEstimatorGradient`` by qcomp's adjoint method, for
        ``EstimatorQNN(gradient=...)``: all (circuit, observable, values) requests on one circuit
        run as one batched adjoint sweep of qcomp's simulator, instead of the 2P shifted Estimator
        calls per sample of ``ParamShiftEstimatorGradient``.

        ``estimator``: the qcomp ``EstimatorV2`` whose converted circuits are shared (default: a
        new one). Gradients are exact whatever precision the estimator uses for values.
        """

        def __init__(self, estimator: EstimatorV2 | None = None, options: Options | None = None) -> None:
            if estimator is None:
                estimator = EstimatorV2()
            if not isinstance(estimator, EstimatorV2):
                raise InputError(f"EstimatorGradient needs a qcomp.qiskit.EstimatorV2, got {type(estimator).__name__}")
            super().__init__(estimator, options)

        def _run(self, circuits, observables, parameter_values, parameters, **options) -> EstimatorGradientResult:
            cache: _Cache = self._estimator._cache  # type: ignore[attr-defined]
            groups: dict[int, tuple[_Converted, list[int]]] = {}
            for i, circuit in enumerate(circuits):
                conv = cache.get(circuit)
                groups.setdefault(id(conv), (conv, []))[1].append(i)
            gradients: list[np.ndarray] = [np.zeros(0)] * len(circuits)
            for conv, idx in groups.values():
                n = conv.imp.program.num_qubits
                found: dict[Observable, int] = {}
                which = [found.setdefault(observable_from_qiskit(observables[i], n), len(found)) for i in idx]
                rows = np.array([np.asarray(parameter_values[i], dtype=float) for i in idx]).reshape(len(idx), -1)
                # by name: an equal circuit built anew shares the cached conversion but not the
                # Parameter objects (names are unique within a circuit)
                position = {p.name: k for k, p in enumerate(conv.imp.parameters)}
                wanted = sorted({position[p.name] for i in idx for p in parameters[i]})
                grad = conv.gradients(tuple(found), rows, wanted)  # (rows, K, P), circuit.parameters order
                for j, i in enumerate(idx):
                    cols = [position[p.name] for p in parameters[i]]
                    gradients[i] = np.asarray(grad[j, which[j], cols], dtype=float)
            metadata = [{"parameters": parameters[i]} for i in range(len(circuits))]
            return EstimatorGradientResult(gradients=gradients, metadata=metadata, options=Options(**options))

    EstimatorGradient.__module__ = __name__
    return EstimatorGradient


def __getattr__(name: str) -> Any:
    if name == "EstimatorGradient":
        return _estimator_gradient_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
