"""qcomp.sklearn.QNNClassifier: estimator conventions, label mapping, training on digits 3 vs 6, gradient check."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from qcomp.errors import DataError, InputError, QCompError  # noqa: E402
from qcomp.sklearn import EstimatorDataError, QNNClassifier, _Output  # noqa: E402

# 5 qubits: 16 binary pixels uploaded 4 at a time onto 4 data qubits, XX/ZZ couplings to a readout
DIGITS_QNN = """
qubit d[4];
qubit r;
input px[16];
param w[32];
x r;
h r;
for l in range(4) {
    for i in range(4) { rx(pi * px[4 * l + i]) d[i]; }
    for i in range(4) { rxx(w[8 * l + i]) d[i], r; }
    for i in range(4) { rzz(w[8 * l + 4 + i]) d[i], r; }
}
h r;
expect z(r);
"""

TINY = ("qubit q[2]; input x[2]; param w[4]; ry(x[0]) q[0]; ry(x[1]) q[1]; ry(w[0]) q[0]; ry(w[1]) q[1]; "
        "cx q[0], q[1]; ry(w[2]) q[0]; ry(w[3]) q[1]; expect z(q[1]); expect x(q[0]);")


@pytest.fixture(scope="module")
def digits():
    from qcomp.train import load_data

    ds = load_data("digits:3,6", seed=0, validation_fraction=0)
    names = lambda y: np.where(y > 0, "three", "six")  # noqa: E731 - arbitrary string labels
    return ds.x_train, names(ds.y_train), ds.x_test, names(ds.y_test)


def test_fit_improves_score_on_digits(digits):
    xtr, ytr, xte, yte = digits
    untrained = QNNClassifier(DIGITS_QNN, epochs=0, lr=0.05, seed=1).fit(xtr, ytr)
    clf = QNNClassifier(DIGITS_QNN, epochs=2, lr=0.05, seed=1).fit(xtr, ytr)
    np.testing.assert_array_equal(untrained.params_, QNNClassifier(DIGITS_QNN, seed=1, epochs=0).fit(xtr, ytr).params_)
    assert list(clf.classes_) == ["six", "three"]
    assert clf.n_iter_ == 2 and len(clf.history_) == 2 and clf.n_features_in_ == 16
    before, after = untrained.score(xte, yte), clf.score(xte, yte)
    assert after >= 0.8 and after > before + 0.2, (before, after)
    assert clf.history_[-1]["loss"] < clf.history_[0]["loss"]
    # predictions are labels from classes_, consistent with decision_function and predict_proba
    d = clf.decision_function(xte)
    pred = clf.predict(xte)
    assert set(pred) <= {"six", "three"}
    np.testing.assert_array_equal(pred, np.where(d > 0, "three", "six"))
    proba = clf.predict_proba(xte)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)][np.abs(d) > 1e-12], pred[np.abs(d) > 1e-12])
    # decision_function is the circuit's expectation value at the fitted params
    np.testing.assert_allclose(d, clf.model_.simulator().expval(clf.params_, xte)[:, 0], atol=1e-12)


def test_labels_are_mapped_by_sorted_classes():
    X = np.array([[0.1, 0.2], [2.9, 0.1], [0.2, 0.3], [3.0, 0.2]] * 4)
    y = np.array([7, -3, 7, -3] * 4)  # -3 -> -1 (classes_[0]), 7 -> +1 (classes_[1])
    clf = QNNClassifier(TINY, epochs=30, batch_size=4, lr=0.1, seed=0).fit(X, y)
    assert list(clf.classes_) == [-3, 7]
    assert clf.score(X, y) == 1.0
    assert np.all(clf.decision_function(X)[y == 7] > 0)


def test_get_set_params_and_clone():
    clf = QNNClassifier(TINY, epochs=4, lr=0.2, output=1)
    params = clf.get_params()
    assert params["model"] == TINY and params["epochs"] == 4 and params["output"] == 1
    assert clf.set_params(epochs=7) is clf and clf.epochs == 7
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and twin is not clf
    assert not hasattr(twin, "params_")


def test_output_selection_gradient_matches_finite_differences():
    import qcomp

    m = qcomp.compile(TINY)
    sim = m.simulator()
    net = _Output(sim, 1, m.num_outputs, m.num_inputs, m.num_params)
    rng = np.random.default_rng(3)
    p, x, cot = rng.normal(size=4), rng.normal(size=(5, 2)), rng.normal(size=(5, 1))
    g = net.vjp(p, x, cot)
    eps = 1e-6
    fd = [(np.sum(cot * net.expval(p + eps * e, x)) - np.sum(cot * net.expval(p - eps * e, x))) / (2 * eps)
          for e in np.eye(4)]
    np.testing.assert_allclose(g, fd, atol=1e-7)


def test_misuse_raises_clear_errors():
    X = np.array([[0.1, 0.2], [2.9, 0.1], [0.2, 0.3]])
    with pytest.raises(NotFittedError):
        QNNClassifier(TINY).predict(X)
    with pytest.raises(EstimatorDataError, match="Only binary classification"):
        QNNClassifier(TINY).fit(X, [0, 1, 2])
    with pytest.raises(EstimatorDataError, match="declares 2 inputs"):
        QNNClassifier(TINY).fit(np.zeros((4, 3)), [0, 1, 0, 1])
    with pytest.raises(DataError, match="NaN"):
        QNNClassifier(TINY).fit([[np.nan, 0.0], [1.0, 0.0]], [0, 1])
    with pytest.raises(InputError, match="needs a model"):
        QNNClassifier().fit(X[:2], [0, 1])
    with pytest.raises(InputError, match="out of range"):
        QNNClassifier(TINY, output=2).fit(X[:2], [0, 1])
    clf = QNNClassifier(TINY, epochs=1).fit(X[:2], [0, 1])
    with pytest.raises(EstimatorDataError, match="3 features"):
        clf.predict(np.zeros((2, 3)))
    with pytest.raises(QCompError, match="unknown loss"):
        QNNClassifier(TINY, loss="nope").fit(X[:2], [0, 1])
    assert issubclass(EstimatorDataError, ValueError)  # what scikit-learn tooling expects


CHECKS = [
    "check_parameters_default_constructible", "check_get_params_invariance", "check_set_params",
    "check_no_attributes_set_in_init", "check_estimators_unfitted", "check_fit_check_is_fitted",
    "check_n_features_in", "check_classifiers_one_label", "check_classifier_not_supporting_multiclass",
    "check_decision_proba_consistency", "check_fit_idempotent", "check_supervised_y_no_nan",
]


@pytest.mark.parametrize("check", CHECKS)
def test_sklearn_estimator_checks(check):
    # optional: the full check_estimator suite feeds random feature counts, which a circuit with a
    # fixed number of inputs cannot accept; these checks use the 2 features TINY declares or none
    ec = pytest.importorskip("sklearn.utils.estimator_checks")
    fn = getattr(ec, check, None)
    if fn is None:
        pytest.skip(f"{check} not in this scikit-learn version")
    fn("QNNClassifier", QNNClassifier(TINY, epochs=1))


def test_import_qcomp_stays_framework_free():
    code = ("import sys, qcomp, qcomp.sklearn, qcomp.train, qcomp.gradients; "
            "bad = [m for m in ('torch', 'jax') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
