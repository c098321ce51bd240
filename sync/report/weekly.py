"""The weekly closed loop: what was opened, closed, escalated and decided this week, per team,
against the week before — from the state alone (`handoff report --weekly`).

Opened and closed count findings (a handoff's open questions) by when they were first seen
and resolved. Escalated counts findings that reached a later step of the ladder than the owner
during the week (the moment is counted in working hours, as the rules count it). Decided
counts decision-log entries (go, no-go, pause, rollback) dated in the week, read from the
records rebuilt from the stored items. Teams are those of the report (`sync.report.people`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from mapping.due import reach_hours
from mapping.link import build_records
from mapping.people import Directory
from mapping.record import Decision, HandoffRecord
from mapping.rules_config import RulesConfig
from sync.report.data import NO_TEAM
from sync.report.people import teams_of
from sync.report.render import _md
from sync.report.show_values import owner_time_zone
from sync.settings import Settings
from sync.store import FindingRow, Store

__all__ = ["KINDS", "Weekly", "WeeklyEvent", "gather_weekly", "render_weekly_md", "weekly_json"]

WEEK = timedelta(days=7)
KINDS = ("opened", "closed", "escalated", "decided")
WEEKLY_MARKER = "<!-- handoff-sync:weekly -->"
WEEKLY_TITLE = "Weekly handoff review"


@dataclass(frozen=True)
class WeeklyEvent:
    kind: str  # one of KINDS
    at: datetime
    record: str
    team: str
    what: str  # the finding's code and subject, or the decision


@dataclass
class Weekly:
    start: datetime  # this week: [start, end)
    end: datetime
    events: list[WeeklyEvent] = field(default_factory=list)

    @property
    def previous_start(self) -> datetime:
        return self.start - WEEK

    def counts(self, team: str | None, *, previous: bool = False) -> dict[str, int]:
        lo, hi = (self.previous_start, self.start) if previous else (self.start, self.end)
        out = dict.fromkeys(KINDS, 0)
        for e in self.events:
            if lo <= e.at < hi and (team is None or e.team == team):
                out[e.kind] += 1
        return out

    def teams(self) -> list[str]:
        recent = {e.team for e in self.events if e.at >= self.previous_start}
        return sorted(recent, key=str.casefold)

    def this_week(self, kind: str) -> list[WeeklyEvent]:
        found = [e for e in self.events if e.kind == kind and self.start <= e.at < self.end]
        return sorted(found, key=lambda e: (e.at, e.record))


def gather_weekly(
    state: Store, settings: Settings, *, now: datetime, directory: Directory
) -> Weekly:
    """This week's and last week's loop from the state."""
    weekly = Weekly(start=now - WEEK, end=now)
    records = {r.key: (r.title, list(r.item_ids)) for r in state.records()}
    teams = {k: v or NO_TEAM for k, v in teams_of(state, records).items()}
    rules = settings.rules_config()
    records_built = _records(state, settings, directory)
    zones = {r.key: owner_time_zone(r, directory) for r in records_built}
    for row in state.findings():
        team, zone = teams.get(row.record_key, NO_TEAM), zones.get(row.record_key, "")
        weekly.events += _finding_events(row, team, rules, zone)
    for record in records_built:
        team = teams.get(record.key, NO_TEAM)
        for value in record.decision_log:
            entry = value.value
            when = _moment(entry.when) if isinstance(entry, Decision) else None
            if when is not None and isinstance(entry, Decision):
                who = f" by {entry.who.label}" if entry.who else ""
                weekly.events.append(WeeklyEvent("decided", when, record.key, team,
                                                 f"{entry.kind}{who}"))  # fmt: skip
    return weekly


def _finding_events(
    row: FindingRow, team: str, rules: RulesConfig, zone_name: str
) -> Iterable[WeeklyEvent]:
    """The finding's opening, closing and first climb past the owner (in the owner's hours)."""
    what = f"{row.code} {row.subject}".strip()
    yield WeeklyEvent("opened", row.first_seen, row.record_key, team, what)
    if row.resolved_at is not None:
        yield WeeklyEvent("closed", row.resolved_at, row.record_key, team, what)
    if row.escalation > 0:
        esc = rules.escalation
        ladder = sorted(s.after_hours for s in esc.ladder)
        if len(ladder) > 1:
            zone = esc.zone(zone_name)
            at = reach_hours(row.first_seen, ladder[1], zone, esc)
            if at is not None and (row.resolved_at is None or at < row.resolved_at):
                yield WeeklyEvent("escalated", at, row.record_key, team, what)


def _records(state: Store, settings: Settings, directory: Directory) -> list[HandoffRecord]:
    items = list(state.iter_items())
    return build_records(
        items,
        settings.fields,
        directory,
        settings.link,
        projects=state.link_projects() or None,
        extracts=state.extracts_of([(i.system, i.id) for i in items]),
    )


def _moment(when: object) -> datetime | None:
    """A decision's date as a moment (a bare date: its noon UTC, inside its own day)."""
    if isinstance(when, datetime):
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    if isinstance(when, date):
        return datetime.combine(when, time(12), UTC)
    return None


def _delta(now: int, before: int) -> str:
    diff = now - before
    return f"{now} ({'+' if diff > 0 else '±' if diff == 0 else '−'}{abs(diff)})"


def render_weekly_md(weekly: Weekly) -> str:
    """The weekly review as Markdown: a table per team against last week, then the lists."""
    out = [f"# {WEEKLY_TITLE}: {weekly.start:%Y-%m-%d} to {weekly.end:%Y-%m-%d}", ""]
    out += ["Counts this week, with the change against the week before in brackets.", ""]
    out += ["| Team | " + " | ".join(k.capitalize() for k in KINDS) + " |"]
    out += ["|---|" + "---:|" * len(KINDS)]
    for team in [*weekly.teams(), None]:
        now, before = weekly.counts(team), weekly.counts(team, previous=True)
        name = "**All teams**" if team is None else _md(team)
        out += [f"| {name} | " + " | ".join(_delta(now[k], before[k]) for k in KINDS) + " |"]
    for kind in KINDS[1:]:
        events = weekly.this_week(kind)
        out += ["", f"## {kind.capitalize()} this week", ""]
        out += [f"- {e.at:%a %d %b}: {_md(e.record)} ({_md(e.team)}): {_md(e.what)}"
                for e in events] or ["_None._"]  # fmt: skip
    return "\n".join(out).rstrip() + "\n"


def _pair(weekly: Weekly, team: str | None) -> dict[str, dict[str, int]]:
    return {"this_week": weekly.counts(team), "previous_week": weekly.counts(team, previous=True)}


def weekly_json(weekly: Weekly) -> dict[str, object]:
    """The review for scripts: counts per team and for all, and each event of both weeks."""
    teams: Mapping[str, object] = {team: _pair(weekly, team) for team in weekly.teams()}
    events = [e for e in weekly.events if e.at >= weekly.previous_start]
    return {
        "start": weekly.start.isoformat(),
        "end": weekly.end.isoformat(),
        "all": _pair(weekly, None),
        "teams": teams,
        "events": [
            {"kind": e.kind, "at": e.at.isoformat(), "record": e.record, "team": e.team,
             "what": e.what}
            for e in sorted(events, key=lambda e: (e.at, e.kind, e.record))
        ],
    }
