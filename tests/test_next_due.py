"""`next_due` against brute force: between now and the moment it names, time alone never
changes a record's findings (earlier is allowed, later would miss a finding)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from test_mapping_rules import DIRECTORY as PEOPLE
from test_mapping_rules import SRC, good_record

from mapping import Directory, HandoffRecord, PersonConfig, PersonRef, RulesConfig, Stage, Value
from mapping.due import next_due
from mapping.escalation import EscalationConfig, LadderStep
from mapping.rules import evaluate

DIRECTORY = Directory.from_config(
    [
        PersonConfig("ana", jira="acc-ana", time_zone="Europe/Berlin"),
        PersonConfig("kai", jira="acc-kai", time_zone="Pacific/Auckland"),
    ]
)
LADDERS = [
    RulesConfig(),
    RulesConfig(
        stale_days=2,
        escalation=EscalationConfig(
            ladder=[
                LadderStep(after_hours=0, to="owner"),
                LadderStep(after_hours=3.5, to="approver"),
                LadderStep(after_hours=9, to="lead"),
            ],
            work_days=[0, 2, 4, 5],
            start_hour=7,
            end_hour=24,
        ),
    ),
]


def _person(key: str) -> PersonRef:
    return PersonRef("jira", f"acc-{key}", key, "person", key)


def _record(rnd: random.Random, now: datetime) -> HandoffRecord:
    base = good_record()
    stage = rnd.choice([Stage.DESIGN, Stage.PRE_RUN, Stage.RUN, Stage.RUN, Stage.CLOSED])
    expiry = now.date() + timedelta(days=rnd.randint(-3, 4))
    activity = now - timedelta(hours=rnd.uniform(0, 24 * 12))
    owner = rnd.choice(["ana", "kai", "nobody"])
    when = rnd.choice([expiry, datetime.combine(expiry, datetime.min.time(), UTC)])
    return replace(
        base,
        stage=stage,
        status=(Value(stage, SRC),),
        linked=rnd.random() > 0.1,
        expiry=(Value(when, SRC),) if rnd.random() > 0.2 else (),
        last_activity=(Value(activity, SRC),),
        outcome_owner=(Value(_person(owner), SRC),) if owner != "nobody" else (),
        hypothesis=() if rnd.random() < 0.5 else base.hypothesis,
    )


@pytest.mark.parametrize("seed", range(6))
def test_findings_hold_until_next_due(seed: int) -> None:
    rnd = random.Random(seed)
    checked = moved = 0
    for _ in range(60):
        now = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(minutes=rnd.randint(0, 60 * 24 * 14))
        cfg = rnd.choice(LADDERS)
        record = _record(rnd, now)
        opened = {}
        found = evaluate(record, cfg, DIRECTORY, now, {})
        for f in found:  # some findings opened earlier, the rest open now
            if rnd.random() < 0.5:
                opened[f.id] = now - timedelta(hours=rnd.uniform(0, 60))
        found = evaluate(record, cfg, DIRECTORY, now, opened)
        due = next_due(record, found, cfg, DIRECTORY, now, opened)
        later = {**{f.id: now for f in found}, **opened}  # as the store records them
        assert due is None or due > now
        horizon = due or now + timedelta(days=30)
        for _ in range(8):
            t = now + (horizon - now) * rnd.random()
            assert evaluate(record, cfg, DIRECTORY, t, later) == found, (seed, now, t, due)
            checked += 1
        if due is not None:
            moved += evaluate(record, cfg, DIRECTORY, due + timedelta(minutes=1), later) != found
    assert checked == 480
    assert moved > 0  # the moments named are real transitions, not only safe guesses


def test_expiry_is_due_the_midnight_after_the_date() -> None:
    now = datetime(2025, 3, 5, 12, tzinfo=UTC)
    record = good_record(expiry=(Value(date(2025, 3, 7), SRC),))
    found = evaluate(record, RulesConfig(), PEOPLE, now)
    assert found == []
    assert next_due(record, found, RulesConfig(), PEOPLE, now) == datetime(2025, 3, 8, tzinfo=UTC)
    assert next_due(replace(record, stage=Stage.CLOSED), [], RulesConfig(), PEOPLE, now) is None


def test_a_record_with_nothing_timed_is_never_due() -> None:
    now = datetime(2025, 3, 5, 12, tzinfo=UTC)
    record = good_record(expiry=(), stage=Stage.DESIGN, status=(Value(Stage.DESIGN, SRC),))
    assert evaluate(record, RulesConfig(), PEOPLE, now) == []
    assert next_due(record, [], RulesConfig(), PEOPLE, now) is None


def test_an_open_finding_is_due_at_its_next_rung() -> None:
    # Opened Wednesday 12:00 UTC = 13:00 in Berlin: 16 working hours (9-17) later is
    # Friday 13:00 Berlin, when the approver is told.
    now = datetime(2025, 3, 5, 12, tzinfo=UTC)
    record = good_record(rollback_triggers=())
    found = evaluate(record, RulesConfig(), PEOPLE, now)
    due = next_due(record, found, RulesConfig(), PEOPLE, now)
    assert due is not None
    assert timedelta(0) <= datetime(2025, 3, 7, 12, tzinfo=UTC) - due < timedelta(minutes=1)
