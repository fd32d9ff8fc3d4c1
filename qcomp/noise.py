"""Noise models: channels attached to gates by name and qubits (Python, JSON, Qiskit Aer import), and the noisy simulators.

A ``NoiseModel`` is applied to the program as written, before any optimisation (the passes then
run with channels as fences, see docs/noise.md): after every gate whose name matches, its channels are
inserted on the gate's qubits, and readout errors become ``readout_error`` statements on the
measured qubits. ``simulator(program, noise, method=...)`` builds the density-matrix or
trajectory simulator (``method="auto"``: density matrix up to 12 qubits when it fits in memory).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import InputError, QCompError, UnsupportedError
from .ir.channels import BUILTIN, CHANNELS, READOUT_ERROR, ChannelError, register_kraus_channel
from .ir.circuit import Circuit
from .ir.expr import Const
from .ir.gates import ALIASES, GATES
from .ir.ops import Operation
from .ir.program import Program

__all__ = ["Channel", "METHODS", "NoiseModel", "NoiseModelError", "as_noise_model", "load_noise_model", "simulator",
           "split_channels"]

METHODS = ("auto", "density_matrix", "trajectories", "branches")
FORMAT = "qcomp-noise-model"


class NoiseModelError(QCompError):
    """A noise model (Python, JSON or Qiskit Aer) that qcomp cannot use."""


@dataclass(frozen=True)
class Channel:
    """A channel with constant parameters: a name of the channel table (``Channel("depolarizing",
    0.01)``) or a general Kraus channel (``Channel.from_kraus([K0, K1])``, argument order)."""

    name: str
    params: tuple[float, ...] = ()
    kraus: tuple[np.ndarray, ...] | None = field(default=None, compare=False)

    def __init__(self, name: str, *params: float, kraus: Sequence[Any] | None = None) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "params", tuple(float(p) for p in params))
        object.__setattr__(self, "kraus", None if kraus is None else tuple(np.array(k, dtype=complex) for k in kraus))
        if kraus is None:
            ch = CHANNELS.get(name)
            if ch is None or name == "kraus":
                raise NoiseModelError(f"unknown channel '{name}'; channels: {', '.join(sorted(CHANNELS))}")
            if len(self.params) != ch.num_params:
                raise NoiseModelError(f"channel '{name}' takes {ch.num_params} parameter(s), got {len(self.params)}")
            msg = ch.check(*self.params)
            if msg is not None:
                raise NoiseModelError(msg)
        else:
            # registered under a name derived from its matrices, so equal channels share one entry
            digest = hashlib.sha256(b"".join(np.ascontiguousarray(k).tobytes() for k in self.kraus)).hexdigest()[:12]
            object.__setattr__(self, "name", f"kraus_{digest}")
            if self.name not in CHANNELS:
                try:
                    register_kraus_channel(self.name, self.kraus)
                except ChannelError as e:
                    raise NoiseModelError(e.message) from None

    @classmethod
    def from_kraus(cls, kraus: Sequence[Any]) -> "Channel":
        return cls("kraus", kraus=kraus)

    @property
    def num_qubits(self) -> int:
        return CHANNELS[self.name].num_qubits

    def to_json(self) -> dict[str, Any]:
        if self.kraus is not None:
            return {"kraus": [[[[float(v.real), float(v.imag)] for v in row] for row in k] for k in self.kraus]}
        return {"channel": self.name, "params": list(self.params)}

    @classmethod
    def from_json(cls, d: Any, where: str) -> "Channel":
        if not isinstance(d, dict):
            raise NoiseModelError(f"{where}: expected an object with 'channel' and 'params' or 'kraus'")
        if "kraus" in d:
            try:
                mats = [np.array([[complex(v[0], v[1]) for v in row] for row in k]) for k in d["kraus"]]
            except (TypeError, ValueError, IndexError, KeyError):
                raise NoiseModelError(f"{where}: 'kraus' must be a list of matrices of [re, im] pairs") from None
            return cls.from_kraus(mats)
        name, params = d.get("channel"), d.get("params", [])
        if not isinstance(name, str) or not isinstance(params, list) or \
                not all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in params):
            raise NoiseModelError(f"{where}: 'channel' must be a name and 'params' a list of numbers")
        try:
            return cls(name, *params)
        except NoiseModelError as e:
            raise NoiseModelError(f"{where}: {e.message}") from None


@dataclass(frozen=True)
class _Entry:
    channel: Channel
    gates: tuple[str, ...] | None  # None: every gate
    qubits: tuple[int, ...] | None  # None: every application


def _as_channel(channel: Any, params: Sequence[float] = ()) -> Channel:
    if isinstance(channel, Channel):
        if params:
            raise NoiseModelError("give parameters either in the Channel or as params=, not both")
        return channel
    if isinstance(channel, str):
        return Channel(channel, *params)
    raise NoiseModelError(f"channel must be a qcomp.noise.Channel or a channel name, got {type(channel).__name__}")


def _gate_names(gates: Any) -> tuple[str, ...] | None:
    if gates is None or gates == "all":
        return None
    if isinstance(gates, str):
        gates = [gates]
    out = []
    for g in gates:
        if not isinstance(g, str):
            raise NoiseModelError(f"gate names must be strings, got {g!r}")
        name = ALIASES.get(g, g)
        if name not in GATES:
            raise NoiseModelError(f"unknown gate '{g}' in the noise model")
        out.append(name)
    return tuple(out)


class NoiseModel:
    """Channels attached to gates (by name, on all qubits or on given qubits) and readout errors.

    A channel of k qubits attaches to gates of k qubits on the gate's qubits; a one-qubit channel
    attached to a multi-qubit gate acts on each of its qubits. A local error (``add_quantum_error``)
    replaces the all-qubit errors for the same gate on exactly those qubits, as in Qiskit Aer.
    """

    def __init__(self) -> None:
        self._errors: list[_Entry] = []
        self._readout: dict[int | None, tuple[float, float]] = {}

    def __repr__(self) -> str:
        return f"NoiseModel({len(self._errors)} quantum errors, {len(self._readout)} readout errors)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NoiseModel) and self.to_json() == other.to_json()

    def is_empty(self) -> bool:
        return not self._errors and not self._readout

    def add_all_qubit_error(self, channel: Channel | str, gates: Iterable[str] | str | None = None,
                            params: Sequence[float] = ()) -> "NoiseModel":
        """After every gate named in ``gates`` (None or "all": every gate), on its qubits."""
        self._errors.append(_Entry(_as_channel(channel, params), _gate_names(gates), None))
        return self

    def add_quantum_error(self, channel: Channel | str, gates: Iterable[str] | str, qubits: Sequence[int],
                          params: Sequence[float] = ()) -> "NoiseModel":
        """After the named gates applied to exactly ``qubits`` (in argument order)."""
        ch = _as_channel(channel, params)
        try:
            qs = tuple(int(q) for q in qubits)
        except (TypeError, ValueError):
            raise NoiseModelError(f"qubits must be integers, got {qubits!r}") from None
        if any(q < 0 for q in qs) or len(set(qs)) != len(qs) or not qs:
            raise NoiseModelError(f"qubits must be distinct non-negative integers, got {list(qs)}")
        names = _gate_names(gates)
        if names is None:
            raise NoiseModelError("add_quantum_error needs gate names")
        self._errors.append(_Entry(ch, names, qs))
        return self

    def add_readout_error(self, p01: float, p10: float, qubits: Sequence[int] | None = None) -> "NoiseModel":
        """Readout error on the measured qubits (``qubits``: only those): p01 = P(read 1 | 0),
        p10 = P(read 0 | 1). Applies to probabilities and samples, not to expectation values."""
        for name, p in (("p01", p01), ("p10", p10)):
            if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 1:
                raise NoiseModelError(f"readout error {name} must be a number in [0, 1], got {p!r}")
        for q in ([None] if qubits is None else qubits):
            if q is not None and (not isinstance(q, (int, np.integer)) or q < 0):
                raise NoiseModelError(f"readout qubits must be non-negative integers, got {q!r}")
            self._readout[None if q is None else int(q)] = (float(p01), float(p10))
        return self

    # -- applying -------------------------------------------------------------------------
    def _channels_after(self, op: Operation) -> list[Operation]:
        local = [e for e in self._errors if e.qubits is not None and op.name in (e.gates or ()) and
                 e.qubits == op.qubits]
        chosen = local or [e for e in self._errors if e.qubits is None and (e.gates is None or op.name in e.gates)]
        out = []
        for e in chosen:
            k = e.channel.num_qubits
            vals = tuple(Const(p) for p in e.channel.params)
            if k == len(op.qubits):
                out.append(Operation(e.channel.name, op.qubits, vals, op.span))
            elif k == 1:
                out.extend(Operation(e.channel.name, (q,), vals, op.span) for q in op.qubits)
            elif e.gates is not None:
                raise NoiseModelError(f"a {k}-qubit channel cannot follow the {len(op.qubits)}-qubit gate '{op.name}'")
        return out

    def apply(self, program: Program) -> Program:
        """The program with this model's channels after each matching gate and its readout errors
        on the measured qubits (all qubits when nothing is measured)."""
        # local errors on qubits the program does not have never match (a device model on a smaller program)
        ops: list[Operation] = []
        for op in program.circuit.ops():
            ops.append(op)
            if op.name in GATES:
                after = self._channels_after(op)
                if after and op.cond:
                    # a device's error happens only when the branch runs (as in Aer); channels
                    # cannot be conditioned, and an unconditional one would be wrong
                    raise NoiseModelError(f"the noise model puts {after[0].name} after the classically "
                                          f"conditioned gate '{op.name}': noise on conditioned gates is not "
                                          "supported", op.span)
                ops.extend(after)
            elif op.name == "measure" and op.bit is not None and self._readout:
                raise NoiseModelError("the noise model has readout errors and the program measures mid-circuit: "
                                      "readout errors on measured bits that conditions read are not supported",
                                      op.span)
        measured = program.measured or tuple(range(program.num_qubits))
        for q in measured:
            pe = self._readout.get(q, self._readout.get(None))
            if pe is not None:
                ops.append(Operation(READOUT_ERROR, (q,), (Const(pe[0]), Const(pe[1]))))
        return program.with_circuit(Circuit.from_ops(program.num_qubits, ops))

    # -- JSON -----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        errors = []
        for e in self._errors:
            d: dict[str, Any] = dict(e.channel.to_json())
            d["gates"] = "all" if e.gates is None else list(e.gates)
            if e.qubits is not None:
                d["qubits"] = list(e.qubits)
            errors.append(d)
        readout = [{"qubits": "all" if q is None else [q], "p01": p[0], "p10": p[1]} for q, p in self._readout.items()]
        return {"format": FORMAT, "version": 1, "errors": errors, "readout": readout}

    def save(self, path: str | os.PathLike) -> None:
        from ._io import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def from_json(cls, data: Any, where: str = "noise model") -> "NoiseModel":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise NoiseModelError(f"{where}: not a qcomp noise model (expected an object with \"format\": \"{FORMAT}\")")
        m = cls()
        errors, readout = data.get("errors", []), data.get("readout", [])
        if not isinstance(errors, list) or not isinstance(readout, list):
            raise NoiseModelError(f"{where}: 'errors' and 'readout' must be lists")
        for i, e in enumerate(errors):
            at = f"{where}: errors[{i}]"
            ch = Channel.from_json(e, at)
            gates = e.get("gates", "all")
            try:
                if "qubits" in e:
                    m.add_quantum_error(ch, gates, e["qubits"])
                else:
                    m.add_all_qubit_error(ch, gates)
            except NoiseModelError as err:
                raise NoiseModelError(f"{at}: {err.message}") from None
        for i, r in enumerate(readout):
            at = f"{where}: readout[{i}]"
            if not isinstance(r, dict):
                raise NoiseModelError(f"{at}: expected an object with 'qubits', 'p01' and 'p10'")
            qs = r.get("qubits", "all")
            try:
                m.add_readout_error(r.get("p01"), r.get("p10"), None if qs == "all" else qs)
            except NoiseModelError as err:
                raise NoiseModelError(f"{at}: {err.message}") from None
        return m

    @classmethod
    def load(cls, path: str | os.PathLike) -> "NoiseModel":
        return load_noise_model(path)

    # -- Qiskit Aer -------------------------------------------------------------------------
    @classmethod
    def from_qiskit(cls, aer_model: Any, *, unsupported: str = "error") -> "NoiseModel":
        """Import a ``qiskit_aer.noise.NoiseModel`` (also ``NoiseModel.from_backend(FakeXXX())``).

        Every quantum error on a gate qcomp knows becomes a channel (a one-qubit Pauli error a
        ``pauli_channel``, anything else a general Kraus channel with the same action, qubit order
        converted); single-qubit readout errors become readout errors. Errors on instructions that
        are not gates (``measure``, ``reset``, ``delay``), non-local errors and correlated readout
        errors do not map: they are an error, or dropped with ``unsupported="drop"``.
        """
        if unsupported not in ("error", "drop"):
            raise InputError(f"unsupported must be 'error' or 'drop', got {unsupported!r}")
        if not hasattr(aer_model, "_default_quantum_errors"):
            raise NoiseModelError(f"expected a qiskit_aer.noise.NoiseModel, got {type(aer_model).__name__}")
        m = cls()
        refused: list[str] = []

        def convert(err: Any) -> Channel:
            if err.num_qubits == 1:
                probs = _pauli_probabilities(err)
                if probs is not None:
                    return Channel("pauli_channel", probs[1], probs[2], probs[3])
            return Channel.from_kraus(_error_kraus(err))

        qiskit_names = {g.qasm3: name for name, g in GATES.items()}
        qiskit_names.update({name: name for name in GATES})
        for inst, err in aer_model._default_quantum_errors.items():
            if inst not in qiskit_names:
                refused.append(f"error on '{inst}' (all qubits)")
                continue
            m.add_all_qubit_error(convert(err), [qiskit_names[inst]])
        for inst, per in aer_model._local_quantum_errors.items():
            for qubits, err in per.items():
                if inst not in qiskit_names:
                    refused.append(f"error on '{inst}' qubits {list(qubits)}")
                    continue
                # Qiskit's first qubit is the least significant bit of the error's matrix: in
                # qcomp's argument order (first = most significant) the same matrix is on the
                # reversed qubits, so the Kraus channel is attached to the gate on ``qubits`` and
                # its matrices are reordered by the transposition below
                ch = convert(err)
                if ch.kraus is not None and len(qubits) > 1:
                    ch = Channel.from_kraus([_reverse_qubits(k, len(qubits)) for k in ch.kraus])
                m.add_quantum_error(ch, [qiskit_names[inst]], tuple(qubits))
        if getattr(aer_model, "_nonlocal_quantum_errors", None):
            refused.append("non-local quantum errors")
        ro = aer_model._default_readout_error
        if ro is not None:
            _add_readout(m, ro, None, refused)
        for qubits, ro in aer_model._local_readout_errors.items():
            _add_readout(m, ro, qubits, refused)
        if refused and unsupported == "error":
            raise NoiseModelError("the Qiskit noise model has parts qcomp cannot map onto its channels: "
                                  + "; ".join(refused) + " (pass unsupported='drop' to import the rest)")
        # all-qubit Kraus errors on multi-qubit gates: reorder too
        fixed = []
        for e in m._errors:
            if e.qubits is None and e.channel.kraus is not None and e.channel.num_qubits > 1:
                e = _Entry(Channel.from_kraus([_reverse_qubits(k, e.channel.num_qubits) for k in e.channel.kraus]),
                           e.gates, None)
            fixed.append(e)
        m._errors = fixed
        return m

    def to_qiskit(self) -> Any:
        """The same model as a ``qiskit_aer.noise.NoiseModel`` (for running the noiseless export on Aer)."""
        from qiskit.quantum_info import Kraus
        from qiskit_aer.noise import NoiseModel as AerNoiseModel, QuantumError, ReadoutError

        out = AerNoiseModel()
        for e in self._errors:
            mats = CHANNELS[e.channel.name].kraus(*e.channel.params)
            k = e.channel.num_qubits
            err = QuantumError(Kraus([_reverse_qubits(np.asarray(K), k) for K in mats]))
            by_arity: dict[int, list[str]] = {}
            for g in (e.gates or GATES):
                by_arity.setdefault(GATES[g].num_qubits, []).append(GATES[g].qasm3)
            for arity, gates in sorted(by_arity.items()):
                if arity != k and k != 1:
                    continue  # as apply(): a k-qubit channel follows k-qubit gates only
                # a one-qubit channel on each qubit of a wider gate: its tensor power in Aer
                e_k = err
                for _ in range(arity - k):
                    e_k = e_k.tensor(err)
                if e.qubits is None:
                    out.add_all_qubit_quantum_error(e_k, gates, warnings=False)
                else:
                    out.add_quantum_error(e_k, gates, list(e.qubits), warnings=False)
        for q, (p01, p10) in self._readout.items():
            ro = ReadoutError([[1 - p01, p01], [p10, 1 - p10]])
            if q is None:
                out.add_all_qubit_readout_error(ro)
            else:
                out.add_readout_error(ro, [q])
        return out


def _reverse_qubits(m: np.ndarray, k: int) -> np.ndarray:
    """The matrix with its qubit order reversed (Qiskit little-endian <-> argument order)."""
    if k == 1:
        return np.asarray(m)
    t = np.asarray(m).reshape((2,) * (2 * k))
    axes = list(range(k))[::-1] + list(range(k, 2 * k))[::-1]
    return t.transpose(axes).reshape(2**k, 2**k)


def _error_kraus(err: Any) -> list[np.ndarray]:
    """Kraus operators of an Aer QuantumError, composed exactly from its noise circuits
    (sqrt(probability) times each instruction's operators, in order; Qiskit's qubit order).
    Qiskit's own Kraus conversion goes through an eigendecomposition of the Choi matrix that drops
    eigenvalues below 1e-8 and so loses ~1e-10 of the channel; this does not."""
    from qiskit.quantum_info import Operator

    k = err.num_qubits
    out: list[np.ndarray] = []
    for circ, p in zip(err.circuits, err.probabilities):
        if p <= 0:
            continue
        ops = [np.sqrt(p) * np.eye(2**k, dtype=complex)]
        for inst in circ.data:
            qargs = [circ.find_bit(q).index for q in inst.qubits]
            op = inst.operation
            if op.name == "reset":
                local = [np.array([[1, 0], [0, 0]], complex), np.array([[0, 1], [0, 0]], complex)]
            elif op.name == "kraus":
                local = [np.asarray(m, dtype=complex) for m in op.params]
            elif op.name in ("barrier", "id") or (op.name == "delay"):
                continue
            else:
                try:
                    local = [Operator(op).data]
                except Exception:  # noqa: BLE001 - anything Operator cannot read (measure, ...)
                    raise NoiseModelError(f"a Qiskit noise circuit holds '{op.name}', which is not a channel") from None
            full = [Operator(np.eye(2**k)).compose(Operator(m), qargs=qargs).data for m in local]
            ops = [B @ A for A in ops for B in full]
        out.extend(K for K in ops if np.any(np.abs(K) > 0))
    return out


def _pauli_probabilities(err: Any) -> tuple[float, float, float, float] | None:
    """(pI, pX, pY, pZ) of a one-qubit error that is a mixture of Paulis, else None."""
    from qiskit.quantum_info import PTM

    ptm = np.real(PTM(err.to_quantumchannel()).data)
    if not np.allclose(ptm, np.diag(np.diag(ptm)), atol=1e-12):
        return None
    _, lx, ly, lz = np.diag(ptm)
    # Pauli-channel PTM diagonal: lx = pI + pX - pY - pZ, etc.
    pI = (1 + lx + ly + lz) / 4
    pX = (1 + lx - ly - lz) / 4
    pY = (1 - lx + ly - lz) / 4
    pZ = (1 - lx - ly + lz) / 4
    probs = np.clip([pI, pX, pY, pZ], 0, 1)
    return tuple(float(p) for p in probs)  # type: ignore[return-value]


def _add_readout(m: NoiseModel, ro: Any, qubits: Any, refused: list[str]) -> None:
    probs = np.asarray(ro.probabilities)
    if probs.shape != (2, 2):
        refused.append(f"correlated readout error on qubits {list(qubits) if qubits else 'all'}")
        return
    m.add_readout_error(float(probs[0, 1]), float(probs[1, 0]), None if qubits is None else list(qubits))


def load_noise_model(path: str | os.PathLike) -> NoiseModel:
    """A noise model from a JSON file (``NoiseModel.save``'s format)."""
    from ._io import read_json

    return NoiseModel.from_json(read_json(path), where=str(path))


def split_channels(program: Program) -> tuple[Program, dict[str, Any]]:
    """The program without its channels (the noiseless circuit, gates in source order) and the
    channels as JSON: each with its parameters (as .q text), qubits, source line and ``after``,
    the number of gates of the noiseless circuit that precede it (0: before the first gate)."""
    from .ir.channels import is_channel
    from .ir.expr import to_text

    gates: list[Operation] = []
    channels: list[dict[str, Any]] = []
    for op in program.circuit.ops():
        if not is_channel(op.name):
            gates.append(op)
            continue
        entry: dict[str, Any] = {"channel": op.name, "params": [to_text(a) for a in op.angles],
                                 "qubits": list(op.qubits), "after": len(gates)}
        ch = CHANNELS.get(op.name)
        if ch is not None and op.name not in BUILTIN:  # a registered Kraus channel: its matrices
            entry["kraus"] = [[[[float(v.real), float(v.imag)] for v in row] for row in np.asarray(k)]
                              for k in ch.kraus()]
        if op.span is not None:
            entry["line"] = op.span.line
        channels.append(entry)
    noiseless = program.with_circuit(Circuit.from_ops(program.num_qubits, gates))
    return noiseless, {"format": "qcomp-noise-channels", "version": 1, "source": program.source_name,
                       "qubit_order": "flat qubit k (registers in declaration order)", "channels": channels}


def as_noise_model(noise: Any) -> NoiseModel | None:
    """``noise`` given as a NoiseModel, a JSON file path, a qcomp JSON dict or a Qiskit Aer model."""
    if noise is None or isinstance(noise, NoiseModel):
        return noise
    if isinstance(noise, (str, os.PathLike)):
        return load_noise_model(noise)
    if isinstance(noise, dict):
        return NoiseModel.from_json(noise)
    if hasattr(noise, "_default_quantum_errors"):
        return NoiseModel.from_qiskit(noise)
    raise InputError(f"noise must be a qcomp.noise.NoiseModel, a JSON file path or a Qiskit Aer NoiseModel, "
                     f"got {type(noise).__name__}")


def simulator(program: Program, noise: Any = None, *, method: str = "auto", trajectories: int | None = None,
              seed: int | None = None, threads: int | None = None, max_memory_bytes: int | None = None,
              shots: int | Sequence[int] | None = None) -> Any:
    """The noisy simulator of ``program`` (with ``noise`` applied first): "density_matrix",
    "trajectories", "branches" (a dynamic program's classical branches, each a density matrix,
    without ancillas: qcomp.backends.dynamic_sim), or "auto" (density matrix up to 12 qubits when a gradient's worth of density
    matrices fits in memory, trajectories above). ``shots=N`` (or a shot vector) makes values and
    gradients shot estimates, as on the statevector simulator (docs/shots.md); ``seed`` seeds the
    shots and, on trajectories, the trajectories."""
    from .backends.density import DEFAULT_MAX_QUBITS, DensityMatrixSimulator
    from .backends.trajectories import DEFAULT_TRAJECTORIES, TrajectorySimulator

    if method not in METHODS:
        raise InputError(f"unknown noisy simulation method '{method}'; valid methods: {', '.join(METHODS)}")
    model = as_noise_model(noise)
    if model is not None:
        program = model.apply(program)
    if method == "branches":
        from .backends.dynamic_sim import BranchSimulator

        if trajectories is not None:
            raise InputError("trajectories= is an option of method='trajectories'")
        return BranchSimulator(program, threads=threads, max_memory_bytes=max_memory_bytes, shots=shots, seed=seed)
    if method == "auto":
        method = "trajectories"
        if program.num_qubits <= DEFAULT_MAX_QUBITS:
            dm = DensityMatrixSimulator(program, threads=threads, max_memory_bytes=max_memory_bytes, shots=shots,
                                        seed=seed)
            try:
                dm.memory_plan(1, gradient=False)
                return dm
            except QCompError:
                pass
    if method == "density_matrix":
        if trajectories is not None:
            raise InputError("trajectories= is an option of method='trajectories'")
        return DensityMatrixSimulator(program, threads=threads, max_memory_bytes=max_memory_bytes, shots=shots,
                                      seed=seed)
    return TrajectorySimulator(program, trajectories=DEFAULT_TRAJECTORIES if trajectories is None else trajectories,
                               seed=seed, threads=threads, max_memory_bytes=max_memory_bytes, shots=shots)


_ = UnsupportedError  # re-exported for callers that catch it with the models' errors
