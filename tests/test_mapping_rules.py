"""Each finding kind on a realistic record, and properties that hold for any record."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from mapping import (
    RECORD_FIELDS,
    ChecklistItem,
    Decision,
    Directory,
    HandoffRecord,
    Money,
    PersonConfig,
    PersonRef,
    Provenance,
    RulesConfig,
    SourceRef,
    Stage,
    Value,
    evaluate,
)
from mapping.record import FIELD_KINDS

NOW = datetime(2025, 3, 5, 12, tzinfo=UTC)  # a Wednesday
SRC = Provenance("jira", "10001", "EXP-42", "Hypothesis", "https://x/EXP-42")
NOTION = Provenance("notion", "pg1", "Checkout brief", "property Outcome owner", "https://n/pg1")
DIRECTORY = Directory.from_config(
    [
        PersonConfig("ana", jira="acc-ana", time_zone="Europe/Berlin"),
        PersonConfig("bo", github="bo"),
        PersonConfig("cy", notion="u-cy"),
        PersonConfig("dee", jira="acc-dee", active=False),
    ],
    groups=["growth-team"],
)
CFG = RulesConfig()


def v(value, source=SRC) -> tuple[Value, ...]:
    return (Value(value, source),)


def person(key: str, handle: str = "") -> PersonRef:
    return PersonRef("jira", handle or key, key, "person", key)


def good_record(**changes) -> HandoffRecord:
    """A running experiment whose handoff is complete: no findings."""
    base = HandoffRecord(
        key="EXP-42",
        title="Checkout test",
        stage=Stage.RUN,
        sources=(SourceRef("jira", "10001", "EXP-42", "https://x/EXP-42", "issue"),),
        status=v(Stage.RUN),
        hypothesis=v("One-page checkout lifts conversion by 2%"),
        primary_metric=v("checkout conversion"),
        guardrail_metrics=v("refund rate"),
        cost_cap=v(Money(2000, "USD")),
        expected_duration=v("2 weeks"),
        sample_size=v("40k sessions per arm"),
        rollout_triggers=v("guardrails green for 3 days"),
        rollback_triggers=v("refund rate > 1.5%"),
        instrumentation=v(ChecklistItem("checkout_completed event", True)),
        instrumentation_verified=v(True),
        outcome_owner=v(person("ana", "acc-ana")),
        engineering_owner=v(person("bo")),
        monitoring_owner=v(person("cy")),
        alert_window=v("09:00-17:00 CET"),
        cost_cap_approver=v(person("ana", "acc-ana")),
        informed=tuple(Value(person(f"p{i}"), SRC) for i in range(3)),
        definition_of_done=v("flag at 100%, dashboards linked"),
        feature_flag=v("checkout_one_page"),
        test_rollout_plan=v("5% then 50%"),
        decision_log=v(Decision("go", person("ana", "acc-ana"), date(2025, 3, 1))),
        expiry=v(date(2025, 6, 1)),
        triage_speed=v("fast"),
        triage_cost=v("low"),
        triage_risk=v("low"),
        last_activity=v(NOW - timedelta(days=1)),
    )
    return replace(base, **changes)


def codes(record: HandoffRecord, **kw) -> list[str]:
    return [f.id for f in evaluate(record, CFG, DIRECTORY, NOW, **kw)]


def test_a_complete_handoff_has_no_findings() -> None:
    assert codes(good_record()) == []


def test_missing_field() -> None:
    (finding,) = evaluate(good_record(rollback_triggers=()), CFG, DIRECTORY, NOW)
    assert (finding.code, finding.subject, finding.severity) == (
        "missing-field",
        "rollback_triggers",
        "error",
    )
    assert finding.item_key == "EXP-42" and finding.url == "https://x/EXP-42"
    assert "Rollback triggers" in finding.message
    assert finding.notify == ("ana",)


def test_missing_field_is_stage_aware() -> None:
    design = good_record(stage=Stage.DESIGN, triage_risk=(), rollback_triggers=())
    assert codes(design) == []


def test_ownerless_missing_group_unknown_inactive() -> None:
    assert codes(good_record(monitoring_owner=())) == ["EXP-42:ownerless:monitoring_owner"]
    group = PersonRef("github", "growth-team", kind="group")
    found = evaluate(good_record(engineering_owner=v(group)), CFG, DIRECTORY, NOW)
    assert [f.subject for f in found] == ["engineering_owner"] and "group" in found[0].message
    unknown = PersonRef("jira", "acc-zed", "Zed")
    found = evaluate(good_record(monitoring_owner=v(unknown)), CFG, DIRECTORY, NOW)
    assert "not in the people directory" in found[0].message
    found = evaluate(good_record(monitoring_owner=v(person("dee"))), CFG, DIRECTORY, NOW)
    assert "inactive" in found[0].message


def test_conflict_keeps_both_values_and_points_at_the_second() -> None:
    owners = (Value(person("ana", "acc-ana"), SRC), Value(person("cy"), NOTION))
    (finding,) = evaluate(good_record(outcome_owner=owners), CFG, DIRECTORY, NOW)
    assert finding.code == "conflict" and finding.item_id == "pg1"
    assert "ana (EXP-42)" in finding.message and "cy (Checkout brief)" in finding.message


def test_expired() -> None:
    assert codes(good_record(expiry=v(date(2025, 3, 1)))) == ["EXP-42:expired:expiry"]


def test_stale() -> None:
    old = good_record(last_activity=v(NOW - timedelta(days=10)))
    assert codes(old) == ["EXP-42:stale:last_activity"]


def test_a_stale_finding_says_the_same_tomorrow() -> None:
    """Nothing changed but the day: our comment must not be rewritten (at 10k items, each
    day's first run edited every stale comment to count one more day)."""
    old = good_record(last_activity=v(NOW - timedelta(days=10)))
    today = [f.message for f in evaluate(old, CFG, DIRECTORY, NOW)]
    tomorrow = [f.message for f in evaluate(old, CFG, DIRECTORY, NOW + timedelta(days=1))]
    assert today == tomorrow and "since 2025-02-23" in today[0]


def test_decision_missing_go_no_go_and_instrumentation() -> None:
    record = good_record(decision_log=(), instrumentation_verified=v(False))
    assert codes(record) == [
        "EXP-42:decision-missing:go/no-go",
        "EXP-42:decision-missing:instrumentation",
    ]


def test_decision_missing_cost_cap_sign_off() -> None:
    by_bo = v(Decision("go", person("bo"), date(2025, 3, 1)))
    record = good_record(cost_cap=v(Money(20_000, "USD")), decision_log=by_bo)
    assert codes(record) == ["EXP-42:decision-missing:cost-cap sign-off"]
    assert codes(replace(record, decision_log=good_record().decision_log)) == []


def test_needs_sync_before_run() -> None:
    record = good_record(
        stage=Stage.PRE_RUN,
        decision_log=(),
        triage_risk=v("high"),
        rollback_triggers=v("TBD"),
        cost_cap=v(Money(60_000, "EUR")),
        rollout_triggers=v("all regions at once"),
    )
    assert [f.id for f in evaluate(record, CFG, DIRECTORY, NOW) if f.code == "needs-sync"] == [
        "EXP-42:needs-sync:cost cap",
        "EXP-42:needs-sync:cross-domain rollout",
        "EXP-42:needs-sync:risk",
        "EXP-42:needs-sync:rollback path",
    ]


def test_noisy() -> None:
    many = tuple(Value(person(f"p{i}"), SRC) for i in range(12))
    (finding,) = evaluate(good_record(informed=many), CFG, DIRECTORY, NOW)
    assert (finding.code, finding.severity) == ("noisy", "info")


def test_unlinked_lone_item_gets_only_unlinked() -> None:
    lone = HandoffRecord(
        "acme/web#18",
        "misc",
        Stage.DESIGN,
        (SourceRef("github", "acme/web#18", "acme/web#18", "u", "pull"),),
        linked=False,
    )
    (finding,) = evaluate(lone, CFG, DIRECTORY, NOW)
    assert (finding.code, finding.item_id) == ("unlinked", "acme/web#18")


def test_closed_records_are_left_alone() -> None:
    assert codes(good_record(stage=Stage.CLOSED, hypothesis=())) == []


def test_escalation_counts_working_hours_in_the_owners_zone() -> None:
    record = good_record(monitoring_owner=())
    fid = "EXP-42:ownerless:monitoring_owner"
    lead_cfg = RulesConfig.model_validate({"escalation": {"leads": ["lena"]}})
    # opened Friday 18:00 Berlin: the weekend does not count, so by Wednesday noon UTC it is
    # Mon+Tue (16 h) + Wed 09-13 Berlin (4 h) = 20 h: past the approver step, not the lead.
    opened = datetime(2025, 2, 28, 17, tzinfo=UTC)
    (finding,) = evaluate(record, lead_cfg, DIRECTORY, NOW, {fid: opened})
    assert finding.escalation == 1 and finding.notify == ("ana",)  # ana owns and approves
    (finding,) = evaluate(record, lead_cfg, DIRECTORY, NOW, {fid: NOW - timedelta(days=14)})
    assert finding.escalation == 2 and finding.notify == ("ana", "lena")
    (fresh,) = evaluate(record, lead_cfg, DIRECTORY, NOW)
    assert fresh.escalation == 0


# ---- properties ------------------------------------------------------------------------

TEXT = st.text(max_size=300)
ODD = st.one_of(
    TEXT,
    st.none(),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.just("x" * 100_000),
    st.dates(),
    st.datetimes(timezones=st.just(UTC)),
    st.builds(Money, st.floats(allow_nan=False, allow_infinity=False), TEXT),
    st.builds(
        PersonRef,
        st.sampled_from(["jira", "github", "notion"]),
        TEXT,
        TEXT,
        st.sampled_from(["person", "group", "bot"]),
        st.sampled_from(["", "ana", "dee"]),
    ),
    st.builds(Decision, st.sampled_from(["go", "no-go", "pause", "rollback"])),
    st.builds(ChecklistItem, TEXT, st.booleans()),
)
PROV = st.builds(Provenance, st.sampled_from(["jira", "github", "notion"]), TEXT, TEXT, TEXT, TEXT)
VALUES = st.lists(st.builds(Value, ODD, PROV), max_size=4).map(tuple)


@st.composite
def records(draw) -> HandoffRecord:
    fields = {name: draw(VALUES) for name in draw(st.sets(st.sampled_from(RECORD_FIELDS)))}
    sources = draw(
        st.lists(
            st.builds(
                SourceRef, st.sampled_from(["jira", "github", "notion"]), TEXT, TEXT, TEXT, TEXT
            ),
            max_size=3,
        ).map(tuple)
    )
    return HandoffRecord(
        draw(TEXT),
        draw(TEXT),
        draw(st.sampled_from(list(Stage))),
        sources,
        linked=draw(st.booleans()),
        **fields,
    )


OPENED = st.dictionaries(TEXT, st.datetimes(timezones=st.just(UTC)), max_size=3)


@settings(max_examples=150, deadline=None)
@given(records(), OPENED, st.datetimes(timezones=st.just(UTC)))
def test_rules_never_raise_and_are_deterministic(record, opened, now) -> None:
    first = evaluate(record, CFG, DIRECTORY, now, opened)
    assert first == evaluate(record, CFG, DIRECTORY, now, opened)
    assert all(
        f.code
        in {
            "missing-field",
            "ownerless",
            "conflict",
            "expired",
            "stale",
            "decision-missing",
            "needs-sync",
            "noisy",
            "unlinked",
        }
        for f in first
    )
    assert len({f.id for f in first}) == len(first)


# A benign value for each kind: one that satisfies the field and trips no other rule.
BENIGN = {
    "text": "documented",
    "texts": "documented",
    "money": Money(100, "USD"),
    "date": date(2099, 1, 1),
    "datetime": NOW,
    "flag": True,
    "checklist": ChecklistItem("event", True),
    "stage": Stage.RUN,
    "decision": Decision("go", person("ana", "acc-ana")),
    "person": person("bo"),
    "people": person("bo"),
}


@settings(max_examples=100, deadline=None)
@given(st.sets(st.sampled_from(RECORD_FIELDS), min_size=1), st.sampled_from(list(Stage)))
def test_filling_a_missing_field_removes_exactly_that_finding(emptied, stage) -> None:
    record = good_record(stage=stage, **{name: () for name in emptied})
    before = {f.id for f in evaluate(record, CFG, DIRECTORY, NOW)}
    for finding in [f for f in evaluate(record, CFG, DIRECTORY, NOW) if f.code == "missing-field"]:
        name = finding.subject
        filled = replace(record, **{name: v(BENIGN[FIELD_KINDS[name]])})
        after = {f.id for f in evaluate(filled, CFG, DIRECTORY, NOW)}
        assert after == before - {finding.id}, name
