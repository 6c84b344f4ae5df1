"""The pure report data: plot description and summary sentence, without any plotting."""

from __future__ import annotations

import math

import pytest

from greenauto import Objective, ParetoFront, ParetoPoint
from greenauto.report import build_report_data
from greenauto.report._data import ReportData, TrialRecord, plot_info, summary_sentence
from greenauto.report._format import format_number

E = "inference_energy_j_per_1k"
OBJS = (Objective("score", maximize=True), Objective(E))


def _point(trial: int, score: float, energy: float, text: str = "") -> ParetoPoint:
    return ParetoPoint(trial, {"t": trial}, {"score": score, E: energy}, text or f"model {trial}")


def _front(*points: ParetoPoint, drop: float = 0.01) -> ParetoFront:
    return ParetoFront.from_candidates(points, OBJS, max_score_drop=drop)


def test_summary_compares_the_default_pick_with_the_most_accurate_point() -> None:
    front = _front(_point(3, 0.904, 7.9), _point(7, 0.900, 1.0))
    data = ReportData(front=front, trials=(), settings={"scoring": "accuracy"})
    assert summary_sentence(data) == (
        "The default pick (trial 7) uses 7.9x less energy per prediction than the most "
        "accurate point (trial 3) for 0.4 points of accuracy."
    )


def test_summary_when_the_pick_is_the_most_accurate_point() -> None:
    front = _front(_point(1, 0.95, 2.0), _point(2, 0.90, 1.0))
    sentence = summary_sentence(ReportData(front=front, trials=()))
    assert sentence.startswith("The default pick (trial 1) is also the most accurate point")
    assert "within 1 point of its score" in sentence


def test_plot_info_holds_trials_front_and_picks_with_log_energy() -> None:
    front = _front(_point(0, 0.90, 0.01), _point(1, 0.93, 1.0), _point(2, 0.935, 100.0))
    trials = (
        TrialRecord(0, "COMPLETE", {}, {"score": 0.90, E: 0.01}, "a"),
        TrialRecord(1, "COMPLETE", {}, {"score": 0.93, E: 1.0}, "b"),
        TrialRecord(2, "COMPLETE", {}, {"score": 0.935, E: 100.0}, "c"),
        TrialRecord(3, "COMPLETE", {}, {"score": 0.80, E: 5.0}, "dominated"),
        TrialRecord(4, "FAIL", {}, {}, "", error="ValueError: x"),
        TrialRecord(5, "COMPLETE", {}, {"score": math.nan, E: 1.0}, "nan score"),
    )
    info = plot_info(ReportData(front=front, trials=trials))
    assert info.x_metric == E
    assert info.log_x
    assert [p.trial for p in info.trials] == [0, 1, 2, 3]  # failed and NaN left out
    assert [p.trial for p in info.front] == [0, 1, 2]
    assert info.default.trial == 1  # within 0.01 of the best, 100x cheaper
    assert info.best.trial == 2
    assert info.trials[3].label == "trial 3: dominated"
    assert "J per 1,000 predictions" in info.x_label


def test_plot_info_uses_a_linear_axis_when_an_energy_is_zero() -> None:
    front = _front(_point(0, 0.9, 0.0), _point(1, 0.95, 1.0))
    assert not plot_info(ReportData(front=front, trials=())).log_x


def test_built_from_a_front_alone_marks_the_rest_not_recorded() -> None:
    front = _front(_point(0, 0.9, 1.0), _point(1, 0.95, 2.0))
    data = build_report_data(front, title="t")
    assert not data.has_study
    assert data.totals.energy_j is None
    assert data.dataset.rows is None
    assert [t.number for t in data.trials] == [0, 1]
    assert data.title == "t"


def test_an_empty_front_is_refused() -> None:
    with pytest.raises(ValueError, match="front is empty"):
        build_report_data(ParetoFront((), OBJS))


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [(None, None, "not recorded"), (1234.0, None, "1,234"), (0.000123456, "J", "0.0001235 J"),
     (math.inf, None, "inf")],
)  # fmt: skip
def test_format_number(value, unit, text) -> None:
    assert format_number(value, unit) == text


def test_co2_and_totals_reach_every_format_and_read_back() -> None:
    from greenauto.report._data import DatasetSummary, SearchTotals
    from greenauto.report._html import render_html
    from greenauto.report._json import report_data_from_dict, report_dict
    from greenauto.report._markdown import render_markdown

    totals = SearchTotals(
        wall_seconds=27.1,
        energy_j=68.17,
        energy_source="codecarbon TDP estimate cpu-time",
        energy_detail="4 W per CPU-second",
        co2_grams=0.005033,
        co2_energy_j=80.5,
        co2_country="FRA",
        co2_region=None,
        co2_source="codecarbon tracker estimate",
        trial_states={"COMPLETE": 70, "FAIL": 2, "PRUNED": 5},
    )
    data = ReportData(
        front=_front(_point(3, 0.904, 7.9), _point(7, 0.900, 1.0)),
        trials=(),
        totals=totals,
        dataset=DatasetSummary(rows=4601, columns=57, classes=("0", "1")),
        settings={"scoring": "accuracy"},
    )
    html = render_html(data)
    assert "0.005033 g CO2eq for 80.5 J, grid of FRA (codecarbon tracker estimate)" in html
    assert "70 completed, 2 failed, 5 pruned" in html
    assert "68.17 J (codecarbon TDP estimate cpu-time)" in html
    assert "4,601" not in html  # counts are written plainly in the HTML
    assert ">4601<" in html
    md = render_markdown(data)
    assert "| CO2 | 0.005033 g CO2eq, grid of FRA (codecarbon tracker estimate) |" in md
    report = report_dict(data)
    assert report["totals"]["co2"]["value"] == 0.005033
    assert report["totals"]["co2"]["unit"] == "g CO2eq"
    assert report["totals"]["co2"]["energy"] == {
        "value": 80.5,
        "unit": "J",
        "source": "codecarbon tracker estimate",
    }
    assert report_data_from_dict(report) == data
