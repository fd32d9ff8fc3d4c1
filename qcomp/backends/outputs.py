"""Evaluate declared outputs (qcomp.ir.outputs) on the simulator: one forward pass per kind of need."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from ..ir.outputs import Output
from ..ir.values import batch_shaped, bind_pair


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
                probs[qs] = np.atleast_2d(sim.probs(params, inputs, qubits=qs))
            measured["probs"] = probs[qs]
        if nd.state:
            if state is None:
                state = np.atleast_2d(sim.state(params, inputs))
            measured["state"] = state
        results.append(batch_shaped(np.asarray(o.finish(measured, rng)), batched))
    return results
