"""Dense fronts from few fits: a fitted candidate's prefixes (first k trees / iterations) are
exactly the truncated model, and exactly the model fitted with n_estimators=k; the search
records the useful ones as trials of their own."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from greenauto import GreenAutoClassifier
from greenauto.datasets import load_dataset
from greenauto.ensemble import MemberSpec, get_learner
from greenauto.preprocessing import TabularEncoder
from greenauto.results import TrialRecord
from greenauto.search import PipelineConfig, config_from_params, fit_candidate
from greenauto.search._variants import pick_variants, prefix_sizes


@pytest.fixture(scope="module", params=["wisdm_activity", "spambase"])
def data(request) -> tuple[np.ndarray, np.ndarray]:
    X, y = load_dataset(request.param)
    Xf = TabularEncoder().fit_transform(X)[:2500]
    y = np.unique(np.asarray(y), return_inverse=True)[1][:2500]
    return Xf, y


def _config(learner: str, n: int, **params) -> PipelineConfig:
    member = MemberSpec(learner, {**get_learner(learner).initial_params(), "n_estimators": n,
                                  **params})  # fmt: skip
    return PipelineConfig(32, "quantile", "none", 1.0, (member,))


@pytest.mark.parametrize(
    ("learner", "extra"),
    [("lightgbm", {"num_leaves": 8}), ("random_forest", {}), ("extra_trees", {})],
)
def test_prefix_is_the_truncated_model_and_the_smaller_fit(data, learner, extra) -> None:
    X, y = data
    full = fit_candidate(_config(learner, 40, **extra), X[:2000], y[:2000], random_state=3)
    member = full.ensemble.estimators_[0]
    codes = full.member_input(X)
    for k in (5, 7, 23):
        cut = full.prefix(k)
        assert cut.config.members[0].params["n_estimators"] == k
        if learner == "lightgbm":
            expected = member.predict_proba(codes, num_iteration=k)
        else:
            expected = np.mean([t.predict_proba(codes) for t in member.estimators_[:k]], axis=0)
        np.testing.assert_allclose(cut.predict_proba(X), expected, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(cut.predict_codes(X), np.argmax(expected, axis=1))
        # the same learner fitted with n_estimators=k is the same model
        small = fit_candidate(cut.config, X[:2000], y[:2000], random_state=3)
        np.testing.assert_array_equal(small.predict_codes(X), cut.predict_codes(X))
        np.testing.assert_allclose(small.predict_proba(X), cut.predict_proba(X), atol=1e-12)


def test_no_prefix_without_a_single_tree_ensemble(data) -> None:
    X, y = data
    tree = MemberSpec("decision_tree", get_learner("decision_tree").initial_params())
    cand = fit_candidate(PipelineConfig(16, "quantile", "none", 1.0, (tree,)), X, y,
                         random_state=0)  # fmt: skip
    assert cand.prefix_size() is None
    with pytest.raises(ValueError, match="No prefix of 2"):
        cand.prefix(2)
    pair = dataclasses.replace(_config("lightgbm", 20), members=(*_config("lightgbm", 20).members,
                                                                  tree))  # fmt: skip
    assert fit_candidate(pair, X, y, random_state=0).prefix_size() is None


def test_prefix_ladder_and_pick() -> None:
    assert prefix_sizes(300, 5) == [212, 150, 106, 75, 53, 37, 27, 19, 13, 9, 7, 5]
    assert prefix_sizes(6, 5) == []
    assert prefix_sizes(10, 1) == [7, 5, 4, 2, 1]
    family = [(k, 0.9 - 0.01 * i, 100.0 / (i + 1)) for i, k in enumerate([50, 25, 12, 6, 3])]
    assert pick_variants((0.95, 200.0), family, max_variants=3) == [3, 12, 50]
    dominated = [(50, 0.80, 150.0)]  # worse and costlier than some other member of the family
    assert pick_variants((0.9, 100.0), dominated) == []


def test_search_records_variants_as_trials_of_their_own() -> None:
    X, y = load_dataset("spambase")
    seen: list[TrialRecord] = []
    auto = GreenAutoClassifier(
        n_trials=6, time_budget=None, energy_meter="model", random_state=0,
        learners=["lightgbm"], max_members=1, callbacks=[lambda r, p: seen.append(r)],
    ).fit(X, y)  # fmt: skip
    records = auto.search_result_.trials
    variants = [r for r in records if r.variant_of is not None]
    assert variants, "a LightGBM search gives prefix variants"
    assert sorted(r.number for r in seen) == [r.number for r in records]
    by_number = {r.number: r for r in records}
    for v in variants:
        parent = by_number[v.variant_of]
        key = "m0_lightgbm_n_estimators"
        assert v.params[key] < parent.params[key]
        assert {k: x for k, x in v.params.items() if k != key} == {
            k: x for k, x in parent.params.items() if k != key
        }
        share = v.params[key] / parent.params[key]
        assert v.metrics["fit_energy_j"] == pytest.approx(parent.metrics["fit_energy_j"] * share)
        assert v.metrics["ops_per_row"] < parent.metrics["ops_per_row"]
        assert f"of trial {parent.number}'s" in v.description
        assert v.energy_source == "operation-count model"
    # a variant point refits to exactly its prefix: same config as its parameters say
    for p in auto.pareto_front_:
        assert p.config == config_from_params(dict(p.params), learners=["lightgbm"],
                                              max_members=1)  # fmt: skip
