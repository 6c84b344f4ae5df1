"""`ReportData`: everything a report shows, as plain values, built once from a search's typed
`SearchResult` (or a `ParetoFront` alone). Every format is rendered from it.

The pure helpers that turn it into a plot description (`plot_info`) and the plain-language
summary (`summary_sentence`) live here too, so they are tested without any plotting library
(the split of Optuna's ``visualization/_pareto_front.py``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NamedTuple

from greenauto.metrics import get_metric
from greenauto.pareto import ParetoFront, ParetoPoint
from greenauto.results import (
    DatasetSummary,
    SearchResult,
    SearchTotals,
    TrialRecord,
    machines_of,
)

__all__ = [
    "DatasetSummary",
    "PlotInfo",
    "ReportData",
    "SearchTotals",
    "TrialRecord",
    "build_report_data",
    "derived_note",
    "plot_info",
    "summary_sentence",
]


@dataclass(frozen=True)
class ReportData:
    """What every report format shows, as plain values.

    Parameters
    ----------
    front : ParetoFront
        The front (its ``to_dict`` goes into the JSON export unchanged).
    trials : tuple of TrialRecord
        Every trial of the study, or the front's points when no study is known.
    totals : SearchTotals
    dataset : DatasetSummary
    settings : dict
        The study's recorded search settings (objectives, scoring, validation, ...).
    title : str
    greenauto_version : str
    created_utc : str
        ISO 8601 time the report data was built.
    """

    front: ParetoFront
    trials: tuple[TrialRecord, ...]
    totals: SearchTotals = field(default_factory=SearchTotals)
    dataset: DatasetSummary = field(default_factory=DatasetSummary)
    settings: dict[str, Any] = field(default_factory=dict)
    title: str = "greenauto Pareto report"
    greenauto_version: str = ""
    created_utc: str = ""

    @classmethod
    def from_result(cls, result: SearchResult, *, title: str | None = None) -> ReportData:
        """The report of a search result, stamped with this greenauto's version and now."""
        if len(result.front) == 0:
            raise ValueError("The Pareto front is empty: there is nothing to report.")
        return cls(
            front=result.front,
            trials=tuple(result.trials),
            totals=result.totals,
            dataset=result.dataset,
            settings=dict(result.settings),
            title=title or "greenauto Pareto report",
            greenauto_version=_version(),
            created_utc=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    @property
    def has_study(self) -> bool:
        """Whether the trials come from a study (else: only the front's points are known)."""
        return self.totals.trial_states is not None

    @property
    def energy_sources(self) -> tuple[str, ...]:
        """Distinct energy sources of the front's points."""
        return tuple(sorted({p.energy_source for p in self.front}))

    @property
    def machines_note(self) -> str:
        """Which machines ran the trials ("" when not recorded); says so when several did."""
        machines = machines_of(self.trials)
        if len(machines) <= 1:
            return "".join(machines)
        return (
            f"{len(machines)} machines: {'; '.join(machines)}. Their energy figures come "
            "from different CPUs: each point's energy source names its machine."
        )


# --------------------------------------------------------------------------- building
def build_report_data(obj: Any, *, study: Any = None, title: str | None = None) -> ReportData:
    """Collect a report's data from a search result, a fitted estimator or a `ParetoFront`.

    Parameters
    ----------
    obj : SearchResult, fitted GreenAutoClassifier, ParetoFront or ReportData
        A fitted estimator gives its ``search_result_`` (the one attribute read); a
        ReportData is returned as it is (with ``title`` replaced when given).
    study : optuna.Study, optional
        The study whose trials to list when ``obj`` is a front.
    title : str, optional

    Returns
    -------
    data : ReportData
    """
    if isinstance(obj, ReportData):
        return obj if title is None else dataclasses.replace(obj, title=title)
    if isinstance(obj, ParetoFront):
        result = SearchResult.from_front(obj, study=study)
    else:
        result = getattr(obj, "search_result_", obj)
    if not isinstance(result, SearchResult):
        raise TypeError(
            "export_report takes a SearchResult, a fitted GreenAutoClassifier or a "
            f"ParetoFront; got {type(obj).__name__}. (Is the estimator fitted?)"
        )
    return ReportData.from_result(result, title=title)


def derived_note(t: SearchTotals) -> str:
    """How many completed trials another trial's fit gave (e.g. " (4 of them prefix variants
    of another trial's fit, 1 a distilled student)"), or ""."""
    parts = []
    if t.variants:
        parts.append(f"{t.variants} of them prefix variants of another trial's fit")
    if t.students:
        parts.append(f"{t.students} distilled student{'s' if t.students > 1 else ''}")
    return f" ({', '.join(parts)})" if parts else ""


def _version() -> str:
    try:
        return version("greenauto")
    except PackageNotFoundError:  # pragma: no cover - source tree without install
        return "0+unknown"


# --------------------------------------------------------------------------- derived views
class PlotPoint(NamedTuple):
    """One point of the plot: energy (x), score (y), trial number and pipeline description."""

    x: float
    y: float
    trial: int
    label: str


class PlotInfo(NamedTuple):
    """What the front plot draws (no plotting library needed to compute or test it); `front`
    is sorted by energy."""

    x_metric: str
    y_metric: str
    x_name: str
    x_label: str
    y_label: str
    log_x: bool
    trials: list[PlotPoint]
    front: list[PlotPoint]
    default: PlotPoint
    best: PlotPoint


def _plot_point(p: ParetoPoint | TrialRecord, x: str, y: str) -> PlotPoint | None:
    metrics = p.metrics
    if x not in metrics or y not in metrics:
        return None
    xv, yv = float(metrics[x]), float(metrics[y])
    if not (math.isfinite(xv) and math.isfinite(yv)):
        return None
    number = p.trial if isinstance(p, ParetoPoint) else p.number
    return PlotPoint(xv, yv, number, f"trial {number}: {p.description}")


def plot_info(data: ReportData) -> PlotInfo:
    """Score against the front's energy objective: all completed trials, the front, the picks.

    The energy axis is logarithmic when every plotted energy is positive.
    """
    front = data.front
    x, y = front.energy_metric, front.score_metric
    done = [r for r in data.trials if r.state == "COMPLETE"]
    trials = [q for q in (_plot_point(r, x, y) for r in done) if q is not None]
    points = sorted(
        (q for q in (_plot_point(p, x, y) for p in front) if q is not None), key=lambda q: q.x
    )
    xs = [q.x for q in trials + points]
    default, best = _plot_point(front.default, x, y), _plot_point(front.best, x, y)
    if default is None or best is None:
        raise ValueError(f"The front's points lack a finite {x!r} or {y!r} to plot.")
    xm = get_metric(x)
    return PlotInfo(
        x_metric=x,
        y_metric=y,
        x_name=xm.label,
        x_label=f"{xm.label.capitalize()} ({xm.unit})",
        y_label=f"{data.settings.get('scoring', y)} on validation data",
        log_x=bool(xs) and min(xs) > 0,
        trials=trials,
        front=points,
        default=default,
        best=best,
    )


def summary_sentence(data: ReportData) -> str:
    """The plain-language comparison of the default pick with the most accurate point.

    E.g. "The default pick (trial 7) uses 7.9x less energy per prediction than the most
    accurate point (trial 3) for 0.4 points of accuracy."
    """
    front = data.front
    s, e = front.score_metric, front.energy_metric
    pick, best = front.default, front.best
    what = get_metric(e).less_of
    scoring = str(data.settings.get("scoring", "score"))
    if pick.trial == best.trial:
        return (
            f"The default pick (trial {pick.trial}) is also the most accurate point of the "
            f"front; no point within {_points(front.max_score_drop * 100)} of its {scoring} "
            f"uses less {what}."
        )
    drop = (best[s] - pick[s]) * 100.0
    if pick[e] > 0:
        ratio = f"{best[e] / pick[e]:.3g}x less {what}"
    else:
        ratio = f"less {what} ({pick[e]:.3g} against {best[e]:.3g} {get_metric(e).unit})"
    return (
        f"The default pick (trial {pick.trial}) uses {ratio} than the most accurate point "
        f"(trial {best.trial}) for {_points(drop)} of {scoring}."
    )


def _points(value: float) -> str:
    text = f"{value:.2g}"
    return f"{text} point" if text == "1" else f"{text} points"
