"""The report's first table: one row per handoff at risk, blockers first.

A row holds everything still missing on one handoff (all its open findings, not one row per
finding), its owner, how long its oldest finding has been open, when the escalation ladder
takes its next step (counted in the owner's working hours and time zone, by
`mapping.due.next_rung`), and what opened or closed on it since the last report.

A blocker is a finding of severity "error": it stops the handoff from going ahead (a missing
owner, a missing go/no-go, an expired brief, a field required at this stage).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from mapping.due import next_rung
from mapping.escalation import EscalationConfig
from mapping.rules import severity_rank

if TYPE_CHECKING:
    from sync.report.data import ReportLine

__all__ = [
    "AtRisk",
    "Due",
    "at_risk",
    "changes_note",
    "due_text",
    "natural_key",
    "row_json",
    "severity_word",
]

_DIGITS = re.compile(r"(\d+)")
_WORDS = {"error": "blocker", "warning": "warning", "info": "info"}
# Within one severity, what a lead reads first: who owns it, whether it is still valid, the
# decision, then the brief's contents and the bookkeeping.
_KINDS = (
    "ownerless",
    "expired",
    "decision-missing",
    "missing-field",
    "conflict",
    "stale",
    "needs-sync",
    "noisy",
    "unlinked",
)


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key that reads numbers as numbers: EXP-5 before EXP-22, case ignored."""
    parts = _DIGITS.split(text.casefold())
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p)


def severity_word(severity: str) -> str:
    """What the report calls a severity: an error blocks the handoff."""
    return _WORDS.get(severity, severity)


@dataclass(frozen=True)
class Due:
    """When the ladder next tells someone more, and whom; `zone` is the owner's."""

    at: datetime
    to: str
    zone: str

    @property
    def local(self) -> datetime:
        """In the owner's zone, to the nearest minute (the ladder's moment errs seconds early
        so that no step is ever late; people read minutes)."""
        at = self.at.astimezone(ZoneInfo(self.zone)) + timedelta(seconds=30)
        return at.replace(second=0, microsecond=0)

    def text(self) -> str:
        """Like "Wed 4 Mar 10:00 Europe/Berlin"."""
        at = self.local
        return f"{at:%a} {at.day} {at:%b %H:%M} {self.zone}"


@dataclass(frozen=True)
class AtRisk:
    """One handoff with open findings."""

    record: str
    title: str
    severity: str  # the worst of its findings
    owner: str
    owner_name: str
    team: str
    lines: tuple[ReportLine, ...]  # its open ReportLines, worst first
    opened: datetime  # when its oldest open finding opened
    due: Due | None
    top: bool  # every finding has reached the last step of the ladder
    new: tuple[ReportLine, ...] = ()  # opened since the last report
    resolved: tuple[ReportLine, ...] = ()  # closed since the last report

    @property
    def blocker(self) -> bool:
        return self.severity == "error"

    @property
    def home(self) -> ReportLine:
        """The line whose item the row links to: its worst finding's."""
        return self.lines[0]

    def age_days(self, now: datetime) -> int:
        return max(0, (now - self.opened).days)

    def groups(self) -> list[tuple[str, list[str]]]:
        """Its open findings by kind, worst first: ("missing-field", ["hypothesis", ...])."""
        out: dict[str, list[str]] = {}
        for ln in self.lines:
            out.setdefault(ln.code, []).append(ln.subject.replace("_", " "))
        return list(out.items())

    def missing(self) -> list[str]:
        """Everything open on it, one kind at a time ("missing-field: hypothesis, owner")."""
        return [f"{code}: {', '.join(subjects)}" for code, subjects in self.groups()]


def at_risk(
    open_lines: Iterable[ReportLine],
    closed_lines: Iterable[ReportLine],
    *,
    now: datetime,
    since: datetime | None,
    escalation: EscalationConfig,
    zones: Mapping[str, str],
) -> list[AtRisk]:
    """One row per handoff with open findings: blockers first, then the soonest due, the
    oldest, and the key in natural order. `since`: the last report (None: there was none);
    `zones`: owner key -> IANA time zone."""
    by_record: dict[str, list[ReportLine]] = {}
    for ln in open_lines:
        by_record.setdefault(ln.record, []).append(ln)
    closed: dict[str, list[ReportLine]] = {}
    for ln in closed_lines:
        if since is not None and ln.resolved is not None and ln.resolved > since:
            closed.setdefault(ln.record, []).append(ln)
    rows = [
        _row(lines, closed.get(key, []), now, since, escalation, zones)
        for key, lines in by_record.items()
    ]
    return sorted(rows, key=_order)


def _order(row: AtRisk) -> tuple[Any, ...]:
    due = row.due.at.timestamp() if row.due else float("inf")
    return (severity_rank(row.severity), due, row.opened, natural_key(row.record))


def _worst_first(ln: ReportLine) -> tuple[Any, ...]:
    kind = _KINDS.index(ln.code) if ln.code in _KINDS else len(_KINDS)
    return (severity_rank(ln.severity), kind, ln.code, natural_key(ln.subject))


def _row(
    lines: list[ReportLine],
    closed: list[ReportLine],
    now: datetime,
    since: datetime | None,
    esc: EscalationConfig,
    zones: Mapping[str, str],
) -> AtRisk:
    lines = sorted(lines, key=_worst_first)
    first = lines[0]
    zone = esc.zone(zones.get(first.owner, ""))
    rungs = [next_rung(ln.opened, now, zone, esc) for ln in lines]
    ahead = [r for r in rungs if r is not None]
    step = min(ahead, key=lambda r: r[1]) if ahead else None
    return AtRisk(
        record=first.record,
        title=first.title,
        severity=first.severity,
        owner=first.owner,
        owner_name=first.owner_name,
        team=first.team,
        lines=tuple(lines),
        opened=min(ln.opened for ln in lines),
        due=Due(step[1], step[0].to, zone.key) if step else None,
        top=not ahead,
        new=tuple(ln for ln in lines if since is not None and ln.opened > since),
        resolved=tuple(sorted(closed, key=lambda ln: (ln.code, ln.subject))),
    )


def changes_note(last_report: datetime | None) -> str:
    """What the table's "since last report" column counts from."""
    if last_report is None:
        return (
            "No earlier report: new and resolved findings are shown from the next report on "
            "(a --dry-run report is not remembered)."
        )
    return f"New and resolved findings since the last report ({last_report:%Y-%m-%d %H:%M} UTC)."


def due_text(row: AtRisk) -> str:
    """When and to whom the ladder climbs next, in the owner's time zone."""
    if row.due is not None:
        return f"{row.due.text()} → {row.due.to}"
    return "last step of the ladder reached" if row.top else ""


def row_json(row: AtRisk, now: datetime) -> dict[str, Any]:
    """One at-risk row for `--format json`."""

    def brief(ln: ReportLine) -> dict[str, Any]:
        return {"code": ln.code, "subject": ln.subject, "severity": ln.severity}

    due = row.due
    return {
        "record": row.record,
        "title": row.title,
        "severity": row.severity,
        "blocker": row.blocker,
        "owner": row.owner or None,
        "owner_name": row.owner_name or None,
        "team": row.team or None,
        "opened": row.opened.isoformat(),
        "age_days": row.age_days(now),
        "missing": [brief(ln) | {"message": ln.message, "item": ln.item_key} for ln in row.lines],
        "due": (
            {
                "at": due.at.isoformat(),
                "local": due.local.isoformat(),
                "zone": due.zone,
                "to": due.to,
            }
            if due
            else None
        ),
        "top_of_ladder": row.top,
        "new": [brief(ln) for ln in row.new],
        "resolved": [brief(ln) for ln in row.resolved],
    }
