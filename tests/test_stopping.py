"""The default stopping rule: stop when the front stops improving where the pick is decided,
not before; and say how much energy the early stop saved."""

from __future__ import annotations

import pytest

from greenauto import GreenAutoClassifier
from greenauto.datasets import load_dataset
from greenauto.results import TrialRecord
from greenauto.search._stopping import FrontPlateau

OBJECTIVES = ("score", "inference_energy")


def record(number: int, score: float, energy: float, *, variant_of: int | None = None):
    metrics = {"score": score, "inference_energy_j_per_1k": energy}
    return TrialRecord(number, "COMPLETE", {}, metrics, variant_of=variant_of)


def test_a_flat_front_stops_after_patience_trials() -> None:
    rule = FrontPlateau(OBJECTIVES, patience=5, max_score_drop=0.005)
    rule.update(record(0, 0.90, 1.0))
    for i in range(1, 6):
        assert rule.reason() is None
        rule.update(record(i, 0.85 + 0.001 * i, 0.5))  # worse than the best: no new pick
    assert rule.reason() == (
        "the front stopped improving: no better score nor cheaper pick in the last 5 trials"
    )


@pytest.mark.parametrize(
    ("score", "energy"),
    [(0.002, 1.0), (0.0, 0.9)],  # a better score each time, or a cheaper pick each time
    ids=["score improving", "pick getting cheaper"],
)
def test_an_improving_front_does_not_stop(score: float, energy: float) -> None:
    rule = FrontPlateau(OBJECTIVES, patience=5, max_score_drop=0.005)
    best, cost = 0.8, 1.0
    for i in range(40):
        if i % 4 == 0:  # one improvement every 4 trials, inside the patience of 5
            best, cost = best + score, cost * energy
        rule.update(record(i, best, cost))
        assert rule.reason() is None, i


def test_small_gains_do_not_reset_the_count_but_add_up() -> None:
    rule = FrontPlateau(OBJECTIVES, patience=4, max_score_drop=0.0)
    rule.update(record(0, 0.9000, 1.0))
    for i in range(1, 4):
        rule.update(record(i, 0.9000 + 0.0003 * i, 1.0))  # +0.03 point per trial: too small
    assert rule.reason() is None
    rule.update(record(4, 0.9016, 1.0))  # +0.16 point since the last counted gain: counts
    for i in range(5, 8):
        rule.update(record(i, 0.9016, 1.0))
    assert rule.reason() is None
    rule.update(record(8, 0.9016, 1.0))
    assert rule.reason() is not None


def test_variants_count_with_their_parent_trial() -> None:
    rule = FrontPlateau(OBJECTIVES, patience=3, max_score_drop=0.005)
    for i in range(4):
        rule.update(record(2 * i, 0.9, 1.0))
        rule.update(record(2 * i + 1, 0.9, 0.9 ** (i + 1), variant_of=2 * i))  # cheaper each time
    assert rule.sampled == 4
    assert rule.reason() is None


def test_a_search_stops_when_flat_and_reports_the_energy_saved(tmp_path) -> None:
    X, y = load_dataset("breast_cancer_wisconsin")
    auto = GreenAutoClassifier(
        n_trials=200, time_budget=None, energy_meter="model", random_state=0,
        learners=["decision_tree", "gaussian_nb"], max_members=1, n_iter_no_change=5,
    ).fit(X, y)  # fmt: skip
    totals = auto.search_result_.totals
    sampled = [r for r in auto.search_result_.trials if r.sampled]
    assert len(sampled) < 200
    assert totals.stop_reason.startswith("the front stopped improving")
    per_trial = totals.energy_j / len(sampled)
    assert totals.energy_saved_j == pytest.approx((200 - len(sampled)) * per_trial, rel=0.3)
    text = auto.export_report(tmp_path / "r.md").read_text()
    assert "| Energy the early stop saved | about" in text
    without = GreenAutoClassifier(
        n_trials=len(sampled) + 5, time_budget=None, energy_meter="model", random_state=0,
        learners=["decision_tree", "gaussian_nb"], max_members=1, n_iter_no_change=None,
    ).fit(X, y)  # fmt: skip
    assert without.search_result_.totals.stop_reason == "ran the n_trials asked for"
    assert without.search_result_.totals.energy_saved_j is None


def test_constraints_exclude_violating_trials_from_the_front() -> None:
    X, y = load_dataset("breast_cancer_wisconsin")
    free = GreenAutoClassifier(n_trials=10, time_budget=None, energy_meter="model",
                               random_state=0).fit(X, y)  # fmt: skip
    sizes = sorted(r.metrics["model_bytes"] for r in free.search_result_.trials if r.complete)
    limit = sizes[len(sizes) // 2]  # half the candidates are too big
    capped = GreenAutoClassifier(
        n_trials=10, time_budget=None, energy_meter="model", random_state=0,
        constraints={"max_model_bytes": limit},
    ).fit(X, y)  # fmt: skip
    records = [r for r in capped.search_result_.trials if r.complete]
    assert any(r.metrics["model_bytes"] > limit for r in records)  # some trials broke it
    assert all(p["model_bytes"] <= limit for p in capped.pareto_front_)
    assert capped.best_point_["model_bytes"] <= limit
    # the sampler saw the violations as Optuna constraints
    sampled = [t for t in capped.study_.trials if t.state.name == "COMPLETE"]
    assert all(
        (t.constraints["model_bytes"] > 0) == (t.user_attrs["metrics"]["model_bytes"] > limit)
        for t in sampled
    )


@pytest.mark.parametrize(
    ("constraints", "message"),
    [
        ({"max_speed": 1.0}, r"Unknown constraint 'max_speed'; choose from \['max_inference"),
        ({"max_latency": 0}, r"Constraint 'max_latency' must be a number > 0; got 0"),
    ],
)
def test_bad_constraints_are_named(constraints, message) -> None:
    X, y = load_dataset("breast_cancer_wisconsin")
    with pytest.raises(ValueError, match=message):
        GreenAutoClassifier(n_trials=2, time_budget=None, constraints=constraints).fit(X, y)


def test_no_candidate_within_the_limits_says_so() -> None:
    X, y = load_dataset("breast_cancer_wisconsin")
    with pytest.raises(RuntimeError, match=r"No candidate meets the limits \(model_bytes <= 1\)"):
        GreenAutoClassifier(n_trials=3, time_budget=None, energy_meter="model",
                            constraints={"max_model_bytes": 1}).fit(X, y)  # fmt: skip
