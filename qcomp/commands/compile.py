"""``qcomp compile``: optimize a model and write OpenQASM 3 (or 2) plus a JSON manifest."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .._io import atomic_write_text, is_special_output, write_files_atomically
from .values import read_values_file
from ..errors import ExportError, InputError
from ..ir.channels import is_channel
from . import add_level_arg, add_source_args, check_outputs, load_model

NAME = "compile"
HELP = "compile a model (.q or .qasm) to OpenQASM 3 (or 2) with a JSON manifest"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_source_args(p)
    p.add_argument("-o", "--output", help="output .qasm file ('-' for stdout); default: <model>.qasm beside the input")
    p.add_argument("--manifest", help="manifest path (default: <output>.json; none for stdout, a device or a FIFO unless given)")
    p.add_argument("--qasm-version", type=int, choices=(2, 3), default=3, help="OpenQASM version (default 3)")
    add_level_arg(p, "exported")
    p.add_argument("--passes", help="explicit pass pipeline instead of the -O preset, e.g. 'cancel-inverses,merge-rotations'")
    p.add_argument("--verify-each", action="store_true",
                   help="after every pass run the IR verifier and (<= 12 qubits) a statevector equivalence check")
    p.add_argument("--print-ir-after-all", action="store_true", help="print the IR to stderr after every pass")
    p.add_argument("--basis", help="translate to these gates, e.g. rz,sx,x,cx")
    p.add_argument("--noise-out", metavar="FILE.json", default=None,
                   help="for a program with noise channels: export the noiseless circuit as written and the channels to this JSON")
    p.add_argument("--bind-params", metavar="FILE", help="fold trained params in (.npy/.npz/.json/.csv, flat or by name, or a train --save checkpoint)")
    p.add_argument("--bind-inputs", metavar="FILE",
                   help="fold data in (.npy/.npz/.json/.csv, one row per sample): one program per sample")
    p.add_argument("--inputs", choices=("symbolic", "bound"), default=None,
                   help="keep inputs as 'input float[64]' declarations (symbolic, default) or bind them (needs --bind-inputs)")


# -- value files ---------------------------------------------------------------------------------


def load_params_file(path: str, program) -> np.ndarray:
    """Flat param values (P,) from a value file (:func:`qcomp.commands.values.read_values_file`): one row."""
    values, _ = read_values_file(path, program.params, "param")
    if values.shape[0] != 1:
        raise InputError(f"{path}: params have {values.shape[0]} rows; one row of {program.num_params} values is bound")
    return values[0]


def load_inputs_file(path: str, program) -> np.ndarray:
    """Input rows (B, I) from a value file (:func:`qcomp.commands.values.read_values_file`)."""
    values, _ = read_values_file(path, program.inputs, "input")
    return values


# -- the command ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    from ..backends.qasm import emit_qasm

    model = load_model(args)
    program = model.program
    program.circuit.verify()
    pvals = load_params_file(args.bind_params, program) if args.bind_params else None
    mode = args.inputs or ("bound" if args.bind_inputs else "symbolic")
    if mode == "bound" and not args.bind_inputs and program.num_inputs:
        raise InputError("--inputs bound needs --bind-inputs FILE")
    if mode == "symbolic" and args.bind_inputs:
        raise InputError("--bind-inputs folds the inputs in; it cannot be combined with --inputs symbolic")
    xrows = load_inputs_file(args.bind_inputs, program) if args.bind_inputs else None
    basis = [b.strip() for b in args.basis.split(",") if b.strip()] if args.basis else None
    targets = _targets(args, 1 if xrows is None else len(xrows))

    dump = (lambda text: print(text, file=sys.stderr)) if args.print_ir_after_all else None
    noise_json = None
    if model.is_noisy or args.noise_out:  # channels are not OpenQASM (docs/noise.md)
        from ..noise import split_channels

        first = next(op for op in program.circuit.ops() if is_channel(op.name)) if model.is_noisy else None
        if args.noise_out is None:
            raise ExportError(f"'{first.name}' is a noise channel, which OpenQASM cannot express; pass --noise-out "
                              "FILE.json to export the noiseless circuit and write the channels beside it", first.span)
        if first is None:
            raise InputError("--noise-out is for programs with noise channels; this one has none")
        check_outputs([args.noise_out], [args.source])
        program, noise_json = split_channels(program)
        optimized = program  # as written: the channels' positions count its gates
    else:
        optimized = model.optimized("qasm", verify_each=args.verify_each, print_ir_after_all=dump)

    results = []
    if xrows is None:
        results.append(emit_qasm(optimized, version=args.qasm_version, bind_params=pvals, basis=basis, source=program))
    else:
        for row in xrows:
            results.append(emit_qasm(optimized, version=args.qasm_version, bind_params=pvals, bind_inputs=row, basis=basis,
                                      source=program))
    for r in results:
        r.manifest["optimization"] = args.passes if args.passes is not None else f"-O{args.opt_level}"

    if noise_json is not None:
        if len(results) > 1 or targets is None:
            raise InputError("--noise-out writes one circuit file: give -o FILE.qasm and no --bind-inputs rows")
        noise_json["qasm"] = str(targets[0][0])
    if targets is None:  # stdout
        sys.stdout.write(results[0].text)
        if args.manifest:
            atomic_write_text(args.manifest, json.dumps(results[0].manifest, indent=2) + "\n")
        return 0
    # Everything succeeded: now write the whole set (all files or, on a failure, none).
    files: dict[Path, str] = {}
    for r, (qp, mp) in zip(results, targets):
        files[qp] = r.text
        if mp is not None:
            files[mp] = json.dumps(r.manifest, indent=2) + "\n"
    if noise_json is not None:
        files[Path(args.noise_out)] = json.dumps(noise_json, indent=1) + "\n"
    write_files_atomically(files)
    if len(results) > 1:
        print(f"wrote {len(results)} programs: {targets[0][0]} ... {targets[-1][0]}", file=sys.stderr)
    elif targets[0][1] is not None:
        print(f"wrote {targets[0][0]} and {targets[0][1]}", file=sys.stderr)
    else:
        print(f"wrote {targets[0][0]}", file=sys.stderr)
    unused = results[0].manifest.get("unused_params") or []
    if unused:
        print(f"note: params no longer affecting any output (gradient identically zero): {', '.join(unused)}",
              file=sys.stderr)
    return 0


def _targets(args: argparse.Namespace, n: int) -> list[tuple[Path, Path | None]] | None:
    """(program, manifest) paths per sample, checked before any work; None for stdout. A device
    or FIFO output (/dev/null, a pipe) gets no manifest beside it unless --manifest names one."""
    inputs = [args.source, args.bind_params, args.bind_inputs]
    src = Path(args.source)
    many = n > 1
    if many and args.manifest:
        raise InputError("--manifest names one file; with several samples each NAME_i.qasm gets NAME_i.qasm.json")
    if args.output == "-":
        if many:
            raise InputError(f"--bind-inputs gave {n} samples; write them to files (-o DIR/ or -o NAME.qasm), not stdout")
        check_outputs([args.manifest], inputs)
        return None
    out = Path(args.output) if args.output else src.with_suffix(".qasm")
    if args.output and (args.output.endswith(("/", "\\")) or out.is_dir()):
        out = out / (src.stem + ".qasm")
    if out.resolve() == src.resolve():
        raise InputError(f"output '{out}' would overwrite the input; choose another path with -o")
    special = is_special_output(out)
    if many and special:
        raise InputError(f"--bind-inputs gave {n} samples; write them to files (-o DIR/ or -o NAME.qasm), not '{out}'")
    targets: list[tuple[Path, Path | None]] = []
    for i in range(n):
        qasm_path = out.with_name(f"{out.stem}_{i}{out.suffix or '.qasm'}") if many else out
        if args.manifest:
            man_path: Path | None = Path(args.manifest)
        else:
            man_path = None if special else qasm_path.with_name(qasm_path.name + ".json")
        targets.append((qasm_path, man_path))
    check_outputs([p for pair in targets for p in pair], inputs)
    return targets
