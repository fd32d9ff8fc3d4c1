"""Training time per sample: qcomp vs TensorFlow Quantum on the seed experiment, in one process.

Both train the Farhi & Neven QNN of the TFQ MNIST tutorial (examples/mnist_qnn.q; TFQ builds the
tutorial's own cirq circuit with XX**t and ZZ**t and a Keras PQC layer) on the same `digits:3,6`
split, with hinge loss, Adam, batch 32 and a validation pass per epoch. Epoch times exclude
nothing but the first epoch's graph tracing (reported separately).

TensorFlow Quantum 0.7.6 needs TF 2.18 and tf-keras 2.18, which do not install beside numpy 2, so
run this in a separate environment:

    python3.11 -m venv tfq && tfq/bin/pip install tensorflow-quantum==0.7.6 "tensorflow==2.18.*" \\
        "tf-keras==2.18.*" && tfq/bin/pip install -e .
    python benchmarks/tfq_bench.py --tfq-python tfq/bin/python [--rounds 2] [--epochs 3]

qcomp runs with the interpreter that runs this script (``--qcomp-python`` to change it) and TFQ
with ``--tfq-python``; each trainer runs in its own process, alternating, and the ratio is of the
median epoch times (after the first epoch).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import qcomp  # noqa: E402
from qcomp.train import fit, get_optimizer, init_params, load_data  # noqa: E402


def tfq_model(lr: float):
    import cirq
    import sympy
    import tensorflow as tf
    import tensorflow_quantum as tfq

    data_qubits = cirq.GridQubit.rect(4, 4)
    readout = cirq.GridQubit(-1, -1)
    circuit = cirq.Circuit([cirq.X(readout), cirq.H(readout)])
    for prefix, gate in (("xx1", cirq.XX), ("zz1", cirq.ZZ)):
        for i, q in enumerate(data_qubits):
            circuit.append(gate(q, readout) ** sympy.Symbol(f"{prefix}-{i}"))
    circuit.append(cirq.H(readout))

    def hinge_accuracy(y_true, y_pred):
        y_true = tf.squeeze(y_true) > 0.0
        y_pred = tf.squeeze(y_pred) > 0.0
        return tf.reduce_mean(tf.cast(y_true == y_pred, tf.float32))

    model = tf.keras.Sequential([tf.keras.layers.Input(shape=(), dtype=tf.string),
                                 tfq.layers.PQC(circuit, cirq.Z(readout))])
    model.compile(loss=tf.keras.losses.Hinge(), optimizer=tf.keras.optimizers.Adam(learning_rate=lr),
                  metrics=[hinge_accuracy])

    def encode(x: np.ndarray):
        circuits = []
        for row in x:
            c = cirq.Circuit()
            for i, v in enumerate(row):
                if v > 0.5:
                    c.append(cirq.X(data_qubits[i]))
            circuits.append(c)
        return tfq.convert_to_tensor(circuits)

    return model, encode, tf


def run_qcomp(data, args) -> tuple[list[float], float]:
    model = qcomp.compile(ROOT / "examples" / "mnist_qnn.q", optimize=2)
    res = fit(model.simulator(), init_params(model.num_params, seed=args.seed), data, loss="hinge",
              optimizer=get_optimizer("adam", lr=args.lr), epochs=args.epochs, batch_size=32, seed=args.seed,
              progress=False)
    return [h["time_s"] for h in res.history], float(res.test_metrics["hinge_accuracy"])


def run_tfq(data, args) -> tuple[list[float], float]:
    tmodel, encode, tf = tfq_model(args.lr)
    xtr, xval, xte = encode(data.x_train), encode(data.x_val), encode(data.x_test)
    times: list[float] = []

    class Timer(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t0)

    tf.random.set_seed(args.seed)
    tmodel.fit(xtr, data.y_train.astype(np.float32), batch_size=32, epochs=args.epochs, verbose=0,
               validation_data=(xval, data.y_val.astype(np.float32)), callbacks=[Timer()])
    return times, float(tmodel.evaluate(xte, data.y_test.astype(np.float32), verbose=0)[1])


def main() -> int:
    import json
    import subprocess

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=2, help="alternating qcomp / TFQ processes")
    ap.add_argument("--qcomp-python", default=sys.executable, help="interpreter for the qcomp runs")
    ap.add_argument("--tfq-python", default=sys.executable, help="interpreter of the TensorFlow Quantum environment")
    ap.add_argument("--only", choices=["qcomp", "tfq"], help=argparse.SUPPRESS)
    args = ap.parse_args()

    data = load_data("digits:3,6", seed=args.seed, expected_features=16)
    if args.only:
        # one trainer in its own process: TF's thread pools keep spinning after a fit and would
        # slow whatever runs next in the same process
        times, acc = (run_qcomp if args.only == "qcomp" else run_tfq)(data, args)
        info = {"numpy": np.__version__}
        if args.only == "tfq":
            import tensorflow as tf
            import tensorflow_quantum as tfq

            info.update(tensorflow=tf.__version__, tensorflow_quantum=tfq.__version__)
        print(json.dumps({"times": times, "acc": acc, "info": info}))
        return 0

    n_train = len(data.y_train)
    common = [__file__, "--epochs", str(args.epochs), "--lr", str(args.lr), "--seed", str(args.seed), "--only"]
    runs: dict[str, list[dict]] = {"qcomp": [], "tfq": []}
    for _ in range(args.rounds):
        for who, py in (("qcomp", args.qcomp_python), ("tfq", args.tfq_python)):
            out = subprocess.run([py, *common, who], capture_output=True, text=True, check=True,
                                 env={**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"})
            runs[who].append(json.loads(out.stdout.strip().splitlines()[-1]))
    tinfo = runs["tfq"][0]["info"]
    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; python "
          f"{platform.python_version()}; qcomp with numpy {runs['qcomp'][0]['info']['numpy']}; TFQ env: numpy "
          f"{tinfo['numpy']}, tensorflow {tinfo['tensorflow']}, tensorflow-quantum {tinfo['tensorflow_quantum']}; "
          f"data: {data.description}, {n_train} train samples; {args.rounds} alternating rounds")
    print("| trainer | epoch times per round (s) | ms per training sample (median of epochs 2..) | test hinge accuracy |")
    print("|---|---|---|---|")
    med = {}
    for who, label in (("qcomp", "qcomp"), ("tfq", "TensorFlow Quantum (PQC, Adam)")):
        later = [t for r in runs[who] for t in (r["times"][1:] or r["times"])]
        med[who] = 1e3 * statistics.median(later) / n_train
        epochs = "; ".join(", ".join(f"{t:.2f}" for t in r["times"]) for r in runs[who])
        accs = ", ".join(f"{r['acc']:.3f}" for r in runs[who])
        print(f"| {label} | {epochs} | {med[who]:.2f} | {accs} |")
    print(f"qcomp time per sample / TFQ: {med['qcomp'] / med['tfq']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
