"""Issue #15 acceptance: Qiskit random dynamic circuits through both dumps at -O0..-O3 against an exact oracle and Aer.

Each circuit: Aer's counts against the oracle (chi-square), then per dump and level the automatic
simulator and the branch simulator against the oracle (1e-9) and both re-exports reloaded by Qiskit.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "backends"))

import qcomp  # noqa: E402
from qcomp.backends.qasm import emit_qasm  # noqa: E402
from qcomp.ir.dynamic import is_dynamic  # noqa: E402
from dynamic_oracles import qiskit_branch_probs  # noqa: E402


def cases(count: int) -> list[tuple[int, int, int]]:
    """(n, depth, seed): n = 2..8 and depth = 1..5 in turn, seed = the case number."""
    return [(2 + s % 7, 1 + (s // 7) % 5, s) for s in range(count)]


def aer_freq(qc, shots: int, seed: int) -> np.ndarray:
    import qiskit
    from qiskit_aer import AerSimulator

    sim = AerSimulator(seed_simulator=seed)
    counts = sim.run(qiskit.transpile(qc, sim, optimization_level=0), shots=shots).result().get_counts()
    out = np.zeros(2**qc.num_qubits)
    for key, v in counts.items():
        out[int(key.replace(" ", ""), 2)] += v
    return out / shots


def check(n: int, depth: int, seed: int, tmp: Path, shots: int) -> list[str]:
    """The failures of one circuit (empty: it passes)."""
    from qiskit import qasm2, qasm3
    from qiskit.circuit.random import random_circuit

    qc = random_circuit(n, depth, seed=seed, conditional=True, reset=True, measure=True)
    want = qiskit_branch_probs(qc)
    bad = []
    freq = aer_freq(qc, shots, seed)
    mask = want > 1e-12
    df = max(int(mask.sum()) - 1, 1)
    chi2 = float(((shots * freq - shots * want) ** 2 / (shots * np.where(mask, want, 1)))[mask].sum())
    if freq[~mask].sum() > 0 or chi2 > df + 6 * np.sqrt(2 * df) + 10:
        bad.append(f"aer chi2={chi2:.1f} df={df}")
    for fmt, dump in (("qasm3", qasm3.dumps), ("qasm2", qasm2.dumps)):
        path = tmp / f"rc{seed}.{fmt}"
        path.write_text(dump(qc))
        for level in range(4):
            where = f"{fmt} -O{level}"
            try:
                model = qcomp.compile(str(path), optimize=level, cache=False)
                # the automatic choice, and the branch simulator whatever that choice is
                for method in (None, "branches"):
                    sim = model.simulator() if method is None else model.simulator(method=method)
                    err = float(np.abs(sim.probs(qubits=list(range(n))) - want).max())
                    if err > 1e-9:
                        bad.append(f"{where} {method or 'auto'}: max |p - oracle| = {err:.2e}")
                out = model.optimized("qasm")
                qasm3.loads(emit_qasm(out).text)
                qasm2.loads(emit_qasm(out, version=2).text)
            except Exception as exc:  # a failure to report, whatever it is
                bad.append(f"{where}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--shots", type=int, default=4000)
    args = ap.parse_args()
    start = time.perf_counter()
    passed = 0
    dynamic = 0
    with tempfile.TemporaryDirectory() as d:
        for n, depth, seed in cases(args.count):
            t = time.perf_counter()
            bad = check(n, depth, seed, Path(d), args.shots)
            model = qcomp.compile(str(Path(d) / f"rc{seed}.qasm3"), optimize=0, cache=False)
            dyn = is_dynamic(model.program.circuit.ops())
            dynamic += dyn
            passed += not bad
            print(f"n={n} depth={depth} seed={seed} dynamic={dyn} branches={model.runs_branches} "
                  f"{time.perf_counter() - t:.1f}s {'ok' if not bad else 'FAIL ' + '; '.join(bad)}", flush=True)
    print(f"passed {passed}/{args.count} ({dynamic} dynamic) in {time.perf_counter() - start:.0f} s", flush=True)
    return 0 if passed == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
