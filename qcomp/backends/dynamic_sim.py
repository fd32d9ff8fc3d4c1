"""Exact simulation of dynamic circuits by classical branches: one density matrix per bit record, no ancillas.

The state of a dynamic program is classical-quantum: a map from the record (the values of the bits
that a later condition or conditioned measurement reads) to the unnormalised density matrix of the
n qubits in that branch, whose trace is the branch's probability. A mid-circuit measurement of
qubit q into bit k splits every branch into P0 rho P0 (bit k = 0) and P1 rho P1 (bit k = 1); a
measurement whose bit nothing reads before it is written again is the dephasing P0 rho P0 + P1
rho P1 on one branch; a reset is the channel rho -> |0><0| Tr_q rho (no record); a conditioned
gate or block acts on the branches whose record satisfies its condition. When a bit is read for
the last time, branches that differ only in it are added together, so the number of branches is
at most 2**(bits that may differ and are read later), known before the run (``record_bits``).
Branches of probability below ``DROP_WEIGHT`` are dropped when a measurement splits them (their
contribution to any output is below that weight times the output's norm).

Every branch evolves through the density-matrix simulator's steps and kernels
(``qcomp.backends.density``): fused one-qubit superoperators, multi-qubit unitaries as two passes,
channels as superoperators, so noise models apply here too. The outputs (``expval``, ``probs``,
``sample``, ``density_matrix``, shot estimates) read the sum of the branches, the mixture the
program prepares. Gradients are parameter shift on the exact mixture: the final state is linear in
each gate's superoperator in every branch, so each gate angle's shift rule holds branch by branch,
and every shifted circuit is one more row of one batched run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import InputError, ResourceLimitError, Span, UnsupportedError
from ..ir.dynamic import count_ancillas, is_dynamic
from ..ir.expr import CompiledExprs
from ..ir.gates import DYNAMIC_OPS
from ..ir.ops import Condition, Operation
from ..ir.program import Program
from . import engine as E
from .density import DensityMatrixSimulator, _apply, _fmt, _kron_conj, density_bytes, to_local

__all__ = ["BRANCH_MAX_QUBITS", "BranchSimulator", "DEFER_MAX_QUBITS", "DROP_WEIGHT", "branch_plan", "prefers_branches"]

ArrayLike = Any

# A branch whose probability (trace) is below this after a measurement split is dropped: its
# contribution to an expectation value is below DROP_WEIGHT * ||O||, far under the 1e-10 the
# simulators agree to, and it keeps outcomes of (numerically) zero probability from doubling
# the branch count.
DROP_WEIGHT = 1e-15
# Deferral up to this many qubits in all (qubits + ancillas) is always kept (``prefers_branches``).
DEFER_MAX_QUBITS = 12
# Above that, the branches run programs of at most this many qubits (a density matrix is 16 MiB).
BRANCH_MAX_QUBITS = 10


def _mask(bits: Sequence[int]) -> int:
    m = 0
    for b in bits:
        m |= 1 << b
    return m


def _reads(op: Operation) -> int:
    """The bits ``op``'s condition reads (a conditioned measurement also keeps its bit's old value
    where the condition fails, so the old value stays live through it: see ``_liveness``)."""
    return _mask([b for bits, _, _ in op.cond or () for b in bits])


def _liveness(ops: Sequence[Operation]) -> list[int]:
    """Per op, the mask of bits read after it before an unconditioned measurement overwrites them."""
    out = [0] * len(ops)
    live = 0
    for i in range(len(ops) - 1, -1, -1):
        out[i] = live
        op = ops[i]
        if op.name == "measure" and not op.cond:
            live &= ~(1 << op.bit)  # type: ignore[operator]
        live |= _reads(op)
    return out


@dataclass(frozen=True)
class BranchPlan:
    """The record bound of a dynamic program: at most ``2**bits`` branches at once (after the op
    at ``span``), and at most ``peak`` density matrices alive per row during the run."""

    bits: int
    peak: int
    span: Span | None


def branch_plan(ops: Sequence[Operation]) -> BranchPlan:
    """The most record bits that may differ between branches at once (written by some measurement
    before and read after), where that is reached, and the density matrices a row needs: the
    branches before and after one op (a split creates the new ones while the old are consumed)
    plus the sum of the final branches."""
    live = _liveness(ops)
    written = 0
    best, span = 0, None
    prev = 0
    peak = 1
    for op, keep in zip(ops, live):
        if op.name == "measure":
            written |= 1 << op.bit  # type: ignore[operator]
        k = bin(written & keep).count("1")
        if k > best:
            best, span = k, op.span
        peak = max(peak, 2**prev + 2**k)
        prev = k
    return BranchPlan(best, peak + 1, span)


def prefers_branches(program: Program, max_qubits: int) -> bool:
    """Whether the branch simulator runs ``program`` when the user does not choose: it is dynamic,
    and deferral would exceed ``max_qubits``, or give more than ``DEFER_MAX_QUBITS`` qubits in all
    while one density matrix of the n qubits is small (n <= ``BRANCH_MAX_QUBITS``: 16 MiB) or no
    larger than deferral's state vector (4**n <= 2**(n + m): m >= n ancillas).

    Small deferrals are kept: the statevector engine gives adjoint gradients (one sweep instead of
    two circuits per gate angle) and fuses gates across measurements. Larger ones pay for every
    condition on k bits with a k-controlled gate on n + m qubits (an 8-qubit ``random_circuit`` with
    8 measurements read by 8-bit register conditions: 16 qubits and 8-controlled gates, about 10 s
    per compile and run, against under a second by branches, whose records merge again when the
    next measurement layer overwrites the bits)."""
    ops = program.circuit.ops()
    if not is_dynamic(ops):
        return False
    n, m = program.num_qubits, count_ancillas(ops)
    if n + m > max_qubits:
        return True
    if n + m <= DEFER_MAX_QUBITS:
        return False
    return n <= BRANCH_MAX_QUBITS or m >= n


def _holds(cond: Condition, record: int) -> bool:
    for bits, value, equal in cond:
        v = 0
        for k, b in enumerate(bits):
            v |= ((record >> b) & 1) << k
        if (v == value) != equal:
            return False
    return True


@dataclass(frozen=True)
class _Item:
    """One stage of the branch run: "steps" (density steps ``steps``, on the branches where
    ``cond`` holds), "measure" (``qubit`` into ``bit``; ``record`` false: the bit is never read,
    a dephasing) or "reset"; afterwards only the record bits in ``keep`` are told apart."""

    kind: str
    keep: int
    cond: Condition | None = None
    steps: tuple[int, ...] = ()
    qubit: int = -1
    bit: int = -1
    record: bool = True


class BranchSimulator(DensityMatrixSimulator):
    """Exact simulation of a dynamic (and possibly noisy) Program by classical branches (module docstring).

    The verbs and shapes of ``DensityMatrixSimulator`` (``expval``, ``probs``, ``sample``,
    ``outputs``, ``density_matrix``, ``gradient``, ``vjp``, shots); gradients are parameter shift
    (``method`` None or "parameter-shift"). ``batch_size`` caps the rows run at once.
    """

    method = "branches"

    def __init__(self, program: Program, *, threads: int | None = None, max_memory_bytes: int | None = None,
                 shots: int | Sequence[int] | None = None, seed: int | None = None,
                 batch_size: int | None = None) -> None:
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
        self._setup(program, threads, max_memory_bytes, shots, seed, defer=False)
        self._batch_size = batch_size
        self._branches = branch_plan(self._ops)
        self._steps = []
        self._items = self._plan_items()
        self._obs_cache: dict[Any, Any] = {}
        self._options = {"threads": threads, "max_memory_bytes": max_memory_bytes, "shots": shots, "seed": seed,
                         "batch_size": batch_size}
        # the reset channel |0><0| Tr_q on (row bit q, column bit q), per qubit on first use
        self._reset_mats: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.memory_plan(1)  # refuse before any work when one row does not fit

    def with_observables(self, observables: tuple[Any, ...]) -> "BranchSimulator":
        """This simulator's program measuring ``observables`` instead (a plain BranchSimulator, also
        for subclasses that wrap a model)."""
        cache = self.__dict__.setdefault("_observable_sims", {})
        other = cache.get(observables)
        if other is None:
            program = self.program.with_circuit(self.program.circuit, observables=observables)
            other = cache[observables] = BranchSimulator(program, **self._options)
        return other

    # -- plan -------------------------------------------------------------------------------------
    def _plan_items(self) -> list[_Item]:
        ops = self._ops
        live = _liveness(ops)
        items: list[_Item] = []
        i = 0
        while i < len(ops):
            op = ops[i]
            if op.name in DYNAMIC_OPS:
                bit = -1 if op.bit is None else op.bit
                items.append(_Item(op.name, live[i], op.cond, qubit=op.qubits[0], bit=bit,
                                   record=op.name == "measure" and bool((live[i] >> bit) & 1)))
                i += 1
                continue
            # a run of gates (and channels) under one condition: planned (fused) together
            j = i
            while j < len(ops) and ops[j].name not in DYNAMIC_OPS and ops[j].cond == op.cond:
                j += 1
            first = len(self._steps)
            self._steps.extend(self._plan(range(i, j)))
            items.append(_Item("steps", live[j - 1], op.cond, steps=tuple(range(first, len(self._steps)))))
            i = j
        return items

    def describe(self) -> str:
        b = self._branches
        lines = [f"branches of a {self.n}-qubit density matrix ({_fmt(density_bytes(self.n))} each): at most "
                 f"2**{b.bits} branches, {b.peak} density matrices per row"]
        for it in self._items:
            cond = " if " + repr(it.cond) if it.cond else ""
            if it.kind == "steps":
                for s in it.steps:
                    st = self._steps[s]
                    names = " ".join(self._ops[k].name for k in st.ops)
                    lines.append(f"  {st.kind:8s} q{list(st.qubits)}: {names}{cond}")
            elif it.kind == "measure":
                what = f"-> b{it.bit}" if it.record else "(dephase: bit not read)"
                lines.append(f"  measure  q[{it.qubit}] {what}{cond}")
            else:
                lines.append(f"  reset    q[{it.qubit}]{cond}")
        return "\n".join(lines)

    def memory_plan(self, batch: int, gradient: bool = False) -> dict[str, int]:
        """Rows run at once and bytes per row: ``branch_plan``'s peak of density matrices per row
        (gradients are more rows, not more memory per row). A row that does not fit is refused
        before any work, at the operation where the branches are most numerous."""
        per = density_bytes(self.n)
        b = self._branches
        row = per * b.peak
        budget = self._budget()
        if row > budget:
            raise ResourceLimitError(
                f"simulating this dynamic circuit by branches keeps up to 2**{b.bits} branches (one per value of "
                f"the {b.bits} measured bits read later), {b.peak} density matrices of {self.n} qubits "
                f"({_fmt(per)} each): {_fmt(row)} per row, over the {_fmt(budget)} available; raise "
                "max_memory_bytes, or read fewer measured bits in conditions at once", b.span)
        rows = max(1, min(batch, budget // row))
        if self._batch_size is not None:
            rows = min(rows, int(self._batch_size))
        return {"rows_per_chunk": int(rows), "bytes_per_row": int(row), "density_matrices_per_row": int(b.peak),
                "record_bits": int(b.bits)}

    # -- one row ------------------------------------------------------------------------------------
    def _view(self, a: np.ndarray, q: int) -> np.ndarray:
        """A row as (row bits above q, row bit q, row bits below q and column bits above q, column
        bit q, column bits below q): index (r << n) | c."""
        n = self.n
        return a.reshape(1 << (n - 1 - q), 2, 1 << (n - 1), 2, 1 << q)

    def _split(self, re: np.ndarray, im: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
        """P1 rho P1 as new arrays; ``re``, ``im`` become P0 rho P0 in place."""
        one = []
        for a in (re, im):
            t = self._view(a, q)
            b = np.zeros_like(a)
            self._view(b, q)[:, 1, :, 1, :] = t[:, 1, :, 1, :]
            t[:, 1] = 0.0
            t[:, :, :, 1] = 0.0
            one.append(b)
        return one[0], one[1]

    def _dephase(self, re: np.ndarray, im: np.ndarray, q: int) -> None:
        for a in (re, im):
            t = self._view(a, q)
            t[:, 0, :, 1] = 0.0
            t[:, 1, :, 0] = 0.0

    def _reset(self, re: np.ndarray, im: np.ndarray, q: int) -> None:
        if q not in self._reset_mats:
            k0 = np.array([[1, 0], [0, 0]], dtype=complex)
            k1 = np.array([[0, 1], [0, 0]], dtype=complex)
            self._reset_mats[q] = to_local(_kron_conj(k0, k0) + _kron_conj(k1, k1), [q + self.n, q])
        qs, m = self._reset_mats[q]
        _apply(re, im, qs, m)

    def _trace(self, re: np.ndarray) -> float:
        return float(re[:: (1 << self.n) + 1].sum())

    @staticmethod
    def _add(into: dict[int, tuple[np.ndarray, np.ndarray]], record: int, re: np.ndarray, im: np.ndarray) -> None:
        have = into.get(record)
        if have is None:
            into[record] = (re, im)
        else:
            np.add(have[0], re, out=have[0])
            np.add(have[1], im, out=have[1])

    def _row(self, mats: list[tuple], b: int, out_re: np.ndarray, out_im: np.ndarray) -> None:
        """Run row ``b`` (``mats``: every step's matrices) and write the sum of its branches."""
        re = np.zeros(4**self.n)
        im = np.zeros(4**self.n)
        re[0] = 1.0
        branches: dict[int, tuple[np.ndarray, np.ndarray]] = {0: (re, im)}
        for it in self._items:
            nxt: dict[int, tuple[np.ndarray, np.ndarray]] = {}
            while branches:
                record, (r, i) = branches.popitem()
                if it.cond is not None and not _holds(it.cond, record):
                    self._add(nxt, record & it.keep, r, i)
                    continue
                if it.kind == "steps":
                    for s in it.steps:
                        self._run_step(mats[s], r, i, b)
                elif it.kind == "reset":
                    self._reset(r, i, it.qubit)
                elif not it.record:
                    self._dephase(r, i, it.qubit)
                else:
                    r1, i1 = self._split(r, i, it.qubit)
                    base = record & ~(1 << it.bit)
                    for v, (x, y) in ((0, (r, i)), (1, (r1, i1))):
                        if self._trace(x) > DROP_WEIGHT:
                            self._add(nxt, (base | (v << it.bit)) & it.keep, x, y)
                    continue
                self._add(nxt, record & it.keep, r, i)
            branches = nxt
        out_re[:] = 0.0
        out_im[:] = 0.0
        for r, i in branches.values():
            out_re += r
            out_im += i

    def _run_chunk(self, mats: list, sl: slice, re: np.ndarray, im: np.ndarray) -> None:
        """Every row of one chunk through its branches (``_row``); as ``DensityMatrixSimulator._forward``
        otherwise."""
        def part(pi: int, parts: int) -> None:
            for r in range(sl.start, sl.stop)[E._split(sl.stop - sl.start, pi, parts)]:
                self._row(mats, r, re[r - sl.start], im[r - sl.start])

        work = re.shape[1] * max(1, len(mats)) * 2**self._branches.bits
        E._parallel(part, sl.stop - sl.start, self.threads, work)

    # -- gradients: parameter shift on the exact mixture ---------------------------------------------
    def _shift_table(self, wrt: str) -> list[tuple[int, float, float, CompiledExprs, list[int]]]:
        """Per (op, angle, shift): the angle's index, the shift, its coefficient, the derivatives of
        the angle by the params (or inputs) it holds and their indices."""
        cache = self.__dict__.setdefault("_shift_cache", {})
        if wrt in cache:
            return cache[wrt]
        out = self._shift_rules("param" if wrt == "params" else "input",
                                "the branch simulator differentiates by parameter shift, which has no rule for it; "
                                "use simulator(method='density_matrix') (deferred measurements, adjoint gradients) "
                                "when the program is small enough")
        cache[wrt] = out
        return out

    def _jacobian(self, params: ArrayLike, inputs: ArrayLike, observables=None,
                  wrt: str = "params") -> tuple[np.ndarray, np.ndarray]:
        """Values (B, n_obs) and d values / d params (or inputs), (B, n_obs, width): every shifted
        circuit is B more rows of one batched run."""
        observables = self.program.observables if observables is None else observables
        P, X, B, _ = self._args(params, inputs)
        vals = self._angles(P, X, B)
        table = self._shift_table(wrt)
        width = self.program.num_params if wrt == "params" else self.program.num_inputs
        shifted = np.tile(vals, (1, 1 + len(table)))
        for s, (at, shift, _, _, _) in enumerate(table):
            shifted[at, (s + 1) * B:(s + 2) * B] += shift
        res = np.zeros((shifted.shape[1], len(observables)))

        def take(sl, re, im, v):
            res[sl] = self._expvals(re, im, observables)

        self._forward(params, inputs, take, shifted)
        Pr, Xr = (np.ascontiguousarray(a) for a in self._rows(P, X, B))
        jac = np.zeros((B, len(observables), width))
        for s, (_, _, coeff, ce, idx) in enumerate(table):
            factors = np.broadcast_to(np.asarray(ce(Pr, Xr), dtype=float), (len(idx), B))
            block = res[(s + 1) * B:(s + 2) * B]
            for j, p in enumerate(idx):
                jac[:, :, p] += coeff * factors[j][:, None] * block
        return res[:B], jac

    def _adjoint(self, params, inputs, cot: np.ndarray, observables=None,
                 wrt: str = "params") -> tuple[np.ndarray, np.ndarray]:
        """The density simulator's vjp hook, by parameter shift: (B, width) and the values (B, n_obs)."""
        values, jac = self._jacobian(params, inputs, observables, wrt)
        return np.einsum("bo,bop->bp", cot, jac), values

    def gradient(self, params: ArrayLike = None, inputs: ArrayLike = None, method: str | None = None) -> np.ndarray:
        """d expval / d params by parameter shift on the exact mixture, (B, n_outputs, n_params); with
        ``shots``, on sampled shifted circuits."""
        if self.shots is not None:
            return self._shot_gradient_call(params, inputs, method)
        if method not in (None, "parameter-shift"):
            raise UnsupportedError(f"the branch simulator differentiates by parameter shift, not '{method}' (adjoint "
                                   "gradients of a dynamic circuit: simulator(method='density_matrix'), which defers "
                                   "its measurements to ancillas)")
        batched = self._args(params, inputs)[3]
        return self._shaped(self._jacobian(params, inputs)[1], batched)

    def value_and_gradient(self, params: ArrayLike = None, inputs: ArrayLike = None) -> tuple[np.ndarray, np.ndarray]:
        if self.shots is not None:
            return self.expval(params, inputs), self.gradient(params, inputs)
        batched = self._args(params, inputs)[3]
        v, g = self._jacobian(params, inputs)
        return self._shaped(v, batched), self._shaped(g, batched)
