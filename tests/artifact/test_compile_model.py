"""compile_model on every input dtype, its errors naming the step, and tree prefixes."""

from __future__ import annotations

import warnings

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.feature_selection import SelectKBest, VarianceThreshold
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from greenauto import Binner, ConstantFeatureWarning, FeatureSelector
from greenauto.compiled import compile_model

from ..compiled.conftest import encoded

RNG = np.random.default_rng(0)
XI = RNG.integers(-3, 9, size=(400, 5))
YI = (XI[:, 0] + XI[:, 1] > 5).astype(int)


@pytest.mark.parametrize(
    "dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint16, bool, np.float16, np.float32]
)
@pytest.mark.parametrize("binned", [False, True], ids=["raw", "binned"])
def test_every_dtype_the_model_was_fitted_on(dtype, binned):
    X = XI.astype(dtype)
    model = DecisionTreeClassifier(max_depth=4, random_state=0)
    pipe = make_pipeline(Binner(n_bins=8), model) if binned else model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantFeatureWarning)
        pipe.fit(X, YI)
    compiled = compile_model(pipe)
    np.testing.assert_array_equal(compiled.predict(X), pipe.predict(X))
    np.testing.assert_array_equal(compiled.predict_proba(X), pipe.predict_proba(X))


def test_a_dataframe_with_names_keeps_its_columns():
    frame = pd.DataFrame(XI, columns=list("abcde"))
    pipe = make_pipeline(Binner(n_bins=8), GaussianNB()).fit(frame, YI)
    compiled = compile_model(pipe)
    np.testing.assert_array_equal(compiled.predict(frame), pipe.predict(frame))
    with pytest.raises(ValueError, match="missing"):
        compiled.predict(frame.rename(columns={"a": "z"}))


def test_selection_steps_compose():
    X, y = encoded("spambase")
    X = X.astype(np.float64)
    keep = [0, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    pipe = make_pipeline(
        ColumnTransformer([("keep", "passthrough", keep)]),
        VarianceThreshold(),
        Binner(n_bins=32),
        SelectKBest(k=6),
        FeatureSelector(k=3),
        RandomForestClassifier(n_estimators=5, max_depth=6, random_state=0),
    ).fit(X, y)
    compiled = compile_model(pipe)
    np.testing.assert_array_equal(compiled.predict(X), pipe.predict(X))
    np.testing.assert_allclose(compiled.predict_proba(X), pipe.predict_proba(X), atol=1e-12)
    assert compiled.ir.columns.size == 3


# Pipelines built in the test, not at collection: parameters live until the session ends,
# and fitted Binners (their compiled kernels) would then outlive the extension at exit.
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: make_pipeline(StandardScaler(), DecisionTreeClassifier()),
         r"Step 'standardscaler'"),
        (lambda: make_pipeline(GaussianNB()),
         r"Step 'gaussiannb' \(GaussianNB\): GaussianNB needs a"),
        (lambda: make_pipeline(Binner(n_bins=4), Binner(n_bins=4), DecisionTreeClassifier()),
         r"Step 'binner-2': a pipeline can hold only one Binner"),
        (lambda: make_pipeline(
            Binner(n_bins=4), lgb.LGBMClassifier(objective="regression", verbose=-1)),
         r"Step 'lgbmclassifier' \(LGBMClassifier\): LightGBM objective 'regression'"),
    ],
    ids=["scaler", "gaussian-nb-unbinned", "two-binners", "lgbm-regression"],
)  # fmt: skip
def test_unsupported_steps_are_named(make, match):
    pipe = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(XI.astype(float), YI)
    with pytest.raises((TypeError, ValueError), match=match):
        compile_model(pipe)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_lightgbm_prefix_equals_num_iteration(n_classes):
    X, y = encoded("letter")
    y = y % n_classes
    pipe = make_pipeline(Binner(n_bins=32), lgb.LGBMClassifier(n_estimators=30, verbose=-1))
    pipe.fit(X, y)
    compiled = compile_model(pipe)
    codes = pipe[0].transform(X)
    for k in (1, 7, 30):
        prefix = compiled.prefix(k)
        expected = pipe[-1].predict_proba(codes, num_iteration=k)
        np.testing.assert_allclose(prefix.predict_proba(X), expected, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(prefix.predict(X), pipe[-1].predict(codes, num_iteration=k))
        assert np.shares_memory(
            prefix.ir.members[0].forest.values, compiled.ir.members[0].forest.values
        )
    np.testing.assert_array_equal(  # past the end: everything, as num_iteration does
        compiled.prefix(31).predict_proba(X), pipe[-1].predict_proba(codes, num_iteration=31)
    )
    with pytest.raises(ValueError, match="k must be at least 1"):
        compiled.prefix(0)


@pytest.mark.parametrize("forest", [RandomForestClassifier, ExtraTreesClassifier])
def test_forest_prefix_equals_the_first_estimators(forest):
    X, y = encoded("magic")
    model = forest(n_estimators=12, max_depth=8, random_state=0).fit(X, y)
    compiled = compile_model(model)
    for k in (1, 5, 12):
        small = forest(n_estimators=k).set_params()
        small.estimators_ = model.estimators_[:k]
        for attr in ("classes_", "n_classes_", "n_outputs_", "n_features_in_"):
            setattr(small, attr, getattr(model, attr))
        np.testing.assert_array_equal(compiled.prefix(k).predict(X), small.predict(X))
        np.testing.assert_allclose(
            compiled.prefix(k).predict_proba(X), small.predict_proba(X), rtol=0, atol=1e-12
        )


def test_prefix_of_a_table_member_is_refused():
    pipe = make_pipeline(Binner(n_bins=8), GaussianNB()).fit(XI.astype(float), YI)
    with pytest.raises(ValueError, match="not a tree model"):
        compile_model(pipe).prefix(1)
