"""The Python API: ``qcomp.compile`` returns a Model that emits OpenQASM and builds simulators."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import InputError, QCompError, UnsupportedError
from .frontend import DEFAULT_MAX_OPS, DEFAULT_MAX_QUBITS
from .ir.program import Program
from .ir.values import check_qubits
from .pipeline import DEFAULT_LEVEL, STATE_TARGET, Lowered, build, keeps_state, lower


def _check_int(value: Any, what: str, minimum: int | None = None) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise InputError(f"{what} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise InputError(f"{what} must be at least {minimum}, got {value}")


def optimize(program: Program, level: int = DEFAULT_LEVEL, *, target: str = "qasm", passes: str | None = None,
             verify_each: bool = False, print_ir_after_all=None) -> Program:
    """Run the preset pipeline for ``level`` (0-3) or an explicit pipeline spec on ``program``
    (``qcomp.pipeline.build`` without the cache).

    ``target`` is "qasm", "sim" or "state" (the "sim" passes that keep the full state vector).
    """
    return build(program, level, target, passes=passes, verify_each=verify_each,
                 print_ir_after_all=print_ir_after_all)


@dataclass
class Model:
    """A compiled model: the lowered program plus cached optimized forms for each target.

    >>> import qcomp
    >>> m = qcomp.compile("qubit q; param w; rx(w) q; expect z(q);")
    >>> float(m.simulator().expval([0.0])[0])  # flat params: (n_outputs,)
    1.0
    """

    program: Program
    optimize_level: int = DEFAULT_LEVEL
    passes: str | None = None
    _cache: dict[str, Program] = field(default_factory=dict, repr=False)
    # on-disk compile cache (qcomp.cache) and this model's source key; None when uncached
    cache_key: str | None = field(default=None, repr=False, compare=False)
    _disk: Any = field(default=None, repr=False, compare=False)
    # the qubit limit, also for the ancillas a dynamic circuit's simulation adds (qcomp.ir.dynamic)
    max_qubits: int = field(default=DEFAULT_MAX_QUBITS, repr=False, compare=False)

    def optimized(self, target: str = "qasm", *, verify_each: bool = False, print_ir_after_all=None,
                  defer: bool = True) -> Program:
        """The program after the optimization pipeline for ``target``: "qasm", "sim" (outputs
        kept, qubits may be dropped or relabelled) or "state" (the full state of the declared
        qubits kept). Built once per target (and kept in the compile cache when there is one);
        ``verify_each`` / ``print_ir_after_all`` (see ``optimize``) run the passes again.
        ``defer=False``: "sim"/"state" keep mid-circuit measurements, resets and conditions (what
        the branch simulator runs) instead of deferring them to ancillas."""
        if target == STATE_TARGET and keeps_state(self.optimize_level, self.passes):
            target = "sim"
        lowered = Lowered(self.program, self.cache_key, self._disk)
        if verify_each or print_ir_after_all is not None:
            return build(lowered, self.optimize_level, target, passes=self.passes, verify_each=verify_each,
                         print_ir_after_all=print_ir_after_all, max_qubits=self.max_qubits, defer=defer)
        key = target if defer else f"{target}/branches"
        if key not in self._cache:
            self._cache[key] = build(lowered, self.optimize_level, target, passes=self.passes,
                                     max_qubits=self.max_qubits, defer=defer)
        return self._cache[key]

    @property
    def runs_branches(self) -> bool:
        """Whether ``simulator()`` (without ``method=``) runs this program on the branch simulator
        (qcomp.backends.dynamic_sim.prefers_branches; docs/language.md "Dynamic circuits")."""
        if "runs_branches" not in self.__dict__:
            from .backends.dynamic_sim import prefers_branches

            self.__dict__["runs_branches"] = prefers_branches(self.program, self.max_qubits)
        return self.__dict__["runs_branches"]

    @property
    def is_noisy(self) -> bool:
        """Whether the program holds noise channels (then it simulates with qcomp.noise's simulators)."""
        from .pipeline import has_channels

        return has_channels(self.program)

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

        if self.is_noisy:
            raise UnsupportedError("Hessians of noisy programs are not offered (gradients are: simulator().gradient)")
        if self.runs_branches:
            raise UnsupportedError("Hessians of dynamic programs simulated by branches are not offered (gradients "
                                   "are: simulator().gradient)")
        sim = self.simulator()
        sim._args(params, inputs)  # an InputError for values that are not real arrays of the declared sizes
        return hessian(sim.program, params, inputs, simulator_executor_for(sim), wrt=wrt)

    def _noisy_program(self, noise: Any) -> Program:
        """What the noisy simulators run: the noise model applied to the program as written (it
        attaches by the source's gate names), then the "state" pipeline, channels acting as fences
        (the output-only passes, which drop or renumber qubits, are left out: noisy simulators
        answer probs, sample and density_matrix about the declared qubits)."""
        from .noise import as_noise_model

        model = as_noise_model(noise)
        if model is None:
            return self.optimized(STATE_TARGET)
        return build(model.apply(self.program), self.optimize_level, STATE_TARGET, passes=self.passes)

    def simulator(self, executor: Any = None, **options: Any):
        """A batched statevector simulator of the model (options: precision, threads, batch_size, ...).

        With ``noise=`` (a ``qcomp.noise.NoiseModel``, its JSON file or a Qiskit Aer noise model),
        ``method=`` ("auto", "density_matrix", "trajectories"), or channels in the program, the
        noisy simulator of ``qcomp.noise.simulator`` instead (options ``trajectories``, ``shots``, ``seed``,
        ``threads``, ``max_memory_bytes``; the noise is applied to the program as written).

        A dynamic program (mid-circuit measurements, resets, conditions) runs with its measurements
        deferred to ancilla qubits, or on ``qcomp.backends.dynamic_sim.BranchSimulator`` (one
        density matrix per record of the measured bits that conditions read) with
        ``method="branches"`` or when ``runs_branches`` (deferral over ``max_qubits``, or over 12
        qubits in all for a program of at most 10 qubits or with as many ancillas as qubits). Its
        options: ``threads``, ``max_memory_bytes``, ``batch_size``, ``shots``, ``seed``, ``noise``
        (double precision; gradients by parameter shift). ``method="defer"`` (the statevector
        simulator; with noise the noisy "auto" choice), ``"density_matrix"`` and ``"trajectories"``
        keep deferral.

        With ``executor`` (a ``qcomp.distributed.DaskExecutor``) the batch rows of every call are
        sharded across its Dask workers (a ``qcomp.distributed.DistributedSimulator``).
        ``expval`` and gradients run the "sim" program; ``state``, ``probs`` and ``sample`` always
        describe the declared qubits (``qubits=`` in declared numbering), even when the passes
        removed idle qubits or relabelled swapped ones.
        """
        if options.get("method") == "branches" or (options.get("method") in (None, "auto") and self.runs_branches):
            return self._branch_simulator(executor, options)
        if options.get("method") == "defer":  # deferral, whatever runs_branches says
            options.pop("method")
            if "noise" in options or self.is_noisy:
                options["method"] = "auto"
        noisy = {k: options.pop(k) for k in ("noise", "method", "trajectories") if k in options}
        if noisy or self.is_noisy:  # channels or a noise model: qcomp.noise's simulators (docs/noise.md)
            for k in ("seed", "shots"):  # the shots' seed (and on trajectories the trajectories')
                if k in options:
                    noisy[k] = options.pop(k)
            from .noise import simulator as noisy_simulator

            if executor is not None:
                raise InputError("noisy simulation runs in this process; it cannot take a Dask executor")
            if options.pop("precision", "double") != "double":  # the bridges pass their precision on
                raise UnsupportedError("noisy simulation runs in double precision only")
            unknown = [k for k in options if k not in ("threads", "max_memory_bytes")]
            if unknown:
                raise InputError(f"unknown noisy simulator option '{unknown[0]}'; valid options: noise, method, "
                                 "trajectories, shots, seed, threads, max_memory_bytes")
            return noisy_simulator(self._noisy_program(noisy.get("noise")), None, method=noisy.get("method") or "auto",
                                   trajectories=noisy.get("trajectories"), seed=noisy.get("seed"),
                                   shots=noisy.get("shots"), **options)
        _check_simulator_options(options)
        if executor is not None and options.get("shots") is not None:
            raise InputError("shots are simulated on one machine; a Dask executor runs exact simulations only")
        if executor is not None:
            dist = _distributed_model_simulator_class()(self.optimized("sim"), executor, **options)
            dist._model = self
            return dist
        return _model_simulator_class()(self, **options)


    def _branch_simulator(self, executor: Any, options: dict[str, Any]):
        """``simulator(method="branches")`` (or the automatic choice for a large dynamic program)."""
        from .backends.dynamic_sim import BranchSimulator

        options = dict(options)
        options.pop("method", None)
        noise = options.pop("noise", None)
        if executor is not None:
            raise InputError("the branch simulator of dynamic circuits runs in this process; it cannot take a Dask "
                             "executor")
        if options.pop("precision", "double") != "double":  # the bridges and the CLI pass their precision on
            raise UnsupportedError("the branch simulator of dynamic circuits runs in double precision only")
        known = ("threads", "max_memory_bytes", "batch_size", "shots", "seed")
        unknown = [k for k in options if k not in known]
        if unknown:
            raise InputError(f"unknown option '{unknown[0]}' of the branch simulator (method='branches'); valid "
                             f"options: noise, {', '.join(known)}")
        for name in ("threads", "max_memory_bytes", "batch_size"):
            if options.get(name) is not None:
                _check_int(options[name], name, 1)
        if noise is not None or self.is_noisy:
            from .noise import as_noise_model

            model = as_noise_model(noise)
            program = self.program if model is None else model.apply(self.program)
            # the noisy simulators answer about the declared qubits: the "state" passes only
            return BranchSimulator(build(program, self.optimize_level, STATE_TARGET, passes=self.passes,
                                         max_qubits=self.max_qubits, defer=False), **options)
        return _branch_model_simulator_class()(self, **options)


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
    """probs, state and sample (so also the Probabilities, State and Samples outputs) in the declared
    program's qubit numbering.

    The "sim" program may have dropped idle qubits (dead-qubits), relabelled wires (elide-swaps)
    and removed gates that no output depends on (light-cone): its state is not the model's. Those
    calls therefore run the "state" program, except probs/sample of measured qubits only, which
    those passes keep exact (found by their position in ``measure`` order).
    """

    _model: Model
    _full: Any = None
    _defer = True  # the programs keep dynamic operations (False: the branch simulator's) or defer them

    def _make_full(self, program: Program) -> Any:
        raise NotImplementedError

    def _full_sim(self) -> Any:
        """The simulator of the state-preserving program, or None when it is this one's program."""
        if self._full is None:
            program = self._model.optimized(STATE_TARGET, defer=self._defer)
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

    class ModelSimulator(_DeclaredQubits, GradientMethods, Simulator):
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
def _branch_model_simulator_class() -> type:
    from .backends.dynamic_sim import BranchSimulator

    class BranchModelSimulator(_DeclaredQubits, BranchSimulator):
        """The BranchSimulator of ``model.optimized("sim", defer=False)`` (expval, gradients), with
        probs, sample and density_matrix about the model's declared qubits."""

        _defer = False

        def __init__(self, model: Model, **options: Any) -> None:
            super().__init__(model.optimized("sim", defer=False), **options)
            self._model = model
            self._options = dict(options)

        def _make_full(self, program: Program) -> Any:
            return BranchSimulator(program, **self._options)

        def density_matrix(self, params: Any = None, inputs: Any = None) -> Any:
            """Final density matrices (B, 2**n, 2**n) of the declared qubits."""
            full = self._full_sim()
            return super().density_matrix(params, inputs) if full is None else full.density_matrix(params, inputs)

        def state(self, params: Any = None, inputs: Any = None) -> Any:
            raise UnsupportedError("a dynamic circuit prepares a mixture of branches, not a state vector; use "
                                   "density_matrix(), probs() or expval()")

    BranchModelSimulator.__module__, BranchModelSimulator.__qualname__ = __name__, "BranchModelSimulator"
    return BranchModelSimulator


@functools.cache
def _distributed_model_simulator_class() -> type:
    from .distributed import DistributedSimulator

    class ModelDistributedSimulator(_DeclaredQubits, DistributedSimulator):
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
    if name == "BranchModelSimulator":
        return _branch_model_simulator_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def compile(source: str | os.PathLike, optimize: int = DEFAULT_LEVEL, *, passes: str | None = None,
            max_qubits: int = DEFAULT_MAX_QUBITS, max_ops: int = DEFAULT_MAX_OPS,
            cache: bool = True) -> Model:  # noqa: A001
    """Compile a ``.q``/``.qasm`` file path or .q source text into a Model.

    ``optimize`` is the preset level 0-3; ``passes`` an explicit pipeline spec instead. With
    ``cache`` (default; off when ``QCOMP_NO_CACHE`` is set) the lowered and optimized programs are
    kept in the on-disk compile cache (``QCOMP_CACHE_DIR`` or ``~/.cache/qcomp``, see qcomp.cache),
    so compiling unchanged source again skips the front end and the passes.
    """
    if isinstance(optimize, bool) or optimize not in (0, 1, 2, 3):
        raise QCompError(f"optimization level must be 0, 1, 2 or 3, got {optimize!r}")
    if passes is not None and not isinstance(passes, str):
        raise InputError(f"passes must be a pipeline spec string, got {type(passes).__name__}")
    _check_int(max_qubits, "max_qubits", 1)
    _check_int(max_ops, "max_ops", 1)
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"source must be a file path or .q source text, got {type(source).__name__}")
    lowered = lower(source, max_qubits=max_qubits, max_ops=max_ops, cache=cache)
    return Model(lowered.program, optimize, passes, cache_key=lowered.key, _disk=lowered.store, max_qubits=max_qubits)
