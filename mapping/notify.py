"""Who is told about which step of which finding, and when: the pure core of issue 17.

An @mention added by editing a comment does not notify reliably (see docs/), so each ladder
step a finding reaches is told to the people at that step by a channel that does. This module
only decides; the engine plans each delivery as an outbox op keyed by `Digest.key`.

- A notice is one person at one step of one finding (`Notice.key`); it is told once: the
  caller passes back every key already planned (`told`) and those are never answered again.
- Quiet hours: a notice is deliverable only inside the person's working hours in their own
  time zone; one reached at night waits for the start of their next working period.
- Digest: all notices deliverable for one person in one run become one message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mapping.due import reach_hours
from mapping.escalation import _MAX_DAYS, EscalationConfig, LadderStep, working_hours
from mapping.finding import Finding
from mapping.people import Directory
from mapping.record import HandoffRecord, PersonRef, Value

__all__ = [
    "Digest",
    "Notice",
    "digests",
    "in_working_hours",
    "ladder_targets",
    "next_delivery",
    "next_working_start",
    "notice_line",
    "notices",
    "pending",
    "told_keys",
]

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Notice:
    """One person to be told that one finding reached one ladder step (plain values, so the
    state can keep it until it is delivered)."""

    person: str  # directory key
    finding_id: str
    step: int  # index in the ladder sorted by after_hours (as Finding.escalation counts)
    role: str  # owner | approver | lead
    reached_at: datetime  # UTC: when the finding reached the step
    deliver_at: datetime  # UTC: first moment in the person's working hours at/after reached_at
    line: str = ""  # what is due, where, and why this person hears of it

    @property
    def key(self) -> str:
        """Idempotency key: one person, one finding, one step."""
        return f"{self.person}|{self.finding_id}|{self.step}"


def notice_line(finding: Finding, step: int, role: str) -> str:
    """One line for a message: what is due, where, and why this person hears of it."""
    where = finding.item_key or finding.item_id
    link = f" {finding.url}" if finding.url else ""
    return f"[{finding.severity}] {where}: {finding.message} (step {step + 1}, as {role}){link}"


@dataclass(frozen=True)
class Digest:
    """Every notice deliverable to one person in one run, as one message."""

    person: str
    name: str
    notices: tuple[Notice, ...]

    @property
    def key(self) -> str:
        """Idempotency key of the message: the person and the exact notices it carries, so
        the same run replayed after a crash plans the very same op."""
        joined = "\n".join(sorted(n.key for n in self.notices))
        digest = hashlib.sha256(joined.encode()).hexdigest()[:24]
        return f"notify:{self.person}:{digest}"

    @property
    def subject(self) -> str:
        n = len(self.notices)
        return "1 handoff needs you" if n == 1 else f"{n} handoffs need you"

    @property
    def text(self) -> str:
        lines = [f"{self.name or self.person}, {self.subject.lower()}:"]
        lines += [f"- {n.line}" for n in self.notices]
        return "\n".join(lines)


def _keys(values: tuple[Value, ...]) -> list[str]:
    return [v.value.key for v in values if isinstance(v.value, PersonRef) and v.value.key]


def ladder_targets(record: HandoffRecord, cfg: EscalationConfig) -> dict[str, list[str]]:
    """Who stands at each role of the ladder for a record (as `rules._escalate` counts it)."""
    owners = _keys(record.outcome_owner) or _keys(record.engineering_owner)
    return {"owner": owners, "approver": _keys(record.cost_cap_approver), "lead": list(cfg.leads)}


def _day_bounds(day: datetime, zone: ZoneInfo, cfg: EscalationConfig) -> tuple[datetime, datetime]:
    d = day.date()
    open_ = datetime.combine(d, time(cfg.start_hour), zone)
    if cfg.end_hour == 24:
        return open_, datetime.combine(d + _DAY, time(0), zone)
    return open_, datetime.combine(d, time(cfg.end_hour), zone)


def in_working_hours(moment: datetime, zone: ZoneInfo, cfg: EscalationConfig) -> bool:
    """True when `moment` falls inside a working period in `zone`."""
    local = moment.astimezone(zone)
    if local.weekday() not in cfg.work_days or cfg.end_hour <= cfg.start_hour:
        return False
    open_, close = _day_bounds(local, zone, cfg)
    return open_ <= local < close


def next_working_start(moment: datetime, zone: ZoneInfo, cfg: EscalationConfig) -> datetime | None:
    """`moment` itself inside working hours, else the start of the next working period in
    `zone` (UTC); None when there is none (no working days or hours configured)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if in_working_hours(moment, zone, cfg):
        return moment.astimezone(UTC)
    if cfg.end_hour <= cfg.start_hour or not cfg.work_days:
        return None
    local = moment.astimezone(zone)
    for offset in range(_MAX_DAYS):
        day = local + offset * _DAY
        if day.weekday() not in cfg.work_days:
            continue
        open_, _ = _day_bounds(day, zone, cfg)
        if open_ > local:
            return open_.astimezone(UTC)
    return None


def _person_zone(person: str, directory: Directory, cfg: EscalationConfig) -> ZoneInfo:
    found = directory.get(person)
    return cfg.zone(found.time_zone if found else "")


def notices(
    finding: Finding,
    record: HandoffRecord,
    cfg: EscalationConfig,
    directory: Directory,
    opened: datetime,
    now: datetime,
) -> list[Notice]:
    """Every notice the finding owes by `now`: each step it has reached (hours counted in the
    owner's zone, capped at `finding.escalation` so an `ack` stops the climb) times the
    people at that step. A person standing at two steps is told at each step once."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if opened.tzinfo is None:
        opened = opened.replace(tzinfo=UTC)
    targets = ladder_targets(record, cfg)
    owners = targets["owner"]
    owner_zone = _person_zone(owners[0], directory, cfg) if owners else cfg.zone("")
    hours = working_hours(opened, now, owner_zone, cfg)
    ladder: Sequence[LadderStep] = sorted(cfg.ladder, key=lambda s: s.after_hours)
    out: list[Notice] = []
    for index, step in enumerate(ladder):
        if step.after_hours > hours or index > finding.escalation:
            break
        reached = _reached(opened, step, owner_zone, cfg)
        for person in dict.fromkeys(targets[step.to]):
            zone = _person_zone(person, directory, cfg)
            at = next_working_start(reached, zone, cfg)
            if at is not None:
                line = notice_line(finding, index, step.to)
                out.append(Notice(person, finding.id, index, step.to, reached, at, line))
    return out


def _reached(opened: datetime, step: LadderStep, zone: ZoneInfo, cfg: EscalationConfig) -> datetime:
    if step.after_hours <= 0:
        return opened.astimezone(UTC)
    at = reach_hours(opened, step.after_hours, zone, cfg)
    return at if at is not None else opened.astimezone(UTC)


def pending(all_notices: Iterable[Notice], told: Collection[str]) -> list[Notice]:
    """The notices not told yet (`told`: keys of notices already planned for delivery)."""
    seen: set[str] = set()
    out = []
    for n in all_notices:
        if n.key in told or n.key in seen:
            continue
        seen.add(n.key)
        out.append(n)
    return out


def digests(
    all_notices: Iterable[Notice],
    told: Collection[str],
    directory: Directory,
    cfg: EscalationConfig,
    now: datetime,
) -> list[Digest]:
    """The messages to send in this run: per person, every untold notice whose delivery time
    has come, and only while `now` is inside that person's working hours."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    by_person: dict[str, list[Notice]] = {}
    for n in pending(all_notices, told):
        if n.deliver_at <= now and in_working_hours(
            now, _person_zone(n.person, directory, cfg), cfg
        ):
            by_person.setdefault(n.person, []).append(n)
    out = []
    for person in sorted(by_person):
        found = directory.get(person)
        items = sorted(by_person[person], key=lambda n: (n.finding_id, n.step))
        out.append(Digest(person, found.name if found else "", tuple(items)))
    return out


def next_delivery(
    all_notices: Iterable[Notice],
    told: Collection[str],
    directory: Directory,
    cfg: EscalationConfig,
    now: datetime,
) -> datetime | None:
    """When a run must next happen to deliver what is still waiting (quiet hours), or None."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    moments: list[datetime] = []
    for n in pending(all_notices, told):
        later = max(n.deliver_at, now)
        at = next_working_start(later, _person_zone(n.person, directory, cfg), cfg)
        if at is not None and at > now:
            moments.append(at)
    return min(moments) if moments else None


def told_keys(planned: Iterable[Digest]) -> set[str]:
    """The notice keys a set of planned digests carries: what to record as told."""
    return {n.key for d in planned for n in d.notices}
