"""The reference estimators of benchmarks/qml_reference.py compute qcomp's circuits (values to 1e-10),
so that the grid wall-time benchmark times the same model on both sides (issue 18)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from qcomp.bridges import qml_models as M

pytest.importorskip("pennylane")
pytest.importorskip("optax")
jnp = pytest.importorskip("jax.numpy")

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def R():
    spec = importlib.util.spec_from_file_location("qml_reference", BENCH / "qml_reference.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["qml_reference"] = mod
    spec.loader.exec_module(mod)
    return mod


rng = np.random.default_rng(5)


def test_circuit_centric(R) -> None:
    X = rng.normal(size=(4, 3))
    ref = R.CircuitCentricClassifier(n_input_copies=2, n_layers=2)
    ref._build(4)  # 2 qubits per copy, 2 copies
    w = rng.uniform(0, 2 * np.pi, size=(2, 4, 3))
    got = np.asarray(ref.forward({"weights": jnp.asarray(w), "b": jnp.array(0.0)}, jnp.asarray(ref._transform(X))))
    want = M._simulator(M.circuit_centric_source(2, 2, 2)).expval(w.ravel(), M.CircuitCentricClassifier()._transform(X))
    assert np.allclose(got, want[:, 0], atol=1e-10)


def test_tree_tensor(R) -> None:
    X = rng.normal(size=(4, 6))  # 6 features -> 3 amplitude qubits -> a 4-qubit tree, 16 amplitudes
    assert R.TreeTensorClassifier.n_qubits_for(6) == M.TreeTensorClassifier.n_qubits_for(6) == 4
    ref = R.TreeTensorClassifier()
    ref._build(4)
    w = rng.uniform(0, 2 * np.pi, size=7)
    got = np.asarray(ref.forward({"weights": jnp.asarray(w), "bias": jnp.zeros(1)}, jnp.asarray(ref._transform(X))))
    want = M._simulator(M.tree_tensor_source(4)).expval(w, M.TreeTensorClassifier()._transform(X))
    assert np.allclose(got.ravel(), want[:, 0], atol=1e-10)


@pytest.mark.parametrize("n", [2, 3])
def test_dressed(R, n) -> None:
    X = rng.normal(size=(4, n))
    p = {"circuit_weights": rng.uniform(0, 2 * np.pi, size=(2, n)), "input_weights": rng.normal(size=(n, n)),
         "output_weights": rng.normal(size=(2, n))}
    ref = R.DressedQuantumCircuitClassifier(n_layers=2)
    ref._build(n)
    got = np.asarray(ref.forward({k: jnp.asarray(v) for k, v in p.items()}, jnp.asarray(X)))
    _, rows = M.DressedQuantumCircuitClassifier._rows(p, X)
    want = M._simulator(M.dressed_source(n, 2)).expval(rows, None) @ p["output_weights"].T
    assert np.allclose(got, want, atol=1e-10)


def test_separable(R) -> None:
    X = rng.uniform(-1.5, 1.5, size=(4, 3))
    w = rng.uniform(0, 2 * np.pi, size=(3, 3, 3))  # 2 encoding layers + the last Rot
    ref = R.SeparableVariationalClassifier(encoding_layers=2)
    ref._build(3)
    got = np.asarray(ref.forward({"weights": jnp.asarray(w)}, jnp.asarray(X)))
    P, Xr = M.SeparableVariationalClassifier._rows(w, X)
    want = M._simulator(M.separable_source(2)).expval(P, Xr)[:, 0].reshape(4, 3).mean(axis=1)
    assert np.allclose(got, want, atol=1e-10)


def test_iqp_kernel(R) -> None:
    X1, X2 = rng.uniform(-1.5, 1.5, size=(3, 3)), rng.uniform(-1.5, 1.5, size=(4, 3))
    ref = R.IQPKernelClassifier(repeats=2)
    ref.n_qubits_ = 3
    got = ref.precompute_kernel(X1, X2)
    want = M.IQPKernelClassifier(repeats=2).gram(X1, X2)
    assert np.allclose(got, want, atol=1e-10)


@pytest.mark.parametrize("embedding", ["Hamiltonian", "IQP"])
def test_projected_kernel(R, embedding) -> None:
    d = 2
    X1, X2 = rng.uniform(-1.5, 1.5, size=(3, d)), rng.uniform(-1.5, 1.5, size=(4, d))
    ref = R.ProjectedQuantumKernel(embedding=embedding, t=0.7, trotter_steps=2, gamma_factor=0.5)
    ref.n_features_ = d
    ref.n_qubits_ = d + 1 if embedding == "Hamiltonian" else d
    q = M.ProjectedQuantumKernel(embedding=embedding, t=0.7, trotter_steps=2, gamma_factor=0.5)
    q.n_features_in_ = d
    if embedding == "Hamiltonian":
        angles = rng.uniform(0, 2 * np.pi, size=(d + 1, 3))
        ref.rotation_angles_ = jnp.asarray(angles)
        q.rotation_angles_ = angles
    got = np.asarray(ref.construct_circuit()(X1))
    assert np.allclose(got, q.features(X1), atol=1e-10)
    assert np.allclose(ref.precompute_kernel(X1, X2), q.gram_from_features(q.features(X1), q.features(X2)),
                       atol=1e-10)


def test_kitchen_sinks(R) -> None:
    """Angles 0 and pi make the one shot deterministic: the reference's sampled bits are qcomp's
    CNOT network applied to the RX bits."""
    n = 5
    bits = rng.integers(0, 2, size=(6, n))
    ref = R.QuantumKitchenSinks()
    ref.n_qubits_ = n
    ref._build()
    got = np.asarray(ref.forward(jnp.asarray(np.pi * bits, dtype=float))).reshape(6, n)
    assert np.array_equal(got, M.kitchen_sinks_cnots(bits))
    assert np.array_equal(M.kitchen_sinks_shots(np.pi * bits, np.random.default_rng(0)), M.kitchen_sinks_cnots(bits))
