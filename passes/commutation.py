"""Shared helpers for the optimization passes: commutation rules, fast circuit I/O, the wire-walk engine."""

from __future__ import annotations

import math
import threading
from functools import lru_cache
from typing import Sequence

import numpy as np

from qcomp.ir.expr import Const, Expr, add
from qcomp.ir.gates import GATES, PAULI_MATRICES as _PAULI, ROTATION_PERIOD, ROTATIONS, SYMMETRIC, on_change
from qcomp.ir.ops import Operation

TWO_PI = 2.0 * math.pi

ANGLE_TOL = 1e-12


def rem(v: float, period: float) -> float:
    """``math.remainder`` that gives nan (never zero, never an error) for inf and nan."""
    return math.remainder(v, period) if math.isfinite(v) else math.nan


# -- commutation ----------------------------------------------------------------------
PAULI_MATRICES = {1: _PAULI["X"], 2: _PAULI["Y"], 4: _PAULI["Z"]}  # by mask bit
GENERIC_ANGLES = (0.7306, 1.2913, -2.0471)


def _embed(p: np.ndarray, pos: int, k: int) -> np.ndarray:
    """Single-qubit ``p`` at gate argument ``pos`` of a k-qubit gate (argument 0 most significant)."""
    out = np.eye(1, dtype=complex)
    for i in range(k):
        out = np.kron(out, p if i == pos else np.eye(2))
    return out


def matrix_masks(m: np.ndarray) -> tuple[int, ...]:
    """For each argument of the gate matrix ``m``: bit mask of X (1), Y (2), Z (4) it commutes with."""
    k = int(round(math.log2(m.shape[0])))
    # m (I x P x I) and (I x P x I) m as one-axis contractions of m's tensor: 4**k work each, not
    # the 8**k of dense products (deferred measurements make 10-qubit controlled gates)
    t = np.asarray(m).reshape((2,) * (2 * k))
    out = []
    for pos in range(k):
        mask = 0
        for bit, p in PAULI_MATRICES.items():
            left = np.moveaxis(np.tensordot(p, t, axes=([1], [pos])), 0, pos)  # (e @ m)
            right = np.moveaxis(np.tensordot(t, p, axes=([k + pos], [0])), -1, k + pos)  # (m @ e)
            if np.allclose(right, left, rtol=0, atol=1e-10):
                mask |= bit
        out.append(mask)
    return tuple(out)


@lru_cache(maxsize=None)
def gate_masks(name: str) -> tuple[int, ...]:
    """Paulis each argument of gate ``name`` commutes with, for every angle value (generic angles)."""
    g = GATES[name]
    masks = None
    for shift in (0.0, 0.9):  # two generic points so no accidental commutation survives
        m = g.matrix(*[a + shift for a in GENERIC_ANGLES[: g.num_angles]])
        mk = matrix_masks(np.asarray(m))
        masks = mk if masks is None else tuple(a & b for a, b in zip(masks, mk))
    return masks


def op_masks(op: Operation) -> tuple[int, ...]:
    if op.name == "unitary":
        return _unitary_masks(op.matrix)
    return gate_masks(op.name)


@lru_cache(maxsize=1024)
def _unitary_masks(matrix) -> tuple[int, ...]:
    m = np.array(matrix, dtype=complex)
    if m.shape[0] > 8:
        return (0,) * (m.shape[0].bit_length() - 1)
    return matrix_masks(m)


def _pauli_words_commute(a: str, b: str) -> bool:
    return sum(1 for x, y in zip(a, b) if x != y) % 2 == 0


def commute(a: Operation, b: Operation) -> bool:
    """A sufficient test that ``a`` and ``b`` commute (False means "not known to commute").

    Disjoint wires commute. Otherwise on every shared qubit both gates must commute with a common
    Pauli P_q (then both are block diagonal in the joint eigenbasis of those P_q, with blocks on
    disjoint remaining wires): diagonal gates with each other and with controls, X-type gates with
    cx targets, and so on. Rotations about Pauli words on the same wires commute when the words do.
    """
    shared = False
    ma = mb = None
    for i, q in enumerate(b.qubits):
        if q in a.qubits:
            if not shared:
                ma, mb = op_masks(a), op_masks(b)
                shared = True
            if not (ma[a.qubits.index(q)] & mb[i]):
                return _special_commute(a, b)
    return True


def _special_commute(a: Operation, b: Operation) -> bool:
    if len(a.qubits) != len(b.qubits) or set(a.qubits) != set(b.qubits):
        return False
    ga, gb = GATES.get(a.name), GATES.get(b.name)
    if ga is None or gb is None:
        return False
    if ga.hermitian_generator and gb.hermitian_generator:
        wa = dict(zip(a.qubits, ga.hermitian_generator))
        wb = dict(zip(b.qubits, gb.hermitian_generator))
        return _pauli_words_commute("".join(wa[q] for q in a.qubits), "".join(wb[q] for q in a.qubits))
    if a == b and not ga.num_angles:
        return True
    if a.name == b.name and a.name in SYMMETRIC and not ga.num_angles and same_wires(a, b):
        return True
    return False


# -- pairs: inverses and mergeable rotations -------------------------------------------


def same_wires(a: Operation, b: Operation) -> bool:
    """Same gate arguments, allowing the permutations the gate is symmetric under."""
    if a.qubits == b.qubits:
        return True
    sym = SYMMETRIC.get(a.name)
    if sym is None or a.name != b.name or len(a.qubits) != len(b.qubits):
        return False
    fixed = [i for i in range(len(a.qubits)) if i not in sym]
    return all(a.qubits[i] == b.qubits[i] for i in fixed) and {a.qubits[i] for i in sym} == {
        b.qubits[i] for i in sym
    }


def angle_sum(a: Expr, b: Expr) -> Expr:
    """a + b, simplified (constants folded, ``w - w`` is 0)."""
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(a.val + b.val)
    return add(a, b).simplify()


def is_zero_mod(e: Expr, period: float) -> bool:
    if not isinstance(e, Const):
        return False
    v = rem(e.val, period)
    return abs(v) <= ANGLE_TOL * max(1.0, abs(e.val))


def are_inverses(a: Operation, b: Operation) -> bool:
    """True when b = a^-1 (up to a global phase) on the same wires."""
    if a.name == "unitary" or b.name == "unitary":
        return False
    ga = GATES[a.name]
    if a.name == b.name:
        if not same_wires(a, b):
            return False
        if ga.self_inverse:
            return True
        if a.name in ROTATIONS:
            return is_zero_mod(angle_sum(a.angles[0], b.angles[0]), ROTATION_PERIOD[a.name])
        if a.name == "u":
            t1, p1, l1 = a.angles
            t2, p2, l2 = b.angles
            return all(
                isinstance(s, Const) and s.val == 0.0
                for s in (angle_sum(t1, t2), angle_sum(p1, l2), angle_sum(l1, p2))
            )
        return False
    return ga.inverse_name == b.name and a.qubits == b.qubits


def merged(a: Operation, b: Operation) -> Operation | None:
    """a followed by b as one rotation (angles added), or None when they do not merge."""
    if a.name != b.name or a.name not in ROTATIONS or not same_wires(a, b):
        return None
    return a.with_angles((angle_sum(a.angles[0], b.angles[0]),))


# -- the wire-walk engine -----------------------------------------------------------------
#
# What the walk asks about an earlier gate C and the walking gate B, apart from their angles, is
# fixed by each gate's name and its argument position on the shared wire, as long as no other wire
# is shared (always so when one of them is single-qubit) or both are two-qubit gates on the same
# pair of wires. Each wire entry thus carries a small "local kind" id (name, arity, position), and
# the answers are kept in module-level tables of relation bits per pair of local kinds: most walks
# take one or two steps, and a dict hit is far cheaper than mask dicts, ``_special_commute`` and
# ``are_inverses`` per step. The tables are independent of the circuit, so they stay small.
_COMMUTES = 1  # C commutes with B
_CANCELS = 2  # angle-less inverse pair on the same wires (used only when cancelling)
_ROTATION_PAIR = 4  # same rotation on the same wires: merges, cancels when the angles sum to 0
_ANGLE_PAIR = 8  # other angled gates on the same wires (u): ``are_inverses`` decides
_CHECK_WIRES = 16  # both multi-qubit: the bits hold only if no other wire is shared

_LOCAL_IDS: dict[tuple, int] = {}  # (name, arity, position, unitary masks) -> local kind id
_LOCAL_KEYS: list[tuple] = []  # local kind id -> its key
_LOCAL_MATRICES: list = []  # local kind id -> a unitary's matrix with those masks (else None)
_NAME_LOCALS: dict[str, tuple[int, ...]] = {}  # library gate -> local kind id per position
_REL: list[dict[int, int]] = []  # B's local kind -> {C's local kind: bits}, one shared wire
_REL_SAME: list[dict[int, int]] = []  # likewise for two-qubit gates on the same two wires
_LOCAL_LOCK = threading.Lock()  # ids index four lists: allocate them atomically


def _forget() -> None:
    """Drop the per-gate caches: a gate was added to or removed from the library."""
    gate_masks.cache_clear()
    with _LOCAL_LOCK:
        for table in (_LOCAL_IDS, _LOCAL_KEYS, _LOCAL_MATRICES, _NAME_LOCALS, _REL, _REL_SAME):
            table.clear()


on_change(_forget)


def _local_kinds(op: Operation) -> tuple[int, ...]:
    """Local kind id of ``op`` at each of its argument positions."""
    nq = len(op.qubits)
    # the walk uses nothing of a fused unitary but its masks, which keeps the tables bounded
    tag = op_masks(op) if op.name == "unitary" else None
    out = []
    for pos in range(nq):
        key = (op.name, nq, pos, tag)
        k = _LOCAL_IDS.get(key)
        if k is None:
            with _LOCAL_LOCK:
                k = _LOCAL_IDS.get(key)
                if k is None:
                    k = len(_LOCAL_KEYS)
                    _LOCAL_KEYS.append(key)
                    _LOCAL_MATRICES.append(op.matrix if tag is not None else None)
                    _REL.append({})
                    _REL_SAME.append({})
                    _LOCAL_IDS[key] = k  # published last: readers only see complete entries
        out.append(k)
    return tuple(out)


def _local_relation(lc: int, lb: int, same: bool) -> int:
    """Bits for C and B of these local kinds sharing wire 0 and, when ``same``, also their other wire."""
    cname, cn, cpos, _ = _LOCAL_KEYS[lc]
    bname, bn, bpos, _ = _LOCAL_KEYS[lb]
    cq = list(range(1, cn))
    cq.insert(cpos, 0)
    bq = list(range(1, bn) if same else range(cn, cn + bn - 1))
    bq.insert(bpos, 0)
    c = Operation(cname, tuple(cq), (), None, _LOCAL_MATRICES[lc])
    r = _relation(c, Operation(bname, tuple(bq), (), None, _LOCAL_MATRICES[lb]))
    return r | _CHECK_WIRES if cn > 1 and bn > 1 and not same else r


def _relation(c: Operation, b: Operation) -> int:
    """Relation bits for ``c`` followed by ``b`` (angles are ignored)."""
    r = _COMMUTES if commute(c, b) else 0
    if c.name == "unitary" or b.name == "unitary" or not same_wires(c, b):
        return r
    if not GATES[c.name].num_angles and not GATES[b.name].num_angles:
        if are_inverses(c, b):
            r |= _CANCELS
    elif c.name == b.name:
        r |= _ROTATION_PAIR if c.name in ROTATION_PERIOD else _ANGLE_PAIR
    return r


def _wide_relation(c: Operation, b: Operation, lc: int, lb: int, r: int) -> int:
    """Bits for multi-qubit ``c`` and ``b`` of local kinds ``lc``, ``lb`` (one-shared-wire bits ``r``)."""
    if len(c.qubits) == 2 and len(b.qubits) == 2:
        if b.qubits[1 - _LOCAL_KEYS[lb][2]] not in c.qubits:  # b's other wire, not the walked one
            return r & ~_CHECK_WIRES
        rs = _REL_SAME[lb].get(lc)
        if rs is None:
            rs = _REL_SAME[lb][lc] = _local_relation(lc, lb, True)
        return rs
    return _relation(c, b)


def cancel_and_merge(
    ops: Sequence[Operation], num_qubits: int, *, cancel: bool, merge: bool, window: int
) -> list[Operation]:
    """One sweep in topological order: each gate looks back along its wires, past gates it commutes
    with (at most ``window`` per wire), for an earlier gate it cancels with or merges into.

    A gate B that commutes with every gate between an earlier A and itself can be moved next to A,
    so ``A ... B`` becomes ``(A B) ...``: removed when A B is the identity, else the merged rotation
    takes A's place. Rewrites apply to the current circuit, so chains (h x x h) fold in one sweep.
    """
    name_locals, rel = _NAME_LOCALS, _REL
    cur: list[Operation | None] = list(ops)
    wires: list[list[int]] = [[] for _ in range(num_qubits)]  # op indices per wire, in order
    wire_kinds: list[list[int]] = [[] for _ in range(num_qubits)]  # their local kinds
    for i, b in enumerate(ops):
        qs = b.qubits
        nq = len(qs)
        lb = name_locals.get(b.name)
        if lb is None:
            lb = _local_kinds(b)
            if b.name != "unitary":
                name_locals[b.name] = lb
        lb0 = lb[0]
        row = rel[lb0]
        hit = -1
        result: Operation | None = None
        lst = wires[qs[0]]
        kinds = wire_kinds[qs[0]]
        pos = len(lst) - 1
        stop = pos - window
        if stop < -1:
            stop = -1
        while pos > stop:
            lc = kinds[pos]
            r = row.get(lc)
            if r is None:
                r = row[lc] = _local_relation(lc, lb0, False)
            if r == _COMMUTES:
                pos -= 1
                continue
            if r & _CHECK_WIRES:
                r = _wide_relation(cur[lst[pos]], b, lc, lb0, r)
                if r == _COMMUTES:
                    pos -= 1
                    continue
            if r > _COMMUTES:
                if r & _CANCELS:
                    if cancel:
                        hit = lst[pos]
                        break
                elif r & _ROTATION_PAIR:
                    if cancel or merge:
                        j = lst[pos]
                        c = cur[j]
                        s = angle_sum(c.angles[0], b.angles[0])
                        if is_zero_mod(s, ROTATION_PERIOD[b.name]):
                            hit = j
                            break
                        if merge:
                            hit, result = j, c.with_angles((s,))
                            break
                elif r & _ANGLE_PAIR and cancel and are_inverses(cur[lst[pos]], b):
                    hit = lst[pos]
                    break
            if not r & _COMMUTES:
                break
            pos -= 1
        if hit >= 0 and nq > 1 and not _clear_between(cur, wires, wire_kinds, b, lb, hit, window):
            hit = -1
        if hit < 0:
            lst.append(i)
            kinds.append(lb0)
            if nq == 2:
                q = qs[1]
                wires[q].append(i)
                wire_kinds[q].append(lb[1])
            elif nq > 2:
                for q, k in zip(qs[1:], lb[1:]):
                    wires[q].append(i)
                    wire_kinds[q].append(k)
            continue
        cur[i] = None
        if result is None:
            cur[hit] = None
            for q in qs:
                w = wires[q]
                for pos in range(len(w) - 1, -1, -1):
                    if w[pos] == hit:
                        del w[pos]
                        del wire_kinds[q][pos]
                        break
        else:
            cur[hit] = result
    return [op for op in cur if op is not None]


def _clear_between(
    cur: list[Operation | None],
    wires: list[list[int]],
    wire_kinds: list[list[int]],
    b: Operation,
    lb: tuple[int, ...],
    hit: int,
    window: int,
) -> bool:
    """Every gate after ``hit`` on ``b``'s wires but the first commutes with ``b``."""
    for q, lbk in zip(b.qubits[1:], lb[1:]):
        lst = wires[q]
        kinds = wire_kinds[q]
        row = _REL[lbk]
        steps = 0
        for pos in range(len(lst) - 1, -1, -1):
            j = lst[pos]
            if j == hit:
                break
            steps += 1
            if steps > window:
                return False
            lc = kinds[pos]
            r = row.get(lc)
            if r is None:
                r = row[lc] = _local_relation(lc, lbk, False)
            if r & _CHECK_WIRES:
                r = _wide_relation(cur[j], b, lc, lbk, r)
            if not r & _COMMUTES:
                return False
        else:
            return False
    return True
