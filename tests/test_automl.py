"""GreenAutoClassifier: the search end to end, as a scikit-learn estimator, and on bad input."""

from __future__ import annotations

import pickle
import time
import warnings
from typing import ClassVar

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from greenauto import GreenAutoClassifier, ParetoFront, ParetoPoint
from greenauto.datasets import load_dataset
from greenauto.ensemble import Choice, Learner, register_learner, unregister_learner
from greenauto.search import config_from_params

FAST = {"time_budget": None, "energy_meter": "model", "random_state": 0}


def tiny(**kw) -> GreenAutoClassifier:
    params = {**FAST, "n_trials": 4, "learners": ["decision_tree", "gaussian_nb"]}
    params.update(kw)
    return GreenAutoClassifier(**params)


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    return load_dataset("breast_cancer_wisconsin")


# Integer weights equal repeated rows for a learner, not for a search: the validation split, the
# bin edges and the sampled candidates all depend on the rows themselves. Weighted fits are
# tested in tests/test_validation.py; every other estimator check runs.
_EXPECTED = {
    "check_sample_weight_equivalence_on_dense_data": "a search splits and bins the rows: "
    "integer weights are not the same data as repeated rows"
}


@parametrize_with_checks(
    [tiny(n_trials=2, max_members=1)], expected_failed_checks=lambda est: _EXPECTED
)
def test_sklearn_estimator_checks(estimator, check) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


def test_search_returns_a_front_and_predicts_through_kernels(cancer) -> None:
    X, y = cancer
    auto = GreenAutoClassifier(n_trials=12, **FAST).fit(X, y)
    front = auto.pareto_front_
    assert isinstance(front, ParetoFront)
    assert len(front) >= 1
    assert auto.best_point_ == front.default
    # the pick is the cheapest point within max_score_drop of the best, on the scores of the
    # points the search re-scored on fresh folds
    confirmed = [p for p in front if "confirmed_score" in p.metrics]
    assert auto.best_point_ in confirmed
    top = max(p["confirmed_score"] for p in confirmed)
    assert auto.best_point_["confirmed_score"] >= top - auto.max_score_drop - 1e-12
    for p in front:
        assert p.description
        assert p.energy_source == "operation-count model"
        for metric in (
            "fit_energy_j",
            "inference_energy_j_per_1k",
            "latency_s_per_row",
            "model_bytes",
            "n_features",
            "ops_per_row",
        ):
            assert 0 < p[metric] < np.inf, metric
    pred = auto.predict(X)
    np.testing.assert_array_equal(pred, auto.classes_[auto.model_.predict_codes(auto._encode(X))])
    assert auto.score(X, y) > 0.9
    proba = auto.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert auto.search_energy_.joules > 0
    assert auto.search_energy_.source.value == "operation-count model"
    sampled = [r for r in auto.search_result_.trials if r.sampled]
    assert len(sampled) == 12  # and the cheaper prefixes some of them gave


def test_use_another_point_of_the_front(cancer) -> None:
    X, y = cancer
    auto = GreenAutoClassifier(n_trials=12, **FAST).fit(X, y)
    cheapest = auto.pareto_front_.select(rule="cheapest")
    auto.use_point(cheapest, X, y)
    assert auto.best_point_ == cheapest
    assert auto.model_.config == config_from_params(dict(cheapest.params))
    assert auto.model_.n_selected == cheapest["n_features"]
    foreign = ParetoPoint(999, {}, {"score": 1.0, "inference_energy_j_per_1k": 1.0})
    with pytest.raises(ValueError, match="Trial 999 is not a point of this estimator's front"):
        auto.use_point(foreign, X, y)


def test_reproducible_under_the_deterministic_meter(cancer) -> None:
    X, y = cancer
    a = GreenAutoClassifier(n_trials=8, **FAST).fit(X, y)
    b = GreenAutoClassifier(n_trials=8, **FAST).fit(X, y)
    assert [t.params for t in a.study_.trials] == [t.params for t in b.study_.trials]
    # every objective and energy figure is a model, hence identical; latencies are timed
    keys = ("score", "fit_energy_j", "inference_energy_j_per_1k", "ops_per_row", "model_bytes")
    assert [(p.trial, *(p[k] for k in keys)) for p in a.pareto_front_] == [
        (p.trial, *(p[k] for k in keys)) for p in b.pareto_front_
    ]
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_pandas_categoricals_and_missing_values() -> None:
    X, y = load_dataset("penguins")
    assert X.isna().any().any()
    assert any(not pd.api.types.is_numeric_dtype(t) for t in X.dtypes)
    auto = GreenAutoClassifier(n_trials=6, **FAST).fit(X, y)
    assert auto.score(X, y) > 0.9
    assert set(auto.predict(X.iloc[:5])) <= set(y)


def test_budget_time_is_respected(cancer) -> None:
    X, y = cancer
    t0 = time.perf_counter()
    auto = GreenAutoClassifier(time_budget=8, energy_meter="model", random_state=0).fit(X, y)
    elapsed = time.perf_counter() - t0
    assert elapsed < 8 * 1.10, elapsed
    assert len(auto.study_.trials) >= 2


def test_energy_budget_stops_the_search(cancer) -> None:
    X, y = cancer
    free = tiny(n_trials=10).fit(X, y)
    per_trial = free.search_energy_.joules / 10
    capped = tiny(n_trials=10, energy_budget=per_trial * 3).fit(X, y)
    assert 0 < len(capped.study_.trials) < 10


def test_resume_from_storage(tmp_path, cancer) -> None:
    X, y = cancer
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    tiny(n_trials=3, storage=storage, study_name="s").fit(X, y)
    again = tiny(n_trials=2, storage=storage, study_name="s").fit(X, y)
    assert len(again.study_.trials) == 5
    loaded = optuna.load_study(study_name="s", storage=storage)
    assert all(
        "metrics" in t.user_attrs
        for t in loaded.trials
        if t.state.is_finished() and t.state == optuna.trial.TrialState.COMPLETE
    )
    with pytest.raises(ValueError, match="was run on other data"):
        tiny(n_trials=1, storage=storage, study_name="s").fit(X.iloc[:300], y.iloc[:300])


def test_scikit_learn_integration(cancer) -> None:
    X, y = cancer
    pipe = make_pipeline(StandardScaler(), tiny(n_trials=3))
    scores = cross_val_score(pipe, X, y, cv=2)
    assert scores.mean() > 0.85
    fitted = tiny(n_trials=3).fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))
    assert clone(fitted).get_params() == tiny(n_trials=3).get_params()


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (["a"] * 40, r"y has 1 class \('a'\)"),
        ([0.0, np.nan] * 20, r"y has 20 missing label\(s\)"),
        ([0, 1] * 19 + [0], "Found input variables with inconsistent numbers of samples"),
    ],
)
def test_bad_targets(y, message: str) -> None:
    X = np.random.default_rng(0).normal(size=(40, 3))
    with pytest.raises(ValueError, match=message):
        tiny().fit(X, y)


def test_too_few_rows_for_the_split() -> None:
    X = np.random.default_rng(0).normal(size=(3, 3))
    with pytest.raises(ValueError, match=r"Too few rows to validate: every class has fewer than"):
        tiny().fit(X, [0, 1, 2])


def test_rare_classes_train_but_are_not_validated() -> None:
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = np.array([0] * 14 + [1] * 14 + [2, 3])
    with pytest.warns(UserWarning, match=r"Class\(es\) 2, 3 have fewer than 3 rows"):
        auto = tiny(n_trials=2).fit(X, y)
    assert auto.classes_.tolist() == [0, 1, 2, 3]


def test_numeric_arrays_go_straight_to_the_compiled_model(cancer) -> None:
    """Trained on numeric columns only, an array of the training width is its own encoding:
    float32, float64, integer, a list and the DataFrame all predict alike, and a wrong width
    is named as the encoder names it."""
    X, y = cancer
    auto = tiny(n_trials=2).fit(X, y)
    want = auto.predict(X)
    want_p = auto.predict_proba(X)
    for Xin in (X.to_numpy(), X.to_numpy(np.float32), np.asfortranarray(X.to_numpy()),
                X.to_numpy().tolist()):  # fmt: skip
        np.testing.assert_array_equal(auto.predict(Xin), want)
        np.testing.assert_array_equal(auto.predict_proba(Xin), want_p)
    np.testing.assert_array_equal(auto.predict(X.to_numpy()[:1]), want[:1])
    np.testing.assert_array_equal(auto.predict(np.rint(X.to_numpy()[:5]).astype(np.int64)),
                                  auto.predict(np.rint(X.to_numpy()[:5])))  # fmt: skip
    n = X.shape[1]
    wrong = f"X has {n - 1} features, but greenauto is expecting {n}"
    with pytest.raises(ValueError, match=wrong):
        auto.predict(X.to_numpy()[:, 1:])
    with pytest.raises(ValueError, match=r"empty batch \(0 rows\)"):
        auto.predict(X.to_numpy()[:0])


def test_unseen_category_and_wrong_columns_at_predict() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=60), "c": rng.choice(["a", "b"], size=60)})
    y = (X["x"] > 0).astype(int)
    auto = tiny(n_trials=2).fit(X, y)
    bad = X.iloc[:3].copy()
    bad.loc[bad.index[0], "c"] = "zzz"
    with pytest.raises(
        ValueError, match=r"Column 'c' has categories never seen in fit: \['zzz'\]"
    ):
        auto.predict(bad)
    with pytest.raises(ValueError, match=r"missing \['c'\], unexpected \['d'\]"):
        auto.predict(X.rename(columns={"c": "d"}))
    with pytest.raises(ValueError, match=r"missing \['c'\], unexpected \[\]"):
        auto.predict(X[["x"]])
    with pytest.raises(ValueError, match="X has 1 features, but greenauto is expecting 2"):
        auto.predict(X[["x"]].to_numpy())


def test_all_nan_column_is_named_in_a_warning() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=60), "empty": np.nan})
    y = (X["x"] > 0).astype(int)
    with pytest.warns(UserWarning, match="Column 'empty' has only missing values"):
        tiny(n_trials=2).fit(X, y)


def test_budget_too_small_for_one_trial_says_so(cancer) -> None:
    X, y = cancer
    with pytest.raises(
        RuntimeError, match=r"No trial completed within time_budget=0.0001 s: it was too small"
    ):
        # 0.1 ms: spent before the first trial can start (encoding the data takes longer)
        GreenAutoClassifier(time_budget=1e-4, random_state=0).fit(X, y)


class FragileTreeLearner(Learner):
    """A real plug-in learner whose "broken" setting gives scikit-learn an invalid depth."""

    name = "test_fragile_tree"
    kind = "trees"
    label = "FragileTree"
    space: ClassVar = {"mode": Choice(("ok", "broken"))}
    low_cost: ClassVar = {"mode": "ok"}

    def build(self, params, *, n_codes=None, random_state=None, n_rows=None):
        depth = -1 if params["mode"] == "broken" else 3
        return DecisionTreeClassifier(max_depth=depth, random_state=random_state)

    def cost_hint(self, params, n_rows, n_features, *, n_classes=2) -> float:
        return 3.0


@pytest.fixture
def fragile_learner():
    register_learner(FragileTreeLearner)
    yield FragileTreeLearner.name
    unregister_learner(FragileTreeLearner.name)


def test_a_failing_trial_is_recorded_and_the_study_goes_on(cancer, fragile_learner) -> None:
    X, y = cancer
    auto = tiny(n_trials=12, learners=["test_fragile_tree"], max_members=1).fit(X, y)
    failed = [t for t in auto.study_.trials if t.state == optuna.trial.TrialState.FAIL]
    done = [t for t in auto.study_.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert failed
    assert len(done) >= 2
    assert len(auto.study_.trials) == 12  # the study went on after each failure
    for t in failed:
        assert "The 'max_depth' parameter of DecisionTreeClassifier" in t.user_attrs["error"]
        assert "broken" in t.params.values()
    assert all("broken" not in p.params.values() for p in auto.pareto_front_)


def test_objectives_are_checked() -> None:
    with pytest.raises(ValueError, match=r"Unknown objective\(s\) \['speed'\]"):
        tiny(objectives=("score", "speed")).fit(np.ones((10, 2)), [0, 1] * 5)
    with pytest.raises(ValueError, match="needs a budget"):
        GreenAutoClassifier(time_budget=None).fit(np.ones((10, 2)), [0, 1] * 5)


def test_holdout_pick_is_confirmed_by_cross_validation() -> None:
    X, y = load_dataset("spambase")
    auto = GreenAutoClassifier(n_trials=14, validation="holdout", **FAST).fit(X, y)
    confirmed = [p for p in auto.pareto_front_ if "confirmed_score" in p.metrics]
    assert len(confirmed) >= 2
    top = max(p["confirmed_score"] for p in confirmed)
    pick = auto.best_point_
    assert pick in confirmed
    assert pick["confirmed_score"] >= top - auto.max_score_drop
    cheaper = [
        p for p in confirmed if p["inference_energy_j_per_1k"] < pick["inference_energy_j_per_1k"]
    ]
    assert all(p["confirmed_score"] < top - auto.max_score_drop for p in cheaper)
    again = ParetoFront.from_json(auto.pareto_front_.to_json())
    assert again.default == pick
