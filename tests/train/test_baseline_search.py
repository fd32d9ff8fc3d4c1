"""fair_classical_baseline: the baseline's size and epochs come from a seeded validation search."""

import numpy as np
import pytest

from qcomp.train import Dataset, describe_baseline, fair_classical_baseline, load_data
from qcomp.train.baseline import BASELINE_EPOCHS, BASELINE_HIDDEN_SIZES, DenseNetwork
from qcomp.train.errors import TrainConfigError


def _two_feature_data(seed=0, n=240):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = np.where(x[:, 0] + 0.5 * x[:, 1] > 0, 1, -1)
    return Dataset(x[: n // 2], y[: n // 2], x[n // 2:], y[n // 2:], description="two features")


def test_reports_the_real_architecture_for_two_features():
    out = fair_classical_baseline(_two_feature_data(), seed=0)
    h = out["n_hidden"]
    assert out["architecture"] == f"2-{h}-1"
    assert out["n_params"] == DenseNetwork(2, h, 1).n_params == 2 * h + h + h + 1
    assert out["params"].shape == (out["n_params"],)
    assert len(out["history"]) == out["epochs"]
    line = describe_baseline(out)
    assert f"classical baseline 2-{h}-1 ({out['n_params']} params, {out['epochs']} epochs" in line
    assert "16-2-1" not in line and "37 params" not in line
    # no validation split in the data: part of the training split was held out for the search
    assert "held out" in out["validation"]
    assert out["test_hinge_accuracy"] > 0.9


def test_choice_is_the_best_validation_score_and_deterministic():
    ds = load_data("digits:3,6", seed=0)
    out = fair_classical_baseline(ds, seed=0)
    rows = out["search"]
    assert len(rows) == len(BASELINE_HIDDEN_SIZES) * len(BASELINE_EPOCHS)
    best = max(r["val_hinge_accuracy"] for r in rows)
    chosen = [r for r in rows if r["hidden"] == out["n_hidden"] and r["epochs"] == out["epochs"]]
    assert chosen and chosen[0]["val_hinge_accuracy"] == best
    # ties go to the lower validation loss
    assert chosen[0]["val_loss"] == min(r["val_loss"] for r in rows if r["val_hinge_accuracy"] == best)
    assert out["validation"].startswith("the validation split")
    again = fair_classical_baseline(ds, seed=0)
    assert describe_baseline(again) == describe_baseline(out)
    np.testing.assert_array_equal(again["params"], out["params"])


def test_the_search_is_the_given_grid():
    out = fair_classical_baseline(_two_feature_data(1), seed=3, hidden_sizes=[3], epoch_counts=[5, 7])
    assert out["n_hidden"] == 3 and out["epochs"] in (5, 7)
    assert [(r["hidden"], r["epochs"]) for r in out["search"]] == [(3, 5), (3, 7)]
    with pytest.raises(TrainConfigError, match="positive"):
        fair_classical_baseline(_two_feature_data(), hidden_sizes=[0])
    ds = _two_feature_data()
    multi = Dataset(ds.x_train, np.eye(2)[(ds.y_train > 0).astype(int)], ds.x_test, np.eye(2)[(ds.y_test > 0).astype(int)])
    with pytest.raises(TrainConfigError, match="one label per example"):
        fair_classical_baseline(multi)
