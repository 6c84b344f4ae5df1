"""Random inputs, NaN and +/-inf included: compiled output equals the source library's."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.ensemble import RandomForestClassifier
from sklearn.naive_bayes import CategoricalNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

from greenauto import Binner
from greenauto.compiled import CompiledPipeline, flatten_trees
from greenauto.compiled._reference import tree_reference, vote_reference

N_FEATURES = 5
RNG = np.random.default_rng(0)
X_FIT = RNG.normal(size=(600, N_FEATURES)).astype(np.float32)
X_FIT[RNG.random(X_FIT.shape) < 0.05] = np.nan
Y_FIT = (np.nan_to_num(X_FIT[:, 0]) + np.nan_to_num(X_FIT[:, 1]) > 0).astype(int) + (
    np.nan_to_num(X_FIT[:, 2]) > 1
)
BOOSTERS = {
    objective: lgb.train(
        {"objective": objective, "num_leaves": 15, "verbose": -1, "num_threads": 1}
        | ({"num_class": 3} if objective == "multiclass" else {}),
        lgb.Dataset(X_FIT, Y_FIT if objective == "multiclass" else Y_FIT > 0),
        num_boost_round=20,
    )
    for objective in ("binary", "multiclass")
}
FOREST = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(X_FIT, Y_FIT)
BINNER = Binner(n_bins=16).fit(X_FIT)
CODES = BINNER.transform(X_FIT)

values = st.one_of(
    st.floats(width=32, allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-35, -1e-35, 3.4e38, -3.4e38]),
    st.floats(-3, 3, width=32),
)
batches = arrays(np.float32, st.tuples(st.integers(1, 40), st.just(N_FEATURES)), elements=values)


@settings(max_examples=100, deadline=None)
@given(X=batches, objective=st.sampled_from(sorted(BOOSTERS)))
def test_lightgbm_on_random_input(X, objective):
    booster = BOOSTERS[objective]
    pipe = CompiledPipeline([booster], classes=[0, 1, 2][: 2 if objective == "binary" else 3])
    expected = booster.predict(X)
    if expected.ndim == 1:
        expected = np.column_stack([1 - expected, expected])
    np.testing.assert_allclose(pipe.predict_proba(X), expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(pipe.predict(X), np.argmax(expected, axis=1))


@settings(max_examples=100, deadline=None)
@given(X=batches)
def test_forest_on_random_input(X):
    pipe = CompiledPipeline([FOREST], classes=FOREST.classes_)
    finite_or_nan = np.where(np.isinf(X), np.nan, X)  # scikit-learn refuses inf
    np.testing.assert_array_equal(pipe.predict(finite_or_nan), FOREST.predict(finite_or_nan))
    np.testing.assert_allclose(
        pipe.predict_proba(finite_or_nan), FOREST.predict_proba(finite_or_nan), atol=1e-6
    )
    labels, proba = tree_reference(flatten_trees(FOREST), X)  # inf: the reference semantics
    np.testing.assert_array_equal(pipe.predict(X), labels)
    np.testing.assert_allclose(pipe.predict_proba(X), proba, rtol=0, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(X=batches, seed=st.integers(0, 1000), voting=st.sampled_from(["hard", "soft"]))
def test_binned_vote_on_random_input(X, seed, voting):
    tree = DecisionTreeClassifier(max_depth=5, random_state=seed).fit(CODES, Y_FIT)
    nb = CategoricalNB(min_categories=BINNER.n_bins_ + 1).fit(CODES, Y_FIT)
    knn = KNeighborsClassifier(n_neighbors=1 + seed % 7, p=1 + seed % 2, algorithm="brute")
    knn.fit(CODES.astype(np.float64), Y_FIT)
    pipe = CompiledPipeline([tree, nb, knn], classes=[0, 1, 2], binner=BINNER, voting=voting)
    codes = BINNER.transform(X)
    members = [(tree, codes), (nb, codes), (knn, codes * 1.0)]
    with threadpool_limits(1):
        votes = np.stack([m.predict(data) for m, data in members])
        probas = [m.predict_proba(data) for m, data in members]
    labels, proba = vote_reference(votes, probas, voting)
    got_labels, got_proba = pipe.predict_with_proba(X)
    np.testing.assert_array_equal(got_labels, labels)
    np.testing.assert_array_equal(pipe.predict(X), labels)  # labels only: ties recomputed
    np.testing.assert_allclose(got_proba, proba, rtol=0, atol=1e-12)
