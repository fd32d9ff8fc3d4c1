"""Dynamic circuits exported as OpenQASM 3 / 2: Qiskit loads them into if_else circuits whose branch
mixture (an independent oracle walking Qiskit's instructions) and Aer's sampled counts match qcomp."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qcomp
from qcomp.backends.qasm import emit_qasm
from qcomp.errors import ExportError

from test_dynamic_sim import FEED, TELEPORT, _embed, dynamic_programs, rho_expvals

qiskit = pytest.importorskip("qiskit")
from qiskit import qasm2, qasm3  # noqa: E402
from qiskit.circuit import Clbit, ClassicalRegister, IfElseOp  # noqa: E402
from qiskit.quantum_info import Operator  # noqa: E402


def _cond_holds(condition, bits: dict) -> bool:
    if isinstance(condition, tuple):
        target, value = condition
        if isinstance(target, Clbit):
            return bits.get(target, 0) == int(value)
        return sum(bits.get(b, 0) << k for k, b in enumerate(target)) == int(value)
    from qiskit.circuit.classical import expr

    def ev(e):
        if isinstance(e, expr.Var):
            v = e.var
            if isinstance(v, Clbit):
                return bits.get(v, 0)
            return sum(bits.get(b, 0) << k for k, b in enumerate(v))
        if isinstance(e, expr.Value):
            return int(e.value)
        if isinstance(e, expr.Unary):
            return int(not ev(e.operand)) if e.op == expr.Unary.Op.LOGIC_NOT else int(ev(e.operand)) ^ 1
        if isinstance(e, expr.Cast):
            return ev(e.operand)
        if isinstance(e, expr.Binary):
            a, b = ev(e.left), ev(e.right)
            ops = {expr.Binary.Op.EQUAL: a == b, expr.Binary.Op.NOT_EQUAL: a != b,
                   expr.Binary.Op.LOGIC_AND: bool(a) and bool(b), expr.Binary.Op.LOGIC_OR: bool(a) or bool(b)}
            return int(ops[e.op])
        raise AssertionError(e)

    return bool(ev(condition))


def qiskit_mixture_probs(qc) -> np.ndarray:
    """Probabilities of every qubit of ``qc`` (bit k = qubit k)."""
    return np.real(np.diag(qiskit_mixture_rho(qc)))


def qiskit_mixture_rho(qc) -> np.ndarray:
    """The final density matrix of ``qc`` (bit k = qubit k), the mixture over its classical
    branches: Qiskit's own reading of the program, evaluated with projectors per branch."""
    n = qc.num_qubits
    index = {q: i for i, q in enumerate(qc.qubits)}
    rho = np.zeros((2**n, 2**n), complex)
    rho[0, 0] = 1

    def run(circuit, qmap, branches):
        for inst in circuit.data:
            op = inst.operation
            qs = tuple(qmap[q] for q in inst.qubits)
            nxt = []
            for r, bits in branches:
                if op.name == "barrier":
                    nxt.append((r, bits))
                elif op.name in ("measure", "reset"):
                    for v in (0, 1):
                        proj = _embed(np.diag([1.0 - v, float(v)]), qs, n)
                        rr = proj @ r @ proj
                        if np.trace(rr).real < 1e-15:
                            continue
                        if op.name == "measure":
                            nxt.append((rr, {**bits, inst.clbits[0]: v}))
                        else:
                            x = _embed(np.array([[0, 1], [1, 0]]), qs, n) if v else np.eye(2**n)
                            nxt.append((x @ rr @ x.T, bits))
                elif isinstance(op, IfElseOp):
                    body = op.params[0] if _cond_holds(op.condition, bits) else op.params[1]
                    if body is None:
                        nxt.append((r, bits))
                    else:
                        inner = {bq: qmap[q] for bq, q in zip(body.qubits, inst.qubits)}
                        cmap = dict(zip(body.clbits, inst.clbits))
                        sub = run(body, inner, [(r, {b: bits.get(cmap[b], 0) for b in body.clbits})])
                        for rr, bb in sub:
                            merged = dict(bits)
                            merged.update({cmap[b]: v for b, v in bb.items()})
                            nxt.append((rr, merged))
                else:
                    # Operator matrices are little-endian (the instruction's qubit 0 least significant)
                    u = _embed(Operator(op).data, tuple(reversed(qs)), n)
                    nxt.append((u @ r @ u.conj().T, bits))
            branches = nxt
        return branches

    return sum(r for r, _ in run(qc, index, [(rho, {})]))


def _bind(qc, program, w):
    names = dict(zip(emit_qasm(program).manifest["params"], range(len(w))))
    return qc.assign_parameters({p: w[names[p.name]] for p in qc.parameters}) if qc.parameters else qc


def _qubit_probs(model, w):
    return model.simulator().probs(w, qubits=list(range(model.program.num_qubits)))


@pytest.mark.parametrize("level", [0, 1, 2, 3])
@pytest.mark.parametrize("src", [FEED, TELEPORT], ids=["feed", "teleport"])
def test_qasm3_export_loads_into_if_else_and_matches(src: str, level: int) -> None:
    w = np.array([0.4, -1.2, 2.0, 0.8])[: 4 if src is FEED else 2]
    model = qcomp.compile(src, optimize=level)
    program = model.optimized("qasm")
    text = emit_qasm(program).text
    qc = qasm3.loads(text)
    assert "if_else" in qc.count_ops() and "measure" in qc.count_ops()
    # the optimised program may have relabelled wires (elide-swaps): compare its outputs
    got = rho_expvals(qiskit_mixture_rho(_bind(qc, program, w)), program.observables)
    np.testing.assert_allclose(got, qcomp.compile(src, optimize=0).simulator().expval(w), atol=1e-9)
    if level == 0:
        np.testing.assert_allclose(qiskit_mixture_probs(_bind(qc, program, w)), _qubit_probs(model, w), atol=1e-9)
    # and the export of Qiskit's reading loads again
    assert qasm3.loads(qasm3.dumps(qc)).count_ops() == qc.count_ops()


def test_basis_translation_keeps_dynamic_ops() -> None:
    model = qcomp.compile(FEED)
    program = model.optimized("qasm")
    w = np.array([0.4, -1.2, 2.0, 0.8])
    text = emit_qasm(program, basis="rz,sx,x,cx").text
    qc = qasm3.loads(text)
    ops = set(qc.count_ops())
    assert {"if_else", "measure", "reset"} <= ops and ops - {"if_else", "measure", "reset"} <= {"rz", "sx", "x", "cx"}
    for inst in qc.data:
        if isinstance(inst.operation, IfElseOp):
            for block in inst.operation.params:
                if block is not None:
                    assert set(block.count_ops()) <= {"rz", "sx", "x", "cx", "if_else"}
    np.testing.assert_allclose(qiskit_mixture_probs(_bind(qc, program, w)), _qubit_probs(model, w), atol=1e-9)


def test_aer_counts_match_the_branch_mixture() -> None:
    aer = pytest.importorskip("qiskit_aer")
    model = qcomp.compile(FEED)
    w = np.array([0.4, -1.2, 2.0, 0.8])
    program = model.optimized("qasm")
    qc = _bind(qasm3.loads(emit_qasm(program).text), program, w)
    creg = ClassicalRegister(3, "final")
    qc.add_register(creg)
    qc.measure(qc.qubits, creg)
    shots = 20000
    counts = aer.AerSimulator(seed_simulator=7).run(qc, shots=shots).result().get_counts()
    freq = np.zeros(8)
    for key, v in counts.items():
        freq[int(key.split()[0], 2)] += v  # the last-added register is leftmost
    p = _qubit_probs(model, w)
    mask = p > 1e-12
    chi2 = float((((freq - shots * p) ** 2)[mask] / (shots * p[mask])).sum())
    assert chi2 < 30.0, (freq / shots, p)  # 7 degrees of freedom: p < 1e-4 at 29.9
    assert np.all(freq[~mask] == 0)


def test_qasm2_export_whole_register_conditions() -> None:
    src = ("qubit q[3];\nbit a;\nbit b[2];\nh q[0];\na = measure q[0];\nh q[1];\nb[0] = measure q[1];\n"
           "b[1] = measure q[2];\nif (a == 1) { x q[2]; }\nif (b == 1) { h q[0]; cx q[0], q[2]; }\nreset q[1];\n")
    model = qcomp.compile(src)
    text = emit_qasm(model.optimized("qasm"), version=2).text
    assert "if(a==1) x q[2];" in text and "creg a[1];" in text and "measure q[0] -> a[0];" in text
    qc = qasm2.loads(text)
    np.testing.assert_allclose(qiskit_mixture_probs(qc), _qubit_probs(model, None), atol=1e-9)


def test_qasm2_refuses_single_bit_conditions() -> None:
    model = qcomp.compile("qubit q[2];\nbit c[2];\nh q[0];\nc[0] = measure q[0];\nif (c[0]) { x q[1]; }\n")
    with pytest.raises(ExportError, match="OpenQASM 2 can only condition a gate on one whole creg") as info:
        emit_qasm(model.optimized("qasm"), version=2)
    assert info.value.span is not None and info.value.span.line == 5


@pytest.mark.filterwarnings("ignore::qcomp.frontend.lower.UnusedDeclarationWarning")
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(src=dynamic_programs(), seed=st.integers(0, 2**16), level=st.integers(0, 3))
def test_random_dynamic_programs_export_and_reload(src: str, seed: int, level: int) -> None:
    w = np.random.default_rng(seed).uniform(-np.pi, np.pi, 4)
    model = qcomp.compile(src, optimize=level)
    program = model.optimized("qasm")
    qc = qasm3.loads(emit_qasm(program).text)
    got = rho_expvals(qiskit_mixture_rho(_bind(qc, program, w)), program.observables)
    want = qcomp.compile(src, optimize=0).simulator().outputs(w)
    np.testing.assert_allclose(got[:2], [want[0], want[1]], atol=1e-9, err_msg=src)
    qasm3.loads(qasm3.dumps(qc))
