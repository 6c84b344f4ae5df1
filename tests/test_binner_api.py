"""Binner as a scikit-learn estimator: estimator checks, pipelines, pickling, bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from greenauto import Binner
from greenauto.preprocessing._binning import make_kernel


@parametrize_with_checks([Binner(), Binner(n_bins=4, strategy="uniform", subsample=50)])
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)


@pytest.fixture
def fitted() -> Binner:
    rng = np.random.default_rng(0)
    return Binner(n_bins=16).fit(rng.normal(size=(200, 3)))


def test_pickle_roundtrip_rebuilds_kernel(fitted: Binner) -> None:
    X = np.random.default_rng(1).normal(size=(50, 3))
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.transform(X), fitted.transform(X))


def test_pipeline_and_grid_search() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + 0.3 * rng.normal(size=300) > 0).astype(int)
    pipe = make_pipeline(Binner(), DecisionTreeClassifier(random_state=0))
    search = GridSearchCV(pipe, {"binner__n_bins": [4, 32]}, cv=3).fit(X, y)
    assert search.best_score_ > 0.8
    assert clone(pipe).get_params()["binner__n_bins"] == 255


def test_pandas_in_and_out() -> None:
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, np.nan], "b": [5, 6, 7, 8]})
    binner = Binner(n_bins=2).set_output(transform="pandas").fit(X)
    out = binner.transform(X)
    assert list(out.columns) == ["a", "b"]
    assert out.dtypes.tolist() == [np.uint8, np.uint8]
    assert list(binner.get_feature_names_out()) == ["a", "b"]


# --------------------------------------------------------------------------- bad input


def test_n_bins_out_of_range_is_named() -> None:
    with pytest.raises(
        ValueError,
        match=r"The 'n_bins' parameter of Binner must be an int in the range \[2, 255\]",
    ):
        Binner(n_bins=300).fit(np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"feature 1 asks for 1"):
        Binner(n_bins=[4, 1]).fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"have shape \(2,\) to match X; got shape \(3,\)"):
        Binner(n_bins=[4, 4, 4]).fit(np.ones((3, 2)))


def test_strings_are_rejected_with_a_clear_error() -> None:
    X = np.array([["a", "b"], ["c", "d"]], dtype=object)
    with pytest.raises(ValueError, match="could not convert string to float: 'a'"):
        Binner().fit(X)
    frame = pd.DataFrame({"x": [1.0, 2.0], "colour": ["red", "blue"]})
    with pytest.raises(ValueError, match="could not convert string to float"):
        Binner().fit(frame)


def test_wrong_column_count_at_transform(fitted: Binner) -> None:
    with pytest.raises(ValueError, match="X has 2 features, but Binner is expecting 3"):
        fitted.transform(np.ones((4, 2)))


def test_transform_before_fit() -> None:
    with pytest.raises(NotFittedError, match="This Binner instance is not fitted yet"):
        Binner().transform(np.ones((2, 2)))


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ([0, 3], r"columns\[1\] = 3 is out of range for 3 features"),
        ([-1], r"columns\[0\] = -1 is out of range"),
        ([[0, 1]], "columns must be 1-D"),
        ([0.5], "columns must hold integer indices; got dtype float64"),
        ([True, False], "boolean columns mask must have length n_features_in_=3; got 2"),
    ],
)
def test_bad_columns(fitted: Binner, columns, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fitted.transform_columns(np.ones((2, 3)), columns)


def test_kernel_rejects_what_it_cannot_trust() -> None:
    """The compiled side validates on its own, whatever Python hands it."""
    kernel = make_kernel([np.array([0.0, 1.0, 2.0]), np.array([0.0, 5.0])])
    X = np.zeros((4, 2))
    out = np.empty((4, 2), dtype=np.uint8)
    with pytest.raises(IndexError, match="column index 2 out of range for 2 features"):
        kernel.transform(X, np.array([0, 2]), out)
    with pytest.raises(ValueError, match=r"out must have shape \(4, 2\), got \(3, 2\)"):
        kernel.transform(X, np.array([0, 1]), np.empty((3, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="X has 3 columns, the binner 2"):
        kernel.transform(np.zeros((4, 3)), np.array([0, 1]), out)
    with pytest.raises(TypeError):  # int input is never silently converted
        kernel.transform(np.zeros((4, 2), dtype=np.int64), np.array([0, 1]), out)
    with pytest.raises(ValueError, match="non-decreasing and not NaN"):
        make_kernel([np.array([0.0, 2.0, 1.0, 3.0])])
    with pytest.raises(ValueError, match="non-decreasing and not NaN"):
        make_kernel([np.array([0.0, np.nan, 3.0])])
    with pytest.raises(ValueError, match="at most 255 fit in uint8"):
        make_kernel([np.arange(258.0)])
    from greenauto.preprocessing._binning import BinningKernel

    with pytest.raises(ValueError, match=r"n_bins of feature 0 must be in \[1, 255\], got 0"):
        BinningKernel(np.zeros((1, 3)), np.array([0]))
    with pytest.raises(ValueError, match="has 9 bins but the edge array has 3 columns"):
        BinningKernel(np.zeros((1, 3)), np.array([9]))
    with pytest.raises(ValueError, match="n_bins has 2 entries for 1 features"):
        BinningKernel(np.zeros((1, 3)), np.array([2, 2]))


def test_float_arrays_skip_scikit_learn_validation_with_the_same_results() -> None:
    """A float32/float64 array of the fitted width is read as it is (validate_data costs
    ~80 us a call): the same bins as the validated path, from any layout; a binner fitted on
    named columns still warns about an array without names, and bad shapes are still named."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    binner = Binner(n_bins=9).fit(X)
    for Xin in (X, X.astype(np.float32), np.asfortranarray(X), X[:1]):
        want = binner.transform(Xin.tolist())  # a list: always validated (float64, same values)
        np.testing.assert_array_equal(binner.transform(Xin), want)
    with pytest.raises(ValueError, match="X has 3 features, but Binner is expecting 4"):
        binner.transform(X[:, :3])
    named = Binner(n_bins=9).fit(pd.DataFrame(X, columns=list("abcd")))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        named.transform(X)
