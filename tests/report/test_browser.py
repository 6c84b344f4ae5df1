"""The HTML report in a real headless Chromium: it renders, shows its plot, makes no network
request and logs no console error. A screenshot goes to ``test-artifacts/report.png``."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenauto.report import export_report

from ._browser import Chromium
from ._fitted import EVIL_COLUMN, small_search

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    est = small_search()
    path = export_report(est, tmp_path_factory.mktemp("html") / "report.html")
    n_complete = sum(t.state.name == "COMPLETE" for t in est.study_.trials)
    return path, n_complete


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    chromium = Chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


def test_harness_sees_requests_and_console_errors(browser: Chromium, tmp_path: Path) -> None:
    # a page that does both things the report must never do: the checks below can fail
    page = tmp_path / "bad.html"
    page.write_text(
        '<html><body><img src="http://127.0.0.1:9/pixel.png">'
        '<script>console.error("boom")</script></body></html>'
    )
    load = browser.open(page.as_uri())
    assert "http://127.0.0.1:9/pixel.png" in load.requests
    assert any("boom" in e for e in load.console_errors)


def test_report_renders_offline_without_console_errors(
    browser: Chromium, report_html: tuple[Path, int]
) -> None:
    path, n_complete = report_html
    load = browser.open(path.as_uri())
    assert load.requests == [path.as_uri()]  # the file itself, nothing else
    assert load.console_errors == []
    assert browser.evaluate("document.scripts.length") == 0
    width, height = browser.evaluate(
        "(() => { const r = document.getElementById('pareto-plot').getBoundingClientRect();"
        " return [r.width, r.height]; })()"
    )
    assert width > 300
    assert height > 150
    # one hover title per plotted trial, front point and marked pick
    titles = browser.evaluate("document.querySelectorAll('#pareto-plot title').length")
    assert titles >= n_complete + 2
    rows = browser.evaluate("document.querySelectorAll('#front-table tbody tr').length")
    assert rows >= 1
    assert "less" in browser.evaluate("document.getElementById('summary').textContent") or (
        "most accurate" in browser.evaluate("document.getElementById('summary').textContent")
    )
    shot = browser.screenshot(ARTIFACTS / "report.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000


def test_hostile_column_name_is_shown_as_text(
    browser: Chromium, report_html: tuple[Path, int]
) -> None:
    path, _ = report_html
    browser.open(path.as_uri())
    text = browser.evaluate("document.getElementById('dataset').textContent")
    assert EVIL_COLUMN in text  # shown literally, as the user named it
    markup = "document.querySelectorAll('#dataset script, #dataset img').length"
    assert browser.evaluate(markup) == 0
