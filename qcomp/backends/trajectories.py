"""Monte-Carlo trajectory simulation of noisy programs: the batch rows are state-vector trajectories.

Each (params, inputs) row runs ``trajectories`` state vectors. A channel picks one Kraus operator
per trajectory: Pauli channels (depolarizing, bit/phase flip, pauli_channel) with their fixed
probabilities, other channels with probability ||K_k psi||**2, after which the state is
renormalised (the standard unravelling; the average over trajectories is the density matrix).
Gates and Kraus operators run through the fused engine's kernels (``qcomp.backends.engine``) on
split-complex rows, one row per trajectory, rows split over qcomp's thread pool. The uniform
numbers of every (trajectory, channel) are drawn per chunk from one generator in row order before
the chunk runs, so a seed gives the same result for any thread count.

Results are means over trajectories; ``expval_with_error`` / ``probs_with_error`` also return the
standard error of each mean (sample standard deviation / sqrt(trajectories)).

Shots (``shots=N``, qcomp.backends.shots; ``sample``): every shot runs its own trajectory, as Aer's
per-shot noise sampling does, and each measurement group gets its own N trajectories. One outcome is
drawn from each trajectory's final state (rotated into the group's basis, readout errors applied).
A shot's outcome is then an exact draw from the noisy distribution (the trajectories' average is the
density matrix), the shots are independent, and the counts are distributed exactly as the density
matrix's: the shot estimators' standard errors include the trajectory spread, with no separate
trajectory error. The ``trajectories`` option does not apply to shots (they cost N trajectories per
group and row).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InputError, ResourceLimitError, UnsupportedError
from ..ir.channels import CHANNELS
from ..ir.gates import GATES
from ..ir.program import Program
from . import engine as E
from . import kernels as K
from .density import NoisyBase, _apply, _fmt, to_local

__all__ = ["TrajectorySimulator", "DEFAULT_TRAJECTORIES"]

ArrayLike = Any
DEFAULT_TRAJECTORIES = 1000
_PAULIS = [None, np.array([[0, 1], [1, 0]], complex), np.array([[0, -1j], [1j, 0]], complex),
           np.array([[1, 0], [0, -1]], complex)]


class TrajectorySimulator(NoisyBase):
    """Noisy simulation by quantum trajectories (``trajectories`` state vectors per row, ``seed``).

    Same verbs as the density-matrix simulator (``expval``, ``probs``, ``sample``, ``outputs``,
    ``gradient``, ``vjp``); gradients by parameter shift on gate angles with common random numbers.
    """

    method = "trajectories"

    def __init__(self, program: Program, *, trajectories: int = DEFAULT_TRAJECTORIES, seed: int | None = None,
                 threads: int | None = None, max_memory_bytes: int | None = None,
                 shots: int | Sequence[int] | None = None) -> None:
        if not isinstance(trajectories, (int, np.integer)) or isinstance(trajectories, bool) or trajectories < 2:
            raise InputError(f"trajectories must be an integer of at least 2, got {trajectories!r}")
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
            raise InputError(f"seed must be a non-negative integer or None, got {seed!r}")
        self._setup(program, threads, max_memory_bytes, shots, seed)
        self.trajectories = int(trajectories)
        self.seed = seed
        self._options = {"trajectories": trajectories, "seed": seed, "threads": threads,
                         "max_memory_bytes": max_memory_bytes, "shots": shots}
        self._chan = [i for i, op in enumerate(self._ops) if op.name in CHANNELS]
        self._chan_pos = {i: k for k, i in enumerate(self._chan)}

    @property
    def options(self) -> dict[str, Any]:
        return dict(self._options)

    def describe(self) -> str:
        return (f"{self.trajectories} state-vector trajectories of {self.n} qubits per row, {len(self._ops)} "
                f"operations ({len(self._chan)} channels)")

    def with_observables(self, observables: tuple[Any, ...]) -> "TrajectorySimulator":
        cache = self.__dict__.setdefault("_observable_sims", {})
        other = cache.get(observables)
        if other is None:
            program = self.program.with_circuit(self.program.circuit, observables=observables)
            other = cache[observables] = type(self)(program, **self._options)
        return other

    def memory_plan(self, batch: int, gradient: bool = False) -> dict[str, int]:
        """Trajectories held at once: each is one state vector (two float planes) plus a Kraus workspace."""
        per = 16 * 2**self.n * 3
        budget = self.max_memory_bytes if self.max_memory_bytes is not None else _avail() // 2
        if per > budget:
            raise ResourceLimitError(f"one {self.n}-qubit trajectory needs {_fmt(per)} but only {_fmt(budget)} "
                                     "is available")
        return {"rows_per_chunk": int(max(1, min(batch * self.trajectories, budget // per))), "bytes_per_row": per}

    # -- matrices -------------------------------------------------------------------------
    def _local_ops(self, vals: np.ndarray) -> list[tuple]:
        """Per op: ("gate", qs, local matrices (B|1, d, d)) or ("pauli", probs (B|1, 4)) or
        ("kraus", qs, [local Kraus (B|1, d, d)])."""
        out = []
        for i, op in enumerate(self._ops):
            at = self._angle_at[i]
            v = [vals[at + k] if op.angles[k].symbols() else vals[at + k][:1] for k in range(len(op.angles))]
            if op.name in CHANNELS:
                ch = CHANNELS[op.name]
                if ch.pauli_probs is not None:
                    pr = np.atleast_2d(ch.pauli_probs(*v))
                    out.append(("pauli", np.asarray([op.qubits[0]], np.int64), np.cumsum(pr, axis=-1)))
                else:
                    ks = []
                    for Kk in ch.kraus(*v):
                        Kk = Kk if Kk.ndim == 3 else Kk[None]
                        qs, Kl = to_local(Kk, list(op.qubits))
                        ks.append(Kl)
                    out.append(("kraus", qs, ks))
            else:
                U = np.asarray(op.matrix, dtype=complex)[None] if op.name == "unitary" else GATES[op.name].matrix(*v)
                U = U if U.ndim == 3 else U[None]
                qs, Ul = to_local(U, list(op.qubits))
                out.append(("gate", qs, Ul))
        return out

    def _run(self, params, inputs, consume, vals: np.ndarray | None = None, *, trajectories: int | None = None,
             rng: np.random.Generator | None = None) -> tuple[int, bool, np.ndarray]:
        """Run every trajectory; ``consume(row_of_each_trajectory, re, im, vals)`` per chunk, in order.
        ``vals`` overrides the bound angle values (n_angles, B) (shifted circuits of the gradient);
        ``trajectories`` the number per row, ``rng`` the generator (default: a new one from the seed,
        so exact calls reuse the same random numbers)."""
        P, X, B, batched = self._args(params, inputs)
        if vals is None:
            vals = self._angles(P, X, B)
        else:
            B = vals.shape[1]
        local = self._local_ops(vals)
        T = self.trajectories if trajectories is None else int(trajectories)
        R = B * T
        rows = min(R, self.memory_plan(max(1, -(-R // self.trajectories)))["rows_per_chunk"])
        rng = np.random.default_rng(self.seed) if rng is None else rng
        N = 2**self.n
        nch = len(self._chan)
        for start in range(0, R, rows):
            stop = min(R, start + rows)
            owner = np.arange(start, stop) // T  # the batch row of each trajectory
            u = rng.random((stop - start, nch))
            re = np.zeros((stop - start, N))
            im = np.zeros((stop - start, N))
            re[:, 0] = 1.0

            def part(pi: int, parts: int, re=re, im=im, owner=owner, u=u) -> None:
                wr = np.empty(N)
                wi = np.empty(N)
                for r in range(len(owner))[E._split(len(owner), pi, parts)]:
                    self._trajectory(local, re[r], im[r], int(owner[r]), u[r], wr, wi)

            E._parallel(part, stop - start, self.threads, re.size * max(1, len(local)))
            consume(owner, re, im, vals)
        return B, batched, vals

    def _trajectory(self, local, re, im, b, u, wr, wi) -> None:
        for i, item in enumerate(local):
            kind = item[0]
            if kind == "gate":
                M = item[2]
                _apply(re, im, item[1], M[b if M.shape[0] > 1 else 0])
            elif kind == "pauli":
                cum = item[2]
                c = cum[b if cum.shape[0] > 1 else 0]
                k = int(np.searchsorted(c, u[self._chan_pos[i]] * c[-1], side="right"))
                k = min(k, 3)
                if k:
                    _apply(re, im, item[1], _PAULIS[k])
            else:
                x = u[self._chan_pos[i]]
                acc = 0.0
                ks = item[2]
                for j, Kk in enumerate(ks):
                    wr[:] = re
                    wi[:] = im
                    _apply(wr, wi, item[1], Kk[b if Kk.shape[0] > 1 else 0])
                    p = float(wr @ wr + wi @ wi)
                    acc += p
                    if x < acc or j == len(ks) - 1:
                        if p <= 0:
                            continue  # a zero-probability branch picked by rounding at the end
                        s = 1.0 / np.sqrt(p)
                        np.multiply(wr, s, out=re)
                        np.multiply(wi, s, out=im)
                        break

    # -- shots: one trajectory per shot ---------------------------------------------------
    def _measurement_counts(self, params: ArrayLike, inputs: ArrayLike,
                            bases: Sequence[tuple[tuple[int, ...], tuple[str, ...]]], shots: int | Sequence[int],
                            rng: np.random.Generator, vals: np.ndarray | None = None) -> tuple[list[np.ndarray], int]:
        """The shots hook (``qcomp.backends.shots.measure``): ``shots[k]`` trajectories per row for
        basis k, each measured once (rotated into the basis, readout errors applied); and B. The
        trajectories' random numbers and the outcomes come from ``rng``, in row order."""
        from .shots import rotated_marginal, shot_list

        n_shots = shot_list(shots, len(bases))
        B = self._args(params, inputs)[2] if vals is None else vals.shape[1]
        counts = [np.zeros((B, 2 ** len(qs)), dtype=np.int64) for qs, _ in bases]
        T = sum(n_shots)
        if T == 0 or not bases:
            return counts, B
        ends = np.cumsum(n_shots)
        conf: dict[int, np.ndarray] = {}
        done = [0]  # trajectories consumed so far (chunks arrive in order)

        def take(owner, re, im, v):
            if not conf and self._readout_ops:
                conf.update(self._readout(v))
            idx = np.arange(done[0], done[0] + len(owner)) % T
            done[0] += len(owner)
            which = np.searchsorted(ends, idx, side="right")  # the basis of each trajectory
            for k, (qs, basis) in enumerate(bases):
                sel = np.flatnonzero(which == k)
                if not sel.size:
                    continue
                states = re[sel] + 1j * im[sel]
                p = self._confuse(rotated_marginal(states, self.n, qs, basis), qs, conf, owner[sel])
                c = np.cumsum(p, axis=1)
                u = rng.random(sel.size) * c[:, -1]
                outcome = np.minimum((c <= u[:, None]).sum(axis=1), p.shape[1] - 1)
                np.add.at(counts[k], (owner[sel], outcome), 1)

        self._run(params, inputs, take, vals, trajectories=T, rng=rng)
        return counts, B

    # -- values ---------------------------------------------------------------------------
    def expval_with_error(self, params: ArrayLike = None, inputs: ArrayLike = None,
                          _vals: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Means over trajectories of every ``expect`` output and their standard errors."""
        obs = E.observable_arrays(self.program.observables)
        nout = self.program.num_outputs
        P, X, B, batched = self._args(params, inputs)
        s1 = np.zeros((B, nout))
        s2 = np.zeros((B, nout))

        def take(owner, re, im, vals):
            v = E.values(np.stack([re, im]), obs, nout, self.threads)
            np.add.at(s1, owner, v)
            np.add.at(s2, owner, v * v)

        self._run(params, inputs, take, _vals)
        T = self.trajectories
        mean = s1 / T
        var = np.clip(s2 / T - mean**2, 0, None) * T / (T - 1)
        return self._shaped(mean, batched), self._shaped(np.sqrt(var / T), batched)

    def expval(self, params: ArrayLike = None, inputs: ArrayLike = None) -> np.ndarray:
        """Means over trajectories of every ``expect`` output, (B, n_outputs) or (n_outputs,); with
        ``shots``, shot estimates (one trajectory per shot)."""
        if self.shots is not None:
            return self._shot_values(params, inputs)
        return self.expval_with_error(params, inputs)[0]

    def probs_with_error(self, params: ArrayLike = None, inputs: ArrayLike = None,
                         qubits: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mean outcome probabilities (readout errors applied) and their standard errors."""
        qs = self._qubits(qubits)
        P, X, B, batched = self._args(params, inputs)
        s1 = np.zeros((B, 2 ** len(qs)))
        s2 = np.zeros((B, 2 ** len(qs)))
        conf: dict[int, np.ndarray] = {}

        def take(owner, re, im, vals):
            if not conf and self._readout_ops:
                conf.update(self._readout(vals))
            p = re * re + im * im
            p = self._apply_readout(p, conf, owner)
            p = p if qs == tuple(range(self.n)) else K.marginal(p, qs, self.n)
            np.add.at(s1, owner, p)
            np.add.at(s2, owner, p * p)

        self._run(params, inputs, take)
        T = self.trajectories
        mean = s1 / T
        var = np.clip(s2 / T - mean**2, 0, None) * T / (T - 1)
        return self._shaped(mean, batched), self._shaped(np.sqrt(var / T), batched)

    def probs(self, params: ArrayLike = None, inputs: ArrayLike = None,
              qubits: Sequence[int] | None = None) -> np.ndarray:
        """Mean outcome probabilities (B, 2**len(qubits)); result bit j is qubits[j]; with ``shots``,
        frequencies of that many shots (one trajectory each)."""
        if self.shots is not None:
            return self._shot_probs(params, inputs, qubits)
        return self.probs_with_error(params, inputs, qubits)[0]

    # -- gradients: parameter shift with common random numbers ------------------------------
    def gradient(self, params: ArrayLike = None, inputs: ArrayLike = None,
                 method: str | None = None) -> np.ndarray:
        """d expval / d params by parameter shift on gate angles, (B, n_outputs, n_params).

        Shift rules hold with channels in the circuit (the channels do not depend on the angle);
        every shifted circuit reuses the same random numbers (the seed), so the difference of two
        estimates has far less noise than either. Parameters inside channel parameters have no
        shift rule: those are refused (use method='density_matrix')."""

        if self.shots is not None:
            return self._shot_gradient_call(params, inputs, method)
        if method not in (None, "parameter-shift"):
            raise UnsupportedError(f"the trajectories method differentiates by parameter shift, not '{method}'")
        P, X, B, batched = self._args(params, inputs)
        vals = self._angles(P, X, B)
        nout, npar = self.program.num_outputs, self.program.num_params
        out = np.zeros((B, nout, npar))
        for at, shift, coeff, factors, idx in self._shift_entries(
                P, X, B, "the trajectories method differentiates by parameter shift, which has no rule for "
                "channel parameters; use method='density_matrix' (adjoint)"):
            shifted = vals.copy()
            shifted[at] = vals[at] + shift
            d = coeff * np.atleast_2d(self.expval_with_error(params, inputs, _vals=shifted)[0])
            for j, p in enumerate(idx):
                out[:, :, p] += d * factors[j][:, None]
        return self._shaped(out, batched)

    def value_and_gradient(self, params: ArrayLike = None, inputs: ArrayLike = None) -> tuple[np.ndarray, np.ndarray]:
        return self.expval(params, inputs), self.gradient(params, inputs)

    def vjp(self, params: ArrayLike, inputs: ArrayLike, cotangent: ArrayLike) -> np.ndarray:
        """sum_b cotangent[b] . d expval[b] / d params (parameter shift), in the shape of the params."""
        from ..ir.values import check_cotangent

        if self.shots is not None:
            return self._shot_vjp(params, inputs, cotangent)
        P, X, B, _ = self._args(params, inputs)
        cot = check_cotangent(cotangent, B, self.program.num_outputs)
        g = np.atleast_3d(self.gradient(params, inputs)).reshape(B, self.program.num_outputs, -1)
        return self._params_shaped(np.einsum("bo,bop->bp", cot, g), params)

    def value_and_vjp(self, params: ArrayLike, inputs: ArrayLike, cotangent_fn) -> tuple[np.ndarray, np.ndarray]:
        if self.shots is not None:
            return self._shot_value_and_vjp(params, inputs, cotangent_fn)
        P, X, B, _ = self._args(params, inputs)
        values = np.atleast_2d(self.expval(params, inputs))
        cot = np.asarray(cotangent_fn(values, slice(0, B)), dtype=float)
        return values, self.vjp(params, inputs, cot)


def _avail() -> int:
    from .simulator import available_memory

    return available_memory()
