"""The Python API: ``qcomp.compile`` returns a Model that emits OpenQASM and builds simulators."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import QCompError
from .frontend import DEFAULT_MAX_OPS, DEFAULT_MAX_QUBITS, parse, parse_file
from .ir.program import Program


def _looks_like_path(s: str) -> bool:
    return "\n" not in s and ";" not in s and s.strip().endswith((".q", ".qasm", ".qasm3", ".qasm2"))


def optimize(program: Program, level: int = 2, *, target: str = "qasm", passes: str | None = None,
             verify_each: bool = False, print_ir_after_all=None) -> Program:
    """Run the preset pipeline for ``level`` (0-3) or an explicit pipeline spec on ``program``."""
    from .passes import PassManager, parse_pipeline

    if passes is not None:
        pipeline = parse_pipeline(passes)
    else:
        if level not in (0, 1, 2, 3):
            raise QCompError(f"optimization level must be 0, 1, 2 or 3, got {level}")
        from .passes.presets import preset_pipeline

        pipeline = preset_pipeline(level, target=target)
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
        """The program after the optimization pipeline for ``target`` ("qasm" or "sim")."""
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
        from .backends.qasm import emit_qasm

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
        return hessian(sim.program, params, inputs, simulator_executor_for(sim), wrt=wrt)

    def simulator(self, executor: Any = None, **options: Any):
        """A batched statevector simulator of the model (options: precision, threads, batch_size, ...).

        With ``executor`` (a ``qcomp.distributed.DaskExecutor``) the batch rows of every call are
        sharded across its Dask workers (a ``qcomp.distributed.DistributedSimulator``).
        """
        if executor is not None:
            from .distributed import DistributedSimulator

            return DistributedSimulator(self.optimized("sim"), executor, **options)
        from .backends.simulator import Simulator

        return Simulator(self.optimized("sim"), **options)


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

    if optimize not in (0, 1, 2, 3):
        raise QCompError(f"optimization level must be 0, 1, 2 or 3, got {optimize}")
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
        p = Path(source)
        try:
            text = p.read_text(encoding="utf-8-sig")  # a UTF-8 byte-order mark is not part of the program
        except (OSError, UnicodeDecodeError) as exc:
            raise QCompError(f"cannot read '{source}': {exc}") from None
        name, base_dir = str(source), p.resolve().parent
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
