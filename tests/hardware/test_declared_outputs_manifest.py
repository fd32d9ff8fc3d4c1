"""The OpenQASM manifest of a model with var/probs/sample outputs, and those outputs from counts."""

from __future__ import annotations

import numpy as np
import pytest

import qcomp
from qcomp.errors import InputError, UnsupportedError


def test_manifest_declares_the_outputs_and_counts_give_them() -> None:
    from qcomp.hardware.manifest import declared_from_counts, manifest_declared_outputs, manifest_pauli_list

    src = "qubit q[3];\nparam w[2];\nry(w[0]) q[0]; cx q[0], q[1]; rx(w[1]) q[2];\n" \
          "expect z(q[0]) @ z(q[2]);\nvar z(q[0]) + 0.5 * z(q[1]) @ z(q[2]);\nprobs q[2], q[0];\nsample(5) q[1];\nvar x(q[2]);\n"
    model = qcomp.compile(src, optimize=1)
    w = [0.4, 1.1]
    manifest = model.qasm_result().manifest
    declared = manifest_declared_outputs(manifest)
    assert [d["kind"] for d in declared] == ["expectation", "variance", "probabilities", "samples", "variance"]
    # exact "counts" of measuring every qubit, from the simulator's full distribution
    full = model.simulator().probs(w, qubits=[0, 1, 2])
    counts = {format(i, "03b"): int(round(p * 10**9)) for i, p in enumerate(full) if p > 1e-12}
    with pytest.raises(UnsupportedError, match="not diagonal"):
        declared_from_counts(manifest, counts)
    manifest["declared_outputs"] = manifest["declared_outputs"][:4]
    got = declared_from_counts(manifest, counts, seed=0)
    want = model.simulator().outputs(w)
    for g, v in zip(got[:3], want[:3]):
        np.testing.assert_allclose(g, v, atol=1e-8)
    assert got[3].shape == (5,)
    # a non-diagonal variance from an Estimator: <O> and <O**2> of the listed Pauli sums
    from qiskit.quantum_info import SparsePauliOp
    o = SparsePauliOp.from_list(manifest_pauli_list(manifest, 0)).to_matrix()
    o2 = SparsePauliOp.from_list(manifest_pauli_list(manifest, 0, square=True)).to_matrix()
    np.testing.assert_allclose(o @ o, o2, atol=1e-12)
    with pytest.raises(InputError, match="bitstrings over all 3 qubits"):
        declared_from_counts(manifest, {"01": 3})


def test_samples_from_counts_are_drawn_without_replacement() -> None:
    """sample(k) from counts: k of the recorded shots (all of them when k equals the total), in
    memory that does not grow with the number of counts; with replacement past the total."""
    from qcomp.hardware.manifest import declared_from_counts

    model = qcomp.compile("qubit q[2];\nh q[0]; cx q[0], q[1];\nsample(5) q[1], q[0];\n", optimize=1)
    manifest = model.qasm_result().manifest
    exact = {"00": 2, "11": 3}
    for seed in range(5):
        (got,) = declared_from_counts(manifest, exact, seed=seed)
        assert sorted(got.tolist()) == [0, 0, 3, 3, 3]
    (few,) = declared_from_counts(manifest, {"00": 1, "10": 1}, seed=0)  # 2 shots recorded, 5 asked
    assert few.shape == (5,) and set(few.tolist()) <= {0, 1}  # "10": qubit 1 set, the output's bit 0
    (big,) = declared_from_counts(manifest, {"00": 10**15, "01": 3 * 10**15}, seed=1)
    assert big.shape == (5,) and set(big.tolist()) <= {0, 2}
