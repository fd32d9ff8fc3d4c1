"""One shape rule for every result: a leading batch axis iff some argument was given as a batch."""

import numpy as np
import pytest

import qcomp
from qcomp.ir.values import bind_values

NO_INPUTS = "qubit q[2]; param w[2]; ry(w[0]) q[0]; cx q[0], q[1]; rx(w[1]) q[1]; expect z(q[0]); expect z(q[1]);"
INPUTS = "qubit q; input x; param w[2]; rx(x) q; ry(w[0]) q; rz(w[1]) q; expect z(q); expect x(q);"
W = np.array([0.3, -0.8])


def test_the_binder_reports_batches():
    decls = qcomp.parse(NO_INPUTS).params
    assert bind_values(decls, W, "param")[1] is False
    assert bind_values(decls, W[None], "param")[1] is True  # (1, P) is a batch of one
    assert bind_values(decls, {"w": W}, "param")[1] is False


def test_simulator_results_without_inputs():
    sim = qcomp.compile(NO_INPUTS).simulator()
    y = sim.expval(W)
    assert y.shape == (2,)
    np.testing.assert_allclose(sim.expval(W[None]), y[None], atol=1e-14)
    assert sim.probs(W).shape == (4,) and sim.probs(W[None]).shape == (1, 4)
    assert sim.state(W).shape == (4,) and sim.state(W[None]).shape == (1, 4)
    assert sim.gradient(W).shape == (2, 2) and sim.gradient(W[None]).shape == (1, 2, 2)
    assert sim.gradient(W, method="parameter-shift").shape == (2, 2)
    assert sim.hessian(W).shape == (2, 2, 2)
    assert isinstance(sim.sample(W, shots=10, seed=0), dict)
    assert isinstance(sim.sample(W[None], shots=10, seed=0), list)
    assert [o.shape for o in sim.outputs(W)] == [(), ()]
    # the vjp has the shape of the params
    g = sim.vjp(W, None, np.ones(2))
    assert g.shape == (2,)
    np.testing.assert_allclose(sim.vjp(W[None], None, np.ones((1, 2))), g[None], atol=1e-14)
    Wb = np.stack([W, 2 * W])
    assert sim.vjp(Wb, None, np.ones((2, 2))).shape == (2, 2)


def test_simulator_results_with_inputs():
    sim = qcomp.compile(INPUTS).simulator()
    x = np.array([[0.1], [0.5], [0.9]])
    assert sim.expval(W, x).shape == (3, 2)
    assert sim.expval(W, x[0]).shape == (2,)
    assert sim.vjp(W, x, np.ones((3, 2))).shape == (2,)  # flat params: summed over the inputs' batch
    assert sim.vjp(W[None], x, np.ones((3, 2))).shape == (1, 2)  # one batched row: summed into it
    values, g = sim.value_and_vjp(W, x, lambda v, rows: np.ones_like(v))
    assert values.shape == (3, 2) and g.shape == (2,)


def test_torch_bridge_agrees_with_the_simulator():
    torch = pytest.importorskip("torch")
    import qcomp.torch

    layer = qcomp.torch.QLayer(NO_INPUTS, init=W)
    y = layer()
    sim = qcomp.compile(NO_INPUTS).simulator()
    assert tuple(y.shape) == sim.expval(W).shape == (2,)
    np.testing.assert_allclose(y.detach().numpy(), sim.expval(W), atol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), sim.vjp(W, None, np.ones(2)), atol=1e-12)
    with_inputs = qcomp.torch.QLayer(INPUTS, init=W)
    assert tuple(with_inputs(torch.zeros(3, 1, dtype=torch.float64)).shape) == (3, 2)
    assert tuple(with_inputs(torch.zeros(1, dtype=torch.float64)).shape) == (2,)


def test_jax_bridge_agrees_with_the_simulator():
    pytest.importorskip("jax")
    import jax.numpy as jnp
    import qcomp.jax

    f = qcomp.jax.make_jax_function(NO_INPUTS)
    sim = qcomp.compile(NO_INPUTS).simulator()
    assert f(jnp.asarray(W)).shape == sim.expval(W).shape == (2,)
