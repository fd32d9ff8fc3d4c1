"""Gradients and Hessians of program outputs: parameter shift (batched), finite differences, evaluation of GradientPrograms."""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from ..errors import InputError, QCompError
from ..ir.expr import CompiledExprs
from ..ir.program import Program
from ..ir.values import bind_pair, check_cotangent
from ..passes.param_shift import GradientProgram, build_gradient_program, wrt_symbols

__all__ = [
    "Executor",
    "ReferenceExecutor",
    "SimulatorExecutor",
    "default_executor",
    "evaluate_gradient_program",
    "gradient_program",
    "parameter_shift_gradient",
    "finite_diff_gradient",
    "hessian",
    "finite_diff_hessian",
    "simulator_gradient",
    "simulator_hessian",
    "GradientMethods",
    "GRADIENT_METHODS",
    "simulator_executor_for",
    "circuit_expvals",
    "combine",
    "DEFAULT_BATCH_BYTES",
    "shot_parameter_shift_gradient",
]

# Bytes of state-vector rows evaluated at once (each row is one (circuit, sample) pair).
DEFAULT_BATCH_BYTES = 1 << 27


class Executor(Protocol):
    """Anything that evaluates a program's outputs for many (param row, input row) pairs."""

    def __call__(self, program: Program, params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """params (N, P), inputs (N, I) -> expectation values (N, n_outputs)."""


class ReferenceExecutor:
    """qcomp.backends.reference: one gate at a time on a batched state (the oracle)."""

    def __call__(self, program: Program, params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        from ..backends.reference import expvals

        return expvals(program, params, inputs)


class SimulatorExecutor:
    """qcomp.backends.simulator.Simulator.expval_batch (the fast simulator), one compiled plan per program."""

    def __init__(self, **options):
        self.options = options
        self._cache: dict[int, tuple[Program, object]] = {}

    def __call__(self, program: Program, params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        from ..backends.simulator import Simulator

        hit = self._cache.get(id(program))
        if hit is None or hit[0] is not program:
            hit = (program, Simulator(program, **self.options))
            self._cache[id(program)] = hit
        return np.asarray(hit[1].expval_batch(params, inputs))


def default_executor() -> Executor:
    """The fast simulator when it is available, else the reference simulator."""
    try:
        from ..backends.simulator import Simulator

        if hasattr(Simulator, "expval_batch"):
            return SimulatorExecutor()
    except ImportError:
        pass
    return ReferenceExecutor()


def _rows(program: Program, params, inputs) -> tuple[np.ndarray, np.ndarray, int]:
    """Params (B, P) and inputs (B, I) bound (:mod:`qcomp.ir.values`) and broadcast to a common batch B."""
    p, x, B, _, _ = bind_pair(program.params, program.inputs, params, inputs)
    return np.broadcast_to(p, (B, program.num_params)), np.broadcast_to(x, (B, program.num_inputs)), B


def _run_rows(executor: Executor, program: Program, P: np.ndarray, X: np.ndarray, batch_bytes: int) -> np.ndarray:
    """Evaluate N rows in chunks so that the stacked states fit in ``batch_bytes``."""
    N = P.shape[0]
    chunk = max(1, batch_bytes // (16 * 2**program.num_qubits))
    if N <= chunk:
        return np.asarray(executor(program, P, X), dtype=float).reshape(N, program.num_outputs)
    out = np.empty((N, program.num_outputs))
    for s in range(0, N, chunk):
        out[s : s + chunk] = executor(program, P[s : s + chunk], X[s : s + chunk])
    return out


_GP_CACHE: dict[tuple, tuple[Program, GradientProgram]] = {}


def gradient_program(program: Program, wrt: str = "params", order: int = 1) -> GradientProgram:
    """The (cached) parameter-shift GradientProgram of ``program``."""
    key = (id(program), wrt, order)
    hit = _GP_CACHE.get(key)
    if hit is None or hit[0] is not program:
        if len(_GP_CACHE) > 64:
            _GP_CACHE.clear()
        hit = (program, build_gradient_program(program, wrt, order))
        _GP_CACHE[key] = hit
    return hit[1]


class _Evaluator:
    """Precomputed index arrays and compiled coefficients of one GradientProgram."""

    def __init__(self, gp: GradientProgram):
        self.gp = gp
        exprs = gp.coefficient_exprs()
        pos = {e: k for k, e in enumerate(exprs)}
        self.coeffs = CompiledExprs(exprs) if exprs else None
        keys, circ, kidx = [], [], []
        for key, lst in gp.terms.items():
            for c, e in lst:
                keys.append(key)
                circ.append(c)
                kidx.append(pos[e])
        self.keys = np.array(keys, dtype=np.int64).reshape(len(keys), 1 + gp.order)
        self.circ = np.array(circ, dtype=np.int64)
        self.kidx = np.array(kidx, dtype=np.int64)
        self.slot_program = gp.slot_program()
        self.shifts = gp.shift_matrix()


_EVAL_CACHE: dict[int, tuple[GradientProgram, _Evaluator]] = {}


def _evaluator(gp: GradientProgram) -> _Evaluator:
    hit = _EVAL_CACHE.get(id(gp))
    if hit is None or hit[0] is not gp:
        if len(_EVAL_CACHE) > 64:
            _EVAL_CACHE.clear()
        hit = (gp, _Evaluator(gp))
        _EVAL_CACHE[id(gp)] = hit
    return hit[1]


def circuit_expvals(gp: GradientProgram, params, inputs, executor: Executor | None = None,
                    batch_bytes: int = DEFAULT_BATCH_BYTES) -> np.ndarray:
    """Outputs of every shifted circuit for every sample, (num_circuits, B, n_outputs), evaluated
    as one stack of (circuit, sample) rows of the shift-slot program."""
    ev = _evaluator(gp)
    p, x, B = _rows(gp.program, params, inputs)
    C = gp.num_circuits
    if C == 0:
        return np.zeros((0, B, gp.program.num_outputs))
    ex = executor or default_executor()
    P = np.concatenate([np.repeat(p[None], C, 0), np.repeat(ev.shifts[:, None, :], B, 1)], axis=2)
    X = np.broadcast_to(x[None], (C, B, x.shape[1]))
    out = _run_rows(ex, ev.slot_program, P.reshape(C * B, -1), X.reshape(C * B, -1), batch_bytes)
    return out.reshape(C, B, gp.program.num_outputs)


def combine(gp: GradientProgram, expvals: np.ndarray, params, inputs) -> np.ndarray:
    """Recombine circuit outputs (C, B, n_out) with the symbolic coefficients.

    Returns (B, n_out, n_wrt) for order 1 and (B, n_out, n_wrt, n_wrt) (symmetric) for order 2.
    """
    ev = _evaluator(gp)
    p, x, B = _rows(gp.program, params, inputs)
    n_out, n = gp.program.num_outputs, len(gp.wrt)
    shape = (B, n_out) + (n,) * gp.order
    out = np.zeros(shape)
    if ev.coeffs is None or len(ev.circ) == 0:
        return out
    coeff = ev.coeffs(p, x)  # (K, B)
    o = ev.keys[:, 0]
    contrib = coeff[ev.kidx] * expvals[ev.circ, :, o]  # (T, B)
    flat = np.zeros((int(np.prod((n_out,) + (n,) * gp.order)), B))
    lin = np.ravel_multi_index(tuple(ev.keys.T), (n_out,) + (n,) * gp.order)
    np.add.at(flat, lin, contrib)
    out = np.moveaxis(flat.reshape((n_out,) + (n,) * gp.order + (B,)), -1, 0)
    if gp.order == 2:
        upper = np.triu(np.ones((n, n), dtype=bool), 1)
        out = out + np.where(upper, out, 0.0).swapaxes(-1, -2)
    return np.ascontiguousarray(out)


def evaluate_gradient_program(gp: GradientProgram, params, inputs=None, executor: Executor | None = None,
                              batch_bytes: int = DEFAULT_BATCH_BYTES) -> np.ndarray:
    """Evaluate a GradientProgram: (B, n_out, n_wrt), or (B, n_out, n_wrt, n_wrt) for order 2."""
    return combine(gp, circuit_expvals(gp, params, inputs, executor, batch_bytes), params, inputs)


def parameter_shift_gradient(program: Program, params, inputs=None, executor: Executor | None = None,
                             wrt: str = "params", batch_bytes: int = DEFAULT_BATCH_BYTES) -> np.ndarray:
    """d outputs / d (params | inputs | both) by parameter shift, (B, n_outputs, n_wrt)."""
    return evaluate_gradient_program(gradient_program(program, wrt, 1), params, inputs, executor, batch_bytes)


def hessian(program: Program, params, inputs=None, executor: Executor | None = None, wrt: str = "params",
            method: str = "parameter-shift", batch_bytes: int = DEFAULT_BATCH_BYTES) -> np.ndarray:
    """Second derivatives (B, n_outputs, n_wrt, n_wrt) by shift rules applied twice (or finite differences)."""
    if method == "parameter-shift":
        return evaluate_gradient_program(gradient_program(program, wrt, 2), params, inputs, executor, batch_bytes)
    if method == "finite-diff":
        return finite_diff_hessian(program, params, inputs, executor, wrt)
    raise InputError(f"unknown Hessian method '{method}'; choose parameter-shift or finite-diff")


def _perturbed(program: Program, p: np.ndarray, x: np.ndarray, wrt: str, deltas: np.ndarray):
    """Rows with the wrt variables (params then inputs) moved by each row of ``deltas`` (D, n_wrt):
    returns params (D, B, P) and inputs (D, B, I)."""
    P = p.shape[1]
    n_p = P if wrt in ("params", "both") else 0
    D = deltas.shape[0]
    pp = np.repeat(p[None], D, 0).copy()
    xx = np.repeat(x[None], D, 0).copy()
    if n_p:
        pp += deltas[:, None, :n_p]
    if wrt in ("inputs", "both"):
        xx += deltas[:, None, n_p:]
    return pp, xx


def finite_diff_gradient(program: Program, params, inputs=None, executor: Executor | None = None,
                         wrt: str = "params", h: float = 1e-5, batch_bytes: int = DEFAULT_BATCH_BYTES) -> np.ndarray:
    """Central finite differences (B, n_outputs, n_wrt); all 2 n_wrt shifted rows in one batch."""
    n = len(wrt_symbols(program, wrt))
    p, x, B = _rows(program, params, inputs)
    ex = executor or default_executor()
    eye = np.eye(n) * h
    deltas = np.concatenate([eye, -eye])
    pp, xx = _perturbed(program, p, x, wrt, deltas)
    out = _run_rows(ex, program, pp.reshape(2 * n * B, -1), xx.reshape(2 * n * B, -1), batch_bytes)
    out = out.reshape(2, n, B, program.num_outputs)
    g = (out[0] - out[1]) / (2 * h)  # (n, B, n_out)
    return np.ascontiguousarray(g.transpose(1, 2, 0))


def finite_diff_hessian(program: Program, params, inputs=None, executor: Executor | None = None,
                        wrt: str = "params", h: float = 1e-5,
                        grad: Callable | None = None) -> np.ndarray:
    """Central differences of the parameter-shift gradient (B, n_outputs, n_wrt, n_wrt), symmetrized."""
    n = len(wrt_symbols(program, wrt))
    p, x, B = _rows(program, params, inputs)
    grad = grad or (lambda pr, xr: parameter_shift_gradient(program, pr, xr, executor, wrt))
    eye = np.eye(n) * h
    deltas = np.concatenate([eye, -eye])
    pp, xx = _perturbed(program, p, x, wrt, deltas)
    g = grad(pp.reshape(2 * n * B, -1), xx.reshape(2 * n * B, -1)).reshape(2, n, B, program.num_outputs, n)
    H = (g[0] - g[1]) / (2 * h)  # (n_i, B, n_out, n_j)
    H = H.transpose(1, 2, 0, 3)
    return 0.5 * (H + H.swapaxes(-1, -2))


# -- shot-based parameter shift -----------------------------------------------------------------

_SHOT_SIMS: dict[tuple, tuple[Program, object]] = {}


def _slot_simulator(program: Program, options: dict):
    """A (cached) exact simulator of ``program``; shots are drawn by qcomp.backends.shots."""
    from ..backends.simulator import Simulator

    opts = {k: v for k, v in options.items() if k not in ("shots", "seed")}
    key = (id(program), tuple(sorted(opts.items())))
    hit = _SHOT_SIMS.get(key)
    if hit is None or hit[0] is not program:
        if len(_SHOT_SIMS) > 32:
            _SHOT_SIMS.clear()
        hit = _SHOT_SIMS[key] = (program, Simulator(program, **opts))
    return hit[1]


def shot_parameter_shift_gradient(program: Program, params, inputs=None, shots: int = 1000,
                                  rng: np.random.Generator | int | None = None, wrt: str = "params",
                                  **options) -> tuple[np.ndarray, np.ndarray]:
    """Parameter-shift gradients estimated with ``shots`` measurements of every shifted circuit
    (per measurement group, qcomp.backends.shots), and their standard errors: two arrays
    (B, n_outputs, n_wrt). The shifted circuits are sampled independently, so the variance of a
    derivative is sum_c coeff_c**2 var(<O>_c). ``rng``: a numpy Generator or a seed; ``options``:
    Simulator options (precision, batch_size, ...)."""
    from ..backends.shots import check_shots, sample_observables

    n = check_shots(shots)
    if not isinstance(n, int):
        raise InputError("shot_parameter_shift_gradient takes one number of shots, not a shot vector")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    gp = gradient_program(program, wrt, 1)
    ev = _evaluator(gp)
    p, x, B = _rows(program, params, inputs)
    C, n_out = gp.num_circuits, program.num_outputs
    shape = (B, n_out, len(gp.wrt))
    if C == 0 or ev.coeffs is None or len(ev.circ) == 0:
        return np.zeros(shape), np.zeros(shape)
    P = np.concatenate([np.repeat(p[None], C, 0), np.repeat(ev.shifts[:, None, :], B, 1)], axis=2)
    X = np.broadcast_to(x[None], (C, B, x.shape[1]))
    sim = _slot_simulator(ev.slot_program, options)
    mean, cov = sample_observables(sim, P.reshape(C * B, -1), X.reshape(C * B, -1),
                                   ev.slot_program.observables, n, gen)
    E = mean.reshape(C, B, n_out)
    V = np.diagonal(cov, axis1=1, axis2=2).reshape(C, B, n_out)
    grad = combine(gp, E, p, x)
    # a circuit's terms in one derivative add before squaring (its samples are one draw)
    lin = np.ravel_multi_index(tuple(ev.keys.T), (n_out, len(gp.wrt)))
    pairs, inv = np.unique(lin * C + ev.circ, return_inverse=True)
    agg = np.zeros((len(pairs), B))
    np.add.at(agg, inv.reshape(-1), ev.coeffs(p, x)[ev.kidx])
    key, circ = pairs // C, pairs % C
    flat = np.zeros((n_out * len(gp.wrt), B))
    np.add.at(flat, key, agg**2 * V[circ, :, key // len(gp.wrt)])
    err = np.sqrt(np.clip(np.moveaxis(flat.reshape(n_out, len(gp.wrt), B), -1, 0), 0.0, None))
    return grad, np.ascontiguousarray(err)


# -- hooks for qcomp.backends.simulator.Simulator --------------------------------------------

_SIM_EXECUTORS: dict[tuple, SimulatorExecutor] = {}


def simulator_executor_for(sim) -> SimulatorExecutor:
    """A (cached) executor running shifted circuits with the same options as ``sim``."""
    opts = {
        "precision": getattr(sim, "precision", "double"),
        "batch_size": getattr(sim, "batch_size", None),
        "max_memory_bytes": getattr(sim, "max_memory_bytes", None),
    }
    key = tuple(sorted(opts.items()))
    ex = _SIM_EXECUTORS.get(key)
    if ex is None:
        ex = _SIM_EXECUTORS[key] = SimulatorExecutor(**opts)
    return ex


def simulator_gradient(sim, params, inputs=None, method: str = "parameter-shift", wrt: str = "params") -> np.ndarray:
    """``sim.gradient`` for method "parameter-shift" (all shifted circuits in one batched state) or
    "finite-diff" (central, h = 1e-5): (B, n_outputs, n_wrt)."""
    ex = simulator_executor_for(sim)
    if method == "parameter-shift":
        return parameter_shift_gradient(sim.program, params, inputs, ex, wrt=wrt)
    if method == "finite-diff":
        return finite_diff_gradient(sim.program, params, inputs, ex, wrt=wrt)
    raise InputError(f"unknown gradient method '{method}'")


def simulator_hessian(sim, params, inputs=None, method: str = "parameter-shift", wrt: str = "params") -> np.ndarray:
    """``sim.hessian``: (B, n_outputs, n_wrt, n_wrt) by shift rules applied twice (or finite differences)."""
    return hessian(sim.program, params, inputs, simulator_executor_for(sim), wrt=wrt, method=method)


GRADIENT_METHODS = ("adjoint", "parameter-shift", "finite-diff")


def _exact_options(sim) -> dict:
    """``sim``'s simulator options without its shots and seed (the shifted circuits' simulator is exact)."""
    return {k: v for k, v in sim.options.items() if k not in ("shots", "seed")}


class GradientMethods:
    """Mixin for a simulator class: ``gradient(method=...)`` for every method and ``hessian``.

    The simulator computes adjoint gradients itself; parameter shift and finite differences run
    shifted or perturbed circuits through it as an executor.
    """

    def gradient(self, params=None, inputs=None, method: str | None = None) -> np.ndarray:
        """d expval / d params (B, n_outputs, P): ``method`` "adjoint" (the default without shots),
        "parameter-shift" (the default and the only method with shots: every shifted circuit
        sampled) or "finite-diff"."""
        if getattr(self, "shots", None) is not None:
            if method not in (None, "parameter-shift"):
                raise QCompError(f"a simulator with shots estimates gradients by parameter shift, not '{method}'"
                                 " (adjoint and finite differences need exact values)")
            return self._per_shots(lambda n: self._shot_gradient(params, inputs, n)[0])  # type: ignore[attr-defined]
        method = method or "adjoint"
        if method == "adjoint":
            return super().gradient(params, inputs)  # type: ignore[misc]
        if method not in GRADIENT_METHODS:
            raise QCompError(f"unknown gradient method '{method}'; valid methods: {', '.join(GRADIENT_METHODS)}")
        return self._shaped(simulator_gradient(self, params, inputs, method), params, inputs)  # type: ignore[attr-defined]

    # -- with shots: parameter shift on sampled shifted circuits ------------------------------
    def _shot_gradient(self, params, inputs, shots: int) -> tuple[np.ndarray, np.ndarray]:
        self._args(params, inputs)  # type: ignore[attr-defined]
        g, e = shot_parameter_shift_gradient(self.program, params, inputs, shots, self._rng,  # type: ignore[attr-defined]
                                             **_exact_options(self))
        return self._shaped(g, params, inputs), self._shaped(e, params, inputs)  # type: ignore[attr-defined]

    def gradient_estimate(self, params=None, inputs=None, shots: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Shot-based parameter-shift gradient and its standard error, both (B, n_outputs, P)
        ((n_outputs, P) unbatched); ``shots`` overrides the simulator's."""
        from ..backends.shots import check_shots

        n = check_shots(shots) if shots is not None else getattr(self, "shots", None)
        if not isinstance(n, int):
            raise InputError("gradient_estimate needs one number of shots (the simulator's or shots=N)")
        return self._shot_gradient(params, inputs, n)

    def _single_shots(self) -> int:
        if isinstance(self.shots, tuple):  # type: ignore[attr-defined]
            raise QCompError("training needs one number of shots per estimate, not a shot vector")
        return self.shots  # type: ignore[attr-defined]

    def vjp(self, params, inputs, cotangent):
        if getattr(self, "shots", None) is None:
            return super().vjp(params, inputs, cotangent)  # type: ignore[misc]
        P, X, B, _, _ = self._args(params, inputs)  # type: ignore[attr-defined]
        cot = check_cotangent(cotangent, B, self.program.num_outputs)  # type: ignore[attr-defined]
        g, _ = shot_parameter_shift_gradient(self.program, params, inputs, self._single_shots(), self._rng,  # type: ignore[attr-defined]
                                             **_exact_options(self))
        return self._params_shaped(np.einsum("bo,bop->bp", cot, g), params)  # type: ignore[attr-defined]

    def value_and_vjp(self, params, inputs, cotangent_fn):
        if getattr(self, "shots", None) is None:
            return super().value_and_vjp(params, inputs, cotangent_fn)  # type: ignore[misc]
        n = self._single_shots()
        P, X, B, _, _ = self._args(params, inputs)  # type: ignore[attr-defined]
        values = np.atleast_2d(self.expval(params, inputs))  # type: ignore[attr-defined]
        cot = np.asarray(cotangent_fn(values, slice(0, B)), dtype=float)
        if cot.shape != values.shape or not np.all(np.isfinite(cot)):
            raise InputError(f"cotangent_fn returned shape {cot.shape} or non-finite values; expected finite {values.shape}")
        g, _ = shot_parameter_shift_gradient(self.program, params, inputs, n, self._rng, **_exact_options(self))
        return (self._shaped(values, params, inputs),  # type: ignore[attr-defined]
                self._params_shaped(np.einsum("bo,bop->bp", cot, g), params))  # type: ignore[attr-defined]

    def value_and_gradient(self, params=None, inputs=None):
        if getattr(self, "shots", None) is None:
            return super().value_and_gradient(params, inputs)  # type: ignore[misc]
        return self.expval(params, inputs), self.gradient(params, inputs)  # type: ignore[attr-defined]

    def hessian(self, params, inputs=None, method: str = "parameter-shift", wrt: str = "params") -> np.ndarray:
        """Second derivatives (B, n_outputs, n, n) by shift rules applied twice ("parameter-shift")
        or central differences of the gradient ("finite-diff"); (n_outputs, n, n) when no argument
        is batched, as every simulator result (qcomp.ir.values)."""
        if getattr(self, "shots", None) is not None:
            raise QCompError("Hessians with shots are not implemented; use a simulator without shots")
        return self._shaped(simulator_hessian(self, params, inputs, method, wrt), params, inputs)  # type: ignore[attr-defined]
