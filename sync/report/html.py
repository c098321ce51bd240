"""The leads' report as one self-contained HTML file: inline CSS, charts drawn as inline SVG.

No script, no remote font, no CDN: it opens offline, and a Content-Security-Policy that forbids
every script means that even a mistake in escaping could not run one. The page is the Jinja2
template `sync/report/templates/report.html` with autoescape on, so user text is escaped wherever it
lands unless a macro of the template made it markup; links go only through
`sync.writeback.markup.safe_url` (http and https only). This module computes what the template
cannot say
plainly: the geometry of the charts, their colours, and the page's subtitle.

Layout: the at-risk table comes first; the trend scales to the page's width, wide tables and
heatmaps scroll inside their own box, and under 600 px every table row becomes a card, so the
page itself never scrolls sideways (tests/test_report_browser.py measures it at 420 px and with
a 300-item workspace).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2

from mapping.rules import severity_rank
from sync.engine.access import lost_sentence
from sync.report.atrisk import changes_note, due_text, natural_key, severity_word
from sync.report.data import ESCALATION_NOTE, Heatmap, ReportData, TrendPoint
from sync.writeback.markup import safe_url

__all__ = ["COLORS", "CSP", "first_run_note", "render_html", "tiles"]

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
# One colour per finding code, the same in every chart, badge and tile. Every pair differs by
# at least 20 in CIE76 delta-E (ownerless is red, expired brown; noisy magenta, unlinked slate)
# and each carries white badge text at WCAG AA contrast (4.5:1); tests/test_report_atrisk.py
# measures both.
COLORS = {
    "ownerless": "#c5221f",
    "expired": "#6d4c41",
    "decision-missing": "#1a56c4",
    "missing-field": "#b04a00",
    "conflict": "#7b1fa2",
    "stale": "#7a6a00",
    "needs-sync": "#00796b",
    "noisy": "#ad1457",
    "unlinked": "#455a64",
}
_GREY = "#5f6368"


def _color(code: str) -> str:
    return COLORS.get(code, _GREY)


def _when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "never"


def _days(n: int) -> str:
    return "today" if n == 0 else f"{n} day" + ("" if n == 1 else "s")


def _short(text: str, limit: int = 22) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _environment() -> jinja2.Environment:
    # autoescape=True for every template, not by file suffix: there is only HTML here.
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sync.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(safe_url=safe_url, short=_short, f1=lambda v: f"{v:.1f}")
    env.globals.update(
        color=_color, days=_days, when=_when, severity_word=severity_word, due_text=due_text
    )
    return env


_ENV = _environment()


# --- charts: geometry here, markup in the template -----------------------------------------


@dataclass(frozen=True)
class _Tick:
    x1: int
    x2: int
    y: float
    value: int


@dataclass(frozen=True)
class _Bar:
    x: float
    y: float
    w: float
    h: float
    code: str
    n: int
    run_id: int


@dataclass(frozen=True)
class _RunLabel:
    x: float
    y: int
    y2: int
    at: datetime
    total: int


@dataclass(frozen=True)
class _Run:
    bars: list[_Bar]
    label: _RunLabel | None


@dataclass(frozen=True)
class TrendChart:
    """Stacked bars: open findings by code after each run, oldest on the left."""

    width: int
    height: int
    ticks: list[_Tick]
    runs: list[_Run]


def trend_chart(points: Sequence[TrendPoint], width: int = 960, height: int = 240) -> TrendChart:
    left, right, top, bottom = 40, 10, 12, 38
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((p.total for p in points), default=0) or 1
    step = _nice(peak)
    scale = plot_h / (step * -(-peak // step))
    ticks = []
    for tick in range(0, peak + step, step):
        y = top + plot_h - tick * scale
        if y < top - 1:
            break
        ticks.append(_Tick(left, width - right, y, tick))
    slot = plot_w / max(len(points), 1)
    bar = max(2.0, min(48.0, slot * 0.7))
    label_every = max(1, len(points) // 8)
    runs = []
    for i, point in enumerate(points):
        x = left + i * slot + (slot - bar) / 2
        y = float(top + plot_h)
        bars = []
        for code in COLORS:
            n = point.by_code.get(code, 0)
            if n:
                y -= n * scale
                bars.append(_Bar(x, y, bar, n * scale, code, n, point.run_id))
        label = None
        if i % label_every == 0 or i == len(points) - 1:
            base = height - bottom
            label = _RunLabel(x + bar / 2, base + 16, base + 30, point.at, point.total)
        runs.append(_Run(bars, label))
    return TrendChart(width, height, ticks, runs)


def _nice(peak: int) -> int:
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000):
        if peak / step <= 5:
            return step
    return max(1, peak // 5)


@dataclass(frozen=True)
class _Label:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class _Cell:
    x: int
    y: int
    row: str
    col: str
    n: int
    fill: str
    ink: str


@dataclass(frozen=True)
class _HeatRow:
    label: _Label
    cells: list[_Cell]


@dataclass(frozen=True)
class HeatChart:
    """A grid of counts: darker is more missing fields."""

    width: int
    height: int
    cell: int
    cols: list[_Label]
    rows: list[_HeatRow]


def heat_chart(hm: Heatmap, cell: int = 34, label_w: int = 150) -> HeatChart:
    header = 110
    # Column labels lean right at 45 degrees: leave room for the last one.
    width = label_w + cell * max(len(hm.cols), 1) + 120
    height = header + cell * max(len(hm.rows), 1) + 6
    cols = [
        _Label(label_w + j * cell + cell / 2 + 4, header - 6, col) for j, col in enumerate(hm.cols)
    ]
    rows = []
    for i, row in enumerate(hm.rows):
        y = header + i * cell
        cells = []
        for j, col in enumerate(hm.cols):
            n = hm.at(row, col)
            ink = "#fff" if hm.peak and n / hm.peak > 0.55 else "#3c4043"
            cells.append(_Cell(label_w + j * cell, y, row, col, n, _heat(n, hm.peak), ink))
        rows.append(_HeatRow(_Label(label_w - 8, y + cell / 2 + 4, row), cells))
    return HeatChart(width, height, cell, cols, rows)


def _heat(n: int, peak: int) -> str:
    if not n or not peak:
        return "#f1f3f4"
    t = 0.2 + 0.8 * n / peak
    lo, hi = (254, 237, 222), (217, 72, 1)
    r, g, b = (round(a + (c - a) * t) for a, c in zip(lo, hi, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


# --- the page --------------------------------------------------------------------------------


def render_html(data: ReportData) -> str:
    """The whole report as one HTML document."""
    context: dict[str, Any] = {
        "data": data,
        "now": data.generated,
        "csp": CSP,
        "subtitle": _subtitle(data),
        "escalation_note": ESCALATION_NOTE,
        "trend": trend_chart(data.trend),
        "first_run": first_run_note(data) if len(data.trend) == 1 else "",
        "tiles": tiles(data),
        "changes_note": changes_note(data.last_report),
        "legend": [c for c in COLORS if any(p.by_code.get(c) for p in data.trend)],
        "missing": sorted(data.missing, key=lambda ln: (ln.team, ln.record, ln.subject)),
        "heat_team": heat_chart(data.heatmap("team")) if data.missing else None,
        "heat_owner": heat_chart(data.heatmap("owner")) if data.missing else None,
    }
    return _ENV.get_template("report.html").render(context)


@dataclass(frozen=True)
class Tile:
    """How many open findings of one kind, and the worst severity among them."""

    code: str
    n: int
    severity: str


def tiles(data: ReportData) -> list[Tile]:
    """One tile per kind: blockers first, then the most, then by name."""
    worst: dict[str, str] = {}
    for ln in data.open_lines:
        if ln.code not in worst or severity_rank(ln.severity) < severity_rank(worst[ln.code]):
            worst[ln.code] = ln.severity
    found = [Tile(code, n, worst[code]) for code, n in data.totals.items()]
    return sorted(found, key=lambda t: (severity_rank(t.severity), -t.n, natural_key(t.code)))


def first_run_note(data: ReportData) -> str:
    """One point is not a trend: say what there is and when the chart begins."""
    p = data.trend[0]
    if data.filters.since and data.records and p.at >= data.filters.since:
        # --since left one run of several: not a first run.
        return (
            f"One run since {data.filters.since:%Y-%m-%d}: {p.total} open findings after it "
            f"({p.at:%Y-%m-%d %H:%M} UTC); a trend needs two. Widen --since to see one."
        )
    return (
        f"Trend starts after the next run: {p.total} open findings after the first run "
        f"({p.at:%Y-%m-%d %H:%M} UTC)."
    )


def _subtitle(data: ReportData) -> str:
    parts = [
        f"Generated {_when(data.generated)} from the last sync ({_when(data.last_run)}).",
        data.last_run_note.strip(),
        f"{len(data.open_lines)} open findings; {data.records} handoffs tracked.",
        *(lost_sentence(scope, since) for scope, since in data.lost),
    ]
    parts = [p for p in parts if p]
    if data.filters.team:
        parts.append(f"Team: {data.filters.team}.")
    if data.filters.owner:
        parts.append(f"Owner: {data.filters.owner}.")
    return " ".join(parts)
