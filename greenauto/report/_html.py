"""The HTML report: one self-contained file (inline CSS and SVG, no script, no network).

Rendered with Jinja2 with autoescaping on, so every user-provided string (column names,
class labels, descriptions) is escaped; only the SVG built by `_plot` is inserted as markup,
and its texts were escaped by ElementTree. A Content-Security-Policy meta tag forbids any
load from outside the file.
"""

from __future__ import annotations

from greenauto.metrics import table_metrics
from greenauto.report._data import ReportData, derived_note, plot_info, summary_sentence
from greenauto.report._format import format_number
from greenauto.report._plot import plot_svg

__all__ = ["render_html"]


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("greenauto.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    return env


def render_html(data: ReportData) -> str:
    """The report as one HTML document (text).

    Parameters
    ----------
    data : ReportData

    Returns
    -------
    html : str
    """
    from markupsafe import Markup

    info = plot_info(data)
    template = _environment().get_template("report.html.j2")
    return template.render(
        data=data,
        t=data.totals,
        d=data.dataset,
        plot=info,
        svg=Markup(plot_svg(info)),
        summary=summary_sentence(data),
        columns=[(m.name, m.heading) for m in table_metrics()],
        pick=data.front.default,
        best=data.front.best,
        derived=derived_note(data.totals),
    )
