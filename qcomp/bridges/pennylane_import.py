"""PennyLane tapes and QNodes to qcomp's IR: the operation lowering the ``qcomp.qubit`` device runs, and ``qcomp.from_pennylane``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pennylane as qml

try:
    from pennylane.exceptions import DeviceError
except ImportError:  # pragma: no cover - PennyLane < 0.42
    from pennylane import DeviceError
from pennylane.measurements import ExpectationMP, ProbabilityMP, SampleMP, StateMP, VarianceMP
from pennylane.tape import QuantumScript

from ..errors import InputError, UnsupportedError
from ..ir.circuit import Circuit
from ..ir.expr import Const, Expr, Sym, add, mul
from ..ir.gates import inverse
from ..ir.ops import Observable, Operation, Register, ValueDecl, make_unitary_op, normalize_pauli_sum
from ..ir.outputs import Expectation, Output, Probabilities, Samples, State, Variance
from ..ir.program import Program


class QCompDeviceError(UnsupportedError, DeviceError):
    """Something the qcomp.qubit device cannot run (a qcomp error PennyLane also recognises)."""


# -- lowering PennyLane operations to qcomp gates ------------------------------------------

Lowering = Callable[[Sequence[Expr], tuple[int, ...]], list[tuple[str, tuple[int, ...], tuple[Expr, ...]]]]


def _same(name: str) -> Lowering:
    return lambda a, q: [(name, q, tuple(a))]


_HALF_PI = Const(math.pi / 2)

# PennyLane gate name -> qcomp gates; PennyLane lists controls first and writes matrices with
# the first wire most significant, as qcomp's library does, so qubits keep their order.
_LOWER: dict[str, Lowering] = {
    "Identity": lambda a, q: [],
    "PauliX": _same("x"), "PauliY": _same("y"), "PauliZ": _same("z"), "Hadamard": _same("h"),
    "S": _same("s"), "T": _same("t"), "SX": _same("sx"),
    "RX": _same("rx"), "RY": _same("ry"), "RZ": _same("rz"), "PhaseShift": _same("p"), "U1": _same("p"),
    "U2": lambda a, q: [("u", q, (_HALF_PI, a[0], a[1]))],
    "U3": _same("u"),
    # Rot(phi, theta, omega) = RZ(omega) RY(theta) RZ(phi)
    "Rot": lambda a, q: [("rz", q, (a[0],)), ("ry", q, (a[1],)), ("rz", q, (a[2],))],
    "CNOT": _same("cx"), "CY": _same("cy"), "CZ": _same("cz"), "CH": _same("ch"),
    "SWAP": _same("swap"), "ISWAP": _same("iswap"),
    "CRX": _same("crx"), "CRY": _same("cry"), "CRZ": _same("crz"), "ControlledPhaseShift": _same("cp"),
    "IsingXX": _same("rxx"), "IsingYY": _same("ryy"), "IsingZZ": _same("rzz"),
    "Toffoli": _same("ccx"), "CSWAP": _same("cswap"),
    # exp(-i t Z/2) and exp(-i t ZZ/2); longer MultiRZs are decomposed by PennyLane
    "MultiRZ": lambda a, q: [("rz" if len(q) == 1 else "rzz", q, tuple(a))],
}
# dropped when lowering: no effect on the simulated state (GlobalPhase is applied to states only)
SKIPPED = frozenset({"Barrier", "Snapshot", "GlobalPhase"})
SUPPORTED_NAMES = frozenset(_LOWER) | SKIPPED | {"QubitUnitary"}


def _base_supported(op: qml.operation.Operator) -> bool:
    if op.name == "MultiRZ":
        return len(op.wires) <= 2
    return op.name in _LOWER


# a constant matrix runs as one fused ``unitary`` block; larger ones are decomposed
MAX_UNITARY_WIRES = 4


def _constant_unitary(op: qml.operation.Operator) -> bool:
    if op.name != "QubitUnitary" or len(op.wires) > MAX_UNITARY_WIRES:
        return False
    d = op.data[0]
    return qml.math.get_interface(d) in ("numpy", "autograd") and not qml.math.requires_grad(d) and np.ndim(d) == 2


def accepts_operation(op: qml.operation.Operator) -> bool:
    """Whether ``op`` lowers to qcomp gates as it is (the decomposition's stopping condition)."""
    if op.name in SKIPPED:
        return True
    if op.name == "QubitUnitary":
        return _constant_unitary(op)
    if isinstance(op, qml.ops.op_math.Adjoint) and op.name.startswith("Adjoint("):
        return _base_supported(op.base) and op.base.name != "GlobalPhase"
    return _base_supported(op)


def decompose_operation(op: qml.operation.Operator) -> Sequence[qml.operation.Operator]:
    """PennyLane's decomposition, or the operator's matrix where it has none (BlockEncode, ...)."""
    try:
        return op.decomposition()
    except qml.operation.DecompositionUndefinedError:
        if op.has_matrix and len(op.wires) <= MAX_UNITARY_WIRES and not any(qml.math.requires_grad(d) for d in op.data):
            return [qml.QubitUnitary(qml.math.unwrap(op.matrix()), wires=op.wires)]
        raise


def _lower_op(op, syms: Sequence[Expr], qubit: Callable[[Any], int]) -> list[Operation]:
    if isinstance(op, qml.ops.op_math.Adjoint) and op.name.startswith("Adjoint("):
        inner = _lower_op(op.base, syms, qubit)
        out = []
        for g in reversed(inner):
            out.extend(Operation(name, g.qubits, tuple(angles)) for name, angles in inverse(g.name, g.angles))
        return out
    qs = tuple(qubit(w) for w in op.wires)
    if op.name == "QubitUnitary":
        return [make_unitary_op(np.asarray(qml.math.unwrap(op.data[0]), dtype=complex), qs)]
    return [Operation(name, q, tuple(angles)) for name, q, angles in _LOWER[op.name](syms, qs)]


def real_value(value: Any, what: str, error: type[Exception] = QCompDeviceError, who: str = "qcomp.qubit") -> np.ndarray:
    """A gate parameter as a real float array (complex values with no imaginary part accepted)."""
    a = np.asarray(qml.math.unwrap(value))
    if a.dtype.kind == "c":
        if np.any(np.abs(a.imag) > 1e-12):
            raise error(f"{what} has a complex value; {who} takes real gate parameters")
        a = a.real
    return np.asarray(a, dtype=float)


AngleOf = Callable[[int, Any, qml.operation.Operator], Expr]


def lower_operations(operations: Sequence[qml.operation.Operator], qubit: Callable[[Any], int], angle: AngleOf,
                     *, on_phase: Callable[[int], None] | None = None, error: type[Exception] = QCompDeviceError,
                     who: str = "qcomp.qubit") -> list[Operation]:
    """qcomp operations for PennyLane operations that :func:`accepts_operation` accepts.

    The one lowering shared by the ``qcomp.qubit`` device and :func:`import_tape`: ``qubit(wire)``
    gives the flat qubit of a wire; ``angle(k, value, op)`` gives the angle expression of the tape's
    k-th operation parameter (a column of numbers for the device, a param or constant for the
    importer); ``on_phase(k)`` is told about GlobalPhase parameters (dropped from the circuit).
    ``angle`` is called for a matrix parameter (QubitUnitary) too, so column indices match the
    tape's, but its result is not used.
    """
    ops: list[Operation] = []
    k = 0
    for op in operations:
        if not accepts_operation(op):
            raise error(f"operation {op.name} is not supported by {who} (and was not decomposed)")
        syms = []
        for d in op.data:
            syms.append(angle(k, d, op))
            k += 1
        if op.name == "GlobalPhase":
            if on_phase is not None:
                on_phase(k - 1)
            continue
        if op.name in SKIPPED:
            continue
        ops.extend(_lower_op(op, syms, qubit))
    return ops


def batch_size(tape: QuantumScript) -> int | None:
    """The broadcast size of a tape's operations, from their parameters' shapes (``batch_size`` of
    tapes and operations is stale on the copies PennyLane's broadcast_expand makes)."""
    for op in tape.operations:
        try:
            expected = op.ndim_params
        except Exception:  # noqa: BLE001 - operators that declare no parameter dimensions
            expected = (0,) * len(op.data)
        for d, nd in zip(op.data, expected):
            if np.ndim(d) > nd:
                return int(np.shape(d)[0])
    return None


# -- observables ------------------------------------------------------------------------------

def pauli_sentence(obs) -> Any | None:
    """The observable's Pauli sentence, or None (no Pauli representation, or broadcast coefficients)."""
    if obs is None:
        return None
    try:
        ps = obs.pauli_rep
    except Exception:  # noqa: BLE001 - an observable without a Pauli representation
        return None
    if ps is None:
        return None
    for c in ps.values():
        if np.ndim(qml.math.unwrap(c)) != 0:
            return None  # broadcast coefficients: handled through the state
    return ps


def pauli_observable(ps, qubit: Callable[[Any], int]) -> Observable:
    """A Pauli sentence as a qcomp Observable (real parts of the coefficients: it is Hermitian)."""
    terms = []
    for word, coeff in ps.items():
        c = complex(np.asarray(qml.math.unwrap(coeff)))
        terms.append((c.real, {qubit(w): p for w, p in word.items()}))
    return Observable(normalize_pauli_sum(terms))


# -- qcomp.from_pennylane -----------------------------------------------------------------------

@dataclass(frozen=True)
class ImportedTape:
    """A PennyLane tape as qcomp IR.

    ``program`` has one qubit register ``q`` with qubit k = ``wires[k]`` (the tape's wire order;
    qcomp's state index is little-endian, bit k = qubit k, while PennyLane's puts its first wire
    in the most significant bit: reverse the bits to compare states) and one param declaration
    ``theta`` whose element j is (an element of) the tape parameter ``param_indices[j]`` (an index
    into ``tape.get_parameters(trainable_only=False)``): the tape's ``trainable_params`` that are
    gate parameters, in tape order, a tensor parameter (a template's weights) contributing its
    elements in C order. ``outputs`` are the tape's measurements as qcomp output kinds, in
    order, for ``Simulator.outputs(params, outputs=...)``; the program's observables are the
    expectation values among them.
    """

    program: Program
    outputs: tuple[Output, ...]
    wires: tuple[Any, ...]
    trainable_params: tuple[int, ...]
    param_indices: tuple[int, ...]
    param_values: np.ndarray  # the tape's values of the params, as (P,)


def _tape_of(qnode_or_tape: Any, args: tuple, kwargs: dict) -> QuantumScript:
    if isinstance(qnode_or_tape, QuantumScript):
        if args or kwargs:
            raise InputError("from_pennylane: arguments are for a QNode; a tape already holds its parameter values")
        return qnode_or_tape
    if isinstance(qnode_or_tape, qml.QNode):
        return qml.workflow.construct_tape(qnode_or_tape)(*args, **kwargs)
    raise InputError(f"from_pennylane takes a QuantumTape/QuantumScript or a QNode (with example arguments), "
                     f"got {type(qnode_or_tape).__name__}")


def _expand(op: qml.operation.Operator, depth: int = 0) -> list[qml.operation.Operator]:
    """``op`` decomposed (PennyLane's own decompositions) until qcomp accepts every operation."""
    if accepts_operation(op):
        return [op]
    if depth > 64:
        raise UnsupportedError(f"operation {op.name}: PennyLane's decomposition did not reach qcomp's gates")
    try:
        parts = decompose_operation(op)
    except Exception as exc:  # noqa: BLE001 - PennyLane raises several kinds for "no decomposition"
        raise UnsupportedError(f"operation {op.name} on wires {list(op.wires)} is not in qcomp's gate table and "
                               f"PennyLane has no decomposition for it ({type(exc).__name__})") from None
    out: list[qml.operation.Operator] = []
    for p in parts:
        out.extend(_expand(p, depth + 1))
    return out


def _affine_expansion(op: qml.operation.Operator, symbols: dict[tuple[int, int], Expr]):
    """``op``'s decomposition with each angle an affine expression of its trainable parameters.

    ``symbols`` maps (data index, flat element) of each trainable parameter element to its param.
    PennyLane's decompositions compute numbers from the parameters (CRot's ``(phi - omega) / 2``,
    a template's weights spread over rotations, ...). They are affine in the parameters for the
    gates and templates PennyLane ships; the map is measured by decomposing at shifted values,
    then checked at a random point, and a decomposition that changes shape or is not affine is
    refused.
    """
    base = [np.array(real_value(d, f"the parameter of {op.name}", UnsupportedError, "from_pennylane"), dtype=float)
            for d in op.data]
    keys = sorted(symbols)

    def at(shift: dict[tuple[int, int], float]):
        values = [b.copy() for b in base]
        for (i, e), v in shift.items():
            values[i].reshape(-1)[e] += v
        new = qml.ops.functions.bind_new_parameters(op, [v if v.ndim else np.float64(v) for v in values])
        parts = _expand(new)
        shape = [(p.name, tuple(p.wires), len(p.data)) for p in parts]
        data = [float(real_value(d, f"the parameter of {p.name}", UnsupportedError, "from_pennylane"))
                for p in parts for d in p.data if p.name != "QubitUnitary"]
        return parts, shape, data

    parts, shape, data0 = at({})
    if any(p.name == "QubitUnitary" for p in parts):
        raise UnsupportedError(f"operation {op.name} with trainable parameters decomposes to a matrix; "
                               "qcomp keeps trainable parameters symbolic in gate angles only")
    slopes = []
    for key in keys:
        _, sh, d = at({key: 1.0})
        if sh != shape:
            raise UnsupportedError(f"operation {op.name}: PennyLane's decomposition changes with the parameter values; "
                                   "make its parameters non-trainable to import it")
        slopes.append([y - x for x, y in zip(data0, d)])
    rng = np.random.default_rng(7)
    probe = {key: float(rng.uniform(-1.3, 1.3)) for key in keys}
    _, sh, dp = at(probe)
    predicted = [x + sum(sl[i] * probe[key] for sl, key in zip(slopes, keys)) for i, x in enumerate(data0)]
    if sh != shape or not np.allclose(predicted, dp, atol=1e-9):
        raise UnsupportedError(f"operation {op.name}: PennyLane's decomposition is not affine in its trainable "
                               "parameters; qcomp cannot keep them symbolic")
    exprs: list[Expr] = []
    for i, x in enumerate(data0):
        offset = x - sum(sl[i] * base[key[0]].reshape(-1)[key[1]] for sl, key in zip(slopes, keys))
        e: Expr = Const(0.0 if abs(offset) < 1e-12 else offset)
        for sl, key in zip(slopes, keys):
            c = round(float(sl[i]), 9)  # slopes are simple numbers (1, -1/2, ...): drop the differencing noise
            if c != 0.0:
                e = add(e, mul(Const(c), symbols[key]))
        exprs.append(e)
    return parts, exprs


def import_tape(qnode_or_tape: Any, *args: Any, **kwargs: Any) -> ImportedTape:
    """A PennyLane tape (or a QNode called with example arguments) as qcomp IR with its outputs.

    Gate parameters listed in the tape's ``trainable_params`` become params (``theta[j]``, tape
    order; see :class:`ImportedTape`), other numbers constants. Operations outside qcomp's gate
    table are decomposed with PennyLane's own decompositions (trainable parameters stay symbolic
    through them). ``expval``/``var`` of Pauli words and sums (Hamiltonian, Sum, Prod, SProd),
    ``probs(wires)``, ``sample(wires)`` (shots from the tape) and ``state()`` become
    Expectation/Variance/Probabilities/Samples/State outputs.
    """
    tape = _tape_of(qnode_or_tape, args, kwargs)
    if batch_size(tape) is not None:
        raise UnsupportedError("from_pennylane: the tape is broadcast (a batch of parameter values); import it with "
                               "one value per parameter and pass batches to qcomp's simulator instead")
    wires = tuple(tape.wires)
    index = {w: i for i, w in enumerate(wires)}
    n = max(1, len(wires))

    def qubit(w: Any) -> int:
        return index[w]

    all_params = tape.get_parameters(trainable_only=False)
    trainable = tuple(int(k) for k in tape.trainable_params)
    n_op = sum(len(op.data) for op in tape.operations)
    # one param element per element of each trainable gate parameter (a template's weights tensor
    # contributes its elements in C order)
    param_indices: list[int] = []
    values: list[float] = []
    sym_of: dict[tuple[int, int], Sym] = {}
    for k in trainable:
        if k >= n_op:
            continue  # observable coefficients stay numbers
        v = np.asarray(real_value(all_params[k], "a trainable parameter", UnsupportedError, "from_pennylane"))
        for e, x in enumerate(v.reshape(-1)):
            j = len(param_indices)
            sym_of[(k, e)] = Sym("param", j, f"theta[{j}]")
            param_indices.append(k)
            values.append(float(x))

    # expand every operation; each accepted operation's angles are expressions of the tape's params
    flat_ops: list[qml.operation.Operator] = []
    angles: list[Expr] = []
    k0 = 0
    for op in tape.operations:
        if type(op).__name__ == "MidMeasureMP":
            raise UnsupportedError("from_pennylane: mid-circuit measurements are not supported; "
                                   "apply qml.defer_measurements to the QNode first")
        mine = {(k - k0, e): sym for (k, e), sym in sym_of.items() if k0 <= k < k0 + len(op.data)}
        if accepts_operation(op):
            parts = [op]
            exprs = [sym_of[(k0 + j, 0)] if (k0 + j, 0) in sym_of else
                     (Const(float(real_value(d, f"the parameter of {op.name}", UnsupportedError, "from_pennylane")))
                      if op.name != "QubitUnitary" else Const(0.0))
                     for j, d in enumerate(op.data)]
        elif mine:
            parts, exprs = _affine_expansion(op, mine)
        else:
            parts = _expand(op)
            exprs = [Const(float(real_value(d, f"the parameter of {p.name}", UnsupportedError, "from_pennylane")))
                     if p.name != "QubitUnitary" else Const(0.0) for p in parts for d in p.data]
        flat_ops.extend(parts)
        angles.extend(exprs)
        k0 += len(op.data)

    ops = lower_operations(flat_ops, qubit, lambda k, d, op: angles[k], error=UnsupportedError, who="from_pennylane")

    outputs: list[Output] = []
    for mp in tape.measurements:
        if getattr(mp, "mv", None) is not None:
            raise UnsupportedError(f"from_pennylane: {type(mp).__name__} of a mid-circuit measurement is not supported")
        ps = pauli_sentence(mp.obs)
        if isinstance(mp, (ExpectationMP, VarianceMP)):
            if ps is None:
                raise UnsupportedError(f"from_pennylane: {mp} — only Pauli words and sums of them (Hamiltonian, Sum, "
                                       "Prod, SProd of Pauli operators) become qcomp observables")
            o = pauli_observable(ps, qubit)
            outputs.append(Expectation(o) if isinstance(mp, ExpectationMP) else Variance(o))
        elif type(mp) is ProbabilityMP and mp.obs is None:
            ws = mp.wires if len(mp.wires) else tape.wires
            # PennyLane's index has its first wire most significant; qcomp's bit k is qubits[k]
            outputs.append(Probabilities(tuple(qubit(w) for w in reversed(ws))))
        elif type(mp) is SampleMP and mp.obs is None:
            if not tape.shots:
                raise UnsupportedError("from_pennylane: sample() needs shots on the tape or QNode")
            if tape.shots.has_partitioned_shots:
                raise UnsupportedError("from_pennylane: partitioned shots are not supported")
            ws = mp.wires if len(mp.wires) else tape.wires
            outputs.append(Samples(tuple(qubit(w) for w in reversed(ws)), int(tape.shots.total_shots)))
        elif type(mp) is StateMP and not len(mp.wires):
            outputs.append(State())
        else:
            raise UnsupportedError(f"from_pennylane: measurement {mp} has no qcomp output kind (supported: expval and "
                                   "var of Pauli sums, probs and sample of wires, state)")

    observables = tuple(o.observable for o in outputs if isinstance(o, Expectation))
    P = len(values)
    program = Program(
        Circuit.from_ops(n, ops), (Register("q", n, 0),),
        params=(ValueDecl("param", "theta", P, 0),) if P else (),
        observables=observables, source_name="<pennylane tape>")
    return ImportedTape(program, tuple(outputs), wires, trainable, tuple(param_indices), np.array(values, dtype=float))


def from_pennylane(qnode_or_tape: Any, *args: Any, **kwargs: Any) -> Program:
    """``qcomp.from_pennylane``: a PennyLane tape, or a QNode called with example arguments, as a qcomp Program.

    Qubit k is the tape's k-th wire; ``theta[j]`` is the tape's j-th trainable gate parameter
    (:func:`import_tape` returns the full mapping). The Program's outputs are the tape's
    ``expval`` measurements; a tape that also measures var/probs/sample/state is refused here
    (the Program declares expectation values only): :func:`import_tape` returns those outputs as
    qcomp output kinds for ``Simulator.outputs``.
    """
    imported = import_tape(qnode_or_tape, *args, **kwargs)
    other = [o for o in imported.outputs if not isinstance(o, Expectation)]
    if other:
        raise UnsupportedError(
            f"from_pennylane: the tape measures {', '.join(sorted({o.kind for o in other}))}, and a qcomp Program "
            "declares expectation values only; use qcomp.bridges.pennylane_import.import_tape(...), whose .outputs "
            "lists every measurement as a qcomp output kind for Simulator(program).outputs(params, outputs=...)")
    return imported.program


__all__ = [
    "ImportedTape",
    "QCompDeviceError",
    "accepts_operation",
    "batch_size",
    "decompose_operation",
    "from_pennylane",
    "import_tape",
    "lower_operations",
    "pauli_observable",
    "pauli_sentence",
]
