"""consolidate-2q: resynthesise constant two-qubit blocks with the fewest cx (KAK, via Qiskit's two-qubit decomposer)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcomp.errors import PassError
from qcomp.ir.circuit import Circuit
from qcomp.ir.expr import Const
from qcomp.ir.ops import Operation
from qcomp.ir.program import Program

from .base import Pass, register
from .commutation import paused_gc

# cx-equivalent cost of each constant two-qubit gate as written (what basis translation makes of it)
CX_COST = {"cx": 1, "cz": 1, "cy": 1, "ch": 1, "swap": 3, "rzz": 2, "rxx": 2, "ryy": 2, "cp": 2, "crz": 2,
           "crx": 2, "cry": 2, "cu": 2, "unitary": 3}

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


@register
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
        with paused_gc():
            return self._run(program)

    def _run(self, program: Program) -> Program:
        ops = program.circuit.ops()
        out: list[Operation | None] = []
        # open block per qubit: [pair, output slot, member ops, cx cost]
        open_on: dict[int, list] = {}
        dec = None

        def close(q: int) -> None:
            nonlocal dec
            blk = open_on.get(q)
            if blk is None:
                return
            (a, b), slot, members, cost = blk
            del open_on[a], open_on[b]
            replacement = members
            if cost >= 2:
                if dec is None:
                    dec = _decomposer()
                u = block_unitary(members, a, b)
                if dec.num_basis_gates(u) < cost:
                    candidate = _synthesise(dec, u, a, b)
                    # Qiskit's Weyl decomposition snaps to a special case within fidelity 1 - 1e-9
                    # (a crx(6e-5) becomes the identity); keep the block unless the result is exact
                    if _same_up_to_phase(block_unitary(candidate, a, b), u):
                        replacement = candidate
            out[slot] = replacement  # type: ignore[call-overload]

        for op in ops:
            constant = not op.is_parametric and op.name != "measure"
            if constant and len(op.qubits) == 1 and op.qubits[0] in open_on:
                open_on[op.qubits[0]][2].append(op)
                continue
            if constant and len(op.qubits) == 2 and op.name in CX_COST:
                a, b = sorted(op.qubits)
                blk = open_on.get(a)
                if blk is not None and blk is open_on.get(b):
                    blk[2].append(op)
                    blk[3] += CX_COST[op.name]
                    continue
                close(a)
                close(b)
                blk = [(a, b), len(out), [op], CX_COST[op.name]]
                out.append(None)
                open_on[a] = open_on[b] = blk
                continue
            for q in op.qubits:
                close(q)
            out.append(op)
        for q in sorted(open_on):
            close(q)
        flat: list[Operation] = []
        for item in out:
            if isinstance(item, list):
                flat.extend(item)
            else:
                assert item is not None
                flat.append(item)
        return program.with_circuit(Circuit.from_ops(program.num_qubits, flat))


def _same_up_to_phase(v: np.ndarray, u: np.ndarray, atol: float = 1e-10) -> bool:
    d = v @ u.conj().T
    return bool(np.abs(d - d[0, 0] * np.eye(4)).max() < atol and abs(abs(d[0, 0]) - 1) < atol)


def _synthesise(dec, u: np.ndarray, a: int, b: int) -> list[Operation]:
    qc = dec(u)
    qmap = {0: a, 1: b}
    res = []
    for inst in qc.data:
        name = inst.operation.name
        if name not in _DECOMPOSER_GATES:  # pragma: no cover - an internal invariant of the decomposer
            raise PassError(f"consolidate-2q: unexpected gate '{name}' from the two-qubit decomposer")
        qs = tuple(qmap[qc.find_bit(q).index] for q in inst.qubits)
        angles = tuple(Const(float(p)) for p in inst.operation.params)
        res.append(Operation(name, qs, angles))
    return res
