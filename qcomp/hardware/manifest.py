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
    Qiskit-style over the group's measured bits: the rightmost character is bit 0, i.e. qubits[0];
    one dict serves every row). The estimator is the simulator's
    (:func:`qcomp.backends.shots.estimates_from_counts`): a term's value on an outcome is
    (-1)**parity of its qubits' bits, an output's part in a group the mean of its signed terms with
    the sample variance (ddof 1) over the shots, and the groups' variances add."""
    from ..backends.shots import estimates_from_counts
    from ..passes.group_measurements import MeasurementGroup, MeasurementGrouping

    groups = manifest_measurement_groups(manifest)
    outputs = manifest["outputs"]
    if len(counts) != len(groups):
        raise InputError(f"counts for {len(counts)} circuits; the manifest has {len(groups)} measurement groups")
    B = max((len(c) for c in counts), default=1)
    built, terms = [], [[] for _ in outputs]
    arrays = []
    shots = None
    for gi, (g, rows) in enumerate(zip(groups, counts)):
        words: list[tuple] = []
        for out, term in g["terms"]:
            t = outputs[out]["terms"][term]
            w = tuple(sorted((int(q), str(p)) for q, p in t["paulis"]))
            if w not in words:
                words.append(w)
            terms[out].append((gi, words.index(w), float(t["coeff"])))
        built.append(MeasurementGroup(tuple(int(q) for q in g["qubits"]), tuple(g["basis"]), tuple(words)))
        m = len(g["qubits"])
        table = np.zeros((B, 2**m))
        for b in range(B):
            for key, c in (rows[b] if len(rows) > 1 else rows[0]).items():
                bits = key.replace(" ", "")
                if len(bits) != m:
                    raise InputError(f"group {g['label']}: outcomes must have {m} bits, got '{key}'")
                table[b, int(bits, 2)] += c
        total = table.sum(axis=1)
        if shots is None:
            shots = int(total[0])
        if not np.all(total == shots):
            raise InputError(f"every group and row must have the same number of shots; got {sorted(set(total.astype(int)))}"
                             f" and {shots}")
        arrays.append(table)
    constants = tuple(sum(float(t["coeff"]) for t in o["terms"] if not t["paulis"]) for o in outputs)
    grouping = MeasurementGrouping(int(manifest["num_qubits"]), tuple(built), tuple(map(tuple, terms)), constants)
    if not arrays:
        return np.broadcast_to(np.array(constants), (B, len(outputs))).copy(), np.zeros((B, len(outputs)))
    mean, cov = estimates_from_counts(grouping, arrays, int(shots))
    return mean, np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0.0, None))

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
                shots, available = int(d["shots"]), freq.astype(np.int64)
                if shots > available.sum():
                    result.append(rng.choice(idx, size=shots, p=available / available.sum()))
                else:  # without replacement: distinct positions in the shot list, never materialised
                    positions = rng.choice(int(available.sum()), size=shots, replace=False)
                    result.append(idx[np.searchsorted(np.cumsum(available), positions, side="right")])
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
