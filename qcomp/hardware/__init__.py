"""Hardware execution: exported gradient programs and OpenQASM run through Qiskit executors."""

from __future__ import annotations

from .gradient_runs import (GRAD_MANIFEST_FORMAT, HardwareExecutor, QcompExecutor, circuit_values, load_manifest,
                            parse_coefficients, run_gradient_program)
from .manifest import (compute_derived_inputs, estimate_from_group_counts, manifest_element_names,
                       manifest_measurement_groups, manifest_pauli_list, qasm_input_values)
from .qiskit import (EstimatorExecutor, QiskitAerExecutor, QiskitStatevectorExecutor, measurement_circuits,
                     run_measurement_groups)

__all__ = [
    "GRAD_MANIFEST_FORMAT",
    "HardwareExecutor",
    "QcompExecutor",
    "EstimatorExecutor",
    "QiskitStatevectorExecutor",
    "QiskitAerExecutor",
    "load_manifest",
    "circuit_values",
    "run_gradient_program",
    "parse_coefficients",
    "compute_derived_inputs",
    "manifest_element_names",
    "manifest_pauli_list",
    "qasm_input_values",
    "manifest_measurement_groups",
    "estimate_from_group_counts",
    "measurement_circuits",
    "run_measurement_groups",
]
