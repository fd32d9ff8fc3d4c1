"""examples/feedforward_classifier.q: a dynamic-circuit model (mid-circuit measurement, reset,
feed-forward) trains through qcomp.train with exact gradients, and exports as a dynamic circuit."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import qcomp
from qcomp.backends.qasm import emit_qasm
from qcomp.train import Adam, Dataset, fit

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "feedforward_classifier.q"


def test_feedforward_classifier_trains() -> None:
    model = qcomp.compile(str(EXAMPLE))
    ops = model.program.circuit.ops()
    assert any(op.name == "measure" for op in ops) and any(op.cond for op in ops)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (48, 2))
    y = np.where(x[:, 0] * x[:, 1] > 0, 1.0, -1.0)
    data = Dataset(x[:32], y[:32], x[32:], y[32:])
    p0 = rng.normal(0, 0.3, model.program.num_params)
    res = fit(model.simulator(), p0, data, loss="hinge", optimizer=Adam(lr=0.1), epochs=4, batch_size=8,
              seed=1, progress=False)
    losses = [h["loss"] for h in res.history]
    assert len(losses) == 4 and losses[-1] < losses[0] - 0.02, losses
    # the trained parameters feed the conditioned rotations: their gradients are not all zero
    g = model.simulator().gradient(res.params, x[:4])
    assert np.abs(g[..., 3:5]).max() > 1e-3


def test_feedforward_classifier_exports_dynamic_qasm() -> None:
    text = emit_qasm(qcomp.compile(str(EXAMPLE)).optimized("qasm")).text
    assert "m[0] = measure" in text and "reset" in text and "if (m[0]) {" in text and "} else {" in text
