"""The HTML report in headless Chromium: charts render, nothing logs an error, no title runs;
the at-risk table comes first, nothing overflows the page at 420 px or with a 300-item
workspace, and each kind of finding keeps one colour of its own.

Playwright for Python drives the system Chromium (`executable_path`, never a browser that
Playwright downloads: `playwright install` is not part of this project). In CI (CI=true) a
missing Chromium that cannot be installed is a failure, never a skip.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from colour_check import delta_e
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
from test_report import NAMES, NOW, SECOND, _f, fill

from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions
from sync.report.data import ReportData, gather
from sync.report.html import CSP, render_html
from sync.settings import load_settings
from sync.store.sqlite import SqliteStore

# One worker runs every test here: one Chromium to start, and never two apt-get runs at once.
pytestmark = pytest.mark.xdist_group("chromium")

INSTALL_TIMEOUT = 600  # seconds for apt-get, when the test has to install Chromium
STEP_TIMEOUT = 20.0  # seconds for the browser to start, or any one page load or evaluation
# A title that would leave a mark if it ever ran, with or without the CSP.
MARKING_TITLE = (
    "<script>document.title='pwned';document.documentElement.dataset.pwned='1'</script>"
    "<img src=x onerror=\"document.documentElement.dataset.pwned='1'\">"
)


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _install() -> str:
    """apt-get install chromium (root only), bounded; returns why it could not."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "Chromium is missing and installing it needs root"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
            subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=INSTALL_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"apt-get install chromium failed: {exc}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    found = _find_chromium()
    why = "" if found else _install()
    found = found or _find_chromium()
    if found:
        return found
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI needs Chromium for the report test: {why}")
    pytest.skip(why or "Chromium not found")


# --- the browser, through Playwright ---------------------------------------------------------

# Flags for a quiet headless run as root in a container: no sandbox (root), no GPU, and nothing
# that would reach the network on its own (QUIC, updates, sync, background fetches).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    """The system Chromium, headless, driven by Playwright (never its own downloaded browser)."""
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            timeout=STEP_TIMEOUT * 1000,
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Tab:
    """A page with the report loaded, and every error the page or the console reported."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def evaluate(self, expression: str) -> Any:
        return self.page.evaluate(expression)


def _on_console(errors: list[str], message: ConsoleMessage) -> None:
    # Playwright reports both console.error() and Chromium's own log entries (a CSP
    # violation, a failed load) as console messages.
    if message.type == "error":
        errors.append(message.text)


@contextmanager
def open_page(browser: Browser, path: Path, width: int = 1200) -> Iterator[Tab]:
    """A fresh tab with the page loaded; console errors and uncaught exceptions are collected."""
    page = browser.new_page(viewport={"width": width, "height": 2000})
    page.set_default_timeout(STEP_TIMEOUT * 1000)
    tab = Tab(page)
    page.on("console", partial(_on_console, tab.errors))
    page.on("pageerror", lambda exc: tab.errors.append(f"uncaught: {exc}"))
    try:
        page.goto(path.as_uri(), wait_until="load")
        yield tab
    finally:
        page.close()


def _report_data() -> ReportData:
    with SqliteStore.memory() as state:
        fill(state)
        run = state.start_run(NOW)
        marked = _f(5, "ownerless", "outcome_owner", notify=(), message=MARKING_TITLE)
        state.record_findings(run, [*SECOND, marked], NOW)
        state.db.execute("UPDATE records SET title = ? WHERE key = 'EXP-4'", [MARKING_TITLE])
        return gather(state, now=NOW, names=NAMES)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "handoff-report.html"
    path.write_text(render_html(_report_data()), encoding="utf-8")
    return path


CHARTS = """JSON.stringify([...document.querySelectorAll('svg.chart')].map(s => {
  const r = s.getBoundingClientRect();
  return {id: s.id, w: r.width, h: r.height, shapes: s.querySelectorAll('rect').length};
}))"""


def test_charts_render_with_size_and_no_console_errors(browser: Browser, report: Path) -> None:
    with open_page(browser, report) as tab:
        charts = json.loads(tab.evaluate(CHARTS))
        assert [c["id"] for c in charts] == ["trend-chart", "heat-team", "heat-owner"]
        assert all(c["w"] > 100 and c["h"] > 50 and c["shapes"] > 0 for c in charts), charts
        assert tab.errors == []


def test_a_script_in_a_title_does_not_run(browser: Browser, report: Path) -> None:
    with open_page(browser, report) as tab:
        assert tab.evaluate("document.title").startswith("Handoff report")
        assert tab.evaluate("document.documentElement.dataset.pwned || ''") == ""
        assert tab.evaluate("document.querySelectorAll('script, img').length") == 0
        text = tab.evaluate("document.body.innerText")
        assert "<script>document.title='pwned'" in text  # shown as text, not run


def test_escaping_alone_stops_the_script_even_without_the_csp(
    browser: Browser, report: Path, tmp_path: Path
) -> None:
    bare = tmp_path / "no-csp.html"
    page = report.read_text(encoding="utf-8")
    bare.write_text(re.sub(r"<meta http-equiv=\"Content-Security-Policy\"[^>]*>", "", page))
    assert "Content-Security-Policy" not in bare.read_text()
    with open_page(browser, bare) as tab:
        assert tab.evaluate("document.title").startswith("Handoff report")
        assert tab.evaluate("document.documentElement.dataset.pwned || ''") == ""
        assert tab.errors == []


def test_the_error_collector_sees_what_the_csp_blocks(browser: Browser, tmp_path: Path) -> None:
    """The `errors == []` checks above mean something: a blocked script and a thrown error show."""
    page = tmp_path / "blocked.html"
    meta = f'<meta http-equiv="Content-Security-Policy" content="{html.escape(CSP)}">'
    page.write_text(
        f"<!DOCTYPE html><html><head>{meta}</head><body>"
        "<script>document.title='ran'</script></body></html>"
    )
    with open_page(browser, page) as tab:
        assert tab.evaluate("document.title") != "ran"
        assert any("Content Security Policy" in e for e in tab.errors), tab.errors
    bare = tmp_path / "throws.html"
    bare.write_text("<!DOCTYPE html><html><body><script>null.boom</script></body></html>")
    with open_page(browser, bare) as tab:
        assert any(e.startswith("uncaught:") for e in tab.errors), tab.errors


# --- at risk first, layout, colours ----------------------------------------------------------


@pytest.fixture(scope="module")
def big_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report after a real sync of a generated 300-item workspace (sandbox, real clients)."""
    from connectors._retry import FAST_POLICY
    from connectors.sandbox import Sandbox
    from connectors.sandbox.demo import sandbox_config
    from connectors.sandbox.generate import generate_workspace
    from sync.report.render import report_data

    folder = tmp_path_factory.mktemp("big")
    config = folder / "handoff.toml"
    with Sandbox(generate_workspace(BIG, seed=1, now=datetime.now(UTC))) as sb:
        config.write_text(sandbox_config(sb, state_path=str(folder / "state.db")))
        settings = load_settings(config)
        conns = connect(settings, policy=FAST_POLICY)
        result = Engine(settings, conns.connectors, conns.scopes).run(SyncOptions())
        assert result.exit_code == 0, result.errors
        data = report_data(config)
    assert data.records >= 100 and len(data.at_risk) >= 50, (data.records, len(data.at_risk))
    path = folder / "handoff-report.html"
    path.write_text(render_html(data), encoding="utf-8")
    return path


BIG = 300  # items in the generated workspace

# Where each section, table and chart starts on the page, in document order.
BOXES = """JSON.stringify([...document.querySelectorAll('main > section, table, svg')].map(e => ({
  tag: e.tagName.toLowerCase(), id: e.id || (e.closest('section') || {}).id || '',
  top: e.getBoundingClientRect().top + window.scrollY, height: e.getBoundingClientRect().height
})))"""

# The page's own width against the window's, and any element that ends right of the window
# outside a box of its own that scrolls (.scroll).
OVERFLOW = """JSON.stringify({
  page: document.documentElement.scrollWidth, body: document.body.scrollWidth,
  window: window.innerWidth,
  sticking_out: [...document.querySelectorAll('main *')].filter(e => !e.closest('.scroll'))
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
    .slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.getAttribute('class'))
})"""

# Each kind's colour wherever the page paints one: badges, tiles and the trend's bars.
KIND_COLOURS = """JSON.stringify([
  ...[...document.querySelectorAll('.badge')].map(e =>
    [e.textContent.trim(), getComputedStyle(e).backgroundColor]),
  ...[...document.querySelectorAll('.tile[data-kind]')].map(e =>
    [e.dataset.kind, getComputedStyle(e).borderTopColor]),
  ...[...document.querySelectorAll('#trend-chart rect')].map(e =>
    [e.querySelector('title').textContent.split(':')[0], getComputedStyle(e).fill]),
])"""


@pytest.mark.parametrize("width", [1200, 420])
def test_the_at_risk_table_comes_first_in_the_dom_and_on_screen(
    browser: Browser, report: Path, width: int
) -> None:
    with open_page(browser, report, width) as tab:
        boxes = json.loads(tab.evaluate(BOXES))
        assert boxes[0] == {**boxes[0], "tag": "section", "id": "at-risk"}
        first_table = next(b for b in boxes if b["tag"] == "table")
        assert first_table["id"] == "at-risk" and first_table["height"] > 0
        others = [b for b in boxes if b["id"] != "at-risk"]
        assert others and all(first_table["top"] < b["top"] for b in others), boxes
        rows = tab.evaluate(
            "[...document.querySelectorAll('#at-risk tbody tr')].map(r => r.cells[0].innerText)"
        )
        # The rows the data orders (tests/test_report_atrisk.py checks that order), as shown.
        assert [r.split()[0] for r in rows] == [r.record for r in _report_data().at_risk]
        assert len(rows) == 5 and tab.evaluate(
            "document.querySelector('#at-risk tbody tr').classList.contains('blocker')"
        )
        assert tab.errors == []


def test_no_horizontal_overflow_at_420px_or_with_300_items(
    browser: Browser, report: Path, big_report: Path
) -> None:
    for path, width in ((report, 420), (big_report, 420), (big_report, 1200)):
        with open_page(browser, path, width) as tab:
            seen = json.loads(tab.evaluate(OVERFLOW))
            assert seen["page"] <= seen["window"], (path.parent.name, width, seen)
            assert seen["body"] <= seen["window"] and seen["sticking_out"] == [], seen
            assert tab.errors == []
    with open_page(browser, big_report, 420) as tab:
        # The wide heatmap scrolls inside its own box, and the trend fits the window.
        inner = tab.evaluate(
            "[...document.querySelectorAll('.scroll')].some(b => b.scrollWidth > b.clientWidth)"
        )
        assert inner is True
        rows = tab.evaluate("document.querySelectorAll('#at-risk tbody tr').length")
        assert rows >= 50


def test_each_kind_keeps_one_colour_of_its_own(
    browser: Browser, report: Path, big_report: Path
) -> None:
    for path in (report, big_report):
        with open_page(browser, path) as tab:
            pairs = json.loads(tab.evaluate(KIND_COLOURS))
        by_kind: dict[str, set[str]] = {}
        for kind, colour in pairs:
            by_kind.setdefault(kind, set()).add(colour)
        assert len(by_kind) >= 5, by_kind
        assert all(len(c) == 1 for c in by_kind.values()), by_kind  # one colour per kind
        colours = {kind: _hex(next(iter(c))) for kind, c in by_kind.items()}
        # No two kinds look alike: at least 20 apart in CIE76 delta-E, as painted.
        close = [
            (a, b, round(delta_e(colours[a], colours[b]), 1))
            for a, b in combinations(sorted(colours), 2)
            if delta_e(colours[a], colours[b]) < 20
        ]
        assert close == [], colours


def _hex(css: str) -> str:
    """Like "rgb(197, 34, 31)" as "#c5221f"."""
    r, g, b = (int(n) for n in re.findall(r"\d+", css)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"
