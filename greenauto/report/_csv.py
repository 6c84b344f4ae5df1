"""The CSV report: one row per trial, every metric with its unit in the column header."""

from __future__ import annotations

import csv
import io
import json

from greenauto.metrics import METRICS, get_metric
from greenauto.report._data import ReportData

__all__ = ["render_csv"]


def _metric_names(data: ReportData) -> list[str]:
    seen = {name for r in data.trials for name in r.metrics}
    ordered = [m for m in METRICS if m in seen]
    return ordered + sorted(seen - set(ordered))


def render_csv(data: ReportData) -> str:
    """One row per trial: number, state, on the front, default pick, parameters (JSON text),
    every metric (header ``name [unit]``), description, energy source and error."""
    metrics = _metric_names(data)
    front = {p.trial for p in data.front}
    pick = data.front.default.trial
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["trial", "state", "on_front", "default_pick", "params"]
        + [f"{m} [{get_metric(m).unit}]" for m in metrics]
        + ["description", "energy_source", "error"]
    )
    for r in data.trials:
        writer.writerow(
            [r.number, r.state, r.number in front, r.number == pick]
            + [json.dumps(r.params, sort_keys=True)]
            + [repr(r.metrics[m]) if m in r.metrics else "" for m in metrics]
            + [r.description, r.energy_source, r.error]
        )
    return out.getvalue()
