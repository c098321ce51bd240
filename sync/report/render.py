"""`handoff report`: the reconciliation report for leads, as Markdown, HTML or JSON.

The renderers are pure functions of a `ReportData` (`sync.report.data.gather` builds one from
the state database). User text is escaped for each format: Markdown escapes every character
that could start markup, HTML is a Jinja2 template with autoescape (see `sync.report.html`),
and JSON is JSON. Links are kept only when they are http(s) URLs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync.engine.access import ADVICE, lost_sentence
from sync.engine.knowledge import age
from sync.report.atrisk import changes_note, due_text, row_json, severity_word
from sync.report.data import (
    ESCALATION_NOTE,
    LAST_REPORT,
    Filters,
    Heatmap,
    ReportData,
    ReportLine,
    gather,
)
from sync.report.html import first_run_note, render_html
from sync.writeback.markup import clean, safe_url

__all__ = [
    "remember_report",
    "render_html",
    "render_json",
    "render_markdown",
    "report_data",
    "write_report",
]

log = logging.getLogger(__name__)

DEFAULT_HTML = "handoff-report.html"
_TEXT_LIMIT = 300  # characters of a title or message on one report line
_ALL = 20_000  # what is missing on a handoff is never cut short: it is the point of the row
# Every user string sits inside a table cell or after our own words, so line-start markup
# (#, -, +, 1.) cannot fire; these are the characters that can anywhere.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~$])")


def _md(text: str, limit: int = _TEXT_LIMIT) -> str:
    """User text as inert Markdown on one line: no links, emphasis, HTML or table breaks."""
    text = clean(text, limit)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("@", "@\u2060")  # "@team" mentions nobody when pasted into GitHub


def _md_link(text: str, url: str) -> str:
    href = safe_url(url)
    return f"[{_md(text)}]({href})" if href else _md(text)


def _days(n: int) -> str:
    return "today" if n == 0 else f"{n}d"


def _md_item(ln: ReportLine) -> str:
    out = _md_link(ln.item_key or ln.record, ln.url)
    if ln.item_key != ln.record:
        out += f" ({_md(ln.record)})"
    return out + (f" {_md(ln.title, 80)}" if ln.title else "")


def _md_table(head: Sequence[str], rows: list[list[str]], empty: str) -> list[str]:
    if not rows:
        return [f"_{empty}_", ""]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return [*out, ""]


def _md_lines(lines: Sequence[ReportLine], now: datetime, empty: str) -> list[str]:
    rows = [
        [
            _md_item(ln),
            _md(ln.message),
            _md(ln.owner_name) or "nobody",
            _days(ln.age_days(now)),
        ]
        for ln in lines
    ]
    return _md_table(["Item", "What to do", "Owner", "Open"], rows, empty)


def _md_heatmap(hm: Heatmap, by: str) -> list[str]:
    if not hm.rows:
        return []
    rows = [[_md(r), *[str(hm.at(r, c) or "·") for c in hm.cols]] for r in hm.rows]
    return _md_table([by, *(_md(c) for c in hm.cols)], rows, "")


def render_markdown(data: ReportData) -> str:
    """The report as Markdown: headings, tables, links to each item."""
    now = data.generated
    out = _md_intro(data)
    out += _md_at_risk(data)
    out += ["## Ownerless items, oldest first", ""]
    out += _md_lines(data.ownerless, now, "Every role has a person behind it.")
    out += ["## Missing fields by team and by owner", ""]
    if data.missing:
        out += _md_heatmap(data.heatmap("team"), "Team")
        out += _md_heatmap(data.heatmap("owner"), "Owner")
    else:
        out += ["_No required field is missing._", ""]
    out += ["## Entering run without a go/no-go", ""]
    out += _md_lines(data.no_decision, now, "Every running handoff has a decision.")
    out += ["## Expired and stale handoffs", ""]
    out += _md_lines(data.expired_or_stale, now, "Nothing expired or stale.")
    out += ["## Conflicts between systems", ""]
    out += _md_lines(data.conflicts, now, "The systems agree.")
    out += ["## Everything else still open", ""]
    out += _md_lines(data.others, now, "Nothing else is open.")
    out += _md_escalations(data)
    out += [f"## Loops closed since {data.since:%Y-%m-%d}", ""]
    rows = [
        [_md_item(ln), _md(ln.code), _md(ln.subject), f"{ln.resolved:%Y-%m-%d}"]
        for ln in data.closed
        if ln.resolved
    ]
    out += _md_table(["Item", "Kind", "About", "Closed"], rows, "No loop closed in this window.")
    out += ["## Open findings over the last runs", ""]
    if len(data.trend) == 1:
        out += [f"_{_md(first_run_note(data))}_", ""]
    else:
        rows = [
            [f"{p.at:%Y-%m-%d %H:%M}", str(p.total), _md(_by_code(p.by_code))] for p in data.trend
        ]
        out += _md_table(["Run", "Open", "By kind"], rows, "No runs yet.")
    return "\n".join(out).rstrip() + "\n"


def _md_at_risk(data: ReportData) -> list[str]:
    """One row per handoff, blockers first: the same rows, in the same order, as the HTML."""
    now = data.generated
    out = ["## At risk, blockers first", "", _md(changes_note(data.last_report)), ""]
    rows = []
    for row in data.at_risk:
        changes = [f"new {ln.code}: {ln.subject}" for ln in row.new]
        changes += [f"resolved {ln.code}: {ln.subject}" for ln in row.resolved]
        cells = [
            _md_item(row.home),
            severity_word(row.severity),
            _md(row.owner_name) or "nobody",
            _md("; ".join(row.missing()), _ALL),
            _days(row.age_days(now)),
            _md(due_text(row)),
        ]
        # Before any report was remembered there is nothing to compare with: no column.
        rows.append([*cells, _md("; ".join(changes))] if data.last_report else cells)
    head = ["Handoff", "Severity", "Owner", "Missing", "Open", "Due (owner's time)"]
    head += ["Since last report"] if data.last_report else []
    return out + _md_table(head, rows, "No handoff is at risk.")


def _md_intro(data: ReportData) -> list[str]:
    """The title and the paragraph saying how fresh, how complete and how filtered it is."""
    now = data.generated
    counts = ", ".join(f"{code} {n}" for code, n in data.totals.items()) or "none"
    out = [
        f"# Handoff report, {now:%Y-%m-%d}",
        "",
        f"Generated {now:%Y-%m-%d %H:%M} UTC from the last sync "
        f"({data.last_run:%Y-%m-%d %H:%M} UTC). "
        if data.last_run
        else "No sync has run yet. ",
    ]
    out[-1] += data.last_run_note + (
        f"{len(data.open_lines)} open findings ({counts}); {data.records} handoffs tracked; "
        f"{len(data.closed)} loops closed since {data.since:%Y-%m-%d}."
    )
    for scope, at in data.stale:
        out[-1] += (
            f" {scope} was last read in full {age(now - at)} before this report "
            f"({at:%Y-%m-%d %H:%M} UTC); its findings are as of then."
        )
    for scope, since in data.lost:
        out[-1] += " " + lost_sentence(scope, since)
    if data.filters.team or data.filters.owner:
        shown = [f"team {data.filters.team}" if data.filters.team else ""]
        shown.append(f"owner {data.filters.owner}" if data.filters.owner else "")
        out.append(f"Only {_md(' and '.join(s for s in shown if s))}.")
    out.append("")
    return out


def _md_escalations(data: ReportData) -> list[str]:
    now = data.generated
    out = ["## Escalations and who they reached", ""]
    rows = [
        [
            _md_item(ln),
            _md(ln.code),
            str(ln.escalation),
            _md(", ".join(ln.notified)) or "nobody",
            _days(ln.age_days(now)),
        ]
        for ln in data.escalations
    ]
    if rows:
        out += [ESCALATION_NOTE, ""]
    return out + _md_table(
        ["Item", "Kind", "Step", "Reached", "Open"], rows, "Nothing has escalated."
    )


def _by_code(counts: dict[str, int] | Any) -> str:
    return ", ".join(f"{c} {n}" for c, n in sorted(counts.items()))


def _line_json(ln: ReportLine) -> dict[str, Any]:
    return {
        "record": ln.record,
        "title": ln.title,
        "code": ln.code,
        "severity": ln.severity,
        "subject": ln.subject,
        "message": ln.message,
        "system": ln.system,
        "item": ln.item_key,
        "url": safe_url(ln.url) or None,
        "owner": ln.owner or None,
        "owner_name": ln.owner_name or None,
        "team": ln.team or None,
        "opened": ln.opened.isoformat(),
        "escalation": ln.escalation,
        "notified": list(ln.notified),
        "resolved": ln.resolved.isoformat() if ln.resolved else None,
    }


def _heat_json(hm: Heatmap) -> dict[str, Any]:
    return {
        "rows": list(hm.rows),
        "columns": list(hm.cols),
        "counts": [[hm.at(r, c) for c in hm.cols] for r in hm.rows],
    }


def render_json(data: ReportData) -> str:
    """The report as one JSON object on one line (what `--json` promises), for dashboards."""
    lines = [_line_json(ln) for ln in data.open_lines]
    doc = {
        "generated": data.generated.isoformat(),
        "last_run": data.last_run.isoformat() if data.last_run else None,
        "last_read_in_full": {scope: at.isoformat() for scope, at in data.stale},
        "lost_access": [
            {"scope": scope, "since": at.isoformat(), "advice": ADVICE} for scope, at in data.lost
        ],
        "last_run_outcome": data.last_outcome or None,
        "since": data.since.isoformat(),
        "filters": {"team": data.filters.team, "owner": data.filters.owner},
        "handoffs": data.records,
        "open": data.totals,
        "ownerless": [_line_json(ln) for ln in data.ownerless],
        "missing_fields": {
            "by_team": _heat_json(data.heatmap("team")),
            "by_owner": _heat_json(data.heatmap("owner")),
        },
        "no_decision": [_line_json(ln) for ln in data.no_decision],
        "expired_or_stale": [_line_json(ln) for ln in data.expired_or_stale],
        "conflicts": [_line_json(ln) for ln in data.conflicts],
        "others": [_line_json(ln) for ln in data.others],
        "escalations": [_line_json(ln) for ln in data.escalations],
        "closed": [_line_json(ln) for ln in data.closed],
        "trend": [
            {"run": p.run_id, "at": p.at.isoformat(), "open": p.total, "by_code": p.by_code}
            for p in data.trend
        ],
        "findings": lines,
        "last_report": data.last_report.isoformat() if data.last_report else None,
        "at_risk": [row_json(row, data.generated) for row in data.at_risk],
    }
    return json.dumps(doc, ensure_ascii=False) + "\n"


RENDERERS = {"md": render_markdown, "html": render_html, "json": render_json}


def report_data(
    source: Path, *, filters: Filters | None = None, from_state: bool = False
) -> ReportData:
    """The report's data from a config file (its state, people and escalation ladder) or,
    with `from_state`, a state file alone (default ladder, UTC). Reads a copy: the state
    file is never changed."""
    from mapping.escalation import EscalationConfig
    from sync.settings import Settings, load_settings
    from sync.store import exists, reader, where_is

    names: dict[str, str] = {}
    zones: dict[str, str] = {}
    escalation = EscalationConfig()
    where: Settings | Path = source
    if not from_state:
        where = settings = load_settings(source)
        names = {p.key: p.name or p.key for p in settings.people}
        zones = {p.key: p.time_zone for p in settings.people if p.time_zone}
        escalation = settings.rules_config().escalation
    if not exists(where):
        raise FileNotFoundError(2, "no state file", where_is(where))
    with reader(where) as state:
        return gather(
            state,
            now=datetime.now(UTC),
            filters=filters or Filters(),
            names=names,
            escalation=escalation,
            zones=zones,
        )


def remember_report(source: Path, data: ReportData, *, from_state: bool = False) -> None:
    """Keep when this report was made, in its state: the next report's "new" and "resolved"
    count from it. Not called for --dry-run."""
    from sync.settings import load_settings
    from sync.store import open_store

    where = source if from_state else load_settings(source)
    with open_store(where) as state:
        state.remember_fact(LAST_REPORT, data.generated.isoformat())


def write_report(config: Path, fmt: str, target: Path) -> ReportData:
    """Write the report for `config` to `target` in `fmt` (md, html or json)."""
    data = report_data(config)
    target.write_text(RENDERERS[fmt](data), encoding="utf-8")
    return data
