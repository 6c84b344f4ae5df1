"""Compiled predictions equal the source models' on every row of every dataset."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.naive_bayes import CategoricalNB, GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

from greenauto.compiled import CompiledPipeline
from greenauto.compiled._reference import vote_reference

from .conftest import DATASETS, binned, encoded, fit_rows

TREE_MODELS = {
    "dt": lambda: DecisionTreeClassifier(max_depth=12, random_state=0),
    "rf": lambda: RandomForestClassifier(n_estimators=15, max_depth=8, random_state=0),
    "et": lambda: ExtraTreesClassifier(n_estimators=15, max_depth=8, random_state=0),
    "lgbm": lambda: lgb.LGBMClassifier(n_estimators=15, num_leaves=15, n_jobs=1, verbose=-1),
}


def assert_same(pipe: CompiledPipeline, model, X_in, X_model, proba=True) -> None:
    np.testing.assert_array_equal(pipe.predict(X_in), model.predict(X_model))
    if proba:
        np.testing.assert_allclose(
            pipe.predict_proba(X_in), model.predict_proba(X_model), rtol=0, atol=1e-6
        )


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("kind", sorted(TREE_MODELS))
def test_raw_tree_models(name, kind):
    X, y = encoded(name)
    model = TREE_MODELS[kind]().fit(X[fit_rows(len(y))], y[fit_rows(len(y))])
    pipe = CompiledPipeline([model], classes=model.classes_)
    assert_same(pipe, model, X, X)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("kind", sorted(TREE_MODELS))
def test_binned_tree_models(name, kind):
    binner, X, codes, y = binned(name)
    rows = fit_rows(len(y))
    model = TREE_MODELS[kind]().fit(codes[rows], y[rows])
    pipe = CompiledPipeline([model], classes=model.classes_, binner=binner)
    assert_same(pipe, model, X, codes)


@pytest.mark.parametrize("name", DATASETS)
def test_lightgbm_booster_on_nan_and_inf(name):
    X, y = encoded(name)
    rows = fit_rows(len(y))
    classes = np.unique(y[rows])
    params = {"num_leaves": 15, "verbose": -1, "use_missing": True, "num_threads": 1}
    if classes.size > 2:
        params |= {"objective": "multiclass", "num_class": int(y.max()) + 1}
    else:
        params |= {"objective": "binary"}
    booster = lgb.train(params, lgb.Dataset(X[rows], y[rows]), num_boost_round=10)
    X_bad = X.copy()
    rng = np.random.default_rng(0)
    mask = rng.random(X.shape) < 0.1
    X_bad[mask] = rng.choice(np.array([np.nan, np.inf, -np.inf], np.float32), mask.sum())
    pipe = CompiledPipeline([booster], classes=np.arange(max(2, int(y.max()) + 1)))
    expected = booster.predict(X_bad)
    expected = np.column_stack([1 - expected, expected]) if expected.ndim == 1 else expected
    np.testing.assert_allclose(pipe.predict_proba(X_bad), expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(pipe.predict(X_bad), np.argmax(expected, axis=1))


@pytest.mark.parametrize("name", DATASETS)
def test_naive_bayes_on_bins(name):
    binner, X, codes, y = binned(name)
    rows = fit_rows(len(y))
    cnb = CategoricalNB(min_categories=binner.n_bins_ + 1).fit(codes[rows], y[rows])
    pipe = CompiledPipeline([cnb], classes=cnb.classes_, binner=binner)
    np.testing.assert_array_equal(pipe.predict(X), cnb.predict(codes))
    gnb = GaussianNB().fit(codes[rows].astype(np.float64), y[rows])
    pipe = CompiledPipeline([gnb], classes=gnb.classes_, binner=binner)
    np.testing.assert_array_equal(pipe.predict(X), gnb.predict(codes.astype(np.float64)))


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("p", [1, 2])
def test_knn_on_bins(name, p):
    binner, X, codes, y = binned(name)
    rows = slice(0, 1500)
    knn = KNeighborsClassifier(n_neighbors=7, p=p, algorithm="brute")
    knn.fit(codes[rows].astype(np.float64), y[rows])
    pipe = CompiledPipeline([knn], classes=np.unique(y), binner=binner)  # knn: maybe a subset
    with threadpool_limits(1):
        expected = knn.predict(codes[:1500].astype(np.float64))
    np.testing.assert_array_equal(pipe.predict(X[:1500]), expected)


def in_pipeline_classes(model, data: np.ndarray, classes: np.ndarray):
    """A member's class indices and probabilities, in the pipeline's classes."""
    where = np.searchsorted(classes, model.classes_)
    proba = np.zeros((data.shape[0], classes.size))
    proba[:, where] = model.predict_proba(data)
    return np.searchsorted(classes, model.predict(data)), proba


@pytest.mark.parametrize("name", DATASETS)
def test_vote_dt_nb_knn_with_selection(name):
    binner, X, codes, y = binned(name)
    n = X.shape[1]
    columns = np.arange(n)[::-1][: max(2, n // 2)]  # a selection, in reverse order
    sel = codes[:, columns]
    rows = slice(0, 1500)
    dt = DecisionTreeClassifier(max_depth=6, random_state=0).fit(sel[rows], y[rows])
    nb = CategoricalNB(min_categories=binner.n_bins_[columns] + 1).fit(sel[rows], y[rows])
    knn_cols = np.array([0, len(columns) - 1])  # the KNN sees two of the selected columns
    knn = KNeighborsClassifier(n_neighbors=3, algorithm="brute")
    knn.fit(sel[rows][:, knn_cols].astype(np.float64), y[rows])
    classes = np.unique(y)  # members fitted on 1,500 rows may know fewer classes
    with threadpool_limits(1):
        parts = [
            in_pipeline_classes(dt, sel, classes),
            in_pipeline_classes(nb, sel, classes),
            in_pipeline_classes(knn, sel[:, knn_cols].astype(np.float64), classes),
        ]
    for voting in ("hard", "soft"):
        pipe = CompiledPipeline(
            [dt, nb, (knn, knn_cols)], classes=classes, binner=binner, columns=columns,
            voting=voting,
        )  # fmt: skip
        labels, proba = vote_reference(
            np.array([v for v, _ in parts]), [p for _, p in parts], voting
        )
        got_labels, got_proba = pipe.predict_with_proba(X)
        np.testing.assert_array_equal(got_labels, classes[labels])
        np.testing.assert_allclose(got_proba, proba, rtol=0, atol=1e-12)


def test_two_threads_equal_one_thread():
    X, y = encoded("magic")
    model = RandomForestClassifier(n_estimators=10, max_depth=8, random_state=0).fit(X, y)
    big = np.tile(X, (4, 1))  # 12,000 rows: above the per-thread minimum
    one = CompiledPipeline([model], classes=model.classes_, n_threads=1)
    two = CompiledPipeline([model], classes=model.classes_, n_threads=2)
    np.testing.assert_array_equal(two.predict(big), one.predict(big))
    np.testing.assert_array_equal(two.predict_proba(big), model.predict_proba(big))


def test_vote_with_two_threads_equals_one_thread():
    binner, X, codes, y = binned("magic")
    dt = DecisionTreeClassifier(max_depth=6, random_state=0).fit(codes, y)
    nb = GaussianNB().fit(codes * 1.0, y)
    knn = KNeighborsClassifier(n_neighbors=3, algorithm="brute").fit(codes[:300] * 1.0, y[:300])
    big = np.tile(X, (3, 1))  # 9,000 rows: two threads
    one = CompiledPipeline([dt, nb, knn], classes=dt.classes_, binner=binner, n_threads=1)
    two = CompiledPipeline([dt, nb, knn], classes=dt.classes_, binner=binner, n_threads=2)
    np.testing.assert_array_equal(two.predict(big), one.predict(big))


def test_raw_hard_vote_labels_alone_equal_labels_with_probabilities():
    X, y = encoded("letter")
    trees = [
        DecisionTreeClassifier(max_depth=d, random_state=d).fit(X[:1500], y[:1500]) for d in (4, 7)
    ]
    pipe = CompiledPipeline(trees, classes=trees[0].classes_, voting="hard")
    labels, proba = pipe.predict_with_proba(X)
    assert np.mean(trees[0].predict(X) != trees[1].predict(X)) > 0.1  # many ties to break
    np.testing.assert_array_equal(pipe.predict(X), labels)
    np.testing.assert_array_equal(pipe.classes_[np.argmax(proba, axis=1)], labels)
