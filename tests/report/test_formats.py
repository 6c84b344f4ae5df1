"""Every export format from one real (tiny) search: content, units, escaping, round trips."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from greenauto import ParetoFront
from greenauto.report import REPORT_SCHEMA, export_report, read_report
from greenauto.report._json import report_dict

from ._fitted import EVIL_CLASS, EVIL_COLUMN, small_search


@pytest.fixture(scope="module")
def est():
    return small_search()


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory, est) -> Path:
    folder = tmp_path_factory.mktemp("reports")
    for suffix in ("html", "json", "csv", "md"):
        assert export_report(est, folder / f"report.{suffix}") == folder / f"report.{suffix}"
    return folder


def test_html_is_small_self_contained_and_escaped(out: Path, est) -> None:
    html = (out / "report.html").read_text(encoding="utf-8")
    assert len(html.encode()) < 500_000
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in html
    assert EVIL_COLUMN not in html
    assert EVIL_CLASS not in html
    assert "<script" not in html.lower()  # the page needs no script at all
    # nothing to fetch: every src/href/url() points inside the file
    links = re.findall(r"""(?:src|href)=["']([^"']*)""", html)
    links += re.findall(r"url\(([^)]*)", html)
    assert links  # the plot's own references (#clip paths, #markers)
    assert all(link.startswith("#") for link in links), links
    assert "default-src 'none'" in html
    assert '<svg id="pareto-plot"' in html or 'id="pareto-plot"' in html
    for p in est.pareto_front_:
        assert p.description in html
    assert f"{len(est.pareto_front_)} points" in html


def test_json_has_schema_units_sources_and_round_trips_the_front(out: Path, est) -> None:
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["schema"] == REPORT_SCHEMA
    assert report["schema_version"] == 1
    front = est.pareto_front_
    assert ParetoFront.from_dict(report["front"]) == front
    assert ParetoFront.from_json(json.dumps(report["front"])) == front
    assert ParetoFront.from_json(front.to_json()) == front
    assert report["default_pick"]["trial"] == front.default.trial
    for point in report["front_points"]:
        for name, q in point["metrics"].items():
            assert set(q) == {"value", "unit", "source"}, name
            assert q["unit"]
            assert q["source"]
        energy = point["metrics"]["inference_energy_j_per_1k"]
        assert energy["unit"] == "J per 1,000 predictions"
        assert energy["source"] == "operation-count model"
    totals = report["totals"]
    assert totals["energy"]["unit"] == "J"
    assert totals["energy"]["source"] == "operation-count model"
    assert totals["wall_time"]["value"] > 0
    assert totals["co2"] is None  # no country given
    completed = [t for t in est.study_.trials if t.state.name == "COMPLETE"]
    assert totals["trials"]["completed"] == len(completed)
    t = est.search_result_.totals
    assert totals["trials"]["variants"] == t.variants
    assert totals["trials"]["students"] == t.students
    assert len(completed) - t.variants - t.students == 4  # the sampled trials
    assert len(report["trials"]) == len(est.study_.trials)
    assert report["dataset"]["columns"]["value"] == 30
    assert report["dataset"]["feature_names"][0] == EVIL_COLUMN
    assert EVIL_CLASS in report["dataset"]["classes"]


def test_csv_has_one_row_per_trial_with_units_in_headers(out: Path, est) -> None:
    with open(out / "report.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["trial"]) for r in rows] == [t.number for t in est.study_.trials]
    header = rows[0].keys()
    assert "inference_energy_j_per_1k [J per 1,000 predictions]" in header
    assert "fit_energy_j [J]" in header
    done = [r for r in rows if r["state"] == "COMPLETE"]
    totals = est.search_result_.totals
    assert len(done) == 4 + totals.variants + totals.students
    for r in done:
        assert float(r["score [validation score (higher is better)]"]) > 0.5
        assert json.loads(r["params"])["n_bins"] >= 4
    picks = [r for r in rows if r["default_pick"] == "True"]
    assert [int(r["trial"]) for r in picks] == [est.pareto_front_.default.trial]


def test_markdown_has_tables_and_no_raw_html(out: Path, est) -> None:
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| Trial | Score |" in md
    assert md.count("\n| ") >= len(est.pareto_front_) + 2
    assert "<" not in md
    assert '&lt;img src=x onerror="alert(2)"&gt;' in md


def test_unknown_suffix_is_refused_before_writing(est, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"suffix must be one of \.html, \.json, \.csv, \.md"):
        export_report(est, tmp_path / "report.pdf")
    assert not (tmp_path / "report.pdf").exists()


def test_a_front_alone_reports_what_it_has(est, tmp_path: Path) -> None:
    path = export_report(est.pareto_front_, tmp_path / "front.json")
    report = json.loads(path.read_text())
    assert ParetoFront.from_dict(report["front"]) == est.pareto_front_
    assert report["totals"]["trials"] is None
    assert report["dataset"]["rows"] == {
        "value": None,
        "unit": "rows",
        "source": "training data given to fit",
    }
    assert [t["number"] for t in report["trials"]] == sorted(p.trial for p in est.pareto_front_)
    html = export_report(est.pareto_front_, tmp_path / "front.html").read_text()
    assert "not recorded" in html


def test_a_study_passed_with_a_front_lists_every_trial(est, tmp_path: Path) -> None:
    path = export_report(est.pareto_front_, tmp_path / "f.csv", study=est.study_)
    with open(path, newline="") as fh:
        assert len(list(csv.DictReader(fh))) == len(est.study_.trials)


def test_unfitted_or_foreign_objects_are_refused(tmp_path: Path) -> None:
    from greenauto import GreenAutoClassifier

    with pytest.raises(TypeError, match="fitted GreenAutoClassifier or a ParetoFront"):
        export_report(GreenAutoClassifier(), tmp_path / "r.html")
    with pytest.raises(TypeError, match="got dict"):
        export_report({}, tmp_path / "r.html")


def test_a_json_report_reads_back_to_the_same_report(out: Path, tmp_path: Path) -> None:
    data = read_report(out / "report.json")
    assert report_dict(data) == json.loads((out / "report.json").read_text(encoding="utf-8"))
    again = export_report(data, tmp_path / "again.md").read_text(encoding="utf-8")
    assert again == (out / "report.md").read_text(encoding="utf-8")
