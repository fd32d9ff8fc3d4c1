"""``qcomp run``: simulate a model on params and inputs; print or write expectation values or counts.

The simulated program is the model's -O<level> "sim" program (qcomp.pipeline, default -O2), the
one ``qcomp.compile(...).simulator()`` and ``qcomp train`` simulate; ``--shots N`` estimates the
declared outputs from N measurements per qubit-wise commuting group, with standard errors
(docs/shots.md); ``--shots N --counts`` (or a model without outputs) samples the declared qubits
whatever the passes removed or relabelled. ``--backend qiskit-*`` runs the
-O<level> OpenQASM 3 that ``qcomp compile`` writes.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import numpy as np

from .._io import atomic_write_bytes, atomic_write_text
from .values import read_values_file
from ..errors import ExportError, InputError, QCompError, UnsupportedError
from . import add_level_arg, add_source_args, check_outputs, int_in, load_model
from .noise_options import add_noise_arguments, noise_options

NAME = "run"
HELP = "simulate a model: expectation values (shot estimates with --shots, counts with --counts) for params and a batch of inputs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_source_args(p)
    add_level_arg(p, "simulated")
    p.add_argument("--params", help="parameter values: .npy, .npz (arrays by declared name, or a train --save checkpoint), .json or .csv")
    p.add_argument("--inputs", help="input rows: .npy, .npz, .json or .csv (one sample per row)")
    p.add_argument("--backend", choices=("qcomp", "qiskit-statevector", "qiskit-aer"), default="qcomp",
                   help="qcomp's simulator (default), or the compiled OpenQASM 3 run through Qiskit: exact statevector or Aer shots")
    p.add_argument("--shots", type=int_in(1, 2**62, "--shots"), help="estimate the outputs from this many measurements per"
                   " qubit-wise commuting group, with standard errors (with --counts or without outputs: sample the measured"
                   " qubits, all if none); with --backend qiskit-aer and 'expect' outputs: shots per measured Pauli group (default 4096)")
    p.add_argument("--counts", action="store_true",
                   help="with --shots: print the raw counts of the measured qubits instead of the outputs' estimates")
    p.add_argument("--seed", type=int_in(0, 2**63 - 1, "--seed"), default=None, help="random seed for --shots")
    p.add_argument("--batch-size", type=int, default=None, help="rows simulated at once (memory)")
    p.add_argument("--precision", choices=("double", "single"), default="double")
    p.add_argument("--threads", type=int_in(1, 4096, "--threads"), default=None, help="threads (default: QCOMP_NUM_THREADS or all cores)")
    p.add_argument("-o", "--output", default=None, help="write results to .npy, .json or .csv instead of printing")
    add_noise_arguments(p)


def run(args: argparse.Namespace) -> int:
    if args.output is not None and Path(args.output).suffix.lower() not in (".npy", ".json", ".csv"):
        raise QCompError(f"output file '{args.output}' must end in .npy, .json or .csv")
    check_outputs([args.output], [args.source, args.params, args.inputs])
    model = load_model(args)
    program = model.program  # the declared params, inputs and outputs (the values' names)
    params = _values(args.params, program.params, "param")
    inputs = _values(args.inputs, program.inputs, "input")
    if params is None and program.num_params:
        raise InputError(f"the model declares {program.num_params} params; pass them with --params")
    if args.backend != "qcomp" and (args.noise or args.noise_method):  # not silently noiseless
        raise InputError("--noise runs on qcomp's simulator (--backend qcomp); for Qiskit Aer, "
                         "qcomp.noise.NoiseModel.load(FILE).to_qiskit() gives Aer the same noise model")
    if args.backend != "qcomp":
        from ..hardware.qiskit import run_for_cli

        if not program.expectations_only and args.shots is None:
            raise UnsupportedError(
                "--backend " + args.backend + " runs 'expect' outputs only; this model declares "
                + ", ".join(sorted({o.kind for o in program.outputs} - {"expectation"}))
                + " outputs: run it with --backend qcomp, or compile it and compute them from counts"
                " (the manifest's declared_outputs, see docs/qasm.md)")

        if params is not None and params.ndim == 1:
            # one row of params is folded into the angles as numbers, as 'compile --bind-params' does,
            # so angles Qiskit cannot load as parameter expressions (rx(sin(w))) run too
            model, params = bind_params(model, params), None
        try:
            kind, result = run_for_cli(model, params, inputs, args.backend, shots=args.shots, seed=args.seed)
        except ExportError as exc:
            if exc.message.endswith("bind the params (--bind-params) or rewrite the angle"):
                raise ExportError(exc.message.replace("bind the params (--bind-params)",
                                                      "give one row of --params (qcomp run binds it)"),
                                  exc.span, exc.notes) from None
            raise
        if kind == "counts":
            _emit_counts(args, result)
        else:
            _emit_values(args, result, [o.text or f"output{k}" for k, o in enumerate(program.observables)])
        return 0
    if args.counts and args.shots is None:
        raise InputError("--counts prints sampled counts: give --shots N too")
    noisy = noise_options(args, model)
    if args.shots is not None and not args.counts and program.outputs:
        _run_shots(args, model, params, inputs, noisy)
        return 0
    sim = model.simulator(precision=args.precision, batch_size=args.batch_size, threads=args.threads) if noisy is None \
        else model.simulator(threads=args.threads, **noisy)
    if args.shots is not None:
        counts = sim.sample(params, inputs, shots=args.shots, seed=args.seed)
        _emit_counts(args, [counts] if isinstance(counts, dict) else counts)  # the CLI always prints rows
    elif not program.expectations_only:
        _emit_values(args, *declared_columns(program, sim.outputs(params, inputs, seed=args.seed)))
    else:
        values = np.atleast_2d(sim.expval(params, inputs))  # the CLI always prints rows
        names = [o.text or f"output{k}" for k, o in enumerate(program.observables)]
        if not names:
            raise QCompError("the model has no 'expect' outputs; use --shots to sample its measured qubits")
        _emit_values(args, values, names)
    return 0


def _run_shots(args, model, params, inputs, noisy=None) -> None:
    """``--shots N``: estimates of the declared outputs from N measurements per group (qcomp.backends.shots),
    each with its standard error; a vector output (probabilities) gives one column per entry. A noisy
    run (``noisy``: the --noise options) samples the noisy simulator the same way (docs/noise.md)."""
    program = model.program
    if noisy is None:
        sim = model.simulator(precision=args.precision, batch_size=args.batch_size, threads=args.threads,
                              shots=args.shots, seed=args.seed)
    else:
        sim = model.simulator(threads=args.threads, **{**noisy, "shots": args.shots, "seed": args.seed})
    est = sim.estimate(params, inputs)
    names: list[str] = []
    cols, errs = [], []
    for k, (o, v, e) in enumerate(zip(program.outputs, est.values, est.stderr)):
        v2 = np.asarray(v, dtype=float)
        e2 = np.asarray(e, dtype=float)
        per_row = o.shape(program.num_qubits)
        rows = v2.reshape((-1,) + per_row)
        rows_e = e2.reshape((-1,) + per_row)
        text = getattr(getattr(o, "observable", None), "text", "") or f"{o.kind}{k}"
        if per_row:
            for j in range(int(np.prod(per_row))):
                names.append(f"{text}[{j}]")
            cols.append(rows.reshape(rows.shape[0], -1))
            errs.append(rows_e.reshape(rows.shape[0], -1))
        else:
            names.append(text)
            cols.append(rows[:, None])
            errs.append(rows_e[:, None])
    values, stderr = np.concatenate(cols, axis=1), np.concatenate(errs, axis=1)
    out = args.output
    suffix = Path(out).suffix.lower() if out else ""
    if out is None:
        print(f"shots: {args.shots} per measured group" + (f", seed {args.seed}" if args.seed is not None else ""))
        print(estimate_table(values, stderr, names), end="")
    elif suffix == ".npy":  # (2, B, n): the estimates, then their standard errors
        buf = io.BytesIO()
        np.save(buf, np.stack([values, stderr]))
        atomic_write_bytes(out, buf.getvalue())
    elif suffix == ".json":
        atomic_write_text(out, json.dumps({"outputs": names, "values": values.tolist(), "stderr": stderr.tolist(),
                                           "shots": args.shots, "seed": args.seed}, indent=2) + "\n")
    else:
        s = io.StringIO()
        w = csv.writer(s, lineterminator="\n")
        w.writerow(names + [f"stderr of {n}" for n in names])
        for row, err in zip(values, stderr):
            w.writerow([repr(float(v)) for v in row] + [repr(float(v)) for v in err])
        atomic_write_text(out, s.getvalue())


def estimate_table(values: np.ndarray, stderr: np.ndarray, names: list[str]) -> str:
    """The printed table of shot estimates: the legend of the outputs, then per sample each output's
    estimate and its standard error (``stderr0`` beside ``output0``), columns right-aligned."""
    cols = [c for k in range(len(names)) for c in (f"output{k}", f"stderr{k}")]
    cells = [[f"{float(x):.10f}" for pair in zip(v, e) for x in pair] for v, e in zip(values, stderr)]
    widths = [max([len(c)] + [len(r[k]) for r in cells]) for k, c in enumerate(cols)]
    first = max(len("sample"), len(str(max(len(cells) - 1, 0))))
    lines = [f"output{k}: {n}" for k, n in enumerate(names)]
    lines.append(f"{'sample':>{first}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(cols, widths)))
    lines += [f"{b:>{first}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(row, widths)) for b, row in enumerate(cells)]
    return "\n".join(lines) + "\n"


def bind_params(model, values: np.ndarray):
    """``model`` with its params replaced by the numbers ``values`` (P,) in every gate angle, at the
    same optimization level: what 'qcomp compile --bind-params' exports."""
    from ..api import Model
    from ..ir.circuit import Circuit
    from ..ir.expr import Const
    from ..ir.ops import Operation

    program = model.program
    mapping = {s: Const(float(v)) for s, v in zip(program.param_symbols(), values)}
    ops = [Operation(op.name, op.qubits, tuple(a.subs(mapping) for a in op.angles), op.span)
           for op in program.circuit.ops()]
    bound = program.with_circuit(Circuit.from_ops(program.num_qubits, ops), params=())
    return Model(bound, model.optimize_level, model.passes)


def declared_columns(program, values: list) -> tuple[np.ndarray, list[str], list[str]]:
    """Declared outputs (var, probs, sample, expect) as one table: a column per scalar output,
    ``outputK[j]`` per element of a vector one (probabilities of outcome j, sample j), rows per
    batch row; with the legend names (the output texts) and the column headers."""
    texts = program.output_texts()
    cols, names, headers = [], [], []
    for k, (v, text) in enumerate(zip(values, texts)):
        shape = program.outputs[k].shape(program.num_qubits)
        v = np.asarray(v, dtype=float).reshape((-1,) + shape)  # the CLI always prints rows
        if not shape:
            cols.append(v[:, None])
            headers.append(f"output{k}")
        else:
            cols.append(v.reshape(v.shape[0], -1))
            headers += [f"output{k}[{j}]" for j in range(cols[-1].shape[1])]
        names.append(text)
    return np.concatenate(cols, axis=1), names, headers


def _values(path: str | None, decls, kind: str) -> np.ndarray | None:
    """The values of a ``--params`` / ``--inputs`` file (one shared row of params is passed flat)."""
    if not path:
        return None
    values, _ = read_values_file(path, decls, kind)
    return values[0] if kind == "param" and values.shape[0] == 1 else values


def _emit_values(args, values: np.ndarray, names: list[str], headers: list[str] | None = None) -> None:
    out = args.output
    if out is None:
        print(value_table(values, names, headers), end="")
        return
    suffix = Path(out).suffix.lower()
    if suffix == ".npy":
        buf = io.BytesIO()
        np.save(buf, values)
        atomic_write_bytes(out, buf.getvalue())
    elif suffix == ".json":
        doc = {"outputs": names, "values": values.tolist()}
        if headers is not None:
            doc["columns"] = headers
        atomic_write_text(out, json.dumps(doc, indent=2) + "\n")
    else:
        s = io.StringIO()
        w = csv.writer(s, lineterminator="\n")
        w.writerow(names if headers is None else headers)
        for row in values:
            w.writerow([repr(float(v)) for v in row])
        atomic_write_text(out, s.getvalue())


def value_table(values: np.ndarray, names: list[str], headers: list[str] | None = None) -> str:
    """The printed table: a legend of the outputs (``output0: z(q[0])``), then one row per sample
    under short headers ``output0 ...`` (``output1[j]`` per element of a vector output such as
    probs); every column right-aligned to its widest cell, signs included, so negative values
    line up with positive ones."""
    cols = [f"output{k}" for k in range(len(names))] if headers is None else headers
    cells = [[f"{float(v):.10f}" for v in row] for row in values]
    widths = [max([len(c)] + [len(r[k]) for r in cells]) for k, c in enumerate(cols)]
    first = max(len("sample"), len(str(max(len(cells) - 1, 0))))
    lines = [f"output{k}: {n}" for k, n in enumerate(names)]
    lines.append(f"{'sample':>{first}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(cols, widths)))
    lines += [f"{b:>{first}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(row, widths)) for b, row in enumerate(cells)]
    return "\n".join(lines) + "\n"


def _emit_counts(args, counts: list[dict[str, int]]) -> None:
    out = args.output
    keys = sorted({k for c in counts for k in c})
    if out is None:
        for b, c in enumerate(counts):
            print(f"sample {b}: " + ", ".join(f"{k}: {c[k]}" for k in sorted(c)))
        return
    suffix = Path(out).suffix.lower()
    if suffix == ".json":
        atomic_write_text(out, json.dumps({"counts": counts}, indent=2) + "\n")
        return
    table = np.array([[c.get(k, 0) for k in keys] for c in counts], dtype=np.int64)
    if suffix == ".npy":
        # columns are outcomes 0 .. 2**m - 1 so the file is self-describing by position
        width = len(keys[0]) if keys else 0
        full = np.zeros((len(counts), 2**width), dtype=np.int64)
        for b, c in enumerate(counts):
            for k, v in c.items():
                full[b, int(k, 2)] = v
        buf = io.BytesIO()
        np.save(buf, full)
        atomic_write_bytes(out, buf.getvalue())
    else:
        s = io.StringIO()
        w = csv.writer(s, lineterminator="\n")
        w.writerow(keys)
        for row in table:
            w.writerow(list(map(int, row)))
        atomic_write_text(out, s.getvalue())
