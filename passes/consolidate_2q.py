"""consolidate-2q: resynthesise constant two-qubit blocks with the fewest cx (KAK, via Qiskit's two-qubit decomposer)."""

from __future__ import annotations

import cmath
import math
from dataclasses import dataclass

import numpy as np

from qcomp.errors import PassError
from qcomp.ir.circuit import Circuit
from qcomp.ir.expr import Const
from qcomp.ir.gates import CX_COST
from qcomp.ir.ops import Operation
from qcomp.ir.program import Program

from .base import Pass

# cx-equivalent cost of a two-qubit gate as written (GateDef.cx_cost, kept current by qcomp.ir.gates);
# a fused two-qubit block costs at most three
_UNITARY_CX_COST = 3

_SWAP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=complex)
# what Qiskit's two-qubit decomposer emits with euler_basis="ZSX" (the names are qcomp's too)
_DECOMPOSER_GATES = frozenset({"rz", "sx", "x", "cx"})


def available() -> bool:
    """True when Qiskit (the ``qiskit`` extra) is importable."""
    try:
        import qiskit.synthesis  # noqa: F401
    except ImportError:
        return False
    return True


def _decomposer():
    from qiskit.circuit.library import CXGate
    from qiskit.synthesis import TwoQubitBasisDecomposer

    return TwoQubitBasisDecomposer(CXGate(), euler_basis="ZSX")


_SX = np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]]) / 2
_FIXED_1Q = {"sx": _SX, "x": np.array([[0, 1], [1, 0]], dtype=complex)}
_EYE2 = np.eye(2)
# embedded 4x4 matrices of the fixed gates that basis translation leaves (local bit 0 = a)
_EMBED = {(name, pos): (np.kron(_EYE2, m) if pos == 0 else np.kron(m, _EYE2)) for name, m in _FIXED_1Q.items()
          for pos in (0, 1)}
_ROWS_CX = {0: [0, 3, 2, 1], 1: [0, 1, 3, 2]}  # cx with control on local bit 0 / 1: row permutation


def block_unitary(ops: list[Operation], a: int, b: int) -> np.ndarray:
    """4x4 unitary of ops on qubits a, b with local bit 0 = a, bit 1 = b (Qiskit's order).

    rz, sx, x and cx (what basis translation leaves) take fast paths: a row scaling, a fixed
    matrix, a row permutation; other gates are embedded with kron."""
    u = np.eye(4, dtype=complex)
    for op in ops:
        if len(op.qubits) == 1:
            pos = 0 if op.qubits[0] == a else 1
            if op.name == "rz":
                h = 0.5 * op.angles[0].evaluate(np.zeros(0), np.zeros(0))
                e = np.exp(-1j * h), np.exp(1j * h)
                d = np.array([e[0], e[1], e[0], e[1]] if pos == 0 else [e[0], e[0], e[1], e[1]])
                u = d[:, None] * u
                continue
            g = _EMBED.get((op.name, pos))
            if g is None:
                g = np.kron(_EYE2, op.unitary()) if pos == 0 else np.kron(op.unitary(), _EYE2)
            u = g @ u
            continue
        if op.name == "cx":
            u = u[_ROWS_CX[0 if op.qubits[0] == a else 1]]
            continue
        g = op.unitary()
        if op.qubits == (a, b):  # argument order puts the first qubit on the most significant bit
            g = _SWAP @ g @ _SWAP
        u = g @ u
    return u


_R = 0.5 ** 0.5
# a two-cx block whose invariants are this far from every fewer-cx class is left alone: far above
# the 1e-10 the exactness guard allows, so no block skipped this way could have been replaced
_SKIP_TOL = 1e-6
_HALF_PI = math.pi / 2


def _mat2(op: Operation) -> tuple[complex, complex, complex, complex]:
    """Row-major 2x2 of a constant one-qubit gate other than rz, as Python complex numbers."""
    if op.name == "sx":
        return 0.5 + 0.5j, 0.5 - 0.5j, 0.5 - 0.5j, 0.5 + 0.5j
    if op.name == "x":
        return 0j, 1 + 0j, 1 + 0j, 0j
    m = op.unitary()
    return complex(m[0, 0]), complex(m[0, 1]), complex(m[1, 0]), complex(m[1, 1])


def _two_cx_is_minimal(members: list[Operation], a: int) -> bool:
    """True when a block cx, (one-qubit gates), cx, ... certainly needs both cx (its invariants below are
    at least _SKIP_TOL from those of every one-cx or local unitary); False when unsure.

    With C, T the one-qubit products between the two cx on the first cx's control and target,
    cx_ct (C x T) cx_ct is locally equivalent to exp(-i(beta/2 XX + eps/2 ZZ)), beta the Ry angle
    of C's ZYZ form and eps the Rz angle of T's XZX form (Rz on the control and Rx on the target
    commute with cx). A reversed second cx is (H x H) cx_ct (H x H): the same with HC, HT.
    """
    if len(members) >= 3:  # the translated rzz, cx rz(t) cx: rzz(t) needs 2 cx unless t = 0 or pi/2 mod pi
        first, mid, second = members[0], members[1], members[2]
        if (mid.name == "rz" and second.qubits == first.qubits and mid.qubits[0] == first.qubits[1]
                and second.name == "cx" and type(mid.angles[0]) is Const):
            k = mid.angles[0].val / _HALF_PI
            return math.isfinite(k) and abs(k - round(k)) >= _SKIP_TOL
    c0, c1, c2, c3 = t0, t1, t2, t3 = 1 + 0j, 0j, 0j, 1 + 0j  # running products on a and b
    for k in range(1, len(members)):
        op = members[k]
        qs = op.qubits
        if len(qs) == 2:
            if op.name != "cx":
                return False
            break
        if op.name == "rz":  # the common case: a row scaling
            angle = op.angles[0]
            if type(angle) is not Const:
                return False
            e = cmath.exp(-0.5j * angle.val)
            f = e.conjugate()
            if qs[0] == a:
                c0, c1, c2, c3 = e * c0, e * c1, f * c2, f * c3
            else:
                t0, t1, t2, t3 = e * t0, e * t1, f * t2, f * t3
            continue
        m0, m1, m2, m3 = _mat2(op)
        if qs[0] == a:
            c0, c1, c2, c3 = m0 * c0 + m1 * c2, m0 * c1 + m1 * c3, m2 * c0 + m3 * c2, m2 * c1 + m3 * c3
        else:
            t0, t1, t2, t3 = m0 * t0 + m1 * t2, m0 * t1 + m1 * t3, m2 * t0 + m3 * t2, m2 * t1 + m3 * t3
    else:
        return False  # pragma: no cover - a cost-2 block of cx has a second cx
    control = members[0].qubits[0]
    if control != a:  # control on b: swap the roles
        c0, c1, c2, c3, t0, t1, t2, t3 = t0, t1, t2, t3, c0, c1, c2, c3
    # |sin beta| = 2|m00||m10| and |cos beta| = ||m00|^2 - |m10|^2| from a unitary's first column
    if qs[0] == control:  # first columns of C and of HTH (T in the X basis)
        p0, p1 = abs(c0), abs(c2)
        r0, r1 = 0.5 * abs(t0 + t1 + t2 + t3), 0.5 * abs(t0 + t1 - t2 - t3)
    else:  # of HC and of TH
        p0, p1 = _R * abs(c0 + c2), _R * abs(c0 - c2)
        r0, r1 = _R * abs(t0 + t1), _R * abs(t2 + t3)
    sin_c, cos_c = 2 * p0 * p1, abs(p0 * p0 - p1 * p1)
    sin_t, cos_t = 2 * r0 * r1, abs(r0 * r0 - r1 * r1)
    # exp(-i(x XX + y ZZ)) needs no cx when x, y are multiples of pi/2 and one cx when one is and the
    # other is pi/4 off one: sin(beta) = 0 and sin(eps) or cos(eps) = 0, or the other way round
    tol = _SKIP_TOL
    if not (math.isfinite(sin_c) and math.isfinite(sin_t)):
        return False  # a non-finite angle: the caller reports it
    return not ((sin_c < tol and (sin_t < tol or cos_t < tol)) or (sin_t < tol and cos_c < tol))


@dataclass(frozen=True)
class Consolidate2Q(Pass):
    """Collect runs of constant gates on one pair of qubits and resynthesise each run whose cx count
    (as written) exceeds the minimum for its unitary (0 to 3, from its Weyl-chamber coordinates),
    with Qiskit's TwoQubitBasisDecomposer into rz, sx, x, cx. Needs the ``qiskit`` extra.
    """

    name = "consolidate-2q"
    available = staticmethod(available)  # presets skip the pass when Qiskit is not installed

    def run(self, program: Program) -> Program:
        if not available():
            raise PassError("consolidate-2q needs Qiskit's two-qubit decomposer: pip install 'qcomp[qiskit]'")
        ops = program.circuit.ops()
        out: list[Operation | list[Operation] | None] = []
        # open block per qubit: [pair, output slot, member ops, cx cost]
        open_on: dict[int, list] = {}
        dec = None

        def close(blk: list) -> None:
            nonlocal dec
            (a, b), slot, members, cost = blk
            del open_on[a], open_on[b]
            out[slot] = members
            # most blocks are two cx around one-qubit gates and need both; skip those without numpy
            if cost < 2 or (cost == 2 and members[0].name == "cx" and _two_cx_is_minimal(members, a)):
                return
            for op in members:
                for t in op.angles:
                    if not math.isfinite(t.value()):
                        raise PassError(f"consolidate-2q: gate {op} has a non-finite angle")
            if dec is None:
                dec = _decomposer()
            u = block_unitary(members, a, b)
            if cost > 3 or dec.num_basis_gates(u) < cost:  # three cx always suffice
                candidate = _synthesise(dec, u, a, b)
                # Qiskit's Weyl decomposition snaps to a special case within fidelity 1 - 1e-9
                # (a crx(6e-5) becomes the identity); keep the block unless the result is exact
                if _same_up_to_phase(block_unitary(candidate, a, b), u):
                    out[slot] = candidate

        open_get = open_on.get
        emit = out.append
        for op in ops:
            qs = op.qubits
            angles = op.angles
            # constant: no angles (but not a measurement) or numbers only; inline, asked per gate
            if angles:
                const = (len(angles) == 1 and type(angles[0]) is Const) or not op.is_parametric
            else:
                const = op.name != "measure"
            if len(qs) == 1:
                blk = open_get(qs[0])
                if blk is None:
                    emit(op)
                elif const:
                    blk[2].append(op)
                else:
                    close(blk)
                    emit(op)
                continue
            cost = (_UNITARY_CX_COST if op.name == "unitary" else CX_COST.get(op.name)) if len(qs) == 2 else None
            if cost is not None and const:
                a, b = qs
                if a > b:
                    a, b = b, a
                blk = open_get(a)
                if blk is not None:
                    if blk is open_get(b):
                        blk[2].append(op)
                        blk[3] += cost
                        continue
                    close(blk)
                blk = open_get(b)
                if blk is not None:
                    close(blk)
                open_on[a] = open_on[b] = [(a, b), len(out), [op], cost]
                emit(None)
                continue
            for q in qs:
                blk = open_get(q)
                if blk is not None:
                    close(blk)
            emit(op)
        for q in sorted(open_on):
            blk = open_on.get(q)
            if blk is not None:
                close(blk)
        flat: list[Operation] = []
        append, extend = flat.append, flat.extend
        for item in out:
            if type(item) is list:
                extend(item)
            else:
                append(item)  # type: ignore[arg-type]
        return program.with_circuit(Circuit.from_ops(program.num_qubits, flat, checked=True))


def _same_up_to_phase(v: np.ndarray, u: np.ndarray, atol: float = 1e-10) -> bool:
    d = v @ u.conj().T
    return bool(np.abs(d - d[0, 0] * np.eye(4)).max() < atol and abs(abs(d[0, 0]) - 1) < atol)


def _synthesise(dec, u: np.ndarray, a: int, b: int) -> list[Operation]:
    qc = dec(u)
    qmap = dict(zip(qc.qubits, (a, b)))
    res = []
    # CircuitInstruction.name/.params/.qubits avoid building the Python gate objects (.operation)
    for inst in qc.data:
        name = inst.name
        if name not in _DECOMPOSER_GATES:  # pragma: no cover - an internal invariant of the decomposer
            raise PassError(f"consolidate-2q: unexpected gate '{name}' from the two-qubit decomposer")
        qs = tuple([qmap[q] for q in inst.qubits])
        angles = tuple([Const(float(p)) for p in inst.params])
        res.append(Operation(name, qs, angles))
    return res
