"""Run an exported gradient program (``qcomp grad`` directory) through any expectation-value executor."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

import numpy as np

from ..errors import InputError, QCompError
from ..frontend import parse_expression
from ..ir.ops import ValueDecl
from ..ir.values import bind_pair, decls_from_json
from .manifest import compute_derived_inputs


GRAD_MANIFEST_FORMAT = "qcomp-gradient-manifest/1"

__all__ = [
    "GRAD_MANIFEST_FORMAT",
    "HardwareExecutor",
    "QcompExecutor",
    "load_manifest",
    "circuit_values",
    "run_gradient_program",
]


class HardwareExecutor(Protocol):
    """Estimates Pauli-sum expectation values of OpenQASM 3 circuits for batches of input bindings."""

    def estimate(self, circuits: Sequence[str], values: Sequence[Mapping[str, np.ndarray]],
                 observables: Sequence[Sequence[tuple[str, float]]]) -> list[np.ndarray]:
        """circuits[c] is OpenQASM 3 text, values[c] maps each ``input float[64]`` name to a (B,)
        array, observables are [(qiskit_label, coeff)] lists; returns one (B, n_outputs) array per circuit."""


def _pauli_terms(obs: Sequence[tuple[str, float]]):
    from ..ir.ops import PauliTerm

    terms = []
    for label, coeff in obs:
        n = len(label)
        paulis = tuple((n - 1 - i, ch) for i, ch in enumerate(label) if ch != "I")
        terms.append(PauliTerm(float(coeff), tuple(sorted(paulis))))
    return tuple(terms)


class QcompExecutor:
    """Loads each OpenQASM 3 file with qcomp's importer and evaluates it on a qcomp simulator."""

    def __init__(self, executor=None):
        from ..gradients import default_executor

        self.executor = executor or default_executor()

    def estimate(self, circuits, values, observables):
        from dataclasses import replace

        from ..frontend.qasm_import import import_qasm
        from ..ir.ops import Observable

        obs = tuple(Observable(_pauli_terms(o)) for o in observables)
        out = []
        for text, vals in zip(circuits, values):
            prog = replace(import_qasm(text, "<gradient circuit>"), observables=obs)
            names = prog.param_names()
            missing = [n for n in names if n not in vals]
            if missing:
                raise InputError(f"no value for circuit input '{missing[0]}'")
            B = max((np.shape(v)[0] for v in vals.values()), default=1)
            P = np.stack([np.broadcast_to(np.asarray(vals[n], dtype=float), (B,)) for n in names], axis=1) \
                if names else np.zeros((B, 0))
            out.append(np.asarray(self.executor(prog, P, np.zeros((B, 0)))))
        return out


def load_manifest(directory: str | os.PathLike) -> dict[str, Any]:
    """The validated manifest of an exported gradient program directory."""
    path = Path(directory) / "manifest.json"
    if not path.is_file():
        raise QCompError(f"'{directory}' is not a gradient program directory (no manifest.json)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise QCompError(f"cannot read '{path}': {exc}") from None
    if manifest.get("format") != GRAD_MANIFEST_FORMAT:
        raise QCompError(f"'{path}' is not a {GRAD_MANIFEST_FORMAT} manifest (format {manifest.get('format')!r})")
    return manifest


def manifest_declarations(manifest: Mapping[str, Any]) -> tuple[list[ValueDecl], list[ValueDecl]]:
    """(params, inputs): the program's declarations recorded in a gradient manifest."""
    items = manifest["declarations"]
    return (decls_from_json([d for d in items if d["kind"] == "param"], "param"),
            decls_from_json([d for d in items if d["kind"] == "input"], "input"))


def parse_coefficients(manifest: Mapping[str, Any], texts: Sequence[str]):
    """Coefficient texts (.q syntax over params and inputs) -> IR expressions, via the qcomp front end."""
    pdecls, idecls = manifest_declarations(manifest)
    return [parse_expression(t, pdecls + idecls, name=f"<gradient manifest> coefficient {k}", what="coefficient")
            for k, t in enumerate(texts)]


def circuit_values(qasm_manifest: Mapping[str, Any], param_names: Sequence[str], input_names: Sequence[str],
                   params: np.ndarray, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """Values (B,) of every ``input float[64]`` of one emitted circuit (params, inputs, derived inputs)."""
    out: dict[str, np.ndarray] = {}
    pidx = {n: k for k, n in enumerate(param_names)}
    iidx = {n: k for k, n in enumerate(input_names)}
    for qname, elem in qasm_manifest.get("params", {}).items():
        out[qname] = params[:, pidx[elem]]
    for qname, elem in qasm_manifest.get("inputs", {}).items():
        out[qname] = inputs[:, iidx[elem]]
    if qasm_manifest.get("derived_inputs"):
        d = compute_derived_inputs(qasm_manifest, inputs)
        for k, item in enumerate(qasm_manifest["derived_inputs"]):
            out[item["name"]] = d[:, k]
    return out


def run_gradient_program(directory: str | os.PathLike, executor: HardwareExecutor | None = None,
                         params: Any = None, inputs: Any = None, wrt: Sequence[str] | None = None) -> np.ndarray:
    """Evaluate an exported gradient program: every circuit through ``executor``, then recombine.

    ``params`` default to the values stored at export (``--params``); ``inputs`` are (I,) or (B, I).
    Returns (B, n_outputs, n_wrt), or (B, n_outputs, n_wrt, n_wrt) for ``--order 2``. ``wrt``
    selects some variables by name (columns in that order); only the circuits they need are run.
    """
    from ..ir.expr import CompiledExprs

    directory = Path(directory)
    m = load_manifest(directory)
    executor = executor or QcompExecutor()
    if params is None:
        params = m.get("param_values")
        if params is None and m["params"]:
            raise InputError("no param values: pass params= or export with --params")
    pdecls, idecls = manifest_declarations(m)
    p, x, B, _, _ = bind_pair(pdecls, idecls, params, inputs)
    p, x = np.broadcast_to(p, (B, p.shape[1])), np.broadcast_to(x, (B, x.shape[1]))
    if m.get("params_bound") and not np.allclose(p, np.asarray(m["param_values"])[None], atol=0, rtol=0):
        raise InputError("these gradient circuits were exported with the params bound (--params); "
                         "re-export to evaluate at other param values")

    names = list(m["wrt"])
    if wrt is None:
        cols = list(range(len(names)))
    else:
        unknown = [n for n in wrt if n not in names]
        if unknown:
            raise InputError(f"'{unknown[0]}' is not a differentiation variable of this export ({', '.join(names[:6])}...)")
        cols = [names.index(n) for n in wrt]
    col_of = {c: k for k, c in enumerate(cols)}
    entries = [e for e in m["derivatives"] if all(i in col_of for i in e["wrt_index"])]
    used = {t["circuit"] for e in entries for t in e["terms"]}
    circuits = [c for c in m["circuits"] if c["file"] in used]
    texts, vals = [], []
    for c in circuits:
        f = directory / c["file"]
        try:
            texts.append(f.read_text(encoding="utf-8"))
        except OSError as exc:
            raise QCompError(f"cannot read gradient circuit '{f}': {exc}") from None
        vals.append(circuit_values(c["qasm"], m["params"], m["inputs"], p, x))
    observables = [[(lbl, float(cf)) for lbl, cf in o["pauli"]] for o in m["outputs"]]
    n_out = len(observables)
    E = np.stack([np.asarray(e, dtype=float).reshape(B, n_out) for e in executor.estimate(texts, vals, observables)]) \
        if circuits else np.zeros((0, B, n_out))

    file_index = {c["file"]: k for k, c in enumerate(circuits)}
    texts_c = [t["coeff"] for e in entries for t in e["terms"]]
    exprs = parse_coefficients(m, texts_c) if texts_c else []
    coeffs = CompiledExprs(exprs)(p, x) if exprs else np.zeros((0, B))
    n = len(cols)
    order = m["order"]
    out = np.zeros((B, n_out) + (n,) * order)
    k = 0
    for e in entries:
        ij = tuple(col_of[i] for i in e["wrt_index"])
        idx = (slice(None), e["output"]) + ij
        for t in e["terms"]:
            out[idx] += coeffs[k] * E[file_index[t["circuit"]], :, e["output"]]
            k += 1
        if order == 2 and ij[0] != ij[1]:
            out[(slice(None), e["output"], ij[1], ij[0])] = out[idx]
    return out
