"""The Python API: ``qcomp.compile`` returns a Model that emits OpenQASM and builds simulators."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .errors import InputError, QCompError
from .frontend import DEFAULT_MAX_OPS, DEFAULT_MAX_QUBITS, parse, parse_file
from .ir.program import Program


def _check_int(value: Any, what: str, minimum: int | None = None) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise InputError(f"{what} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise InputError(f"{what} must be at least {minimum}, got {value}")


def check_qubits(qubits: Any) -> None:
    """Refuse a ``qubits=`` argument that is not a sequence of integers (a float would be truncated)."""
    if qubits is None:
        return
    if isinstance(qubits, (str, bytes, Mapping)) or not isinstance(qubits, Iterable):
        raise InputError(f"qubits must be a sequence of qubit indices, got {type(qubits).__name__}")
    for q in qubits:
        if not isinstance(q, (int, np.integer)) or isinstance(q, bool):
            raise InputError(f"qubits must be integers, got {q!r}")


def _looks_like_path(s: str) -> bool:
    return "\n" not in s and ";" not in s and s.strip().endswith((".q", ".qasm", ".qasm3", ".qasm2"))


# Model.optimized("state"): the "sim" pipeline without the passes that keep only the outputs
# (light-cone, dead-qubits, elide-swaps drop gates, remove or relabel qubits), so the final state
# of the result is the declared program's, qubit for qubit.
STATE_TARGET = "state"


def optimize(program: Program, level: int = 2, *, target: str = "qasm", passes: str | None = None,
             verify_each: bool = False, print_ir_after_all=None) -> Program:
    """Run the preset pipeline for ``level`` (0-3) or an explicit pipeline spec on ``program``.

    ``target`` is "qasm", "sim" or "state" (the "sim" passes that keep the full state vector).
    """
    from .passes import PassManager, parse_pipeline

    if passes is not None:
        pipeline = parse_pipeline(passes)
    else:
        if level not in (0, 1, 2, 3):
            raise QCompError(f"optimization level must be 0, 1, 2 or 3, got {level}")
        from .passes.presets import preset_pipeline

        pipeline = preset_pipeline(level, target="sim" if target == STATE_TARGET else target)
    if target == STATE_TARGET:
        from .passes.presets import OUTPUT_PRESERVING_PASSES

        pipeline = [p for p in pipeline if getattr(p, "name", "") not in OUTPUT_PRESERVING_PASSES]
    check = None
    if verify_each:
        from .verify_passes import statevector_equivalence_check

        check = statevector_equivalence_check
    pm = PassManager(pipeline, verify_each=verify_each, equivalence_check=check,
                     print_ir_after_all=print_ir_after_all)
    return pm.run(program)


@dataclass
class Model:
    """A compiled model: the lowered program plus cached optimized forms for each target.

    >>> import qcomp
    >>> m = qcomp.compile("qubit q; param w; rx(w) q; expect z(q);")
    >>> float(m.simulator().expval([0.0])[0, 0])
    1.0
    """

    program: Program
    optimize_level: int = 2
    passes: str | None = None
    _cache: dict[str, Program] = field(default_factory=dict, repr=False)
    # on-disk compile cache (qcomp.cache) and this model's source key; None when uncached
    cache_key: str | None = field(default=None, repr=False, compare=False)
    _disk: Any = field(default=None, repr=False, compare=False)

    def optimized(self, target: str = "qasm") -> Program:
        """The program after the optimization pipeline for ``target``: "qasm", "sim" (outputs
        kept, qubits may be dropped or relabelled) or "state" (the full state of the declared
        qubits kept)."""
        if target == STATE_TARGET and not self._sim_keeps_outputs_only():
            return self.optimized("sim")
        if target not in self._cache:
            def build() -> Program:
                return optimize(self.program, self.optimize_level, target=target, passes=self.passes)

            if self._disk is not None and self.cache_key is not None:
                from .cache import derive_key

                key = derive_key(self.cache_key, level=self.optimize_level, passes=self.passes, target=target)
                self._cache[target] = self._disk.get_or_build(f"program-{target}", key, build, Program)
            else:
                self._cache[target] = build()
        return self._cache[target]

    def _sim_keeps_outputs_only(self) -> bool:
        """Whether the "sim" pipeline has passes that change the state beyond the outputs."""
        from .passes.presets import OUTPUT_PRESERVING_PASSES, preset_spec

        if self.passes is not None:
            from .passes import parse_pipeline

            names = [getattr(p, "name", "") for p in parse_pipeline(self.passes)]
        else:
            names = [n for n, _ in preset_spec(self.optimize_level, "sim")]
        return any(n in OUTPUT_PRESERVING_PASSES for n in names)

    @property
    def num_params(self) -> int:
        return self.program.num_params

    @property
    def num_inputs(self) -> int:
        return self.program.num_inputs

    @property
    def num_outputs(self) -> int:
        return self.program.num_outputs

    def param_names(self) -> list[str]:
        return self.program.param_names()

    def specs(self) -> dict[str, Any]:
        """Resource summary of the source program and of the hardware-optimized one."""
        out = self.program.specs()
        out["optimized"] = self.optimized("qasm").specs()
        return out

    def draw(self) -> str:
        return self.program.draw()

    def qasm(self, version: int = 3, **options: Any) -> str:
        """OpenQASM text (see qcomp.backends.qasm.emit_qasm for ``options``)."""
        return self.qasm_result(version, **options).text

    def qasm_result(self, version: int = 3, **options: Any):
        import inspect

        from .backends.qasm import emit_qasm

        known = [n for n in inspect.signature(emit_qasm).parameters if n not in ("program", "version")]
        unknown = [n for n in options if n not in known]
        if unknown:
            raise InputError(f"unknown qasm option '{unknown[0]}'; valid options: {', '.join(known)}")

        options.setdefault("source", self.program)  # export errors point at the source line
        return emit_qasm(self.optimized("qasm"), version=version, **options)

    def gradient_program(self, order: int = 1, wrt: str = "params"):
        """The symbolic parameter-shift GradientProgram (order 1, or 2 for the Hessian)."""
        from .gradients import gradient_program

        return gradient_program(self.optimized("sim"), wrt=wrt, order=order)

    def hessian(self, params: Any, inputs: Any = None, *, wrt: str = "params"):
        """Exact Hessians by shift rules applied twice, shape (B, n_outputs, P, P), on the simulator."""
        from .gradients import hessian, simulator_executor_for

        sim = self.simulator()
        sim._args(params, inputs)  # an InputError for values that are not real arrays of the declared sizes
        return hessian(sim.program, params, inputs, simulator_executor_for(sim), wrt=wrt)

    def simulator(self, executor: Any = None, **options: Any):
        """A batched statevector simulator of the model (options: precision, threads, batch_size, ...).

        With ``executor`` (a ``qcomp.distributed.DaskExecutor``) the batch rows of every call are
        sharded across its Dask workers (a ``qcomp.distributed.DistributedSimulator``).
        ``expval`` and gradients run the "sim" program; ``state``, ``probs`` and ``sample`` always
        describe the declared qubits (``qubits=`` in declared numbering), even when the passes
        removed idle qubits or relabelled swapped ones.
        """
        _check_simulator_options(options)
        if executor is not None:
            dist = _distributed_model_simulator_class()(self.optimized("sim"), executor, **options)
            dist._model = self
            return dist
        return _model_simulator_class()(self, **options)


def _check_simulator_options(options: Mapping[str, Any]) -> None:
    import inspect

    from .backends.simulator import Simulator

    known = [n for n in inspect.signature(Simulator.__init__).parameters if n not in ("self", "program")]
    for name, value in options.items():
        if name not in known:
            raise InputError(f"unknown simulator option '{name}'; valid options: {', '.join(known)}")
        if name in ("batch_size", "threads", "max_memory_bytes") and value is not None:
            _check_int(value, name, 1)
        if name == "block_qubits":
            _check_int(value, name, 1)


class _DeclaredQubits:
    """probs (and, in _DeclaredState, state and sample) in the declared program's qubit numbering.

    The "sim" program may have dropped idle qubits (dead-qubits), relabelled wires (elide-swaps)
    and removed gates that no output depends on (light-cone): its state is not the model's. Those
    calls therefore run the "state" program, except probs/sample of measured qubits only, which
    those passes keep exact (found by their position in ``measure`` order).
    """

    _model: Model
    _full: Any = None

    def _make_full(self, program: Program) -> Any:
        raise NotImplementedError

    def _full_sim(self) -> Any:
        """The simulator of the state-preserving program, or None when it is this one's program."""
        if self._full is None:
            program = self._model.optimized(STATE_TARGET)
            if program is self.program:  # type: ignore[attr-defined]
                return None
            self._full = self._make_full(program)
        return self._full

    def _measured_qubits(self, qubits: Any) -> tuple[int, ...] | None:
        """``qubits`` (declared numbering) as this program's qubits when all are measured, else None."""
        declared, here = self._model.program.measured, self.program.measured  # type: ignore[attr-defined]
        if not declared or len(declared) != len(here):
            return None
        if qubits is None:
            return tuple(here)
        try:
            qs = [int(q) for q in qubits]
        except (TypeError, ValueError):
            return None  # the simulator reports the bad argument
        if len(set(qs)) != len(qs) or not all(q in declared for q in qs):
            return None
        return tuple(here[declared.index(q)] for q in qs)

    def probs(self, params: Any = None, inputs: Any = None, qubits: Sequence[int] | None = None) -> Any:
        """Outcome probabilities (B, 2**len(qubits)); ``qubits`` in declared numbering."""
        check_qubits(qubits)
        full = self._full_sim()
        if full is None:
            return super().probs(params, inputs, qubits)  # type: ignore[misc]
        mapped = self._measured_qubits(qubits)
        if mapped is not None:
            return super().probs(params, inputs, mapped)  # type: ignore[misc]
        return full.probs(params, inputs, qubits)


class _DeclaredState(_DeclaredQubits):
    """With state and sample too."""

    def state(self, params: Any = None, inputs: Any = None) -> Any:
        """Final state vectors (B, 2**n) of the declared qubits (bit k is declared qubit k)."""
        full = self._full_sim()
        return super().state(params, inputs) if full is None else full.state(params, inputs)  # type: ignore[misc]

    def sample(self, params: Any = None, inputs: Any = None, shots: int = 1024, seed: int | None = None,
               qubits: Sequence[int] | None = None) -> list[dict[str, int]]:
        """Counts per row; bitstrings over ``qubits`` in declared numbering (default: measured, or all)."""
        check_qubits(qubits)
        full = self._full_sim()
        if full is None:
            return super().sample(params, inputs, shots, seed, qubits)  # type: ignore[misc]
        mapped = self._measured_qubits(qubits)
        if mapped is not None:
            return super().sample(params, inputs, shots, seed, mapped)  # type: ignore[misc]
        return full.sample(params, inputs, shots, seed, qubits)


@functools.cache
def _model_simulator_class() -> type:
    # built on first use: importing the simulator (numpy kernels, numexpr) at ``import qcomp``
    # would slow down every command that never simulates
    from .backends.simulator import Simulator
    from .gradients import GradientMethods

    class ModelSimulator(_DeclaredState, GradientMethods, Simulator):
        """The Simulator of ``model.optimized("sim")`` (expval, gradients), with state, probs and
        sample about the model's declared qubits whatever the passes removed or relabelled."""

        def __init__(self, model: Model, **options: Any) -> None:
            super().__init__(model.optimized("sim"), **options)
            self._model = model
            self._options = dict(options)

        def _make_full(self, program: Program) -> Simulator:
            return Simulator(program, **self._options)

    ModelSimulator.__module__, ModelSimulator.__qualname__ = __name__, "ModelSimulator"  # picklable by name
    return ModelSimulator


@functools.cache
def _distributed_model_simulator_class() -> type:
    from .distributed import DistributedSimulator

    class ModelDistributedSimulator(_DeclaredState, DistributedSimulator):
        """A DistributedSimulator whose state, probs and sample describe the model's declared qubits."""

        def _make_full(self, program: Program) -> DistributedSimulator:
            return DistributedSimulator(program, self.executor, shards=self.shards, **self.options)

    ModelDistributedSimulator.__module__ = __name__
    ModelDistributedSimulator.__qualname__ = "ModelDistributedSimulator"
    return ModelDistributedSimulator


def __getattr__(name: str) -> Any:
    # the simulator classes are built on first use; pickle finds them here by name
    if name == "ModelSimulator":
        return _model_simulator_class()
    if name == "ModelDistributedSimulator":
        return _distributed_model_simulator_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def compile(source: str | os.PathLike, optimize: int = 2, *, passes: str | None = None,
            max_qubits: int = DEFAULT_MAX_QUBITS, max_ops: int = DEFAULT_MAX_OPS,
            cache: bool = True) -> Model:  # noqa: A001
    """Compile a ``.q``/``.qasm`` file path or .q source text into a Model.

    ``optimize`` is the preset level 0-3; ``passes`` an explicit pipeline spec instead. With
    ``cache`` (default; off when ``QCOMP_NO_CACHE`` is set) the lowered and optimized programs are
    kept in the on-disk compile cache (``QCOMP_CACHE_DIR`` or ``~/.cache/qcomp``, see qcomp.cache),
    so compiling unchanged source again skips the front end and the passes.
    """
    from .cache import default_cache

    if isinstance(optimize, bool) or optimize not in (0, 1, 2, 3):
        raise QCompError(f"optimization level must be 0, 1, 2 or 3, got {optimize!r}")
    if passes is not None and not isinstance(passes, str):
        raise InputError(f"passes must be a pipeline spec string, got {type(passes).__name__}")
    _check_int(max_qubits, "max_qubits", 1)
    _check_int(max_ops, "max_ops", 1)
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"source must be a file path or .q source text, got {type(source).__name__}")
    is_path = isinstance(source, os.PathLike) or (isinstance(source, str) and _looks_like_path(source))
    if is_path and not Path(source).is_file():
        raise QCompError(f"cannot read '{source}': no such file")
    store = default_cache(cache)
    if store is None or not store.usable():
        program = parse_file(source, max_qubits=max_qubits, max_ops=max_ops) if is_path else \
            parse(str(source), max_qubits=max_qubits, max_ops=max_ops)
        return Model(program, optimize, passes)
    from .cache import source_key

    if is_path:
        from .frontend.source import read_source

        # the one bounded reader of regular files (a FIFO or device given as the model is refused)
        text, _ = read_source(source, name=str(source), error=QCompError, what="")
        name, base_dir = str(source), Path(source).resolve().parent
    else:
        text, name, base_dir = str(source), "<string>", None
    key = source_key(text, name, base_dir, {"max_qubits": max_qubits, "max_ops": max_ops})
    program = store.get_or_build("program", key, lambda: _front_end(text, name, base_dir, max_qubits, max_ops), Program)
    return Model(program, optimize, passes, cache_key=key, _disk=store)


def _front_end(text: str, name: str, base_dir: Path | None, max_qubits: int, max_ops: int) -> Program:
    """What parse_file / parse do, on text already read (so the cache key and the program agree)."""
    from . import frontend

    if name.lower().endswith((".qasm", ".qasm3", ".qasm2")):
        from .frontend.qasm_import import import_qasm

        return import_qasm(text, name, max_qubits=max_qubits, max_ops=max_ops)
    return frontend.parse(text, name=name, max_qubits=max_qubits, max_ops=max_ops, base_dir=base_dir)
