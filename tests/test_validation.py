"""Validation the user controls: any scikit-learn splitter, with groups passed to fit directly
or through metadata routing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.model_selection import GroupKFold, KFold, PredefinedSplit

from greenauto import GreenAutoClassifier
from greenauto.datasets import load_dataset

FAST = {"time_budget": None, "energy_meter": "model", "random_state": 0, "n_trials": 3,
        "learners": ["decision_tree", "gaussian_nb"], "max_members": 1}  # fmt: skip


@pytest.fixture(scope="module")
def subjects() -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    """WISDM: several windows per subject; a subject's windows must not be split apart."""
    X, y = load_dataset("wisdm_activity")
    X, y = X.iloc[:1500], y.iloc[:1500]
    return X.drop(columns=["user"]), y, X["user"].to_numpy()


def test_group_kfold_keeps_each_group_on_one_side(subjects) -> None:
    X, y, groups = subjects
    seen = []
    splitter = GroupKFold(n_splits=3)
    original = splitter.split

    def spy(*args, **kwargs):
        folds = list(original(*args, **kwargs))
        seen.append((kwargs.get("groups"), folds))
        return iter(folds)

    splitter.split = spy
    auto = GreenAutoClassifier(validation=splitter, **FAST).fit(X, y, groups=groups)
    (given, folds), *_ = seen
    np.testing.assert_array_equal(given, groups)
    for train, val in folds:
        assert not set(groups[train]) & set(groups[val])
    assert auto.search_result_.settings["validation"].startswith("GroupKFold")
    assert len(auto.pareto_front_) >= 1


def test_groups_through_metadata_routing(subjects) -> None:
    X, y, groups = subjects
    with sklearn.config_context(enable_metadata_routing=True):
        splitter = GroupKFold(n_splits=3).set_split_request(groups=True)
        auto = GreenAutoClassifier(validation=splitter, **FAST).fit(X, y, groups=groups)
        assert len(auto.pareto_front_) >= 1
        with pytest.raises(Exception, match="groups"):  # requested but not given
            GreenAutoClassifier(validation=splitter, **FAST).fit(X, y)


def test_a_splitter_without_groups_and_a_predefined_split(subjects) -> None:
    X, y, _ = subjects
    auto = GreenAutoClassifier(validation=KFold(4, shuffle=True, random_state=0), **FAST)
    assert len(auto.fit(X, y).pareto_front_) >= 1
    test_fold = np.where(np.arange(len(y)) % 5 == 0, 0, -1)  # one fixed validation set
    auto = GreenAutoClassifier(validation=PredefinedSplit(test_fold), **FAST).fit(X, y)
    assert auto.search_result_.settings["validation"].startswith("PredefinedSplit")


def test_bad_splits_and_arguments_are_named(subjects) -> None:
    X, y, groups = subjects
    sorted_rows = np.argsort(np.asarray(y), kind="stable")
    Xs, ys = X.iloc[sorted_rows], y.iloc[sorted_rows]
    with pytest.raises(ValueError, match=r"Fold 0 of KFold\(.*\) has no training row of class"):
        GreenAutoClassifier(validation=KFold(2), **FAST).fit(Xs, ys)
    with pytest.raises(TypeError, match=r"unexpected arguments \['weights'\]"):
        GreenAutoClassifier(**FAST).fit(X, y, weights=groups)
