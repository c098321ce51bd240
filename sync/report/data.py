"""What the leads' report shows, gathered from the state database alone (no system is asked).

`gather(state, now=...)` reads open and recently closed findings, the records and items they
belong to, and the per-run counts, and returns a `ReportData` that the renderers in
`sync.report.render` turn into Markdown, HTML or JSON. It only reads: give it
`sync.store.copy_of(path)`.

Who owns a handoff: the first person its findings notify. The escalation ladder always starts
with the outcome owner (else the engineering owner), so that person comes first; a handoff whose
outcome owner is itself the problem (an open `ownerless` finding on it) has no owner.

What team a handoff belongs to: the value of a "Team" field or property on any of its items (a
Notion select, a Jira custom field named Team), else the project, repo or database it lives in
(its first item's scope, e.g. the Jira project key). Teams and owners match case-insensitively.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.errors import ConfigError
from mapping.escalation import EscalationConfig
from mapping.fields import DEFAULT_NAMES
from mapping.rules import severity_rank
from sync.engine.access import stored_lost_access
from sync.report.atrisk import AtRisk, at_risk, natural_key
from sync.report.people import owners_of, teams_of
from sync.store import FindingRow, Store

__all__ = [
    "ESCALATION_NOTE",
    "LAST_REPORT",
    "Filters",
    "Heatmap",
    "ReportData",
    "ReportLine",
    "TrendPoint",
    "gather",
]

WEEK = timedelta(days=7)
TREND_RUNS = 30  # runs on the trend chart when no --since narrows it
NO_OWNER = "(no owner)"
NO_TEAM = "(no team)"
# The meta fact holding when the last report was written (not on --dry-run): what "new" and
# "resolved" in the at-risk table count from.
LAST_REPORT = "report.last_written"
ESCALATION_NOTE = (
    "Findings open past their window in the owner's working hours. Step 0 tells the owner; "
    "each later step of the ladder tells more people (by default the cost-cap approver, then "
    "the lead)."
)


@dataclass(frozen=True)
class Filters:
    """`--since`, `--team`, `--owner`; None means no filter (since: the last seven days)."""

    since: datetime | None = None
    team: str | None = None
    owner: str | None = None

    def matches(self, line: ReportLine) -> bool:
        if self.team and self.team.casefold() != line.team.casefold():
            return False
        if self.owner:
            wanted = self.owner.casefold()
            if wanted not in (line.owner.casefold(), line.owner_name.casefold()):
                return False
        return True


@dataclass(frozen=True)
class ReportLine:
    """One finding as the report lists it, with the item to open."""

    record: str
    title: str
    code: str
    severity: str
    subject: str
    message: str
    system: str
    item_key: str
    url: str
    owner: str  # directory key, "" when nobody owns it
    owner_name: str
    team: str
    opened: datetime
    escalation: int = 0
    notified: tuple[str, ...] = ()  # names of the people told, in ladder order
    resolved: datetime | None = None

    def age_days(self, now: datetime) -> int:
        return max(0, (now - self.opened).days)


@dataclass(frozen=True)
class Heatmap:
    """Counts of open missing fields: rows (teams or owners) by columns (fields)."""

    rows: tuple[str, ...]
    cols: tuple[str, ...]
    cells: Mapping[tuple[str, str], int]

    def at(self, row: str, col: str) -> int:
        return self.cells.get((row, col), 0)

    @property
    def peak(self) -> int:
        return max(self.cells.values(), default=0)


@dataclass(frozen=True)
class TrendPoint:
    """Open findings by code after one run."""

    run_id: int
    at: datetime
    by_code: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_code.values())


@dataclass(frozen=True)
class ReportData:
    """Everything one report shows, already filtered."""

    generated: datetime
    since: datetime
    filters: Filters
    open_lines: tuple[ReportLine, ...]
    closed: tuple[ReportLine, ...]
    trend: tuple[TrendPoint, ...]
    last_run: datetime | None = None
    records: int = 0  # handoffs the state knows of
    teams: tuple[str, ...] = field(default=())
    # Scopes the last run could not read: when each was last read in full.
    stale: tuple[tuple[str, datetime], ...] = field(default=())
    # Scopes whose token or permission is refused: since when (lost access, not deleted).
    lost: tuple[tuple[str, datetime], ...] = field(default=())
    last_outcome: str = ""  # how the last sync ended ("ok", "failed: why", "interrupted ...")
    at_risk: tuple[AtRisk, ...] = field(default=())  # one row per handoff, blockers first
    last_report: datetime | None = None  # when the previous report was written

    @property
    def last_run_note(self) -> str:
        """A sentence when the last sync did not end well: its findings may be out of date."""
        if self.last_run is None or self.last_outcome in ("ok", "dry-run"):
            return ""
        how = self.last_outcome or "did not finish (killed, or still running)"
        return f"The last sync did not complete: {how}. "

    def of(self, code: str, subject: str | None = None) -> list[ReportLine]:
        return [
            ln
            for ln in self.open_lines
            if ln.code == code and (subject is None or ln.subject == subject)
        ]

    @property
    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for ln in self.open_lines:
            out[ln.code] = out.get(ln.code, 0) + 1
        return dict(sorted(out.items()))

    @property
    def ownerless(self) -> list[ReportLine]:
        """Oldest first: the longer nobody owns it, the higher it goes."""
        return sorted(self.of("ownerless"), key=lambda ln: (ln.opened, natural_key(ln.record)))

    @property
    def no_decision(self) -> list[ReportLine]:
        return self.of("decision-missing", "go/no-go")

    @property
    def others(self) -> list[ReportLine]:
        """Open findings no other section lists one by one (missing fields, sign-offs,
        pre-run syncs, noisy lists, unlinked items), so every open problem is named."""
        listed = {"ownerless", "expired", "stale", "conflict"}
        go_no_go = ("decision-missing", "go/no-go")
        return sorted(
            (
                ln
                for ln in self.open_lines
                if ln.code not in listed and (ln.code, ln.subject) != go_no_go
            ),
            key=lambda ln: (natural_key(ln.record), ln.code, ln.subject),
        )

    @property
    def expired_or_stale(self) -> list[ReportLine]:
        lines = self.of("expired") + self.of("stale")
        return sorted(lines, key=lambda ln: (ln.opened, natural_key(ln.record)))

    @property
    def conflicts(self) -> list[ReportLine]:
        return self.of("conflict")

    @property
    def escalations(self) -> list[ReportLine]:
        lines = [ln for ln in self.open_lines if ln.escalation > 0]
        return sorted(lines, key=lambda ln: (-ln.escalation, ln.opened, natural_key(ln.record)))

    @property
    def missing(self) -> list[ReportLine]:
        return self.of("missing-field")

    def heatmap(self, by: str) -> Heatmap:
        """Missing fields by "team" or by "owner"."""
        cells: dict[tuple[str, str], int] = {}
        for ln in self.missing:
            row = (ln.team or NO_TEAM) if by == "team" else (ln.owner_name or NO_OWNER)
            col = field_label(ln.subject)
            cells[(row, col)] = cells.get((row, col), 0) + 1
        rows = sorted({r for r, _ in cells}, key=lambda r: (-_sum(cells, r, 0), r))
        cols = sorted({c for _, c in cells}, key=lambda c: (-_sum(cells, c, 1), c))
        return Heatmap(tuple(rows), tuple(cols), cells)


def _sum(cells: Mapping[tuple[str, str], int], name: str, axis: int) -> int:
    return sum(n for k, n in cells.items() if k[axis] == name)


def field_label(name: str) -> str:
    """How people call a record field ("primary_metric" -> "Primary metric")."""
    return (DEFAULT_NAMES.get(name) or [name.replace("_", " ").capitalize()])[0]


# --- gathering --------------------------------------------------------------------------

def gather(
    state: Store,
    *,
    now: datetime,
    filters: Filters | None = None,
    names: Mapping[str, str] | None = None,
    escalation: EscalationConfig | None = None,
    zones: Mapping[str, str] | None = None,
) -> ReportData:
    """The report's data from `state`; `names` maps directory keys to people's names, `zones`
    to their time zones (for due times on the `escalation` ladder)."""
    filters = filters or Filters()
    since = filters.since or now - WEEK
    names = names or {}
    records = {r.key: (r.title, list(r.item_ids)) for r in state.records()}
    teams = teams_of(state, records)
    open_rows = state.findings(open_only=True)
    closed_rows = state.findings(resolved_since=since)
    owners = owners_of(open_rows + closed_rows)
    _check_filters(filters, teams, owners, names)
    open_lines = [_line(r, records, teams, owners, names) for r in open_rows]
    closed = [_line(r, records, teams, owners, names) for r in closed_rows]
    open_lines = sorted(filter(filters.matches, open_lines), key=_order)
    closed = sorted(filter(filters.matches, closed), key=lambda ln: (ln.resolved, ln.record))
    last_report = _last_report(state)
    since_report = state.findings(resolved_since=last_report) if last_report else []
    resolved = [_line(r, records, teams, owners, names) for r in since_report]
    rows = at_risk(
        open_lines,
        list(filter(filters.matches, resolved)),
        now=now,
        since=last_report,
        escalation=escalation or EscalationConfig(),
        zones=zones or {},
    )
    runs = state.runs(1)
    if filters.team or filters.owner:
        trend = _trend_of(state, filters, records, teams, owners, names)
    else:
        trend = [TrendPoint(rid, at, counts) for rid, at, counts in state.trend(TREND_RUNS)]
    if filters.since:
        trend = [p for p in trend if p.at >= filters.since]
    return ReportData(
        generated=now,
        since=since,
        filters=filters,
        open_lines=tuple(open_lines),
        closed=tuple(closed),
        trend=tuple(trend),
        last_run=runs[0].started if runs else None,
        last_outcome=(runs[0].outcome or "") if runs else "",
        records=len(records),
        stale=_stale(state, runs[0].started if runs else None),
        lost=tuple(sorted(stored_lost_access(state).items())),
        teams=tuple(sorted(set(teams.values()), key=str.casefold)),
        at_risk=tuple(rows),
        last_report=last_report,
    )


def _last_report(state: Store) -> datetime | None:
    text = state.fact(LAST_REPORT)
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None  # unreadable: count as if no report had been written


def _stale(state: Store, last_run: datetime | None) -> tuple[tuple[str, datetime], ...]:
    """Scopes not read whole by the last run, with when they last were."""
    if last_run is None:
        return ()
    return tuple(sorted((s, at) for s, at in state.last_reads().items() if at < last_run))


def _check_filters(
    filters: Filters, teams: Mapping[str, str], owners: Mapping[str, str], names: Mapping[str, str]
) -> None:
    """A `--team` or `--owner` that names nobody is a mistake, not an all-clear: say which
    ones the state knows."""
    if filters.team:
        known = sorted(set(teams.values()), key=str.casefold)
        if filters.team.casefold() not in {t.casefold() for t in known}:
            raise ConfigError(
                f"--team {filters.team!r}: no handoff in the state belongs to that team; "
                f"known teams: {', '.join(known) or 'none yet (run `handoff sync` first)'}."
            )
    if filters.owner:
        keys = set(owners.values()) | set(names)
        shown = {names.get(k, k): k for k in keys}
        wanted = filters.owner.casefold()
        if wanted not in {k.casefold() for k in keys} | {n.casefold() for n in shown}:
            listed = [f"{n} ({k})" if n != k else k for n, k in sorted(shown.items())]
            raise ConfigError(
                f"--owner {filters.owner!r}: nobody by that key or name owns a handoff or is "
                f"in [[people]]; known owners: {', '.join(listed) or 'none yet'}."
            )


def _order(ln: ReportLine) -> tuple[Any, ...]:
    return (severity_rank(ln.severity), ln.code, natural_key(ln.record), ln.subject)


def _line(
    row: FindingRow,
    records: Mapping[str, tuple[str, list[str]]],
    teams: Mapping[str, str],
    owners: Mapping[str, str],
    names: Mapping[str, str],
) -> ReportLine:
    record = row.record_key
    owner = owners.get(record, "")
    return ReportLine(
        record=record,
        title=records.get(record, ("", []))[0],
        code=row.code,
        severity=row.severity or "warning",
        subject=row.subject,
        message=row.message,
        system=row.system,
        item_key=row.item_key or record,
        url=row.url,
        owner=owner,
        owner_name=names.get(owner, owner),
        team=teams.get(record, ""),
        opened=row.first_seen,
        escalation=row.escalation,
        notified=tuple(dict.fromkeys(names.get(k, k) for k in row.notify)),
        resolved=row.resolved_at,
    )


def _trend_of(
    state: Store,
    filters: Filters,
    records: Mapping[str, tuple[str, list[str]]],
    teams: Mapping[str, str],
    owners: Mapping[str, str],
    names: Mapping[str, str],
) -> list[TrendPoint]:
    """The trend for one team or owner, rebuilt from each finding's current episode (an
    earlier episode of a finding that reopened is not counted)."""
    runs = state.runs(TREND_RUNS, dry_runs=False)
    lines = [_line(r, records, teams, owners, names) for r in state.findings()]
    lines = [ln for ln in lines if filters.matches(ln)]
    points = []
    for run in sorted(runs, key=lambda r: r.id):
        rid, at = run.id, run.started
        counts: dict[str, int] = {}
        for ln in lines:
            if ln.opened <= at and (ln.resolved is None or ln.resolved > at):
                counts[ln.code] = counts.get(ln.code, 0) + 1
        points.append(TrendPoint(rid, at, counts))
    return points
