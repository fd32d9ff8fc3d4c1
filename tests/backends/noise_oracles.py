"""Shared helpers of the noise tests: random noisy .q programs and their Qiskit Aer / PennyLane circuits."""

from __future__ import annotations

import numpy as np

from qcomp.ir.channels import CHANNELS

GATES_1Q = ["rx", "ry", "rz", "h", "sx", "s", "t"]
GATES_2Q = ["cx", "cz", "rzz", "crx", "swap"]
CHANNEL_VALUES = {
    "depolarizing": lambda r: (r.uniform(0, 1),),
    "bit_flip": lambda r: (r.uniform(0, 1),),
    "phase_flip": lambda r: (r.uniform(0, 1),),
    "pauli_channel": lambda r: tuple(r.dirichlet([1, 1, 1, 1])[:3]),
    "amplitude_damping": lambda r: (r.uniform(0, 1),),
    "phase_damping": lambda r: (r.uniform(0, 1),),
    "thermal_relaxation": lambda r: (lambda t1: (t1, r.uniform(0.1, 2 * t1), r.uniform(0, 100)))(r.uniform(10, 100)),
}
ANGLED = {"rx", "ry", "rz", "rzz", "crx"}


def random_noisy_source(seed: int, n: int, length: int, n_params: int = 3) -> str:
    """A random .q program: gates on params or constants, channels with random valid parameters,
    a few observables and measurement of all qubits."""
    r = np.random.default_rng(seed)
    lines = [f"qubit q[{n}];", f"param w[{n_params}];"]
    for _ in range(length):
        kind = r.integers(3)
        if kind == 0 or n == 1:
            g = GATES_1Q[r.integers(len(GATES_1Q))] if kind != 2 or n == 1 else None
            if g is None or (kind == 2 and n == 1):
                ch = list(CHANNEL_VALUES)[r.integers(len(CHANNEL_VALUES))]
                vals = ", ".join(repr(float(v)) for v in CHANNEL_VALUES[ch](r))
                lines.append(f"{ch}({vals}) q[{r.integers(n)}];")
                continue
            arg = f"(w[{r.integers(n_params)}])" if g in ANGLED else ""
            lines.append(f"{g}{arg} q[{r.integers(n)}];")
        elif kind == 1:
            g = GATES_2Q[r.integers(len(GATES_2Q))]
            a, b = r.choice(n, 2, replace=False)
            arg = f"(w[{r.integers(n_params)}] + 0.3)" if g in ANGLED else ""
            lines.append(f"{g}{arg} q[{a}], q[{b}];")
        else:
            ch = list(CHANNEL_VALUES)[r.integers(len(CHANNEL_VALUES))]
            vals = ", ".join(repr(float(v)) for v in CHANNEL_VALUES[ch](r))
            lines.append(f"{ch}({vals}) q[{r.integers(n)}];")
    lines.append("expect z(q[0]);")
    if n > 1:
        lines.append("expect 0.5 * x(q[0]) @ y(q[1]) - z(q[1]);")
    lines.append("expect x(q[0]) + 0.25 * y(q[0]);")
    lines.append("measure q;")
    return "\n".join(lines)


def op_values(op, params) -> list[float]:
    p = np.asarray(params, dtype=float)
    return [float(np.asarray(a.evaluate(p[None], np.zeros((1, 0)))).ravel()[0]) for a in op.angles]


def aer_density_matrix(program, params, noise_model=None) -> np.ndarray:
    """Qiskit Aer's density matrix of the program, channels appended as Kraus instructions."""
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import UnitaryGate
    from qiskit.quantum_info import Kraus
    from qiskit_aer import AerSimulator

    qc = QuantumCircuit(program.num_qubits)
    for op in program.circuit.ops():
        qs = list(reversed(op.qubits))  # Qiskit's first qubit is the least significant matrix bit
        if op.name in CHANNELS:
            qc.append(Kraus([np.asarray(k) for k in CHANNELS[op.name].kraus(*op_values(op, params))]), qs)
        elif op.name == "readout_error":
            continue
        elif noise_model is not None:  # by name, so that the noise model's gate names match
            getattr(qc, op.name)(*op_values(op, params), *op.qubits)
        else:
            qc.append(UnitaryGate(op.unitary(np.asarray(params, dtype=float)), check_input=False), qs)
    qc.save_density_matrix()
    sim = AerSimulator(method="density_matrix", noise_model=noise_model)
    return np.asarray(sim.run(qc).result().data()["density_matrix"])


def expval_of(rho: np.ndarray, observable, n: int) -> float:
    from qiskit.quantum_info import SparsePauliOp

    op = SparsePauliOp([t.label(n) for t in observable.terms], [t.coeff for t in observable.terms])
    return float(np.real(np.trace(op.to_matrix() @ rho)))
