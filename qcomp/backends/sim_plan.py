"""The kernel plan: product-state folding, Pauli rotations, fused dense and diagonal blocks, forward and adjoint execution."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..ir.expr import CompiledExprs, Expr, intern_angles, param_derivatives
from ..ir.gates import CLIFFORD_1Q, GATES, MATRIX_FREQ, PAULI_MATRICES, PAULI_ROTATIONS, on_change
from ..ir.ops import Operation
from ..passes.fuse_blocks import group_ops
from . import kernels as K

# Gate tables (MATRIX_FREQ: dU/dt = f/2 (U(t + pi/2f) - U(t - pi/2f)); PAULI_ROTATIONS: the Pauli
# word of each exp(-i t P / 2); CLIFFORD_1Q) come from qcomp.ir.gates, which keeps them current.

DEFAULT_BLOCK_QUBITS = 2
# diagonal blocks are capped so their phase table stays cache-sized (2**14 complex = 256 KiB)
MAX_DIAGONAL_QUBITS = 14
PHASE_TABLE_ELEMENTS = 1 << 16
# cache blocking: runs of kernels on qubits below LOCAL_BYTES-sized pieces run piece by piece
LOCAL_BYTES = 1 << 20
# Pauli layers: at most this many qubits (the layer's phase table is as large as one state)
LAYER_MAX_QUBITS = 20
# ops scanned ahead when growing a layer (bounds the work on long circuits)
LAYER_SCAN_OPS = 512


@dataclass
class OpRef:
    """An operation and the slots of its angles in the plan's angle table."""

    op: Operation
    slots: tuple[int, ...]
    uses_params: bool
    uses_inputs: bool


@dataclass
class DenseKernel:
    qubits: tuple[int, ...]  # sorted ascending; local index bit i = qubits[i]
    ops: list[OpRef]
    bv: K.BlockView
    mask: np.ndarray  # structural nonzeros of the block matrix
    uses_params: bool
    uses_inputs: bool
    kind: str = "dense"
    perm: list[int] | None = None  # constant permutation blocks (cx, swap, ccx, ...) run in place


@dataclass
class PauliKernel:
    qubits: tuple[int, ...]  # sorted ascending
    ref: OpRef
    word: tuple[tuple[int, str], ...]  # ((qubit, "X"|"Y"|"Z"), ...)
    uses_params: bool
    uses_inputs: bool
    kind: str = "pauli"

    @property
    def ops(self) -> list[OpRef]:
        return [self.ref]

    def view(self, n: int) -> K.PauliView:
        views = self.__dict__.setdefault("_views", {})
        if n not in views:
            views[n] = K.PauliView(n, self.word)
        return views[n]


@dataclass
class DiagTerm:
    ref: OpRef
    h: np.ndarray  # diag(U(t)) = exp(i (t h + c)) in op argument order
    c: np.ndarray


@dataclass
class DiagKernel:
    qubits: tuple[int, ...]
    terms: list[DiagTerm]
    uses_params: bool
    uses_inputs: bool
    kind: str = "diag"
    layer: bool = False  # the diagonal core of a Pauli layer (terms are Z-strings after the basis change)

    def walsh_terms(self) -> list[tuple[list[tuple[tuple[int, ...], float]], DiagTerm]]:
        """Per term, its phase pattern h as a sum of Z-strings: [(qubit mask, coefficient)]."""
        if "_walsh" not in self.__dict__:
            out = []
            for t in self.terms:
                qs = t.ref.op.qubits
                k = len(qs)
                parts = []
                for mask in range(2**k):
                    # bit (k - 1 - i) of a pattern index is qubit qs[i] (first qubit = msb)
                    sign = np.array([(-1.0) ** bin(x & mask).count("1") for x in range(2**k)])
                    c = float(np.dot(t.h, sign)) / 2**k
                    if abs(c) > 1e-15:
                        parts.append((tuple(sorted(qs[i] for i in range(k) if (mask >> (k - 1 - i)) & 1)), c))
                out.append((parts, t))
            self.__dict__["_walsh"] = out
        return self.__dict__["_walsh"]


@dataclass
class WhtKernel:
    """H on each of ``qubits``: the basis change around a Pauli layer."""

    qubits: tuple[int, ...]
    uses_params: bool = False
    uses_inputs: bool = False
    kind: str = "wht"

    @property
    def ops(self) -> list[OpRef]:
        return []

    def view(self, n: int) -> K.WhtView:
        views = self.__dict__.setdefault("_views", {})
        if n not in views:
            views[n] = K.WhtView(n, self.qubits)
        return views[n]


@dataclass
class Plan:
    n: int
    prep: dict[int, list[OpRef]]
    kernels: list
    exprs: list[Expr]
    compiled: CompiledExprs
    # gradient: for each slot, [(param index, derivative slot)], derivative expressions compiled
    dslots: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    dcompiled: CompiledExprs | None = None
    # physical state position of each logical qubit (None: identity)
    phys: list[int] | None = None
    # trailing one-qubit Clifford gates moved into the observables (application order)
    obs_gates: list[Operation] = field(default_factory=list)

    def observables(self, observables) -> list:
        """The program's observables conjugated by the gates folded into them (logical qubits)."""
        return [conjugate_observable(o, self.obs_gates) for o in observables] if self.obs_gates else list(observables)

    def describe(self) -> str:
        lines = [f"plan: {self.n} qubits, {sum(len(v) for v in self.prep.values())} ops folded into product-state preparation"]
        for k in self.kernels:
            if k.kind == "wht":
                lines.append(f"  wht on {list(k.qubits)}: h on each (Pauli-layer basis change)")
                continue
            names = [r.op.name for r in (k.ops if k.kind != "diag" else [t.ref for t in k.terms])]
            kind = "pauli-layer diag" if k.kind == "diag" and k.layer else k.kind
            lines.append(f"  {kind} on {list(k.qubits)}: {' '.join(names)}")
        return "\n".join(lines)


def _diag_h_c(op: Operation) -> tuple[np.ndarray, np.ndarray]:
    g = GATES[op.name]
    if g.num_angles == 0:
        d0 = np.diag(g.matrix())
        return np.zeros(len(d0)), np.angle(d0)
    d0 = np.diag(g.matrix(0.0))
    d1 = np.diag(g.matrix(1.0))
    return np.angle(d1 / d0), np.angle(d0)


def choose_layout(rest: Sequence[Operation], n: int, m: int) -> list[int] | None:
    """Physical positions for logical qubits when the state is larger than a cache piece (2**m).

    The product-state preparation can build the state in any qubit order for free, so the m
    qubits used by most gates go to the local positions 0..m-1 (keeping their relative order)
    when that makes more gates cache-blockable; otherwise the identity layout is kept.
    """
    if n <= m:
        return None
    use = [0] * n
    for op in rest:
        for q in op.qubits:
            use[q] += 1
    hot = sorted(sorted(range(n), key=lambda q: -use[q])[:m])
    cold = [q for q in range(n) if q not in set(hot)]
    phys = [0] * n
    for pos, q in enumerate(hot + cold):
        phys[q] = pos

    def local_ops(layout: list[int]) -> int:
        return sum(1 for op in rest if max(layout[q] for q in op.qubits) < m)

    if phys == list(range(n)) or local_ops(phys) <= local_ops(list(range(n))):
        return None
    return phys


_CONJ_TABLE: dict[tuple[str, str], tuple[float, str]] = {}
on_change(_CONJ_TABLE.clear)


def _conjugate_pauli(gate: str, p: str) -> tuple[float, str]:
    """(sign, P') with G^dagger P G = sign P' for a one-qubit Clifford G."""
    key = (gate, p)
    if key not in _CONJ_TABLE:
        g = np.asarray(GATES[gate].matrix(), dtype=complex)
        m = g.conj().T @ PAULI_MATRICES[p] @ g
        for q, pm in PAULI_MATRICES.items():
            for sign in (1.0, -1.0):
                if np.allclose(m, sign * pm, atol=1e-12):
                    _CONJ_TABLE[key] = (sign, q)
        assert key in _CONJ_TABLE, f"{gate} is not a Clifford gate"
    return _CONJ_TABLE[key]


def conjugate_observable(obs, gates: Sequence[Operation]):
    """U^dagger O U for U = the one-qubit Clifford ``gates`` applied in order (a Pauli sum again)."""
    from ..ir.ops import Observable, PauliTerm

    terms = []
    for t in obs.terms:
        coeff = t.coeff
        word = dict(t.paulis)
        for g in reversed(gates):
            q = g.qubits[0]
            if q in word:
                sign, word[q] = _conjugate_pauli(g.name, word[q])
                coeff *= sign
        terms.append(PauliTerm(coeff, tuple(sorted(word.items()))))
    return Observable(tuple(terms), obs.span, obs.text)


def strip_trailing_cliffords(ops: Sequence[Operation]) -> tuple[list[Operation], list[Operation]]:
    """(ops without the trailing one-qubit Clifford gates, those gates in application order)."""
    later: set[int] = set()
    keep: list[Operation] = []
    stripped: list[Operation] = []
    for op in reversed(ops):
        if len(op.qubits) == 1 and op.name in CLIFFORD_1Q and op.qubits[0] not in later:
            stripped.append(op)
        else:
            later.update(op.qubits)
            keep.append(op)
    return keep[::-1], stripped[::-1]


def build_plan(ops: Sequence[Operation], n: int, num_params: int, num_inputs: int = 0, *, block_qubits: int = DEFAULT_BLOCK_QUBITS,
               fold_params: bool = True, with_gradient: bool = False, local_qubits: int | None = None,
               fold_observables: bool = False, pauli_layers: bool = True) -> Plan:
    """Lower an op list (topological order) to a kernel plan.

    Leading single-qubit gates on |0> fold into the product-state preparation (only gates
    without params when ``fold_params`` is false, which the adjoint plan needs); with
    ``fold_observables``, trailing one-qubit Clifford gates move into the observables (the plan
    then only serves expectation values); runs of commuting Pauli rotations become Pauli layers
    (``pauli_layers``); the rest is grouped into dense blocks of at most ``block_qubits`` qubits
    and diagonal blocks.
    """
    obs_gates: list[Operation] = []
    if fold_observables:
        ops, obs_gates = strip_trailing_cliffords(ops)
    exprs: list[Expr] = []
    slot_of: dict[Expr, int] = {}

    def ref(op: Operation) -> OpRef:
        return OpRef(op, intern_angles(op.angles, slot_of, exprs), any(a.depends_on("param") for a in op.angles),
                     any(a.depends_on("input") for a in op.angles))

    prep: dict[int, list[OpRef]] = {}
    blocked: set[int] = set()
    rest: list[Operation] = []
    for op in ops:
        if len(op.qubits) == 1 and op.qubits[0] not in blocked:
            if fold_params or not op.is_parametric or not any(a.depends_on("param") for a in op.angles):
                prep.setdefault(op.qubits[0], []).append(ref(op))
                continue
        blocked.update(op.qubits)
        rest.append(op)
    phys = choose_layout(rest, n, local_qubits) if local_qubits else None
    if phys is not None:
        prep = {phys[q]: refs for q, refs in prep.items()}
        rest = [op.with_qubits([phys[q] for q in op.qubits]) for op in rest]

    kernels: list = []
    rng = np.random.default_rng(12345)

    def emit_groups(seg: list[Operation]) -> None:
        groups = group_ops(seg, lambda op: True, block_qubits, max_diagonal_qubits=max(block_qubits, min(n, MAX_DIAGONAL_QUBITS)))
        for grp in groups:
            members = [ref(seg[j]) for j in grp.ops]
            qs = tuple(sorted(grp.qubits))
            up = any(r.uses_params for r in members)
            ui = any(r.uses_inputs for r in members)
            if grp.diagonal:
                terms = []
                for r in members:
                    h, c = _diag_h_c(r.op)
                    terms.append(DiagTerm(r, h, c))
                kernels.append(DiagKernel(qs, terms, up, ui))
            elif len(members) == 1 and members[0].op.name in PAULI_ROTATIONS:
                r = members[0]
                word = tuple(zip(r.op.qubits, PAULI_ROTATIONS[r.op.name]))
                kernels.append(PauliKernel(qs, r, word, up, ui))
            else:
                # structural sparsity from two random angle draws
                mask = np.zeros((2 ** len(qs),) * 2, dtype=bool)
                for _ in range(2):
                    vals = rng.uniform(-3, 3, size=len(exprs))[:, None]
                    mask |= np.abs(compose(members, qs, vals)[0]) > 1e-12
                kernels.append(DenseKernel(qs, members, K.BlockView(n, qs), mask, up, ui))

    def emit_layer(layer: list[Operation]) -> None:
        # exp(-i t P/2) = V^dagger exp(-i t Z_S/2) V with V = H on X qubits and H S^dagger on Y qubits
        letters = {q: p for op in layer for q, p in zip(op.qubits, PAULI_ROTATIONS[op.name])}
        xq = tuple(sorted(q for q, p in letters.items() if p in "XY"))
        yq = tuple(sorted(q for q, p in letters.items() if p == "Y"))

        def basis(name: str) -> DiagKernel:
            return DiagKernel(yq, [DiagTerm(ref(Operation(name, (q,))), *_diag_h_c(Operation(name, (q,)))) for q in yq],
                              False, False)

        if yq:
            kernels.append(basis("sdg"))
        if xq:
            kernels.append(WhtKernel(xq))
        terms = []
        for op in layer:
            r = ref(op)
            h, c = _diag_h_c(Operation("rz" if len(op.qubits) == 1 else "rzz", op.qubits, op.angles))
            terms.append(DiagTerm(r, h, c))
        kernels.append(DiagKernel(tuple(sorted(letters)), terms, any(t.ref.uses_params for t in terms),
                                  any(t.ref.uses_inputs for t in terms), layer=True))
        if xq:
            kernels.append(WhtKernel(xq))
        if yq:
            kernels.append(basis("s"))

    for kind, seg in (split_pauli_layers(rest, n) if pauli_layers else [("ops", list(rest))]):
        if kind == "layer":
            emit_layer(seg)
        else:
            emit_groups(seg)
    kernels = _simplify_basis_changes(kernels, prep, ref)
    plan = Plan(n, prep, kernels, exprs, CompiledExprs(exprs), phys=phys, obs_gates=obs_gates)
    if exprs:
        const_angles = plan.compiled(np.zeros(num_params), np.zeros(num_inputs))
        for kern in kernels:
            if kern.kind == "dense" and not kern.uses_params and not kern.uses_inputs:
                kern.perm = K.permutation_of(compose(kern.ops, kern.qubits, const_angles)[0])
    else:
        for kern in kernels:
            if kern.kind == "dense":
                kern.perm = K.permutation_of(compose(kern.ops, kern.qubits, np.zeros((0, 1)))[0])
    if with_gradient:
        plan.dslots, plan.dcompiled = param_derivatives(exprs)
    return plan


# Relative costs per row used to decide when a Pauli layer beats separate rotation kernels
# (measured on 17 qubits: a rotation is about two passes with a reversed view, 0.5 ms; a 4-qubit
# Hadamard chunk is one BLAS product, about 0.3 ms; a phase multiply about 0.18 ms).
ROTATION_COST = 1.0
WHT_CHUNK_COST = 0.6
PHASE_COST = 0.35


def _wht_chunks(qubits: Sequence[int]) -> int:
    qs = sorted(qubits)
    count = 0
    while qs:
        count += 1
        qs = [q for q in qs if q >= qs[0] + K.WHT_CHUNK_QUBITS]
    return count


def layer_worthwhile(layer: Sequence[Operation]) -> bool:
    """True when one basis change + phase + basis change is cheaper than the layer's rotations one by one."""
    letters = {q: p for op in layer for q, p in zip(op.qubits, PAULI_ROTATIONS[op.name])}
    xq = [q for q, p in letters.items() if p in "XY"]
    if not xq:
        # all Z: one phase table where diagonal grouping would need several
        return len(letters) > MAX_DIAGONAL_QUBITS
    rotations = sum(1 for op in layer if any(p in "XY" for p in PAULI_ROTATIONS[op.name]))
    cost = 2 * _wht_chunks(xq) * WHT_CHUNK_COST + PHASE_COST
    if any(p == "Y" for p in letters.values()):
        cost += 2 * PHASE_COST
    return cost < rotations * ROTATION_COST


def split_pauli_layers(ops: Sequence[Operation], n: int, worthwhile=None) -> list[tuple[str, list[Operation]]]:
    """Split an op list into ("ops", ...) runs and ("layer", ...) Pauli layers.

    A layer is a set of Pauli rotations (rx ... rzz) that use one Pauli letter per qubit, so they
    commute and one local basis change diagonalises them all. It grows from a two-qubit
    rotation: later rotations join when their letters agree and no op that stays behind touches
    their qubits (such ops commute with the layer's later members and are emitted after it).
    Layers that would not be cheaper than their rotations one by one are not formed
    (``worthwhile(layer) -> bool`` replaces that cost model).
    """
    out: list[tuple[str, list[Operation]]] = []
    plain: list[Operation] = []
    used = [False] * len(ops)
    for i, op in enumerate(ops):
        if used[i]:
            continue
        used[i] = True
        word = PAULI_ROTATIONS.get(op.name)
        if word is None or len(word) < 2:
            plain.append(op)
            continue
        letters = dict(zip(op.qubits, word))
        members = [i]
        blocked: set[int] = set()
        scanned = 0
        for j in range(i + 1, len(ops)):
            if used[j]:
                continue
            scanned += 1
            o = ops[j]
            w = PAULI_ROTATIONS.get(o.name)
            if (w is not None and not blocked.intersection(o.qubits)
                    and all(letters.get(q, p) == p for q, p in zip(o.qubits, w))
                    and len(letters.keys() | set(o.qubits)) <= LAYER_MAX_QUBITS):
                members.append(j)
                letters.update(zip(o.qubits, w))
            else:
                blocked.update(o.qubits)
            if len(blocked) >= n or scanned >= LAYER_SCAN_OPS:
                break
        layer = [ops[j] for j in members]
        if len(members) < 2 or not (worthwhile or layer_worthwhile)(layer):
            plain.append(op)
            continue
        for j in members:
            used[j] = True
        if plain:
            out.append(("ops", plain))
            plain = []
        out.append(("layer", layer))
    if plain:
        out.append(("ops", plain))
    return out


def _simplify_basis_changes(kernels: list, prep: dict[int, list[OpRef]], ref) -> list:
    """Cancel adjacent Hadamard kernels (H H = I) and fold Hadamards and the Y-basis phases that
    reach the start of the circuit into the product-state preparation."""
    out: list = []
    for kern in kernels:
        if kern.kind == "wht" and out and out[-1].kind == "wht":
            qs = set(out[-1].qubits) ^ set(kern.qubits)
            out.pop()
            if qs:
                out.append(WhtKernel(tuple(sorted(qs))))
            continue
        out.append(kern)
    touched: set[int] = set()
    final: list = []
    for kern in out:
        if kern.kind == "wht" or (kern.kind == "diag" and not kern.layer and not kern.uses_params
                                  and not kern.uses_inputs and all(len(t.ref.op.qubits) == 1 for t in kern.terms)):
            free = [q for q in kern.qubits if q not in touched]
            for q in free:
                if kern.kind == "wht":
                    prep.setdefault(q, []).append(ref(Operation("h", (q,))))
                else:
                    prep.setdefault(q, []).extend(t.ref for t in kern.terms if t.ref.op.qubits == (q,))
            rest = tuple(q for q in kern.qubits if q not in free)
            if not rest:
                continue
            if kern.kind == "wht":
                kern = WhtKernel(rest)
            else:
                kern = DiagKernel(rest, [t for t in kern.terms if t.ref.op.qubits[0] in rest], False, False)
        touched.update(kern.qubits)
        final.append(kern)
    return final


def op_matrix(r: OpRef, angles: np.ndarray, shift: tuple[int, float] | None = None) -> np.ndarray:
    """(Bm, d, d) matrix of one op with angle values from ``angles`` (E, Bm)."""
    op = r.op
    if op.name == "unitary":
        return np.array(op.matrix, dtype=complex)[None]
    g = GATES[op.name]
    if g.num_angles == 0:
        return np.asarray(g.matrix())[None]
    vals = [angles[s] for s in r.slots]
    if shift is not None:
        vals[shift[0]] = vals[shift[0]] + shift[1]
    m = g.matrix(*vals)
    return m if m.ndim == 3 else m[None]


def op_dmatrix(r: OpRef, angles: np.ndarray, k: int) -> np.ndarray:
    """d op_matrix / d (angle k), exact through the matrix frequency rule."""
    f = MATRIX_FREQ[r.op.name][k]
    s = math.pi / (2 * f)
    return (f / 2) * (op_matrix(r, angles, (k, s)) - op_matrix(r, angles, (k, -s)))


def apply_small(m: np.ndarray, g: np.ndarray, qubits: Sequence[int], op_qubits: Sequence[int]) -> np.ndarray:
    """Left-multiply block matrices m (Bm, d, d) (local bit i = qubits[i]) by gate g on op_qubits."""
    k = len(qubits)
    kg = len(op_qubits)
    Bm = max(m.shape[0], g.shape[0])
    d = 2**k
    pos = {q: i for i, q in enumerate(qubits)}
    axes = [1 + (k - 1 - pos[q]) for q in op_qubits]  # tensor axis of each op qubit (batch axis 0)
    mt = np.broadcast_to(m, (Bm, d, d)).reshape((Bm,) + (2,) * k + (d,))
    gt = np.broadcast_to(g, (Bm,) + g.shape[1:]).reshape((Bm,) + (2,) * (2 * kg))
    letters = "abcdefghijklmnopqrstuvwx"
    st = list(letters[:k])
    outs = "ABCDEFGHIJKL"[:kg]
    ins = "".join(st[a - 1] for a in axes)
    res = list(st)
    for o, a in zip(outs, axes):
        res[a - 1] = o
    out = np.einsum(f"z{outs}{ins},z{''.join(st)}y->z{''.join(res)}y", gt, mt)
    return out.reshape(Bm, d, d)


def compose(members: Sequence[OpRef], qubits: Sequence[int], angles: np.ndarray) -> np.ndarray:
    """The block matrix (Bm, d, d) of ops applied in order."""
    d = 2 ** len(qubits)
    m = np.eye(d, dtype=complex)[None]
    for r in members:
        m = apply_small(m, op_matrix(r, angles), qubits, r.op.qubits)
    return m


def block_derivatives(kern: DenseKernel, angles: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """[(slot, dU_block/d angle)] for every param-dependent angle in a dense block."""
    qs = kern.qubits
    d = 2 ** len(qs)
    eye = np.eye(d, dtype=complex)[None]
    emb = [apply_small(eye, op_matrix(r, angles), qs, r.op.qubits) for r in kern.ops]
    L = len(emb)
    prefix = [eye]
    for e in emb:
        prefix.append(np.matmul(e, prefix[-1]))
    suffix = [eye] * (L + 1)
    for j in range(L - 1, -1, -1):
        suffix[j] = np.matmul(suffix[j + 1], emb[j])
    out = []
    for j, r in enumerate(kern.ops):
        for k, (a, s) in enumerate(zip(r.op.angles, r.slots)):
            if not a.depends_on("param"):
                continue
            dg = apply_small(eye, op_dmatrix(r, angles, k), qs, r.op.qubits)
            out.append((s, np.matmul(suffix[j + 1], np.matmul(dg, prefix[j]))))
    return out


def diag_phase(kern: DiagKernel, angles: np.ndarray, n: int, dtype, conj: bool = False) -> np.ndarray:
    """exp(i Phi) broadcastable against the (B, 2, ..., 2) state tensor."""
    Bm = angles.shape[1] if kern.uses_params or kern.uses_inputs else 1
    phi = None
    for t in kern.terms:
        if t.ref.slots:
            a = angles[t.ref.slots[0]][:Bm, None]
            v = a * t.h[None] + t.c[None]
        else:
            v = t.c[None]
        e = K.embed(v, t.ref.op.qubits, n)
        phi = e if phi is None else phi + e
    if conj:
        phi = -phi
    # widen the table over the lowest qubits (up to PHASE_TABLE_ELEMENTS) so the broadcast
    # multiply runs long contiguous inner loops instead of 1- or 2-element ones
    shape = list(phi.shape)
    size = int(np.prod(shape[1:]))
    for q in range(n):
        ax = 1 + (n - 1 - q)
        if shape[ax] == 2:
            continue
        if size * 2 > PHASE_TABLE_ELEMENTS:
            break
        shape[ax] = 2
        size *= 2
    phi = np.broadcast_to(phi, shape)
    # cos and sin into the two halves of the result: about 3x faster than np.exp(1j * phi)
    ph = np.empty(phi.shape, dtype=dtype)
    np.cos(phi, out=ph.real, casting="unsafe")
    np.sin(phi, out=ph.imag, casting="unsafe")
    return ph


def prep_vectors(plan: Plan, angles_for, dtype) -> list[np.ndarray | None]:
    """Per qubit, the (1|B, 2) single-qubit state made by the folded gates (None: |0>)."""
    vecs: list[np.ndarray | None] = []
    for q in range(plan.n):
        refs = plan.prep.get(q)
        if not refs:
            vecs.append(None)
            continue
        v = np.array([[1.0 + 0j, 0.0]])
        for r in refs:
            a = angles_for(r.uses_params or r.uses_inputs)
            g = op_matrix(r, a)
            v = np.einsum("bij,bj->bi", np.broadcast_to(g, (max(g.shape[0], v.shape[0]),) + g.shape[1:]),
                          np.broadcast_to(v, (max(g.shape[0], v.shape[0]), 2)))
        vecs.append(v.astype(dtype))
    return vecs


def prep_state(plan: Plan, vecs: list[np.ndarray | None], Bc: int, dtype, out: np.ndarray) -> None:
    """Write the folded product state into ``out`` (Bc, 2**n) from per-qubit vectors of these rows."""
    n = plan.n
    # small tables for the low and the high half of the qubits, then one outer product written
    # straight into ``out`` (one pass over the state instead of one per qubit)
    zero = np.array([[1.0, 0.0]], dtype=dtype)

    def table(qs: range) -> np.ndarray:
        st = np.ones((1, 1), dtype=dtype)
        for q in qs:
            v = zero if vecs[q] is None else vecs[q]
            st = (v[:, :, None] * st[:, None, :]).reshape(max(v.shape[0], st.shape[0]), -1)
        return st

    low = n // 2
    lo, hi = table(range(low)), table(range(low, n))
    np.multiply(hi[:, :, None], lo[:, None, :], out=out.reshape(Bc, hi.shape[1], lo.shape[1]))


@dataclass
class CallContext:
    """Angle values for one call and matrices of row-shared kernels (computed once per call)."""

    plan: Plan
    angles: np.ndarray  # (E, B)
    row_varying_params: bool
    row_varying_inputs: bool
    dtype: np.dtype
    cache: dict = field(default_factory=dict)

    def varies(self, uses_params: bool, uses_inputs: bool) -> bool:
        return (uses_params and self.row_varying_params) or (uses_inputs and self.row_varying_inputs)

    def rows_angles(self, varies: bool, rows: slice) -> np.ndarray:
        return self.angles[:, rows] if varies else self.angles[:, :1]

    def dense_matrix(self, kern: DenseKernel, rows: slice, adjoint: bool = False) -> np.ndarray:
        v = self.varies(kern.uses_params, kern.uses_inputs)
        key = (id(kern), adjoint)
        if not v and key in self.cache:
            return self.cache[key]
        m = compose(kern.ops, kern.qubits, self.rows_angles(v, rows))
        if adjoint:
            m = np.conj(np.swapaxes(m, 1, 2))
        m = np.ascontiguousarray(m)
        if not v:
            self.cache[key] = m
        return m

    def phase(self, kern: DiagKernel, rows: slice, conj: bool = False, n: int | None = None) -> np.ndarray:
        v = self.varies(kern.uses_params, kern.uses_inputs)
        n = self.plan.n if n is None else n
        key = (id(kern), conj, n)
        if not v and key in self.cache:
            return self.cache[key]
        other = (id(kern), not conj, n)
        if not v and other in self.cache:
            ph = np.conj(self.cache[other])  # the adjoint's conjugate table from the forward one
        else:
            ph = diag_phase(kern, self.rows_angles(v, rows), n, self.dtype, conj)
        if not v:
            self.cache[key] = ph
        return ph


def warm(ctx: CallContext, adjoint: bool, threads: int = 1) -> None:
    """Compute the row-shared tables of a call (phases, block matrices) once, before chunks run
    in parallel threads that would otherwise each build them."""
    one = slice(0, 1)
    tables = []
    for kern in ctx.plan.kernels:
        if ctx.varies(kern.uses_params, kern.uses_inputs):
            continue
        if kern.kind == "diag":
            tables.append(kern)
        elif kern.kind == "dense" and kern.perm is None:
            ctx.dense_matrix(kern, one)
            if adjoint:
                ctx.dense_matrix(kern, one, adjoint=True)
    big = [k for k in tables if len(k.qubits) >= 12]
    if threads > 1 and len(big) > 1:
        # large phase tables (Pauli layers) are state-sized; numpy releases the GIL while building them
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(lambda k: ctx.phase(k, one), big))
    for kern in tables:
        ctx.phase(kern, one)
        if adjoint:
            ctx.phase(kern, one, conj=True)


def local_qubits(dtype) -> int:
    """Qubits in one cache-blocking piece of LOCAL_BYTES."""
    return max(1, (LOCAL_BYTES // np.dtype(dtype).itemsize).bit_length() - 1)


def _segments(ctx: CallContext, m: int) -> list[tuple[bool, list]]:
    """Split the kernels into runs: (True, run) for runs on qubits < m that can be cache-blocked."""
    key = ("segments", m)
    if key in ctx.cache:
        return ctx.cache[key]
    out: list[tuple[bool, list]] = []
    for kern in ctx.plan.kernels:
        local = ctx.plan.n > m and max(kern.qubits) < m and not ctx.varies(kern.uses_params, kern.uses_inputs)
        if out and out[-1][0] == local:
            out[-1][1].append(kern)
        else:
            out.append((local, [kern]))
    ctx.cache[key] = out
    return out


def _apply(ctx: CallContext, kern, X: np.ndarray, Y: np.ndarray, rows: slice, n: int) -> bool:
    """Apply one kernel; True when the result is in Y (the caller swaps)."""
    if kern.kind == "pauli":
        a = ctx.rows_angles(ctx.varies(kern.uses_params, kern.uses_inputs), rows)[kern.ref.slots[0]]
        K.apply_pauli_rotation(X, Y, kern.view(n), a)
        return True
    if kern.kind == "wht":
        return kern.view(n).apply(X, Y)
    if kern.kind == "dense":
        if kern.perm is not None:
            K.apply_permutation(X, _bv(kern, n), kern.perm)
            return False
        dense_apply(ctx, kern, X, Y, rows, n)
        return True
    K.apply_phase(X, n, ctx.phase(kern, rows, n=n))
    return False


def dense_apply(ctx: CallContext, kern: DenseKernel, X: np.ndarray, Y: np.ndarray, rows: slice, n: int,
                adjoint: bool = False) -> None:
    """Y = block X (or block^dagger X), by BLAS products where the qubits allow (see K.dense_mode)."""
    mode = K.dense_mode(kern.qubits)
    m = ctx.dense_matrix(kern, rows, adjoint)
    if mode == "slices":
        K.apply_dense(X, Y, _bv(kern, n), m, kern.mask.T if adjoint else kern.mask)
        return
    if mode == "matmul":
        K.apply_dense_matmul(X, Y, kern.qubits, m)
        return
    low = tuple(range(kern.qubits[-1] + 1))
    key = (id(kern), adjoint, "wide")
    mw = ctx.cache.get(key) if not ctx.varies(kern.uses_params, kern.uses_inputs) else None
    if mw is None:
        # identity on the other low qubits; block matrices index their qubits lsb-first
        mw = apply_small(np.eye(2 ** len(low), dtype=complex)[None], m, low, tuple(reversed(kern.qubits)))
        if not ctx.varies(kern.uses_params, kern.uses_inputs):
            ctx.cache[key] = mw
    K.apply_dense_matmul(X, Y, low, mw)


def _bv(kern: DenseKernel, n: int) -> K.BlockView:
    if kern.bv.n == n:
        return kern.bv
    views = kern.__dict__.setdefault("_views", {})
    if n not in views:
        views[n] = K.BlockView(n, kern.qubits)
    return views[n]


def forward(ctx: CallContext, rows: slice, Bc: int, bufs: list[np.ndarray],
            saves: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """Run the plan on rows ``rows`` of the batch; returns the final state (one of ``bufs``).

    Runs of kernels on low qubits are cache-blocked: each LOCAL_BYTES piece of the state goes
    through the whole run before the next piece is touched. Pauli rotations run in their
    two-pass deferred form; the cos(t/2) factors are collected per row and applied once at the
    end of a run (or when they get small, to stay far from underflow). ``saves`` maps a kernel
    index to a buffer that receives the state just before that kernel; kernels inside cache-blocked
    runs are not saved and their entries are removed, so ``saves`` ends holding the saved states.
    """
    plan = ctx.plan
    X, Y = bufs[0][:Bc], bufs[1][:Bc]
    if "prep" not in ctx.cache:
        # the product-state vectors of the whole batch, once per call
        ctx.cache["prep"] = prep_vectors(
            plan, lambda var: ctx.angles if var and (ctx.row_varying_params or ctx.row_varying_inputs) else ctx.angles[:, :1],
            ctx.dtype)
    vecs = [v if v is None or v.shape[0] == 1 else v[rows] for v in ctx.cache["prep"]]
    prep_state(plan, vecs, Bc, ctx.dtype, X)
    m = local_qubits(ctx.dtype)
    scale = np.ones(1)
    index = {id(k): i for i, k in enumerate(plan.kernels)} if saves else {}
    done: set[int] = set()
    for local, run in _segments(ctx, m):
        if not local:
            for kern in run:
                i = index.get(id(kern))
                if i is not None and i in saves:
                    np.copyto(saves[i][:Bc], X)
                    if not np.all(scale == 1.0):
                        K.scale_rows(saves[i][:Bc], scale)
                    done.add(i)
                if kern.kind == "pauli":
                    a = ctx.rows_angles(ctx.varies(kern.uses_params, kern.uses_inputs), rows)[kern.ref.slots[0]]
                    c = K.apply_pauli_rotation(X, Y, kern.view(plan.n), a, deferred=True)
                    X, Y = Y, X
                    if c is not None:
                        scale = scale * c
                        if np.min(np.abs(scale)) < 1e-30:
                            K.scale_rows(X, scale)
                            scale = np.ones(1)
                elif _apply(ctx, kern, X, Y, rows, plan.n):
                    X, Y = Y, X
            continue
        Xp = X.reshape(-1, 2**m)
        Yp = Y.reshape(-1, 2**m)
        for p in range(Xp.shape[0]):
            xs, ys = Xp[p:p + 1], Yp[p:p + 1]
            a, b = xs, ys
            pscale = 1.0  # local runs use row-shared angles only, so one factor for every piece
            for kern in run:
                if kern.kind == "pauli":
                    t = ctx.angles[kern.ref.slots[0], :1]
                    c = K.apply_pauli_rotation(a, b, kern.view(m), t, deferred=True)
                    a, b = b, a
                    if c is not None:
                        pscale *= float(c[0])
                        if abs(pscale) < 1e-30:
                            K.scale_rows(a, np.array([pscale]))
                            pscale = 1.0
                elif _apply(ctx, kern, a, b, rows, m):
                    a, b = b, a
            if pscale != 1.0:
                K.scale_rows(a, np.array([pscale]))
            if a is not xs:
                np.copyto(xs, a)
    if not np.all(scale == 1.0):
        K.scale_rows(X, scale)
    if saves is not None:
        for i in set(saves) - done:
            del saves[i]
    return X


# the adjoint keeps copies of the forward state before at most this many Hadamard kernels, so
# the backward sweep restores psi there instead of transforming it back
MAX_SAVED_STATES = 2


def save_points(plan: Plan) -> list[int]:
    """Kernel indices whose input state the adjoint forward sweep keeps (Hadamard kernels the
    backward sweep reaches)."""
    first = next((i for i, k in enumerate(plan.kernels) if k.uses_params), len(plan.kernels))
    pts = [i for i, k in enumerate(plan.kernels) if k.kind == "wht" and i > first]
    return pts[-MAX_SAVED_STATES:]


def backward(ctx: CallContext, rows: slice, psi: np.ndarray, lam: np.ndarray, dvals: np.ndarray,
             num_params: int, bufs: list[np.ndarray], saves: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """Adjoint sweep: returns d<lam0|psi>-style gradients (Bc, P) = 2 Re <lam|dU|psi> summed over blocks.

    ``psi`` is the final state and ``lam`` the cotangent-weighted observable applied to it;
    both are overwritten. ``dvals`` are derivative values (ND, B) of angle expressions.
    ``saves`` are the forward states kept by :func:`forward`: at those kernels psi is restored
    instead of transformed back, and psi is not updated on the way to a restore point.
    """
    plan = ctx.plan
    n = plan.n
    Bc = psi.shape[0]
    grad = np.zeros((Bc, num_params))
    Y1, Y2 = bufs[0][:Bc], bufs[1][:Bc]

    def add(slot: int, g: np.ndarray) -> None:
        for p, ds in plan.dslots.get(slot, ()):
            dv = dvals[ds, rows] if dvals.shape[1] > 1 else dvals[ds, :1]
            grad[:, p] += g * dv

    # psi and lam are stored divided by ``scale`` (deferred cos factors of Pauli rotations), so
    # gradients computed from them are multiplied by scale**2; other kernels see true values
    scale = np.ones(1)

    def flush() -> None:
        nonlocal scale
        if not np.all(scale == 1.0):
            K.scale_rows(psi, scale)
            K.scale_rows(lam, scale)
            scale = np.ones(1)

    # kernels before the first param-dependent one need not be undone
    first = next((i for i, k in enumerate(plan.kernels) if k.uses_params), len(plan.kernels))
    restored = set(saves or ())
    # psi_needed[i]: psi must be transformed back through kernel i (a param kernel comes before
    # the next restore point on the way down)
    psi_needed = [True] * len(plan.kernels)
    need = False
    for i in range(len(plan.kernels)):
        psi_needed[i] = need
        if i in restored:
            need = False
        if plan.kernels[i].uses_params:
            need = True
    for idx in range(len(plan.kernels) - 1, first - 1, -1):
        kern = plan.kernels[idx]
        if kern.kind == "pauli":
            a = ctx.rows_angles(ctx.varies(kern.uses_params, kern.uses_inputs), rows)[kern.ref.slots[0]]
            g, c = K.pauli_rotation_adjoint_step(psi, lam, Y1, kern.view(n), a, deferred=True)
            if kern.uses_params:
                add(kern.ref.slots[0], g * scale**2)
            if c is not None:
                scale = scale * c
                if np.min(np.abs(scale)) < 1e-6:
                    flush()
            continue
        flush()
        if kern.kind == "wht":
            v = kern.view(n)
            if idx in restored:
                psi = saves[idx][:Bc]
            elif psi_needed[idx] and v.apply(psi, Y1):
                psi, Y1 = Y1, psi
            if v.apply(lam, Y2):
                lam, Y2 = Y2, lam
        elif kern.kind == "dense" and kern.perm is not None:
            inv = [0] * len(kern.perm)
            for i, j in enumerate(kern.perm):
                inv[j] = i
            K.apply_permutation(psi, kern.bv, inv)
            K.apply_permutation(lam, kern.bv, inv)
        elif kern.kind == "dense":
            dense_apply(ctx, kern, psi, Y1, rows, n, adjoint=True)
            if kern.uses_params:
                pr = kern.bv.gather(Y1)
                lr = kern.bv.gather(lam)
                M = np.matmul(pr.transpose(0, 2, 1), lr.conj())  # M[l, i] = sum psi_in[l] conj(lam[i])
                v = ctx.varies(kern.uses_params, kern.uses_inputs)
                for slot, D in block_derivatives(kern, ctx.rows_angles(v, rows)):
                    g = 2.0 * np.einsum("bil,bli->b", np.broadcast_to(D, (Bc,) + D.shape[1:]), M).real
                    add(slot, g)
            dense_apply(ctx, kern, lam, Y2, rows, n, adjoint=True)
            psi, Y1 = Y1, psi
            lam, Y2 = Y2, lam
        else:
            if kern.uses_params:
                # Im(conj(lam) psi) marginalised once onto the kernel's qubits (one pass), then per term
                np.multiply(np.conj(lam, out=Y1), psi, out=Y1)
                kq = kern.qubits
                if kern.layer and len(kern.terms) > 2:
                    # a layer's terms are Z-strings on one or two qubits: their weighted sums of
                    # Im(conj(lam) psi) are Walsh coefficients, all found in a few passes
                    wt = kern.walsh_terms()
                    need = {m for parts, t in wt for m, _ in parts if t.ref.slots}
                    W = K.walsh_coefficients(Y1.imag, n, sorted(need))
                    for parts, t in wt:
                        if t.ref.slots and t.ref.op.angles[0].depends_on("param"):
                            add(t.ref.slots[0], -2.0 * sum(c * W[m] for m, c in parts))
                else:
                    wk = K.marginal(Y1.imag, kq, n)  # bit j = kq[j]
                    pos = {q: j for j, q in enumerate(kq)}
                    for t in kern.terms:
                        if not t.ref.slots or not t.ref.op.angles[0].depends_on("param"):
                            continue
                        z = K.marginal(wk, [pos[q] for q in t.ref.op.qubits[::-1]], len(kq)) @ t.h
                        add(t.ref.slots[0], -2.0 * z)
            if idx == first:
                break  # nothing before this kernel has params: no need to undo it
            ph = ctx.phase(kern, rows, conj=True)
            if psi_needed[idx]:
                K.apply_phase(psi, n, ph)
            K.apply_phase(lam, n, ph)
    return grad


def map_observables(observables, phys: list[int] | None):
    """Observables with qubits moved to their physical positions."""
    if phys is None:
        return list(observables)
    from ..ir.ops import Observable, PauliTerm

    return [Observable(tuple(PauliTerm(t.coeff, tuple(sorted((phys[q], p) for q, p in t.paulis))) for t in o.terms))
            for o in observables]


def to_logical(state: np.ndarray, phys: list[int] | None) -> np.ndarray:
    """Reorder a (B, 2**n) state from physical to logical qubit order."""
    if phys is None:
        return state
    B, dim = state.shape
    n = dim.bit_length() - 1
    t = state.reshape((B,) + (2,) * n)
    order = [0] + [n - phys[n - a] for a in range(1, n + 1)]
    return t.transpose(order).reshape(B, dim)
