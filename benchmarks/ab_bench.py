"""A/B benchmark: two checkouts of qcomp on the same workloads, alternating, in fresh processes.

Run:  python benchmarks/ab_bench.py OLD_CHECKOUT NEW_CHECKOUT [--old-python P] [--new-python P] [--rounds 5]

Each checkout must be installed (``pip install -e``) in the interpreter given for it (default: this
one), because ``qcomp.passes`` and ``qcomp.grammar`` are mapped into the package at install time;
e.g. a venv per checkout made with ``python -m venv --system-site-packages``.

Each round runs every workload once in a fresh process per checkout (old, new, old, new, ...), so
both see the same machine load; a process times its workload after one warm-up call (numba and
plan caches are warm) and reports the best of ``--repeat`` calls. The table gives the median over
rounds per checkout and new/old (< 1: the new checkout is faster). Nothing sets thread variables.

Workloads: compile -O2 of a 20k-gate random circuit (qasm target), the seed QNN forward (batch 32)
and one loss+gradient step, a 20-qubit HEA forward and adjoint gradient, an 8-qubit IQP training step
(batch 32), and ``import qcomp`` plus one CLI ``check``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap

# a hardware-efficient ansatz: ry, rz on every qubit and a cx ladder per layer, <sum Z_i>
_HEA20 = """
        import numpy as np, qcomp
        n, L = 20, 10
        body = []
        for l in range(L):
            for q in range(n):
                body.append(f"ry(w[{2*(l*n+q)}]) q[{q}]; rz(w[{2*(l*n+q)+1}]) q[{q}];")
            for q in range(n - 1):
                body.append(f"cx q[{q}], q[{q+1}];")
        src = f"qubit q[{n}]; param w[{2*n*L}]; " + " ".join(body) + " expect " + " + ".join(f"z(q[{q}])" for q in range(n)) + ";"
        sim = qcomp.compile(src, optimize=0, cache=False).simulator()
        w = np.random.default_rng(0).normal(size=2 * n * L)
"""

WORKLOADS: dict[str, str] = {
    "compile-O2-20k": """
        import random
        import qcomp
        rng = random.Random(0)
        lines = ["qubit q[20];", "param w[50];"]
        one = ["h", "x", "s", "t", "sdg", "sx"]
        for i in range(20000):
            r = rng.random()
            if r < 0.3:
                a, b = rng.sample(range(20), 2); lines.append(f"cx q[{a}], q[{b}];")
            elif r < 0.6:
                lines.append(f"rz(w[{rng.randrange(50)}]) q[{rng.randrange(20)}];")
            else:
                lines.append(f"{rng.choice(one)} q[{rng.randrange(20)}];")
        lines.append("expect z(q[0]);")
        src = "\\n".join(lines)
        prog = qcomp.parse(src, max_ops=10**6)
        def work():
            qcomp.optimize(prog, 2, target="qasm")
    """,
    "seed-forward-b32": """
        import numpy as np, qcomp
        m = qcomp.compile("examples/mnist_qnn.q", cache=False)
        sim = m.simulator()
        rng = np.random.default_rng(0)
        x = rng.integers(0, 2, (32, m.num_inputs)).astype(float); w = rng.normal(size=m.num_params)
        def work():
            sim.expval(w, x)
    """,
    "seed-step-b32": """
        import numpy as np, qcomp
        m = qcomp.compile("examples/mnist_qnn.q", cache=False)
        sim = m.simulator()
        rng = np.random.default_rng(0)
        x = rng.integers(0, 2, (32, m.num_inputs)).astype(float); w = rng.normal(size=m.num_params)
        def work():
            sim.value_and_vjp(w, x, lambda v, rows: np.ones_like(v) / 32)
    """,
    "hea20-forward": _HEA20 + """
        def work():
            sim.expval(w)
    """,
    "hea20-adjoint": _HEA20 + """
        def work():
            sim.vjp(w, None, np.ones((1, 1)))
    """,
    "iqp8-step-b32": """
        import numpy as np, qcomp
        n, L = 8, 10
        body = [f"h q[{i}]; rz(x[{i}]) q[{i}];" for i in range(n)]
        for i in range(n):
            for j in range(i + 1, n):
                body.append(f"cx q[{i}], q[{j}]; rz(x[{i}] * x[{j}]) q[{j}]; cx q[{i}], q[{j}];")
        k = 0
        for l in range(L):
            for q in range(n):
                body.append(f"rz(w[{k}]) q[{q}]; ry(w[{k+1}]) q[{q}]; rz(w[{k+2}]) q[{q}];"); k += 3
            for q in range(n):
                body.append(f"cz q[{q}], q[{(q + 1) % n}];")
        src = f"qubit q[{n}]; param w[{k}]; input x[{n}]; " + " ".join(body) + " expect z(q[0]) @ z(q[1]);"
        sim = qcomp.compile(src, cache=False).simulator()
        rng = np.random.default_rng(0)
        x = rng.uniform(-1, 1, (32, n)); w = rng.normal(size=k); y = rng.choice([-1.0, 1.0], 32)
        def work():
            sim.value_and_vjp(w, x, lambda v, rows: 2 * (v - y[rows, None]) / 32)
    """,
    "import-and-check": """
        import subprocess, sys
        def work():
            subprocess.run([sys.executable, "-m", "qcomp", "check", "examples/mnist_qnn.q", "--no-cache"],
                           check=True, capture_output=True)
    """,
}

RUNNER = """
import json, sys, time
{setup}
work()
best = float("inf")
for _ in range({repeat}):
    t = time.perf_counter(); work(); best = min(best, time.perf_counter() - t)
print(json.dumps(best))
"""


def run_one(python: str, checkout: str, name: str, repeat: int) -> float:
    code = RUNNER.format(setup=textwrap.dedent(WORKLOADS[name]), repeat=repeat)
    env = {**os.environ, "PYTHONPATH": checkout}
    r = subprocess.run([python, "-c", code], cwd=checkout, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{name} failed in {checkout}:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--old-python", default=sys.executable)
    ap.add_argument("--new-python", default=sys.executable)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    args = ap.parse_args()
    names = [w for w in args.workloads.split(",") if w]
    times: dict[tuple[str, str], list[float]] = {}
    for r in range(args.rounds):
        for name in names:
            for label, python, path in (("old", args.old_python, args.old), ("new", args.new_python, args.new)):
                times.setdefault((name, label), []).append(run_one(python, path, name, args.repeat))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    print(f"| workload | old (s) | new (s) | new/old |\n|---|---|---|---|")
    for name in names:
        o, n = statistics.median(times[(name, "old")]), statistics.median(times[(name, "new")])
        print(f"| {name} | {o:.4g} | {n:.4g} | {n / o:.2f} |")


if __name__ == "__main__":
    main()
