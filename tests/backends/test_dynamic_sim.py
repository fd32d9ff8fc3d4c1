"""Dynamic circuits simulated exactly (deferred measurements) vs an independent branch-enumerating
density-matrix oracle: outputs at -O0..-O3, samples per shot, and gradients (adjoint, parameter
shift) vs finite differences of the oracle, with params before and after measurements."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qcomp
from qcomp.ir.gates import GATES
from qcomp.ir.program import Program

PAULI = {"X": np.array([[0, 1], [1, 0]], complex), "Y": np.array([[0, -1j], [1j, 0]]), "Z": np.diag([1.0, -1.0])}


# -- the oracle: density matrices per classical branch -----------------------------------------
def _embed(u: np.ndarray, qubits: tuple[int, ...], n: int) -> np.ndarray:
    """The 2**n operator of ``u`` on ``qubits`` (argument order: first qubit most significant;
    state index bit k = qubit k)."""
    k = len(qubits)
    full = np.zeros((2**n, 2**n), complex)
    for col in range(2**n):
        sub = 0
        for j, q in enumerate(qubits):
            sub |= ((col >> q) & 1) << (k - 1 - j)
        for r in range(2**k):
            amp = u[r, sub]
            if amp == 0:
                continue
            row = col
            for j, q in enumerate(qubits):
                bit = (r >> (k - 1 - j)) & 1
                row = (row & ~(1 << q)) | (bit << q)
            full[row, col] += amp
    return full


def _holds(cond, bits: dict[int, int]) -> bool:
    for b, v, eq in cond:
        val = sum(bits.get(x, 0) << k for k, x in enumerate(b))
        if (val == v) != eq:
            return False
    return True


def oracle_rho(program: Program, params) -> np.ndarray:
    """The final density matrix of the qubits: the mixture over every classical branch."""
    n = program.num_qubits
    rho = np.zeros((2**n, 2**n), complex)
    rho[0, 0] = 1.0
    branches = [(rho, {})]  # (unnormalised rho, bit values)
    p = np.asarray(params, float)
    for op in program.circuit.ops():
        if op.name == "barrier":
            continue
        nxt = []
        for r, bits in branches:
            if op.cond and not _holds(op.cond, bits):
                nxt.append((r, bits))
            elif op.name in ("measure", "reset"):
                (q,) = op.qubits
                for v in (0, 1):
                    proj = _embed(np.diag([1.0 - v, float(v)]), (q,), n)
                    rr = proj @ r @ proj
                    if np.trace(rr).real < 1e-15:
                        continue
                    if op.name == "measure":
                        nxt.append((rr, {**bits, op.bit: v}))
                    else:
                        x = _embed(PAULI["X"], (q,), n) if v else np.eye(2**n)
                        nxt.append((x @ rr @ x.conj().T, bits))
            else:
                angles = [float(a.evaluate(p[None, :], np.zeros((1, 0)))[0]) for a in op.angles]
                u = _embed(GATES[op.name].matrix(*angles), op.qubits, n)
                nxt.append((u @ r @ u.conj().T, bits))
        branches = nxt
    return sum(r for r, _ in branches)


def oracle_expvals(program: Program, params) -> np.ndarray:
    return rho_expvals(oracle_rho(program, params), program.observables)


def rho_expvals(rho: np.ndarray, observables) -> np.ndarray:
    """<O> = tr(O rho) for each Pauli-sum observable."""
    n = int(np.log2(rho.shape[0]))
    out = []
    for o in observables:
        total = 0.0
        for t in o.terms:
            m = np.eye(2**n, dtype=complex)
            for q, pl in t.paulis:
                m = _embed(PAULI[pl], (q,), n) @ m
            total += t.coeff * np.trace(m @ rho).real
        out.append(total)
    return np.array(out)


def oracle_probs(program: Program, params, qubits) -> np.ndarray:
    diag = np.real(np.diag(oracle_rho(program, params)))
    out = np.zeros(2 ** len(qubits))
    for i, pr in enumerate(diag):
        out[sum(((i >> q) & 1) << j for j, q in enumerate(qubits))] += pr
    return out


# -- fixed programs -----------------------------------------------------------------------------
TELEPORT = """
qubit q[3];
bit c[2];
param w[2];
ry(w[0]) q[0];
rz(w[1]) q[0];
h q[1];
cx q[1], q[2];
cx q[0], q[1];
h q[0];
c[0] = measure q[0];
c[1] = measure q[1];
if (c[1] == 1) { x q[2]; }
if (c[0] == 1) { z q[2]; }
expect z(q[2]);
expect x(q[2]);
expect y(q[2]);
"""


def test_teleportation_moves_the_state_exactly() -> None:
    w = np.array([0.7, -1.3])
    model = qcomp.compile(TELEPORT)
    got = model.simulator().expval(w)
    bloch = [np.cos(w[0]), np.sin(w[0]) * np.cos(w[1]), np.sin(w[0]) * np.sin(w[1])]
    np.testing.assert_allclose(got, bloch, atol=1e-12)
    np.testing.assert_allclose(oracle_expvals(model.program, w), bloch, atol=1e-12)


FEED = """
qubit q[3];
bit c[2];
param w[4];
ry(w[0]) q[0];
cx q[0], q[1];
c[0] = measure q[1];
reset q[1];
if (c[0]) { rx(w[1]) q[2]; } else { ry(w[2]) q[2]; }
ry(w[3]) q[1];
c[1] = measure q[1];
if (c == 3) { cz q[0], q[2]; h q[0]; }
if (c != 1) { rx(w[3] * 0.5) q[0]; }
expect z(q[2]);
expect x(q[0]) @ z(q[2]) + 0.5 * z(q[1]);
"""


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_feed_forward_outputs_match_oracle(level: int) -> None:
    rng = np.random.default_rng(3)
    w = rng.uniform(-np.pi, np.pi, 4)
    model = qcomp.compile(FEED + "probs q;\n", optimize=level)
    outs = model.simulator().outputs(w)
    np.testing.assert_allclose(outs[0], oracle_expvals(model.program, w)[0], atol=1e-10)
    np.testing.assert_allclose(outs[1], oracle_expvals(model.program, w)[1], atol=1e-10)
    np.testing.assert_allclose(outs[2], oracle_probs(model.program, w, (0, 1, 2)), atol=1e-10)


def _fd(f, w, h=1e-6):
    cols = []
    for k in range(len(w)):
        e = np.zeros_like(w)
        e[k] = h
        cols.append((f(w + e) - f(w - e)) / (2 * h))
    return np.stack(cols, axis=-1)


@pytest.mark.parametrize("method", ["adjoint", "parameter-shift"])
def test_gradients_before_and_after_measurements_match_finite_differences(method: str) -> None:
    model = qcomp.compile(FEED)
    w = np.array([0.3, -0.8, 1.1, 0.45])
    got = model.simulator().gradient(w, method=method)
    want = _fd(lambda v: oracle_expvals(model.program, v), w)
    assert np.abs(want).max() > 0.05  # every param moves some output
    assert np.all(np.abs(want).max(axis=0) > 1e-3)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_samples_per_shot_follow_the_branch_mixture() -> None:
    src = "qubit q[2];\nbit c;\nparam w;\nry(w) q[0];\nc = measure q[0];\nif (c) { x q[1]; }\nh q[0];\nmeasure q;\n"
    model = qcomp.compile(src)
    w = np.array([1.1])
    p = oracle_probs(model.program, w, (0, 1))
    shots = 20000
    counts = model.simulator().sample(w, shots=shots, seed=11)
    freq = np.zeros(4)
    for k, v in counts.items():
        freq[int(k, 2)] = v
    # chi-square against the exact mixture (3 degrees of freedom; p < 1e-4 would be 21.1)
    mask = p > 0
    chi2 = float((((freq - shots * p) ** 2)[mask] / (shots * p[mask])).sum())
    assert chi2 < 21.1, (freq / shots, p)
    assert np.all(freq[~mask] == 0)
    np.testing.assert_allclose(model.simulator().probs(w), p, atol=1e-12)


def test_state_of_a_dynamic_circuit_is_refused() -> None:
    model = qcomp.compile("qubit q[2];\nbit c;\nh q[0];\nc = measure q[0];\nif (c) { x q[1]; }\n")
    with pytest.raises(qcomp.QCompError, match="mixture of branches"):
        model.simulator().state()
    np.testing.assert_allclose(model.simulator().probs(), [0.5, 0, 0, 0.5], atol=1e-12)


def test_noisy_dynamic_circuit_on_density_matrix() -> None:
    src = ("qubit q[2];\nbit c;\nparam w;\nry(w) q[0];\nbit_flip(0.1) q[0];\nc = measure q[0];\n"
           "if (c) { x q[1]; }\nreset q[0];\nexpect z(q[1]);\nexpect z(q[0]);\n")
    model = qcomp.compile(src)
    w = np.array([0.9])
    p1 = 0.9 * np.sin(w[0] / 2) ** 2 + 0.1 * np.cos(w[0] / 2) ** 2
    np.testing.assert_allclose(model.simulator().expval(w), [1 - 2 * p1, 1.0], atol=1e-12)


# -- random dynamic programs (hypothesis) ---------------------------------------------------------
ONE_Q = ["h", "x", "s", "t", "sx"]
ROT = ["rx", "ry", "rz"]


@st.composite
def dynamic_programs(draw):
    n = draw(st.integers(2, 3))
    nb = draw(st.integers(1, 3))
    lines = [f"qubit q[{n}];", f"bit c[{nb}];", "param w[4];"]
    qubit = st.integers(0, n - 1)

    def gate() -> str:
        kind = draw(st.sampled_from(["1q", "rot", "2q", "crot"]))
        if kind == "1q":
            return f"{draw(st.sampled_from(ONE_Q))} q[{draw(qubit)}];"
        if kind == "rot":
            return f"{draw(st.sampled_from(ROT))}(w[{draw(st.integers(0, 3))}]) q[{draw(qubit)}];"
        a = draw(qubit)
        b = draw(qubit.filter(lambda x: x != a))
        if kind == "2q":
            return f"{draw(st.sampled_from(['cx', 'cz', 'swap']))} q[{a}], q[{b}];"
        return f"crz(w[{draw(st.integers(0, 3))}] + 0.3) q[{a}], q[{b}];"

    def cond() -> str:
        i = draw(st.integers(0, nb - 1))
        kind = draw(st.sampled_from(["bit", "not", "eq", "reg", "ne", "and"]))
        if kind == "bit":
            return f"c[{i}]"
        if kind == "not":
            return f"!c[{i}]"
        if kind == "eq":
            return f"c[{i}] == {draw(st.integers(0, 1))}"
        if kind == "reg":
            return f"c == {draw(st.integers(0, 2 ** nb - 1))}"
        if kind == "ne":
            return f"c != {draw(st.integers(0, 2 ** nb - 1))}"
        j = draw(st.integers(0, nb - 1))
        return f"c[{i}] == {draw(st.integers(0, 1))} && c[{j}]"

    for _ in range(draw(st.integers(3, 9))):
        kind = draw(st.sampled_from(["gate", "gate", "measure", "reset", "if", "ifelse", "ifreset", "ifmeasure"]))
        if kind == "gate":
            lines.append(gate())
        elif kind == "measure":
            lines.append(f"c[{draw(st.integers(0, nb - 1))}] = measure q[{draw(qubit)}];")
        elif kind == "reset":
            lines.append(f"reset q[{draw(qubit)}];")
        elif kind == "ifreset":
            lines.append(f"if ({cond()}) {{ reset q[{draw(qubit)}]; {gate()} }}")
        elif kind == "ifmeasure":
            lines.append(f"if (c[0] == {draw(st.integers(0, 1))}) {{ c[{nb - 1}] = measure q[{draw(qubit)}]; }}")
        else:
            body = " ".join(gate() for _ in range(draw(st.integers(1, 2))))
            c = cond()
            if kind == "ifelse" and "&&" not in c and "!=" not in c:
                lines.append(f"if ({c}) {{ {body} }} else {{ {gate()} }}")
            else:
                lines.append(f"if ({c}) {{ {body} }}")
    lines.append("expect z(q[0]);")
    lines.append(f"expect x(q[{n - 1}]) + 0.5 * z(q[0]) @ z(q[1]);")
    lines.append("probs q;")
    return "\n".join(lines) + "\n"


@pytest.mark.filterwarnings("ignore::qcomp.frontend.lower.UnusedDeclarationWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(src=dynamic_programs(), seed=st.integers(0, 2**16))
def test_random_dynamic_programs_match_oracle(src: str, seed: int) -> None:
    w = np.random.default_rng(seed).uniform(-np.pi, np.pi, 4)
    base = qcomp.compile(src, optimize=0)
    want_e = oracle_expvals(base.program, w)[:2]  # the probs output adds one observable per qubit
    want_p = oracle_probs(base.program, w, tuple(range(base.program.num_qubits)))
    for level in range(4):
        outs = qcomp.compile(src, optimize=level).simulator().outputs(w)
        np.testing.assert_allclose([outs[0], outs[1]], want_e, atol=1e-9, err_msg=f"-O{level}\n{src}")
        np.testing.assert_allclose(outs[2], want_p, atol=1e-9, err_msg=f"-O{level}\n{src}")
    grad = base.simulator().gradient(w)[:2]
    np.testing.assert_allclose(grad, _fd(lambda v: oracle_expvals(base.program, v)[:2], w), atol=1e-6, err_msg=src)
