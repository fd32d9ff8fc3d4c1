"""The gate library: matrices as functions of the angles, inverses, diagonality, generator spectra.

Conventions follow OpenQASM 3 / Qiskit (``rx(t) = exp(-i t X / 2)``, ``rxx(t) = exp(-i t XX / 2)``).
Matrices are written in argument order: the gate's first qubit is the most significant bit of
the matrix index (the textbook order; ``cx`` is controlled on its first qubit). Simulators map
arguments to state-vector bits themselves (state index bit k = flat qubit k, as in Qiskit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .expr import Expr, neg


def _stack(rows: Sequence[Sequence[object]]) -> np.ndarray:
    """Build a (..., d, d) complex array from entries that are scalars or equal-shape arrays."""
    flat = [np.asarray(v, dtype=complex) for row in rows for v in row]
    shape = np.broadcast_shapes(*(f.shape for f in flat))
    d = len(rows)
    out = np.empty(shape + (d, d), dtype=complex)
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            out[..., i, j] = v
    return out


def _const(m: Sequence[Sequence[complex]]) -> Callable[[], np.ndarray]:
    arr = np.array(m, dtype=complex)
    arr.setflags(write=False)
    return lambda: arr


def _controlled(u: np.ndarray) -> np.ndarray:
    """|0><0| x I + |1><1| x U for a (..., 2, 2) U; control is the most significant qubit."""
    shape = u.shape[:-2]
    out = np.zeros(shape + (4, 4), dtype=complex)
    out[..., 0, 0] = 1
    out[..., 1, 1] = 1
    out[..., 2:, 2:] = u
    return out


def _rx(t):
    c, s = np.cos(np.asarray(t) / 2), np.sin(np.asarray(t) / 2)
    return _stack([[c, -1j * s], [-1j * s, c]])


def _ry(t):
    c, s = np.cos(np.asarray(t) / 2), np.sin(np.asarray(t) / 2)
    return _stack([[c, -s], [s, c]])


def _rz(t):
    e = np.exp(-0.5j * np.asarray(t))
    return _stack([[e, 0], [0, np.conj(e)]])


def _p(t):
    return _stack([[1, 0], [0, np.exp(1j * np.asarray(t))]])


def _u(theta, phi, lam):
    theta, phi, lam = (np.asarray(a, dtype=float) for a in (theta, phi, lam))
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return _stack(
        [
            [c, -np.exp(1j * lam) * s],
            [np.exp(1j * phi) * s, np.exp(1j * (phi + lam)) * c],
        ]
    )


def _rpp(pauli: np.ndarray) -> Callable:
    def m(t):
        t = np.asarray(t, dtype=float)
        c, s = np.cos(t / 2), np.sin(t / 2)
        return c[..., None, None] * np.eye(4) - 1j * s[..., None, None] * pauli

    return m


_X = np.array([[0, 1], [1, 0]], dtype=complex)
_Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
_Z = np.array([[1, 0], [0, -1]], dtype=complex)
_H = np.array([[1, 1], [1, -1]], dtype=complex) / math.sqrt(2)
_SX = 0.5 * np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]])
_SWAP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=complex)


@dataclass(frozen=True)
class GateDef:
    """One gate of the library.

    ``spectra[k]`` are the eigenvalues of the generator ``G_k`` of angle k, in the form
    ``U = V exp(-i angle_k G_k) W`` with V, W independent of angle k: shift rules are derived
    from the differences of these eigenvalues (the frequencies).
    """

    name: str
    num_qubits: int
    num_angles: int
    matrix_fn: Callable[..., np.ndarray]
    diagonal: bool = False
    self_inverse: bool = False
    inverse_name: str | None = None  # a fixed gate whose inverse is another fixed gate
    spectra: tuple[tuple[float, ...], ...] = ()
    hermitian_generator: str | None = None  # Pauli word of the generator for rotations

    def matrix(self, *angles: float | np.ndarray) -> np.ndarray:
        """The unitary, shape (2**k, 2**k), or (B, 2**k, 2**k) when angles are arrays of shape (B,)."""
        if len(angles) != self.num_angles:
            raise ValueError(f"{self.name} takes {self.num_angles} angles, got {len(angles)}")
        return self.matrix_fn(*angles)

    @property
    def parametric(self) -> bool:
        return self.num_angles > 0

    def frequencies(self, angle_index: int = 0) -> tuple[float, ...]:
        """The distinct positive differences of the generator eigenvalues (sorted)."""
        ev = self.spectra[angle_index]
        fs = sorted({round(abs(a - b), 12) for a in ev for b in ev if abs(a - b) > 1e-12})
        return tuple(fs)


_HALF = (-0.5, 0.5)
_HALF4 = (-0.5, -0.5, 0.5, 0.5)  # two-qubit Pauli-word generators P/2 (eigenvalues with multiplicity)
_CTRL_HALF = (0.0, 0.0, -0.5, 0.5)

GATES: dict[str, GateDef] = {}


def _add(g: GateDef) -> None:
    GATES[g.name] = g


_add(GateDef("id", 1, 0, _const(np.eye(2)), diagonal=True, self_inverse=True))
_add(GateDef("x", 1, 0, _const(_X), self_inverse=True))
_add(GateDef("y", 1, 0, _const(_Y), self_inverse=True))
_add(GateDef("z", 1, 0, _const(_Z), diagonal=True, self_inverse=True))
_add(GateDef("h", 1, 0, _const(_H), self_inverse=True))
_add(GateDef("s", 1, 0, _const(np.diag([1, 1j])), diagonal=True, inverse_name="sdg"))
_add(GateDef("sdg", 1, 0, _const(np.diag([1, -1j])), diagonal=True, inverse_name="s"))
_add(GateDef("t", 1, 0, _const(np.diag([1, np.exp(1j * math.pi / 4)])), diagonal=True, inverse_name="tdg"))
_add(GateDef("tdg", 1, 0, _const(np.diag([1, np.exp(-1j * math.pi / 4)])), diagonal=True, inverse_name="t"))
_add(GateDef("sx", 1, 0, _const(_SX), inverse_name="sxdg"))
_add(GateDef("sxdg", 1, 0, _const(_SX.conj().T), inverse_name="sx"))
_add(GateDef("rx", 1, 1, _rx, spectra=(_HALF,), hermitian_generator="X"))
_add(GateDef("ry", 1, 1, _ry, spectra=(_HALF,), hermitian_generator="Y"))
_add(GateDef("rz", 1, 1, _rz, diagonal=True, spectra=(_HALF,), hermitian_generator="Z"))
# p(t) = diag(1, e^{it}) = exp(-i t G) with G = diag(0, -1)
_add(GateDef("p", 1, 1, _p, diagonal=True, spectra=((0.0, -1.0),)))
# u(theta, phi, lambda) = p(phi) ry(theta) p(lambda) exactly: generators Y/2, diag(0, -1), diag(0, -1)
_add(GateDef("u", 1, 3, _u, spectra=(_HALF, (0.0, -1.0), (0.0, -1.0))))
_add(GateDef("cx", 2, 0, _const(_controlled(_X)), self_inverse=True))
_add(GateDef("cy", 2, 0, _const(_controlled(_Y)), self_inverse=True))
_add(GateDef("cz", 2, 0, _const(_controlled(_Z)), diagonal=True, self_inverse=True))
_add(GateDef("ch", 2, 0, _const(_controlled(_H)), self_inverse=True))
_add(GateDef("swap", 2, 0, _const(_SWAP), self_inverse=True))
_add(
    GateDef(
        "iswap",
        2,
        0,
        _const([[1, 0, 0, 0], [0, 0, 1j, 0], [0, 1j, 0, 0], [0, 0, 0, 1]]),
    )
)
_add(GateDef("crx", 2, 1, lambda t: _controlled(_rx(t)), spectra=(_CTRL_HALF,)))
_add(GateDef("cry", 2, 1, lambda t: _controlled(_ry(t)), spectra=(_CTRL_HALF,)))
_add(GateDef("crz", 2, 1, lambda t: _controlled(_rz(t)), diagonal=True, spectra=(_CTRL_HALF,)))
_add(GateDef("cp", 2, 1, lambda t: _controlled(_p(t)), diagonal=True, spectra=((0.0, 0.0, 0.0, -1.0),)))
_add(GateDef("rxx", 2, 1, _rpp(np.kron(_X, _X)), spectra=(_HALF4,), hermitian_generator="XX"))
_add(GateDef("ryy", 2, 1, _rpp(np.kron(_Y, _Y)), spectra=(_HALF4,), hermitian_generator="YY"))
_add(GateDef("rzz", 2, 1, _rpp(np.kron(_Z, _Z)), diagonal=True, spectra=(_HALF4,), hermitian_generator="ZZ"))
_CCX = np.eye(8, dtype=complex)
_CCX[6:, 6:] = _X
_add(GateDef("ccx", 3, 0, _const(_CCX), self_inverse=True))
_CSWAP = np.eye(8, dtype=complex)
_CSWAP[4:, 4:] = _SWAP
_add(GateDef("cswap", 3, 0, _const(_CSWAP), self_inverse=True))

ALIASES: dict[str, str] = {"cnot": "cx", "phase": "p", "toffoli": "ccx"}

# Gates that are a single rotation exp(-i t P / 2) (or p/cp/crz-like) whose angles add.
ROTATIONS = frozenset({"rx", "ry", "rz", "p", "rxx", "ryy", "rzz", "crx", "cry", "crz", "cp"})


def lookup(name: str) -> GateDef | None:
    """The library gate called ``name`` (aliases resolved), or None."""
    return GATES.get(ALIASES.get(name, name))


def inverse(name: str, angles: Sequence[Expr]) -> list[tuple[str, tuple[Expr, ...]]]:
    """The inverse of library gate ``name`` as a sequence of library gates on the same qubits."""
    g = GATES[name]
    if g.self_inverse:
        return [(name, tuple(angles))]
    if g.inverse_name is not None:
        return [(g.inverse_name, ())]
    if name in ROTATIONS:
        return [(name, (neg(angles[0]),))]
    if name == "u":
        theta, phi, lam = angles
        return [("u", (neg(theta), neg(lam), neg(phi)))]
    if name == "iswap":
        # iswap = exp(i pi/4 (XX + YY)) = rxx(-pi/2) ryy(-pi/2), so its inverse flips both signs
        from .expr import Const

        return [("rxx", (Const(math.pi / 2),)), ("ryy", (Const(math.pi / 2),))]
    raise AssertionError(f"no inverse rule for {name}")


def is_diagonal(name: str) -> bool:
    g = GATES.get(name)
    return bool(g and g.diagonal)
