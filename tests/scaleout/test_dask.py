"""qcomp.distributed on a real 2-process LocalCluster: equality with the local simulator, shipping, faults."""

import os
import signal
import threading
import time

import numpy as np
import pytest

pytest.importorskip("distributed")

import qcomp  # noqa: E402
import qcomp.gradients  # noqa: E402,F401  (registers parameter-shift on the local simulator)
from qcomp.cli import main  # noqa: E402
from qcomp.distributed import DaskExecutor, DistributedError, DistributedSimulator, worker_stats  # noqa: E402
from qcomp.errors import InputError, QCompError  # noqa: E402
from qcomp.train import init_params  # noqa: E402

SRC = """
qubit q[6];
input x[6];
param w[18];
for i in range(6) { rx(x[i]) q[i]; }
for i in range(6) { ry(w[i]) q[i]; }
for i in range(5) { cx q[i], q[i + 1]; }
for i in range(6) { rz(w[6 + i]) q[i]; rx(w[12 + i] * x[i]) q[i]; }
expect z(q[0]);
expect x(q[5]) @ z(q[2]) + 0.5 * y(q[3]);
"""

# 4 qubits but the 16 digits features, so `qcomp train --data digits:3,6` runs in seconds
TRAIN_SRC = """
qubit q[4];
input pixel[16];
param w[8];
for i in range(16) { rx(pi * pixel[i]) q[i % 4]; }
for i in range(4) { ry(w[i]) q[i]; }
for i in range(3) { cx q[i], q[i + 1]; }
for i in range(4) { ry(w[4 + i]) q[i]; }
expect z(q[3]);
"""


@pytest.fixture(scope="module")
def executor():
    with DaskExecutor(n_workers=2, timeout=30) as ex:
        yield ex


@pytest.fixture(scope="module")
def model():
    return qcomp.compile(SRC, cache=False)


def _data(model, B, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=model.num_params), rng.normal(size=(B, model.num_inputs)),
            rng.normal(size=(B, model.num_outputs)))


def test_local_cluster_has_two_worker_processes(executor):
    pids = executor.worker_pids()
    assert len(pids) == 2 and len(set(pids.values())) == 2 and os.getpid() not in pids.values()
    assert executor.client.nthreads() and set(executor.client.nthreads().values()) == {1}


def test_results_equal_local_simulator(executor, model):
    local = model.simulator()
    dist = model.simulator(executor=executor)
    assert isinstance(dist, DistributedSimulator)
    w, x, cot = _data(model, 37)  # odd batch: shards of 18 and 19 rows
    np.testing.assert_allclose(dist.expval(w, x), local.expval(w, x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dist.vjp(w, x, cot), local.vjp(w, x, cot), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dist.gradient(w, x), local.gradient(w, x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dist.gradient(w, x, "parameter-shift"), local.gradient(w, x, "adjoint"),
                               rtol=0, atol=1e-10)
    np.testing.assert_allclose(dist.probs(w, x), local.probs(w, x), rtol=0, atol=1e-12)
    # per-row params: vjp rows are concatenated, not summed
    W = np.random.default_rng(5).normal(size=(37, model.num_params))
    assert dist.vjp(W, x, cot).shape == (37, model.num_params)
    np.testing.assert_allclose(dist.vjp(W, x, cot), local.vjp(W, x, cot), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dist.expval_batch(W, x), local.expval_batch(W, x), rtol=0, atol=1e-12)
    # dict arguments by declared name, inputs shared by all param rows
    np.testing.assert_allclose(dist.expval({"w": W}, {"x": x[0]}), local.expval({"w": W}, {"x": x[0]}),
                               rtol=0, atol=1e-12)
    # a batch of one row and more shards than rows
    np.testing.assert_allclose(dist.expval(w, x[:1]), local.expval(w, x[:1]), rtol=0, atol=1e-12)
    many = DistributedSimulator(model, executor, shards=5)
    np.testing.assert_allclose(many.vjp(w, x[:3], cot[:3]), local.vjp(w, x[:3], cot[:3]), rtol=0, atol=1e-12)


def test_shards_are_contiguous_and_cover_the_batch(executor, model):
    # each row's output is recognisable, so a lost, duplicated or reordered row would show
    dist = DistributedSimulator(model, executor, shards=4)
    w, _, _ = _data(model, 1)
    x = np.linspace(-1.5, 1.5, 23)[:, None] * np.ones((1, model.num_inputs))
    np.testing.assert_allclose(dist.expval(w, x), model.simulator().expval(w, x), rtol=0, atol=1e-12)


def test_program_is_shipped_once_per_worker(executor):
    m = qcomp.compile(SRC.replace("0.5 * y(q[3])", "0.25 * y(q[1])"), cache=False)
    dist = m.simulator(executor=executor)
    before = executor.client.run(worker_stats)
    w, x, cot = _data(m, 16, seed=3)
    for _ in range(3):
        dist.expval(w, x)
        dist.vjp(w, x, cot)
        dist.gradient(w, x)
    after = executor.client.run(worker_stats)
    delta = {a: {k: after[a][k] - before[a].get(k, 0) for k in after[a]} for a in after}
    assert sum(d["tasks"] for d in delta.values()) == 18  # 9 calls x 2 shards
    # the program reached each worker exactly once (not per task or per call) ...
    assert [d["shipped"] for d in delta.values()] == [1, 1]
    # ... and each worker built its Simulator (and kernel plans) at most once
    assert all(d["builds"] == (1 if d["tasks"] else 0) for d in delta.values())
    dist.expval(w, x)
    again = executor.client.run(worker_stats)
    assert all(again[a]["shipped"] == after[a]["shipped"] and again[a]["builds"] == after[a]["builds"]
               for a in again)


def test_user_errors_are_qcomp_errors_with_whole_batch_rows(executor, model):
    dist = model.simulator(executor=executor)
    w, x, cot = _data(model, 8)
    x[6, 2] = np.nan
    with pytest.raises(InputError, match="sample 6 is NaN"):
        dist.expval(w, x)
    with pytest.raises(InputError, match=r"shape \(8, 5\)"):
        dist.expval(w, np.zeros((8, 5)))
    with pytest.raises(InputError, match="cotangent"):
        dist.vjp(w, np.zeros((8, 6)), cot[:3])
    with pytest.raises(InputError, match="unknown param 'v'"):  # raised on a worker, same class locally
        dist.expval({"w": w, "v": 1.0}, np.zeros((8, 6)))
    with pytest.raises(QCompError, match="unknown gradient method 'nope'"):
        dist.gradient(w, np.zeros((8, 6)), "nope")


def test_unreachable_scheduler_errors_within_timeout():
    t0 = time.monotonic()
    with pytest.raises(DistributedError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 2 s"):
        DaskExecutor("tcp://127.0.0.1:1", timeout=2)
    assert time.monotonic() - t0 < 15
    with pytest.raises(DistributedError, match="positive"):
        DaskExecutor("tcp://127.0.0.1:1", timeout=0)


def test_executor_connects_to_an_existing_scheduler_and_leaves_it_running(model):
    from distributed import Client, LocalCluster

    def held_programs():
        import qcomp.distributed as qd

        return len(qd._PROGRAMS), len(qd._SIMULATORS)

    w, x, _ = _data(model, 6)
    with LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                      scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"}) as cluster:
        with DaskExecutor(cluster.scheduler_address, n_workers=1, timeout=30) as ex:
            assert ex.cluster is None and ex.n_workers == 1
            np.testing.assert_allclose(model.simulator(executor=ex).expval(w, x), model.simulator().expval(w, x),
                                       rtol=0, atol=1e-12)
            assert list(ex.client.run(held_programs).values()) == [(1, 1)]
        with Client(cluster) as other:  # the cluster survives; our program was taken off its worker
            assert list(other.run(held_programs).values()) == [(0, 0)]


def test_killed_worker_shard_is_recomputed(model):
    def slow_first_shard(seconds):
        # installed on each worker: the first shard it runs sleeps, so it can be killed mid-task
        import time as _t

        import qcomp.distributed as qd

        orig, state = qd._call, {"first": True}

        def slow(*a, **k):
            if state["first"]:
                state["first"] = False
                _t.sleep(seconds)
            return orig(*a, **k)

        qd._call = slow

    local = model.simulator()
    w, x, cot = _data(model, 40, seed=7)
    with DaskExecutor(n_workers=2, timeout=30) as ex:
        ex.client.run(slow_first_shard, 3.0)
        dist = model.simulator(executor=ex)
        box = {}
        th = threading.Thread(target=lambda: box.setdefault("g", dist.vjp(w, x, cot)))
        th.start()
        deadline = time.monotonic() + 20
        victim = None
        while victim is None and time.monotonic() < deadline:
            busy = [a for a, keys in ex.client.processing().items() if keys]
            victim = busy[0] if busy else None
            time.sleep(0.05)
        assert victim is not None, "no shard started"
        time.sleep(0.5)  # the shard is inside its sleep now
        pid = ex.client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
        th.join(60)
        assert not th.is_alive()
        np.testing.assert_allclose(box["g"], local.vjp(w, x, cot), rtol=0, atol=1e-12)
        # the cluster is usable afterwards and rows are neither lost nor duplicated
        np.testing.assert_allclose(dist.expval(w, x), local.expval(w, x), rtol=0, atol=1e-12)
        assert pid not in ex.worker_pids().values()
        # the restarted worker received the program at start-up, once
        stats = ex.client.run(worker_stats)
        assert all(st["shipped"] == 1 for st in stats.values())


def test_train_cli_with_workers_matches_single_process(tmp_path, capsys):
    src = tmp_path / "small.q"
    src.write_text(TRAIN_SRC)
    common = ["train", str(src), "--data", "digits:3,6", "--epochs", "1", "--batch-size", "32",
              "--lr", "0.05", "--seed", "1", "--no-progress", "--no-export"]
    assert main(common + ["--save", str(tmp_path / "one.npz")]) == 0
    assert main(common + ["--save", str(tmp_path / "two.npz"), "--workers", "2"]) == 0
    capsys.readouterr()
    with np.load(tmp_path / "one.npz") as a, np.load(tmp_path / "two.npz") as b:
        assert a["params"].shape == (8,)
        np.testing.assert_allclose(b["params"], a["params"], rtol=0, atol=1e-12)
        assert not np.allclose(a["params"], init_params(8, seed=1))  # it trained


def test_train_cli_scheduler_errors(tmp_path, capsys):
    src = tmp_path / "small.q"
    src.write_text(TRAIN_SRC)
    base = ["train", str(src), "--data", "digits:3,6", "--epochs", "1", "--no-progress", "--no-export",
            "--save", str(tmp_path / "p.npz")]
    assert main(base + ["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"]) == 1
    assert "not both" in capsys.readouterr().err
    assert main(base + ["--workers", "0"]) == 1
    assert "--workers must be a positive integer" in capsys.readouterr().err
    assert not (tmp_path / "p.npz").exists()


# -- the verbs DistributedSimulator gained to match SimulatorLike ------------------------------------

def test_distributed_simulator_is_simulator_like(executor, model):
    from qcomp.backends.interface import SimulatorLike

    dist = DistributedSimulator(model, executor)
    assert isinstance(dist, SimulatorLike) and isinstance(model.simulator(executor=executor), SimulatorLike)


def test_state_sample_and_hessian_equal_local_simulator(executor, model):
    from qcomp.backends.simulator import Simulator
    from qcomp.gradients import GradientMethods

    class Local(GradientMethods, Simulator):
        pass

    local = Local(model.optimized("sim"))  # the program DistributedSimulator(model) runs
    dist = DistributedSimulator(model, executor, shards=3)
    w, x, _ = _data(model, 7)
    np.testing.assert_allclose(dist.state(w, x), local.state(w, x), rtol=0, atol=1e-12)
    # one generator over the rows in order: the same counts as in this process, for any sharding
    assert dist.sample(w, x, shots=200, seed=11) == local.sample(w, x, shots=200, seed=11)
    assert dist.sample(w, x[:2], shots=50, seed=3, qubits=[4, 0]) == local.sample(w, x[:2], shots=50, seed=3,
                                                                                   qubits=[4, 0])
    h = dist.hessian(w, x[:3])
    assert h.shape == (3, model.num_outputs, model.num_params, model.num_params)
    np.testing.assert_allclose(h, local.hessian(w, x[:3]), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dist.hessian(w, x[:3], wrt="inputs"), local.hessian(w, x[:3], wrt="inputs"),
                               rtol=0, atol=1e-10)
    with pytest.raises(InputError, match="shots must be a positive integer"):  # raised on the worker
        dist.sample(w, x, shots=0)


def test_value_and_vjp_numbers_rows_in_the_whole_batch(executor, model):
    local = model.simulator()
    dist = DistributedSimulator(model, executor, shards=3)
    w, x, cot = _data(model, 10, seed=2)
    seen = []

    def cotangent(values, rows):
        seen.append((rows.start, rows.stop))
        return cot[rows] * values  # depends on the rows: a wrong row offset would show

    v_local, g_local = local.value_and_vjp(w, x, cotangent)
    v, g = dist.value_and_vjp(w, x, cotangent)
    np.testing.assert_allclose(v, v_local, rtol=0, atol=1e-12)
    np.testing.assert_allclose(g, g_local, rtol=0, atol=1e-12)
    W = np.random.default_rng(1).normal(size=(10, model.num_params))
    v, G = dist.value_and_vjp(W, x, cotangent)
    assert G.shape == (10, model.num_params)
    np.testing.assert_allclose(G, local.value_and_vjp(W, x, cotangent)[1], rtol=0, atol=1e-12)
    with pytest.raises(InputError, match="cotangent_fn must be a function"):
        dist.value_and_vjp(w, x, "not a function")


def test_plans_and_memory_are_the_workers(executor, model):
    from qcomp.backends.simulator import Simulator

    dist = DistributedSimulator(model, executor, shards=2)
    mine = Simulator(model.optimized("sim"), threads=1)
    assert dist.describe().endswith(mine.describe()) and dist.state_passes() == mine.state_passes()
    assert dist.memory_plan(11, gradient=True) == mine.memory_plan(6, gradient=True)  # the larger shard


def test_model_state_and_sample_are_about_the_declared_qubits(executor):
    # q[1] is idle and q[2] is measured only: the "sim" program drops qubits that the state keeps
    m = qcomp.compile("qubit q[3]; param t; ry(t) q[0]; cx q[0], q[2]; expect z(q[0]); measure q[2];",
                      cache=False)
    local, dist = m.simulator(), m.simulator(executor=executor)
    t = np.array([0.7])
    assert dist.state(t).shape == (8,)  # flat params: no batch axis, as locally
    np.testing.assert_allclose(dist.state(t), local.state(t), rtol=0, atol=1e-12)
    assert dist.sample(t, shots=64, seed=5) == local.sample(t, shots=64, seed=5)
    assert dist.sample(t, shots=64, seed=5, qubits=[0, 1]) == local.sample(t, shots=64, seed=5, qubits=[0, 1])


def test_fit_on_the_cluster_uses_value_and_vjp_and_matches_local(executor):
    from qcomp.train import Dataset, fit, get_optimizer

    m = qcomp.compile(TRAIN_SRC, cache=False)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(40, 16))
    y = np.where(x[:, :8].sum(axis=1) > x[:, 8:].sum(axis=1), 1, -1)
    data = Dataset(x[:30], y[:30], x[30:], y[30:])
    dist = m.simulator(executor=executor)
    calls = []
    real = dist.value_and_vjp
    dist.value_and_vjp = lambda *a: calls.append(1) or real(*a)
    runs = [fit(sim, init_params(8, seed=1), data, optimizer=get_optimizer("adam", lr=0.1), epochs=2,
                batch_size=8, progress=False) for sim in (m.simulator(), dist)]
    assert len(calls) == 8  # 4 batches x 2 epochs, one round trip each
    np.testing.assert_allclose(runs[1].params, runs[0].params, rtol=0, atol=1e-12)


def test_output_kinds_equal_local_simulator(executor, model):
    from qcomp.ir.outputs import Probabilities, Variance

    dist = model.simulator(executor=executor)
    local = model.simulator()
    w, x, _ = _data(model, 5)
    obs = model.optimized("sim").observables[0]
    kinds = [Variance(obs), Probabilities((0,))]
    for a, b in zip(dist.outputs(w, x, outputs=kinds), local.outputs(w, x, outputs=kinds)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.stack(dist.outputs(w, x), axis=1), local.expval(w, x), rtol=0, atol=1e-12)


def test_value_and_gradient_equal_local_simulator(executor, model):
    dist = DistributedSimulator(model, executor, shards=2)
    local = model.simulator()
    w, x, _ = _data(model, 5)
    for a, b in zip(dist.value_and_gradient(w, x), local.value_and_gradient(w, x)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_declared_outputs_and_their_gradient_on_the_workers(executor):
    # var and probs (qcomp.backends.outputs): the same values and chain-rule gradients as in process
    m = qcomp.compile("qubit q[2]; param w[2]; input x; ry(w[0] * x) q[0]; cx q[0], q[1]; rx(w[1]) q[1];"
                      " var x(q[0]) + z(q[1]); probs q[1], q[0];", cache=False)
    w, x = np.array([0.3, -0.8]), np.array([[0.5], [1.1], [-0.4]])
    local, dist = m.simulator(), m.simulator(executor=executor)
    for a, b in zip(local.outputs(w, x), dist.outputs(w, x)):
        np.testing.assert_allclose(a, b, atol=1e-12)
    for a, b in zip(local.output_gradient(w, x), dist.output_gradient(w, x)):
        np.testing.assert_allclose(a, b, atol=1e-10)
