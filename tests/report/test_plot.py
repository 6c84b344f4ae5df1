"""The SVG plot: one hover title per drawn point, on the right point, escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from greenauto.report._data import PlotInfo, PlotPoint
from greenauto.report._plot import SVG_NS, plot_svg

NS = {"svg": SVG_NS}


def _info() -> PlotInfo:
    trials = [
        PlotPoint(0.5, 0.80, 4, "trial 4: <b>four</b> & more"),
        PlotPoint(0.01, 0.90, 0, "trial 0: zero"),
        PlotPoint(100.0, 0.95, 2, "trial 2: two"),
        PlotPoint(1.0, 0.93, 1, "trial 1: one"),
    ]
    front = sorted([trials[1], trials[3], trials[2]], key=lambda p: p.x)
    return PlotInfo(
        x_metric="inference_energy_j_per_1k",
        y_metric="score",
        x_name="inference energy",
        x_label="Inference energy (J per 1,000 predictions)",
        y_label="accuracy on validation data",
        log_x=True,
        trials=trials,
        front=front,
        default=trials[3],
        best=trials[2],
    )


def _marks(root: ET.Element, gid: str) -> list[tuple[float, str]]:
    group = root.find(f".//svg:g[@id='{gid}']", NS)
    assert group is not None, gid
    return [
        (float(use.get("x")), use.find("svg:title", NS).text)
        for use in group.iter(f"{{{SVG_NS}}}use")
    ]


def test_every_point_has_its_own_title_in_order() -> None:
    info = _info()
    root = ET.fromstring(plot_svg(info))
    assert root.get("id") == "pareto-plot"
    for gid, points in (("trials", info.trials), ("front", info.front)):
        marks = _marks(root, gid)
        assert [t.split("\n")[0] for _, t in marks] == [p.label for p in points]
        # drawn x follows the data's energy order (log axis is monotone)
        by_data = sorted(range(len(points)), key=lambda i: points[i].x)
        by_drawn = sorted(range(len(marks)), key=lambda i: marks[i][0])
        assert by_data == by_drawn
    ((_, pick),) = _marks(root, "default-pick")
    assert pick.startswith("default pick, trial 1: one")


def test_titles_are_escaped_and_nothing_is_fetched() -> None:
    svg = plot_svg(_info())
    assert "trial 4: &lt;b&gt;four&lt;/b&gt; &amp; more" in svg
    assert "<b>" not in svg
    assert "<metadata" not in svg
    assert "<?xml" not in svg
    assert "DOCTYPE" not in svg
    assert "<text" not in svg  # glyphs are paths: no font to load
