"""Qubit relabeling in large states' forward runs: bit exchanges, permutation passes, the schedule, and states."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

pytest.importorskip("numba")
from qcomp.backends import engine as E  # noqa: E402
from qcomp.backends.simulator import Simulator  # noqa: E402
from qcomp.frontend import parse  # noqa: E402


def exchanged(x: np.ndarray, a: int, b: int) -> np.ndarray:
    """x with index bits a and b exchanged (numpy reference)."""
    i = np.arange(x.size)
    flip = ((i >> a) ^ (i >> b)) & 1
    return x[i ^ (flip * ((1 << a) | (1 << b)))]


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_bit_exchange_on_every_pair(dt) -> None:
    x = np.random.default_rng(0).normal(size=1 << 10).astype(dt)
    for a, b in itertools.combinations(range(10), 2):
        y = x.copy()
        E._swap_bits_plane(y, a, b)
        np.testing.assert_array_equal(y, exchanged(x, a, b), err_msg=f"bits {a}, {b}")


def test_permutation_pass_equals_its_exchanges() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=1 << 11)
    for _ in range(20):
        swaps = [tuple(sorted(rng.choice(11, 2, replace=False))) for _ in range(rng.integers(1, 7))]
        lo, hi = E.permutation_tables(11, swaps)
        y = x.copy()
        E._permute_plane(y, np.empty_like(y), lo, hi)
        ref = x
        for a, b in swaps:
            ref = exchanged(ref, a, b)
        np.testing.assert_array_equal(y, ref)


def random_program(n: int, depth: int, seed: int):
    """Random one- and two-qubit gates (dense, controlled and diagonal ones) with fixed angles."""
    rng = np.random.default_rng(seed)
    lines = [f"qubit q[{n}];"]
    for _ in range(depth):
        for q in rng.permutation(n)[: n // 2]:
            g = rng.choice(["h", "sx", "t", "rx", "ry"])
            lines.append(f"{g}({rng.uniform(-3, 3):.6f}) q[{q}];" if g in ("rx", "ry") else f"{g} q[{q}];")
        for _ in range(n // 2):
            # one qubit at 4 or above: no dense block wholly on bits 0..3, which keeps the identity layout
            b = int(rng.integers(4, n))
            a = int(rng.choice([q for q in range(n) if q != b]))
            a, b = (a, b) if rng.random() < 0.5 else (b, a)
            g = rng.choice(["cx", "cz", "cry", "rzz", "swap", "iswap", "rxx"])
            ang = f"({rng.uniform(-3, 3):.6f})" if g in ("cry", "rzz", "rxx") else ""
            lines.append(f"{g}{ang} q[{a}], q[{b}];")
    lines.append("expect z(q[0]);")
    return parse("\n".join(lines))


@pytest.fixture
def free_exchanges(monkeypatch):
    """Relabel wherever a block would gain (small test states: exchanges would not pay off)."""
    monkeypatch.setattr(E, "_SWAP_COST", 0.0)
    monkeypatch.setattr(E, "_PERMUTE_COST", 0.0)


def plan_for(prog, local_bytes: int, mp):
    mp.setattr(E, "CHUNK_BYTES", local_bytes)
    mp.setattr(E, "BLOCK_BYTES", local_bytes)
    sim = Simulator(prog, precision="double")
    return sim, sim.fused_plan(False)


def test_schedule_keeps_low_bits_free_and_restores_the_identity(monkeypatch, free_exchanges) -> None:
    prog = random_program(12, 12, 3)
    sim, plan = plan_for(prog, 16 << 9, monkeypatch)  # 9 local qubits in double precision
    monkeypatch.setattr(E, "PERMUTE_SWAPS", 2)  # so that some exchanges run as permutation passes
    local = E.local_qubits(np.complex128)
    rl = E.relabeling(plan, local)
    assert rl is not None and len(rl.sw_at) > 0 and len(rl.pm_at) > 0
    # replay the schedule: every block's bits follow from the exchanges made before it
    at = list(range(plan.n))  # bit -> qubit
    events = sorted([(int(i), 0, k) for k, i in enumerate(rl.sw_at)] + [(int(i), 1, k) for k, i in enumerate(rl.pm_at)])
    e = 0
    chunked = {i for f, l, c in E._segments(plan, plan.n, local) if c for i in range(f, l)}
    for b, blk in enumerate(plan.blocks + [None]):
        while e < len(events) and events[e][0] == b:
            _, kind, k = events[e]
            if kind == 0:
                a, c = int(rl.sw_a[k]), int(rl.sw_b[k])
                at[a], at[c] = at[c], at[a]
            else:  # a permutation pass: bit j of the result holds the source's bit src(j)
                lo, hi = rl.pm_lo[k], rl.pm_hi[k]
                perm = [int(np.log2(lo[1 << j])) if j < 8 else int(np.log2(hi[1 << (j - 8)])) for j in range(local)]
                at[:local] = [at[perm[j]] for j in range(local)]
            e += 1
        if blk is None:
            break
        pos = {q: p for p, q in enumerate(at)}
        bits = sorted(pos[q] for q in blk.qubits)
        assert list(rl.b_qs[b, :len(bits)]) == bits
        assert [blk.qubits[t] for t in rl.b_perm[b, :len(bits)]] == [at[p] for p in bits]
        if b in chunked and not blk.diagonal and len(blk.qubits) <= 2:
            if len(bits) == 2 and not E._block_controls(plan, blk):  # dense: on bits RELABEL_DENSE and up
                assert bits[0] >= E.RELABEL_DENSE, (b, bits)
            else:
                assert E._extra(1, bits) == 0, (b, bits)
    assert at == list(range(plan.n))


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_relabeled_states_equal_the_plain_engine(precision: str, threads: int, monkeypatch, free_exchanges) -> None:
    item = 16 if precision == "double" else 8
    tol = 1e-12 if precision == "double" else 2e-6
    for seed in range(3):
        prog = random_program(11, 10, seed)
        monkeypatch.setattr(E, "CHUNK_BYTES", item << 8)  # 8 local qubits
        monkeypatch.setattr(E, "BLOCK_BYTES", item << 8)
        monkeypatch.setattr(E, "PERMUTE_SWAPS", 2)  # exchanges and permutation passes both
        sim = Simulator(prog, precision=precision, threads=threads)
        rl = E.relabeling(sim.fused_plan(False), 8)
        assert rl is not None and len(rl.sw_at) > 0 and len(rl.pm_at) > 0
        got = np.asarray(sim.state()).reshape(-1)
        with monkeypatch.context() as mp:
            mp.setattr(E, "relabeling", lambda *a, **k: None)
            plain = np.asarray(Simulator(prog, precision=precision, threads=threads).state()).reshape(-1)
        np.testing.assert_allclose(got, plain, atol=tol)
        assert abs(np.vdot(got, got) - 1) < tol * 100
        with monkeypatch.context() as mp:  # one thread: no grouped runs, no relabeling
            mp.setattr(E, "relabeling", lambda *a, **k: None)
            serial = np.asarray(Simulator(prog, precision=precision, threads=1).state()).reshape(-1)
        np.testing.assert_allclose(got, serial, atol=tol)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relabeled_random_qiskit_circuits_match_statevector(seed: int, monkeypatch, free_exchanges) -> None:
    pytest.importorskip("qiskit")
    import qcomp
    from qiskit.circuit.random import random_circuit
    from qiskit.quantum_info import Statevector

    qc = random_circuit(12, 16, seed=seed, max_operands=2)
    prog = qcomp.from_qiskit(qc)
    monkeypatch.setattr(E, "CHUNK_BYTES", 16 << 9)  # 9 local qubits in double precision
    monkeypatch.setattr(E, "BLOCK_BYTES", 16 << 9)
    sim = Simulator(prog, precision="double")
    assert E.relabeling(sim.fused_plan(False), 9) is not None
    got = np.asarray(sim.state()).reshape(-1)
    ref = Statevector(qc).data
    assert abs(abs(np.vdot(ref, got)) - 1) < 1e-12
    np.testing.assert_allclose(got * np.vdot(got, ref) / abs(np.vdot(got, ref)), ref, atol=1e-12)


def test_cost_model_relabels_a_random_circuit_and_leaves_ladders_alone() -> None:
    """At 20 qubits (15 local in single precision) the measured costs pick relabeling for a random
    circuit, whose two-qubit gates hit bits 0-2 everywhere, and not for a hardware-efficient
    ansatz, whose low blocks run on the contiguous and tile kernels."""
    rand = Simulator(random_program(20, 12, 0), precision="single").fused_plan(False)
    assert E.relabeling(rand, 15) is not None and E.relabeling(rand, 18) is not None
    lines = ["qubit q[20];", "param w[40];"]
    for layer in range(2):
        lines += [f"ry(w[{layer * 20 + i}]) q[{i}];" for i in range(20)]
        lines += [f"cz q[{i}], q[{i + 1}];" for i in range(19)]
    lines.append("expect z(q[0]);")
    hea = Simulator(parse("\n".join(lines)), precision="single").fused_plan(False)
    assert E.relabeling(hea, 15) is None and E.relabeling(hea, 18) is None


def test_parallel_parts_errors_and_concurrent_callers() -> None:
    """Every part runs once; a worker's exception reaches the caller; callers on two Python
    threads at once (one finds the workers busy and takes the executor) both finish."""
    import threading

    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def record(part: int, parts: int) -> None:
        with lock:
            seen.append((part, parts))

    E._parallel(record, 4, 3, 1 << 30)
    assert sorted(seen) == [(0, 3), (1, 3), (2, 3)]

    def fail(part: int, parts: int) -> None:
        if part == 1:
            raise ValueError("part 1")

    with pytest.raises(ValueError, match="part 1"):
        E._parallel(fail, 2, 2, 1 << 30)
    E._parallel(record, 2, 2, 1 << 30)  # the workers still serve after an error

    totals = [0, 0]

    def caller(k: int) -> None:
        for _ in range(200):
            acc = np.zeros(2)
            E._parallel(lambda part, parts: acc.__setitem__(part, acc[part] + 1), 2, 2, 1 << 30)
            totals[k] += int(acc.sum())

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert totals == [400, 400]


def test_grouped_runs_split_by_untouched_high_bits(monkeypatch) -> None:
    """Threads share one hand-off per group of runs: the groups cover every run in order, their
    bits are untouched by their blocks, and the states equal the one-thread run."""
    prog = random_program(12, 10, 5)
    monkeypatch.setattr(E, "CHUNK_BYTES", 16 << 8)
    monkeypatch.setattr(E, "BLOCK_BYTES", 16 << 8)  # 8 local qubits, bits 8-11 global
    ref = np.asarray(Simulator(prog, precision="double", threads=1).state()).reshape(-1)
    for threads in (2, 4):
        sim = Simulator(prog, precision="double", threads=threads)
        got = np.asarray(sim.state()).reshape(-1)
        np.testing.assert_allclose(got, ref, atol=1e-12)
        plan = sim.fused_plan(False)
        (key, groups), = [(k, v) for k, v in plan.layouts.items() if isinstance(k, tuple) and k[0] == "groups"]
        segs = E._segments(plan, 12, 8)
        assert [i for members, _ in groups for i in members] == list(range(key[3]))
        assert any(hb is not None and len(members) > 1 for members, hb in groups)
        for members, hb in groups:
            if hb is None:
                continue
            assert len(hb) == key[2] and all(b >= 8 for b in hb)
            for i in members:
                if i < len(segs):
                    f, l, _ = segs[i]
                    assert not set(hb) & {q for b in range(f, l) for q in plan.blocks[b].qubits}
