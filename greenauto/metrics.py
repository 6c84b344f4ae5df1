"""The metric registry: every figure a trial records, with its unit, direction, label and
source. Nothing else in greenauto spells these out.

A trial records each metric under :attr:`Metric.name` (the name carries its unit, e.g.
``"inference_energy_j_per_1k"``). Metrics that can be optimised have an :attr:`Metric.objective`
name (``"inference_energy"``), which is what ``GreenAutoClassifier(objectives=...)`` and
``greenauto fit --objectives`` take.

Examples
--------
>>> from greenauto.metrics import get_metric, objective_metric
>>> m = objective_metric("inference_energy")
>>> m.name, m.unit, m.maximize
('inference_energy_j_per_1k', 'J per 1,000 predictions', False)
>>> get_metric("score").source_of("rapl", {"scoring": "accuracy", "validation": "holdout"})
'validation accuracy (validation: holdout)'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CONFIRMED_SCORE",
    "METRICS",
    "OBJECTIVES",
    "Metric",
    "get_metric",
    "objective_metric",
    "table_metrics",
]

NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Metric:
    """One recorded figure.

    Parameters
    ----------
    name : str
        Key under which trials record it (carries the unit: ``fit_energy_j``).
    unit : str
        Unit shown next to the value.
    maximize : bool
        Whether larger is better.
    label : str
        Plain name for axis labels and sentences (``"inference energy"``).
    heading : str
        Column heading in report tables.
    kind : {"score", "energy", "other"}
        ``"energy"`` figures take the trial's energy source; ``"score"`` the scorer and the
        validation scheme; ``"other"`` the fixed ``source`` text.
    source : str
        How an ``"other"`` figure is obtained.
    objective : str or None
        Name under which it can be optimised, or None.
    in_table : bool
        Shown in the front tables of the reports.
    saving : str
        What a smaller value saves, for sentences ("uses 3x less *energy per prediction*");
        the label when empty.
    """

    name: str
    unit: str
    maximize: bool
    label: str
    heading: str
    kind: Literal["score", "energy", "other"] = "other"
    source: str = ""
    objective: str | None = None
    in_table: bool = False
    saving: str = ""

    @property
    def less_of(self) -> str:
        """What a smaller value saves (``saving``, else the label)."""
        return self.saving or self.label

    def source_of(self, energy_source: str, settings: Mapping[str, Any]) -> str:
        """How this figure was obtained in a search with these settings.

        Parameters
        ----------
        energy_source : str
            The trial's energy source (used by energy figures).
        settings : mapping
            The search settings (``scoring`` and ``validation`` name the score's source).

        Returns
        -------
        source : str
        """
        if self.kind == "energy":
            return energy_source
        if self.kind == "score":
            scoring = settings.get("scoring", NOT_RECORDED)
            validation = settings.get("validation", NOT_RECORDED)
            return f"validation {scoring} (validation: {validation})"
        return self.source


#: The name of the cross-validated score added to the points near the best.
CONFIRMED_SCORE = "confirmed_score"

#: Every metric, in table order.
METRICS: Mapping[str, Metric] = {
    m.name: m
    for m in (
        Metric("score", "validation score (higher is better)", True, "score", "Score",
               kind="score", objective="score", in_table=True),
        Metric("fit_energy_j", "J", False, "fit energy", "Fit energy (J)", kind="energy",
               objective="fit_energy", in_table=True, saving="energy to train"),
        Metric("inference_energy_j_per_1k", "J per 1,000 predictions", False,
               "inference energy", "J per 1,000 predictions", kind="energy",
               objective="inference_energy", in_table=True, saving="energy per prediction"),
        Metric("lifetime_energy_j", "J (fit + expected predictions)", False, "lifetime energy",
               "Lifetime energy (J)", kind="energy", objective="lifetime_energy",
               saving="lifetime energy (training + expected predictions)"),
        Metric("latency_s_per_row", "s per row", False, "latency", "Latency (s per row)",
               source="wall clock, median per call on the reference batch",
               objective="latency", in_table=True, saving="time per prediction"),
        Metric("model_bytes", "bytes", False, "model size", "Model size (bytes)",
               source="size of the compiled model", objective="model_size", in_table=True,
               saving="memory"),
        Metric("n_features", "columns used", False, "features used", "Features used",
               source="columns the pipeline selects", in_table=True),
        Metric("ops_per_row", "node visits / operations per row", False, "operations per row",
               "Operations per row",
               source="node visits / operations counted on the first 200 rows of the "
               "reference batch",
               in_table=True),
        Metric(CONFIRMED_SCORE, "score by k-fold cross-validation on all training rows "
               "(points near the best only)", True, "confirmed score", "Confirmed score",
               kind="score"),
        Metric("fit_seconds", "s (wall clock)", False, "fit time", "Fit time (s)",
               source="wall clock of the fit, mean over folds"),
        Metric("trial_seconds", "s (wall clock)", False, "trial time", "Trial time (s)",
               source="wall clock of the whole trial"),
        Metric("trial_energy_j", "J (the whole trial)", False, "trial energy",
               "Trial energy (J)", kind="energy", saving="energy to search"),
    )
}  # fmt: skip

#: Objective name -> its metric, for the metrics that can be optimised.
OBJECTIVES: Mapping[str, Metric] = {m.objective: m for m in METRICS.values() if m.objective}


def get_metric(name: str) -> Metric:
    """The registered metric ``name``; an unregistered name gets a unitless entry.

    Parameters
    ----------
    name : str
        A recorded metric name (``"fit_energy_j"``).

    Returns
    -------
    metric : Metric
    """
    found = METRICS.get(name)
    if found is not None:
        return found
    return Metric(name, "unitless", False, name, name, source="recorded by the trial")


def objective_metric(objective: str) -> Metric:
    """The metric an objective optimises.

    Parameters
    ----------
    objective : str
        One of ``OBJECTIVES`` (``"score"``, ``"inference_energy"``, ...).

    Returns
    -------
    metric : Metric

    Raises
    ------
    ValueError
        For an unknown objective, naming the valid ones.
    """
    try:
        return OBJECTIVES[objective]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown objective {objective!r}; choose from {sorted(OBJECTIVES)}."
        ) from None


def table_metrics() -> tuple[Metric, ...]:
    """The metrics shown in the reports' front tables, in order."""
    return tuple(m for m in METRICS.values() if m.in_table)
