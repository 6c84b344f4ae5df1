"""Draw a `PlotInfo` as an inline SVG with matplotlib (no JavaScript, no fonts to fetch).

Text is drawn as paths (matplotlib's ``svg.fonttype="path"``), so the SVG needs no font; each
plotted point gets an SVG ``<title>`` child holding its trial and pipeline description, which
browsers show on hover. Titles are inserted with ElementTree, which escapes them.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

from greenauto.report._data import PlotInfo, PlotPoint

__all__ = ["plot_svg"]

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_GIDS = ("trials", "front", "default-pick", "best-point")


def _matplotlib():
    try:
        import matplotlib
        from matplotlib.backends.backend_svg import FigureCanvasSVG
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise ImportError(
            "The HTML report draws its plot with matplotlib: pip install matplotlib"
        ) from exc
    return matplotlib, Figure, FigureCanvasSVG


def _draw(info: PlotInfo) -> bytes:
    matplotlib, Figure, FigureCanvasSVG = _matplotlib()
    rc = {"svg.fonttype": "path", "svg.hashsalt": "greenauto", "font.size": 9}
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(7.2, 4.2), layout="constrained")
        FigureCanvasSVG(fig)
        ax = fig.add_subplot()
        ax.scatter(
            [p.x for p in info.trials],
            [p.y for p in info.trials],
            s=14,
            color="#7f7f7f",
            alpha=0.35,
            linewidths=0,
            label="all completed trials",
            gid="trials",
        )
        front = info.front  # sorted by energy: the line joins neighbours
        ax.plot([p.x for p in front], [p.y for p in front], color="#1b7837", lw=1.2, zorder=2)
        ax.scatter(
            [p.x for p in front],
            [p.y for p in front],
            s=36,
            color="#1b7837",
            label="Pareto front",
            gid="front",
            zorder=3,
        )
        _mark(ax, info.best, "o", "#762a83", "most accurate", "best-point")
        _mark(ax, info.default, "*", "#e08214", "default pick", "default-pick")
        if info.log_x:
            ax.set_xscale("log")
        ax.set_xlabel(info.x_label)
        ax.set_ylabel(info.y_label)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
        out = io.BytesIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def _mark(ax, point: PlotPoint, marker: str, color: str, label: str, gid: str) -> None:
    size = 190 if marker == "*" else 90
    face = color if marker == "*" else "none"
    ax.scatter(
        [point.x],
        [point.y],
        s=size,
        marker=marker,
        facecolors=face,
        edgecolors=color,
        linewidths=1.5,
        label=label,
        gid=gid,
        zorder=4,
    )


def _titles(info: PlotInfo) -> dict[str, list[str]]:
    def fmt(p: PlotPoint) -> str:
        return f"{p.label}\n{info.y_metric} = {p.y:.4g}, {info.x_metric} = {p.x:.4g}"

    return {
        "trials": [fmt(p) for p in info.trials],
        "front": [fmt(p) for p in info.front],
        "default-pick": ["default pick, " + fmt(info.default)],
        "best-point": ["most accurate, " + fmt(info.best)],
    }


def plot_svg(info: PlotInfo, *, element_id: str = "pareto-plot") -> str:
    """The front plot as an ``<svg>`` element (text) to inline in HTML.

    Parameters
    ----------
    info : PlotInfo
        From :func:`greenauto.report._data.plot_info`.
    element_id : str, default="pareto-plot"
        ``id`` of the root ``<svg>`` element.

    Returns
    -------
    svg : str
        One ``<svg>`` element, without XML declaration, DOCTYPE or metadata.
    """
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    root = ET.fromstring(_draw(info))
    for meta in root.findall(f"{{{SVG_NS}}}metadata"):
        root.remove(meta)
    root.set("id", element_id)
    root.set("role", "img")
    root.set("aria-label", f"{info.y_label} against {info.x_label}")
    titles = _titles(info)
    for group in root.iter(f"{{{SVG_NS}}}g"):
        texts = titles.get(group.get("id", ""))
        if texts is None:
            continue
        marks = list(group.iter(f"{{{SVG_NS}}}use")) or list(group.iter(f"{{{SVG_NS}}}path"))
        for mark, text in zip(marks, texts, strict=False):
            title = ET.SubElement(mark, f"{{{SVG_NS}}}title")
            title.text = text
    return ET.tostring(root, encoding="unicode")
