"""Gradients and Hessians of program outputs: parameter shift (batched), finite differences, evaluation of GradientPrograms."""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from ..errors import InputError, QCompError
from ..ir.expr import CompiledExprs
from ..ir.program import Program
from ..ir.values import bind_pair
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


class GradientMethods:
    """Mixin for a simulator class: ``gradient(method=...)`` for every method and ``hessian``.

    The simulator computes adjoint gradients itself; parameter shift and finite differences run
    shifted or perturbed circuits through it as an executor.
    """

    def gradient(self, params=None, inputs=None, method: str = "adjoint") -> np.ndarray:
        if method == "adjoint":
            return super().gradient(params, inputs)  # type: ignore[misc]
        if method not in GRADIENT_METHODS:
            raise QCompError(f"unknown gradient method '{method}'; valid methods: {', '.join(GRADIENT_METHODS)}")
        return self._shaped(simulator_gradient(self, params, inputs, method), params, inputs)  # type: ignore[attr-defined]

    def hessian(self, params, inputs=None, method: str = "parameter-shift", wrt: str = "params") -> np.ndarray:
        """Second derivatives (B, n_outputs, n, n) by shift rules applied twice ("parameter-shift")
        or central differences of the gradient ("finite-diff"); (n_outputs, n, n) when no argument
        is batched, as every simulator result (qcomp.ir.values)."""
        return self._shaped(simulator_hessian(self, params, inputs, method, wrt), params, inputs)  # type: ignore[attr-defined]
