"""The leads' report as one self-contained HTML file: inline CSS, charts drawn here as inline SVG.

No script, no remote font, no CDN: it opens offline, and a Content-Security-Policy that forbids
every script means that even a mistake in escaping could not run one. All user text goes
through `html.escape`; links only through `sync.markup.safe_url` (http and https only).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime

from sync.access import lost_sentence
from sync.markup import safe_url
from sync.report_data import ESCALATION_NOTE, Heatmap, ReportData, ReportLine, TrendPoint

__all__ = ["CSP", "render_html"]

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
# One colour per finding code, the same in every chart and badge.
COLORS = {
    "missing-field": "#e8710a",
    "ownerless": "#d93025",
    "conflict": "#9334e6",
    "expired": "#b31412",
    "stale": "#f9ab00",
    "decision-missing": "#1a73e8",
    "needs-sync": "#12b5cb",
    "noisy": "#80868b",
    "unlinked": "#5f6368",
}
_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#202124;
 margin:0;background:#f6f7f9}
main{max-width:1040px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:17px;margin:0 0 10px}
.sub{color:#5f6368;margin:0 0 16px}
section{background:#fff;border:1px solid #e3e5e8;border-radius:8px;padding:16px 18px;
 margin:0 0 16px}
.tiles{display:flex;flex-wrap:wrap;gap:8px;margin:0 0 16px}
.tile{background:#fff;border:1px solid #e3e5e8;border-radius:8px;padding:8px 12px;min-width:92px}
.tile b{display:block;font-size:22px}.tile span{color:#5f6368;font-size:12px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eceef1;vertical-align:top}
th{font-size:12px;color:#5f6368;font-weight:600;white-space:nowrap}
.n{white-space:nowrap}
a{color:#1a56c4;text-decoration:none}a:hover{text-decoration:underline}
.key{font-weight:600;white-space:nowrap}.muted{color:#5f6368}
.badge{display:inline-block;white-space:nowrap;border-radius:10px;padding:0 7px;font-size:12px;
 color:#fff}
.none{color:#188038}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
@media (max-width:800px){.grid{grid-template-columns:1fr}}
svg text{font:11px system-ui,sans-serif;fill:#3c4043}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _link(text: str, url: str) -> str:
    href = safe_url(url)
    if not href:
        return _e(text)
    return f'<a href="{_e(href)}" rel="noopener noreferrer">{_e(text)}</a>'


def _when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "never"


def _badge(code: str) -> str:
    color = COLORS.get(code, "#5f6368")
    return f'<span class="badge" style="background:{color}">{_e(code)}</span>'


def _item(ln: ReportLine) -> str:
    """The handoff key, linked to the item where it is fixed, and its title."""
    key = _link(ln.item_key or ln.record, ln.url)
    title = f' <span class="muted">{_e(ln.title)}</span>' if ln.title else ""
    record = "" if ln.item_key == ln.record else f" <span class='muted'>({_e(ln.record)})</span>"
    return f'<span class="key">{key}</span>{record}{title}'


def _days(n: int) -> str:
    return "today" if n == 0 else f"{n} day" + ("" if n == 1 else "s")


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], empty: str) -> str:
    body = ["<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows]
    if not body:
        return f'<p class="none">{_e(empty)}</p>'
    top = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f"<table><thead><tr>{top}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _section(title: str, inner: str, sid: str) -> str:
    return f'<section id="{sid}"><h2>{_e(title)}</h2>{inner}</section>'


def _owner(ln: ReportLine) -> str:
    return _e(ln.owner_name) if ln.owner_name else '<span class="muted">nobody</span>'


# --- charts ---------------------------------------------------------------------------


def trend_svg(points: Sequence[TrendPoint], width: int = 960, height: int = 240) -> str:
    """Stacked bars: open findings by code after each run, oldest on the left."""
    left, right, top, bottom = 40, 10, 12, 38
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((p.total for p in points), default=0) or 1
    step = _nice(peak)
    scale = plot_h / (step * -(-peak // step))
    parts = [
        f'<svg class="chart" id="trend-chart" role="img" aria-label="Open findings per run" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in range(0, peak + step, step):
        y = top + plot_h - tick * scale
        if y < top - 1:
            break
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eceef1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    slot = plot_w / max(len(points), 1)
    bar = max(2.0, min(48.0, slot * 0.7))
    label_every = max(1, len(points) // 8)
    for i, point in enumerate(points):
        x = left + i * slot + (slot - bar) / 2
        y = top + plot_h
        for code in COLORS:
            n = point.by_code.get(code, 0)
            if not n:
                continue
            h = n * scale
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{COLORS[code]}"><title>{_e(code)}: {n} after run '
                f"{point.run_id}</title></rect>"
            )
        if i % label_every == 0 or i == len(points) - 1:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                f"{point.at:%b %d}</text>"
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 30}" text-anchor="middle" '
                f'fill="#80868b">{point.total} open</text>'
            )
    if not points:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">No runs yet</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _nice(peak: int) -> int:
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000):
        if peak / step <= 5:
            return step
    return max(1, peak // 5)


def _legend(codes: Iterable[str]) -> str:
    return " ".join(_badge(c) for c in codes)


def heatmap_svg(hm: Heatmap, sid: str, cell: int = 34, label_w: int = 150) -> str:
    """A grid of counts: darker is more missing fields."""
    header = 110
    # Column labels lean right at 45 degrees: leave room for the last one.
    width = label_w + cell * max(len(hm.cols), 1) + 120
    height = header + cell * max(len(hm.rows), 1) + 6
    parts = [
        f'<svg class="chart heatmap" id="{_e(sid)}" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for j, col in enumerate(hm.cols):
        x = label_w + j * cell + cell / 2
        parts.append(
            f'<text transform="translate({x + 4:.1f},{header - 6}) rotate(-45)">'
            f"{_e(_short(col, 22))}<title>{_e(col)}</title></text>"
        )
    for i, row in enumerate(hm.rows):
        y = header + i * cell
        parts.append(
            f'<text x="{label_w - 8}" y="{y + cell / 2 + 4:.1f}" text-anchor="end">'
            f"{_e(_short(row, 22))}<title>{_e(row)}</title></text>"
        )
        for j, col in enumerate(hm.cols):
            n = hm.at(row, col)
            x = label_w + j * cell
            fill = _heat(n, hm.peak)
            ink = "#fff" if hm.peak and n / hm.peak > 0.55 else "#3c4043"
            parts.append(
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell - 2}" height="{cell - 2}" rx="3" '
                f'fill="{fill}"><title>{_e(row)} · {_e(col)}: {n}</title></rect>'
            )
            if n:
                parts.append(
                    f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4:.1f}" text-anchor="middle" '
                    f'style="fill:{ink}">{n}</text>'
                )
    parts.append("</svg>")
    return "".join(parts)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _heat(n: int, peak: int) -> str:
    if not n or not peak:
        return "#f1f3f4"
    t = 0.2 + 0.8 * n / peak
    lo, hi = (254, 237, 222), (217, 72, 1)
    r, g, b = (round(a + (c - a) * t) for a, c in zip(lo, hi, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


# --- sections --------------------------------------------------------------------------


def _lines_table(lines: Sequence[ReportLine], now: datetime, empty: str, what: bool) -> str:
    rows = [
        [
            _item(ln),
            *([_badge(ln.code)] if what else []),
            _e(ln.message),
            _owner(ln),
            f'<span class="n">{_days(ln.age_days(now))}</span>',
        ]
        for ln in lines
    ]
    head = ["Item", *(["Kind"] if what else []), "What to do", "Owner", "Open for"]
    return _table(head, rows, empty)


def _heat_section(data: ReportData) -> str:
    if not data.missing:
        return _section(
            "Missing fields", '<p class="none">No required field is missing.</p>', "missing"
        )
    by_team, by_owner = data.heatmap("team"), data.heatmap("owner")
    grid = (
        '<div class="grid">'
        f"<div><h3>By team</h3>{heatmap_svg(by_team, 'heat-team')}</div>"
        f"<div><h3>By owner</h3>{heatmap_svg(by_owner, 'heat-owner')}</div></div>"
    )
    rows = [
        [_item(ln), _e(ln.subject.replace("_", " ")), _owner(ln), _e(ln.team)]
        for ln in sorted(data.missing, key=lambda ln: (ln.team, ln.record, ln.subject))
    ]
    details = (
        f"<details><summary>{len(rows)} missing fields, item by item</summary>"
        f"{_table(['Item', 'Field', 'Owner', 'Team'], rows, '')}</details>"
    )
    return _section("Missing fields by team and by owner", grid + details, "missing")


def _escalation_table(data: ReportData) -> str:
    rows = [
        [
            _item(ln),
            _badge(ln.code),
            f'<span class="n">step {ln.escalation}</span>',
            _e(", ".join(ln.notified)) or '<span class="muted">nobody</span>',
            f'<span class="n">{_days(ln.age_days(data.generated))}</span>',
        ]
        for ln in data.escalations
    ]
    table = _table(["Item", "Kind", "Step", "Reached", "Open for"], rows, "Nothing has escalated.")
    return f'<p class="muted">{_e(ESCALATION_NOTE)}</p>{table}' if rows else table


def _closed_table(data: ReportData) -> str:
    rows = [
        [_item(ln), _badge(ln.code), _e(ln.subject), _e(_when(ln.resolved))] for ln in data.closed
    ]
    return _table(["Item", "Kind", "About", "Closed"], rows, "No loop closed in this window.")


def render_html(data: ReportData) -> str:
    """The whole report as one HTML document."""
    now = data.generated
    totals = data.totals
    tiles = "".join(
        f'<div class="tile" style="border-top:3px solid {COLORS.get(code, "#5f6368")}">'
        f"<b>{n}</b><span>{_e(code)}</span></div>"
        for code, n in totals.items()
    )
    tiles += f'<div class="tile"><b>{len(data.closed)}</b><span>closed since '
    tiles += f"{data.since:%b %d}</span></div>"
    shown = [c for c in COLORS if any(p.by_code.get(c) for p in data.trend)]
    sections = [
        _section(
            "Open findings over the last runs",
            trend_svg(data.trend) + f"<p>{_legend(shown)}</p>",
            "trend",
        ),
        _section(
            "Ownerless items, oldest first",
            _lines_table(data.ownerless, now, "Every role has a person behind it.", False),
            "ownerless",
        ),
        _heat_section(data),
        _section(
            "Entering run without a go/no-go",
            _lines_table(data.no_decision, now, "Every running handoff has a decision.", False),
            "no-decision",
        ),
        _section(
            "Expired and stale handoffs",
            _lines_table(data.expired_or_stale, now, "Nothing expired or stale.", True),
            "expired",
        ),
        _section(
            "Conflicts between systems",
            _lines_table(data.conflicts, now, "The systems agree.", False),
            "conflicts",
        ),
        _section(
            "Everything else still open",
            _lines_table(data.others, now, "Nothing else is open.", False),
            "others",
        ),
        _section("Escalations and who they reached", _escalation_table(data), "escalations"),
        _section(f"Loops closed since {data.since:%Y-%m-%d}", _closed_table(data), "closed"),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Handoff report {now:%Y-%m-%d}</title><style>{_STYLE}</style></head>"
        f'<body><main><h1>Handoff report</h1><p class="sub">{_e(_subtitle(data))}</p>'
        f'<div class="tiles">{tiles}</div>{"".join(sections)}</main></body></html>\n'
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
