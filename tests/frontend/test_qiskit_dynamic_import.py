"""Import of Qiskit's dynamic-circuit exports: ``random_circuit(n, depth, seed, conditional=True,
reset=True, measure=True)`` for n = 2..8 through ``qiskit.qasm3.dumps`` and ``qiskit.qasm2.dumps``,
compiled at -O0..-O3 and compared with an exact oracle on Qiskit's circuit and with Aer's counts;
every re-export reloads in Qiskit. The sample is not filtered by size: circuits whose deferred
measurements would need more qubits run on the branch simulator (qcomp.backends.dynamic_sim)."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np
import pytest

import qcomp
from qcomp.backends.qasm import emit_qasm
from qcomp.frontend.qasm_import import import_qasm
from qcomp.ir.dynamic import count_ancillas

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backends"))
from dynamic_oracles import qiskit_branch_probs  # noqa: E402

qiskit = pytest.importorskip("qiskit")
aer = pytest.importorskip("qiskit_aer")
from qiskit import qasm2, qasm3  # noqa: E402
from qiskit.circuit.random import random_circuit  # noqa: E402

PER_N = {2: 3, 3: 3, 4: 3, 5: 3, 6: 3, 7: 3, 8: 3}  # 21 circuits
CASES = sum(PER_N.values())


def depth_of(n: int, seed: int) -> int:
    """Depths 2..5 in turn for n <= 5, 2..4 above."""
    return 2 + seed % (4 if n <= 5 else 3)


@functools.cache
def sample() -> list[tuple[int, int, int]]:
    """(n, depth, seed): per n the first seeds whose circuit has conditioned gates (whatever the
    number of measurements deferral would need)."""
    out = []
    for n, k in PER_N.items():
        found = 0
        for seed in range(400):
            depth = depth_of(n, seed)
            qc = random_circuit(n, depth, seed=seed, conditional=True, reset=True, measure=True)
            p = import_qasm(qasm3.dumps(qc))
            if any(op.cond for op in p.circuit.ops()):
                out.append((n, depth, seed))
                found += 1
                if found == k:
                    break
    return out


def test_sample_is_dynamic_and_covers_every_size() -> None:
    cases = sample()
    assert len(cases) == CASES and {n for n, _, _ in cases} == set(PER_N)
    assert {d for n, d, _ in cases if n <= 5} >= {2, 3, 4, 5}
    resets = wide = 0
    for n, depth, seed in cases:
        qc = random_circuit(n, depth, seed=seed, conditional=True, reset=True, measure=True)
        resets += "reset" in qc.count_ops()
        program = import_qasm(qasm3.dumps(qc))
        wide += count_ancillas(program.circuit.ops()) > n  # deferral would more than double the qubits
    assert resets > 0 and wide >= 3


def _aer_probs(qc, shots: int) -> np.ndarray:
    """Aer's counts of the final measurement (every qubit into ``c``: bit k = qubit k)."""
    sim = aer.AerSimulator(seed_simulator=1234)
    counts = sim.run(qiskit.transpile(qc, sim, optimization_level=0), shots=shots).result().get_counts()
    out = np.zeros(2**qc.num_qubits)
    for key, v in counts.items():
        out[int(key.replace(" ", ""), 2)] += v
    return out / shots


@pytest.mark.parametrize("case", range(CASES))
@pytest.mark.parametrize("fmt", ["qasm3", "qasm2"])
def test_random_dynamic_circuit_imports_and_matches(case: int, fmt: str, tmp_path) -> None:
    n, depth, seed = sample()[case]
    qc = random_circuit(n, depth, seed=seed, conditional=True, reset=True, measure=True)
    text = qasm3.dumps(qc) if fmt == "qasm3" else qasm2.dumps(qc)
    path = tmp_path / f"rc.{fmt}"
    path.write_text(text)
    want = qiskit_branch_probs(qc)  # exact: the branch mixture of Qiskit's own circuit
    for level in range(4):
        model = qcomp.compile(str(path), optimize=level, cache=False)
        assert model.program.measured == tuple(range(n))
        np.testing.assert_allclose(model.simulator().probs(), want, atol=1e-9, err_msg=f"-O{level}")
        # the re-export keeps the dynamic circuit and Qiskit reads it back
        out = model.optimized("qasm")
        re3 = qasm3.loads(emit_qasm(out).text)
        # (a pass may drop a conditioned gate that is the identity, e.g. 'if (c == 1) { id q[1]; }')
        assert ("if_else" in re3.count_ops()) == any(op.cond for op in out.circuit.ops())
        qasm2.loads(emit_qasm(out, version=2).text)
    if fmt == "qasm2":
        return  # the same circuit: Aer runs once
    shots = 4000
    freq = _aer_probs(qc, shots)
    mask = want > 1e-12
    assert freq[~mask].sum() == 0, "Aer saw an outcome qcomp gives probability 0"
    df = max(int(mask.sum()) - 1, 1)
    chi2 = float(((shots * freq - shots * want) ** 2 / (shots * want))[mask].sum())
    assert chi2 < df + 6 * np.sqrt(2 * df) + 10, (chi2, df)
