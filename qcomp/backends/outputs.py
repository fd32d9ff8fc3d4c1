"""Evaluate declared outputs (qcomp.ir.outputs) on the simulator: one forward pass per kind of need."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..errors import InputError, UnsupportedError
from ..ir.outputs import Expectation, Output, Probabilities, Variance, parity_observables, parity_to_probs, square
from ..ir.values import batch_shaped, bind_pair


def _own_probs(sim: Any) -> Callable:
    """``sim.probs`` in the numbering of ``sim.program``'s qubits (what its outputs are about).

    A model's simulator overrides probs to take the *declared* program's numbering (its program
    may have renumbered qubits, see qcomp.api._DeclaredQubits); outputs built from its own
    program must bypass that override, so take the first ``probs`` of the class chain that is not it."""
    for cls in type(sim).__mro__:
        fn = cls.__dict__.get("probs")
        if fn is not None and cls.__name__ != "_DeclaredQubits":
            return fn.__get__(sim)
    return sim.probs


def evaluate(sim: Any, outputs: Sequence[Output], params: Any = None, inputs: Any = None,
             seed: int | None = None) -> list[np.ndarray]:
    """The value of each output for every batch row, in order: arrays of shape (B, *output.shape(n)),
    or output.shape(n) when no argument is batched (the rule of qcomp.ir.values).

    All expectation values the outputs need (e.g. <O> and <O**2> for a variance) come from one
    simulation of the circuit with those observables; probabilities and states from one forward
    pass per distinct qubit set. ``sim`` is a ``Simulator`` (its options are reused).
    """
    for o in outputs:
        if not isinstance(o, Output):
            raise InputError(f"outputs must be qcomp.ir.outputs.Output instances, got {type(o).__name__}")
    needs = [o.needs() for o in outputs]
    observables: list = []
    index: dict = {}
    for nd in needs:
        for ob in nd.observables:
            if ob not in index:
                index[ob] = len(observables)
                observables.append(ob)
    # the simulator's results without a batch axis get one here (one row), and lose it at the end
    batched = bind_pair(sim.program.params, sim.program.inputs, params, inputs)[3:] != (False, False)
    expvals = None
    if observables:
        if tuple(observables) == tuple(sim.program.observables):
            expvals = np.atleast_2d(sim.expval(params, inputs))
        else:
            expvals = np.atleast_2d(sim.with_observables(tuple(observables)).expval(params, inputs))
    probs: dict[tuple[int, ...], np.ndarray] = {}
    state = None
    rng = np.random.default_rng(seed)
    results: list[np.ndarray] = []
    for o, nd in zip(outputs, needs):
        measured: dict[str, Any] = {}
        if nd.observables:
            measured["expvals"] = expvals[:, [index[ob] for ob in nd.observables]]
        if nd.probabilities is not None:
            qs = tuple(nd.probabilities)
            if qs not in probs:
                probs[qs] = np.atleast_2d(_own_probs(sim)(params, inputs, qubits=qs))
            measured["probs"] = probs[qs]
        if nd.state:
            if state is None:
                state = np.atleast_2d(sim.state(params, inputs))
            measured["state"] = state
        results.append(batch_shaped(np.asarray(o.finish(measured, rng)), batched))
    return results


MAX_PROBS_GRADIENT_QUBITS = 12  # the gradient of probs runs 2**k - 1 parity observables


def _needed_expvals(o: Output) -> tuple:
    """The Pauli sums whose expectation values ``o`` is a differentiable function of."""
    if isinstance(o, Expectation):
        return (o.observable,)
    if isinstance(o, Variance):
        return (o.observable, square(o.observable))
    if isinstance(o, Probabilities):
        if len(o.qubits) > MAX_PROBS_GRADIENT_QUBITS:
            raise UnsupportedError(f"the gradient of probs of {len(o.qubits)} qubits is not supported"
                                   f" (at most {MAX_PROBS_GRADIENT_QUBITS}: it needs 2**k - 1 parity expectations)")
        return parity_observables(o.qubits)
    raise UnsupportedError(f"'{o.kind}' outputs are not differentiable"
                           + (" (samples are random draws; differentiate 'probs' of the same qubits instead)"
                              if o.kind == "samples" else ""))


def output_jacobian(sim: Any, params: Any = None, inputs: Any = None, outputs: Sequence[Output] | None = None,
                    gradient: Callable[[Any], np.ndarray] | None = None) -> list[np.ndarray]:
    """d output / d params (or d inputs, with a ``gradient`` that differentiates them) for each differentiable output (default: the program's): arrays of shape
    (B, *output.shape(n), P), or (*shape, P) when no argument is batched.

    Every differentiable output is a function of expectation values of Pauli sums (<O>; <O> and
    <O**2> for a variance; the 2**k - 1 Z parities of k qubits for probabilities), so one
    Jacobian of those expectation values and the chain rule give them all. ``gradient(s)`` returns
    that Jacobian (B, n_observables, P) for a simulator ``s`` of the needed observables; the default
    is its adjoint ``s.gradient(params, inputs)``; pass e.g. ``lambda s:
    qcomp.gradients.simulator_gradient(s, params, inputs, "parameter-shift")`` for shift rules.
    Samples and states raise UnsupportedError (not differentiable).
    """
    outs = tuple(sim.program.outputs if outputs is None else outputs)
    for o in outs:
        if not isinstance(o, Output):
            raise InputError(f"outputs must be qcomp.ir.outputs.Output instances, got {type(o).__name__}")
    needs = [_needed_expvals(o) for o in outs]
    observables: list = []
    index: dict = {}
    for nd in needs:
        for ob in nd:
            if ob not in index:
                index[ob] = len(observables)
                observables.append(ob)
    batched = bind_pair(sim.program.params, sim.program.inputs, params, inputs)[3:] != (False, False)
    nparams = sim.program.num_params
    if not observables:
        return []
    other = sim.with_observables(tuple(observables))
    jac = np.asarray(other.gradient(params, inputs) if gradient is None else gradient(other), dtype=float)
    jac = jac.reshape((-1, len(observables), jac.shape[-1] if jac.size else nparams))  # params or inputs
    values = np.atleast_2d(other.expval(params, inputs)) if any(isinstance(o, Variance) for o in outs) else None
    results = []
    for o, nd in zip(outs, needs):
        cols = [index[ob] for ob in nd]
        if isinstance(o, Expectation):
            g = jac[:, cols[0], :]
        elif isinstance(o, Variance):  # d(<O2> - <O>**2) = d<O2> - 2 <O> d<O>
            g = jac[:, cols[1], :] - 2.0 * values[:, cols[0], None] * jac[:, cols[0], :]
        else:  # P = W [1, <Z_S>...]: the constant column has no derivative
            w = parity_to_probs(len(o.qubits))[:, 1:]
            g = np.einsum("ks,bsp->bkp", w, jac[:, cols, :])
        results.append(batch_shaped(g, batched))
    return results
