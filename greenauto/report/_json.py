"""The JSON report: a versioned schema in which every number carries its unit and source.

``{"value": 0.12, "unit": "J per 1,000 predictions", "source": "codecarbon TDP estimate
cpu-time"}``. Non-finite numbers become the strings ``"nan"``, ``"inf"``, ``"-inf"``; figures
that were not recorded are ``null``. The front itself is included unchanged as
``ParetoFront.to_dict()``, so ``ParetoFront.from_dict(report["front"])`` rebuilds it, and
`report_data_from_dict` reads a whole report back (to render it in another format).
"""

from __future__ import annotations

import json
import math
from os import PathLike
from pathlib import Path
from typing import Any

from greenauto._schema import check_schema
from greenauto.metrics import get_metric
from greenauto.pareto import ParetoFront
from greenauto.report._data import ReportData, summary_sentence
from greenauto.results import DatasetSummary, SearchTotals, TrialRecord

__all__ = [
    "REPORT_SCHEMA",
    "REPORT_SCHEMA_VERSION",
    "render_json",
    "report_data_from_dict",
    "report_dict",
]

REPORT_SCHEMA = "greenauto.Report"
REPORT_SCHEMA_VERSION = 1


def _number(value: float | int | None) -> float | int | str | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    v = float(value)
    return v if math.isfinite(v) else repr(v)


def quantity(value: float | int | None, unit: str, source: str) -> dict[str, Any]:
    """One figure with its unit and its source."""
    return {"value": _number(value), "unit": unit, "source": source}


def _metrics(metrics: dict[str, float], energy_source: str, settings: dict) -> dict[str, Any]:
    out = {}
    for name, v in metrics.items():
        m = get_metric(name)
        out[name] = quantity(v, m.unit, m.source_of(energy_source, settings))
    return out


def _trial(r: TrialRecord, settings: dict) -> dict[str, Any]:
    metrics = _metrics(r.metrics, r.energy_source, settings)
    if r.variant_of is not None and "fit_energy_j" in metrics:
        metrics["fit_energy_j"]["source"] += (
            f", the prefix's share of trial {r.variant_of}'s measured fit"
        )
    return {
        "number": r.number,
        "state": r.state,
        "params": r.params,
        "metrics": metrics,
        "description": r.description,
        "energy_source": r.energy_source,
        "error": r.error or None,
        "machine": {"host": r.host, "cpu_model": r.cpu_model, "worker": r.worker, "run": r.run},
        "spent_j": r.spent_j,
        "retry_of": r.retry_of,
        "variant_of": r.variant_of,
    }


def _totals(data: ReportData) -> dict[str, Any]:
    t = data.totals
    co2 = None
    if t.co2_grams is not None:
        co2 = quantity(t.co2_grams, "g CO2eq", str(t.co2_source))
        co2["country_iso_code"] = t.co2_country
        co2["region"] = t.co2_region
        co2["energy"] = quantity(t.co2_energy_j, "J", str(t.co2_source))
    states = t.trial_states
    return {
        "wall_time": quantity(t.wall_seconds, "s", "wall clock of fit (search and refit)"),
        "energy": quantity(t.energy_j, "J", t.energy_source or "not recorded"),
        "co2": co2,
        "stop_reason": t.stop_reason,
        "energy_saved": quantity(
            t.energy_saved_j,
            "J",
            f"estimated from the trial rate ({t.energy_source or 'not recorded'})",
        ),
        "trials": None
        if states is None
        else {
            "completed": states.get("COMPLETE", 0),
            "failed": states.get("FAIL", 0),
            "pruned": states.get("PRUNED", 0),
            "variants": t.variants,
            "students": t.students,
            "by_state": dict(states),
        },
    }


def report_dict(data: ReportData) -> dict[str, Any]:
    """The JSON report as a plain dict (schema ``greenauto.Report``, version 1)."""
    front, settings = data.front, data.settings
    d = data.dataset
    return {
        "schema": REPORT_SCHEMA,
        "schema_version": REPORT_SCHEMA_VERSION,
        "title": data.title,
        "greenauto_version": data.greenauto_version,
        "created_utc": data.created_utc,
        "summary": summary_sentence(data),
        "default_pick": {
            "trial": front.default.trial,
            "rule": f"lowest {front.energy_metric} within max_score_drop of the best score",
            "max_score_drop": quantity(
                front.max_score_drop, "score (absolute; 0.01 = 1 point)", "search setting"
            ),
        },
        "most_accurate": {"trial": front.best.trial},
        "front_points": [
            {
                "trial": p.trial,
                "description": p.description,
                "metrics": _metrics(dict(p.metrics), p.energy_source, settings),
            }
            for p in front
        ],
        "totals": _totals(data),
        "dataset": {
            "rows": quantity(d.rows, "rows", "training data given to fit"),
            "columns": quantity(d.columns, "columns", "training data given to fit"),
            "classes": None if d.classes is None else list(d.classes),
            "feature_names": None if d.feature_names is None else list(d.feature_names),
        },
        "energy": {
            "per_trial_sources": list(data.energy_sources),
            "calibration": data.totals.energy_detail or None,
        },
        "settings": settings,
        "front": front.to_dict(),
        "trials": [_trial(r, settings) for r in data.trials],
    }


def render_json(data: ReportData) -> str:
    """The JSON report as text (indented, UTF-8 safe)."""
    return json.dumps(report_dict(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _value(q: Any) -> Any:
    """The value of a quantity dict (``"nan"``/``"inf"`` strings back to floats)."""
    if q is None:
        return None
    v = q["value"] if isinstance(q, dict) else q
    return float(v) if isinstance(v, str) else v


def _trial_from(t: dict[str, Any]) -> TrialRecord:
    machine = t.get("machine") or {}
    return TrialRecord(
        number=int(t["number"]),
        state=str(t["state"]),
        params=dict(t["params"]),
        metrics={k: float(_value(q)) for k, q in t["metrics"].items()},
        description=str(t.get("description", "")),
        energy_source=str(t.get("energy_source", "")),
        error=str(t.get("error") or ""),
        host=str(machine.get("host", "")),
        cpu_model=str(machine.get("cpu_model", "")),
        worker=str(machine.get("worker", "")),
        run=str(machine.get("run", "")),
        spent_j=None if t.get("spent_j") is None else float(t["spent_j"]),
        retry_of=None if t.get("retry_of") is None else int(t["retry_of"]),
        variant_of=t.get("variant_of"),
    )


def _totals_from(report: dict[str, Any]) -> SearchTotals:
    t = report["totals"]
    co2 = t.get("co2")
    energy_j = _value(t["energy"])
    return SearchTotals(
        wall_seconds=_value(t["wall_time"]),
        energy_j=energy_j,
        energy_source=None if energy_j is None else t["energy"]["source"],
        energy_detail=report["energy"].get("calibration") or "",
        co2_grams=None if co2 is None else _value(co2),
        co2_energy_j=None if co2 is None else _value(co2["energy"]),
        co2_country=None if co2 is None else co2["country_iso_code"],
        co2_region=None if co2 is None else co2["region"],
        co2_source=None if co2 is None else co2["source"],
        trial_states=None if t["trials"] is None else dict(t["trials"]["by_state"]),
        stop_reason=t.get("stop_reason"),
        energy_saved_j=_value(t.get("energy_saved")),
        variants=None if t["trials"] is None else t["trials"].get("variants"),
        students=None if t["trials"] is None else t["trials"].get("students"),
    )


def report_data_from_dict(report: dict[str, Any]) -> ReportData:
    """Inverse of :func:`report_dict`: a JSON report back to the `ReportData` it shows.

    Raises
    ------
    ValueError
        If ``report`` is not a ``greenauto.Report`` of a version this greenauto reads.
    """
    check_schema(report, REPORT_SCHEMA, REPORT_SCHEMA_VERSION, "report")
    d = report["dataset"]
    return ReportData(
        front=ParetoFront.from_dict(report["front"]),
        trials=tuple(_trial_from(t) for t in report["trials"]),
        totals=_totals_from(report),
        dataset=DatasetSummary(
            rows=_value(d["rows"]),
            columns=_value(d["columns"]),
            classes=None if d["classes"] is None else tuple(d["classes"]),
            feature_names=None if d["feature_names"] is None else tuple(d["feature_names"]),
        ),
        settings=dict(report.get("settings") or {}),
        title=str(report.get("title", "greenauto Pareto report")),
        greenauto_version=str(report.get("greenauto_version", "")),
        created_utc=str(report.get("created_utc", "")),
    )


def read_report(path: str | PathLike[str]) -> ReportData:
    """Read a JSON report written by ``export_report(..., "x.json")``.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    data : ReportData
        Pass it to ``export_report`` to write the same report in another format.

    Examples
    --------
    >>> from greenauto import Objective, ParetoFront, ParetoPoint
    >>> from greenauto.report import export_report, read_report
    >>> objs = [Objective("score", maximize=True), Objective("inference_energy_j_per_1k")]
    >>> front = ParetoFront((ParetoPoint(0, {}, {"score": 0.9,
    ...                      "inference_energy_j_per_1k": 2.0}),), objs)
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "r.json"
    >>> read_report(export_report(front, out)).front == front
    True
    """
    return report_data_from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
