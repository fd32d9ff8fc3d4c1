"""The gate library: every per-gate fact (matrix, inverse, spectra, kind, cx cost, OpenQASM names, labels).

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

from ..errors import QCompError
from .expr import Const, Expr, neg
from .shift_rules import ShiftRule, frequencies_from_spectrum, period as _period, spectrum_rule


class GateTableError(QCompError):
    """A gate or equivalence added to the library is malformed or clashes with one already there."""


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


PAULI_MATRICES: dict[str, np.ndarray] = {"X": _X, "Y": _Y, "Z": _Z}

# A gate's inverse as library gates on the same qubits, from its angles (for gates no flag covers).
InverseRule = Callable[[Sequence[Expr]], list[tuple[str, tuple[Expr, ...]]]]


@dataclass(frozen=True)
class GateDef:
    """One gate of the library: every per-gate fact the compiler uses, in one place.

    ``spectra[k]`` are the eigenvalues of the generator ``G_k`` of angle k, in the form
    ``U = V exp(-i angle_k G_k) W`` with V, W independent of angle k: shift rules are derived
    from the differences of these eigenvalues (the frequencies), and so are the angle's period
    and the frequency of the matrix entries. A gate's decomposition into cx and one-qubit gates
    (for basis translation and OpenQASM definitions) lives in ``qcomp.ir.equivalences``.
    """

    name: str
    num_qubits: int
    num_angles: int
    matrix_fn: Callable[..., np.ndarray]
    diagonal: bool = False
    # inverse rules, tried in this order: the gate itself, a fixed partner gate, the negated angle
    # of a rotation, else ``inverse_fn``
    self_inverse: bool = False
    inverse_name: str | None = None
    rotation: bool = False  # one angle that adds: g(a) g(b) = g(a + b), so g(t)^-1 = g(-t)
    inverse_fn: InverseRule | None = None
    spectra: tuple[tuple[float, ...], ...] = ()
    hermitian_generator: str | None = None  # Pauli word P (argument order) when the gate is exp(-i t P / 2)
    symmetric: tuple[int, ...] = ()  # qubit positions the gate is invariant under permuting
    cx_cost: int | None = None  # cx count of its two-qubit synthesis as basis translation writes it
    # OpenQASM: the name in OpenQASM 3 files, membership of stdgates.inc (3) and of qelib1.inc (2),
    # and the OpenQASM 2 name when qelib1.inc calls it differently
    qasm_name: str | None = None
    stdgates: bool = False
    qelib1: bool = False
    qasm2_name: str | None = None
    # circuit-diagram labels per qubit; angles are appended to every label that is not a control
    # dot or a swap cross (default: the name on one-qubit gates, ``name#i`` on the others)
    labels: tuple[str, ...] = ()
    # a gate derived from ``base`` by OpenQASM 3 modifiers (qcomp.ir.modifiers): one letter per
    # control qubit, first qubits first ("c" for ctrl, "n" for negctrl), and the power applied to
    # the base before the controls (None: none); the emitter writes such a gate as its modifiers
    base: str | None = None
    controls: str = ""
    power: float | None = None

    def matrix(self, *angles: float | np.ndarray) -> np.ndarray:
        """The unitary, shape (2**k, 2**k), or (B, 2**k, 2**k) when angles are arrays of shape (B,)."""
        if len(angles) != self.num_angles:
            raise ValueError(f"{self.name} takes {self.num_angles} angles, got {len(angles)}")
        return self.matrix_fn(*angles)

    @property
    def qasm3(self) -> str:
        """The gate's name in OpenQASM 3."""
        return self.qasm_name or self.name

    @property
    def qasm2(self) -> str:
        """The gate's name in OpenQASM 2."""
        return self.qasm2_name or self.name

    def frequencies(self, angle_index: int = 0) -> tuple[float, ...]:
        """The distinct positive differences of the generator eigenvalues (sorted)."""
        ev = self.spectra[angle_index]
        fs = sorted({round(abs(a - b), 12) for a in ev for b in ev if abs(a - b) > 1e-12})
        return tuple(fs)

    @property
    def period(self) -> float | None:
        """Period of a one-angle gate's angle up to a global phase (rx: 2 pi; crx: 4 pi, since
        crx(2 pi) = z on the control), from the generator spectrum."""
        if self.num_angles != 1 or not self.spectra:
            return None
        return _period(self.frequencies(0))

    @property
    def matrix_freq(self) -> tuple[float, ...] | None:
        """Per angle, the f with every matrix entry a + b cos(f t) + c sin(f t) (then dU/dt =
        f/2 (U(t + pi/2f) - U(t - pi/2f)) exactly): the one nonzero |eigenvalue| of the generator.
        None when some angle's entries hold more than one frequency."""
        out = []
        for ev in self.spectra:
            mags = {round(abs(v), 12) for v in ev if abs(v) > 1e-12}
            if len(mags) != 1:
                return None
            out.append(mags.pop())
        return tuple(out) if len(out) == self.num_angles else None

    @property
    def permutation(self) -> bool:
        """A fixed gate whose matrix is a permutation of the basis states (x, cx, swap, ccx ...)."""
        if self.num_angles:
            return False
        m = np.asarray(self.matrix())
        return bool(np.all((np.abs(m) < 1e-12) | (np.abs(m - 1) < 1e-12)) and np.allclose(np.abs(m).sum(0), 1))

    @property
    def clifford(self) -> bool:
        """A fixed gate that maps every Pauli word to a signed Pauli word under conjugation."""
        if self.num_angles:
            return False
        u = np.asarray(self.matrix(), dtype=complex)
        for k in range(self.num_qubits):
            for p in (_X, _Z):  # X and Z on each qubit generate the Pauli group
                e = np.kron(np.kron(np.eye(2 ** k), p), np.eye(2 ** (self.num_qubits - 1 - k)))
                if not _is_pauli_word(u @ e @ u.conj().T):
                    return False
        return True

    def label_row(self, args: str) -> list[str]:
        """The diagram label of each of the gate's qubits, ``args`` the printed angles ``(a, b)``."""
        if self.labels:
            return [lab if lab in ("●", "×") else lab + args for lab in self.labels]
        if self.num_qubits == 1:
            return [self.name + args]
        return [f"{self.name}{args}#{i}" for i in range(self.num_qubits)]


def _is_pauli_word(m: np.ndarray) -> bool:
    """m = +-P_1 x ... x P_k for single-qubit Paulis (argument order)."""
    k = m.shape[0].bit_length() - 1
    paulis = (np.eye(2), _X, _Y, _Z)

    def words(j: int):
        if j == 0:
            yield np.eye(1)
            return
        for w in words(j - 1):
            for p in paulis:
                yield np.kron(w, p)

    return any(np.allclose(m, s * w, atol=1e-10) for w in words(k) for s in (1, -1))


_HALF = (-0.5, 0.5)
_HALF4 = (-0.5, -0.5, 0.5, 0.5)  # two-qubit Pauli-word generators P/2 (eigenvalues with multiplicity)
_CTRL_HALF = (0.0, 0.0, -0.5, 0.5)


def _u_inverse(angles: Sequence[Expr]) -> list[tuple[str, tuple[Expr, ...]]]:
    theta, phi, lam = angles
    return [("u", (neg(theta), neg(lam), neg(phi)))]


def _iswap_inverse(angles: Sequence[Expr]) -> list[tuple[str, tuple[Expr, ...]]]:
    # iswap = exp(i pi/4 (XX + YY)) = rxx(-pi/2) ryy(-pi/2), so its inverse flips both signs
    return [("rxx", (Const(math.pi / 2),)), ("ryy", (Const(math.pi / 2),))]


_CCX = np.eye(8, dtype=complex)
_CCX[6:, 6:] = _X
_CSWAP = np.eye(8, dtype=complex)
_CSWAP[4:, 4:] = _SWAP
_ISWAP = [[1, 0, 0, 0], [0, 0, 1j, 0], [0, 1j, 0, 0], [0, 0, 0, 1]]
_STD = dict(stdgates=True, qelib1=True)  # in both standard includes


def _ctrl(target: str) -> tuple[str, str]:
    return ("●", target)


def _mcx(k: int, u: np.ndarray = _X) -> np.ndarray:
    """``u`` on the last qubit controlled by the k qubits before it (all in |1>)."""
    m = np.eye(2 ** (k + 1), dtype=complex)
    m[-2:, -2:] = u
    return m


def _qelib1_body(lines: str, n: int) -> np.ndarray:
    """The matrix of a qelib1.inc body written with u2(0,pi), u1(pi/4), u1(-pi/4) and cx (argument
    order): rccx and rc3x are defined by their circuits (relative-phase Toffolis)."""
    one = {"h": _H, "t": np.diag([1, np.exp(1j * math.pi / 4)]), "tdg": np.diag([1, np.exp(-1j * math.pi / 4)])}
    m = np.eye(2 ** n, dtype=complex)
    for word in lines.split():
        name, *qs = word.split(":")
        idx = [int(q) for q in qs]
        if name == "cx":
            g, axes = np.asarray(_controlled(_X)), idx
        else:
            g, axes = one[name], idx
        k = len(axes)
        t = m.reshape((2,) * n + (2 ** n,))
        t = np.tensordot(g.reshape((2,) * (2 * k)), t, axes=(list(range(k, 2 * k)), axes))
        m = np.moveaxis(t, list(range(k)), axes).reshape(2 ** n, 2 ** n)
    return m


# qelib1.inc (Qiskit's): u2(0,pi) = h, u1(+-pi/4) = t / tdg
_RCCX = _qelib1_body("h:2 t:2 cx:1:2 tdg:2 cx:0:2 t:2 cx:1:2 tdg:2 h:2", 3)
_RC3X = _qelib1_body("h:3 t:3 cx:2:3 tdg:3 h:3 cx:0:3 t:3 cx:1:3 tdg:3 cx:0:3 t:3 cx:1:3 tdg:3 h:3 t:3 cx:2:3"
                     " tdg:3 h:3", 4)


def _cube(name: str) -> InverseRule:
    # u^4 = 1 (csx, c3sqrtx, rc3x): the inverse is u^3
    return lambda angles: [(name, ())] * 3


# The library, in this order everywhere a list of gates is shown.
_LIBRARY: tuple[GateDef, ...] = (
    GateDef("id", 1, 0, _const(np.eye(2)), diagonal=True, self_inverse=True, **_STD),
    GateDef("x", 1, 0, _const(_X), self_inverse=True, **_STD),
    GateDef("y", 1, 0, _const(_Y), self_inverse=True, **_STD),
    GateDef("z", 1, 0, _const(_Z), diagonal=True, self_inverse=True, **_STD),
    GateDef("h", 1, 0, _const(_H), self_inverse=True, **_STD),
    GateDef("s", 1, 0, _const(np.diag([1, 1j])), diagonal=True, inverse_name="sdg", **_STD),
    GateDef("sdg", 1, 0, _const(np.diag([1, -1j])), diagonal=True, inverse_name="s", **_STD),
    GateDef("t", 1, 0, _const(np.diag([1, np.exp(1j * math.pi / 4)])), diagonal=True, inverse_name="tdg", **_STD),
    GateDef("tdg", 1, 0, _const(np.diag([1, np.exp(-1j * math.pi / 4)])), diagonal=True, inverse_name="t", **_STD),
    GateDef("sx", 1, 0, _const(_SX), inverse_name="sxdg", stdgates=True),
    GateDef("sxdg", 1, 0, _const(_SX.conj().T), inverse_name="sx"),
    GateDef("rx", 1, 1, _rx, rotation=True, spectra=(_HALF,), hermitian_generator="X", **_STD),
    GateDef("ry", 1, 1, _ry, rotation=True, spectra=(_HALF,), hermitian_generator="Y", **_STD),
    GateDef("rz", 1, 1, _rz, diagonal=True, rotation=True, spectra=(_HALF,), hermitian_generator="Z", **_STD),
    # p(t) = diag(1, e^{it}) = exp(-i t G) with G = diag(0, -1)
    GateDef("p", 1, 1, _p, diagonal=True, rotation=True, spectra=((0.0, -1.0),), stdgates=True, qasm2_name="u1"),
    # u(theta, phi, lambda) = p(phi) ry(theta) p(lambda) exactly: generators Y/2, diag(0, -1), diag(0, -1)
    GateDef("u", 1, 3, _u, inverse_fn=_u_inverse, spectra=(_HALF, (0.0, -1.0), (0.0, -1.0)), qasm_name="U",
            qasm2_name="u3"),
    GateDef("cx", 2, 0, _const(_controlled(_X)), self_inverse=True, cx_cost=1, labels=_ctrl("x"), **_STD),
    GateDef("cy", 2, 0, _const(_controlled(_Y)), self_inverse=True, cx_cost=1, labels=_ctrl("y"), **_STD),
    GateDef("cz", 2, 0, _const(_controlled(_Z)), diagonal=True, self_inverse=True, symmetric=(0, 1), cx_cost=1,
            labels=_ctrl("z"), **_STD),
    GateDef("ch", 2, 0, _const(_controlled(_H)), self_inverse=True, cx_cost=1, labels=_ctrl("h"), **_STD),
    GateDef("swap", 2, 0, _const(_SWAP), self_inverse=True, symmetric=(0, 1), cx_cost=3, labels=("×", "×"),
            stdgates=True),
    GateDef("iswap", 2, 0, _const(_ISWAP), inverse_fn=_iswap_inverse, symmetric=(0, 1)),
    GateDef("crx", 2, 1, lambda t: _controlled(_rx(t)), rotation=True, spectra=(_CTRL_HALF,), cx_cost=2,
            labels=_ctrl("rx"), stdgates=True),
    GateDef("cry", 2, 1, lambda t: _controlled(_ry(t)), rotation=True, spectra=(_CTRL_HALF,), cx_cost=2,
            labels=_ctrl("ry"), stdgates=True),
    GateDef("crz", 2, 1, lambda t: _controlled(_rz(t)), diagonal=True, rotation=True, spectra=(_CTRL_HALF,),
            cx_cost=2, labels=_ctrl("rz"), **_STD),
    GateDef("cp", 2, 1, lambda t: _controlled(_p(t)), diagonal=True, rotation=True, spectra=((0.0, 0.0, 0.0, -1.0),),
            symmetric=(0, 1), cx_cost=2, labels=_ctrl("p"), stdgates=True, qasm2_name="cu1"),
    GateDef("rxx", 2, 1, _rpp(np.kron(_X, _X)), rotation=True, spectra=(_HALF4,), hermitian_generator="XX",
            symmetric=(0, 1), cx_cost=2),
    GateDef("ryy", 2, 1, _rpp(np.kron(_Y, _Y)), rotation=True, spectra=(_HALF4,), hermitian_generator="YY",
            symmetric=(0, 1), cx_cost=2),
    GateDef("rzz", 2, 1, _rpp(np.kron(_Z, _Z)), diagonal=True, rotation=True, spectra=(_HALF4,),
            hermitian_generator="ZZ", symmetric=(0, 1), cx_cost=2),
    GateDef("ccx", 3, 0, _const(_CCX), self_inverse=True, symmetric=(0, 1), labels=("●", "●", "x"), **_STD),
    GateDef("cswap", 3, 0, _const(_CSWAP), self_inverse=True, symmetric=(1, 2), labels=("●", "×", "×"),
            stdgates=True),
    # the rest of Qiskit's qelib1.inc, which qasm2.dumps writes without defining; strict qelib1.inc
    # readers (Qiskit's own qasm2.loads by default) lack them, so emitted files define them
    GateDef("csx", 2, 0, _const(_controlled(_SX)), inverse_fn=_cube("csx"), cx_cost=2, labels=_ctrl("sx")),
    GateDef("rccx", 3, 0, _const(_RCCX), self_inverse=True),
    GateDef("rc3x", 4, 0, _const(_RC3X), inverse_fn=_cube("rc3x")),
    GateDef("c3x", 4, 0, _const(_mcx(3)), self_inverse=True, symmetric=(0, 1), labels=("●", "●", "●", "x")),
    GateDef("c3sqrtx", 4, 0, _const(_mcx(3, _SX)), inverse_fn=_cube("c3sqrtx"), symmetric=(0, 1),
            labels=("●", "●", "●", "sx")),
    GateDef("c4x", 5, 0, _const(_mcx(4)), self_inverse=True, symmetric=(0, 1),
            labels=("●", "●", "●", "●", "x")),
)

GATES: dict[str, GateDef] = {}
ALIASES: dict[str, str] = {"cnot": "cx", "phase": "p", "toffoli": "ccx"}

# Tables derived from GATES. They are updated in place whenever a gate is added or removed, so a
# module that imported one sees later gates too; read them, never write them.
ROTATIONS: set[str] = set()  # one-angle gates whose angles add (rx ... cp)
ROTATION_PERIOD: dict[str, float] = {}  # rotation -> period of its angle up to a global phase
SYMMETRIC: dict[str, tuple[int, ...]] = {}  # gate -> qubit positions it is symmetric under
PAULI_ROTATIONS: dict[str, str] = {}  # exp(-i t P / 2) gates -> their Pauli word P, argument order
MATRIX_FREQ: dict[str, tuple[float, ...]] = {}  # gate -> frequency of each angle in its matrix entries
CLIFFORD_1Q: dict[str, GateDef] = {}  # one-qubit fixed Clifford gates, library order
CX_COST: dict[str, int] = {}  # two-qubit gate -> cx count of its synthesis
STDGATES: set[str] = set()  # gates OpenQASM 3 readers know from stdgates.inc
QELIB1: set[str] = set()  # gates strict OpenQASM 2 readers know from qelib1.inc
QASM2_RENAME: dict[str, str] = {}  # gate -> its different OpenQASM 2 name (p -> u1, ...)
QASM_NAMES: dict[str, str] = {}  # OpenQASM 3 / 2 names other than the gate's own -> gate (U, u3 -> u)

_LISTENERS: list[Callable[[], None]] = []


def _rebuild() -> None:
    gates = list(GATES.values())
    tables = (
        (ROTATIONS, {g.name for g in gates if g.rotation}),
        (ROTATION_PERIOD, {g.name: g.period for g in gates if g.rotation}),
        (SYMMETRIC, {g.name: g.symmetric for g in gates if g.symmetric}),
        (PAULI_ROTATIONS, {g.name: g.hermitian_generator for g in gates if g.hermitian_generator}),
        (MATRIX_FREQ, {g.name: g.matrix_freq for g in gates if g.num_angles and g.matrix_freq}),
        (CLIFFORD_1Q, {g.name: g for g in gates if g.num_qubits == 1 and g.clifford}),
        (CX_COST, {g.name: g.cx_cost for g in gates if g.cx_cost is not None}),
        (STDGATES, {g.name for g in gates if g.stdgates}),
        (QELIB1, {g.name for g in gates if g.qelib1}),
        (QASM2_RENAME, {g.name: g.qasm2_name for g in gates if g.qasm2_name}),
        (QASM_NAMES, {n: g.name for g in gates for n in (g.qasm_name, g.qasm2_name) if n}),
    )
    for table, value in tables:
        table.clear()
        table.update(value)  # type: ignore[attr-defined]
    notify_changed()


def on_change(fn: Callable[[], None]) -> None:
    """Call ``fn`` after every change of the library or of the equivalence table (modules that
    cache per-gate results clear them)."""
    _LISTENERS.append(fn)


def notify_changed() -> None:
    """Run the ``on_change`` callbacks."""
    for fn in list(_LISTENERS):
        fn()


def _check(g: GateDef) -> None:
    if not g.name.isidentifier() or g.name in ALIASES:
        raise GateTableError(f"gate name {g.name!r} is not a fresh identifier")
    d = 2 ** g.num_qubits
    angles = [0.3 + 0.4 * k for k in range(g.num_angles)]
    m = np.asarray(g.matrix(*angles), dtype=complex)
    if m.shape != (d, d) or not np.allclose(m @ m.conj().T, np.eye(d), atol=1e-10):
        raise GateTableError(f"gate {g.name}: matrix_fn must give a {d}x{d} unitary")
    if g.num_angles and len(g.spectra) != g.num_angles:
        raise GateTableError(f"gate {g.name}: one generator spectrum per angle is needed (for gradients)")
    if g.rotation and g.num_angles != 1:
        raise GateTableError(f"gate {g.name}: a rotation has exactly one angle")
    if g.hermitian_generator is not None and len(g.hermitian_generator) != g.num_qubits:
        raise GateTableError(f"gate {g.name}: its Pauli word needs one letter per qubit")
    if g.labels and len(g.labels) != g.num_qubits:
        raise GateTableError(f"gate {g.name}: one diagram label per qubit")
    if not (g.self_inverse or g.inverse_name or g.rotation or g.inverse_fn):
        raise GateTableError(f"gate {g.name}: no inverse rule (self_inverse, inverse_name, rotation or inverse_fn)")


def register_gate(g: GateDef) -> None:
    """Add ``g`` to the library (checked: unitary matrix, spectra, an inverse rule); its name must be new."""
    if g.name in GATES:
        raise GateTableError(f"gate {g.name!r} is already in the library")
    _check(g)
    GATES[g.name] = g
    _rebuild()


def remove_gate(name: str) -> None:
    """Take gate ``name`` out of the library again (tests that add a gate clean up with this)."""
    if name not in GATES:
        raise GateTableError(f"no gate {name!r} in the library")
    del GATES[name]
    _rebuild()


for _g in _LIBRARY:
    GATES[_g.name] = _g
_rebuild()


# Fences: operations with no matrix of their own that every pass treats as opaque on their qubits
# (nothing commutes, cancels, merges or fuses across them) and the simulators skip. ``barrier`` is
# one; noise channels register themselves through ``register_fence``. Their arity is free.
FENCES: set[str] = {"barrier", "measure", "reset"}
# The dynamic-circuit operations among the fences (qcomp.ir.dynamic): a mid-circuit measurement
# into a classical bit and a reset; they act on their qubit (a pass must never drop or move them).
DYNAMIC_OPS: frozenset[str] = frozenset({"measure", "reset"})


def is_fence(name: str) -> bool:
    """True for operations the passes must treat as opaque on their qubits (``barrier``, channels)."""
    return name in FENCES


def register_fence(name: str) -> None:
    """Make ``name`` a fence (see ``is_fence``)."""
    if name in GATES:
        raise GateTableError(f"{name!r} is a gate; a fence has no matrix")
    FENCES.add(name)
    notify_changed()


# Functions that can build a gate the library lacks by name (qcomp.ir.modifiers adds the derived
# gates'): an Operation read back from a pickle calls ``resolve`` so its gate exists again.
RESOLVERS: list = []


def resolve(name: str) -> bool:
    """Whether gate ``name`` is in the library, after asking the resolvers to build it."""
    return name in GATES or any(r(name) for r in RESOLVERS)


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
    if g.rotation:
        return [(name, (neg(angles[0]),))]
    if g.inverse_fn is not None:
        return g.inverse_fn(angles)
    raise AssertionError(f"no inverse rule for {name}")


def is_diagonal(name: str) -> bool:
    g = GATES.get(name)
    return bool(g and g.diagonal)


def gate_rule(gate_name: str, angle_index: int = 0) -> ShiftRule:
    """The shift rule for angle ``angle_index`` of a library gate, from its generator spectrum."""
    return spectrum_rule(GATES[gate_name].spectra[angle_index])


def gate_period(gate_name: str, angle_index: int = 0) -> float | None:
    """The period of angle ``angle_index`` of a library gate up to a global phase, from its spectrum."""
    return _period(frequencies_from_spectrum(GATES[gate_name].spectra[angle_index]))
