"""The QML study's reference estimators (XanaduAI/qml-benchmarks) reimplemented step for step for the grid benchmark.

The reference package is not installable here (it pins an old PennyLane and imports catalyst), so
this module re-expresses its algorithm, read from the public repository at:

* the training loop ``train`` and its chunking helpers: src/qml_benchmarks/model_utils.py,
  commit 0c89b3dff3183c5c2a0e4e3b156948f0697c127f;
* ``IQPVariationalClassifier``: src/qml_benchmarks/models/iqp_variational.py, commit
  3108ca15b76e6cc37c3168dd37f0a46703b77889, its JAX path (``use_jax=True, jit=True, vmap=True``);
* ``DataReuploadingClassifier``: src/qml_benchmarks/models/data_reuploading.py, commit
  bf67629be49e63e631ab38b3b96725deb83ab022 (the study-era file).

What is kept exactly, because it is what the wall time measures: the QNode on ``default.qubit``
with the JAX interface, ``jax.jit`` of the per-sample circuit, ``jax.vmap`` over the batch,
``jax.jit`` of the loss and a separate ``jax.jit(jax.grad(loss))``, both called every step on
chunks of ``max_vmap`` samples (gradients and losses averaged over chunks), the batch drawn with
``jax.random.choice`` from a fresh ``PRNGKey`` per step (plus the loop's unused ``split``), optax
Adam, the convergence rule (after 2 intervals: |mean(last) - mean(before)| <= std(last) /
sqrt(interval) / 2), parameter initialisation, MinMax scaling to [-pi/2, pi/2], and prediction
through the chunked vmapped circuit outside any jit (the reference's predict compiles again).

Deviations: ``default.qubit.jax`` is gone from PennyLane (``default.qubit`` + JAX interface is its
successor); ``qml.broadcast`` is gone (its "double"/"double_odd" CZ patterns are written as loops);
``train`` raises ConvergenceWarning when the step cap comes first, discarding the parameters, so
here it warns instead (as qcomp's estimators do) and a capped fit can still predict; its tqdm bar
and the print of the whole loss history are left out (I/O). The loop also records
``first_step_s_`` (trace + XLA compile of loss and gradient + one step) and ``steps_s_``.

Importing the study's package turns on float64 in JAX (its model modules call
``jax.config.update("jax_enable_x64", True)``); importing this module does the same.
"""

from __future__ import annotations

import time
import warnings
from math import ceil

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pennylane as qml
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils import gen_batches

jax.config.update("jax_enable_x64", True)


def _chunks(n: int, size: int) -> list[slice]:
    return list(gen_batches(n, size))


def _train(model, loss, X, y) -> dict:
    """The reference's ``train``: per step a fresh key, a batch with replacement, the jitted
    gradient and the jitted loss on each chunk of ``max_vmap``, one optax Adam update; stops at
    ``max_steps`` or by the convergence rule."""
    size = model.max_vmap
    if model.batch_size % size:
        raise ValueError("batch_size must be a multiple of max_vmap")
    grad = jax.grad(lambda p, xb, yb, key: loss(p, xb, yb))  # the reference adds an unused key argument
    if model.jit:
        grad = jax.jit(grad)  # jitted before chunking, as the reference does (chunks then reuse it)
    opt = optax.adam(learning_rate=model.learning_rate)
    params = model.params_
    state = opt.init(params)
    interval = model.convergence_interval
    history: list = []
    converged = False
    t0 = time.perf_counter()
    model.first_step_s_ = 0.0
    for step in range(model.max_steps):
        key = model.generate_key()
        key_loss = jax.random.split(key, 1)
        idx = jax.random.choice(key=key, a=jnp.array(range(len(X))), shape=(model.batch_size,), replace=True)
        xb, yb = X[idx], y[idx]
        parts = _chunks(len(xb), size)
        grads = [grad(params, xb[s], yb[s], key_loss) for s in parts]
        g = jax.tree_util.tree_map(lambda *leaves: jnp.mean(jnp.array(leaves), axis=0), *grads)
        value = jnp.mean(jnp.array([loss(params, xb[s], yb[s]) for s in parts]))
        updates, state = opt.update(g, state)
        params = optax.apply_updates(params, updates)
        history.append(value)
        if np.isnan(value):  # np.isnan waits for the step's result, so the timings are of finished work
            break
        if step == 0:
            model.first_step_s_ = time.perf_counter() - t0
        if interval is not None and step > 2 * interval:
            last, before = history[-interval:], history[-2 * interval:-interval]
            if np.abs(np.mean(before) - np.mean(last)) <= np.std(last) / np.sqrt(interval) / 2:
                converged = True
                break
    model.steps_s_ = time.perf_counter() - t0 - model.first_step_s_
    hist = np.asarray(history, dtype=float)
    model.loss_history_ = hist / np.max(np.abs(hist))
    model.n_iter_ = len(history)
    model.converged_ = converged
    if not converged and interval is not None:
        warnings.warn(f"{type(model).__name__} has not converged after {model.max_steps} steps", ConvergenceWarning,
                      stacklevel=2)
    return params


class _Reference(BaseEstimator, ClassifierMixin):
    """What both reference models share: seeding, scaling, the chunked vmapped forward, predict."""

    def generate_key(self):
        return jax.random.PRNGKey(self.rng.integers(self._key_range))

    def _scale(self, X):
        if self.scaler is None:
            self.scaler = MinMaxScaler(feature_range=(-np.pi / 2, np.pi / 2)).fit(X)
        return self.scaler.transform(X) * self.scaling

    def _set_forward(self, per_sample):
        per_sample = jax.jit(per_sample) if self.jit else per_sample
        self.forward = jax.vmap(per_sample, in_axes=(None, 0))

        def chunked(params, X):
            # the reference's chunk_vmapped_fn: the last chunk is padded after evaluation, so a
            # test set of 60 runs the vmapped circuit at batch 32 and at batch 28 (two compiles)
            parts = [self.forward(params, X[s]) for s in _chunks(len(X), self.max_vmap)]
            short = self.max_vmap - len(parts[-1])
            if len(X) % self.max_vmap:
                parts[-1] = jnp.pad(parts[-1], [(0, short), *[(0, 0)] * (parts[-1].ndim - 1)])
                return jnp.concatenate(parts)[:-short]
            return jnp.concatenate(parts)

        self.chunked_forward = chunked

    def _start(self, X, y):
        self.classes_ = np.unique(y)
        assert len(self.classes_) == 2 and 1 in self.classes_ and -1 in self.classes_

    def predict(self, X):
        return np.take(self.classes_, np.argmax(self.predict_proba(X), axis=1))

    def _proba(self, f):
        return np.c_[(1 - f) / 2, (1 + f) / 2]


class IQPVariationalClassifier(_Reference):
    """IQPEmbedding + StronglyEntanglingLayers (CZ), <Z0 Z1>, loss mean((1 - f y) / 2)."""

    _key_range = 1000000

    def __init__(self, repeats=1, n_layers=10, learning_rate=0.001, batch_size=32, jit=True, max_vmap=None,
                 max_steps=10000, convergence_interval=200, random_state=42, scaling=1.0):
        self.repeats = repeats
        self.n_layers = n_layers
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.jit = jit
        self.max_vmap = max_vmap if max_vmap is not None else batch_size
        self.max_steps = max_steps
        self.convergence_interval = convergence_interval
        self.random_state = random_state
        self.scaling = scaling
        self.rng = np.random.default_rng(random_state)
        self.scaler = None

    def _build(self, n):
        @qml.qnode(qml.device("default.qubit", wires=n))
        def circuit(params, x):
            qml.IQPEmbedding(x, wires=range(n), n_repeats=self.repeats)
            qml.StronglyEntanglingLayers(params["weights"], wires=range(n), imprimitive=qml.CZ)
            return qml.expval(qml.PauliZ(0) @ qml.PauliZ(1))

        self._set_forward(circuit)

    def fit(self, X, y):
        self._start(X, y)
        n = X.shape[1]
        self.params_ = {"weights": 2 * jnp.pi * jax.random.uniform(shape=(self.n_layers, n, 3),
                                                                    key=self.generate_key())}
        self._build(n)
        self.scaler = None
        Xs = self._scale(X)

        def loss(params, xb, yb):
            return jnp.mean((1 - self.forward(params, xb) * yb) / 2)  # probability of a wrong label

        self.params_ = _train(self, jax.jit(loss) if self.jit else loss, Xs, y)
        return self

    def predict_proba(self, X):
        return self._proba(self.chunked_forward(self.params_, self._scale(X)))


class DataReuploadingClassifier(_Reference):
    """Data re-uploading 'multi-qubit classifier' on ceil(d / 3) qubits with trainable input
    scalings (omegas), angles (thetas) and class weights (alphas); loss eqn 23 of Perez-Salinas et al."""

    _key_range = 100000

    def __init__(self, n_layers=4, observable_type="single", convergence_interval=200, max_steps=10000,
                 learning_rate=0.05, batch_size=32, max_vmap=None, jit=True, scaling=1.0, random_state=42):
        self.n_layers = n_layers
        self.observable_type = observable_type
        self.convergence_interval = convergence_interval
        self.max_steps = max_steps
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_vmap = max_vmap if max_vmap is not None else batch_size
        self.jit = jit
        self.scaling = scaling
        self.random_state = random_state
        self.rng = np.random.default_rng(random_state)
        self.scaler = None

    def _init_params(self, q, w):
        self.params_ = {"thetas": jax.random.uniform(self.generate_key(), shape=(q, self.n_layers + 1, 3)),
                        "omegas": jax.random.uniform(self.generate_key(), shape=(self.n_layers + 1, 3 * q)),
                        "alphas": jnp.ones(shape=(2, w))}

    def _build(self, q):
        L = self.n_layers

        @qml.qnode(qml.device("default.qubit", wires=q), interface="jax-jit")
        def circuit(params, x):
            om, th = params["omegas"], params["thetas"]
            for layer in range(L):
                for i in range(q):
                    qml.Rot(*(x[3 * i:3 * i + 3] * om[layer, 3 * i:3 * i + 3]), wires=i)
                    qml.Rot(*th[i, layer, :], wires=i)
                for i in range(layer % 2, q - 1, 2):  # broadcast "double" on even, "double_odd" on odd layers
                    qml.CZ(wires=[i, i + 1])
            for i in range(q):  # the last upload, no CZs
                qml.Rot(*(x[3 * i:3 * i + 3] * om[L, 3 * i:3 * i + 3] + th[i, L, :]), wires=i)
            return [qml.expval(qml.PauliZ(wires=[i])) for i in range(q)]

        self._set_forward(lambda params, x: jnp.array(circuit(params, x)))  # the QNode returns a list

    def fit(self, X, y):
        self._start(X, y)
        q = ceil(X.shape[1] / 3)
        w = {"single": 1, "half": 1 if q == 1 else q // 2, "full": q}[self.observable_type]
        self.observable_weight = w
        # the reference initialises and builds twice (initialize(), then again in fit): same key draws
        self._init_params(q, w)
        self._build(q)
        self.scaler = None
        Xs = self._scale(X)
        Xs = jnp.pad(Xs, ((0, 0), (0, (3 - Xs.shape[1]) % 3)), "constant")

        def loss(params, xb, yb):
            ym = jnp.vstack([yb] * w).T
            a0 = jnp.vstack([params["alphas"][0, :]] * len(xb))
            a1 = jnp.vstack([params["alphas"][1, :]] * len(xb))
            e = self.forward(params, xb)[:, :w]
            p0, p1 = (1 - e) / 2, (1 + e) / 2  # fidelities with |0> and |1>
            return 0.5 * jnp.sum((a0 * p0 - (1 - ym) / 2) ** 2 + (a1 * p1 - (1 + ym) / 2) ** 2) / len(yb)

        self._build(q)
        self._init_params(q, w)
        self.params_ = _train(self, jax.jit(loss) if self.jit else loss, Xs, y)
        return self

    def predict_proba(self, X):
        Xs = self._scale(X)
        Xs = jnp.pad(Xs, ((0, 0), (0, (3 - Xs.shape[1]) % 3)), "constant")
        f = jnp.mean(self.chunked_forward(self.params_, Xs)[:, : self.observable_weight], axis=1)
        return self._proba(f)


MODELS = {"IQPVariationalClassifier": IQPVariationalClassifier, "DataReuploadingClassifier": DataReuploadingClassifier}
