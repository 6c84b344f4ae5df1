"""FeatureSelector: estimator checks, scoring rules, ties, NaN, bin codes, bad input."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.feature_selection import f_classif, mutual_info_classif
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from greenauto.datasets import load_dataset
from greenauto.preprocessing import Binner, FeatureSelector

METHODS = ["none", "anova", "mutual_info", "tree_importance"]


@parametrize_with_checks(
    [
        FeatureSelector(),
        FeatureSelector("none"),
        FeatureSelector("mutual_info", k=2, random_state=0),
        FeatureSelector("tree_importance", k=0.7, random_state=0),
    ]
)
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)


def _informative(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Column 2 decides y, column 0 is weakly related, columns 1 and 3 are noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    X = rng.normal(size=(n, 4))
    X[:, 2] += 3.0 * y
    X[:, 0] += 0.5 * y
    return X, y


@pytest.mark.parametrize("method", ["anova", "mutual_info", "tree_importance"])
def test_every_method_finds_the_informative_column(method: str) -> None:
    X, y = _informative()
    selector = FeatureSelector(method, k=1, random_state=0).fit(X, y)
    np.testing.assert_array_equal(selector.selected_columns_, [2])
    assert int(np.argmax(selector.scores_)) == 2
    assert selector.scores_.shape == (4,)
    np.testing.assert_array_equal(selector.transform(X), X[:, [2]])


def test_anova_scores_equal_f_classif() -> None:
    X, y = _informative()
    selector = FeatureSelector("anova", k=2).fit(X, y)
    np.testing.assert_allclose(selector.scores_, f_classif(X, y)[0])
    np.testing.assert_array_equal(selector.selected_columns_, [0, 2])


def test_none_keeps_everything_and_needs_no_y() -> None:
    X, _ = _informative()
    selector = FeatureSelector("none", k=1).fit(X)
    np.testing.assert_array_equal(selector.selected_columns_, np.arange(4))
    np.testing.assert_array_equal(selector.scores_, np.zeros(4))
    np.testing.assert_array_equal(selector.transform(X), X)
    ignored = FeatureSelector("none").fit(X, np.linspace(0, 1, len(X)))  # y is not looked at
    np.testing.assert_array_equal(ignored.selected_columns_, np.arange(4))


@pytest.mark.parametrize(
    ("k", "n_features", "expected"),
    [(0.3, 10, 3), (0.31, 10, 4), (0.01, 10, 1), (1.0, 7, 7), (1, 7, 1), (0.5, 3, 2), (3, 5, 3)],
)
def test_k_as_count_or_fraction_rounds_up(k: float, n_features: int, expected: int) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, n_features))
    y = np.arange(40) % 2
    assert FeatureSelector(k=k).fit(X, y).selected_columns_.size == expected


def test_k_larger_than_n_features_warns_and_keeps_all() -> None:
    X, y = _informative()
    with pytest.warns(UserWarning, match="k=9 of FeatureSelector is larger than the 4 features"):
        selector = FeatureSelector(k=9).fit(X, y)
    np.testing.assert_array_equal(selector.selected_columns_, np.arange(4))


@pytest.mark.parametrize("method", ["anova", "mutual_info", "tree_importance"])
def test_ties_keep_the_lower_column_index(method: str) -> None:
    X, y = _informative()
    X = np.column_stack([X[:, 1], X[:, 2], X[:, 2], X[:, 2]])  # three identical columns
    selector = FeatureSelector(method, k=2, random_state=0).fit(X, y)
    if method != "tree_importance":  # impurity importances of copies differ by chance
        assert selector.scores_[1] == selector.scores_[2] == selector.scores_[3]
        np.testing.assert_array_equal(selector.selected_columns_, [1, 2])
    # duplicates of one column in sorted order, whatever the forest picked
    assert np.all(np.diff(selector.selected_columns_) > 0)


@pytest.mark.parametrize("method", ["anova", "mutual_info", "tree_importance"])
def test_constant_and_all_nan_columns_score_zero_without_warnings(method: str) -> None:
    X, y = _informative()
    X[:, 1] = 7.0
    X[:, 3] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        selector = FeatureSelector(method, k=4, random_state=0).fit(X, y)
    assert selector.scores_[1] == 0.0
    assert selector.scores_[3] == 0.0
    assert not np.isnan(selector.scores_).any()


def test_nan_is_imputed_with_the_column_median_for_scoring() -> None:
    X, y = _informative()
    X_nan = X.copy()
    X_nan[::5, 2] = np.nan
    filled = X_nan.copy()
    filled[::5, 2] = np.nanmedian(X_nan[:, 2])
    selector = FeatureSelector("anova", k=1).fit(X_nan, y)
    np.testing.assert_allclose(selector.scores_, f_classif(filled, y)[0])
    assert np.isnan(selector.transform(X_nan)[0, 0])  # transform keeps the NaN itself


def test_perfectly_separating_column_scores_inf_and_wins() -> None:
    X = np.array([[0.0, 0.1], [0.0, 0.3], [1.0, 0.2], [1.0, 0.0]])
    y = np.array([0, 0, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        selector = FeatureSelector("anova", k=1).fit(X, y)
    assert selector.scores_[0] == np.inf
    np.testing.assert_array_equal(selector.selected_columns_, [0])


def test_bin_codes_use_discrete_mutual_information() -> None:
    X, y = load_dataset("breast_cancer_wisconsin")
    codes = Binner(n_bins=8).fit_transform(X)
    selector = FeatureSelector("mutual_info", k=5, random_state=0).fit(codes, y)
    expected = mutual_info_classif(codes, y, discrete_features=True, random_state=0)
    np.testing.assert_allclose(selector.scores_, expected)
    assert selector.transform(codes).dtype == np.uint8


def test_random_state_makes_tree_importance_reproducible() -> None:
    X, y = _informative()
    a = FeatureSelector("tree_importance", random_state=3).fit(X, y).scores_
    b = FeatureSelector("tree_importance", random_state=3).fit(X, y).scores_
    np.testing.assert_array_equal(a, b)


def test_pandas_names_string_labels_and_pickle() -> None:
    X, y = _informative()
    frame = pd.DataFrame(X, columns=["w", "x", "y", "z"])
    labels = np.where(y == 1, "yes", "no")
    selector = FeatureSelector("anova", k=2).set_output(transform="pandas").fit(frame, labels)
    assert list(selector.get_feature_names_out()) == ["w", "y"]
    assert list(selector.transform(frame).columns) == ["w", "y"]
    again = pickle.loads(pickle.dumps(selector))
    np.testing.assert_array_equal(again.selected_columns_, selector.selected_columns_)


def test_pipeline_and_grid_search_over_k() -> None:
    X, y = _informative(300)
    pipe = make_pipeline(FeatureSelector(), DecisionTreeClassifier(max_depth=3, random_state=0))
    search = GridSearchCV(pipe, {"featureselector__k": [1, 4]}, cv=3).fit(X, y)
    assert search.best_score_ > 0.85
    assert clone(pipe).get_params()["featureselector__k"] == 0.5


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"k": 0}, r"The 'k' parameter of FeatureSelector must be an int in the range \[1, inf\)"),
        ({"k": 1.5}, r"or a float in the range \(0\.0, 1\.0\]\. Got 1\.5 instead"),
        ({"method": "chi2"}, r"The 'method' parameter of FeatureSelector must be a str among"),
    ],
)
def test_bad_parameters_are_named(params: dict, message: str) -> None:
    X, y = _informative()
    with pytest.raises(ValueError, match=message):
        FeatureSelector(**params).fit(X, y)


def test_single_class_y_is_refused() -> None:
    X, _ = _informative()
    with pytest.raises(ValueError, match="method='anova' needs y with at least 2 classes; got 1"):
        FeatureSelector().fit(X, np.zeros(len(X)))


def test_supervised_method_without_y_is_refused() -> None:
    X, _ = _informative()
    with pytest.raises(ValueError, match="requires y to be passed"):
        FeatureSelector("mutual_info").fit(X)


def test_wrong_column_count_at_transform() -> None:
    X, y = _informative()
    selector = FeatureSelector().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but FeatureSelector is expecting 4"):
        selector.transform(X[:, :3])
