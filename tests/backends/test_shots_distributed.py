"""Shot estimates on the Dask DistributedSimulator: the workers simulate, the client samples from one
seeded generator, so a seed gives the in-process simulator's draws whatever the sharding."""

import numpy as np
import pytest

pytest.importorskip("distributed")

import qcomp  # noqa: E402
from qcomp.backends.simulator import Simulator  # noqa: E402
from qcomp.distributed import DaskExecutor, DistributedSimulator  # noqa: E402
from qcomp.errors import InputError  # noqa: E402

SRC = """qubit q[4]; input x[4]; param w[8];
for i in range(4) { rx(x[i]) q[i]; ry(w[i]) q[i]; }
for i in range(3) { cx q[i], q[i + 1]; }
for i in range(4) { rz(w[4 + i]) q[i]; }
expect z(q[0]) @ z(q[1]) - 0.5 * x(q[2]) + 0.25 * y(q[3]) @ x(q[1]);
"""


def test_distributed_estimate_matches_the_in_process_simulator():
    model = qcomp.compile(SRC, cache=False)
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=model.num_params), rng.normal(size=(6, model.num_inputs))
    local = Simulator(model.optimized("sim")).estimate(w, x, shots=2000, seed=11)
    with DaskExecutor(n_workers=2, timeout=30) as ex:
        dist = DistributedSimulator(model.optimized("sim"), ex, shards=3)
        remote = dist.estimate(w, x, shots=2000, seed=11)
        with pytest.raises(InputError, match="estimate needs shots"):
            dist.estimate(w, x)
    np.testing.assert_allclose(remote.values[0], local.values[0], atol=1e-12)
    np.testing.assert_allclose(remote.stderr[0], local.stderr[0], atol=1e-12)
    exact = model.simulator().expval(w, x)[:, 0]
    assert np.all(np.abs(remote.values[0] - exact) < 4.5 * remote.stderr[0])
