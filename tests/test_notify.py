"""mapping/notify.py: who is told about which ladder step, when (quiet hours across zones and
weekends), once per step, as one digest per person per run."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from test_mapping_rules import SRC, good_record, person, v

from mapping import Directory, PersonConfig, RulesConfig
from mapping.escalation import EscalationConfig
from mapping.notify import (
    digests,
    in_working_hours,
    next_delivery,
    next_working_start,
    notices,
    told_keys,
)
from mapping.record import HandoffRecord, Value
from mapping.rules import evaluate

PEOPLE = Directory.from_config(
    [
        PersonConfig("ana", name="Ana", jira="acc-ana", time_zone="Europe/Berlin"),
        PersonConfig("kai", name="Kai", jira="acc-kai", time_zone="Pacific/Auckland"),
        PersonConfig("lou", name="Lou", jira="acc-lou", time_zone="America/Los_Angeles"),
    ]
)
ESC = EscalationConfig(leads=["lou"])  # ladder 0 / 16 / 40 working hours, 9-17 Mon-Fri
CFG = RulesConfig(escalation=ESC)
# Monday 3 March 2025, 09:00 in Berlin (UTC+1).
OPENED = datetime(2025, 3, 3, 8, tzinfo=UTC)


def _record(**changes: object) -> HandoffRecord:
    base = good_record(
        outcome_owner=v(person("ana", "acc-ana")),
        cost_cap_approver=v(person("kai", "acc-kai")),
        hypothesis=(),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _found(record: HandoffRecord, now: datetime, cfg: RulesConfig = CFG, opened=None):
    """The record's missing-field findings (the fields these tests remove), nothing else."""
    found = evaluate(record, cfg, PEOPLE, now, opened or {})
    return [f for f in found if f.subject in ("hypothesis", "primary_metric")]


def _owed(record: HandoffRecord, now: datetime, cfg: RulesConfig = CFG):
    """Every notice owed at `now` by the record's findings, all open since OPENED."""
    opened = {f.id: OPENED for f in _found(record, now, cfg)}
    found = _found(record, now, cfg, opened)
    return [n for f in found for n in notices(f, record, cfg.escalation, PEOPLE, OPENED, now)]


def test_each_step_reaches_its_person_in_their_working_hours() -> None:
    now = datetime(2025, 3, 10, 12, tzinfo=UTC)  # the next Monday: every step reached
    owed = _owed(_record(), now)
    got = sorted((n.step, n.person, n.role, n.reached_at, n.deliver_at) for n in owed)
    # Step 2 after 16 working hours in Berlin: Tuesday 17:00 Berlin (5 s early) = 15:59:55 UTC,
    # which is Wednesday 04:59 in Auckland: Kai hears at 09:00 Auckland (Tue 20:00 UTC).
    # Step 3 after 40 hours: Friday 15:59:55 UTC = 07:59 in Los Angeles: Lou hears at 09:00.
    assert got == [
        (0, "ana", "owner", OPENED, OPENED),
        (
            1,
            "kai",
            "approver",
            datetime(2025, 3, 4, 15, 59, 55, tzinfo=UTC),
            datetime(2025, 3, 4, 20, tzinfo=UTC),
        ),
        (
            2,
            "lou",
            "lead",
            datetime(2025, 3, 7, 15, 59, 55, tzinfo=UTC),
            datetime(2025, 3, 7, 17, tzinfo=UTC),
        ),
    ]


def test_a_step_reached_on_friday_evening_waits_for_monday() -> None:
    esc = ESC.model_copy(update={"leads": ["kai"]})
    record = _record(cost_cap_approver=v(person("ana", "acc-ana")))
    owed = _owed(record, datetime(2025, 3, 10, 12, tzinfo=UTC), RulesConfig(escalation=esc))
    (lead,) = [n for n in owed if n.role == "lead"]
    # Friday 15:59:55 UTC is Saturday 04:59 in Auckland: the next working start is Monday
    # 09:00 there, which is Sunday 20:00 UTC.
    assert lead.deliver_at == datetime(2025, 3, 9, 20, tzinfo=UTC)
    assert in_working_hours(lead.deliver_at, ZoneInfo("Pacific/Auckland"), esc)
    # Ana is owner and approver: told at each of the two steps, once each.
    assert sorted((n.person, n.step) for n in owed) == [("ana", 0), ("ana", 1), ("kai", 2)]


def test_next_working_start_across_a_dst_change_and_no_hours() -> None:
    la = ZoneInfo("America/Los_Angeles")
    # Saturday 8 March 2025 noon in LA; DST starts Sunday: Monday 09:00 PDT = 16:00 UTC.
    at = next_working_start(datetime(2025, 3, 8, 20, tzinfo=UTC), la, ESC)
    assert at == datetime(2025, 3, 10, 16, tzinfo=UTC)
    assert next_working_start(OPENED, la, ESC.model_copy(update={"work_days": []})) is None


def test_every_person_is_told_each_step_exactly_once_inside_working_hours() -> None:
    """Hourly runs for two weeks: each notice is delivered once, at the first run inside
    the person's working hours after the step, and never again."""
    record = _record()
    told: set[str] = set()
    sent: list[tuple[datetime, str, str]] = []
    now = OPENED
    for _ in range(24 * 14):
        owed = _owed(record, now)
        for d in digests(owed, told, PEOPLE, ESC, now):
            zone = ESC.zone(PEOPLE.get(d.person).time_zone)  # type: ignore[union-attr]
            assert in_working_hours(now, zone, ESC), (d.person, now)
            sent += [(now, d.person, n.key) for n in d.notices]
            told |= told_keys([d])
        now += timedelta(hours=1)
    keys = [k for _, _, k in sent]
    assert len(keys) == len(set(keys)) == 3
    assert [(t, p) for t, p, _ in sent] == [
        (OPENED, "ana"),
        (datetime(2025, 3, 4, 20, tzinfo=UTC), "kai"),
        (datetime(2025, 3, 7, 17, tzinfo=UTC), "lou"),
    ]


def test_several_steps_for_one_person_in_one_run_are_one_digest() -> None:
    esc = ESC.model_copy(update={"leads": ["ana"]})
    cfg = RulesConfig(escalation=esc)
    record = _record(cost_cap_approver=v(person("ana", "acc-ana")), primary_metric=())
    now = datetime(2025, 3, 10, 12, tzinfo=UTC)  # Monday 13:00 Berlin, nothing told yet
    owed = _owed(record, now, cfg)
    (digest,) = digests(owed, set(), PEOPLE, esc, now)
    assert digest.person == "ana" and len(digest.notices) == 6  # 2 findings x 3 steps
    assert digest.subject == "6 handoffs need you" and digest.text.startswith("Ana, ")
    assert "EXP-42" in digest.text and "as lead" in digest.text
    # Replayed (a crash before anything was recorded): the very same key, so the outbox
    # takes it as the same op; once told, nothing is owed.
    (again,) = digests(_owed(record, now, cfg), set(), PEOPLE, esc, now)
    assert again.key == digest.key
    assert digests(owed, told_keys([digest]), PEOPLE, esc, now) == []
    # A different set of notices is a different message.
    (part,) = digests(owed, {digest.notices[0].key}, PEOPLE, esc, now)
    assert part.key != digest.key and len(part.notices) == 5


def test_an_acknowledged_finding_stops_notifying_above_its_step() -> None:
    record = _record()
    now = datetime(2025, 3, 10, 12, tzinfo=UTC)
    (finding,) = _found(record, now)
    capped = replace(finding, escalation=0)
    owed = notices(capped, record, ESC, PEOPLE, OPENED, now)
    assert [(n.person, n.step) for n in owed] == [("ana", 0)]


def test_quiet_hours_name_the_next_run() -> None:
    record = _record()
    # Tuesday 16:00 UTC: Kai's step is reached, but it is 05:00 in Auckland.
    now = datetime(2025, 3, 4, 16, tzinfo=UTC)
    owed = _owed(record, now)
    told = {n.key for n in owed if n.person == "ana"}
    assert digests(owed, told, PEOPLE, ESC, now) == []
    assert next_delivery(owed, told, PEOPLE, ESC, now) == datetime(2025, 3, 4, 20, tzinfo=UTC)
    assert next_delivery(owed, {n.key for n in owed}, PEOPLE, ESC, now) is None


def test_no_opened_time_means_told_now_and_unknown_people_use_the_default_zone() -> None:
    record = _record(outcome_owner=(Value(person("zed"), SRC),))
    now = datetime(2025, 3, 5, 10, tzinfo=UTC)
    (finding,) = _found(record, now)
    owed = notices(finding, record, ESC, PEOPLE, now, now)
    assert [(n.person, n.deliver_at) for n in owed] == [("zed", now)]
