"""``qcomp grad``: export the parameter-shift gradient program as OpenQASM 3 circuits plus manifest.json."""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ExportError, InputError, QCompError
from .._io import is_temporary_name, write_files_atomically
from . import add_source_args, check_outputs, int_in, load_program

NAME = "grad"
HELP = "export the parameter-shift gradient (or Hessian) program: one OpenQASM 3 file per shifted circuit + manifest.json"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_source_args(p)
    p.add_argument("-o", "--output", required=True, help="output directory (created; replaced only if it holds nothing but a previous export)")
    p.add_argument("--order", type=int, choices=(1, 2), default=1, help="1: gradient, 2: Hessian (shift rules applied twice)")
    p.add_argument("--params", help="param values (.npy/.npz/.json/.csv, or a train --save checkpoint), stored in the manifest (and bound into the"
                   " circuits when an angle is not expressible in OpenQASM that Qiskit loads)")
    p.add_argument("--wrt", choices=("params", "inputs", "both"), default="params", help="differentiate with respect to")
    p.add_argument("--backend", choices=("qcomp", "qiskit-statevector", "qiskit-aer"), default=None,
                   help="after exporting, evaluate the gradient program on this backend and print it (needs --params)")
    p.add_argument("--inputs", help="input rows for --backend (.npy/.npz/.json/.csv, one sample per row)")
    p.add_argument("--shots", type=int_in(1, 2**62, "--shots"), default=None, help="shots per measured Pauli group with --backend qiskit-aer")
    p.add_argument("--seed", type=int_in(0, 2**63 - 1, "--seed"), default=None, help="seed for --backend qiskit-aer")


def export_gradient_program(gp, param_values: np.ndarray | None = None) -> tuple[dict[str, str], dict[str, Any]]:
    """Files (name -> OpenQASM 3 text) and the manifest of a GradientProgram."""
    from ..backends.qasm import emit_qasm
    from ..hardware import GRAD_MANIFEST_FORMAT
    from ..ir.expr import to_text

    program = gp.program
    files: dict[str, str] = {}
    circuits = []
    bound = False
    width = max(3, len(str(max(gp.num_circuits - 1, 0))))
    ops = program.circuit.ops()
    for c in range(gp.num_circuits):
        # expectation values only: a terminal 'measure' would stop Qiskit's statevector estimator
        prog_c = replace(gp.shifted_program(c), measured=())
        try:
            res = emit_qasm(prog_c, version=3)
        except ExportError as exc:
            if param_values is None or not program.num_params:
                raise ExportError(
                    f"shifted circuit {c} cannot be written as loadable OpenQASM 3 ({exc.message});"
                    " pass --params to bind the trainable params", exc.span
                ) from None
            res = emit_qasm(prog_c, version=3, bind_params=param_values)
            bound = True
        name = f"circuit_{c:0{width}d}.qasm"
        files[name] = res.text
        qm = res.manifest
        circuits.append({
            "file": name,
            "shifts": [
                {"position": gp.slots[s][0], "gate": str(ops[gp.slots[s][0]]), "angle": gp.slots[s][1], "shift": x,
                 "shift_text": to_text(_const(x))}
                for s, x in gp.circuits[c]
            ],
            "qasm": {k: qm[k] for k in ("params", "params_bound", "inputs", "input_decls", "derived_inputs")},
        })
    if bound:
        # all circuits must agree: re-emit the ones that were symbolic with the params bound
        for c, item in enumerate(circuits):
            if not item["qasm"]["params_bound"] and program.num_params:
                res = emit_qasm(replace(gp.shifted_program(c), measured=()), version=3, bind_params=param_values)
                files[item["file"]] = res.text
                item["qasm"] = {k: res.manifest[k] for k in ("params", "params_bound", "inputs", "input_decls", "derived_inputs")}
    derivatives = []
    for key in sorted(gp.terms):
        o, idx = key[0], list(key[1:])
        derivatives.append({
            "output": o,
            "wrt": [gp.wrt[i].name for i in idx] if gp.order == 2 else gp.wrt[idx[0]].name,
            "wrt_index": idx,
            "terms": [{"circuit": circuits[c]["file"], "coeff": to_text(e)} for c, e in gp.terms[key]],
        })
    n = program.num_qubits
    manifest = {
        "format": GRAD_MANIFEST_FORMAT,
        "source": program.source_name,
        "order": gp.order,
        "num_qubits": n,
        "declarations": [{"kind": d.kind, "name": d.name, "size": d.size, "scalar": d.scalar}
                         for d in program.params + program.inputs],
        "params": program.param_names(),
        "inputs": program.input_names(),
        "wrt": gp.wrt_names(),
        "param_values": [float(v) for v in param_values] if param_values is not None else None,
        "params_bound": bound,
        "outputs": [
            {"index": i, "text": obs.text,
             "pauli": [[lbl, cf] for lbl, cf in obs.sparse_pauli_list(n)] or [["I" * n, 0.0]]}
            for i, obs in enumerate(program.observables)
        ],
        "circuits": circuits,
        "derivatives": derivatives,
        "note": ("d^order output / d wrt = sum over terms of coeff(params, inputs) * <output> of the circuit;"
                 " missing (output, wrt) pairs are exactly zero; order 2 lists i <= j (symmetric)"),
    }
    return files, manifest


def _const(x: float):
    from ..ir.expr import Const

    return Const(x)


_EXPORT_FILE = re.compile(r"manifest\.json|circuit_\d+\.qasm")


def check_output_directory(out: Path) -> None:
    """Refuse an output that is a file, or a directory holding anything a 'qcomp grad' export
    did not write (qcomp's own temporaries aside): its files are replaced by the new export."""
    out = Path(out)
    if not out.exists():
        return
    if not out.is_dir():
        raise QCompError(f"output '{out}' exists and is not a directory")
    old = out / "manifest.json"
    if any(out.iterdir()) and not (old.is_file() and '"qcomp-gradient-manifest/' in old.read_text(errors="replace")):
        raise QCompError(f"output directory '{out}' is not empty and is not a previous 'qcomp grad' export; refusing to replace it")
    foreign = sorted(p.name for p in out.iterdir()
                     if not is_temporary_name(p.name) and (not _EXPORT_FILE.fullmatch(p.name) or not p.is_file()))
    if foreign:
        raise QCompError(
            f"output directory '{out}' holds files a 'qcomp grad' export did not write ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); refusing to replace it"
        )


def write_directory(out: Path, files: dict[str, str], manifest: dict[str, Any]) -> None:
    """Write the circuits and manifest.json into ``out`` as one set (all files or, on a failure,
    none: a previous export stays whole), then remove circuits of a previous export that the new
    one does not have."""
    out = Path(out)
    check_output_directory(out)
    old = [p for p in out.iterdir() if _EXPORT_FILE.fullmatch(p.name) and p.name not in files] if out.is_dir() else []
    contents: dict[Path, str] = {out / name: text for name, text in files.items()}
    contents[out / "manifest.json"] = json.dumps(manifest, indent=2) + "\n"
    write_files_atomically(contents)
    for p in old:
        if p.name != "manifest.json":
            p.unlink(missing_ok=True)


def run(args: argparse.Namespace) -> int:
    from ..passes.param_shift import build_gradient_program

    from .compile import load_inputs_file, load_params_file

    check_output_directory(Path(args.output))
    check_outputs([Path(args.output) / "manifest.json"], [args.source, args.params, args.inputs])
    program = load_program(args)
    from . import require_expect_outputs

    require_expect_outputs(program, "grad")
    values = load_params_file(args.params, program) if args.params else None
    if args.backend and values is None and program.num_params:
        raise InputError("--backend evaluates the gradient and needs --params")
    xrows = load_inputs_file(args.inputs, program) if args.inputs else None
    if args.backend and program.num_inputs and xrows is None:
        raise InputError("--backend evaluates the gradient and needs --inputs for this model")
    gp = build_gradient_program(program, args.wrt, args.order)
    files, manifest = export_gradient_program(gp, values)
    write_directory(Path(args.output), files, manifest)
    print(f"{gp.summary()}\nwrote {len(files)} OpenQASM 3 file(s) and manifest.json to {args.output}")
    if args.backend:
        from ..hardware import run_gradient_program
        from ..hardware.qiskit import executor_for

        grad = run_gradient_program(args.output, executor_for(args.backend, args.shots, args.seed), values, xrows)
        names = [s.name for s in gp.wrt]
        np.set_printoptions(precision=10, suppress=True, linewidth=120)
        print(f"gradient on {args.backend} (rows: samples, outputs; columns: {', '.join(names)}):")
        print(grad)
    return 0
