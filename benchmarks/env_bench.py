"""Default environment vs hand-set thread variables: qcomp's time on general circuits in each, side by side.

Each setting runs in its own subprocess (thread variables are read when libraries load), the
settings alternate round by round so machine load hits them alike, and ``--busy`` adds a
pure-Python spin process on one core for the whole run. The target is a ratio default / best
of at most 1.05: qcomp owns its parallelism, so no variable should be needed.

    python benchmarks/env_bench.py [--rounds 5] [--busy]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SETTINGS = {
    "default": {},
    "OPENBLAS_NUM_THREADS=1": {"OPENBLAS_NUM_THREADS": "1"},
    "all BLAS/OMP vars = 1": {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
}

WORKER = r'''
import json, sys, time
import numpy as np
import qcomp
from qcomp.backends.simulator import Simulator

def hea(n, layers=10):
    lines = [f"qubit q[{n}]; param w[{2 * n * layers}];"]
    for l in range(layers):
        for i in range(n):
            lines.append(f"ry(w[{2 * (n * l + i)}]) q[{i}]; rz(w[{2 * (n * l + i) + 1}]) q[{i}];")
        for i in range(n - 1):
            lines.append(f"cx q[{i}], q[{i + 1}];")
    lines.append("expect " + " + ".join(f"z(q[{i}])" for i in range(n)) + ";")
    return "\n".join(lines)

def iqp(n, layers=10):
    lines = [f"qubit q[{n}]; input x[{n}]; param w[{3 * n * layers}];"]
    for i in range(n):
        lines.append(f"h q[{i}]; rz(x[{i}]) q[{i}];")
    for i in range(n):
        for j in range(i + 1, n):
            lines.append(f"rzz(x[{i}] * x[{j}]) q[{i}], q[{j}];")
    for l in range(layers):
        r = l % (n - 1) + 1
        for i in range(n):
            b = 3 * (n * l + i)
            lines.append(f"rz(w[{b}]) q[{i}]; ry(w[{b + 1}]) q[{i}]; rz(w[{b + 2}]) q[{i}];")
        for i in range(n):
            lines.append(f"cz q[{i}], q[{(i + r) % n}];")
    lines.append("expect z(q[0]) @ z(q[1]);")
    return "\n".join(lines)

def best(f, reps):
    f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return min(ts)

rng = np.random.default_rng(0)
out = {}
p = qcomp.compile(hea(12), optimize=0, cache=False).program
s12 = Simulator(p); w12 = rng.uniform(-1, 1, p.num_params)
out["hea12 forward"] = best(lambda: s12.expval(w12), 20)
p = qcomp.compile(hea(20), optimize=0, cache=False).program
s20 = Simulator(p, precision="single"); w20 = rng.uniform(-1, 1, p.num_params)
out["hea20 forward (single)"] = best(lambda: s20.expval(w20), 3)
for n in (6, 10):
    p = qcomp.compile(iqp(n), optimize=2, cache=False).program
    s = Simulator(p); w = rng.uniform(0, 6.28, p.num_params); X = rng.uniform(-1, 1, (32, n))
    y = rng.choice([-1.0, 1.0], (32, 1))
    out[f"iqp{n} step"] = best(lambda: s.value_and_vjp(w, X, lambda v, rows: 2 * (v - y[rows]) / 32), 10)
p = qcomp.compile("examples/mnist_qnn.q", cache=False).optimized("sim")
sq = Simulator(p); xq = rng.integers(0, 2, (32, 16)).astype(float); wq = rng.uniform(-1, 1, 32)
out["seed QNN vjp b32"] = best(lambda: sq.vjp(wq, xq, np.ones((32, 1))), 5)
json.dump(out, sys.stdout)
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--busy", action="store_true", help="a pure-Python spin process on one core during the run")
    args = ap.parse_args()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    results: dict[str, dict[str, list[float]]] = {k: {} for k in SETTINGS}
    try:
        for _ in range(args.rounds):
            for name, extra in SETTINGS.items():
                env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                                         "MKL_NUM_THREADS")}
                env.update(extra)
                t = time.perf_counter()
                raw = subprocess.run([sys.executable, "-c", WORKER], env=env, capture_output=True, text=True,
                                     check=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
                for case, v in json.loads(raw.stdout).items():
                    results[name].setdefault(case, []).append(v)
                print(f"  {name}: round done in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    finally:
        if busy is not None:
            busy.kill()
    cases = list(next(iter(results.values())))
    print(f"load average {os.getloadavg()[0]:.2f}{'  (with a busy spin process)' if args.busy else ''}")
    print("| case | " + " | ".join(SETTINGS) + " | default / best |")
    print("|---|" + "---|" * (len(SETTINGS) + 1))
    for case in cases:
        med = {k: statistics.median(results[k][case]) for k in SETTINGS}
        best = min(med.values())
        print(f"| {case} | " + " | ".join(f"{med[k] * 1e3:.1f} ms" for k in SETTINGS) + f" | {med['default'] / best:.2f} |")


if __name__ == "__main__":
    main()
