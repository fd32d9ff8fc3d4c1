"""The TFQ MNIST model imported with qcomp.from_cirq: import time, and a batch's expectation values on qcomp vs cirq and qsim.

The model is the TensorFlow Quantum tutorial's cirq circuit (X and H on a GridQubit(-1, -1)
readout, ``cirq.XX**s`` and ``cirq.ZZ**s`` layers coupling a 4x4 GridQubit data register to it,
H, <Z(readout)>); images are random binary 4x4 pixels. TFQ encodes each image as its own circuit
(``cirq.X`` on the lit pixels), so cirq and qsim simulate one circuit per image; qcomp imports
the encoding with one input symbol per pixel (``X**x_i``, ``inputs=``) and runs the batch as one
call. All three give the same values (checked); times are medians over ``--repeats`` and the
ratios are what to compare (the machine is shared).

    python benchmarks/cirq_import_bench.py [--batch 32] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cirq
import numpy as np
import sympy

import qcomp


def tfq_model():
    data = cirq.GridQubit.rect(4, 4)
    readout = cirq.GridQubit(-1, -1)
    circuit = cirq.Circuit(cirq.X(readout), cirq.H(readout))
    for prefix, gate in (("xx1", cirq.XX), ("zz1", cirq.ZZ)):
        for i, q in enumerate(data):
            circuit.append(gate(q, readout) ** sympy.Symbol(f"{prefix}-{i}"))
    circuit.append(cirq.H(readout))
    return circuit, cirq.Z(readout), data


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    model, readout, data = tfq_model()
    names = sorted(cirq.parameter_names(model))
    rng = np.random.default_rng(0)
    weights = rng.uniform(-1, 1, len(names))
    images = (rng.uniform(size=(args.batch, 16)) > 0.5).astype(float)
    resolver = cirq.ParamResolver(dict(zip(names, weights)))
    per_image = [cirq.Circuit(cirq.X(data[i]) for i in np.flatnonzero(img)) + model for img in images]
    encoding = cirq.Circuit(cirq.X(q) ** sympy.Symbol(f"x{i:02d}") for i, q in enumerate(data))
    pixel_names = [f"x{i:02d}" for i in range(16)]

    t_import, program = median_time(lambda: qcomp.from_cirq(encoding + model, readout, inputs=pixel_names),
                                    args.repeats)
    sim = qcomp.Model(program).simulator()  # the -O2 simulator passes, as for a .q model
    sim.expval(weights, images)  # plans and kernels compiled once, as in training
    t_qcomp, v_qcomp = median_time(lambda: sim.expval(weights, images)[:, 0], args.repeats)
    # the same model written in .q (examples/mnist_qnn.q: w[i] is pi times TFQ's xx1-i weight, w[16+i] zz1-i)
    qnn = qcomp.compile(Path(__file__).resolve().parents[1] / "examples" / "mnist_qnn.q").simulator()
    w = np.zeros(32)
    for name, t in zip(names, weights):
        layer, i = name.split("-")
        w[(0 if layer == "xx1" else 16) + int(i)] = np.pi * t
    qnn.expval(w, images)
    t_q, v_q = median_time(lambda: qnn.expval(w, images)[:, 0], args.repeats)

    cirq_sim = cirq.Simulator(dtype=np.complex64)
    t_cirq, v_cirq = median_time(lambda: np.array([
        np.real(cirq_sim.simulate_expectation_values(c, [readout], resolver)[0]) for c in per_image]), args.repeats)
    rows = [("qcomp (from_cirq, one batched call)", t_qcomp, v_qcomp), ("qcomp (examples/mnist_qnn.q)", t_q, v_q),
            ("cirq.Simulator (complex64)", t_cirq, v_cirq)]
    try:
        import qsimcirq

        qsim = qsimcirq.QSimSimulator()
        t_qsim, v_qsim = median_time(lambda: np.array([
            np.real(qsim.simulate_expectation_values(c, [readout], resolver)[0]) for c in per_image]), args.repeats)
        rows.append(("qsimcirq", t_qsim, v_qsim))
    except ImportError:
        print("qsimcirq not installed: skipped")

    print(f"from_cirq(encoding + TFQ model): {1e3 * t_import:.1f} ms "
          f"({program.num_qubits} qubits, {program.num_params} params, {program.num_inputs} inputs)")
    print(f"batch of {args.batch} images, <Z(readout)>, median of {args.repeats}:")
    for label, t, v in rows:
        diff = float(np.max(np.abs(np.asarray(v) - v_qcomp)))
        print(f"  {label:38s} {1e3 * t:9.2f} ms  {t / t_qcomp:7.1f}x qcomp's time  max |diff| {diff:.1e}")


if __name__ == "__main__":
    main()
