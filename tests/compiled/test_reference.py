"""Each kernel equals its numpy reference (greenauto.compiled._reference) on real data."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.naive_bayes import CategoricalNB, GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

from greenauto.compiled import CompiledPipeline, flatten_trees
from greenauto.compiled._flatten import flatten_knn, flatten_nb
from greenauto.compiled._reference import (
    knn_reference,
    table_nb_reference,
    tree_reference,
    vote_reference,
)

from .conftest import binned


@pytest.mark.parametrize(
    "model",
    [
        RandomForestClassifier(n_estimators=8, max_depth=7, random_state=0),
        lgb.LGBMClassifier(n_estimators=8, num_leaves=15, n_jobs=1, verbose=-1),
    ],
    ids=["rf", "lgbm"],
)
@pytest.mark.parametrize("mode", ["raw", "binned"])
def test_trees_match_reference(model, mode):
    binner, X, codes, y = binned("letter")
    data = codes if mode == "binned" else X
    model.fit(data, y)
    pipe = CompiledPipeline(
        [model], classes=model.classes_, binner=binner if mode == "binned" else None
    )
    labels, proba = tree_reference(flatten_trees(model), data)
    np.testing.assert_array_equal(pipe.predict(X), model.classes_[labels])
    np.testing.assert_allclose(pipe.predict_proba(X), proba, rtol=0, atol=1e-12)


@pytest.mark.parametrize("nb", [CategoricalNB(), GaussianNB()], ids=["categorical", "gaussian"])
def test_nb_matches_reference(nb):
    binner, X, codes, y = binned("spambase")
    if isinstance(nb, CategoricalNB):
        nb.set_params(min_categories=binner.n_bins_ + 1)
    nb.fit(codes, y)
    pipe = CompiledPipeline([nb], classes=nb.classes_, binner=binner)
    expected = table_nb_reference(flatten_nb(nb, binner.n_bins_ + 1), codes)
    np.testing.assert_array_equal(pipe.predict(X), nb.classes_[expected])


def test_knn_and_vote_match_reference():
    binner, X, codes, y = binned("penguins")
    knn = KNeighborsClassifier(n_neighbors=4, p=1, algorithm="brute")
    knn.fit(codes[:200].astype(float), y[:200])
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(codes, y)
    classes = np.unique(y)
    knn_votes = knn_reference(flatten_knn(knn), codes, classes.size)
    np.testing.assert_array_equal(
        CompiledPipeline([knn], classes=classes, binner=binner).predict(X), knn_votes
    )
    tree_votes, tree_proba = tree_reference(flatten_trees(tree), codes)
    knn_proba = knn.predict_proba(codes.astype(float))
    for voting in ("hard", "soft"):
        pipe = CompiledPipeline([tree, knn], classes=classes, binner=binner, voting=voting)
        labels, proba = vote_reference(
            np.stack([tree_votes, knn_votes]), [tree_proba, knn_proba], voting
        )
        np.testing.assert_array_equal(pipe.predict(X), labels)
        np.testing.assert_allclose(pipe.predict_proba(X), proba, rtol=0, atol=1e-12)
