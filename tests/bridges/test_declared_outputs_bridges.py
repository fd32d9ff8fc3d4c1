"""The torch and jax bridges take var and probs outputs as columns (checked against finite
differences of Simulator.outputs); samples are refused, as is any non-expect output in sklearn."""

from __future__ import annotations

import numpy as np
import pytest

from qcomp.errors import UnsupportedError

SRC = """
const M = [[1, 0.5, 0, 0], [0.5, -1, 0.2, 0], [0, 0.2, 2, 1], [0, 0, 1, 0]];
qubit idle;
qubit q[3];
param w[3];
input x;
ry(w[0] * x) q[0]; rx(w[1]) q[1]; cx q[0], q[1]; ry(w[2]) q[2]; crz(w[0]) q[1], q[2]; h q[0];
var x(q[0]) + 0.3 * z(q[1]) @ y(q[2]);
probs q[2], q[0];
expect hermitian(M) q[1], q[2];
var hermitian(M) q[0], q[2];
expect sum(z(q[k]) for k in range(3));
sample(50) q[1];
"""

BRIDGE_SRC = """
qubit q[2];
param w[2];
input x[2];
ry(x[0] * w[0]) q[0]; rx(x[1]) q[1]; cx q[0], q[1]; ry(w[1]) q[1];
var x(q[0]) + z(q[1]);
probs q[1], q[0];
expect z(q[0]) @ z(q[1]);
"""


def _columns_fd(model, w, x, wrt: str, h: float = 1e-6):
    """d columns / d (params or inputs) by central differences of Simulator.outputs, (B, C, n)."""
    sim = model.simulator()

    def cols(w_, x_):
        v = sim.outputs(w_, x_)
        return np.concatenate([np.asarray(a).reshape(len(x_), -1) for a in v], axis=1)

    base = w if wrt == "params" else x
    out = []
    for k in range(base.shape[-1]):
        e = np.zeros_like(base)
        e[..., k] = h
        if wrt == "params":
            out.append((cols(w + e, x) - cols(w - e, x)) / (2 * h))
        else:
            out.append((cols(w, x + e) - cols(w, x - e)) / (2 * h))
    return np.stack(out, axis=-1)


def test_torch_bridge_differentiates_var_and_probs_columns() -> None:
    torch = pytest.importorskip("torch")
    import qcomp.torch as qtorch

    layer = qtorch.QLayer(BRIDGE_SRC, init=[0.4, -0.7])
    assert layer.num_outputs == 1 + 4 + 1
    x = torch.tensor([[0.3, 1.2], [-0.5, 0.8]], dtype=torch.float64, requires_grad=True)
    y = layer(x)
    want = layer.model.simulator().outputs(np.array([0.4, -0.7]), x.detach().numpy())
    np.testing.assert_allclose(y.detach().numpy()[:, 0], want[0], atol=1e-12)
    np.testing.assert_allclose(y.detach().numpy()[:, 1:5], want[1], atol=1e-12)
    cot = torch.tensor(np.random.default_rng(0).normal(size=(2, 6)))
    (y * cot).sum().backward()
    fd_w = _columns_fd(layer.model, np.array([0.4, -0.7]), x.detach().numpy(), "params")
    fd_x = _columns_fd(layer.model, np.array([0.4, -0.7]), x.detach().numpy(), "inputs")
    np.testing.assert_allclose(layer.weight.grad.numpy(), np.einsum("bc,bcp->p", cot.numpy(), fd_w), atol=1e-7)
    np.testing.assert_allclose(x.grad.numpy(), np.einsum("bc,bci->bi", cot.numpy(), fd_x), atol=1e-7)


def test_jax_bridge_differentiates_var_and_probs_columns() -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import qcomp.jax as qjax

    f = qjax.make_jax_function(BRIDGE_SRC, input_grad=True)
    w, x = jnp.array([0.4, -0.7]), jnp.array([[0.3, 1.2], [-0.5, 0.8]])
    cot = np.random.default_rng(1).normal(size=(2, 6))
    gw, gx = jax.grad(lambda w_, x_: jnp.sum(f(w_, x_) * cot), argnums=(0, 1))(w, x)
    fd_w = _columns_fd(f.model, np.asarray(w), np.asarray(x), "params")
    fd_x = _columns_fd(f.model, np.asarray(w), np.asarray(x), "inputs")
    np.testing.assert_allclose(np.asarray(gw), np.einsum("bc,bcp->p", cot, fd_w), atol=1e-7)
    np.testing.assert_allclose(np.asarray(gx), np.einsum("bc,bci->bi", cot, fd_x), atol=1e-7)


def test_bridges_refuse_non_differentiable_outputs_clearly() -> None:
    torch_bridge = pytest.importorskip("qcomp.torch")
    with pytest.raises(UnsupportedError, match="declares samples outputs, which are not differentiable"):
        torch_bridge.QLayer(SRC)
    sklearn_bridge = pytest.importorskip("qcomp.sklearn")
    with pytest.raises(UnsupportedError, match="QNNClassifier takes models whose outputs are 'expect' values"):
        sklearn_bridge.QNNClassifier(BRIDGE_SRC).fit(np.zeros((4, 2)), [0, 1, 0, 1])
    hermitian_only = "const M = [[1, 2], [2, 0]];\nqubit q;\nparam w;\nry(w) q;\nexpect hermitian(M) q;\n"
    layer = torch_bridge.QLayer(hermitian_only)  # a Hermitian observable is an expectation: the plain path
    assert layer.columns.plain and layer.num_outputs == 1
