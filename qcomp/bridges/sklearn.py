"""scikit-learn bridge: ``QNNClassifier``, a binary classifier trained with qcomp.train."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

from ..errors import DataError, InputError
from .common import require_expectations

__all__ = ["QNNClassifier", "EstimatorDataError"]


class EstimatorDataError(DataError, ValueError):
    """Bad X or y given to a qcomp estimator (a DataError that scikit-learn tooling sees as ValueError)."""


class _Output:
    """One output column of a simulator as a qcomp.train Differentiable."""

    def __init__(self, sim: Any, output: int, n_outputs: int, n_inputs: int, n_params: int) -> None:
        self.sim, self.output, self.n_outputs = sim, output, n_outputs
        self.n_inputs, self.n_params = n_inputs, n_params

    def expval(self, params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        return self.sim.expval(params, inputs)[:, self.output : self.output + 1]

    def vjp(self, params: np.ndarray, inputs: np.ndarray, cotangent: np.ndarray) -> np.ndarray:
        full = np.zeros((cotangent.shape[0], self.n_outputs))
        full[:, self.output] = cotangent[:, 0]
        return self.sim.vjp(params, inputs, full)


class QNNClassifier(ClassifierMixin, BaseEstimator):
    """Binary classifier whose decision function is one expectation value of a compiled circuit.

    ``fit(X, y)`` maps the two labels to -1 (``classes_[0]``) and +1 (``classes_[1]``) and trains
    the circuit parameters with :func:`qcomp.train.fit` (minibatches, ``loss``, ``optimizer``
    with learning rate ``lr``, seeded shuffling and initialization). ``X`` has one column per
    declared input of the model; scale or binarize features beforehand (e.g. in a Pipeline).

    * ``decision_function(X)``: the expectation value of output ``output`` (> 0 means classes_[1]);
    * ``predict_proba(X)``: ``[(1 - f) / 2, (1 + f) / 2]`` with ``f`` clipped to [-1, 1];
    * ``score(X, y)``: accuracy (from ClassifierMixin).

    Fitted attributes: ``classes_``, ``params_``, ``history_`` (per-epoch logs), ``n_iter_``
    (epochs run), ``n_features_in_``, ``model_`` (the compiled qcomp Model).

    >>> clf = QNNClassifier("qubit q; input x; param w; ry(x) q; ry(w) q; expect z(q);", epochs=30, lr=0.3)
    >>> clf.fit([[0.1], [3.0], [0.2], [2.9]], ["a", "b", "a", "b"]).predict([[0.0], [3.1]]).tolist()
    ['a', 'b']
    """

    def __init__(self, model: Any = None, epochs: int = 3, batch_size: int = 32, lr: float = 0.01,
                 loss: str = "hinge", seed: int = 0, optimize: int = 2, optimizer: str = "adam",
                 init_scale: float = float(np.pi), output: int = 0, precision: str = "double") -> None:
        self.model = model
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.loss = loss
        self.seed = seed
        self.optimize = optimize
        self.optimizer = optimizer
        self.init_scale = init_scale
        self.output = output
        self.precision = precision

    # -- scikit-learn metadata ------------------------------------------------------------
    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {"binary_only": True}

    # -- helpers ---------------------------------------------------------------------------
    def _compile(self):
        from ..api import Model, compile
        from ..ir.program import Program

        m = self.model
        if m is None:
            raise InputError("QNNClassifier needs a model: a qcomp Model, Program, .q file path or .q source")
        if isinstance(m, Model):
            return require_expectations(m, "QNNClassifier")
        if isinstance(m, Program):
            return require_expectations(Model(m, self.optimize), "QNNClassifier")
        if isinstance(m, (str, os.PathLike)):
            return require_expectations(compile(m, optimize=self.optimize), "QNNClassifier")
        raise InputError(f"QNNClassifier model must be a qcomp Model, Program, path or .q source, "
                         f"got {type(m).__name__}")

    def _check_X(self, X: Any, reset: bool, y: Any = None):
        try:
            if y is None:
                Xc = check_array(X, dtype=np.float64)
                yc = None
            else:
                Xc, yc = check_X_y(X, y, dtype=np.float64)
        except ValueError as exc:
            raise EstimatorDataError(str(exc)) from None
        if reset:
            self.n_features_in_ = Xc.shape[1]
        elif Xc.shape[1] != self.n_features_in_:
            raise EstimatorDataError(f"X has {Xc.shape[1]} features, but {type(self).__name__} is expecting "
                                     f"{self.n_features_in_} features as input")
        return Xc, yc

    # -- estimator API -----------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> "QNNClassifier":
        """Train on ``X`` (n_samples, n_inputs) and two-valued labels ``y``; returns self."""
        from ..train import Dataset, fit, get_optimizer, init_params

        Xc, yc = self._check_X(X, reset=True, y=y)
        try:
            check_classification_targets(yc)
        except ValueError as exc:
            raise EstimatorDataError(str(exc)) from None
        classes = np.unique(yc)
        if classes.shape[0] != 2:
            raise EstimatorDataError(f"Only binary classification is supported by QNNClassifier: y must have "
                                     f"exactly 2 classes, but y has {classes.shape[0]} class"
                                     f"{'es' if classes.shape[0] != 1 else ''} ({', '.join(map(str, classes[:5]))})")
        model = self._compile()
        if model.num_inputs != Xc.shape[1]:
            raise EstimatorDataError(f"X has {Xc.shape[1]} features but the model declares "
                                     f"{model.num_inputs} inputs")
        if not 0 <= int(self.output) < model.num_outputs:
            raise InputError(f"output {self.output} is out of range: the model has {model.num_outputs} outputs")
        sim = model.simulator(precision=self.precision)
        net = _Output(sim, int(self.output), model.num_outputs, model.num_inputs, model.num_params)
        ypm = np.where(yc == classes[1], 1.0, -1.0)
        data = Dataset(Xc, ypm, Xc, ypm, description="QNNClassifier.fit")
        params0 = init_params(model.num_params, seed=int(self.seed), scale=float(self.init_scale))
        result = fit(net, params0, data, loss=self.loss, optimizer=get_optimizer(self.optimizer, lr=self.lr),
                     epochs=self.epochs, batch_size=self.batch_size, seed=int(self.seed), progress=False,
                     evaluate_test=False)
        self.classes_ = classes
        self.model_ = model
        self._net = net
        self.params_ = result.params
        self.history_ = result.history
        self.n_iter_ = result.epochs_completed
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Expectation value of the chosen output per sample, shape (n_samples,)."""
        check_is_fitted(self, "params_")
        Xc, _ = self._check_X(X, reset=False)
        return self._net.expval(self.params_, Xc)[:, 0]

    def predict(self, X: Any) -> np.ndarray:
        """``classes_[1]`` where the decision function is positive, else ``classes_[0]``."""
        d = self.decision_function(X)  # checks fitted-ness before classes_ is touched
        return self.classes_[(d > 0).astype(int)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Columns for ``classes_``: ``(1 - f) / 2`` and ``(1 + f) / 2`` (f the decision function)."""
        p1 = (1.0 + np.clip(self.decision_function(X), -1.0, 1.0)) / 2.0
        return np.column_stack([1.0 - p1, p1])
