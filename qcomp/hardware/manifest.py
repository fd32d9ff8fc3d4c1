"""Reading OpenQASM manifests from disk: declarations, input values per declared name, derived inputs, observables."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import InputError
from ..frontend import parse_expression
from ..ir.expr import CompiledExprs, Expr
from ..ir.ops import ValueDecl
from ..ir.values import bind_values, decls_from_json

__all__ = [
    "compute_derived_inputs",
    "manifest_decls",
    "estimate_from_group_counts",
    "manifest_element_names",
    "manifest_measurement_groups",
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


def manifest_pauli_list(manifest: Mapping[str, Any], output: int = 0) -> list[tuple[str, float]]:
    """[(qiskit_label, coeff)] of output ``output`` for ``SparsePauliOp.from_list``."""
    o = manifest["outputs"][output]
    n = manifest["num_qubits"]
    return [(t["qiskit_label"], t["coeff"]) for t in o["terms"]] or [("I" * n, 0.0)]


# -- measurement groups (qcomp.passes.group_measurements) -----------------------------------------


def manifest_measurement_groups(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The manifest's qubit-wise commuting measurement groups: dicts with ``qubits`` (outcome bit j is
    qubits[j]), ``basis`` (the Pauli measured on each), ``label`` and ``terms`` ([output, term] pairs).
    Manifests written before groups were recorded get them computed from their outputs."""
    if manifest.get("measurement_groups") is not None:
        return list(manifest["measurement_groups"])
    from ..ir.ops import Observable, PauliTerm
    from ..passes.group_measurements import group_observables

    obs = [Observable(tuple(PauliTerm(float(t["coeff"]), tuple((int(q), str(p)) for q, p in t["paulis"]))
                            for t in o["terms"])) for o in manifest["outputs"]]
    return group_observables(obs, int(manifest["num_qubits"])).to_json(obs)


def estimate_from_group_counts(manifest: Mapping[str, Any], counts: Sequence[Sequence[Mapping[str, int]]]
                               ) -> tuple[np.ndarray, np.ndarray]:
    """Expectation values of the manifest's outputs and their standard errors, both (B, n_outputs),
    from ``counts[g][b]``: the {bitstring: count} of group g's circuit for batch row b (bitstrings
    Qiskit-style over the group's measured bits: the rightmost character is bit 0, i.e. qubits[0]).

    A term's value on an outcome is (-1)**(parity of its qubits' bits); within a group an output's
    part is the mean of its terms' signed sum, with the sample variance (ddof 1) over the shots as
    its variance; groups are measured independently, so variances add."""
    groups = manifest_measurement_groups(manifest)
    outputs = manifest["outputs"]
    if len(counts) != len(groups):
        raise InputError(f"counts for {len(counts)} circuits; the manifest has {len(groups)} measurement groups")
    B = max((len(c) for c in counts), default=1)
    n_out = len(outputs)
    values = np.zeros((B, n_out))
    var = np.zeros((B, n_out))
    for k, o in enumerate(outputs):
        values[:, k] = sum(float(t["coeff"]) for t in o["terms"] if not t["paulis"])
    for g, rows in zip(groups, counts):
        pos = {int(q): j for j, q in enumerate(g["qubits"])}
        m = len(pos)
        for b in range(B):
            cnt = rows[b] if len(rows) > 1 else rows[0]
            keys = [k.replace(" ", "") for k in cnt]
            if any(len(k) != m for k in keys):
                raise InputError(f"group {g['label']}: outcomes must have {m} bits, got {keys[:3]}")
            freq = np.array(list(cnt.values()), dtype=float)
            shots = freq.sum()
            freq /= shots
            bits = np.array([[k[m - 1 - j] == "1" for j in range(m)] for k in keys], dtype=np.int64).reshape(len(keys), m)
            f = np.zeros((len(keys), n_out))
            for out, term in g["terms"]:
                t = outputs[out]["terms"][term]
                cols = [pos[int(q)] for q, _ in t["paulis"]]
                parity = bits[:, cols].sum(axis=1) % 2
                f[:, out] += float(t["coeff"]) * (1 - 2 * parity)
            mean = freq @ f
            second = freq @ (f * f)
            values[b] += mean
            var[b] += np.clip(second - mean**2, 0.0, None) * (shots / max(shots - 1, 1)) / shots
    return values, np.sqrt(var)
