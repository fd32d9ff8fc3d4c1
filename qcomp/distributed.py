"""Dask-distributed simulation: shard batch rows across workers, ship the compiled program once per worker."""

from __future__ import annotations

import hashlib
import logging
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .errors import InputError, QCompError
from .ir.program import Program
from .ir.values import bind_values, check_cotangent

try:  # the plugin base class; without distributed the executor raises DistributedError instead
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPlugin
except ImportError:  # pragma: no cover
    _WorkerPlugin = object

__all__ = ["DaskExecutor", "DistributedError", "DistributedSimulator", "worker_stats"]

DEFAULT_TIMEOUT = 10.0
TASK_RETRIES = 2  # a shard whose task raised (not a user error) is rerun up to this many times


class DistributedError(QCompError):
    """The Dask cluster cannot be used: missing package, unreachable scheduler, no workers."""


def _require_distributed():
    try:
        import distributed
    except ImportError:
        raise DistributedError("distributed execution needs dask and distributed: "
                               "pip install 'qcomp[distributed]'") from None
    return distributed


def _local_security(distributed: Any) -> Any:
    """Fresh TLS credentials for a local cluster: a self-signed CA and one key pair shared by the
    scheduler, workers and this client, with encryption required. Any process on the machine can
    reach a loopback port; without the key it cannot complete the mutual TLS handshake, so it
    cannot submit work (Dask workers run whatever functions clients send them)."""
    try:
        return distributed.security.Security.temporary()
    except ImportError:
        raise DistributedError("a local Dask cluster is started with TLS credentials, which needs the "
                               "cryptography package: pip install 'qcomp[distributed]'") from None


class DaskExecutor:
    """A Dask client: connected to ``address`` (``tls://host:8786``) or to a new local cluster.

    Without ``address`` a ``distributed.LocalCluster`` of ``n_workers`` worker processes (one
    thread each; default: the number of CPUs) is started on 127.0.0.1 with TLS and credentials
    generated for this executor only (``security`` overrides them), and shut down by
    :meth:`close` or at the end of a ``with`` block. With ``address`` the connection must succeed
    within ``timeout`` seconds, else :class:`DistributedError` is raised; ``security`` (a
    ``distributed.security.Security``) holds the client's certificates for a TLS scheduler.
    """

    def __init__(self, address: str | None = None, n_workers: int | None = None,
                 timeout: float = DEFAULT_TIMEOUT, *, security: Any = None) -> None:
        distributed = _require_distributed()
        if security is not None and not isinstance(security, distributed.security.Security):
            raise DistributedError(f"security must be a distributed.security.Security, got {type(security).__name__}")
        if timeout is None or not timeout > 0:
            raise DistributedError(f"timeout must be a positive number of seconds, got {timeout}")
        if n_workers is not None and (not isinstance(n_workers, (int, np.integer)) or n_workers < 1):
            raise DistributedError(f"n_workers must be a positive integer, got {n_workers!r}")
        self.address = address
        self.timeout = float(timeout)
        self.cluster = None
        self.client = None
        if address is None:
            import os

            n = int(n_workers) if n_workers is not None else (os.cpu_count() or 1)
            security = security if security is not None else _local_security(distributed)
            try:
                self.cluster = distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                    protocol="tls://", security=security,
                    dashboard_address=None, silence_logs=logging.ERROR,
                    # no dashboard, and its HTTP server on a free port (not a clash on 8787)
                    scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
                self.client = distributed.Client(self.cluster, timeout=self.timeout, security=security)
            except Exception as exc:
                self.close()
                raise DistributedError(f"cannot start a local Dask cluster of {n} worker(s): {exc}") from None
        else:
            if not isinstance(address, str) or not address.strip():
                raise DistributedError(f"scheduler address must be a string like tcp://host:8786, got {address!r}")
            try:
                self.client = distributed.Client(address, timeout=self.timeout, security=security)
            except (OSError, TimeoutError, ValueError) as exc:
                raise DistributedError(f"cannot reach the Dask scheduler at {address} within "
                                       f"{self.timeout:g} s: {exc}") from None
            if n_workers is not None:
                try:
                    self.client.wait_for_workers(int(n_workers), timeout=self.timeout)
                except (OSError, TimeoutError) as exc:
                    self.close()
                    raise DistributedError(f"the scheduler at {address} did not get {n_workers} worker(s) "
                                           f"within {self.timeout:g} s: {exc}") from None
        self._programs: dict[str, str] = {}  # program key -> name of its worker plugin
        self._lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        """Close the client and, when this executor started it, the local cluster."""
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        if client is not None and cluster is None:
            # a shared cluster outlives this client: take our programs off its workers
            for name in getattr(self, "_programs", {}).values():
                try:
                    client.unregister_worker_plugin(name)
                except Exception:  # best effort: the scheduler may be gone
                    pass
        if client is not None:
            try:
                client.close()
            except Exception:  # closing is best effort: the cluster may already be gone
                pass
        if cluster is not None:
            try:
                cluster.close()
            except Exception:
                pass

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _check_open(self):
        if self.client is None:
            raise DistributedError("the DaskExecutor is closed")
        return self.client

    @property
    def n_workers(self) -> int:
        """Number of workers the scheduler currently knows."""
        return len(self._check_open().nthreads())

    @property
    def n_threads(self) -> int:
        """Total worker threads: the default number of shards per call."""
        return sum(self._check_open().nthreads().values())

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> process id (used by tests and for diagnostics)."""
        import os

        return self._check_open().run(os.getpid)

    # -- program shipping --------------------------------------------------------------------
    def ship_program(self, blob: bytes, key: str) -> None:
        """Install the pickled program on every worker once, and on workers that join later.

        A worker plugin, not a scattered future: Dask's active memory manager drops "extra"
        replicas of scattered data, which would make workers fetch the program again per call,
        and a worker restarted after a crash runs the plugin at start-up.
        """
        client = self._check_open()
        with self._lock:
            if key in self._programs:
                return
            plugin = _ProgramPlugin(key, blob)
            if hasattr(client, "register_plugin"):
                client.register_plugin(plugin, name=plugin.name)
            else:  # distributed < 2023.9
                client.register_worker_plugin(plugin, name=plugin.name)
            self._programs[key] = plugin.name

    def map_shards(self, fn, shards: list[tuple]) -> list[Any]:
        """Run ``fn(*shard)`` for every shard, one pure task each; results in shard order.

        A shard whose worker dies is recomputed elsewhere by the scheduler; one whose task raised
        is retried ``TASK_RETRIES`` times. Each result comes from exactly one completed task.
        """
        from distributed import KilledWorker

        client = self._check_open()
        # one client.map: all shards reach the scheduler in one message
        futures = client.map(fn, *zip(*shards), pure=True, retries=TASK_RETRIES)
        try:
            return client.gather(futures)
        except KilledWorker as exc:
            raise DistributedError(f"a shard was lost with every worker that ran it ({exc}); "
                                   "the workers may be running out of memory") from None
        finally:
            for f in futures:
                f.release()

    def __repr__(self) -> str:
        where = self.address or ("local cluster" if self.cluster is not None else "closed")
        return f"DaskExecutor({where})"


# -- worker side ---------------------------------------------------------------------------------

# Per worker process: program key -> pickled Program (installed by _ProgramPlugin), and
# simulator key -> Simulator, so plans are built once per worker, not per task.
_PROGRAMS: dict[str, bytes] = {}
_SIMULATORS: OrderedDict[str, Any] = OrderedDict()
_MAX_SIMULATORS = 8
_STATS = {"shipped": 0, "builds": 0, "tasks": 0}
_SIM_LOCK = threading.Lock()
_PROGRAM_LOCK = threading.Lock()


class _ProgramPlugin(_WorkerPlugin):
    """Carries one pickled program to each worker (at registration, or when a worker starts)."""

    def __init__(self, key: str, blob: bytes) -> None:
        self.key, self.blob, self.name = key, blob, f"qcomp-program-{key}"

    def setup(self, worker: Any = None) -> None:
        with _PROGRAM_LOCK:
            if self.key not in _PROGRAMS:
                _PROGRAMS[self.key] = self.blob
                _STATS["shipped"] += 1

    def teardown(self, worker: Any = None) -> None:
        # the plugin was unregistered (executor closed): drop the program and its simulators
        with _PROGRAM_LOCK:
            _PROGRAMS.pop(self.key, None)
        with _SIM_LOCK:
            for k in [k for k in _SIMULATORS if k.startswith(self.key + ":")]:
                del _SIMULATORS[k]


def worker_stats() -> dict[str, int]:
    """This process's counts of programs received, Simulators built and shard tasks run."""
    return dict(_STATS)


def _worker_simulator(program_key: str, key: str, options: dict[str, Any]):
    with _SIM_LOCK:
        sim = _SIMULATORS.get(key)
        if sim is None:
            from .backends.simulator import Simulator
            from .gradients import GradientMethods

            class WorkerSimulator(GradientMethods, Simulator):
                """The worker's simulator: every gradient method, like ``model.simulator()``."""

            with _PROGRAM_LOCK:
                blob = _PROGRAMS.get(program_key)
            if blob is None:
                raise DistributedError(f"this worker has not received program {program_key}; "
                                       "is qcomp the same version on the client and the workers?")
            sim = WorkerSimulator(pickle.loads(blob), **options)
            _STATS["builds"] += 1
            _SIMULATORS[key] = sim
            while len(_SIMULATORS) > _MAX_SIMULATORS:
                _SIMULATORS.popitem(last=False)
        else:
            _SIMULATORS.move_to_end(key)
        return sim


def _call(sim, method: str, args: tuple, kwargs: dict[str, Any]):
    return getattr(sim, method)(*args, **kwargs)


def _shard_task(program_key: str, key: str, options: dict[str, Any], method: str, args: tuple,
                kwargs: dict[str, Any]):
    """One shard on a worker: a pure function of its arguments, so Dask may rerun it anywhere."""
    _STATS["tasks"] += 1
    try:
        sim = _worker_simulator(program_key, key, options)
        return ("ok", _call(sim, method, args, kwargs))
    except QCompError as exc:
        # user errors travel as data: not retried, and re-raised locally with their own class
        return ("error", type(exc), exc.message, exc.span, exc.notes)


# -- client side ---------------------------------------------------------------------------------


def _batched_rows(value: Any, decls, kind: str) -> int:
    """Rows of ``value`` along the batch axis (1 when shared by all rows), as the binder reads it."""
    return bind_values(decls, value, kind, allow_none=True)[0].shape[0]


def _check_array(value: Any, decls, kind: str, names) -> None:
    """Every form of ``value`` bound here (:mod:`qcomp.ir.values`), so that messages name rows of
    the whole batch, not of a worker's shard. ``names`` are the element names (the binder's own)."""
    bind_values(decls, value, kind)


def _take(value: Any, decls, B: int, sl: slice) -> Any:
    """Rows ``sl`` of ``value`` bound to a (rows, n) array; a value shared by all rows is passed as
    given, so each shard's results (a vjp's shape follows the params') are shaped as a local call's."""
    if value is None or B == 1:
        return value
    arr, _ = bind_values(decls, value, decls[0].kind if decls else "param")
    return arr[sl] if arr.shape[0] == B else value


def _slices(B: int, n: int) -> list[slice]:
    """``n`` contiguous, nearly equal, non-empty row ranges covering 0..B."""
    n = max(1, min(n, B))
    bounds = [B * i // n for i in range(n + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(n)]


class _ShardCotangent:
    """``value_and_vjp``'s cotangent function for one shard: a worker's Simulator numbers rows from
    the shard's start, the caller's function from the start of the whole batch."""

    def __init__(self, fn: Callable[[np.ndarray, slice], np.ndarray], start: int) -> None:
        self.fn, self.start = fn, start

    def __call__(self, values: np.ndarray, rows: slice) -> np.ndarray:
        return self.fn(values, slice(rows.start + self.start, rows.stop + self.start))


class DistributedSimulator:
    """The :class:`~qcomp.backends.simulator.Simulator` API, with batch rows sharded across Dask workers.

    It implements :class:`~qcomp.backends.interface.SimulatorLike` (the test suite checks every
    Simulator method is here with the same parameters). Every call splits the batch (rows of params
    and/or inputs) into contiguous shards, one task per shard, and gathers the results in order;
    ``vjp`` and ``value_and_vjp`` sum the shard gradients. ``sample`` is one task: its counts come
    from one generator in row order, so a seed gives the counts of ``Simulator.sample`` whatever the
    number of workers. The plan and memory methods answer from a Simulator in this process with the
    workers' options (plans are a function of the program and options).

    The pickled program is shipped to all workers once; each worker builds and caches its Simulator
    (and its kernel plans) on first use. Results equal the single-process simulator's to rounding
    (1e-12). ``shards`` fixes the number of shards per call (default: the number of worker
    threads); simulator options are passed to each worker's Simulator, with ``threads=1`` unless
    given (one worker process per core).
    """

    def __init__(self, program_or_model: Any, executor: DaskExecutor, *, shards: int | None = None,
                 **simulator_options: Any) -> None:
        program = program_or_model.optimized("sim") if hasattr(program_or_model, "optimized") else program_or_model
        if not isinstance(program, Program):
            raise QCompError(f"DistributedSimulator needs a Program or a Model, got {type(program_or_model).__name__}")
        if not isinstance(executor, DaskExecutor):
            raise QCompError(f"executor must be a qcomp.distributed.DaskExecutor, got {type(executor).__name__}")
        if shards is not None and (not isinstance(shards, (int, np.integer)) or shards < 1):
            raise QCompError(f"shards must be a positive integer, got {shards!r}")
        options = dict(simulator_options)
        options.setdefault("threads", 1)
        from .backends.simulator import Simulator

        # validates the options here, not on every worker (cheap: plans are built lazily), and
        # answers plan(), memory_plan() and describe()
        self._local = Simulator(program, **options)
        self.program = program
        self.executor = executor
        self.shards = shards
        self.options = options
        self._blob = pickle.dumps(program, protocol=pickle.HIGHEST_PROTOCOL)
        self._program_key = hashlib.sha256(self._blob).hexdigest()[:24]
        # the worker's Simulator cache key: program and options (teardown drops by the prefix)
        self._key = self._program_key + ":" + hashlib.sha256(repr(sorted(options.items())).encode()).hexdigest()[:16]

    @property
    def n(self) -> int:
        """Number of qubits simulated."""
        return self.program.num_qubits

    def _n_shards(self, B: int) -> int:
        return min(B, self.shards if self.shards is not None else max(self.executor.n_threads, 1))

    def _dispatch(self, method: str, params: Any, inputs: Any, extra: tuple = (), kwargs=None,
                  per_shard: Callable[[slice, int], tuple] | None = None,
                  n_shards: int | None = None) -> tuple[list[Any], int, bool]:
        """Run ``method`` on shards; returns (shard results, batch size, params batched).

        Each shard's call gets its rows of params and inputs, then ``per_shard(rows, B)`` (arguments
        of its own, e.g. its rows of a cotangent), then ``extra``. ``n_shards`` overrides the default.
        """
        kwargs = kwargs or {}
        pdecl, idecl = self.program.params, self.program.inputs
        _check_array(params, pdecl, "param", self.program.param_names())
        _check_array(inputs, idecl, "input", self.program.input_names())
        bp, bi = _batched_rows(params, pdecl, "param"), _batched_rows(inputs, idecl, "input")
        if bp > 1 and bi > 1 and bp != bi:
            raise InputError(f"params have {bp} rows but inputs have {bi}; give the same batch or one shared row")
        B = max(bp, bi)
        slices = _slices(B, n_shards if n_shards is not None else self._n_shards(B))
        shards = []
        for sl in slices:
            args = (_take(params, pdecl, B, sl), _take(inputs, idecl, B, sl))
            if per_shard is not None:
                args += per_shard(sl, B)
            shards.append((self._program_key, self._key, self.options, method, args + extra, kwargs))
        self.executor.ship_program(self._blob, self._program_key)
        results = self.executor.map_shards(_shard_task, shards)
        out = []
        for r in results:
            if r[0] == "error":
                _, cls, message, span, notes = r
                try:
                    err = cls(message, span, notes)
                except TypeError:
                    err = QCompError(message, span, notes)
                raise err
            out.append(r[1])
        return out, B, bp > 1

    @staticmethod
    def _sum_gradients(parts: list[np.ndarray], per_row: bool) -> np.ndarray:
        """Shard gradients as one: per-row params concatenate (a one-row shard comes back as (P,)),
        shared params add up."""
        if per_row:
            return np.concatenate([np.atleast_2d(g) for g in parts], axis=0)
        total = parts[0].copy()
        for g in parts[1:]:
            total += g
        return total

    # -- outputs ---------------------------------------------------------------------------------
    def expval(self, params: Any = None, inputs: Any = None) -> np.ndarray:
        """Expectation values (B, n_outputs), computed shard by shard on the workers."""
        parts, _, _ = self._dispatch("expval", params, inputs)
        return np.concatenate(parts, axis=0)

    def expval_batch(self, param_rows: np.ndarray, input_rows: np.ndarray | None = None) -> np.ndarray:
        """expval for many (params, inputs) rows: param_rows (B, P), input_rows (B, I) or None."""
        pr = np.atleast_2d(np.asarray(param_rows, dtype=float))
        ir = None if input_rows is None else np.atleast_2d(np.asarray(input_rows, dtype=float))
        parts, _, _ = self._dispatch("expval_batch", pr, ir)
        return np.concatenate(parts, axis=0)

    def probs(self, params: Any = None, inputs: Any = None, qubits: Sequence[int] | None = None) -> np.ndarray:
        """Outcome probabilities (B, 2**len(qubits)), as Simulator.probs."""
        parts, _, _ = self._dispatch("probs", params, inputs, (None if qubits is None else tuple(qubits),))
        return np.concatenate(parts, axis=0)

    def sample(self, params: Any = None, inputs: Any = None, shots: int = 1024, seed: int | None = None,
               qubits: Sequence[int] | None = None) -> list[dict[str, int]]:
        """Measurement counts per row, as Simulator.sample: one task on one worker, so the rows are
        drawn in order from one generator and a seed gives the same counts as in this process."""
        parts, _, _ = self._dispatch("sample", params, inputs, (shots, seed, qubits), n_shards=1)
        return parts[0]

    def state(self, params: Any = None, inputs: Any = None) -> np.ndarray:
        """Final state vectors (B, 2**n), rows simulated on the workers; they all come back here, so
        mind the size (B * 2**n complex numbers)."""
        parts, _, _ = self._dispatch("state", params, inputs)
        return np.concatenate(parts, axis=0)

    # -- derivatives -----------------------------------------------------------------------------
    def gradient(self, params: Any = None, inputs: Any = None, method: str = "adjoint") -> np.ndarray:
        """d expval / d params (B, n_outputs, n_params), rows computed on the workers."""
        parts, _, _ = self._dispatch("gradient", params, inputs, (method,))
        return np.concatenate(parts, axis=0)

    def outputs(self, params: Any = None, inputs: Any = None, outputs: Sequence[Any] | None = None,
                seed: int | None = None) -> list[np.ndarray]:
        """Each output kind (default: the program's) per row, as Simulator.outputs; the expectation
        values, probabilities and states it needs are computed on the workers."""
        from .backends.outputs import evaluate

        return evaluate(self, self.program.outputs if outputs is None else tuple(outputs), params, inputs, seed)

    def estimate(self, params: Any = None, inputs: Any = None, outputs: Sequence[Any] | None = None,
                 shots: Any = None, seed: int | None = None) -> Any:
        """Shot estimates with standard errors (qcomp.backends.shots): the workers simulate the final
        states, the groups are rotated and sampled here from one generator (seeded with ``seed``), so
        the draws do not depend on the sharding. ``shots`` is required (this simulator is exact)."""
        from .backends import shots as S

        return S.estimate_call(self, params, inputs, outputs, shots, S.check_seed(seed))

    def output_gradient(self, params: Any = None, inputs: Any = None,
                        outputs: Sequence[Any] | None = None) -> list[np.ndarray]:
        """d output / d params of each differentiable output, as Simulator.output_gradient; the
        Jacobian of the expectation values it needs is computed on the workers."""
        from .backends.outputs import output_jacobian

        return output_jacobian(self, params, inputs, outputs)

    def with_observables(self, observables: tuple[Any, ...]) -> "DistributedSimulator":
        """The same circuit, executor and options with other ``expect`` outputs (cached)."""
        cache = self.__dict__.setdefault("_observable_sims", {})
        other = cache.get(observables)
        if other is None:
            program = self.program.with_circuit(self.program.circuit, observables=observables, declared=None)
            other = cache[observables] = DistributedSimulator(program, self.executor, shards=self.shards,
                                                              **self.options)
        return other

    def hessian(self, params: Any, inputs: Any = None, method: str = "parameter-shift",
                wrt: str = "params") -> np.ndarray:
        """Second derivatives (B, n_outputs, n, n), as Simulator.hessian; rows computed on the workers
        (each row's shifted circuits run on its shard's worker)."""
        parts, _, _ = self._dispatch("hessian", params, inputs, (method, wrt))
        return np.concatenate(parts, axis=0)

    def value_and_gradient(self, params: Any = None, inputs: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Values (B, n_outputs) and per-row adjoint gradients (B, n_outputs, n_params), rows on the workers."""
        parts, _, _ = self._dispatch("value_and_gradient", params, inputs)
        return np.concatenate([v for v, _ in parts], axis=0), np.concatenate([g for _, g in parts], axis=0)

    def vjp(self, params: Any, inputs: Any, cotangent: Any) -> np.ndarray:
        """sum_b cotangent[b] . d expval[b] / d params: (P,) shared params (shard sums added), (B, P) per row."""
        B = max(_batched_rows(params, self.program.params, "param"), _batched_rows(inputs, self.program.inputs, "input"))
        cot = check_cotangent(cotangent, B, self.program.num_outputs)

        def rows(sl: slice, B: int) -> tuple:
            return (cot[sl] if B > 1 else cot,)

        parts, _, pvar = self._dispatch("vjp", params, inputs, per_shard=rows)
        return self._sum_gradients(parts, pvar)

    def value_and_vjp(self, params: Any, inputs: Any,
                      cotangent_fn: Callable[[np.ndarray, slice], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Expectation values and the vjp in one adjoint sweep per shard, as Simulator.value_and_vjp.

        ``cotangent_fn(values_rows, rows)`` is shipped to the workers (it must pickle, closures
        included, as Dask's cloudpickle allows) and gets ``rows`` numbered in the whole batch.
        """
        def shard_fn(sl: slice, B: int) -> tuple:
            # not callable: passed as is, so the worker's Simulator reports it in its own words
            return (_ShardCotangent(cotangent_fn, sl.start) if callable(cotangent_fn) else cotangent_fn,)

        parts, _, pvar = self._dispatch("value_and_vjp", params, inputs, per_shard=shard_fn)
        values = np.concatenate([v for v, _ in parts], axis=0)
        return values, self._sum_gradients([g for _, g in parts], pvar)

    # -- plans and memory ------------------------------------------------------------------------
    def plan(self, kind: str = "forward") -> Any:
        """The layers-engine kernel plan each worker builds (built here with the same options)."""
        return self._local.plan(kind)

    def fused_plan(self, gradient: bool = False) -> Any:
        """The fused-engine plan each worker builds (built here with the same options)."""
        return self._local.fused_plan(gradient)

    def memory_plan(self, batch: int, gradient: bool = False) -> dict[str, int]:
        """The memory guard's decision on one worker for the largest shard of a ``batch``-row call."""
        return self._local.memory_plan(-(-batch // max(1, self._n_shards(batch))), gradient)

    def state_passes(self) -> int:
        """Passes over each state that one forward run makes on a worker."""
        return self._local.state_passes()

    def describe(self) -> str:
        """Where this simulator runs and its forward kernel plan (built locally)."""
        return f"distributed over {self.executor!r}\n" + self._local.describe()

    def __repr__(self) -> str:
        return f"DistributedSimulator({self.n} qubits, {self.executor!r})"
