"""MajorityVoteClassifier: parity with VotingClassifier, tie-break, subsets, labels, bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from lightgbm import LGBMClassifier
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import VotingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.naive_bayes import CategoricalNB, GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

from greenauto.datasets import load_dataset
from greenauto.ensemble import MajorityVoteClassifier, stratified_subset, subset_size
from greenauto.preprocessing import Binner


@pytest.fixture(scope="module")
def binned() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """breast_cancer_wisconsin as 16-bin codes (string labels), split 70/30."""
    X, y = load_dataset("breast_cancer_wisconsin")
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    binner = Binner(n_bins=16).fit(X_tr)
    n_codes = int(binner.n_bins_.max()) + 1
    return (
        binner.transform(X_tr),
        binner.transform(X_te),
        y_tr.to_numpy(),
        y_te.to_numpy(),
        n_codes,
    )


def _trio(n_codes: int) -> list[tuple[str, object]]:
    return [
        ("tree", DecisionTreeClassifier(max_depth=4, random_state=0)),
        ("nb", CategoricalNB(min_categories=n_codes)),
        ("knn", KNeighborsClassifier(n_neighbors=3, algorithm="brute")),
    ]


def _mixed(n_codes: int) -> list[tuple[str, object]]:
    return [
        ("gbm", LGBMClassifier(n_estimators=20, verbose=-1, n_jobs=1, random_state=0)),
        ("nb", GaussianNB()),
        ("knn", KNeighborsClassifier(n_neighbors=1, algorithm="brute")),
    ]


@pytest.mark.parametrize("members", [_trio, _mixed])
def test_equals_sklearn_hard_voting_on_all_rows(binned, members) -> None:
    X_tr, X_te, y_tr, _, n_codes = binned
    ours = MajorityVoteClassifier(members(n_codes), random_state=0).fit(X_tr, y_tr)
    theirs = VotingClassifier(members(n_codes), voting="hard").fit(X_tr, y_tr)
    np.testing.assert_array_equal(ours.predict(X_te), theirs.predict(X_te))
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    assert ours.score(X_te, binned[3]) > 0.85
    votes = ours.member_votes(X_te)
    assert votes.shape == (3, len(X_te))
    assert (votes.min(axis=0) != votes.max(axis=0)).any(), "members should disagree somewhere"


def test_two_way_tie_goes_to_the_lowest_class_index() -> None:
    X = np.arange(12.0).reshape(-1, 1)
    y = np.array(["c", "a", "b"] * 4)  # classes_ = [a, b, c]
    for first, second in [(2, 0), (0, 2), (1, 2)]:
        members = [
            ("p", DummyClassifier(strategy="constant", constant=first)),
            ("q", DummyClassifier(strategy="constant", constant=second)),
        ]
        vote = MajorityVoteClassifier(members).fit(X, y)
        expected = vote.classes_[min(first, second)]
        assert set(vote.predict(X)) == {expected}
        sklearn_vote = VotingClassifier(members, voting="hard").fit(X, y)
        assert set(sklearn_vote.predict(X)) == {expected}
        np.testing.assert_array_equal(vote.predict_proba(X)[0], np.eye(3)[[first, second]].mean(0))


def test_three_way_tie_and_majority() -> None:
    X = np.arange(9.0).reshape(-1, 1)
    y = np.array([0, 1, 2] * 3)
    constant = [("a", 2), ("b", 1), ("c", 0)]
    members = [(n, DummyClassifier(strategy="constant", constant=c)) for n, c in constant]
    assert set(MajorityVoteClassifier(members).fit(X, y).predict(X)) == {0}
    members[2] = ("c", DummyClassifier(strategy="constant", constant=1))
    vote = MajorityVoteClassifier(members).fit(X, y)
    assert set(vote.predict(X)) == {1}
    np.testing.assert_allclose(vote.predict_proba(X)[0], [0, 2 / 3, 1 / 3])


def test_predict_proba_is_consistent_with_predict(binned) -> None:
    X_tr, X_te, y_tr, _, n_codes = binned
    members = _mixed(n_codes)[:2]  # two members: ties happen
    vote = MajorityVoteClassifier(members, random_state=0).fit(X_tr, y_tr)
    proba = vote.predict_proba(X_te)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(vote.classes_[proba.argmax(axis=1)], vote.predict(X_te))


@pytest.mark.parametrize("voting", ["hard", "soft"])
def test_two_member_ties_go_to_the_surer_member(binned, voting) -> None:
    X_tr, X_te, y_tr, _, n_codes = binned
    members = _mixed(n_codes)[1:]  # GaussianNB and 1-NN disagree often
    vote = MajorityVoteClassifier(members, voting=voting, random_state=0).fit(X_tr, y_tr)
    a, b = vote.estimators_
    pa, pb = a.predict_proba(X_te), b.predict_proba(X_te)
    va, vb = a.predict(X_te), b.predict(X_te)
    rows = np.arange(X_te.shape[0])
    disagree = np.flatnonzero(va != vb)
    assert disagree.size > 5  # the data has ties to break
    summed = pa + pb
    surer = np.where(summed[rows, va] >= summed[rows, vb], va, vb)
    surer = np.where(summed[rows, va] == summed[rows, vb], np.minimum(va, vb), surer)
    got = np.searchsorted(vote.classes_, vote.predict(X_te))
    np.testing.assert_array_equal(got[disagree], surer[disagree])
    agree = va == vb
    if voting == "hard":  # a class both members vote for wins, however sure they are
        np.testing.assert_array_equal(got[agree], va[agree])
        counts = (np.arange(vote.classes_.size) == va[:, None]) * 1.0 + (
            np.arange(vote.classes_.size) == vb[:, None]
        )
        np.testing.assert_array_equal(vote.predict_proba(X_te), (counts + 0.25 * summed) / 2.5)
    else:
        np.testing.assert_array_equal(vote.predict_proba(X_te), summed / 2)


def test_each_member_trains_on_its_fraction_with_every_class() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [900, 97, 3])  # class 2 is rare
    X = rng.normal(size=(1000, 3)) + y[:, None]
    fractions = [0.1, 0.5, 1.0]
    members = [(f"t{i}", DecisionTreeClassifier(max_depth=3)) for i in range(3)]
    vote = MajorityVoteClassifier(members, row_fractions=fractions, random_state=7).fit(X, y)
    for rows, fraction, est in zip(vote.row_indices_, fractions, vote.estimators_, strict=True):
        assert abs(rows.size - fraction * 1000) <= 3
        assert rows.size == subset_size(np.bincount(y), fraction)
        assert np.all(np.diff(rows) > 0)
        assert set(y[rows]) == {0, 1, 2}
        np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    assert vote.row_indices_[2].size == 1000
    again = MajorityVoteClassifier(members, row_fractions=fractions, random_state=7).fit(X, y)
    for a, b in zip(vote.row_indices_, again.row_indices_, strict=True):
        np.testing.assert_array_equal(a, b)
    other = MajorityVoteClassifier(members, row_fractions=fractions, random_state=8).fit(X, y)
    assert not np.array_equal(vote.row_indices_[0], other.row_indices_[0])


def test_pickle_stays_model_sized_on_many_rows() -> None:
    y = np.repeat([0, 1], 20_000)
    X = y[:, None].astype(np.float64)
    members = [(f"t{i}", DecisionTreeClassifier(max_depth=1)) for i in range(3)]
    vote = MajorityVoteClassifier(members, row_fractions=[1.0, 0.5, 0.1], random_state=0)
    vote.fit(X, y)
    assert len(pickle.dumps(vote)) < 3 * 40_000 / 8 + 10_000  # bit masks, not int64 indices
    assert [r.size for r in pickle.loads(pickle.dumps(vote)).row_indices_] == [
        40_000,
        20_000,
        4000,
    ]
    assert not hasattr(MajorityVoteClassifier(), "row_indices_")


def test_member_subset_depends_only_on_seed_and_index() -> None:
    y = np.repeat([0, 1], 50)
    X = np.arange(100.0).reshape(-1, 1)
    one = MajorityVoteClassifier(
        [("a", DecisionTreeClassifier())], row_fractions=[0.3], random_state=1
    ).fit(X, y)
    two = MajorityVoteClassifier(
        [("a", DecisionTreeClassifier()), ("b", GaussianNB())],
        row_fractions=[0.3, 0.3],
        random_state=1,
    ).fit(X, y)
    np.testing.assert_array_equal(one.row_indices_[0], two.row_indices_[0])
    assert not np.array_equal(two.row_indices_[0], two.row_indices_[1])


def test_members_without_seed_are_seeded_from_random_state(binned) -> None:
    X_tr, X_te, y_tr, _, _ = binned
    members = [("et", DecisionTreeClassifier(max_features=0.3))]  # random splits
    a = MajorityVoteClassifier(members, random_state=3).fit(X_tr, y_tr)
    b = MajorityVoteClassifier(members, random_state=3).fit(X_tr, y_tr)
    assert a.estimators_[0].random_state == b.estimators_[0].random_state is not None
    np.testing.assert_array_equal(a.predict(X_te), b.predict(X_te))
    assert members[0][1].random_state is None  # the given member is not touched


def test_stratified_subset_keeps_every_class() -> None:
    y = np.array([0] * 50 + [1])
    rows = stratified_subset(y, 0.1, seed=0)
    assert np.bincount(y[rows]).tolist() == [5, 1]
    np.testing.assert_array_equal(stratified_subset(y, 1.0, seed=0), np.arange(51))


def test_string_labels_and_pandas_input() -> None:
    X, y = load_dataset("penguins")
    X = X.select_dtypes("number")
    vote = MajorityVoteClassifier(
        [("tree", DecisionTreeClassifier(max_depth=3, random_state=0))],
        row_fractions=[0.5],
        random_state=0,
    ).fit(X, y)
    assert list(vote.classes_) == ["Adelie", "Chinstrap", "Gentoo"]
    assert list(vote.feature_names_in_) == list(X.columns)
    assert vote.score(X, y) > 0.85
    assert set(vote.predict(X)) <= set(vote.classes_)
    with pytest.raises(ValueError, match="The feature names should match"):
        vote.predict(X[X.columns[::-1]])


def test_compiled_parts_hand_over_plain_objects(binned) -> None:
    X_tr, X_te, y_tr, _, n_codes = binned
    vote = MajorityVoteClassifier(_trio(n_codes), random_state=0).fit(X_tr, y_tr)
    parts = vote.compiled_parts()
    assert parts.members == vote.estimators_
    np.testing.assert_array_equal(parts.classes, [0, 1])
    np.testing.assert_array_equal(parts.labels, ["benign", "malignant"])
    # The compiler's contract: member class indices -> bincount argmax -> labels.
    votes = np.stack([m.predict(X_te) for m in parts.members])
    counts = np.stack([(votes == c).sum(axis=0) for c in parts.classes], axis=1)
    np.testing.assert_array_equal(parts.labels[counts.argmax(axis=1)], vote.predict(X_te))


def test_pickle_clone_and_grid_search(binned) -> None:
    X_tr, X_te, y_tr, _, n_codes = binned
    vote = MajorityVoteClassifier(_trio(n_codes), row_fractions=[1.0, 0.5, 0.5], random_state=0)
    fitted = clone(vote).fit(X_tr, y_tr)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(X_te), fitted.predict(X_te))
    unfitted = clone(fitted)
    assert not hasattr(unfitted, "estimators_")
    assert unfitted.get_params()["tree__max_depth"] == 4
    search = GridSearchCV(vote, {"tree__max_depth": [1, 4], "random_state": [0, 1]}, cv=3)
    search.fit(X_tr, y_tr)
    assert search.best_params_["tree__max_depth"] in (1, 4)
    assert (
        search.best_estimator_.estimators_[0].max_depth == search.best_params_["tree__max_depth"]
    )
    assert search.score(X_te, binned[3]) > 0.85


def test_default_is_one_decision_tree() -> None:
    X = np.arange(20.0).reshape(-1, 1)
    y = (X[:, 0] > 9).astype(int)
    vote = MajorityVoteClassifier(random_state=0).fit(X, y)
    assert len(vote.estimators_) == 1
    assert isinstance(vote.estimators_[0], DecisionTreeClassifier)
    assert vote.score(X, y) == 1.0


# --------------------------------------------------------------------------- bad input

X_SMALL = np.arange(12.0).reshape(-1, 2)
Y_SMALL = np.array([0, 1] * 3)


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"estimators": []}, ValueError, r"must hold 1 to 3 \(name, estimator\) pairs\. Got 0"),
        (
            {"estimators": [(f"t{i}", DecisionTreeClassifier()) for i in range(4)]},
            ValueError,
            r"must hold 1 to 3 \(name, estimator\) pairs\. Got 4 instead",
        ),
        (
            {"estimators": [("t", DecisionTreeClassifier())], "row_fractions": [0.5, 0.5]},
            ValueError,
            r"'row_fractions' .* one fraction per member \(1\)\. Got 2 instead",
        ),
        (
            {"estimators": [("t", DecisionTreeClassifier())], "row_fractions": [0.0]},
            ValueError,
            r"'row_fractions' .* floats in the range \(0, 1\]\. Got 0\.0 instead",
        ),
        (
            {"estimators": [("t", DecisionTreeClassifier())], "row_fractions": [1.5]},
            ValueError,
            r"floats in the range \(0, 1\]\. Got 1\.5 instead",
        ),
        (
            {"estimators": [("t", DecisionTreeClassifier()), ("t", GaussianNB())]},
            ValueError,
            r"member names of MajorityVoteClassifier must be unique and contain no '__'",
        ),
        ({"estimators": [DecisionTreeClassifier()]}, ValueError, r"\(name, estimator\) tuples"),
        ({"estimators": [("t", "tree")]}, TypeError, r"Member 't' .* Got str instead"),
        ({"estimators": "tree"}, ValueError, r"The 'estimators' parameter .* must be an instance"),
        ({"random_state": "zero"}, ValueError, r"The 'random_state' parameter"),
    ],
)
def test_bad_parameters_are_named(params: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        MajorityVoteClassifier(**params).fit(X_SMALL, Y_SMALL)


def test_single_class_y_is_refused() -> None:
    with pytest.raises(ValueError, match=r"needs y with at least 2 classes; got 1 class: \['x'\]"):
        MajorityVoteClassifier().fit(X_SMALL, ["x"] * 6)


def test_continuous_y_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown label type"):
        MajorityVoteClassifier().fit(X_SMALL, np.linspace(0, 1, 6))


def test_member_that_is_not_a_classifier_is_named() -> None:
    from sklearn.tree import DecisionTreeRegressor

    with pytest.raises(ValueError, match=r"Member 'r' .* must expose classes_ equal to 0\.\.1"):
        MajorityVoteClassifier([("r", DecisionTreeRegressor())]).fit(X_SMALL, Y_SMALL)


def test_predict_before_fit_and_wrong_width() -> None:
    with pytest.raises(NotFittedError, match="MajorityVoteClassifier instance is not fitted"):
        MajorityVoteClassifier().predict(X_SMALL)
    vote = MajorityVoteClassifier().fit(X_SMALL, Y_SMALL)
    with pytest.raises(ValueError, match="X has 3 features, but MajorityVoteClassifier is expect"):
        vote.predict(np.ones((2, 3)))


def test_nan_goes_to_members_that_accept_it() -> None:
    X = X_SMALL.copy()
    X[0, 0] = np.nan
    vote = MajorityVoteClassifier().fit(X, Y_SMALL)  # trees handle NaN
    assert vote.predict(X).shape == (6,)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MajorityVoteClassifier([("nb", GaussianNB())]).fit(X, Y_SMALL)
    assert vote.__sklearn_tags__().input_tags.allow_nan is True
    nb_vote = MajorityVoteClassifier([("t", DecisionTreeClassifier()), ("nb", GaussianNB())])
    assert nb_vote.__sklearn_tags__().input_tags.allow_nan is False
