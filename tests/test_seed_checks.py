"""The seeds' checks, one test each on a realistic record (mapping.rules_seeds and the
`[rules]` keys behind them): each fails on the record that breaks it, passes on the good one,
and can be configured off."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from test_mapping_rules import DIRECTORY, NOW, SRC, good_record, person, v

from mapping import Decision, Money, PersonRef, RulesConfig, Stage, Value, evaluate
from mapping.due import next_due

CFG = RulesConfig()


def ids(record, cfg: RulesConfig = CFG) -> list[str]:
    return [f.id for f in evaluate(record, cfg, DIRECTORY, NOW)]


def test_decide_and_approve_must_include_a_person() -> None:
    team = PersonRef("github", "growth-team", kind="group")
    bot = PersonRef("notion", "bot-1", "Exp bot", kind="bot")
    record = good_record(decide=v(team), approve=(Value(bot, SRC), Value(team, SRC)))
    found = evaluate(record, CFG, DIRECTORY, NOW)
    assert [(f.code, f.subject, f.severity) for f in found] == [
        ("ownerless", "approve", "error"),
        ("ownerless", "decide", "error"),
    ]
    assert "Exp bot, growth-team" in found[0].message and "approves" in found[0].message
    # A team review request beside a person is how GitHub works: the person holds the role.
    fine = good_record(approve=(Value(team, SRC), Value(person("ana", "acc-ana"), SRC)))
    assert ids(fine) == []
    assert ids(record, RulesConfig(decision_rights_people=False)) == []


def test_one_person_as_outcome_and_engineering_owner_is_flagged_where_the_rules_say_so() -> None:
    ana = person("ana", "acc-ana")
    record = good_record(engineering_owner=v(ana))
    (found,) = evaluate(record, CFG, DIRECTORY, NOW)
    assert (found.code, found.subject, found.severity) == (
        "ownerless",
        "outcome_owner/engineering_owner",
        "warning",
    )
    assert "both the outcome owner and the engineering owner" in found.message
    assert ids(record, RulesConfig(separate_owners=False)) == []
    assert ids(record, RulesConfig(separate_owners_from=Stage.ANALYSIS)) == []


def test_a_go_decision_must_say_who_decided() -> None:
    record = good_record(decision_log=v(Decision("go", None, date(2025, 3, 1))))
    (found,) = evaluate(record, CFG, DIRECTORY, NOW)
    assert (found.code, found.subject) == ("decision-missing", "go decider")
    assert "2025-03-01" in found.message and "EXP-42" in found.message
    # No decision at all stays the run-entry finding it always was.
    assert ids(good_record(decision_log=())) == ["EXP-42:decision-missing:go/no-go"]


def test_analysis_with_no_activity_escalates_as_inconclusive() -> None:
    quiet = good_record(stage=Stage.ANALYSIS, last_activity=v(NOW - timedelta(days=15)))
    (found,) = evaluate(quiet, CFG, DIRECTORY, NOW)
    assert (found.code, found.subject, found.severity) == ("stale", "inconclusive", "error")
    assert "inconclusive" in found.message and found.notify == ("ana",)
    recent = good_record(stage=Stage.ANALYSIS, last_activity=v(NOW - timedelta(days=13)))
    assert ids(recent) == []
    # Time alone makes it inconclusive: the record is due again at that moment.
    assert next_due(recent, [], CFG, DIRECTORY, NOW) == NOW + timedelta(days=1)
    assert ids(quiet, RulesConfig(inconclusive_days=0)) == []


def test_running_experiments_are_reviewed_on_a_cadence() -> None:
    cfg = RulesConfig(review_cadence_days=14)
    far = good_record(expiry=v(date(2025, 4, 30)))
    (found,) = evaluate(far, cfg, DIRECTORY, NOW)
    assert (found.code, found.subject) == ("stale", "review cadence")
    assert "2025-04-30" in found.message and "14 days" in found.message
    assert ids(good_record(expiry=v(date(2025, 3, 19))), cfg) == []
    assert ids(far) == []  # off by default
    # The finding goes by itself once the review comes within the cadence: midnight (UTC)
    # of 2025-04-16, a moment `next_due` knows (it answers the earliest of several).
    moment = datetime(2025, 4, 16, tzinfo=UTC)
    later = replace(far, last_activity=v(moment - timedelta(hours=1)))
    subjects = [f.subject for f in evaluate(later, cfg, DIRECTORY, moment - timedelta(seconds=1))]
    assert "review cadence" in subjects
    assert "review cadence" not in [f.subject for f in evaluate(later, cfg, DIRECTORY, moment)]
    assert next_due(later, [], cfg, DIRECTORY, moment - timedelta(hours=1)) == moment


def test_expiry_is_required_from_the_stage_the_rules_say() -> None:
    design = good_record(stage=Stage.DESIGN, expiry=())
    assert ids(design) == []
    assert ids(design, RulesConfig(expiry_from=Stage.DESIGN)) == ["EXP-42:missing-field:expiry"]


def test_cost_cap_tiers_per_function() -> None:
    # EXP-42 belongs to the EXP function; its tier is lower than the workspace's.
    record = good_record(
        cost_cap=v(Money(6000, "USD")), decision_log=v(Decision("go", person("bo")))
    )
    assert ids(record) == []
    found = evaluate(record, RulesConfig(cost_cap_tiers={"exp": 5000}), DIRECTORY, NOW)
    assert [(f.code, f.subject) for f in found] == [("decision-missing", "cost-cap sign-off")]
    assert "above 5,000" in found[0].message
    assert ids(record, RulesConfig(cost_cap_tiers={"OPS": 5000})) == []
