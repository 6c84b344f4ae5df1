"""`ReportData`: everything a report shows, as plain values, built once from a fitted estimator
or a `ParetoFront` (plus, optionally, the Optuna study). Every format is rendered from it.

The pure helpers that turn it into a plot description (`plot_info`) and the plain-language
summary (`summary_sentence`) live here too, so they are tested without any plotting library
(the split of Optuna's ``visualization/_pareto_front.py``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NamedTuple

import numpy as np

from greenauto.pareto import METRIC_UNITS, ParetoFront, ParetoPoint

__all__ = [
    "METRIC_COLUMNS",
    "METRIC_NAMES",
    "DatasetSummary",
    "PlotInfo",
    "ReportData",
    "SearchTotals",
    "TrialRecord",
    "build_report_data",
    "metric_source",
    "metric_unit",
    "plot_info",
    "summary_sentence",
]

NOT_RECORDED = "not recorded"

#: Metrics shown in the tables, in order: (metric, column heading).
METRIC_COLUMNS: tuple[tuple[str, str], ...] = (
    ("score", "Score"),
    ("fit_energy_j", "Fit energy (J)"),
    ("inference_energy_j_per_1k", "J per 1,000 predictions"),
    ("latency_s_per_row", "Latency (s per row)"),
    ("model_bytes", "Model size (bytes)"),
    ("n_features", "Features used"),
    ("ops_per_row", "Operations per row"),
)

#: Plain names of the metrics, for axis labels and headings.
METRIC_NAMES: dict[str, str] = {
    "score": "score",
    "fit_energy_j": "fit energy",
    "inference_energy_j_per_1k": "inference energy",
    "lifetime_energy_j": "lifetime energy",
    "latency_s_per_row": "latency",
    "model_bytes": "model size",
    "n_features": "features used",
    "ops_per_row": "operations per row",
}

_EXTRA_UNITS = {"fit_seconds": "s (wall clock)", "trial_seconds": "s (wall clock)"}
_ENERGY_METRICS = ("fit_energy_j", "inference_energy_j_per_1k", "lifetime_energy_j")
_OTHER_SOURCES = {
    "latency_s_per_row": "wall clock, median per call on the reference batch",
    "model_bytes": "size of the compiled model",
    "n_features": "columns the pipeline selects",
    "ops_per_row": "node visits / operations counted on the reference batch",
    "fit_seconds": "wall clock of the fit, mean over folds",
    "trial_seconds": "wall clock of the whole trial",
}


def metric_unit(metric: str) -> str:
    """Unit of a recorded metric (``METRIC_UNITS``, plus the timing metrics)."""
    return METRIC_UNITS.get(metric, _EXTRA_UNITS.get(metric, "unitless"))


def metric_source(metric: str, energy_source: str, settings: Mapping[str, Any]) -> str:
    """How a metric was obtained: the energy source for energies, the scorer for the score."""
    if metric in _ENERGY_METRICS:
        return energy_source
    if metric == "score":
        scoring = settings.get("scoring", NOT_RECORDED)
        validation = settings.get("validation", NOT_RECORDED)
        return f"validation {scoring} (validation: {validation})"
    return _OTHER_SOURCES.get(metric, "recorded by the trial")


@dataclass(frozen=True)
class TrialRecord:
    """One trial of the study: its state, parameters, metrics, description and error."""

    number: int
    state: str
    params: dict[str, Any]
    metrics: dict[str, float]
    description: str = ""
    energy_source: str = ""
    error: str = ""


@dataclass(frozen=True)
class SearchTotals:
    """Totals of the whole search; ``None`` where the source object did not record them."""

    wall_seconds: float | None = None
    energy_j: float | None = None
    energy_source: str | None = None
    energy_detail: str = ""
    co2_grams: float | None = None
    co2_energy_j: float | None = None
    co2_country: str | None = None
    co2_region: str | None = None
    co2_source: str | None = None
    trial_states: dict[str, int] | None = None


@dataclass(frozen=True)
class DatasetSummary:
    """Shape of the training data; ``None`` where it was not recorded."""

    rows: int | None = None
    columns: int | None = None
    classes: tuple[str, ...] | None = None
    feature_names: tuple[str, ...] | None = None


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

    @property
    def has_study(self) -> bool:
        """Whether the trials come from a study (else: only the front's points are known)."""
        return self.totals.trial_states is not None

    @property
    def energy_sources(self) -> tuple[str, ...]:
        """Distinct energy sources of the front's points."""
        return tuple(sorted({p.energy_source for p in self.front}))


# --------------------------------------------------------------------------- building
def build_report_data(obj: Any, *, study: Any = None, title: str | None = None) -> ReportData:
    """Collect a report's data from a fitted estimator or a `ParetoFront`.

    Parameters
    ----------
    obj : fitted GreenAutoClassifier, ParetoFront or ReportData
        Anything with a ``pareto_front_`` attribute is read as a fitted estimator (duck
        typing: this module never imports the estimator); a ReportData is returned as it is
        (with ``title`` replaced when given).
    study : optuna.Study, optional
        The study whose trials to list; defaults to the estimator's ``study_``.
    title : str, optional

    Returns
    -------
    data : ReportData
    """
    if isinstance(obj, ReportData):
        return obj if title is None else dataclasses.replace(obj, title=title)
    if isinstance(obj, ParetoFront):
        front, est = obj, None
    elif hasattr(obj, "pareto_front_"):
        front, est = obj.pareto_front_, obj
    else:
        raise TypeError(
            "export_report takes a fitted GreenAutoClassifier or a ParetoFront; got "
            f"{type(obj).__name__}. (Is the estimator fitted?)"
        )
    if len(front) == 0:
        raise ValueError("The Pareto front is empty: there is nothing to report.")
    if study is None and est is not None:
        study = getattr(est, "study_", None)
    trials = _trial_records(study) if study is not None else _front_records(front)
    settings = dict(study.user_attrs.get("settings", {})) if study is not None else {}
    totals = _totals(est, study)
    return ReportData(
        front=front,
        trials=trials,
        totals=totals,
        dataset=_dataset(est),
        settings=settings,
        title=title or "greenauto Pareto report",
        greenauto_version=_version(),
        created_utc=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def _version() -> str:
    try:
        return version("greenauto")
    except PackageNotFoundError:  # pragma: no cover - source tree without install
        return "0+unknown"


def _plain(value: Any) -> Any:
    """numpy scalars to Python scalars (JSON-able)."""
    return value.item() if isinstance(value, np.generic) else value


def _trial_records(study: Any) -> tuple[TrialRecord, ...]:
    records = []
    for t in study.trials:
        attrs = t.user_attrs
        error = attrs.get("error") or t.system_attrs.get("fail_reason", "")
        if not error and attrs.get("pruned_because"):
            error = f"pruned: {attrs['pruned_because']}"
        records.append(
            TrialRecord(
                number=int(t.number),
                state=t.state.name,
                params={k: _plain(v) for k, v in t.params.items()},
                metrics={k: float(v) for k, v in (attrs.get("metrics") or {}).items()},
                description=str(attrs.get("description", "")),
                energy_source=str(attrs.get("energy_source", "")),
                error=str(error),
            )
        )
    return tuple(records)


def _front_records(front: ParetoFront) -> tuple[TrialRecord, ...]:
    return tuple(
        TrialRecord(
            number=p.trial,
            state="COMPLETE",
            params=dict(p.params),
            metrics={k: float(v) for k, v in p.metrics.items()},
            description=p.description,
            energy_source=p.energy_source,
        )
        for p in sorted(front, key=lambda p: p.trial)
    )


def _totals(est: Any, study: Any) -> SearchTotals:
    states = None
    if study is not None:
        states = {}
        for t in study.trials:
            states[t.state.name] = states.get(t.state.name, 0) + 1
    energy = getattr(est, "search_energy_", None)
    co2 = getattr(est, "search_emissions_", None)
    seconds = getattr(est, "search_seconds_", None)
    return SearchTotals(
        wall_seconds=None if seconds is None else float(seconds),
        energy_j=None if energy is None else float(energy.joules),
        energy_source=None if energy is None else str(energy.source),
        energy_detail="" if energy is None else str(getattr(energy, "detail", "")),
        co2_grams=None if co2 is None else float(co2.grams_co2eq),
        co2_energy_j=None if co2 is None else float(co2.joules),
        co2_country=None if co2 is None else str(co2.country_iso_code),
        co2_region=None if co2 is None or co2.region is None else str(co2.region),
        co2_source=None if co2 is None else str(co2.source),
        trial_states=states,
    )


def _dataset(est: Any) -> DatasetSummary:
    if est is None:
        return DatasetSummary()
    classes = getattr(est, "classes_", None)
    names = getattr(est, "feature_names_in_", None)
    rows = getattr(est, "n_samples_fit_", None)
    columns = getattr(est, "n_features_in_", None)
    return DatasetSummary(
        rows=None if rows is None else int(rows),
        columns=None if columns is None else int(columns),
        classes=None if classes is None else tuple(str(_plain(c)) for c in classes),
        feature_names=None if names is None else tuple(str(n) for n in names),
    )


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
    return PlotInfo(
        x_metric=x,
        y_metric=y,
        x_name=METRIC_NAMES.get(x, x),
        x_label=f"{METRIC_NAMES.get(x, x).capitalize()} ({metric_unit(x)})",
        y_label=f"{data.settings.get('scoring', y)} on validation data",
        log_x=bool(xs) and min(xs) > 0,
        trials=trials,
        front=points,
        default=default,
        best=best,
    )


_PER_WHAT = {
    "inference_energy_j_per_1k": "energy per prediction",
    "fit_energy_j": "energy to train",
    "lifetime_energy_j": "lifetime energy (training + expected predictions)",
    "latency_s_per_row": "time per prediction",
    "model_bytes": "memory",
}


def summary_sentence(data: ReportData) -> str:
    """The plain-language comparison of the default pick with the most accurate point.

    E.g. "The default pick (trial 7) uses 7.9x less energy per prediction than the most
    accurate point (trial 3) for 0.4 points of accuracy."
    """
    front = data.front
    s, e = front.score_metric, front.energy_metric
    pick, best = front.default, front.best
    what = _PER_WHAT.get(e, e)
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
        ratio = f"less {what} ({pick[e]:.3g} against {best[e]:.3g} {metric_unit(e)})"
    return (
        f"The default pick (trial {pick.trial}) uses {ratio} than the most accurate point "
        f"(trial {best.trial}) for {_points(drop)} of {scoring}."
    )


def _points(value: float) -> str:
    text = f"{value:.2g}"
    return f"{text} point" if text == "1" else f"{text} points"
