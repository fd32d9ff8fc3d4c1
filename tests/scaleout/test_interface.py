"""SimulatorLike: the in-process and the Dask simulator offer the same verbs with the same parameters."""

import inspect

import numpy as np

import qcomp
from qcomp.backends.interface import SimulatorLike
from qcomp.backends.simulator import Simulator
from qcomp.distributed import DistributedSimulator


def _public_methods(cls) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(fn) for name, fn in inspect.getmembers(cls, callable)
            if not name.startswith("_")}


def _parameters(sig: inspect.Signature) -> list[tuple]:
    """Names, kinds and defaults: what a caller can rely on (annotations may be spelled differently)."""
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


def test_simulator_like_lists_every_public_simulator_method():
    sim, iface = _public_methods(Simulator), _public_methods(SimulatorLike)
    assert sorted(sim) == sorted(iface), "a Simulator method is missing from SimulatorLike, or the reverse"
    for name in sim:
        assert _parameters(sim[name]) == _parameters(iface[name]), name


def test_distributed_simulator_has_every_verb_with_the_same_parameters():
    dist = _public_methods(DistributedSimulator)
    for name, sig in _public_methods(SimulatorLike).items():
        assert name in dist, f"DistributedSimulator lacks {name}"
        assert _parameters(dist[name]) == _parameters(sig), name


def test_the_in_process_simulator_is_simulator_like():
    sim = qcomp.compile("qubit q[1]; param t; ry(t) q[0]; expect z(q[0]);", cache=False).simulator()
    assert isinstance(sim, SimulatorLike)
    np.testing.assert_allclose(sim.expval(np.array([0.3])), [np.cos(0.3)], atol=1e-12)  # flat params: no batch axis
