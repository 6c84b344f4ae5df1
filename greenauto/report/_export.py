"""`export_report`: write a fitted search's report as HTML, JSON, CSV or Markdown."""

from __future__ import annotations

from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

from greenauto.report._csv import render_csv
from greenauto.report._data import ReportData, build_report_data
from greenauto.report._html import render_html
from greenauto.report._json import render_json
from greenauto.report._markdown import render_markdown

__all__ = ["FORMATS", "export_report"]

#: File suffix -> renderer of a `ReportData`.
FORMATS: dict[str, Callable[[ReportData], str]] = {
    ".html": render_html,
    ".json": render_json,
    ".csv": render_csv,
    ".md": render_markdown,
}


def export_report(
    obj: Any,
    path: str | PathLike[str],
    *,
    study: Any = None,
    title: str | None = None,
) -> Path:
    """Write the Pareto report of a search; the format follows the file's suffix.

    Parameters
    ----------
    obj : SearchResult, fitted GreenAutoClassifier, ParetoFront or ReportData
        What to report. A search result (or a fitted estimator's ``search_result_``) gives
        the whole report (every trial, search totals, dataset summary); a front alone gives
        its points and marks the rest "not recorded"; a ReportData (e.g. from `read_report`
        of a JSON report) is written as it is.
    path : str or path-like
        ``.html``: one self-contained page (plot, tables, totals; no script, no network);
        ``.json``: versioned schema ``greenauto.Report``, every number with unit and source;
        ``.csv``: one row per trial; ``.md``: tables for a README or a pull request.
    study : optuna.Study, optional
        Trials to list when ``obj`` is a front (an estimator brings its own ``study_``).
    title : str, optional
        Title of the report.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        If the suffix is not one of ``.html``, ``.json``, ``.csv``, ``.md``, or the front is
        empty.
    TypeError
        If ``obj`` is none of those.

    Examples
    --------
    >>> from greenauto import Objective, ParetoFront, ParetoPoint
    >>> from greenauto.report import export_report
    >>> objs = [Objective("score", maximize=True), Objective("inference_energy_j_per_1k")]
    >>> front = ParetoFront.from_candidates(
    ...     [ParetoPoint(0, {}, {"score": 0.9, "inference_energy_j_per_1k": 2.0}, "big"),
    ...      ParetoPoint(1, {}, {"score": 0.896, "inference_energy_j_per_1k": 0.5}, "small")],
    ...     objs)
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "front.md"
    >>> export_report(front, out).name
    'front.md'
    >>> "4x less energy per prediction" in out.read_text()
    True
    """
    path = Path(path)
    render = FORMATS.get(path.suffix.lower())
    if render is None:
        raise ValueError(
            f"Cannot tell the report format of {str(path)!r}: the suffix must be one of "
            f"{', '.join(FORMATS)}; got {path.suffix or 'none'!r}."
        )
    text = render(build_report_data(obj, study=study, title=title))
    path.write_text(text, encoding="utf-8")
    return path
