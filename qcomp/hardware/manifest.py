"""Reading OpenQASM manifests from disk: declarations, input values per declared name, derived inputs, observables."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import InputError, UnsupportedError
from ..frontend import parse_expression
from ..ir.expr import CompiledExprs, Expr
from ..ir.ops import ValueDecl
from ..ir.values import bind_values, decls_from_json

__all__ = [
    "compute_derived_inputs",
    "declared_from_counts",
    "manifest_declared_outputs",
    "manifest_decls",
    "manifest_element_names",
    "manifest_pauli_list",
    "parse_formulas",
    "qasm_input_values",
]


def manifest_decls(manifest: Mapping[str, Any], kind: str) -> list[ValueDecl]:
    """The program's param (``kind="params"``) or input declarations recorded in a manifest (one
    scalar declaration per element for older manifests without them)."""
    decls = manifest.get("param_decls" if kind == "params" else "input_decls")
    single = "param" if kind == "params" else "input"
    if decls is None:
        return [ValueDecl(single, e, 1, k, True) for k, e in enumerate(manifest.get(kind, {}).values())]
    return decls_from_json(decls, single)


def parse_formulas(texts: Sequence[str], decls: Sequence[ValueDecl], name: str = "<manifest>") -> list[Expr]:
    """Formula texts of a manifest (.q syntax over ``decls``) as IR expressions."""
    return [parse_expression(t, decls, name=f"{name} formula {k}", what="formula") for k, t in enumerate(texts)]


def compute_derived_inputs(manifest: Mapping[str, Any], inputs: Any) -> np.ndarray:
    """Values of the manifest's derived inputs, shape (B, n_derived) for inputs (B, I) or (n_derived,) for (I,).

    The formulas are in .q syntax over the program's inputs, parsed with
    :func:`qcomp.frontend.parse_expression`.
    """
    decls = manifest_decls(manifest, "inputs") if manifest.get("input_decls") is not None else []
    X, batched = bind_values(decls, inputs, "input")
    derived = manifest.get("derived_inputs", [])
    if not derived:
        out = np.zeros((X.shape[0], 0))
    else:
        exprs = parse_formulas([d["formula"] for d in derived], decls)
        cols = CompiledExprs(exprs)(np.zeros((X.shape[0], 0)), X)
        out = np.ascontiguousarray(np.broadcast_to(cols, (len(exprs), X.shape[0])).T)
    return out if batched else out[0]


def _in_flat_order(mapping: Mapping[str, str], decls: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """Declared names of ``mapping`` (declared name -> element like "w[3]") in flat element order.

    The order comes from the declarations, not from the JSON object's key order, so a manifest
    rewritten with sorted keys still binds the right values.
    """
    if not decls:
        return list(mapping)
    offset, total = {}, 0
    for d in decls:
        offset[d["name"]] = total
        total += d["size"]

    def flat(element: str) -> int:
        name, _, rest = element.partition("[")
        return offset[name] + (int(rest.rstrip("]")) if rest else 0)

    return sorted(mapping, key=lambda k: flat(mapping[k]))


def manifest_element_names(manifest: Mapping[str, Any], kind: str) -> list[str]:
    """Flat element names ("w[0]", ...) of the model's params (``kind="params"``) or inputs, from the
    declarations in the manifest (falls back to the mapping's values for older manifests)."""
    if not manifest.get(kind):  # bound into the circuit: nothing to pass
        return []
    decls = manifest.get("param_decls" if kind == "params" else "input_decls")
    if decls is None:
        return list(manifest.get(kind, {}).values())
    return [d["name"] if d["scalar"] else f"{d['name']}[{i}]" for d in decls for i in range(d["size"])]


def qasm_input_values(manifest: Mapping[str, Any], params: Any = None, inputs: Any = None) -> dict[str, float]:
    """Values for every ``input float[64]`` of the emitted file (params, inputs, derived inputs), one sample.

    ``params`` and ``inputs`` take any one-row form of :mod:`qcomp.ir.values` (flat, or by name).
    """
    out: dict[str, float] = {}
    if manifest.get("params"):
        p = _one_row(manifest_decls(manifest, "params"), params, "param")
        names = manifest_element_names(manifest, "params")
        by_element = dict(zip(names, p))
        for q in _in_flat_order(manifest["params"], manifest.get("param_decls")):
            out[q] = float(by_element[manifest["params"][q]])
    x = None
    if manifest.get("input_decls"):
        decls = manifest_decls(manifest, "inputs")
        x = _one_row(decls, inputs if inputs is not None else manifest.get("bound_inputs"), "input")
    if manifest.get("inputs"):
        by_element = dict(zip(manifest_element_names(manifest, "inputs"), x))
        for q in _in_flat_order(manifest["inputs"], manifest.get("input_decls")):
            out[q] = float(by_element[manifest["inputs"][q]])
    if manifest.get("derived_inputs"):
        out.update(zip((d["name"] for d in manifest["derived_inputs"]), map(float, compute_derived_inputs(manifest, x))))
    return out


def _one_row(decls: Sequence[ValueDecl], value: Any, kind: str) -> np.ndarray:
    arr, _ = bind_values(decls, value, kind)
    if arr.shape[0] != 1:
        raise InputError(f"{kind} values have {arr.shape[0]} rows; one OpenQASM program binds one row")
    return arr[0]


def manifest_pauli_list(manifest: Mapping[str, Any], output: int = 0, square: bool = False) -> list[tuple[str, float]]:
    """[(qiskit_label, coeff)] of output ``output`` for ``SparsePauliOp.from_list``; with ``square``,
    of its square O**2 (estimate <O> and <O**2> for a declared variance: Var = <O**2> - <O>**2)."""
    o = manifest["outputs"][output]
    n = manifest["num_qubits"]
    if square:
        from ..ir.ops import Observable, PauliTerm
        from ..ir.outputs import square as square_of

        obs = Observable(tuple(PauliTerm(t["coeff"], tuple((int(q), p) for q, p in t["paulis"])) for t in o["terms"]))
        return [(t.label(n), t.coeff) for t in square_of(obs).terms] or [("I" * n, 0.0)]
    return [(t["qiskit_label"], t["coeff"]) for t in o["terms"]] or [("I" * n, 0.0)]


def manifest_declared_outputs(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The model's declared outputs: ``{"kind", "observables" (positions in manifest["outputs"]),
    "text"[, "shots"]}`` each; one expectation per entry of "outputs" for a model of 'expect's only."""
    declared = manifest.get("declared_outputs")
    if declared is not None:
        return [dict(d) for d in declared]
    return [{"kind": "expectation", "observables": [i], "text": o.get("text", "")}
            for i, o in enumerate(manifest["outputs"])]


def declared_from_counts(manifest: Mapping[str, Any], counts: Mapping[str, int], seed: int | None = None) -> list[Any]:
    """Each declared output estimated from the counts of one run that measured every qubit in the Z
    basis (keys are bitstrings over all ``num_qubits`` qubits, Qiskit order: the rightmost
    character is qubit 0; spaces between registers are ignored).

    probs: the marginal frequencies (index bit k is the output's k-th qubit); sample: the
    output's ``shots`` outcomes drawn from the counts without replacement where there are enough
    (integers, bit k the k-th qubit); expect / var of a diagonal (Z-only) observable: the mean and
    the variance of its value per outcome. A non-diagonal expect or var needs other measurement
    bases: estimate ``manifest_pauli_list(manifest, i)`` (and ``square=True``) with an Estimator.
    """
    n = int(manifest["num_qubits"])
    keys = [k.replace(" ", "") for k in counts]
    if any(len(k) != n or set(k) - {"0", "1"} for k in keys):
        raise InputError(f"counts keys must be bitstrings over all {n} qubits (rightmost = qubit 0)")
    outcomes = np.array([int(k, 2) for k in keys], dtype=np.int64)
    freq = np.array([counts[k] for k in counts], dtype=float)
    total = freq.sum()
    if total <= 0:
        raise InputError("counts are empty")
    outputs = manifest["outputs"]
    rng = np.random.default_rng(seed)

    def qubits_of(d) -> list[int]:
        return [int(outputs[i]["terms"][0]["paulis"][0][0]) for i in d["observables"]]

    def marginal(qs: list[int]) -> np.ndarray:
        idx = np.zeros(len(outcomes), dtype=np.int64)
        for j, q in enumerate(qs):
            idx |= ((outcomes >> q) & 1) << j
        return idx

    result: list[Any] = []
    for d in manifest_declared_outputs(manifest):
        if d["kind"] in ("probabilities", "samples"):
            qs = qubits_of(d)
            idx = marginal(qs)
            if d["kind"] == "probabilities":
                result.append(np.bincount(idx, weights=freq, minlength=2 ** len(qs)) / total)
            else:
                pool = np.repeat(idx, freq.astype(np.int64))
                shots = int(d["shots"])
                result.append(rng.choice(pool, size=shots, replace=shots > len(pool)))
            continue
        terms = outputs[d["observables"][0]]["terms"]
        if any(p != "Z" for t in terms for _, p in t["paulis"]):
            raise UnsupportedError(
                f"output '{d.get('text') or outputs[d['observables'][0]].get('text', '')}' is not diagonal in the Z"
                " basis; estimate manifest_pauli_list(manifest, i) (and square=True for a variance) instead")
        value = np.zeros(len(outcomes))
        for t in terms:
            sign = np.ones(len(outcomes))
            for q, _ in t["paulis"]:
                sign *= 1 - 2 * ((outcomes >> int(q)) & 1)
            value += t["coeff"] * sign
        mean = float(np.dot(freq, value) / total)
        result.append(mean if d["kind"] == "expectation" else float(np.dot(freq, (value - mean) ** 2) / total))
    return result
