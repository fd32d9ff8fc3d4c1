"""Finite-shot estimates on the simulator: expectation values, variances and probabilities sampled per measurement group, with standard errors.

A simulator built with ``shots=N`` (``Simulator(program, shots=N, seed=S)``, ``model.simulator(shots=N)``)
measures like a device: the Pauli terms of every needed observable are partitioned into qubit-wise
commuting groups (``qcomp.passes.group_measurements``); each group is measured N times per batch row.
The final states are simulated once per call (chunk by chunk); each group's basis rotations (h for X,
sdg h for Y) are applied to the chunk's states in numpy and the group's outcome probabilities taken,
then N outcomes are drawn per row with numpy's ``Generator.multinomial``. A term's value on an
outcome is (-1)**parity of its qubits' bits.

Standard errors: within a group, an observable's part is the sample mean of f(outcome) = sum of its
terms' coefficient times sign, so its variance is the sample variance of f (ddof 1) over N; groups are
independent, so the covariance of the needed sums is the sum over groups. Outputs derived from
several sums (a variance, <O**2> - <O>**2) get their standard error by the delta method from that
covariance. Probabilities are measured in the computational basis with N shots: p = n_k / N, standard
error sqrt(p (1 - p) / (N - 1)).

The one thing taken from a simulator is ``_measurement_counts(params, inputs, bases, shots, rng)``: the
outcome counts of ``shots[k]`` measurements of each (qubits, basis) in ``bases``, (B, 2**m) per basis.
The statevector simulator draws them from the exact probabilities of its rotated states
(``group_probabilities`` here), the density-matrix simulator from the diagonal of U rho U^dagger
(readout errors applied), the trajectories simulator runs one trajectory per shot
(qcomp.backends.trajectories). Grouping, estimators and standard errors are shared.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import InputError, UnsupportedError
from ..ir.ops import Observable
from ..ir.outputs import Expectation, Output, Probabilities, Samples, State, Variance
from ..ir.values import batch_shaped, bind_pair
from ..passes.group_measurements import MeasurementGrouping, group_observables
from .kernels import marginal

# Rotations into each Pauli's eigenbasis (measure Z afterwards): X -> h, Y -> h sdg.
_H = np.array([[1, 1], [1, -1]], dtype=complex) / np.sqrt(2)
_ROTATION = {"X": _H, "Y": _H @ np.diag([1, -1j])}


def check_shots(shots: Any) -> int | tuple[int, ...] | None:
    """``shots`` as None, a positive int, or a tuple of positive ints (a shot vector)."""
    if shots is None:
        return None
    if isinstance(shots, (list, tuple)):
        if not shots:
            raise InputError("a shot vector needs at least one entry, e.g. shots=[100, 1000]")
        return tuple(_one(s) for s in shots)
    return _one(shots)


def _one(s: Any) -> int:
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
        raise InputError(f"shots must be a positive integer or a list of them, got {s!r}")
    return int(s)


def check_seed(seed: Any) -> int | None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise InputError(f"seed must be a non-negative integer or None, got {seed!r}")
    return None if seed is None else int(seed)


@dataclass(frozen=True)
class Estimate:
    """Shot estimates of some outputs: ``values[k]`` and ``stderr[k]`` have output k's shape (with a
    leading batch axis when an argument was batched, as every simulator result); ``shots`` per
    measured group. Unpacks as ``values, stderr = estimate``."""

    values: tuple[np.ndarray, ...]
    stderr: tuple[np.ndarray, ...]
    shots: int

    def __iter__(self):
        return iter((self.values, self.stderr))

    def __len__(self) -> int:
        return 2


@functools.lru_cache(maxsize=64)
def _grouping(observables: tuple[Observable, ...], n: int) -> MeasurementGrouping:
    """The (cached: training asks for the same observables every step) grouping of ``observables``."""
    return group_observables(observables, n)


# -- exact group probabilities from one simulation ---------------------------------------------


def rotated_marginal(states: np.ndarray, n: int, qubits: Sequence[int], basis: Sequence[str]) -> np.ndarray:
    """Probabilities (b, 2**m) of ``qubits`` (bit j = qubits[j]) after rotating each into ``basis``."""
    b = states.shape[0]
    psi = states.reshape((b,) + (2,) * n)
    for q, p in zip(qubits, basis):
        if p == "Z":
            continue
        ax = 1 + (n - 1 - q)
        psi = np.moveaxis(np.tensordot(_ROTATION[p], psi, axes=([1], [ax])), 0, ax)
    prob = (psi.real**2 + psi.imag**2).reshape(b, -1)
    return marginal(prob, list(qubits), n) if tuple(qubits) != tuple(range(n)) else prob


def group_probabilities(sim: Any, params: Any, inputs: Any,
                        bases: Sequence[tuple[tuple[int, ...], tuple[str, ...]]]) -> tuple[list[np.ndarray], int]:
    """Exact outcome probabilities per (qubits, basis) measurement, each (B, 2**m), from one forward
    simulation of ``sim`` (chunked as the simulator chunks); and B. A simulator without chunked
    runs (the Dask DistributedSimulator) hands over its final states, rotated here."""
    if not hasattr(sim, "_run"):
        states = np.asarray(sim.state(params, inputs))
        states = states.reshape(-1, states.shape[-1])
        return [rotated_marginal(states, sim.n, qs, basis) for qs, basis in bases], states.shape[0]
    B = sim._args(params, inputs)[2]
    per_row = 8 * sum(2 ** len(qs) for qs, _ in bases)  # float64 probabilities of every group
    sim._check_result_bytes("the measurement groups' probabilities", B, per_row)
    out = [np.empty((B, 2 ** len(qs))) for qs, _ in bases]
    phys = sim._forward_phys()

    def take(sl, st):
        if phys is not None:
            from .sim_plan import to_logical

            st = to_logical(st, phys)
        for k, (qs, basis) in enumerate(bases):
            out[k][sl] = rotated_marginal(np.asarray(st), sim.n, qs, basis)

    sim._run(params, inputs, take, extra_per_row=per_row)
    return out, B


def _draw(rng: np.random.Generator, probs: np.ndarray, shots: int) -> np.ndarray:
    """Counts (B, K) of ``shots`` draws per row from probabilities (B, K)."""
    p = np.clip(probs, 0.0, None)
    p /= p.sum(axis=1, keepdims=True)
    return rng.multinomial(shots, p)


def shot_list(shots: int | Sequence[int], k: int) -> list[int]:
    """``shots`` for each of ``k`` measurements (one number for all, or one each)."""
    return [int(shots)] * k if isinstance(shots, (int, np.integer)) else [int(s) for s in shots]


def draw_counts(rng: np.random.Generator, probs: Sequence[np.ndarray], shots: int | Sequence[int]) -> list[np.ndarray]:
    """Counts of ``shots[k]`` draws from each exact distribution ``probs[k]`` (B, K), in order:
    what a simulator with exact outcome probabilities returns from ``_measurement_counts``."""
    return [_draw(rng, p, s) for p, s in zip(probs, shot_list(shots, len(probs)))]


def measure(sim: Any, params: Any, inputs: Any, bases: Sequence[tuple[tuple[int, ...], tuple[str, ...]]],
            shots: int | Sequence[int], rng: np.random.Generator) -> tuple[list[np.ndarray], int]:
    """Counts (B, 2**m) of ``shots`` (one number, or one per basis) measurements of each
    (qubits, basis) of ``bases``, and B: the simulator's ``_measurement_counts`` hook, or (the Dask
    DistributedSimulator, which hands over final states) draws from its rotated states."""
    hook = getattr(sim, "_measurement_counts", None)
    if hook is not None:
        return hook(params, inputs, bases, shots, rng)
    probs, B = group_probabilities(sim, params, inputs, bases)
    return draw_counts(rng, probs, shots), B


def counts_to_samples(counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Outcome sequences (B, shots) in random order with the given counts (B, K): i.i.d. draws
    from a distribution are their counts in a uniformly random order."""
    return np.stack([rng.permutation(np.repeat(np.arange(row.size), row)) for row in counts])


# -- estimators -------------------------------------------------------------------------------


def estimates_from_counts(grouping: MeasurementGrouping, counts: Sequence[np.ndarray], shots: int) -> tuple[np.ndarray, np.ndarray]:
    """Means (B, k) and covariance (B, k, k) of the estimates of the k Pauli sums of ``grouping`` from
    ``counts[g]`` (B, 2**m): outcome counts of group g (bit j is its qubits[j]), ``shots`` per row."""
    k = len(grouping.terms)
    B = counts[0].shape[0] if counts else 1
    mean = np.broadcast_to(np.array(grouping.constants, dtype=float), (B, k)).copy()
    cov = np.zeros((B, k, k))
    for g, grp in enumerate(grouping.groups):
        F = grouping.coefficient_matrix(g) @ grp.signs()  # (k, K): each sum's value on each outcome
        freq = counts[g] / shots
        m = freq @ F.T  # (B, k)
        second = np.einsum("bo,ao,co->bac", freq, F, F)
        c = second - m[:, :, None] * m[:, None, :]
        if shots > 1:
            c *= shots / (shots - 1)  # the unbiased sample covariance
        mean += m
        cov += c / shots
    return mean, cov


def sample_observables(sim: Any, params: Any, inputs: Any, observables: Sequence[Observable], shots: int,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shot estimates of ``observables`` per row: means (B, k) and their covariance (B, k, k)."""
    grouping = _grouping(tuple(observables), sim.n)
    counts, B = measure(sim, params, inputs, [(g.qubits, g.basis) for g in grouping.groups], shots, rng)
    if not grouping.groups:
        return np.broadcast_to(np.array(grouping.constants, dtype=float), (B, len(observables))).copy(), \
            np.zeros((B, len(observables), len(observables)))
    return estimates_from_counts(grouping, counts, shots)


def _batched(sim: Any, params: Any, inputs: Any) -> bool:
    return bind_pair(sim.program.params, sim.program.inputs, params, inputs)[3:] != (False, False)


def expval(sim: Any, params: Any, inputs: Any, shots: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Estimates of the program's ``expect`` outputs and their standard errors, shaped as
    ``Simulator.expval``'s result."""
    mean, cov = sample_observables(sim, params, inputs, sim.program.observables, shots, rng)
    err = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0.0, None))
    b = _batched(sim, params, inputs)
    return batch_shaped(mean, b), batch_shaped(err, b)


def estimate(sim: Any, outputs: Sequence[Output], params: Any, inputs: Any, shots: int,
             rng: np.random.Generator) -> Estimate:
    """Shot estimates and standard errors of ``outputs`` (qcomp.ir.outputs kinds) per row."""
    for o in outputs:
        if not isinstance(o, Output):
            raise InputError(f"outputs must be qcomp.ir.outputs.Output instances, got {type(o).__name__}")
        if isinstance(o, State):
            raise UnsupportedError("the state is not measurable with shots; use a simulator without shots "
                                   "(shots=None) for State outputs")
        if not isinstance(o, (Expectation, Variance, Probabilities, Samples)):
            raise UnsupportedError(f"no shot estimator for {type(o).__name__} outputs")
    observables: list[Observable] = []
    index: dict[Observable, int] = {}
    for o in outputs:
        for ob in o.needs().observables:
            if ob not in index:
                index[ob] = len(observables)
                observables.append(ob)
    grouping = _grouping(tuple(observables), sim.n)
    bases = [(g.qubits, g.basis) for g in grouping.groups]
    n_shots = [shots] * len(bases)
    # one computational-basis measurement per Probabilities qubit set, one per Samples output (its own shots)
    at: dict[Any, int] = {}
    for k, o in enumerate(outputs):
        key = tuple(o.qubits) if isinstance(o, Probabilities) else k if isinstance(o, Samples) else None
        if key is not None and key not in at:
            at[key] = len(bases)
            bases.append((tuple(o.qubits), ("Z",) * len(o.qubits)))
            n_shots.append(shots if isinstance(o, Probabilities) else o.shots)
    counts, B = measure(sim, params, inputs, bases, n_shots, rng)
    if grouping.groups:
        mean, cov = estimates_from_counts(grouping, counts[: grouping.num_groups], shots)
    else:
        mean = np.broadcast_to(np.array(grouping.constants, dtype=float), (B, len(observables))).copy()
        cov = np.zeros((B, len(observables), len(observables)))
    values, errors = [], []
    for k, o in enumerate(outputs):
        if isinstance(o, Expectation):
            i = index[o.observable]
            v, e = mean[:, i], np.sqrt(np.clip(cov[:, i, i], 0.0, None))
        elif isinstance(o, Variance):
            i, j = index[o.observable], index[o.needs().observables[1]]
            e1, e2 = mean[:, i], mean[:, j]
            v = np.maximum(e2 - e1 * e1, 0.0)
            # delta method: d var = d<O**2> - 2 <O> d<O>
            var = cov[:, j, j] + 4 * e1**2 * cov[:, i, i] - 4 * e1 * cov[:, i, j]
            e = np.sqrt(np.clip(var, 0.0, None))
        elif isinstance(o, Probabilities):
            v = counts[at[tuple(o.qubits)]] / shots
            e = np.sqrt(np.clip(v * (1 - v), 0.0, None) / max(shots - 1, 1))
        else:  # Samples: its own number of shots, as outcome sequences
            v = counts_to_samples(counts[at[k]], rng)
            e = np.zeros(v.shape)
        values.append(v)
        errors.append(e)
    b = _batched(sim, params, inputs)
    return Estimate(tuple(batch_shaped(np.asarray(v), b) for v in values),
                    tuple(batch_shaped(np.asarray(e), b) for e in errors), shots)


def estimate_call(sim: Any, params: Any, inputs: Any, outputs: Sequence[Output] | None, shots: Any,
                  rng: np.random.Generator | int | None) -> Estimate | tuple[Estimate, ...]:
    """``sim.estimate``: shots checked (a shot vector gives a tuple), outputs defaulted to the program's."""
    n = check_shots(shots)
    if n is None:
        raise InputError("estimate needs shots: build the simulator with shots=N or pass shots=N")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    outs = sim.program.outputs if outputs is None else tuple(outputs)
    if isinstance(n, tuple):
        return tuple(estimate(sim, outs, params, inputs, k, gen) for k in n)
    return estimate(sim, outs, params, inputs, n, gen)


def probs(sim: Any, params: Any, inputs: Any, qubits: tuple[int, ...], shots: int,
          rng: np.random.Generator) -> np.ndarray:
    """Estimated probabilities of ``qubits`` (frequencies of ``shots`` draws), shaped as ``Simulator.probs``."""
    c, _ = measure(sim, params, inputs, [(qubits, ("Z",) * len(qubits))], shots, rng)
    return batch_shaped(c[0] / shots, _batched(sim, params, inputs))


__all__ = ["Estimate", "check_seed", "check_shots", "counts_to_samples", "draw_counts", "estimate", "estimate_call",
           "estimates_from_counts", "expval", "group_probabilities", "measure", "probs", "rotated_marginal",
           "sample_observables", "shot_list"]
