"""qcomp.jax.make_jax_function: values match the simulator; jax.grad (eager, jit, vmap) matches finite differences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")
qjax = pytest.importorskip("qcomp.jax")
jnp = jax.numpy

from qcomp.errors import InputError  # noqa: E402

SOURCE = (Path(__file__).parent / "reupload.q").read_text()  # shared with the torch bridge tests


@pytest.fixture(scope="module")
def x64():
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)


@pytest.fixture(scope="module")
def f(x64):
    return qjax.make_jax_function(SOURCE)


@pytest.fixture(scope="module")
def point(x64):
    rng = np.random.default_rng(7)
    return jnp.asarray(rng.uniform(-np.pi, np.pi, 9)), jnp.asarray(rng.normal(size=(4, 2)))


def loss(f, p, x):
    y = f(p, x)
    return jnp.sum(jnp.tanh(y[:, 0]) * jnp.arange(1.0, 5.0)) + jnp.sum(y[:, 1] ** 2)


def fd_grad(fun, a, eps=1e-6):
    a = np.asarray(a, dtype=np.float64)
    g = np.zeros_like(a)
    for k in np.ndindex(a.shape):
        d = np.zeros_like(a)
        d[k] = eps
        g[k] = (float(fun(jnp.asarray(a + d))) - float(fun(jnp.asarray(a - d)))) / (2 * eps)
    return g


def test_values_match_simulator(f, point):
    p, x = point
    y = f(p, x)
    assert y.shape == (4, 2) and y.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(y), f.simulator.expval(np.asarray(p), np.asarray(x)), atol=1e-12)
    np.testing.assert_allclose(np.asarray(f(p, x[2])), np.asarray(y[2]), atol=1e-12)


def test_grad_matches_finite_differences(f, point):
    p, x = point
    gp, gx = jax.grad(lambda p, x: loss(f, p, x), argnums=(0, 1))(p, x)
    np.testing.assert_allclose(np.asarray(gp), fd_grad(lambda q: loss(f, q, x), p), atol=1e-6)
    np.testing.assert_allclose(np.asarray(gx), fd_grad(lambda z: loss(f, p, z), x), atol=1e-6)


def test_jit_and_vmap_agree_with_eager(f, point):
    p, x = point
    g = jax.grad(lambda p, x: loss(f, p, x), argnums=(0, 1))
    eager = g(p, x)
    jitted = jax.jit(g)(p, x)
    for a, b in zip(eager, jitted):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-12)
    np.testing.assert_allclose(np.asarray(jax.jit(f)(p, x)), np.asarray(f(p, x)), atol=1e-12)
    per_row = jax.vmap(lambda xi: f(p, xi))(x)
    np.testing.assert_allclose(np.asarray(per_row), np.asarray(f(p, x)), atol=1e-12)


def test_input_grad_false_treats_inputs_as_constants(point):
    p, x = point
    g = qjax.make_jax_function(SOURCE, input_grad=False)
    gp, gx = jax.grad(lambda p, x: loss(g, p, x), argnums=(0, 1))(p, x)
    assert np.all(np.asarray(gx) == 0.0)
    np.testing.assert_allclose(np.asarray(gp), fd_grad(lambda q: loss(g, q, x), p), atol=1e-6)


def test_classical_preprocessing_feeds_the_circuit(f, point):
    # a jnp layer before the circuit: the chain rule runs through the input cotangent
    p, x = point
    A = jnp.asarray([[0.5, -1.0], [0.3, 0.8], [1.2, 0.1]])

    def hybrid(A):
        return loss(f, p, jnp.tanh(jnp.asarray(np.random.default_rng(0).normal(size=(4, 3))) @ A))

    np.testing.assert_allclose(np.asarray(jax.grad(hybrid)(A)), fd_grad(hybrid, A), atol=1e-6)


def test_program_without_inputs(x64):
    h = qjax.make_jax_function("qubit q; param w[2]; ry(w[0]) q; rx(w[1]) q; expect z(q);")
    w = jnp.asarray([0.3, 1.1])
    assert float(h(w)[0]) == pytest.approx(np.cos(0.3) * np.cos(1.1))
    np.testing.assert_allclose(np.asarray(jax.grad(lambda w: h(w)[0])(w)),
                               [-np.sin(0.3) * np.cos(1.1), -np.cos(0.3) * np.sin(1.1)], atol=1e-12)


def test_float32_without_x64():
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)
    try:
        h = qjax.make_jax_function("qubit q; input x; param w; rx(x) q; ry(w) q; expect z(q);")
        y = h(jnp.asarray([0.4]), jnp.asarray([[0.2], [0.9]]))
        assert y.dtype == jnp.float32
        np.testing.assert_allclose(np.asarray(y)[:, 0], np.cos([0.2, 0.9]) * np.cos(0.4), rtol=1e-6)
        g = jax.grad(lambda w: h(w, jnp.asarray([[0.2]]))[0, 0])(jnp.asarray([0.4]))
        assert g.dtype == jnp.float32 and float(g[0]) == pytest.approx(-np.cos(0.2) * np.sin(0.4), rel=1e-5)
    finally:
        jax.config.update("jax_enable_x64", old)


def test_shape_errors(f, point):
    p, x = point
    with pytest.raises(InputError, match="9 parameters"):
        f(p[:3], x)
    with pytest.raises(InputError, match=r"expected \(batch, 2\)"):
        f(p, jnp.zeros((4, 3)))
    with pytest.raises(InputError, match="missing inputs"):
        f(p)
    with pytest.raises(InputError, match="input_diff_method"):
        qjax.make_jax_function(SOURCE, input_diff_method="magic")
