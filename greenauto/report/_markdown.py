"""The Markdown report: the summary line and tables, for a README or a pull request."""

from __future__ import annotations

from greenauto.metrics import table_metrics
from greenauto.report._data import ReportData, derived_note, summary_sentence
from greenauto.report._format import format_number

__all__ = ["md_escape", "render_markdown"]

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "`": "\\`", "*": "\\*",
            "_": "\\_", "[": "\\[", "]": "\\]", "\n": " ", "\r": " "}  # fmt: skip


def md_escape(text: object) -> str:
    """Text safe inside a Markdown table cell: no HTML, no table or emphasis syntax.

    Examples
    --------
    >>> md_escape("<b>a|b</b>")
    '&lt;b&gt;a\\\\|b&lt;/b&gt;'
    """
    return "".join(_ESCAPES.get(c, c) for c in str(text))


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _front(data: ReportData) -> list[str]:
    pick, best = data.front.default.trial, data.front.best.trial
    rows = []
    for p in data.front:
        mark = " (default)" if p.trial == pick else ""
        mark += " (most accurate)" if p.trial == best else ""
        cells = [format_number(p.metrics.get(m.name)) for m in table_metrics()]
        rows.append([f"{p.trial}{mark}", *cells, md_escape(p.description)])
    return _table(["Trial", *(m.heading for m in table_metrics()), "Pipeline"], rows)


def _totals(data: ReportData) -> list[str]:
    t, d = data.totals, data.dataset
    energy = "not recorded"
    if t.energy_j is not None:
        energy = f"{format_number(t.energy_j, 'J')} ({md_escape(t.energy_source)})"
    co2 = "not recorded (no country given)"
    if t.co2_grams is not None:
        where = t.co2_country + (f"/{t.co2_region}" if t.co2_region else "")
        co2 = f"{format_number(t.co2_grams, 'g CO2eq')}, grid of {md_escape(where)}"
        co2 += f" ({md_escape(t.co2_source)})"
    trials = "not recorded"
    if t.trial_states is not None:
        s = t.trial_states
        trials = (
            f"{s.get('COMPLETE', 0)} completed{derived_note(t)}, {s.get('FAIL', 0)} "
            f"failed, {s.get('PRUNED', 0)} pruned"
        )
    classes = "not recorded" if d.classes is None else md_escape(", ".join(d.classes))
    rows = [
        ["Wall time", format_number(t.wall_seconds, "s")],
        ["Search energy", energy],
        ["CO2", co2],
        ["Trials", trials],
        ["Stopped because", md_escape(t.stop_reason or "not recorded")],
        ["Energy the early stop saved", _saved(t)],
        ["Rows", format_number(d.rows)],
        ["Columns", format_number(d.columns)],
        ["Classes", classes],
        ["Per-trial energy", md_escape(", ".join(data.energy_sources))],
        ["Calibration", md_escape(t.energy_detail or "not recorded")],
    ]
    if data.machines_note:
        rows.append(["Machines", md_escape(data.machines_note)])
    return _table(["", ""], rows)


def _saved(t) -> str:
    if t.energy_saved_j is None:
        return "none (no early stop)"
    return f"about {format_number(t.energy_saved_j, 'J')} (estimated from the trial rate)"


def render_markdown(data: ReportData) -> str:
    """The Markdown report as text."""
    lines = [f"## {md_escape(data.title)}", "", md_escape(summary_sentence(data)), ""]
    lines += [f"### Pareto front ({len(data.front)} points)", "", *_front(data), ""]
    lines += ["### Search", "", *_totals(data), ""]
    lines.append(f"_Made by greenauto {data.greenauto_version} at {data.created_utc}._")
    return "\n".join(lines) + "\n"
