"""Simulator.value_and_vjp: values and loss gradient in one sweep, equal to expval + vjp, chunked or not."""

import numpy as np
import pytest

import qcomp
from qcomp.errors import InputError
from qcomp.train import HingeLoss

SRC = """
qubit q[5]; input x[5]; param w[10];
for i in range(5) { rx(pi * x[i]) q[i]; }
for i in range(4) { rxx(w[i]) q[i], q[4]; rzz(w[5 + i]) q[i], q[4]; }
ry(w[9]) q[4];
expect z(q[4]);
expect 0.5 * x(q[0]) @ z(q[4]);
"""


@pytest.mark.parametrize("batch_size", [None, 2])  # the second forces chunks of 2 rows
def test_value_and_vjp_equals_expval_plus_vjp(batch_size):
    sim = qcomp.compile(SRC, optimize=0).simulator(batch_size=batch_size)
    rng = np.random.default_rng(2)
    w, x = rng.uniform(-2, 2, 10), (rng.random((7, 5)) > 0.5).astype(float)
    y = rng.choice([-1.0, 1.0], size=(7, 2))
    loss = HingeLoss()
    calls = []

    def cot(values, rows):
        calls.append(rows)
        return loss.grad(values, y[rows]) * (values.shape[0] / len(y))

    values, g = sim.value_and_vjp(w, x, cot)
    want = sim.expval(w, x)
    np.testing.assert_allclose(values, want, atol=1e-12)
    np.testing.assert_allclose(g, sim.vjp(w, x, loss.grad(want, y)), atol=1e-12)
    assert sum(r.stop - r.start for r in calls) == 7
    if batch_size is not None:
        assert len(calls) > 1  # the cotangent really came per chunk


def test_value_and_vjp_rejects_bad_cotangent():
    sim = qcomp.compile(SRC, optimize=0).simulator()
    with pytest.raises(InputError, match="cotangent_fn"):
        sim.value_and_vjp(np.zeros(10), np.zeros((2, 5)), lambda v, rows: np.zeros((1, 1)))
