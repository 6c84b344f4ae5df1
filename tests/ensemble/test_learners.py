"""One suite for every registered learner (Optuna-style), plus the registry itself."""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import optuna
import pytest
from sklearn.base import clone, is_classifier
from sklearn.dummy import DummyClassifier

from greenauto.ensemble import (
    Choice,
    FloatRange,
    IntRange,
    Learner,
    get_learner,
    learner_names,
    register_learner,
)
from greenauto.ensemble._learners import _REGISTRY

EXPECTED = {
    "categorical_nb": "nb",
    "decision_tree": "trees",
    "extra_trees": "trees",
    "gaussian_nb": "nb",
    "knn": "knn",
    "lightgbm": "trees",
    "random_forest": "trees",
}
N_CODES = 9  # 8 bins + the NaN code


@pytest.fixture(scope="module")
def codes() -> tuple[np.ndarray, np.ndarray]:
    """Three classes of bin codes, 150 rows x 4 features, codes 0..7 (8 = NaN unused)."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 50)
    X = np.clip(rng.integers(0, 5, size=(150, 4)) + 2 * y[:, None], 0, 7).astype(np.uint8)
    return X, y


def test_registry_holds_the_seven_members_with_their_kinds() -> None:
    assert learner_names() == sorted(EXPECTED)
    assert {name: get_learner(name).kind for name in learner_names()} == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
class TestEveryLearner:
    def test_initial_params_round_trip_through_a_fixed_trial(self, name: str) -> None:
        learner = get_learner(name)
        initial = learner.initial_params()
        fixed = optuna.trial.FixedTrial({f"m1_{name}_{k}": v for k, v in initial.items()})
        assert learner.suggest(fixed, f"m1_{name}_") == initial
        learner.check_params(initial)
        initial["changed"] = 1
        assert "changed" not in learner.initial_params()  # a fresh dict every time

    def test_suggestions_stay_in_the_space_and_build(self, name: str, codes) -> None:
        learner = get_learner(name)
        sampler = optuna.samplers.RandomSampler(seed=0)
        study = optuna.create_study(sampler=sampler)
        X, y = codes
        for _ in range(4):
            trial = study.ask()
            params = learner.suggest(trial, "p_")
            assert set(trial.params) == {f"p_{k}" for k in learner.space}
            learner.check_params(params)
            model = learner.build(params, n_codes=N_CODES, random_state=0, n_rows=len(y))
            assert is_classifier(model)
            model.fit(X, y)
            assert model.predict(X).shape == (150,)
            study.tell(trial, float(np.mean(model.predict(X) == y)))

    def test_build_is_unfitted_cloneable_and_deterministic(self, name: str, codes) -> None:
        learner = get_learner(name)
        X, y = codes
        model = learner.build(learner.initial_params(), n_codes=N_CODES, random_state=5)
        assert not hasattr(model, "classes_")
        twin = clone(model)
        pred_a = model.fit(X, y).predict(X)
        pred_b = twin.fit(X, y).predict(X)
        np.testing.assert_array_equal(pred_a, pred_b)
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(X), pred_a)
        if "random_state" in model.get_params():
            assert model.get_params()["random_state"] == 5

    def test_unseen_codes_at_predict_are_fine(self, name: str, codes) -> None:
        learner = get_learner(name)
        X, y = codes
        model = learner.build(learner.initial_params(), n_codes=N_CODES, random_state=0)
        model.fit(X, y)
        unseen = np.full((3, 4), N_CODES - 1, dtype=np.uint8)  # the NaN code, never trained
        assert set(model.predict(unseen)) <= {0, 1, 2}

    def test_cost_hint_is_positive_and_grows_with_size(self, name: str) -> None:
        learner = get_learner(name)
        params = learner.initial_params()
        small = learner.cost_hint(params, 100, 5, n_classes=2)
        big = learner.cost_hint(params, 100_000, 50, n_classes=10)
        assert 0 < small <= big
        assert math.isfinite(big)

    def test_describe_names_the_model(self, name: str) -> None:
        learner = get_learner(name)
        full = learner.describe(learner.initial_params())
        short = learner.describe(learner.initial_params(), short=True)
        assert full.startswith(learner.label)
        assert len(short) <= len(full)

    def test_params_outside_the_space_are_named(self, name: str) -> None:
        learner = get_learner(name)
        key = next(iter(learner.space))
        bad = {**learner.initial_params(), key: "nonsense"}
        with pytest.raises(ValueError, match=rf"The '{key}' parameter of learner '{name}' must"):
            learner.build(bad)
        with pytest.raises(ValueError, match=rf"Learner '{name}' expects the parameters"):
            learner.build({})


def test_cost_hints_follow_the_model_size() -> None:
    forest = get_learner("random_forest")
    few = forest.cost_hint({**forest.initial_params(), "n_estimators": 10}, 10_000, 20)
    many = forest.cost_hint({**forest.initial_params(), "n_estimators": 80}, 10_000, 20)
    assert many == 8 * few
    tree = get_learner("decision_tree")
    params = {**tree.initial_params(), "max_depth": 20, "min_samples_leaf": 1}
    assert tree.cost_hint(params, 64, 5) == 6  # 64 rows cannot fill 20 levels
    gbm = get_learner("lightgbm")
    binary = gbm.cost_hint(gbm.initial_params(), 10_000, 20, n_classes=2)
    assert gbm.cost_hint(gbm.initial_params(), 10_000, 20, n_classes=5) == 5 * binary
    knn = get_learner("knn")
    assert knn.cost_hint(knn.initial_params(), 1000, 9) == 10_000
    nb = get_learner("categorical_nb")
    assert nb.cost_hint(nb.initial_params(), 1000, 9, n_classes=3) == 27


def test_learner_specific_build_details() -> None:
    gbm = get_learner("lightgbm").build(
        get_learner("lightgbm").initial_params(), n_codes=256, random_state=1
    )
    params = gbm.get_params()
    assert (params["verbose"], params["n_jobs"], params["deterministic"]) == (-1, 1, True)
    assert params["max_bin"] == 256
    nb = get_learner("categorical_nb").build({"alpha": 0.5}, n_codes=17)
    assert nb.min_categories == 17
    knn_learner = get_learner("knn")
    knn = knn_learner.build({"n_neighbors": 30, "p": 1}, n_rows=12)
    assert (knn.n_neighbors, knn.p, knn.weights, knn.algorithm) == (12, 1, "uniform", "brute")
    assert knn_learner.build({"n_neighbors": 30, "p": 1}).n_neighbors == 30
    tree = get_learner("decision_tree").build(
        {"max_depth": 3, "min_samples_leaf": 2, "criterion": "entropy", "ccp_alpha": 0.01}
    )
    assert (tree.criterion, tree.ccp_alpha) == ("entropy", 0.01)
    assert get_learner("decision_tree").space["ccp_alpha"].log


def test_unknown_learner_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"Unknown learner 'svm'; registered: \['categorical_nb'"):
        get_learner("svm")


class _ConstantLearner(Learner):
    name = "constant"
    kind = "nb"
    label = "Constant"
    space: ClassVar[Mapping[str, Any]] = {"strategy": Choice(("most_frequent", "prior"))}
    low_cost: ClassVar[Mapping[str, Any]] = {"strategy": "prior"}

    def build(self, params, *, n_codes=None, random_state=None, n_rows=None) -> DummyClassifier:
        self.check_params(params)
        return DummyClassifier(**params)

    def cost_hint(self, params, n_rows, n_features, *, n_classes=2) -> float:
        return 1.0


def test_register_a_custom_learner_and_refuse_duplicates() -> None:
    try:
        register_learner(_ConstantLearner)
        assert "constant" in learner_names()
        assert get_learner("constant").describe({"strategy": "prior"}) == "Constant"
        with pytest.raises(ValueError, match="'constant' is already registered; pass replace"):
            register_learner(_ConstantLearner)
        register_learner(_ConstantLearner(), replace=True)
    finally:
        _REGISTRY.pop("constant", None)
    assert "constant" not in learner_names()


def test_register_refuses_bad_learners() -> None:
    with pytest.raises(TypeError, match="register_learner expects a Learner; got str"):
        register_learner("knn")

    class _BadKind(_ConstantLearner):
        name = "bad_kind"
        kind = "svm"

    with pytest.raises(ValueError, match=r"has kind 'svm'; expected one of \('knn', 'nb'"):
        register_learner(_BadKind)

    class _BadStart(_ConstantLearner):
        name = "bad_start"
        low_cost: ClassVar[Mapping[str, Any]] = {"strategy": "uniform"}

    with pytest.raises(ValueError, match="low_cost strategy='uniform' not in space"):
        register_learner(_BadStart)
    assert "bad_kind" not in learner_names()
    assert "bad_start" not in learner_names()


def test_dimensions_check_membership() -> None:
    assert 3 in IntRange(1, 5)
    assert np.int64(3) in IntRange(1, 5)
    assert 3.5 not in IntRange(1, 5)
    assert (True in IntRange(0, 5)) is False  # a bool is not an int here
    assert 0.5 in FloatRange(0.1, 1.0, log=True)
    assert 2 not in FloatRange(0.1, 1.0)
    assert "a" in Choice(("a", "b"))
    assert str(IntRange(1, 30, log=True)) == "an int in [1, 30] (log scale)"
    assert str(FloatRange(0.3, 1.0)) == "a float in [0.3, 1.0]"
    assert str(Choice((1, 2))) == "one of [1, 2]"


def test_out_of_space_message_says_what_was_expected() -> None:
    message = (
        r"The 'n_neighbors' parameter of learner 'knn' must be an int in \[1, 30\] "
        r"\(log scale\)\. Got 0 instead\."
    )
    with pytest.raises(ValueError, match=message):
        get_learner("knn").build({"n_neighbors": 0, "p": 2})
