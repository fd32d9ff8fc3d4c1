"""The gate library: unitarity, inverses, diagonal flags, generator spectra, agreement with Qiskit."""

from __future__ import annotations

import numpy as np
import pytest

from qcomp.ir import expr as E
from qcomp.ir.gates import ALIASES, GATES, inverse, is_diagonal, lookup

RNG = np.random.default_rng(7)
NAMES = sorted(GATES)


def angles_for(name: str) -> list[float]:
    return list(RNG.uniform(-np.pi, np.pi, size=GATES[name].num_angles))


def test_library_is_the_documented_set() -> None:
    assert set(GATES) == set(
        "id x y z h s sdg t tdg sx sxdg rx ry rz p u cx cy cz ch swap iswap crx cry crz cp rxx ryy rzz ccx cswap"
        " csx rccx rc3x c3x c3sqrtx c4x".split()
    ) | {n for n, g in GATES.items() if g.base is not None}  # derived gates registered by modifiers
    assert ALIASES == {"cnot": "cx", "phase": "p", "toffoli": "ccx"}
    assert lookup("cnot") is GATES["cx"] and lookup("nope") is None


@pytest.mark.parametrize("name", NAMES)
def test_unitary_and_shape(name: str) -> None:
    g = GATES[name]
    m = g.matrix(*angles_for(name))
    d = 2**g.num_qubits
    assert m.shape == (d, d)
    np.testing.assert_allclose(m @ m.conj().T, np.eye(d), atol=1e-12)


@pytest.mark.parametrize("name", [n for n in NAMES if GATES[n].num_angles])
def test_batched_angles(name: str) -> None:
    g = GATES[name]
    batch = RNG.uniform(-3, 3, size=(g.num_angles, 4))
    m = g.matrix(*batch)
    assert m.shape == (4, 2**g.num_qubits, 2**g.num_qubits)
    for b in range(4):
        np.testing.assert_allclose(m[b], g.matrix(*batch[:, b]), atol=1e-14)
    with pytest.raises(ValueError):
        g.matrix(*([0.0] * (g.num_angles + 1)))


@pytest.mark.parametrize("name", NAMES)
def test_inverse_times_gate_is_identity(name: str) -> None:
    g = GATES[name]
    ang = angles_for(name)
    u = g.matrix(*ang)
    prod = np.eye(u.shape[0], dtype=complex)
    for inv_name, inv_angles in inverse(name, [E.Const(a) for a in ang]):
        assert GATES[inv_name].num_qubits == g.num_qubits
        prod = GATES[inv_name].matrix(*[a.value() for a in inv_angles]) @ prod
    np.testing.assert_allclose(prod @ u, np.eye(u.shape[0]), atol=1e-12)  # exactly, not up to a phase


def test_inverse_of_symbolic_angles_negates() -> None:
    w = E.Sym("param", 0, "w")
    assert inverse("rx", [w]) == [("rx", (E.Neg(w),))]
    assert inverse("s", []) == [("sdg", ())] and inverse("cx", []) == [("cx", ())]


@pytest.mark.parametrize("name", NAMES)
def test_diagonal_and_self_inverse_flags(name: str) -> None:
    g = GATES[name]
    u = g.matrix(*angles_for(name))
    off = u - np.diag(np.diag(u))
    assert g.diagonal == bool(np.allclose(off, 0)), name
    assert is_diagonal(name) == g.diagonal
    assert g.self_inverse == bool(np.allclose(u @ u, np.eye(len(u)))) or g.num_angles > 0


@pytest.mark.parametrize("name", [n for n in NAMES if GATES[n].num_angles])
def test_spectra_match_matrix(name: str) -> None:
    """U(t + s) U(t)^dagger = V exp(-i s G) V^dagger has eigenvalues exp(-i s lambda), lambda in spectra."""
    g = GATES[name]
    assert len(g.spectra) == g.num_angles
    for k in range(g.num_angles):
        spec = np.array(g.spectra[k])
        assert len(spec) == 2**g.num_qubits
        for s in (0.37, 1.1):
            base = angles_for(name)
            moved = list(base)
            moved[k] += s
            rel = g.matrix(*moved) @ g.matrix(*base).conj().T
            ev = np.linalg.eigvals(rel)
            want = np.exp(-1j * s * spec)
            # multisets equal: every eigenvalue matched once (exact generator, no global phase)
            left = list(want)
            for v in ev:
                j = int(np.argmin(np.abs(np.array(left) - v)))
                assert abs(left[j] - v) < 1e-9, f"{name}[{k}]: eigenvalue {v} not in {want}"
                left.pop(j)


def test_frequencies() -> None:
    assert GATES["rx"].frequencies() == (1.0,)
    assert GATES["crx"].frequencies() == (0.5, 1.0)
    assert GATES["cp"].frequencies() == (1.0,)
    assert GATES["u"].frequencies(2) == (1.0,)


def test_rotation_conventions() -> None:
    t = 0.83
    X = np.array([[0, 1], [1, 0]])
    Z = np.diag([1.0, -1.0])
    expm = lambda h: np.cos(t / 2) * np.eye(len(h)) - 1j * np.sin(t / 2) * h  # exp(-i t H / 2) for H^2 = I
    np.testing.assert_allclose(GATES["rx"].matrix(t), expm(X), atol=1e-14)
    np.testing.assert_allclose(GATES["rxx"].matrix(t), expm(np.kron(X, X)), atol=1e-14)
    np.testing.assert_allclose(GATES["rzz"].matrix(t), expm(np.kron(Z, Z)), atol=1e-14)
    np.testing.assert_allclose(GATES["p"].matrix(t), np.diag([1, np.exp(1j * t)]), atol=1e-14)
    # cx is controlled on its first argument = most significant bit of the matrix index
    np.testing.assert_allclose(GATES["cx"].matrix(), [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]])


# -- Qiskit oracle ------------------------------------------------------------------------------
def _qiskit_gate(name: str, ang: list[float]):
    lib = pytest.importorskip("qiskit.circuit.library")
    cls = {
        "id": lib.IGate, "x": lib.XGate, "y": lib.YGate, "z": lib.ZGate, "h": lib.HGate, "s": lib.SGate,
        "sdg": lib.SdgGate, "t": lib.TGate, "tdg": lib.TdgGate, "sx": lib.SXGate, "sxdg": lib.SXdgGate,
        "rx": lib.RXGate, "ry": lib.RYGate, "rz": lib.RZGate, "p": lib.PhaseGate, "u": lib.UGate,
        "cx": lib.CXGate, "cy": lib.CYGate, "cz": lib.CZGate, "ch": lib.CHGate, "swap": lib.SwapGate,
        "iswap": lib.iSwapGate, "crx": lib.CRXGate, "cry": lib.CRYGate, "crz": lib.CRZGate, "cp": lib.CPhaseGate,
        "rxx": lib.RXXGate, "ryy": lib.RYYGate, "rzz": lib.RZZGate, "ccx": lib.CCXGate, "cswap": lib.CSwapGate,
        "csx": lib.CSXGate, "rccx": lib.RCCXGate, "rc3x": lib.RC3XGate, "c3x": lib.C3XGate, "c3sqrtx": lib.C3SXGate,
        "c4x": lib.C4XGate,
    }[name]
    return cls(*ang)


@pytest.mark.parametrize("name", NAMES)
def test_matrix_equals_qiskit(name: str) -> None:
    from qiskit.quantum_info import Operator

    ang = angles_for(name)
    # Qiskit's matrix has the gate's first qubit as the LEAST significant bit; reverse to argument order.
    want = Operator(_qiskit_gate(name, ang)).reverse_qargs().data
    np.testing.assert_allclose(GATES[name].matrix(*ang), want, atol=1e-12)
