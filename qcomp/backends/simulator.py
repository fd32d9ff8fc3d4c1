"""The embedded simulator: batched state vectors driven by a cached kernel plan (numpy + numexpr)."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import InputError, QCompError, ResourceLimitError, UnsupportedError
from ..ir.channels import is_channel
from ..ir.dynamic import defer_measurements
from ..ir.gates import is_fence
from ..ir.program import Program
from ..ir.values import as_real_array, batch_shaped, bind_pair, bind_values, check_cotangent, select_qubits
from . import kernels as K
from . import shots as S
from . import sim_plan as SP

ArrayLike = Any

# Rows per chunk are capped so that one chunk's state stays cache-resident (cache-blocked
# execution: the whole plan runs on a chunk before the next one starts).
CACHE_BLOCK_BYTES = 4 << 20
FORWARD_WORKSPACE = 4  # state-sized arrays per row in a forward pass (2 buffers, temporaries, probs)
GRADIENT_WORKSPACE = 8  # psi, lambda, 2 buffers, contractions, forward workspace


_MEM_READ: list[float] = [-1.0, 0.0]  # (monotonic time of the last read, bytes)
# small simulations call the memory guard several times per millisecond; /proc/meminfo costs
# ~0.15 ms to read, so a reading is reused for this long
MEM_READ_SECONDS = 0.25


def available_memory() -> int:
    """MemAvailable from /proc/meminfo in bytes (a large number when unknown), read at most every
    MEM_READ_SECONDS."""
    now = time.monotonic()
    if 0.0 <= now - _MEM_READ[0] < MEM_READ_SECONDS:
        return int(_MEM_READ[1])
    value = _read_available_memory()
    _MEM_READ[:] = [now, value]
    return value


def _read_available_memory() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def _fmt_bytes(b: float) -> str:
    if b >= 1024**6:  # thousands of TiB and up (past ~50 qubits): a power of two reads better
        return f"~2^{int(b).bit_length() - 1} bytes"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if b < 1024 or unit == "TiB":
            return f"{b:.0f} {unit}" if unit == "bytes" else f"{b:.1f} {unit}"
        b /= 1024
    return f"{b:.1f} TiB"


def _raw_bytes(b: int) -> str:
    return f"{b} bytes" if b < 1024**6 else _fmt_bytes(b)


class Simulator:
    """Batched state-vector simulation of a Program.

    ``params``: array (P,) shared by all rows, (B, P) per row, or a dict {declared name: array}.
    ``inputs``: array (I,) or (B, I), a dict by name, or None for programs without inputs.
    Results have one row per batch row B (the larger of the params and inputs batches).

    ``shots=N`` (or a shot vector ``[N1, N2]``) and ``seed=S`` make it measure like a device:
    ``expval``, ``probs`` and ``outputs`` return estimates from N measurements per qubit-wise
    commuting group, ``estimate`` also their standard errors (qcomp.backends.shots, docs/shots.md).
    """

    def __init__(self, program: Program, *, precision: str = "double", threads: int | None = None,
                 batch_size: int | None = None, max_memory_bytes: int | None = None,
                 block_qubits: int = SP.DEFAULT_BLOCK_QUBITS, pauli_layers: bool = True,
                 engine: str = "auto", shots: int | Sequence[int] | None = None, seed: int | None = None) -> None:
        if precision not in ("double", "single"):
            raise QCompError(f"precision must be 'double' or 'single', got {precision!r}")
        if batch_size is not None and batch_size < 1:
            raise QCompError(f"batch_size must be a positive integer, got {batch_size}")
        if max_memory_bytes is not None and max_memory_bytes <= 0:
            raise QCompError(f"max_memory_bytes must be positive, got {max_memory_bytes}")
        noisy = next((op for op in program.circuit.ops() if is_channel(op.name)), None)
        if noisy is not None:  # a state vector cannot hold a channel's mixture
            raise UnsupportedError(f"'{noisy.name}' is a noise channel: simulate noisy programs with "
                                   "qcomp.noise.simulator or model.simulator() (docs/noise.md)", noisy.span)
        # dynamic circuits run with their measurements deferred to ancillas (qcomp.ir.dynamic); the
        # pipeline's "sim" target has done it already
        program = defer_measurements(program)
        self.program = program
        self.n = program.num_qubits
        self.precision = precision
        self.dtype = np.dtype(np.complex64 if precision == "single" else np.complex128)
        self.threads = K.set_threads(threads)
        self.batch_size = batch_size
        self.max_memory_bytes = max_memory_bytes
        self.block_qubits = block_qubits
        self.pauli_layers = pauli_layers
        # fences (barrier) order compilation only: the state does not see them
        self._ops = [op for op in program.circuit.ops() if not is_fence(op.name)]
        self._plans: dict[str, SP.Plan] = {}
        if engine not in ENGINES:
            raise QCompError(f"unknown engine '{engine}'; valid engines: {', '.join(ENGINES)}")
        self.engine = choose_engine(self._ops) if engine == "auto" else engine
        self._options = {"precision": precision, "threads": threads, "batch_size": batch_size,
                         "max_memory_bytes": max_memory_bytes, "block_qubits": block_qubits,
                         "pauli_layers": pauli_layers, "engine": engine, "shots": shots, "seed": seed}
        # shots (qcomp.backends.shots): expval, probs and outputs become estimates from this many
        # measurements per group, drawn from one generator seeded once (reproducible call sequences)
        self.shots = S.check_shots(shots)
        self.seed = S.check_seed(seed)
        self._rng = np.random.default_rng(self.seed)
        self._fused: dict[bool, Any] = {}
        self._obs_arrays: tuple | None = None

    # -- plans ------------------------------------------------------------------------
    def plan(self, kind: str = "forward") -> SP.Plan:
        """The cached kernel plan: "forward" (the final state; folds every leading 1-qubit gate),
        "expval" (as forward, with trailing 1-qubit Clifford gates moved into the observables) or
        "adjoint" (keeps param-dependent gates as kernels so their derivatives can be taken)."""
        if kind not in ("forward", "expval", "adjoint"):
            raise QCompError(f"unknown plan kind '{kind}'; valid kinds: forward, expval, adjoint")
        if kind not in self._plans:
            self._plans[kind] = SP.build_plan(
                self._ops, self.n, self.program.num_params, self.program.num_inputs, block_qubits=self.block_qubits,
                fold_params=(kind != "adjoint"), with_gradient=(kind == "adjoint"),
                local_qubits=SP.local_qubits(self.dtype), fold_observables=(kind != "forward"),
                pauli_layers=self.pauli_layers)
        return self._plans[kind]

    def fused_plan(self, gradient: bool = False):
        """The fused-engine plan (``qcomp.backends.engine``), built once per kind."""
        if gradient not in self._fused:
            from . import engine as E

            # large states (chunked) fuse their lowest qubits into up to 4-qubit contiguous blocks
            large = self.n > E.local_qubits(self.dtype)
            # large states: block flops are the cost, so fusion keeps two-qubit blocks controlled
            self._fused[gradient] = E.build_plan(self._ops, self.n, with_gradient=gradient,
                                                 low_qubits=E.LOW_QUBITS if large else 0, controlled=large)
        return self._fused[gradient]

    def _fused_observables(self) -> tuple:
        if self._obs_arrays is None:
            from . import engine as E

            self._obs_arrays = E.observable_arrays(self.program.observables)
        return self._obs_arrays

    def _forward_phys(self) -> list[int] | None:
        return None if self.engine == "fused" else self.plan("forward").phys

    def _observables(self, plan: SP.Plan) -> list:
        return SP.map_observables(plan.observables(self.program.observables), plan.phys)

    # -- argument handling ---------------------------------------------------------------
    @staticmethod
    def _numeric(value: ArrayLike, what: str) -> np.ndarray:
        """``value`` as a float array, or an InputError naming ``what``."""
        return as_real_array(value, what)

    def _args(self, params: ArrayLike, inputs: ArrayLike) -> tuple[np.ndarray, np.ndarray, int, bool, bool]:
        return self._vary(bind_pair(self.program.params, self.program.inputs, params, inputs))

    @staticmethod
    def _vary(bound: tuple) -> tuple[np.ndarray, np.ndarray, int, bool, bool]:
        """(P, X, B, pvar, xvar) from ``bind_pair``'s (P, X, B, pb, xb): whether each varies by row."""
        P, X, B, pb, xb = bound
        return P, X, B, pb and P.shape[0] > 1, xb and X.shape[0] > 1

    def _shaped(self, rows: Any, params: ArrayLike, inputs: ArrayLike) -> Any:
        """Per-row results shaped by the one rule (qcomp.ir.values): a leading batch axis iff some
        argument was given as a batch."""
        _, _, _, pb, xb = bind_pair(self.program.params, self.program.inputs, params, inputs)
        return batch_shaped(rows, pb or xb)

    def _params_shaped(self, g: np.ndarray, params: ArrayLike) -> np.ndarray:
        """Per-row param gradients (B, P) in the shape of ``params``: summed over the batch for one
        flat row or one batched row, as they are for B batched rows."""
        rows, pb = bind_values(self.program.params, params, "param", allow_none=True)
        return self._rows_shaped(g, rows, pb)

    @staticmethod
    def _rows_shaped(g: np.ndarray, rows: np.ndarray, pb: bool) -> np.ndarray:
        """``_params_shaped`` from the bound params ``rows`` and whether they were a batch."""
        if not pb:
            return g.sum(axis=0)
        return g if rows.shape[0] == g.shape[0] else g.sum(axis=0, keepdims=True)

    # -- memory -------------------------------------------------------------------------
    def _row_bytes(self) -> int:
        return (2**self.n) * self.dtype.itemsize

    def _table_bytes(self, kind: str) -> tuple[int, int]:
        """Memory of a plan's phase tables: (bytes kept for a whole call, bytes per row while one
        row-varying table is built). Pauli layers make tables as large as a state."""
        plan = self.plan(kind)
        item = self.dtype.itemsize
        kept = biggest = 0
        for k in plan.kernels:
            if k.kind != "diag":
                continue
            size = min(2**self.n, max(2 ** len(k.qubits), SP.PHASE_TABLE_ELEMENTS))
            kept += size * item * (2 if kind == "adjoint" else 1)  # the adjoint keeps conjugates too
            biggest = max(biggest, size)
        # float64 angle tables while building (one per warm-up thread)
        return kept + biggest * 8 * max(1, self.threads), biggest * (item + 8)

    def _chunk_rows(self, B: int, workspace: int, extra_per_row: int = 0, kind: str | None = None,
                    cache_blocked: bool = True, chunk_row_bytes: int = 0) -> int:
        """Rows per chunk: cache-blocked (unless the fused engine, which keeps each row in cache
        itself, runs them), within batch_size and the memory budget (states, their workspace and,
        for ``kind``'s plan, its phase tables)."""
        avail = self.max_memory_bytes if self.max_memory_bytes is not None else available_memory()
        row = self._row_bytes()
        fixed, per_row = self._table_bytes(kind) if kind and self.engine != "fused" else (0, 0)
        per_row += chunk_row_bytes
        need_one = row * workspace + per_row + extra_per_row * B + fixed
        if need_one > avail:
            raise ResourceLimitError(
                f"simulating {self.n} qubits needs {_fmt_bytes(need_one)} ({_raw_bytes(need_one)}: a "
                f"{_fmt_bytes(row)} state, its workspace and phase tables) but only {_fmt_bytes(avail)} is available")
        fit = int((avail - extra_per_row * B - fixed) // (row * workspace + per_row))
        rows = max(1, min(B, fit, max(1, CACHE_BLOCK_BYTES // row) if cache_blocked else B))
        if self.batch_size is not None:
            rows = min(rows, self.batch_size)
        return rows

    def memory_plan(self, batch: int, gradient: bool = False) -> dict[str, int]:
        """Rows per chunk and bytes for a batch (what the memory guard decided)."""
        kind = "adjoint" if gradient else "expval"
        if self.engine == "fused":
            ws = FUSED_GRADIENT_WORKSPACE if gradient else FUSED_FORWARD_WORKSPACE
            mat = self._fused_matrix_bytes(gradient)
            rows = self._chunk_rows(batch, ws, cache_blocked=False, chunk_row_bytes=mat)
            return {"rows_per_chunk": rows, "chunks": -(-batch // rows), "bytes_per_state": self._row_bytes(),
                    "workspace_bytes": rows * (ws * self._row_bytes() + mat), "table_bytes": 0}
        ws = GRADIENT_WORKSPACE + len(SP.save_points(self.plan("adjoint"))) if gradient else FORWARD_WORKSPACE
        rows = self._chunk_rows(batch, ws, kind=kind)
        fixed, per_row = self._table_bytes(kind)
        return {"rows_per_chunk": rows, "chunks": -(-batch // rows), "bytes_per_state": self._row_bytes(),
                "workspace_bytes": rows * (ws * self._row_bytes() + per_row), "table_bytes": fixed}

    # -- execution ------------------------------------------------------------------------
    def _context(self, plan: SP.Plan, P: np.ndarray, X: np.ndarray, pvar: bool, xvar: bool) -> SP.CallContext:
        angles = plan.compiled(P, X) if plan.exprs else np.zeros((0, max(P.shape[0], X.shape[0])))
        if not np.all(np.isfinite(angles)):
            e, b = map(int, np.argwhere(~np.isfinite(angles))[0])
            raise InputError(f"gate angle {plan.exprs[e]} is not finite for sample {b} (check params and inputs)")
        return SP.CallContext(plan, angles, pvar, xvar, self.dtype)

    def _run(self, params, inputs, consume, extra_per_row: int = 0, kind: str = "forward") -> int:
        """Forward simulation chunk by chunk; ``consume(rows, state)`` receives each final state."""
        P, X, B, pvar, xvar = self._args(params, inputs)
        if self.engine == "fused":
            return self._run_fused(P, X, B, pvar, xvar, consume, extra_per_row)
        plan = self.plan(kind)
        ctx = self._context(plan, P, X, pvar, xvar)
        rows = self._chunk_rows(B, FORWARD_WORKSPACE, extra_per_row, kind=kind)

        def work(sl: slice, bufs: list[np.ndarray]) -> None:
            consume(sl, SP.forward(ctx, sl, sl.stop - sl.start, bufs))

        SP.warm(ctx, adjoint=False, threads=self.threads)
        self._map_chunks(B, rows, 2, work)
        return B

    def _fused_matrix_bytes(self, gradient: bool) -> int:
        """Bytes per batch row of the fused engine's gate, derivative and block matrices."""
        plan = self.fused_plan(gradient)
        cache = self.__dict__.setdefault("_fused_bytes", {})
        if gradient in cache:  # a per-call cost on small circuits otherwise (one pass over the gates)
            return cache[gradient]
        entries = sum(4 ** len(op.qubits) * (1 + len(op.angles) * gradient) for op in plan.gates if op.angles)
        entries += sum((2 ** len(b.qubits) if b.diagonal else 4 ** len(b.qubits)) for b in plan.blocks)
        cache[gradient] = entries * 16 * 2 + len(plan.exprs) * 8 * (2 + gradient)
        return cache[gradient]

    def _run_fused(self, P, X, B, pvar, xvar, consume, extra_per_row: int, raw: bool = False) -> int:
        """Forward chunks of the fused engine; ``consume`` gets complex rows, or the split planes
        (2, b, 2**n) with ``raw``."""
        from . import engine as E

        plan = self.fused_plan(False)
        rows = self._chunk_rows(B, FUSED_FORWARD_WORKSPACE, extra_per_row, cache_blocked=False,
                                chunk_row_bytes=self._fused_matrix_bytes(False))
        buf = np.empty((2, rows, 2**self.n), dtype=self.dtype.char.lower())
        for sl in _chunks(B, rows):
            bound = E.Bound(plan, *_rows_of(P, X, sl), pvar, xvar, self.dtype)
            planes = bound.forward(slice(0, sl.stop - sl.start), buf, self.threads)
            consume(sl, planes if raw else E.to_complex(planes, self.dtype))
        return B

    def _map_chunks(self, B: int, rows: int, nbufs: int, work) -> None:
        """Run ``work(rows_slice, buffers)`` over the batch in chunks. Small states run chunks in
        parallel threads (numpy releases the GIL); large ones run one at a time and let
        numexpr's threads split each kernel."""
        dim = 2**self.n
        chunks = [slice(s, min(B, s + rows)) for s in range(0, B, rows)]
        workers = min(self.threads, len(chunks))
        if rows * dim >= K.NUMEXPR_MIN_ELEMENTS or workers <= 1:
            bufs = [np.empty((rows, dim), dtype=self.dtype) for _ in range(nbufs)]
            # numexpr's threads split each kernel here: BLAS threads beside them oversubscribe the
            # cores (10x slower on a busy 2-core machine), so BLAS stays on one thread
            with _blas_single_thread():
                for sl in chunks:
                    work(sl, bufs)
            return
        import threading
        from concurrent.futures import ThreadPoolExecutor

        local = threading.local()

        def run(sl: slice) -> None:
            if not hasattr(local, "bufs"):
                local.bufs = [np.empty((rows, dim), dtype=self.dtype) for _ in range(nbufs)]
            work(sl, local.bufs)

        # chunks already use every core: BLAS products inside them (Hadamard kernels) must not
        # start threads of their own (2 x 2 threads on 2 cores was 1.7x slower than 2 x 1)
        with _blas_single_thread(), ThreadPoolExecutor(max_workers=workers) as pool:
            for f in [pool.submit(run, sl) for sl in chunks]:
                f.result()

    def state(self, params: ArrayLike = None, inputs: ArrayLike = None) -> np.ndarray:
        """Final state vectors (B, 2**n), (2**n,) when no argument is batched; index bit k is flat
        qubit k (Qiskit order)."""
        if self.program.ancillas:
            raise UnsupportedError(
                "a dynamic circuit (mid-circuit measurement or reset) ends in a mixture of branches, not a "
                "state vector; use probs(), sample() or expval()")
        P, X, B, _, _ = self._args(params, inputs)
        self._check_result_bytes("the final states", B, self._row_bytes())
        out = np.empty((B, 2**self.n), dtype=self.dtype)

        phys = self._forward_phys()

        def take(sl, st):
            out[sl] = SP.to_logical(st, phys)

        self._run(params, inputs, take, extra_per_row=self._row_bytes())
        return self._shaped(out, params, inputs)

    def _check_result_bytes(self, what: str, B: int, per_row: int) -> None:
        """Refuse before allocating results that, with one state's workspace, exceed the budget
        (numpy would raise a bare MemoryError, or ValueError past 2**63 bytes)."""
        avail = self.max_memory_bytes if self.max_memory_bytes is not None else available_memory()
        result = B * per_row
        need = result + self._row_bytes() * FORWARD_WORKSPACE
        if need > avail:
            raise ResourceLimitError(
                f"{what} of {B} row(s) of a {self.n}-qubit simulation need {_fmt_bytes(need)} ({_raw_bytes(need)}: "
                f"{_fmt_bytes(result)} of results, a {_fmt_bytes(self._row_bytes())} state and its workspace) "
                f"but only {_fmt_bytes(avail)} is available")

    def expval(self, params: ArrayLike = None, inputs: ArrayLike = None) -> np.ndarray:
        """Expectation values of every ``expect`` output, float64: shape (B, n_outputs) when params
        or inputs are given as a batch, (n_outputs,) otherwise. With ``shots``, estimates (a tuple
        of them for a shot vector; standard errors from :meth:`estimate`)."""
        if self.shots is not None:
            return self._per_shots(lambda n: S.expval(self, params, inputs, n, self._rng)[0])
        if self.engine == "fused":
            from . import engine as E

            res: list[tuple[slice, np.ndarray]] = []
            nout = self.program.num_outputs
            P, X, B, pvar, xvar = self._args(params, inputs)
            self._run_fused(P, X, B, pvar, xvar, lambda sl, st: res.append(
                (sl, E.values(st, self._fused_observables(), nout, self.threads))), 0, raw=True)
            out = np.zeros((B, nout))
            for sl, v in res:
                out[sl] = v
            return self._shaped(out, params, inputs)
        obs = self._observables(self.plan("expval"))
        results: list[tuple[slice, np.ndarray]] = []
        B = self._run(params, inputs, lambda sl, st: results.append((sl, K.expval_terms(st, self.n, obs))), kind="expval")
        out = np.zeros((B, len(obs)))
        for sl, v in results:
            out[sl] = v
        return self._shaped(out, params, inputs)

    def expval_batch(self, param_rows: np.ndarray, input_rows: np.ndarray | None = None) -> np.ndarray:
        """expval for many (params, inputs) rows at once: param_rows (B, P), input_rows (B, I) or None.

        One batched state array; this is the entry point for shifted-circuit gradient rules.
        """
        pr = np.atleast_2d(np.asarray(param_rows, dtype=float))
        if self.program.num_inputs == 0 and input_rows is None:
            return self.expval(pr, None)
        return self.expval(pr, np.atleast_2d(np.asarray(input_rows, dtype=float)))

    def _default_qubits(self, qubits: Sequence[int] | None) -> tuple[int, ...]:
        return select_qubits(qubits, self.program.visible_qubits, self.program.measured)

    def probs(self, params: ArrayLike = None, inputs: ArrayLike = None,
              qubits: Sequence[int] | None = None) -> np.ndarray:
        """Outcome probabilities (B, 2**len(qubits)), (2**len(qubits),) when no argument is batched;
        result bit j is qubits[j]. Default qubits: the measured ones, or all qubits when the program
        has no ``measure``."""
        qs = self._default_qubits(qubits)
        _, _, B, _, _ = self._args(params, inputs)
        if self.shots is not None:
            return self._per_shots(lambda n: S.probs(self, params, inputs, qs, n, self._rng))
        real = np.finfo(self.dtype).dtype  # float32 rows for single precision, as |psi|**2 is
        width = real.itemsize * 2 ** len(qs)
        self._check_result_bytes("the probabilities", B, width)
        out = np.empty((B, 2 ** len(qs)), dtype=real)

        def put(sl, p):
            out[sl] = p

        self._marginals(params, inputs, qs, put, extra_per_row=width)
        return self._shaped(out, params, inputs)

    def _marginals(self, params, inputs, qs: tuple[int, ...], consume, extra_per_row: int = 0) -> int:
        """Forward simulation; ``consume(rows, probabilities over qs)`` per chunk, so only one
        chunk's |psi|**2 exists at a time."""
        phys = self._forward_phys()
        if phys is not None:
            qs = tuple(phys[q] for q in qs)
        whole = qs == tuple(range(self.n))

        def take(sl, st):
            p = K.probabilities(st)
            consume(sl, p if whole else K.marginal(p, qs, self.n))

        return self._run(params, inputs, take, extra_per_row=extra_per_row)

    def sample(self, params: ArrayLike = None, inputs: ArrayLike = None, shots: int = 1024,
               seed: int | None = None, qubits: Sequence[int] | None = None) -> list[dict[str, int]]:
        """Measurement counts: a list of {bitstring: count} dicts, one per batch row, or one dict
        when no argument is batched.

        Bitstrings are Qiskit-style: the rightmost character is qubits[0] (default: the measured
        qubits, or all qubits). Deterministic for a given seed.
        """
        if not isinstance(shots, (int, np.integer)) or isinstance(shots, bool) or shots < 1:
            raise InputError(f"shots must be a positive integer, got {shots!r}")
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
            raise InputError(f"seed must be a non-negative integer or None, got {seed!r}")
        from ..ir.values import check_qubits

        check_qubits(qubits)
        qs = self._default_qubits(qubits)
        rng = np.random.default_rng(seed)
        width = len(qs)
        out: list[dict[str, int]] = []
        # counts are drawn per chunk, in row order whatever order parallel chunks finish in (one
        # generator, so a seed gives the same counts for any chunking); a chunk's probabilities
        # are dropped once drawn
        pending: dict[int, tuple[slice, np.ndarray]] = {}
        lock = threading.Lock()

        def draw(sl, p):
            with lock:
                pending[sl.start] = (sl, p)
                while len(out) in pending:
                    _, rows = pending.pop(len(out))
                    for row in rows:
                        row = np.clip(row.astype(float), 0, None)
                        row /= row.sum()
                        counts = rng.multinomial(int(shots), row)
                        out.append({format(int(i), f"0{width}b"): int(counts[i]) for i in np.flatnonzero(counts)})

        self._marginals(params, inputs, qs, draw)
        return self._shaped(out, params, inputs)

    # -- gradients -----------------------------------------------------------------------
    def gradient(self, params: ArrayLike = None, inputs: ArrayLike = None, method: str = "adjoint") -> np.ndarray:
        """d expval / d params by the adjoint method, shape (B, n_outputs, n_params) (flat parameter
        order), (n_outputs, n_params) when no argument is batched.

        Other methods (parameter shift, finite differences) and Hessians live in qcomp.gradients;
        ``model.simulator()`` offers them all through the same ``gradient(method=...)``.
        """
        if method != "adjoint":
            raise UnsupportedError(
                f"Simulator.gradient computes adjoint gradients; for method '{method}' use "
                "qcomp.gradients.simulator_gradient(sim, params, inputs, method) or model.simulator()")
        nout = self.program.num_outputs
        P, X, B, _, _ = self._args(params, inputs)
        out = np.zeros((B, nout, self.program.num_params))
        for k in range(nout):
            cot = np.zeros((B, nout))
            cot[:, k] = 1.0
            out[:, k, :] = self._adjoint(params, inputs, cot)[0]
        return self._shaped(out, params, inputs)

    def value_and_gradient(self, params: ArrayLike = None, inputs: ArrayLike = None) -> tuple[np.ndarray, np.ndarray]:
        """Expectation values (B, n_outputs) and adjoint gradients (B, n_outputs, n_params) per row.

        With one output this is one forward and one backward sweep (the values come from the
        forward sweep); with k outputs, k sweeps, as ``gradient``."""
        nout = self.program.num_outputs
        if nout == 1:
            g, values = self._adjoint(params, inputs, None, lambda v, rows: np.ones_like(v))
            return values, g[:, None, :]
        return self.expval(params, inputs), self.gradient(params, inputs)

    def vjp(self, params: ArrayLike, inputs: ArrayLike, cotangent: ArrayLike) -> np.ndarray:
        """sum_b sum_k cotangent[b, k] d expval[b, k] / d params, with the shape of the params:
        (P,) for one flat row (summed over the batch of inputs), (B, P) for a batch of B rows (a
        (1, P) batch against B inputs sums into its one row). The cotangent has the shape of
        :meth:`expval`'s result. One adjoint sweep per chunk."""
        bound = bind_pair(self.program.params, self.program.inputs, params, inputs)
        P, _, B, pb, _ = bound
        cot = check_cotangent(cotangent, B, self.program.num_outputs)
        g, _ = self._adjoint(params, inputs, cot, summed=not pb or P.shape[0] != B, bound=bound)
        return self._rows_shaped(g, P, pb)

    def value_and_vjp(self, params: ArrayLike, inputs: ArrayLike,
                      cotangent_fn: Callable[[np.ndarray, slice], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Expectation values and the VJP in one adjoint sweep, for losses that are means of per-row terms.

        ``cotangent_fn(values_rows (b, n_outputs), rows: slice) -> (b, n_outputs)`` gives the
        cotangent of the rows ``rows`` from their expectation values (it is called once per memory
        chunk, with the forward state still at hand), so a training step costs one forward and one
        backward sweep instead of a separate forward pass plus ``vjp``. Returns ``(values (B,
        n_outputs) or (n_outputs,), shaped as :meth:`expval`'s, gradient)`` with the gradient shaped
        as in :meth:`vjp`.
        """
        if not callable(cotangent_fn):
            raise InputError(f"cotangent_fn must be a function (values, rows) -> cotangent, got {type(cotangent_fn).__name__}")
        # bound once for the whole call (a training step of a small circuit is ~1 ms; each
        # binding costs ~15 us)
        bound = bind_pair(self.program.params, self.program.inputs, params, inputs)
        P, _, B, pb, xb = bound
        g, values = self._adjoint(params, inputs, None, cotangent_fn, summed=not pb or P.shape[0] != B, bound=bound)
        return batch_shaped(values, pb or xb), self._rows_shaped(g, P, pb)

    def _adjoint(self, params, inputs, cot: np.ndarray | None, cotangent_fn=None,
                 summed: bool = False, bound: tuple | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Per-row gradients (B, P) of sum_k cot[b, k] <O_k>_b by one forward and one backward sweep
        (and the expectation values when the cotangent comes from ``cotangent_fn``). With
        ``summed`` the caller only uses their sum over rows, which the fused engine may return as
        one row (1, P). ``bound``: the caller's ``bind_pair`` of params and inputs."""
        if self.shots is not None:
            raise UnsupportedError(
                "adjoint gradients need the exact state; a simulator with shots estimates gradients by "
                "parameter shift: use model.simulator(shots=...) (gradient, vjp) or "
                "qcomp.gradients.shot_parameter_shift_gradient")
        P, X, B, pvar, xvar = self._args(params, inputs) if bound is None else self._vary(bound)
        if self.engine == "fused":
            return self._adjoint_fused(P, X, B, pvar, xvar, cot, cotangent_fn, summed)
        plan = self.plan("adjoint")
        ctx = self._context(plan, P, X, pvar, xvar)
        dvals = plan.dcompiled(P, X) if plan.dcompiled.exprs else np.zeros((0, B))
        points = SP.save_points(plan)
        rows = self._chunk_rows(B, GRADIENT_WORKSPACE + len(points), kind="adjoint")
        obs = self._observables(plan)
        terms = [t for o in obs for t in o.terms]
        owner = [k for k, o in enumerate(obs) for _ in o.terms]
        grad = np.zeros((B, self.program.num_params))
        values = np.zeros((B, self.program.num_outputs)) if cotangent_fn is not None else None

        def work(sl: slice, bufs: list[np.ndarray]) -> None:
            Bc = sl.stop - sl.start
            saves = {i: bufs[3 + j] for j, i in enumerate(points)}
            psi = SP.forward(ctx, sl, Bc, bufs[:2], saves)
            if cotangent_fn is None:
                crow = cot[sl]
            else:
                values[sl] = K.expval_terms(psi, self.n, obs)
                crow = np.asarray(cotangent_fn(values[sl], sl), dtype=float)
                if crow.shape != (Bc, self.program.num_outputs) or not np.all(np.isfinite(crow)):
                    raise InputError(f"cotangent_fn returned shape {crow.shape} or non-finite values;"
                                     f" expected finite ({Bc}, {self.program.num_outputs})")
            coeffs = np.stack([crow[:, owner[i]] * terms[i].coeff for i in range(len(terms))], axis=1) \
                if terms else np.zeros((Bc, 0))
            lam = K.pauli_sum_apply(psi, self.n, terms, coeffs)
            other = bufs[1] if np.shares_memory(psi, bufs[0]) else bufs[0]
            grad[sl] = SP.backward(ctx, sl, psi, lam, dvals, self.program.num_params, [other[:Bc], bufs[2][:Bc]], saves)

        SP.warm(ctx, adjoint=True, threads=self.threads)
        self._map_chunks(B, rows, 3 + len(points), work)
        return grad, values

    def _adjoint_fused(self, P, X, B, pvar, xvar, cot, cotangent_fn,
                       summed: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        from . import engine as E

        plan = self.fused_plan(True)
        nout, npar = self.program.num_outputs, self.program.num_params
        rows = self._chunk_rows(B, FUSED_GRADIENT_WORKSPACE, cache_blocked=False,
                                chunk_row_bytes=self._fused_matrix_bytes(True))
        obs = self._fused_observables()
        grad = np.zeros((1 if summed else B, npar))
        values = np.zeros((B, nout)) if cotangent_fn is not None else None
        psi_buf = np.empty((2, rows, 2**self.n), dtype=self.dtype.char.lower())
        lam_buf = np.empty_like(psi_buf)
        for sl in _chunks(B, rows):
            Bc = sl.stop - sl.start
            Pc, Xc = _rows_of(P, X, sl)
            bound = E.Bound(plan, Pc, Xc, pvar, xvar, self.dtype)
            local = slice(0, Bc)
            psi = bound.forward(local, psi_buf, self.threads)
            if cotangent_fn is None:
                crow = cot[sl]
            else:
                values[sl] = E.values(psi, obs, nout, self.threads)
                crow = np.asarray(cotangent_fn(values[sl], sl), dtype=float)
                if crow.shape != (Bc, nout) or not np.all(np.isfinite(crow)):
                    raise InputError(f"cotangent_fn returned shape {crow.shape} or non-finite values;"
                                     f" expected finite ({Bc}, {nout})")
            lam = E.cotangent_states(psi, obs, crow, self.threads, lam_buf[:, :Bc])
            dvals = plan.dcompiled(Pc, Xc) if plan.dcompiled.exprs else np.zeros((0, Bc))
            # slot gradients may be summed over rows before the chain rule only when d angle /
            # d param is the same on every row (params shared, angle derivatives free of inputs)
            summed_now = summed and not pvar and plan.dinput_free
            gslots = bound.backward(psi, lam, local, self.threads, summed=summed_now)
            if summed_now:
                dvals = dvals[:, :1]
            g = bound.chain_rule(gslots, dvals, npar)
            if summed:
                grad[0] += g.sum(axis=0)
            else:
                grad[sl] = g
        return grad, values

    # -- declared outputs --------------------------------------------------------------
    @property
    def options(self) -> dict[str, Any]:
        """The constructor options of this simulator, to build another one like it."""
        return dict(self._options)

    def with_observables(self, observables: tuple[Any, ...]) -> "Simulator":
        """A simulator of the same circuit and options whose ``expect`` outputs are ``observables`` (cached)."""
        cache = self.__dict__.setdefault("_observable_sims", {})
        other = cache.get(observables)
        if other is None:
            program = self.program.with_circuit(self.program.circuit, observables=observables, declared=None)
            other = cache[observables] = Simulator(program, **self.options)
        return other

    def outputs(self, params: ArrayLike = None, inputs: ArrayLike = None, outputs: Sequence[Any] | None = None,
                seed: int | None = None) -> list[np.ndarray]:
        """The value of each output (default: the program's, ``program.outputs``) per batch row, in
        order: arrays (B, *shape), or (*shape) when no argument is batched. Outputs are ``qcomp.ir.outputs`` kinds (Expectation, Variance,
        Probabilities, Samples, State) about this simulator's program (its qubits and observables:
        passes that keep only outputs pruned the circuit for the program's own observables)."""
        from .outputs import evaluate

        if self.shots is not None:
            return self._per_shots(lambda n: list(self.estimate(params, inputs, outputs, shots=n).values))
        return evaluate(self, self.program.outputs if outputs is None else tuple(outputs), params, inputs, seed)

    # -- shots (qcomp.backends.shots) -----------------------------------------------------
    def _per_shots(self, fn: Callable[[int], Any]) -> Any:
        """``fn(shots)`` for the simulator's shots, or a tuple over a shot vector (as PennyLane)."""
        if isinstance(self.shots, tuple):
            return tuple(fn(n) for n in self.shots)
        return fn(self.shots)

    def estimate(self, params: ArrayLike = None, inputs: ArrayLike = None, outputs: Sequence[Any] | None = None,
                 shots: int | Sequence[int] | None = None, seed: int | None = None) -> Any:
        """Shot estimates with standard errors of ``outputs`` (default: the program's): a
        ``qcomp.backends.shots.Estimate`` (``values, stderr = sim.estimate(w)``), values and errors
        shaped as :meth:`outputs`'s; a tuple of them for a shot vector. ``shots`` overrides the
        simulator's (needed when it has none); draws come from the simulator's seeded generator, or
        from a new one seeded with ``seed``."""
        return S.estimate_call(self, params, inputs, outputs, shots if shots is not None else self.shots,
                               self._rng if seed is None else S.check_seed(seed))

    def _measurement_counts(self, params: ArrayLike, inputs: ArrayLike,
                            bases: Sequence[tuple[tuple[int, ...], tuple[str, ...]]], shots: int | Sequence[int],
                            rng: np.random.Generator) -> tuple[list[np.ndarray], int]:
        """The shots hook (``qcomp.backends.shots.measure``): counts (B, 2**m) of ``shots`` measurements
        of each (qubits, basis), drawn from the exact probabilities of the rotated final states; and B."""
        probs, B = S.group_probabilities(self, params, inputs, bases)
        return S.draw_counts(rng, probs, shots), B

    def output_gradient(self, params: ArrayLike = None, inputs: ArrayLike = None,
                        outputs: Sequence[Any] | None = None) -> list[np.ndarray]:
        """d output / d params (adjoint) of each differentiable output (default: the program's):
        arrays (B, *shape, P), or (*shape, P) unbatched; see qcomp.backends.outputs.output_jacobian."""
        from .outputs import output_jacobian

        return output_jacobian(self, params, inputs, outputs)

    def state_passes(self) -> int:
        """Passes over each state that one forward run makes: the fused engine counts a
        cache-blocked run of blocks once; the layers engine makes one pass per kernel."""
        if self.engine == "fused":
            from . import engine as E

            small = self.n <= E.local_qubits(self.dtype)  # small states run whole, row by row
            return self.fused_plan(False).state_passes(self.n if small else E.chunk_qubits(self.dtype, self.n))
        return len(self.plan("forward").kernels)

    def describe(self) -> str:
        """The forward kernel plan as text."""
        if self.engine == "fused":
            return self.fused_plan(False).describe()
        return self.plan("forward").describe()


_BLAS_CONTROLLER: list = []
_BLAS_LOCK = threading.Lock()
_BLAS_STATE: dict[str, Any] = {"depth": 0, "original": []}


@contextlib.contextmanager
def _blas_single_thread():
    """Limit BLAS to one thread while chunk threads run (threadpoolctl; a no-op without it).

    The limit is process-wide, so concurrent callers share it: the first sets it, the last sets
    back the thread counts recorded when qcomp first touched BLAS."""
    with _BLAS_LOCK:
        if not _BLAS_CONTROLLER:
            try:
                from threadpoolctl import ThreadpoolController

                ctl = ThreadpoolController().select(user_api="blas")
                _BLAS_CONTROLLER.append(ctl)
                _BLAS_STATE["original"] = [lib.num_threads for lib in ctl.lib_controllers]
            except Exception:  # pragma: no cover - threadpoolctl ships with scikit-learn, a dependency
                _BLAS_CONTROLLER.append(None)
        ctl = _BLAS_CONTROLLER[0]
        if ctl is not None:
            if _BLAS_STATE["depth"] == 0:
                for lib in ctl.lib_controllers:
                    lib.set_num_threads(1)
            _BLAS_STATE["depth"] += 1
    try:
        yield
    finally:
        if ctl is not None:
            with _BLAS_LOCK:
                _BLAS_STATE["depth"] -= 1
                if _BLAS_STATE["depth"] == 0:
                    for lib, n in zip(ctl.lib_controllers, _BLAS_STATE["original"]):
                        lib.set_num_threads(n)


def _chunks(B: int, rows: int) -> list[slice]:
    return [slice(s, min(B, s + rows)) for s in range(0, B, rows)]


def _rows_of(P: np.ndarray, X: np.ndarray, sl: slice) -> tuple[np.ndarray, np.ndarray]:
    """The params and inputs of batch rows ``sl`` (a single shared row stays shared)."""
    return (P[sl] if P.shape[0] > 1 else P), (X[sl] if X.shape[0] > 1 else X)


ENGINES = ("auto", "fused", "layers")
# per row: the state, its copy for the caller, the adjoint's lambda and slack for temporaries
FUSED_FORWARD_WORKSPACE = 2
FUSED_GRADIENT_WORKSPACE = 3


def choose_engine(ops) -> str:
    """"layers" when two-qubit XX/YY rotations are a large part of the two-qubit gates (the seed
    QNN's couplings: Pauli layers turn them into phase tables between Hadamard transforms, 2-7x
    faster there than any gate-by-gate kernel); "fused" (numba kernels over fused gate blocks,
    3-10x faster on everything else measured) otherwise."""
    xy = sum(1 for op in ops if op.name in ("rxx", "ryy"))
    two = sum(1 for op in ops if len(op.qubits) >= 2)
    return "layers" if xy >= 4 and 4 * xy >= two else "fused"


# name -> fn(simulator, params, inputs) -> (B, n_outputs, n_params); filled by qcomp.gradients
def simulate(program: Program, params: ArrayLike = None, inputs: ArrayLike = None, **options: Any) -> np.ndarray:
    """Convenience: final states of a program, shaped as :meth:`Simulator.state`'s."""
    return Simulator(program, **options).state(params, inputs)


__all__ = ["Simulator", "simulate", "available_memory"]
