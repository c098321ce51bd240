"""When a record's findings can next change with time alone.

A record whose items did not change is evaluated again only when the clock can change what
the rules say: its expiry date passing, its staleness threshold (the message names the date
of the last activity, not a count of days, so once stale it stays put), an open finding
reaching the next step of the escalation ladder. `next_due` answers with that moment, or None
when time alone never changes the findings. Earlier than the real moment costs one evaluation
too many; later would miss a finding, so every bound here errs early.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mapping.escalation import _MAX_DAYS, EscalationConfig, LadderStep, working_hours
from mapping.finding import Finding
from mapping.people import Directory
from mapping.record import HandoffRecord, PersonRef, Stage
from mapping.rules_config import RulesConfig

__all__ = ["next_due", "next_rung", "reach_hours"]

_DAY = timedelta(days=1)


def next_due(
    record: HandoffRecord,
    findings: Iterable[Finding],
    cfg: RulesConfig,
    directory: Directory,
    now: datetime,
    opened_at: Mapping[str, datetime] | None = None,
) -> datetime | None:
    """The earliest time after `now` at which `evaluate(record, ...)` may answer otherwise
    than it does at `now` (the record and people unchanged); None: never by time alone.

    `findings`: what `evaluate` gave at `now`; `opened_at`: when each open finding was first
    seen (a finding not in it opens now)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if record.stage == Stage.CLOSED:
        return None
    moments = [_expiry(record, now), _staleness(record, cfg, now), _cadence(record, cfg, now)]
    opened = opened_at or {}
    for finding in findings:
        moments.append(_escalation(record, finding, cfg, directory, now, opened.get(finding.id)))
    due = [m for m in moments if m is not None]
    return min(due) if due else None


def _expiry(record: HandoffRecord, now: datetime) -> datetime | None:
    """Expired once the earliest date is before today (UTC): the midnight after it."""
    if not record.linked:
        return None
    dates = [
        v.value.date() if isinstance(v.value, datetime) else v.value
        for v in record.expiry
        if isinstance(v.value, date)
    ]
    if not dates:
        return None
    at = datetime.combine(min(dates) + _DAY, time(0), UTC)
    return at if at > now else None


def _staleness(record: HandoffRecord, cfg: RulesConfig, now: datetime) -> datetime | None:
    """Stale after `stale_days` without activity while running, inconclusive after
    `inconclusive_days` in analysis; after that only activity changes it."""
    days = {Stage.RUN: cfg.stale_days, Stage.ANALYSIS: cfg.inconclusive_days}.get(record.stage)
    if not record.linked or not days:
        return None
    stamps = [v.value for v in record.last_activity if isinstance(v.value, datetime)]
    if not stamps:
        return None
    last = max(stamps)
    if (now - last).days < days:
        return last + days * _DAY
    return None


def _cadence(record: HandoffRecord, cfg: RulesConfig, now: datetime) -> datetime | None:
    """A review further away than `review_cadence_days` is flagged until the day it comes
    within reach (the midnight, UTC, `review_cadence_days` before it)."""
    days = cfg.review_cadence_days
    if not record.linked or not days or record.stage != Stage.RUN:
        return None
    dates = [
        v.value.date() if isinstance(v.value, datetime) else v.value
        for v in record.expiry
        if isinstance(v.value, date)
    ]
    if not dates:
        return None
    at = datetime.combine(min(dates) - days * _DAY, time(0), UTC)
    return at if at > now else None


def _escalation(
    record: HandoffRecord,
    finding: Finding,
    cfg: RulesConfig,
    directory: Directory,
    now: datetime,
    first: datetime | None,
) -> datetime | None:
    """When an open finding reaches the next rung of the ladder it has not reached yet."""
    esc = cfg.escalation
    first = first or now
    if first.tzinfo is None:
        first = first.replace(tzinfo=UTC)
    if first > now + _DAY:
        return first - _DAY  # a skewed clock: `evaluate` counts from now until then
    owners = [
        v.value.key
        for v in (*record.outcome_owner, *record.engineering_owner)
        if isinstance(v.value, PersonRef) and v.value.key
    ]
    person = directory.get(owners[0]) if owners else None
    rung = next_rung(first, now, esc.zone(person.time_zone if person else ""), esc)
    return rung[1] if rung else None


def next_rung(
    opened: datetime, now: datetime, zone: ZoneInfo, cfg: EscalationConfig
) -> tuple[LadderStep, datetime] | None:
    """The ladder step a finding open since `opened` reaches next, and when (counted in the
    working hours of `zone`); None when it has reached the top or never will."""
    hours = working_hours(opened, now, zone, cfg)
    ahead = sorted((s for s in cfg.ladder if s.after_hours > hours), key=lambda s: s.after_hours)
    for step in ahead:
        at = reach_hours(opened, step.after_hours, zone, cfg)
        if at is not None:
            return step, at
    return None


def reach_hours(
    start: datetime, hours: float, zone: ZoneInfo, cfg: EscalationConfig
) -> datetime | None:
    """The first moment by which `working_hours(start, moment)` reaches `hours`, a few
    seconds early rather than late; None when it never does within the counted days."""
    if cfg.end_hour <= cfg.start_hour:
        return None
    local = start.astimezone(zone)
    day, left = local.date(), hours * 3600.0
    for _ in range(_MAX_DAYS):
        if day.weekday() in cfg.work_days:
            open_ = datetime.combine(day, time(cfg.start_hour), zone)
            close = (
                datetime.combine(day + _DAY, time(0), zone)
                if cfg.end_hour == 24
                else datetime.combine(day, time(cfg.end_hour), zone)
            )
            lo = max(open_, local)
            span = (close - lo).total_seconds()
            if span > 0:
                if span >= left:
                    # Seconds early: float hours and zone arithmetic must never make us late.
                    return (lo + timedelta(seconds=left) - timedelta(seconds=5)).astimezone(UTC)
                left -= span
        day += _DAY
    return None
