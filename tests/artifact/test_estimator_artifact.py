"""GreenAutoClassifier's model: one kernel path for labels and probabilities, saved without
pickle, loaded in a clean process, pickled as arrays, exported to scikit-learn."""

from __future__ import annotations

import io
import pickle
import pickletools
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from greenauto import GreenAutoClassifier, load_model, save_model
from greenauto.datasets import load_dataset
from greenauto.search import PipelineConfig, config_from_params, fit_candidate

LIBRARY_MODULES = ("sklearn.tree", "sklearn.ensemble", "sklearn.naive_bayes", "sklearn.neighbors",
                   "lightgbm")  # fmt: skip


@pytest.fixture(scope="module")
def adult():
    X, y = load_dataset("adult")  # text and categorical columns, missing values
    return X.iloc[:1500], y.iloc[:1500]


@pytest.fixture(scope="module")
def auto(adult):
    X, y = adult
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GreenAutoClassifier(
            n_trials=6, time_budget=None, energy_meter="model", max_members=1, random_state=0
        ).fit(X, y)


def globals_in(blob: bytes) -> set[str]:
    """Modules whose objects a pickle would import."""
    found = set()
    for op, arg, _ in pickletools.genops(io.BytesIO(blob)):
        if op.name in ("GLOBAL", "INST") and isinstance(arg, str):
            found.add(arg.split(" ")[0])
        elif op.name == "STACK_GLOBAL":
            found.add("<stack>")
    return found


def test_predict_and_predict_proba_are_one_kernel_call(auto, adult):
    X, _ = adult
    labels, proba = auto.compiled_model().predict_with_proba(X)
    np.testing.assert_array_equal(auto.predict(X), labels)
    np.testing.assert_array_equal(auto.predict_proba(X), proba)
    np.testing.assert_array_equal(auto.classes_[np.argmax(proba, axis=1)], labels)
    assert np.unique(proba.round(6), axis=0).shape[0] > 2  # probabilities, not one-hot votes


def test_save_then_load_in_a_clean_process(auto, adult, tmp_path):
    X, _ = adult
    path = save_model(auto, tmp_path / "model.gam")
    X.to_csv(tmp_path / "X.csv", index=False)
    script = (
        "import sys, pandas as pd\n"
        "for name in ('lightgbm',):\n"
        "    sys.modules[name] = None  # loading may not need LightGBM\n"
        "import greenauto\n"
        f"model = greenauto.load_model({str(path)!r})\n"
        f"X = pd.read_csv({str(tmp_path / 'X.csv')!r})\n"
        "print(' '.join(map(str, model.predict(X))))\n"
        "print(repr(model.ir.metrics['description']), model.ir.energy_source)\n"
    )
    out = subprocess.run(
        [sys.executable, "-P", "-c", script], capture_output=True, text=True, check=True
    )
    labels, meta = out.stdout.splitlines()
    assert labels.split() == [str(v) for v in auto.predict(X)]
    assert auto.best_point_.description in meta
    assert auto.best_point_.energy_source in meta
    again = load_model(path)
    np.testing.assert_array_equal(again.predict_proba(X), auto.predict_proba(X))


def test_pickle_stores_the_arrays_not_the_library_objects(auto, adult):
    X, _ = adult
    blob = pickle.dumps(auto)
    modules = {m for m in globals_in(blob) if m.startswith(LIBRARY_MODULES)}
    assert not modules, modules
    again = pickle.loads(blob)
    assert again.model_ is None
    np.testing.assert_array_equal(again.predict(X), auto.predict(X))
    np.testing.assert_array_equal(again.predict_proba(X), auto.predict_proba(X))
    blob = pickle.dumps(auto.compiled_model())
    assert not {m for m in globals_in(blob) if m.startswith(LIBRARY_MODULES)}


def test_to_sklearn_of_the_pick_and_of_a_point(auto, adult):
    X, y = adult
    exported = auto.to_sklearn()
    np.testing.assert_array_equal(exported.predict(X), auto.predict(X))
    np.testing.assert_allclose(exported.predict_proba(X), auto.predict_proba(X), atol=1e-6)
    assert "greenauto" not in {m.split(".")[0] for m in globals_in(pickle.dumps(exported))}
    point = auto.pareto_front_.points[-1]
    seed = 0
    from_point = point.to_sklearn(X, y, random_state=seed)
    auto_again = pickle.loads(pickle.dumps(auto)).use_point(point, X, y)
    np.testing.assert_array_equal(from_point.predict(X), auto_again.predict(X))


def test_a_point_read_from_json_cannot_export(auto, adult):
    from greenauto import ParetoPoint

    point = ParetoPoint.from_dict(auto.best_point_.to_dict())
    with pytest.raises(ValueError, match="carries no pipeline configuration"):
        point.to_sklearn(*adult)


def test_search_scores_probabilities_of_a_single_lightgbm(adult):
    """The search's probability scorers see LightGBM's own probabilities (not one-hot)."""
    X, y = load_dataset("magic")
    rows = np.random.default_rng(0).permutation(len(y))[:3000]
    X, y = X.to_numpy()[rows], (y.to_numpy()[rows] == y.iloc[0]).astype(np.int64)
    params = {
        "n_bins": 64, "bin_strategy": "quantile", "selector": "none", "n_members": 1,
        "m0_learner": "lightgbm", "m0_lightgbm_n_estimators": 40, "m0_lightgbm_num_leaves": 15,
        "m0_lightgbm_learning_rate": 0.1, "m0_lightgbm_min_child_samples": 20,
        "m0_lightgbm_colsample_bytree": 1.0, "m0_lightgbm_reg_lambda": 1.0,
        "m0_lightgbm_max_depth": -1,
        "m0_row_fraction": 1.0,
    }  # fmt: skip
    config: PipelineConfig = config_from_params(params)
    candidate = fit_candidate(config, X[:2000], y[:2000], random_state=0)
    gbm = candidate.ensemble.estimators_[0]
    held = X[2000:]
    ours = candidate.predict_proba(held)
    theirs = gbm.predict_proba(candidate.member_input(held))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    assert roc_auc_score(y[2000:], ours[:, 1]) == roc_auc_score(y[2000:], theirs[:, 1])
