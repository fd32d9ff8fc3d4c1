"""The local Dask cluster listens on loopback with TLS and credentials only its executor holds."""

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("cryptography")

import distributed  # noqa: E402

import qcomp  # noqa: E402
from qcomp.distributed import DaskExecutor, DistributedError  # noqa: E402


@pytest.fixture(scope="module")
def executor():
    with DaskExecutor(n_workers=1, timeout=30) as ex:
        yield ex


def test_local_cluster_is_tls_on_loopback(executor):
    addr = executor.cluster.scheduler_address
    assert addr.startswith("tls://127.0.0.1:"), addr
    workers = executor.client.scheduler_info()["workers"]
    assert workers and all(w.startswith("tls://127.0.0.1:") for w in workers)
    m = qcomp.compile("qubit q; param w; rx(w) q; expect z(q);", cache=False)
    got = m.simulator(executor=executor).expval(np.array([[0.0], [np.pi]]))
    np.testing.assert_allclose(got, [[1.0], [-1.0]], atol=1e-12)


# Another local process, as in the audit: connect and run code on the workers. Run apart so a
# handshake that stalls cannot hang the test session; stalling counts as not connected.
_INTRUDER = """
import os, sys
import distributed
from distributed.security import Security
address, mode = sys.argv[1], sys.argv[2]
kwargs = {"security": Security.temporary()} if mode == "foreign-ca" else {}
try:
    client = distributed.Client(address, timeout=5, **kwargs)
    client.run(os.getpid)
    print("CONNECTED", flush=True)
except Exception as exc:
    print("REFUSED", type(exc).__name__, flush=True)
os._exit(0)
"""


def _intruder_connects(address: str, mode: str = "plain") -> bool:
    try:
        r = subprocess.run([sys.executable, "-c", _INTRUDER, address, mode], capture_output=True, text=True,
                           timeout=60)
    except subprocess.TimeoutExpired:
        return False
    assert "CONNECTED" in r.stdout or "REFUSED" in r.stdout, r.stderr[-2000:]
    return "CONNECTED" in r.stdout


def test_clients_without_the_credentials_cannot_connect(executor):
    addr = executor.cluster.scheduler_address
    port = addr.rsplit(":", 1)[1]
    assert not _intruder_connects(f"tcp://127.0.0.1:{port}")
    assert not _intruder_connects(addr)
    # valid TLS, but certificates from another (self-signed) authority
    assert not _intruder_connects(addr, "foreign-ca")


def test_own_credentials_are_used_for_the_local_cluster():
    sec = distributed.security.Security.temporary()
    with DaskExecutor(n_workers=1, timeout=30, security=sec) as ex:
        assert ex.cluster.scheduler_address.startswith("tls://127.0.0.1:")
        assert ex.client.security is sec
        assert len(ex.client.run(os.getpid)) == 1


def test_security_must_be_a_security_object():
    with pytest.raises(DistributedError, match="distributed.security.Security"):
        DaskExecutor(n_workers=1, security="tls")


def test_distributed_probs_are_about_the_declared_qubits(executor):
    m = qcomp.compile("qubit a; qubit b; qubit c; param w; rx(w) c; expect z(c);", cache=False)
    sim = m.simulator(executor=executor)
    w = np.array([[0.0], [np.pi]])
    np.testing.assert_allclose(sim.probs(w, qubits=[2]), [[1, 0], [0, 1]], atol=1e-12)
    assert sim.probs(w).shape == (2, 8)
