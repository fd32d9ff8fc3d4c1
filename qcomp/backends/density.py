"""Exact density-matrix simulation of noisy programs (batched over rows), with adjoint gradients.

A density matrix of n qubits is stored as a 2n-qubit vector in split complex planes (real and
imaginary rows of 4**n floats): rho[r, c] sits at index (r << n) | c, so column bit q is vector
bit q and row bit q is vector bit q + n. A unitary U on qubits a acts as U on the row bits and
conj(U) on the column bits; a channel acts as its superoperator sum_k K_k (x) conj(K_k) on both.
Both run through the fused engine's statevector kernels (``qcomp.backends.engine``: dense 1-, 2-
and k-qubit kernels and the cross-matrix kernels of its adjoint), which do not care that the
vector is a density matrix.

Plan: runs of one-qubit gates and one-qubit channels on a qubit are fused into one 4x4
superoperator (one pass over the state); multi-qubit gates are two passes (rows, then columns);
multi-qubit channels one pass of their superoperator.

Gradients (adjoint on the density matrix): with Lambda the observable (or the cotangent-weighted
sum of observables), d<Lambda, rho>/d theta = sum_steps <lambda_j, dS_j rho_{j-1}>, lambda_j =
S_{j+1}^dagger ... Lambda. Channels cannot be undone, so rho_{j-1} is not recomputed backwards as
in the statevector adjoint: the forward sweep keeps every ceil(sqrt(L))-th density matrix and the
backward sweep recomputes one segment at a time (about 2 sqrt(L) density matrices per row, two
forward sweeps and one backward sweep). Per fused step one cross matrix C = sum rho_in lambda^dagger
over the step's bits gives every derivative inside it as Tr(dS C) in the small space.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import InputError, ResourceLimitError, UnsupportedError
from ..ir.channels import CHANNELS, READOUT_ERROR, ChannelError, is_channel
from ..ir.expr import CompiledExprs
from ..ir.dynamic import defer_measurements
from ..ir.gates import DYNAMIC_OPS, GATES, is_fence
from ..ir.program import Program
from ..ir.values import batch_shaped, bind_pair, bind_values, check_cotangent, select_qubits
from . import engine as E
from . import kernels as K

__all__ = ["DEFAULT_MAX_QUBITS", "DensityMatrixSimulator", "NoisyBase", "density_bytes", "pauli_tables"]

ArrayLike = Any

# The automatic choice ("auto") simulates density matrices up to this many qubits (a 12-qubit
# density matrix is 256 MiB), trajectories above.
DEFAULT_MAX_QUBITS = 12
# A batch smaller than the thread count splits each pass of a row over the threads from this size
# (4**8 entries: 1 MiB per plane), below it the pool's hand-off costs more than the pass.
SPLIT_ROW_SIZE = 4**8


def density_bytes(n: int) -> int:
    """Bytes of one n-qubit density matrix (complex128)."""
    return 16 * 4**n


def _available_memory() -> int:
    from .simulator import available_memory

    return available_memory()


def _fmt(b: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if b < 1024 or unit == "TiB":
            return f"{b:.1f} {unit}" if unit != "B" else f"{int(b)} B"
        b /= 1024
    return str(b)


def to_local(m: np.ndarray, bits: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """A (..., 2**k, 2**k) matrix on ``bits`` in argument order (bits[0] most significant) as
    (sorted bits ascending, matrix whose index bit j is sorted[j]), the engine kernels' layout."""
    k = len(bits)
    qs = sorted(bits)
    if list(bits) == qs[::-1]:  # already most significant first = descending
        return np.asarray(qs, dtype=np.int64), np.ascontiguousarray(m)
    lead = m.shape[:-2]
    t = m.reshape(lead + (2,) * (2 * k))
    perm = [list(bits).index(b) for b in reversed(qs)]
    nl = len(lead)
    axes = list(range(nl)) + [nl + p for p in perm] + [nl + k + p for p in perm]
    t = t.transpose(axes)
    return np.asarray(qs, dtype=np.int64), np.ascontiguousarray(t.reshape(m.shape))


def _apply(re: np.ndarray, im: np.ndarray, qs: np.ndarray, m: np.ndarray, part: int = 0, parts: int = 1) -> None:
    """Apply the local matrix m on bits qs of one split-complex row (engine kernels); with
    ``parts`` > 1 only this part's share of the base index range (threads split one row)."""
    k = len(qs)
    pairs = re.size >> k
    sl = E._split(pairs, part, parts) if parts > 1 else slice(0, pairs)
    if k == 1:
        E._apply1(re, im, int(qs[0]), m, sl.start, sl.stop)
    elif k == 2:
        E._apply2(re, im, int(qs[0]), int(qs[1]), m, sl.start, sl.stop)
    else:
        E._applyk(re, im, qs, k, m, sl.start, sl.stop)


def _cross(pr, pi, lr, li, qs: np.ndarray) -> np.ndarray:
    """C[a, b] = sum over the other bits of rho[(a, rest)] conj(lam[(b, rest)])."""
    k = len(qs)
    C = np.zeros((1 << k, 1 << k), dtype=np.complex128)
    E._cross(pr, pi, lr, li, qs, k, 0, pr.size >> k, C)
    return C


def pauli_tables(term_paulis, n: int) -> tuple[int, int, int]:
    """(x mask, z mask, number of Y) of a Pauli word given as (qubit, letter) pairs."""
    x = z = ny = 0
    for q, p in term_paulis:
        if p in "XY":
            x |= 1 << q
        if p in "ZY":
            z |= 1 << q
        if p == "Y":
            ny += 1
    return x, z, ny


def _parity(v: np.ndarray) -> np.ndarray:
    v = v.copy()
    out = np.zeros(v.shape, dtype=np.int64)
    while np.any(v):
        out ^= v & 1
        v >>= 1
    return out


@dataclass
class _Step:
    """One pass (or two, for a multi-qubit gate) over the density matrix.

    kind "super": ``ops`` (one-qubit gates and channels on one qubit, fused in order, or one
    multi-qubit channel) as a superoperator on bits [a + n ..., a ...]; kind "unitary": one gate of
    k >= 2 qubits, U on the row bits and conj(U) on the column bits.
    """

    kind: str
    qubits: tuple[int, ...]
    ops: list[int]
    diff: bool = False  # some op's angles hold params or inputs (else its matrices are built once)


class NoisyBase:
    """What the density-matrix and trajectory simulators share: argument binding, channel
    parameter checks, readout errors, declared outputs and the shape rule."""

    program: Program
    n: int

    def _setup(self, program: Program, threads: int | None, max_memory_bytes: int | None,
               shots: Any = None, seed: Any = None, defer: bool = True) -> None:
        from . import shots as S

        # shots (qcomp.backends.shots): expval, probs, outputs and the gradients become estimates
        # from this many measurements per group, drawn from one generator seeded once
        self.shots = S.check_shots(shots)
        self._rng = np.random.default_rng(S.check_seed(seed))
        if max_memory_bytes is not None and (not isinstance(max_memory_bytes, (int, np.integer)) or max_memory_bytes <= 0):
            raise InputError(f"max_memory_bytes must be a positive integer, got {max_memory_bytes!r}")
        if threads is not None and (not isinstance(threads, (int, np.integer)) or threads < 1):
            raise InputError(f"threads must be a positive integer, got {threads!r}")
        # dynamic circuits run with their measurements deferred to ancillas (qcomp.ir.dynamic),
        # unless the caller simulates their branches itself (qcomp.backends.dynamic_sim)
        if defer:
            program = defer_measurements(program)
        self.program = program
        self.n = program.num_qubits
        self.threads = int(threads) if threads else K.default_threads()
        self.max_memory_bytes = max_memory_bytes
        # fences (barrier) order compilation only: the density matrix does not see them (channels
        # stay even if they are registered as fences for the passes, and so do undeferred measure/reset)
        all_ops = [op for op in program.circuit.ops()
                   if is_channel(op.name) or not is_fence(op.name) or (not defer and op.name in DYNAMIC_OPS)]
        self._readout_ops = [op for op in all_ops if op.name == READOUT_ERROR]
        self._ops = [op for op in all_ops if op.name != READOUT_ERROR]
        for op in self._ops:
            if op.name not in GATES and op.name not in CHANNELS and op.name != "unitary" and \
                    (defer or op.name not in DYNAMIC_OPS):
                raise UnsupportedError(f"cannot simulate '{op.name}': not a gate or channel", op.span)
        self._exprs = CompiledExprs([a for op in self._ops for a in op.angles]
                                    + [a for op in self._readout_ops for a in op.angles])
        self._angle_at: list[int] = []
        k = 0
        for op in self._ops:
            self._angle_at.append(k)
            k += len(op.angles)
        self._readout_at = k

    # -- arguments ----------------------------------------------------------------------
    def _args(self, params: ArrayLike, inputs: ArrayLike) -> tuple[np.ndarray, np.ndarray, int, bool]:
        P, X, B, pb, xb = bind_pair(self.program.params, self.program.inputs, params, inputs)
        return P, X, B, pb or xb

    def _rows(self, P: np.ndarray, X: np.ndarray, B: int) -> tuple[np.ndarray, np.ndarray]:
        return np.broadcast_to(P, (B, P.shape[1])), np.broadcast_to(X, (B, X.shape[1]))

    def _angles(self, P: np.ndarray, X: np.ndarray, B: int) -> np.ndarray:
        """Every op's angle values, (n_angles, B), with channel parameters checked."""
        if not self._exprs.exprs:
            return np.zeros((0, B))
        Pr, Xr = self._rows(P, X, B)
        vals = np.broadcast_to(np.asarray(self._exprs(np.ascontiguousarray(Pr), np.ascontiguousarray(Xr)),
                                          dtype=float), (len(self._exprs.exprs), B))
        for op, at in zip(self._ops, self._angle_at):
            if op.name in CHANNELS and op.is_parametric:
                ch = CHANNELS[op.name]
                msg = ch.check(*vals[at:at + ch.num_params])
                if msg is not None:
                    where = f" (the channel at {op.span})" if op.span is not None else ""
                    raise ChannelError(f"{msg}{where}: the bound params/inputs make it unphysical")
        return vals

    def _readout(self, vals: np.ndarray) -> dict[int, np.ndarray]:
        """Per measured qubit the (B, 2, 2) confusion matrix M[read, true] of its readout errors."""
        out: dict[int, np.ndarray] = {}
        at = self._readout_at
        B = vals.shape[1]
        for op in self._readout_ops:
            p01, p10 = vals[at], vals[at + 1]
            at += 2
            bad = ~((p01 >= 0) & (p01 <= 1) & (p10 >= 0) & (p10 <= 1))
            if np.any(bad):
                where = f" (at {op.span})" if op.span is not None else ""
                raise ChannelError(f"'readout_error' needs 0 <= p01, p10 <= 1{where}")
            M = np.empty((B, 2, 2))
            M[:, 0, 0], M[:, 1, 0] = 1 - p01, p01
            M[:, 0, 1], M[:, 1, 1] = p10, 1 - p10
            q = op.qubits[0]
            out[q] = M @ out[q] if q in out else M
        return out

    def _apply_readout(self, p: np.ndarray, confusion: dict[int, np.ndarray], rows: Any) -> np.ndarray:
        """Full (B, 2**n) outcome probabilities through each qubit's confusion matrix."""
        return self._confuse(p, tuple(range(self.n)), confusion, rows)

    @staticmethod
    def _confuse(p: np.ndarray, qubits: Sequence[int], confusion: dict[int, np.ndarray], rows: Any) -> np.ndarray:
        """Outcome probabilities (b, 2**m) of ``qubits`` (bit j is qubits[j]) through the confusion
        matrices of those qubits (rows ``rows`` of each (B, 2, 2)): readout acts per qubit, so it
        commutes with marginalising the others away."""
        mine = [(j, confusion[q]) for j, q in enumerate(qubits) if q in confusion]
        if not mine:
            return p
        b, m = p.shape[0], len(qubits)
        t = p.reshape((b,) + (2,) * m)
        for j, M in mine:
            ax = 1 + (m - 1 - j)
            t = np.moveaxis(np.einsum("bij,bj...->bi...", M[rows], np.moveaxis(t, ax, 1)), 1, ax)
        return np.ascontiguousarray(t).reshape(b, -1)

    def _qubits(self, qubits: Sequence[int] | None) -> tuple[int, ...]:
        return select_qubits(qubits, self.program.visible_qubits, self.program.measured)

    def _shaped(self, rows: Any, batched: bool) -> Any:
        return batch_shaped(rows, batched)

    def _params_shaped(self, g: np.ndarray, params: ArrayLike) -> np.ndarray:
        rows, pb = bind_values(self.program.params, params, "param", allow_none=True)
        if not pb:
            return g.sum(axis=0)
        return g if rows.shape[0] == g.shape[0] else g.sum(axis=0, keepdims=True)

    # -- shared verbs --------------------------------------------------------------------
    def expval_batch(self, param_rows: np.ndarray, input_rows: np.ndarray | None = None) -> np.ndarray:
        """``expval`` of many rows: param_rows (B, P), input_rows (B, I) or None."""
        pr = np.atleast_2d(np.asarray(param_rows, dtype=float))
        if self.program.num_inputs == 0 and input_rows is None:
            return self.expval(pr, None)
        return self.expval(pr, np.atleast_2d(np.asarray(input_rows, dtype=float)))

    def sample(self, params: ArrayLike = None, inputs: ArrayLike = None, shots: int = 1024,
               seed: int | None = None, qubits: Sequence[int] | None = None) -> Any:
        """Counts per row of ``shots`` noisy measurements (readout errors included; on trajectories
        each shot is its own trajectory); bitstrings Qiskit-style (rightmost character is qubits[0])."""
        if not isinstance(shots, (int, np.integer)) or isinstance(shots, bool) or shots < 1:
            raise InputError(f"shots must be a positive integer, got {shots!r}")
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
            raise InputError(f"seed must be a non-negative integer or None, got {seed!r}")
        qs = self._qubits(qubits)
        counts, _ = self._measurement_counts(params, inputs, [(qs, ("Z",) * len(qs))], int(shots),
                                            np.random.default_rng(seed))
        out = [{format(int(i), f"0{len(qs)}b"): int(row[i]) for i in np.flatnonzero(row)} for row in counts[0]]
        return self._shaped(out, self._args(params, inputs)[3])

    def state(self, params: ArrayLike = None, inputs: ArrayLike = None) -> np.ndarray:
        raise UnsupportedError("a noisy program has no state vector; use density_matrix() (density-matrix "
                               "method) or probs()/expval()")

    def outputs(self, params: ArrayLike = None, inputs: ArrayLike = None, outputs: Sequence[Any] | None = None,
                seed: int | None = None) -> list[np.ndarray]:
        """The value of each output kind (default: the program's), as ``Simulator.outputs``."""
        from .outputs import evaluate

        if self.shots is not None:
            return self._per_shots(lambda k: list(self.estimate(params, inputs, outputs, shots=k).values))
        return evaluate(self, self.program.outputs if outputs is None else tuple(outputs), params, inputs, seed)

    def value_and_gradient(self, params: ArrayLike = None, inputs: ArrayLike = None) -> tuple[np.ndarray, np.ndarray]:
        return self.expval(params, inputs), self.gradient(params, inputs)

    def value_and_vjp(self, params: ArrayLike, inputs: ArrayLike,
                      cotangent_fn: Callable[[np.ndarray, slice], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Values and the vjp of ``cotangent_fn(values_rows, rows)`` (whole batch as one chunk)."""
        if self.shots is not None:
            return self._shot_value_and_vjp(params, inputs, cotangent_fn)
        P, X, B, batched = self._args(params, inputs)
        values = np.atleast_2d(self.expval(params, inputs))
        cot = np.asarray(cotangent_fn(values, slice(0, B)), dtype=float)
        g = self.vjp(params, inputs, cot)
        return values, g


    # -- shots (qcomp.backends.shots; docs/shots.md, docs/noise.md) ---------------------------
    def _measurement_counts(self, params: ArrayLike, inputs: ArrayLike,
                            bases: Sequence[tuple[tuple[int, ...], tuple[str, ...]]], shots: int | Sequence[int],
                            rng: np.random.Generator, vals: np.ndarray | None = None) -> tuple[list[np.ndarray], int]:
        """The shots hook: counts (B, 2**m) of ``shots`` measurements of each (qubits, basis), readout
        errors included, and B. ``vals`` overrides the bound angles (n_angles, B) (shifted circuits)."""
        raise NotImplementedError

    def _per_shots(self, fn: Callable[[int], Any]) -> Any:
        """``fn(shots)`` for the simulator's shots, or a tuple over a shot vector (as PennyLane)."""
        if isinstance(self.shots, tuple):
            return tuple(fn(k) for k in self.shots)
        return fn(self.shots)

    def _single_shots(self) -> int:
        if isinstance(self.shots, tuple):
            raise InputError("gradients for training need one number of shots, not a shot vector")
        return self.shots  # type: ignore[return-value]

    def estimate(self, params: ArrayLike = None, inputs: ArrayLike = None, outputs: Sequence[Any] | None = None,
                 shots: int | Sequence[int] | None = None, seed: int | None = None) -> Any:
        """Shot estimates and standard errors of ``outputs`` (default: the program's), as
        ``Simulator.estimate``: a ``qcomp.backends.shots.Estimate`` (a tuple of them for a shot
        vector). Draws come from the simulator's seeded generator, or a new one seeded with ``seed``."""
        from . import shots as S

        return S.estimate_call(self, params, inputs, outputs, shots if shots is not None else self.shots,
                               self._rng if seed is None else S.check_seed(seed))

    def _shot_values(self, params: ArrayLike, inputs: ArrayLike) -> Any:
        from . import shots as S

        return self._per_shots(lambda k: S.expval(self, params, inputs, k, self._rng)[0])

    def _shot_probs(self, params: ArrayLike, inputs: ArrayLike, qubits: Sequence[int] | None) -> Any:
        from . import shots as S

        qs = self._qubits(qubits)
        return self._per_shots(lambda k: S.probs(self, params, inputs, qs, k, self._rng))

    def _shift_rules(self, kind: str, advice: str) -> list[tuple[int, float, float, CompiledExprs, list[int]]]:
        """Parameter shift on gate angles: per (op, angle, shift) the angle's index, the shift, its
        coefficient, the derivatives of the angle by the params (``kind`` "param") or inputs
        ("input") it holds and their indices. An angle of a channel (or of anything but a library
        gate) that holds one has no shift rule: refused, with ``advice``."""
        from ..ir.gates import gate_rule

        out = []
        for i, op in enumerate(self._ops):
            for k, a in enumerate(op.angles):
                syms = sorted((s for s in a.symbols() if s.kind == kind), key=lambda s: s.index)
                if not syms:
                    continue
                if op.name in CHANNELS or op.name not in GATES:
                    raise UnsupportedError(f"parameter {k} of '{op.name}' depends on {kind}s, and {advice}", op.span)
                derivs = CompiledExprs([a.diff(s) for s in syms])
                for shift, coeff in gate_rule(op.name, k):
                    out.append((self._angle_at[i] + k, float(shift), float(coeff), derivs, [s.index for s in syms]))
        return out

    def _shift_entries(self, P: np.ndarray, X: np.ndarray, B: int, advice: str = (
            "with shots gradients are parameter shift, which has no rule for channel parameters; use a "
            "simulator without shots (adjoint on the density matrix)")) -> list[tuple[int, float, float, np.ndarray, list[int]]]:
        """``_shift_rules`` for the params, with d angle / d params evaluated per row (n_syms, B)."""
        Pr, Xr = (np.ascontiguousarray(a) for a in self._rows(P, X, B))
        factors: dict[int, np.ndarray] = {}
        out = []
        for at, shift, coeff, derivs, idx in self._shift_rules("param", advice):
            if id(derivs) not in factors:  # shared by the shifts of one angle
                factors[id(derivs)] = np.broadcast_to(np.asarray(derivs(Pr, Xr), dtype=float), (len(idx), B))
            out.append((at, shift, coeff, factors[id(derivs)], idx))
        return out

    def _shot_gradient(self, params: ArrayLike, inputs: ArrayLike, shots: int) -> tuple[np.ndarray, np.ndarray]:
        """Parameter-shift gradients (B, n_outputs, P) with every shifted circuit measured ``shots``
        times per group (independently), and their standard errors: a derivative's variance is
        sum over its shifted circuits of (coeff * d angle/d param)**2 var(<O>_shifted)."""
        from . import shots as S

        P, X, B, _ = self._args(params, inputs)
        nout, npar = self.program.num_outputs, self.program.num_params
        g, var = np.zeros((B, nout, npar)), np.zeros((B, nout, npar))
        vals = self._angles(P, X, B)
        entries = self._shift_entries(P, X, B)
        if not entries or not nout:
            return g, var
        shifted = np.tile(vals, (1, len(entries)))  # column s * B + b: shifted circuit s, row b
        for s, (at, shift, _, _, _) in enumerate(entries):
            shifted[at, s * B:(s + 1) * B] += shift
        mean, cov = S.sample_observables(_Shifted(self, shifted), params, inputs, self.program.observables, shots,
                                         self._rng)
        mean = mean.reshape(len(entries), B, nout)
        v = np.diagonal(cov, axis1=1, axis2=2).reshape(len(entries), B, nout)
        for s, (_, _, coeff, factors, idx) in enumerate(entries):
            for j, p in enumerate(idx):
                w = coeff * factors[j][:, None]
                g[:, :, p] += w * mean[s]
                var[:, :, p] += w * w * v[s]
        return g, np.sqrt(var)

    def gradient_estimate(self, params: ArrayLike = None, inputs: ArrayLike = None,
                          shots: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Shot-based parameter-shift gradient and its standard error, both (B, n_outputs, P)
        ((n_outputs, P) unbatched); ``shots`` overrides the simulator's."""
        from . import shots as S

        k = S.check_shots(shots) if shots is not None else self.shots
        if not isinstance(k, int):
            raise InputError("gradient_estimate needs one number of shots (the simulator's or shots=N)")
        batched = self._args(params, inputs)[3]
        g, e = self._shot_gradient(params, inputs, k)
        return self._shaped(g, batched), self._shaped(e, batched)

    def _shot_gradient_call(self, params: ArrayLike, inputs: ArrayLike, method: str | None) -> Any:
        if method not in (None, "parameter-shift"):
            raise UnsupportedError(f"a simulator with shots estimates gradients by parameter shift, not '{method}' "
                                   "(the adjoint needs exact values)")
        batched = self._args(params, inputs)[3]
        return self._per_shots(lambda k: self._shaped(self._shot_gradient(params, inputs, k)[0], batched))

    def _shot_vjp(self, params: ArrayLike, inputs: ArrayLike, cotangent: ArrayLike) -> np.ndarray:
        P, X, B, _ = self._args(params, inputs)
        cot = check_cotangent(cotangent, B, self.program.num_outputs)
        g, _ = self._shot_gradient(params, inputs, self._single_shots())
        return self._params_shaped(np.einsum("bo,bop->bp", cot, g), params)

    def _shot_value_and_vjp(self, params: ArrayLike, inputs: ArrayLike,
                            cotangent_fn: Callable[[np.ndarray, slice], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        from . import shots as S

        P, X, B, _ = self._args(params, inputs)
        values = np.atleast_2d(S.expval(self, params, inputs, self._single_shots(), self._rng)[0])
        cot = np.asarray(cotangent_fn(values, slice(0, B)), dtype=float)
        return values, self._shot_vjp(params, inputs, cot)


class _Shifted:
    """A noisy simulator seen through ``qcomp.backends.shots.measure`` with its bound angles
    replaced (the shifted circuits of a shot gradient, all rows at once)."""

    def __init__(self, sim: NoisyBase, vals: np.ndarray) -> None:
        self.sim, self.vals, self.n = sim, vals, sim.n

    def _measurement_counts(self, params, inputs, bases, shots, rng):
        return self.sim._measurement_counts(params, inputs, bases, shots, rng, vals=self.vals)


class DensityMatrixSimulator(NoisyBase):
    """Exact mixed-state simulation of a (noisy) Program, batched over rows.

    Same verbs and shapes as ``qcomp.backends.simulator.Simulator`` (``expval``, ``probs``,
    ``sample``, ``outputs``, ``gradient``, ``vjp``, ...); ``state`` is refused (use
    ``density_matrix``). Gradients are adjoint on the density matrix, with respect to params
    (gate angles and channel parameters alike). With ``shots=N`` (and ``seed``) values and gradients
    are shot estimates (``estimate``, ``gradient_estimate``; docs/shots.md): outcomes are drawn from
    the exact diagonal of U rho U^dagger for each measurement group's basis rotation U.
    """

    method = "density_matrix"

    def __init__(self, program: Program, *, threads: int | None = None, max_memory_bytes: int | None = None,
                 shots: int | Sequence[int] | None = None, seed: int | None = None) -> None:
        self._setup(program, threads, max_memory_bytes, shots, seed)
        self._steps = self._plan()
        self._obs_cache: dict[Any, Any] = {}
        self._options = {"threads": threads, "max_memory_bytes": max_memory_bytes, "shots": shots, "seed": seed}

    @property
    def options(self) -> dict[str, Any]:
        return dict(self._options)

    # -- plan ---------------------------------------------------------------------------
    def _plan(self, indices: Sequence[int] | None = None) -> list[_Step]:
        """The steps of the ops at ``indices`` (default: all), in order."""
        steps: list[_Step] = []
        pending: dict[int, list[int]] = {}

        def flush(q: int) -> None:
            ops = pending.pop(q, None)
            if ops:
                steps.append(_Step("super", (q,), ops, any(self._ops[i].is_parametric for i in ops)))

        for i in range(len(self._ops)) if indices is None else indices:
            op = self._ops[i]
            if len(op.qubits) == 1:
                pending.setdefault(op.qubits[0], []).append(i)
                continue
            for q in op.qubits:
                flush(q)
            kind = "super" if op.name in CHANNELS else "unitary"
            steps.append(_Step(kind, op.qubits, [i], op.is_parametric))
        for q in sorted(pending):
            flush(q)
        return steps

    def describe(self) -> str:
        lines = [f"density matrix of {self.n} qubits ({_fmt(density_bytes(self.n))} per row), {len(self._steps)} steps"]
        for s in self._steps:
            names = " ".join(self._ops[i].name for i in s.ops)
            lines.append(f"  {s.kind:8s} q{list(s.qubits)}: {names}")
        return "\n".join(lines)

    def state_passes(self) -> int:
        return sum(2 if s.kind == "unitary" else 1 for s in self._steps)

    # -- matrices -------------------------------------------------------------------------
    def _op_super(self, i: int, vals: np.ndarray) -> np.ndarray:
        """(B, 4**k, 4**k) superoperator of op i (B = 1 when constant; built once then)."""
        op = self._ops[i]
        const = self.__dict__.setdefault("_const_supers", {})
        if not op.is_parametric:
            if i not in const:
                const[i] = self._build_super(i, vals[:, :1] if vals.shape[1] else vals)
            return const[i]
        return self._build_super(i, vals)

    def _build_super(self, i: int, vals: np.ndarray) -> np.ndarray:
        op = self._ops[i]
        at = self._angle_at[i]
        v = [vals[at + k] if op.angles[k].symbols() else vals[at + k][:1] for k in range(len(op.angles))]
        if op.name in CHANNELS:
            S = CHANNELS[op.name].superop(*v)
            return S if S.ndim == 3 else S[None]
        U = self._op_unitary(i, vals)
        return _kron_conj(U, U)

    def _op_unitary(self, i: int, vals: np.ndarray) -> np.ndarray:
        op = self._ops[i]
        if op.name == "unitary":
            return np.asarray(op.matrix, dtype=complex)[None]
        at = self._angle_at[i]
        v = [vals[at + k] if op.angles[k].symbols() else vals[at + k][:1] for k in range(len(op.angles))]
        U = GATES[op.name].matrix(*v)
        return U if U.ndim == 3 else U[None]

    def _op_dsuper(self, i: int, k: int, vals: np.ndarray) -> np.ndarray:
        """d(superoperator of op i)/d(angle k), (B, 4**q, 4**q)."""
        op = self._ops[i]
        at = self._angle_at[i]
        v = [vals[at + j] for j in range(len(op.angles))]
        if op.name in CHANNELS:
            return CHANNELS[op.name].dsuperop(k, *v)
        g = GATES[op.name]
        freq = g.matrix_freq
        U = g.matrix(*v)
        if freq is not None:
            f = freq[k]
            vp, vm = list(v), list(v)
            vp[k] = v[k] + math.pi / (2 * f)
            vm[k] = v[k] - math.pi / (2 * f)
            dU = f / 2 * (g.matrix(*vp) - g.matrix(*vm))
        else:  # only a gate registered at run time with mixed-frequency entries gets here
            raise UnsupportedError(f"cannot differentiate gate '{op.name}' on the density matrix: its matrix entries "
                                   "mix frequencies (GateDef.matrix_freq is None)", op.span)
        return _kron_conj(dU, U) + _kron_conj(U, dU)

    def _step_mats(self, s: _Step, vals: np.ndarray) -> tuple[Any, ...]:
        """Local matrices of a step for all rows: ("super", qs, M) or ("unitary", qs_row, Mrow, qs_col, Mcol);
        a step without params or inputs is built once."""
        if not s.diff:
            cache = self.__dict__.setdefault("_const_steps", {})
            key = id(s)
            if key not in cache:
                cache[key] = self._build_step_mats(s, vals[:, :1] if vals.shape[1] else vals)
            return cache[key]
        return self._build_step_mats(s, vals)

    def _build_step_mats(self, s: _Step, vals: np.ndarray) -> tuple[Any, ...]:
        n = self.n
        if s.kind == "super":
            M = None
            for i in s.ops:
                S = self._op_super(i, vals)
                M = S if M is None else np.matmul(S, M)
            bits = [q + n for q in s.qubits] + list(s.qubits)
            qs, Ml = to_local(M, bits)
            return ("super", qs, Ml)
        U = self._op_unitary(s.ops[0], vals)
        qr, Ur = to_local(U, [q + n for q in s.qubits])
        qc, Uc = to_local(U.conj(), list(s.qubits))
        return ("unitary", qr, Ur, qc, np.ascontiguousarray(Uc))

    @staticmethod
    def _run_step(mats: tuple, re: np.ndarray, im: np.ndarray, b: int, threads: int = 1) -> None:
        """One step on row b; ``threads`` > 1 splits each pass's index range over qcomp's pool
        (for batches smaller than the thread count)."""
        if mats[0] == "super":
            M = mats[2]
            passes = [(mats[1], M[b if M.shape[0] > 1 else 0])]
        else:
            Ur, Uc = mats[2], mats[4]
            r = b if Ur.shape[0] > 1 else 0
            passes = [(mats[1], Ur[r]), (mats[3], Uc[r])]
        for qs, m in passes:
            if threads > 1:
                E._parallel(lambda part, parts, qs=qs, m=m: _apply(re, im, qs, m, part, parts), threads, threads,
                            re.size)
            else:
                _apply(re, im, qs, m)

    @staticmethod
    def _adjoint_mats(mats: tuple) -> tuple:
        if mats[0] == "super":
            return ("super", mats[1], np.ascontiguousarray(np.conj(np.swapaxes(mats[2], -1, -2))))
        return ("unitary", mats[1], np.ascontiguousarray(np.conj(np.swapaxes(mats[2], -1, -2))),
                mats[3], np.ascontiguousarray(np.conj(np.swapaxes(mats[4], -1, -2))))

    # -- memory ---------------------------------------------------------------------------
    def _budget(self) -> int:
        return self.max_memory_bytes if self.max_memory_bytes is not None else _available_memory() // 2

    def memory_plan(self, batch: int, gradient: bool = False) -> dict[str, int]:
        """Rows processed at once and bytes per row: forward keeps one density matrix per row,
        the adjoint about 2 sqrt(steps) + 3 (checkpoints, one segment, lambda, workspace)."""
        per = density_bytes(self.n)
        L = max(1, len(self._steps))
        seg = math.isqrt(L - 1) + 1
        states = (L + seg - 1) // seg + seg + 3 if gradient else 2
        row = per * states
        budget = self._budget()
        if row > budget:
            raise ResourceLimitError(
                f"a {self.n}-qubit density-matrix {'gradient' if gradient else 'simulation'} needs {_fmt(row)} per row "
                f"({states} density matrices of {_fmt(per)}) but only {_fmt(budget)} is available; use "
                f"method='trajectories' for larger noisy programs, or raise max_memory_bytes")
        rows = max(1, min(batch, budget // row))
        return {"rows_per_chunk": int(rows), "bytes_per_row": int(row), "density_matrices_per_row": int(states),
                "checkpoint_every": int(seg)}

    # -- forward ----------------------------------------------------------------------------
    def _init(self, rows: int) -> tuple[np.ndarray, np.ndarray]:
        re = np.zeros((rows, 4**self.n))
        im = np.zeros((rows, 4**self.n))
        re[:, 0] = 1.0
        return re, im

    def _forward(self, params, inputs, consume: Callable[[slice, np.ndarray, np.ndarray, np.ndarray], None],
                 vals: np.ndarray | None = None) -> tuple[int, bool]:
        """Simulate every row; ``consume(rows, re, im, vals)`` per chunk of final density matrices.
        ``vals`` (n_angles, B') overrides the bound angles: B' rows (the shifted circuits of a gradient)."""
        P, X, B, batched = self._args(params, inputs)
        if vals is None:
            vals = self._angles(P, X, B)
        else:
            B = vals.shape[1]
        plan = self.memory_plan(B)
        mats = [self._step_mats(s, vals) for s in self._steps]
        rows = plan["rows_per_chunk"]
        for start in range(0, B, rows):
            sl = slice(start, min(B, start + rows))
            re, im = self._init(sl.stop - sl.start)
            self._run_chunk(mats, sl, re, im)
            consume(sl, re, im, vals)
        return B, batched

    def _run_chunk(self, mats: list, sl: slice, re: np.ndarray, im: np.ndarray) -> None:
        """Every step on the rows ``sl`` of one chunk (planes re, im: rows x 4**n)."""
        rows_here = sl.stop - sl.start
        if rows_here < self.threads and re.shape[1] >= SPLIT_ROW_SIZE:  # too few rows: split each row
            for r in range(sl.start, sl.stop):
                for m in mats:
                    self._run_step(m, re[r - sl.start], im[r - sl.start], r, self.threads)
            return

        def part(pi: int, parts: int) -> None:
            for r in range(sl.start, sl.stop)[E._split(rows_here, pi, parts)]:
                for m in mats:
                    self._run_step(m, re[r - sl.start], im[r - sl.start], r)

        E._parallel(part, rows_here, self.threads, re.size * max(1, len(mats)))

    def density_matrix(self, params: ArrayLike = None, inputs: ArrayLike = None) -> np.ndarray:
        """Final density matrices (B, 2**n, 2**n) (no batch axis when no argument is batched);
        index bit k of rows and columns is qubit k."""
        if self.program.ancillas:
            raise UnsupportedError("the density matrix of a dynamic circuit would include the ancillas of its "
                                   "deferred measurements; use probs()/expval()")
        P, X, B, _ = self._args(params, inputs)
        need = B * density_bytes(self.n)
        if need > self._budget():
            raise ResourceLimitError(f"{B} density matrices of {self.n} qubits need {_fmt(need)}, over the "
                                     f"{_fmt(self._budget())} available")
        D = 2**self.n
        out = np.empty((B, D, D), dtype=complex)

        def take(sl, re, im, vals):
            out[sl] = (re + 1j * im).reshape(-1, D, D)

        _, batched = self._forward(params, inputs, take)
        return self._shaped(out, batched)

    def _measurement_counts(self, params: ArrayLike, inputs: ArrayLike,
                            bases: Sequence[tuple[tuple[int, ...], tuple[str, ...]]], shots: int | Sequence[int],
                            rng: np.random.Generator, vals: np.ndarray | None = None) -> tuple[list[np.ndarray], int]:
        """The shots hook (``qcomp.backends.shots.measure``): counts drawn from the exact outcome
        probabilities of each (qubits, basis), the diagonal of U rho U^dagger with U the basis
        rotation (h for X, h sdg for Y), readout errors applied; and B."""
        from . import shots as S

        B = self._args(params, inputs)[2] if vals is None else vals.shape[1]
        out = [np.empty((B, 2 ** len(qs))) for qs, _ in bases]
        conf: dict[int, np.ndarray] = {}

        def take(sl, re, im, v):
            if not conf and self._readout_ops:
                conf.update(self._readout(v))
            for k, (qs, basis) in enumerate(bases):
                out[k][sl] = self._confuse(_rotated_probabilities(re, im, self.n, qs, basis), qs, conf, sl)

        self._forward(params, inputs, take, vals)
        return S.draw_counts(rng, out, shots), B

    def _obs_tables(self, observables) -> list[list[tuple[complex, np.ndarray, np.ndarray]]]:
        """Per observable, per term: (coeff * i**ny, index of rho[s, s ^ x] for every s, sign)."""
        key = tuple(observables)
        if key not in self._obs_cache:
            n, D = self.n, 2**self.n
            s = np.arange(D, dtype=np.int64)
            tables = []
            for ob in observables:
                terms = []
                for t in ob.terms:
                    x, z, ny = pauli_tables(t.paulis, n)
                    sign = 1.0 - 2.0 * _parity(s & z)
                    terms.append((complex(t.coeff) * (1j) ** ny, (s << n) | (s ^ x), sign))
                tables.append(terms)
            self._obs_cache[key] = tables
        return self._obs_cache[key]

    def _expvals(self, re: np.ndarray, im: np.ndarray, observables) -> np.ndarray:
        out = np.zeros((re.shape[0], len(observables)))
        for o, terms in enumerate(self._obs_tables(observables)):
            for c, idx, sign in terms:
                # Tr(P rho) = i**ny sum_s (-1)**|s & z| rho[s, s ^ x]; real for a Hermitian P
                v = (re[:, idx] @ sign) * c.real - (im[:, idx] @ sign) * c.imag
                out[:, o] += v
        return out

    def expval(self, params: ArrayLike = None, inputs: ArrayLike = None) -> np.ndarray:
        """Noisy expectation values of every ``expect`` output: (B, n_outputs), or (n_outputs,);
        shot estimates with ``shots``."""
        if self.shots is not None:
            return self._shot_values(params, inputs)
        obs = self.program.observables
        res: list[tuple[slice, np.ndarray]] = []
        B, batched = self._forward(params, inputs, lambda sl, re, im, v: res.append((sl, self._expvals(re, im, obs))))
        out = np.zeros((B, len(obs)))
        for sl, v in res:
            out[sl] = v
        return self._shaped(out, batched)

    def with_observables(self, observables: tuple[Any, ...]) -> "DensityMatrixSimulator":
        cache = self.__dict__.setdefault("_observable_sims", {})
        other = cache.get(observables)
        if other is None:
            program = self.program.with_circuit(self.program.circuit, observables=observables)
            other = cache[observables] = type(self)(program, **self._options)
        return other

    def probs(self, params: ArrayLike = None, inputs: ArrayLike = None,
              qubits: Sequence[int] | None = None) -> np.ndarray:
        """Outcome probabilities (B, 2**len(qubits)) from the diagonal of rho, readout errors
        applied; result bit j is qubits[j] (default: the measured qubits, or all). With ``shots``:
        frequencies of that many draws."""
        if self.shots is not None:
            return self._shot_probs(params, inputs, qubits)
        qs = self._qubits(qubits)
        P, X, B, _ = self._args(params, inputs)
        out = np.empty((B, 2 ** len(qs)))
        D = 2**self.n
        conf: dict[int, np.ndarray] = {}

        def take(sl, re, im, vals):
            if not conf and self._readout_ops:
                conf.update(self._readout(vals))
            p = np.clip(re[:, :: D + 1], 0, None)
            p = self._apply_readout(p, conf, sl)
            out[sl] = p if qs == tuple(range(self.n)) else K.marginal(p, qs, self.n)

        _, batched = self._forward(params, inputs, take)
        return self._shaped(out, batched)

    # -- gradients ----------------------------------------------------------------------------
    def _lambda0(self, cot_row: np.ndarray, observables) -> tuple[np.ndarray, np.ndarray]:
        """The vectorised sum_o cot[o] O_o: O[s ^ x, s] = coeff i**ny (-1)**|s & z|."""
        n, D = self.n, 2**self.n
        lam = np.zeros(4**n, dtype=complex)
        s = np.arange(D, dtype=np.int64)
        for w, terms in zip(cot_row, self._obs_tables(observables)):
            if w == 0:
                continue
            for c, idx, sign in terms:
                x = int(idx[0])  # s = 0 gives index (0 << n) | x
                lam[((s ^ x) << n) | s] += w * c * sign
        return np.ascontiguousarray(lam.real), np.ascontiguousarray(lam.imag)

    def _diff_tables(self, wrt: str = "params") -> list[list[tuple[int, CompiledExprs, list[int]]]]:
        """Per op: (angle k, derivative expressions of angle k by each param (or input) it holds, their indices)."""
        cache = self.__dict__.setdefault("_dtab", {})
        if wrt not in cache:
            kind = "param" if wrt == "params" else "input"
            tab = []
            for op in self._ops:
                entries = []
                for k, a in enumerate(op.angles):
                    syms = sorted((s for s in a.symbols() if s.kind == kind), key=lambda s: s.index)
                    if syms:
                        entries.append((k, CompiledExprs([a.diff(s) for s in syms]), [s.index for s in syms]))
                tab.append(entries)
            cache[wrt] = tab
        return cache[wrt]

    def _adjoint(self, params, inputs, cot: np.ndarray, observables=None,
                 wrt: str = "params") -> tuple[np.ndarray, np.ndarray]:
        """Per-row vjp (B, P) (``wrt="inputs"``: (B, I)) of cotangent (B, n_obs), and the values (B, n_obs)."""
        observables = self.program.observables if observables is None else observables
        P, X, B, _ = self._args(params, inputs)
        plan = self.memory_plan(B, gradient=True)
        vals = self._angles(P, X, B)
        mats = [self._step_mats(s, vals) for s in self._steps]
        adj = [self._adjoint_mats(m) for m in mats]
        Pr, Xr = self._rows(P, X, B)
        Pr, Xr = np.ascontiguousarray(Pr), np.ascontiguousarray(Xr)
        dtab = self._diff_tables(wrt)
        # chain-rule factors d angle / d param per (op, angle): (n_syms, B)
        chain = [[(k, np.broadcast_to(np.asarray(ce(Pr, Xr), dtype=float), (len(idx), B)), idx)
                  for k, ce, idx in entries] for entries in dtab]
        # derivative superoperators per op and angle, (B|1, 4**q, 4**q), built only for steps with params
        dS: dict[tuple[int, int], np.ndarray] = {}
        diff = [any(chain[i] for i in s.ops) for s in self._steps]
        for s, d in zip(self._steps, diff):
            if d:
                for i in s.ops:
                    for k, _, _ in chain[i]:
                        dS[(i, k)] = self._op_dsuper(i, k, vals)
        supers = {i: self._op_super(i, vals) for s, d in zip(self._steps, diff) if d and s.kind == "super"
                  for i in s.ops}
        # per differentiable step: its local bits and, per (op, angle), the local matrix of
        # after @ dS @ before for all rows at once (the step is S_m ... S_1)
        derivs: dict[int, tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray, list[int]]]]] = {}
        n = self.n
        for j, (st, d) in enumerate(zip(self._steps, diff)):
            if not d:
                continue
            bits = [q + n for q in st.qubits] + list(st.qubits)
            qs = np.asarray(sorted(bits), dtype=np.int64)
            entries = []
            for t, i in enumerate(st.ops):
                for k, factors, idx in chain[i]:
                    M = dS[(i, k)]
                    before = None
                    for u in st.ops[:t]:
                        before = supers[u] if before is None else np.matmul(supers[u], before)
                    if before is not None:
                        M = np.matmul(M, before)
                    for u in st.ops[t + 1:]:
                        M = np.matmul(supers[u], M)
                    entries.append((to_local(M, bits)[1], factors, idx))
            derivs[j] = (qs, entries)
        L = len(self._steps)
        seg = plan["checkpoint_every"]
        width = self.program.num_params if wrt == "params" else self.program.num_inputs
        grads = np.zeros((B, width))
        values = np.zeros((B, len(observables)))
        D4 = 4**self.n
        n = self.n
        lock = threading.Lock()

        def row_work(b: int) -> None:
            re = np.zeros(D4)
            im = np.zeros(D4)
            re[0] = 1.0
            checkpoints = []
            for j in range(L):
                if j % seg == 0:
                    checkpoints.append((re.copy(), im.copy()))
                self._run_step(mats[j], re, im, b)
            v = self._expvals(re[None], im[None], observables)[0]
            lr, li = self._lambda0(cot[b], observables)
            g = np.zeros(width)
            for c in range(len(checkpoints) - 1, -1, -1):
                first, last = c * seg, min(L, (c + 1) * seg)
                states = []
                sr, si = checkpoints[c][0].copy(), checkpoints[c][1].copy()
                for j in range(first, last):
                    states.append((sr.copy(), si.copy()) if diff[j] else None)
                    self._run_step(mats[j], sr, si, b)
                for j in range(last - 1, first - 1, -1):
                    if diff[j]:
                        pr, pi = states[j - first]
                        qs, entries = derivs[j]
                        # d<lam, S rho>/d angle = Tr(dS_local C^T), C the step's cross matrix
                        C = _cross(pr, pi, lr, li, qs).T
                        for Dl, factors, idx in entries:
                            dv = float(np.sum(Dl[b if Dl.shape[0] > 1 else 0] * C).real)
                            g[idx] += dv * factors[:, b]
                    self._run_step(adj[j], lr, li, b)
                checkpoints[c] = None  # type: ignore[call-overload]
            with lock:
                grads[b] = g
                values[b] = v

        def part(pi: int, parts: int) -> None:
            for b in range(B)[E._split(B, pi, parts)]:
                row_work(b)

        threads = min(self.threads, plan["rows_per_chunk"])
        E._parallel(part, B, threads, D4 * max(1, L))
        return grads, values

    def vjp(self, params: ArrayLike, inputs: ArrayLike, cotangent: ArrayLike) -> np.ndarray:
        """sum_b cotangent[b] . d expval[b] / d params, in the shape of the params (as Simulator.vjp)."""
        if self.shots is not None:
            return self._shot_vjp(params, inputs, cotangent)
        P, X, B, _ = self._args(params, inputs)
        cot = check_cotangent(cotangent, B, self.program.num_outputs)
        g, _ = self._adjoint(params, inputs, cot)
        return self._params_shaped(g, params)

    def input_vjp(self, params: ArrayLike, inputs: ArrayLike, cotangent: ArrayLike) -> np.ndarray:
        """sum_k cotangent[b, k] d expval[b, k] / d inputs[b, :], (B, I), by the same adjoint sweep
        (inputs in gate angles and in channel parameters alike)."""
        if self.shots is not None:
            raise UnsupportedError("gradients with respect to inputs are not estimated with shots; use a simulator "
                                   "without shots")
        P, X, B, _ = self._args(params, inputs)
        cot = check_cotangent(cotangent, B, self.program.num_outputs)
        return self._adjoint(params, inputs, cot, wrt="inputs")[0]

    def gradient(self, params: ArrayLike = None, inputs: ArrayLike = None, method: str | None = None) -> np.ndarray:
        """d expval / d params by the density-matrix adjoint, (B, n_outputs, n_params); with
        ``shots``, by parameter shift on sampled shifted circuits (``method`` None or "parameter-shift")."""
        if self.shots is not None:
            return self._shot_gradient_call(params, inputs, method)
        if method not in (None, "adjoint"):
            raise UnsupportedError(f"the density-matrix simulator differentiates by the adjoint method, not "
                                   f"'{method}' (parameter shift: method='trajectories')")
        P, X, B, batched = self._args(params, inputs)
        nout = self.program.num_outputs
        out = np.zeros((B, nout, self.program.num_params))
        for k in range(nout):
            cot = np.zeros((B, nout))
            cot[:, k] = 1.0
            out[:, k, :] = self._adjoint(params, inputs, cot)[0]
        return self._shaped(out, batched)

    def value_and_gradient(self, params: ArrayLike = None, inputs: ArrayLike = None) -> tuple[np.ndarray, np.ndarray]:
        """Values and adjoint gradients; one sweep when there is one output."""
        if self.shots is not None:
            return self.expval(params, inputs), self.gradient(params, inputs)
        P, X, B, batched = self._args(params, inputs)
        if self.program.num_outputs == 1:
            g, v = self._adjoint(params, inputs, np.ones((B, 1)))
            return self._shaped(v, batched), self._shaped(g[:, None, :], batched)
        return self.expval(params, inputs), self.gradient(params, inputs)

    def value_and_vjp(self, params: ArrayLike, inputs: ArrayLike,
                      cotangent_fn: Callable[[np.ndarray, slice], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        if self.shots is not None:
            return self._shot_value_and_vjp(params, inputs, cotangent_fn)
        P, X, B, _ = self._args(params, inputs)
        values = np.atleast_2d(self.expval(params, inputs))
        cot = np.asarray(cotangent_fn(values, slice(0, B)), dtype=float)
        g, _ = self._adjoint(params, inputs, cot)
        return values, self._params_shaped(g, params)


def _rotated_probabilities(re: np.ndarray, im: np.ndarray, n: int, qubits: Sequence[int],
                           basis: Sequence[str]) -> np.ndarray:
    """Outcome probabilities (b, 2**m) of ``qubits`` (bit j is qubits[j]) measured in ``basis``: the
    diagonal of U rho U^dagger, U the basis rotations (row bits get R, column bits conj(R))."""
    from .shots import _ROTATION

    b, D = re.shape[0], 2**n
    rot = [(q, p) for q, p in zip(qubits, basis) if p != "Z"]
    if not rot:
        p = re[:, :: D + 1]
    else:
        rho = (re + 1j * im).reshape((b,) + (2,) * (2 * n))
        for q, letter in rot:
            R = _ROTATION[letter]
            for ax, M in ((1 + (n - 1 - q), R), (1 + n + (n - 1 - q), R.conj())):
                rho = np.moveaxis(np.tensordot(M, rho, axes=([1], [ax])), 0, ax)
        p = rho.reshape(b, D, D).diagonal(axis1=1, axis2=2).real
    p = np.clip(p, 0.0, None)
    return p if tuple(qubits) == tuple(range(n)) else K.marginal(np.ascontiguousarray(p), list(qubits), n)


def _kron_conj(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A (x) conj(B) per leading index: (..., d*d, d*d) in (row << k) | col order."""
    A = np.asarray(A)
    B = np.asarray(B)
    d = A.shape[-1]
    t = np.einsum("...ab,...cd->...acbd", A, B.conj())
    return t.reshape(t.shape[:-4] + (d * d, d * d))


def is_noisy(program: Program) -> bool:
    """Whether the program holds channels or readout errors."""
    return any(is_channel(op.name) for op in program.circuit.ops())
