"""Pareto fronts: dominance, selection rules, hypervolume and the JSON round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from greenauto.pareto import (
    Objective,
    ParetoFront,
    ParetoPoint,
    hypervolume_2d,
    non_dominated_mask,
)

OBJECTIVES = (Objective("score", maximize=True), Objective("inference_energy_j_per_1k"))


def point(trial: int, score: float, energy: float, **extra: float) -> ParetoPoint:
    metrics = {"score": score, "inference_energy_j_per_1k": energy, **extra}
    return ParetoPoint(trial, {"n_bins": 16, "m0_learner": "lightgbm"}, metrics, f"t{trial}")


@pytest.fixture
def front() -> ParetoFront:
    cands = [
        point(0, 0.900, 8.0),
        point(1, 0.897, 1.0),  # within 1 point of the best, 8x cheaper: the default
        point(2, 0.860, 0.2),
        point(3, 0.850, 0.9),  # dominated by 2
        point(4, 0.700, 0.1),
        point(5, 0.880, 9.0),  # dominated by 0
    ]
    return ParetoFront.from_candidates(cands, OBJECTIVES)


def test_front_keeps_non_dominated_sorted_by_energy(front: ParetoFront) -> None:
    assert [p.trial for p in front] == [4, 2, 1, 0]
    assert len(front) == 4
    assert front.best.trial == 0


def test_default_and_rules(front: ParetoFront) -> None:
    assert front.default.trial == 1
    assert front.select(max_score_drop=0.0).trial == 0
    assert front.select(max_score_drop=0.05).trial == 2
    assert front.select(energy_budget=0.5, rule="best").trial == 2
    assert front.select(rule="cheapest").trial == 4
    assert front.select(rule="knee").trial == 2
    with pytest.raises(ValueError, match=r"No point of the front has inference_energy_j_per_1k"):
        front.select(energy_budget=0.01)
    with pytest.raises(ValueError, match="rule must be 'cheapest', 'best' or 'knee'"):
        front.select(rule="fastest")


def test_empty_front_says_so() -> None:
    empty = ParetoFront.from_candidates([], OBJECTIVES)
    assert len(empty) == 0
    with pytest.raises(ValueError, match="The Pareto front is empty"):
        _ = empty.default


def test_objectives_must_have_a_score_and_a_cost() -> None:
    with pytest.raises(ValueError, match="needs a maximised objective"):
        ParetoFront((), (Objective("a"), Objective("b")))
    with pytest.raises(ValueError, match="needs a minimised objective"):
        ParetoFront((), (Objective("a", True),))


def test_json_round_trip(front: ParetoFront) -> None:
    text = front.to_json(indent=1)
    again = ParetoFront.from_json(text)
    assert again == front
    data = json.loads(text)
    assert data["schema_version"] == 1
    assert data["units"]["inference_energy_j_per_1k"] == "J per 1,000 predictions"


def test_json_refuses_other_schemas(front: ParetoFront) -> None:
    data = front.to_dict()
    data["schema_version"] = 99
    with pytest.raises(ValueError, match="schema version 99 is not supported"):
        ParetoFront.from_dict(data)
    with pytest.raises(ValueError, match="Not a greenauto Pareto front"):
        ParetoFront.from_dict({"schema": "other"})


def test_non_finite_metrics_survive_json() -> None:
    p = point(0, 0.9, 1.0, latency_s_per_row=float("inf"))
    again = ParetoPoint.from_dict(json.loads(json.dumps(p.to_dict())))
    assert again == p


def test_hypervolume() -> None:
    assert hypervolume_2d(np.array([[1.0, 2.0], [2.0, 1.0]]), (3.0, 3.0)) == 3.0
    assert hypervolume_2d(np.array([[4.0, 4.0]]), (3.0, 3.0)) == 0.0
    hv = ParetoFront.from_candidates([point(0, 0.9, 1.0)], OBJECTIVES).hypervolume((1.0, 2.0))
    assert hv == pytest.approx(0.9 * 1.0)


@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 30), st.integers(1, 3)),
        elements=st.integers(0, 5).map(float),
    )
)
def test_mask_matches_brute_force(values: np.ndarray) -> None:
    mask = non_dominated_mask(values)
    for i, row in enumerate(values):
        dominated = any((other <= row).all() and (other < row).any() for other in values)
        assert mask[i] == (not dominated)


def test_nan_rows_are_never_on_the_front() -> None:
    assert non_dominated_mask(np.array([[np.nan, 0.0], [1.0, 1.0]])).tolist() == [False, True]
