"""On every dataset: compile_model, save -> load and pickle give the fitted pipeline's labels,
and probabilities within 1e-6 of the source models'.
"""

from __future__ import annotations

import pickle
import warnings

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.naive_bayes import CategoricalNB, GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from threadpoolctl import threadpool_limits

from greenauto import Binner, ConstantFeatureWarning, FeatureSelector, MajorityVoteClassifier
from greenauto.compiled import compile_model, load_model, save_model

from ..compiled.conftest import DATASETS, encoded, fit_rows


def lgbm(n: int = 20) -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(n_estimators=n, num_leaves=15, n_jobs=1, verbose=-1, random_state=0)


def vote(voting: str) -> Pipeline:
    """Binner -> FeatureSelector -> a three-member vote (trees, NB, KNN)."""
    members = [
        ("gbm", lgbm()),
        ("nb", GaussianNB()),
        ("knn", KNeighborsClassifier(n_neighbors=5, algorithm="brute")),
    ]
    ensemble = MajorityVoteClassifier(
        members, voting=voting, row_fractions=[1.0, 0.5, 0.3], random_state=0
    )
    return make_pipeline(Binner(n_bins=32), FeatureSelector(k=0.6), ensemble)


def forest_and_nb(voting: str) -> Pipeline:
    members = [
        ("rf", RandomForestClassifier(n_estimators=10, max_depth=8, random_state=0)),
        ("cnb", CategoricalNB(min_categories=34)),
    ]
    ensemble = MajorityVoteClassifier(members, voting=voting, random_state=0)
    return make_pipeline(Binner(n_bins=32), ensemble)


PIPELINES = {
    "vote-hard": lambda: vote("hard"),
    "vote-soft": lambda: vote("soft"),
    "rf+cnb-hard": lambda: forest_and_nb("hard"),
    "rf+cnb-soft": lambda: forest_and_nb("soft"),
    "binned-lightgbm": lambda: make_pipeline(Binner(n_bins=64), lgbm(30)),
    "raw-extra-trees": lambda: ExtraTreesClassifier(n_estimators=8, random_state=0),
}


def fitted(name: str, kind: str):
    X, y = encoded(name)
    rows = fit_rows(X.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantFeatureWarning)
        model = PIPELINES[kind]().fit(X[rows], y[rows])
    return model, X, y


@pytest.mark.parametrize("kind", list(PIPELINES))
@pytest.mark.parametrize("name", DATASETS)
def test_compiled_saved_and_pickled_equal_the_fitted_model(name, kind, tmp_path):
    model, X, _ = fitted(name, kind)
    with threadpool_limits(1):
        labels, proba = model.predict(X), model.predict_proba(X)
    compiled = compile_model(model)
    got_labels, got_proba = compiled.predict_with_proba(X)
    np.testing.assert_array_equal(got_labels, labels)
    np.testing.assert_allclose(got_proba, proba, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(compiled.classes_[np.argmax(got_proba, axis=1)], got_labels)
    loaded = load_model(save_model(compiled, tmp_path / "model.gam"))
    unpickled = pickle.loads(pickle.dumps(compiled))
    for again in (loaded, unpickled):
        np.testing.assert_array_equal(again.predict(X), labels)
        np.testing.assert_array_equal(again.predict_proba(X), got_proba)


@pytest.mark.parametrize("name", DATASETS)
def test_roc_auc_of_a_single_lightgbm_equals_lightgbm_own(name):
    model, X, y = fitted(name, "binned-lightgbm")
    rows = slice(fit_rows(X.shape[0]).stop, None)  # held-out rows
    ours = compile_model(model).predict_proba(X[rows])
    theirs = model.predict_proba(X[rows])
    held = y[rows]
    if model.classes_.size == 2:
        assert roc_auc_score(held, ours[:, 1]) == roc_auc_score(held, theirs[:, 1])
    scored = 0
    for i, c in enumerate(model.classes_):  # one-vs-rest, every class with both outcomes
        if 0 < np.sum(held == c) < held.size:
            assert roc_auc_score(held == c, ours[:, i]) == roc_auc_score(held == c, theirs[:, i])
            scored += 1
    assert scored >= 1
    assert np.unique(ours.round(6), axis=0).shape[0] > 2  # real probabilities, not one-hot
