"""Commands in comments: the parser and their pure application to one record."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from mapping import Directory, HandoffRecord, Money, PersonConfig, RulesConfig, evaluate
from mapping.commands import Command, CommandSource, parse_commands
from mapping.commands_apply import HELP, apply_commands
from mapping.escalation import EscalationConfig
from tests.test_mapping_rules import NOW, good_record, person, v

DIRECTORY = Directory.from_config(
    [
        PersonConfig("ana", jira="acc-ana", github="ana-gh", notion="u-ana"),
        PersonConfig("bo", github="bo"),
        PersonConfig("cy", notion="u-cy"),
        PersonConfig("dee", jira="acc-dee", active=False),
        PersonConfig("lee", github="lee", jira="acc-lee"),
        PersonConfig("max", github="max"),
    ],
    groups=["growth-team"],
)
CFG = RulesConfig(escalation=EscalationConfig(leads=["lee"]))


def src(author: str, system: str = "github", at: datetime = NOW, comment: str = "c1"):
    return CommandSource(system, "acme/web#7", "acme/web#7", comment, author, at, "https://g/7")


def one(text: str, author: str = "bo", system: str = "github", at: datetime = NOW) -> Command:
    (command,) = parse_commands(text, src(author, system, at))
    return command


# --- the parser ------------------------------------------------------------------------------


def test_each_command_is_read() -> None:
    owner = one("/handoff owner outcome @ana-gh")
    assert (owner.verb, owner.role, owner.person) == ("owner", "outcome_owner", "ana-gh")
    snooze = one("/handoff snooze stale 3 waiting for the data team")
    assert (snooze.verb, snooze.kind, snooze.days, snooze.reason) == (
        "snooze",
        "stale",
        3,
        "waiting for the data team",
    )
    waive = one("/handoff waive noisy the list is intended")
    assert (waive.verb, waive.kind, waive.reason) == ("waive", "noisy", "the list is intended")
    assert one("/handoff ack").verb == "ack"
    assert one("/handoff help").verb == "help"
    assert one("/handoff").verb == "help"


def test_mentions_in_each_systems_shape() -> None:
    assert one("/handoff owner engineering [~accountid:acc-ana]", system="jira").person == "acc-ana"
    assert one("/handoff owner approver [~ana]", system="jira").person == "ana"
    assert one("/handoff owner monitoring @u-cy", system="notion").role == "monitoring_owner"


def test_commands_among_other_text_and_several_per_comment() -> None:
    text = "Thanks!\n/handoff ack\nsome words /handoff help\n  /HANDOFF snooze stale 2d busy\n"
    verbs = [c.verb for c in parse_commands(text, src("bo"))]
    assert verbs == ["ack", "snooze"]
    assert parse_commands("no commands here", src("bo")) == []


def test_bad_lines_become_unknown_with_a_reason() -> None:
    for text, words in [
        ("/handoff frobnicate", "unknown command"),
        ("/handoff owner boss @ana", "unknown role"),
        ("/handoff owner outcome ana", "owner needs"),
        ("/handoff snooze stale 90 too long", "1 to 30 days"),
        ("/handoff snooze stale x because", "1 to 30 days"),
        ("/handoff snooze stale 3", "snooze needs"),
        ("/handoff waive stale", "waive needs"),
    ]:
        command = one(text)
        assert command.verb == "unknown" and words in command.problem, text


# --- checks and effects ----------------------------------------------------------------------


def apply(record: HandoffRecord, *commands: Command, now: datetime = NOW, opened=None):
    return apply_commands(record, commands, CFG, DIRECTORY, now, opened)


def test_owner_sets_the_role_with_its_provenance() -> None:
    record = good_record(outcome_owner=())
    assert any(f.code == "ownerless" for f in evaluate(record, CFG, DIRECTORY, NOW))
    done = apply(record, one("/handoff owner outcome @ana-gh", author="bo"))
    (outcome,) = done.outcomes
    assert outcome.ok and outcome.target == "ana" and outcome.author == "bo"
    (value,) = done.record.outcome_owner
    assert value.value.key == "ana"
    assert (value.source.system, value.source.item_id, value.source.field) == (
        "github",
        "acme/web#7",
        "command by bo",
    )
    assert not any(f.code == "ownerless" for f in done.findings)


def test_refusals_unknown_person_stranger_group_inactive_outsider() -> None:
    record = good_record()
    stranger = apply(record, one("/handoff ack", author="nobody"))
    assert not stranger.outcomes[0].ok and "don't know" in stranger.outcomes[0].answer
    for text, words in [
        ("/handoff owner outcome @ghost", "don't know"),
        ("/handoff owner outcome @growth-team", "don't know"),
    ]:
        (outcome,) = apply(record, one(text, author="bo")).outcomes
        assert not outcome.ok and words in outcome.answer
    inactive = apply(record, one("/handoff owner outcome [~accountid:acc-dee]", "acc-ana", "jira"))
    assert not inactive.outcomes[0].ok and "not active" in inactive.outcomes[0].answer
    outsider = apply(record, one("/handoff owner outcome @bo", author="max"))
    assert not outsider.outcomes[0].ok and "part in this handoff" in outsider.outcomes[0].answer
    assert outsider.record == record
    # an inactive author is no author
    dee = apply(record, one("/handoff ack", author="acc-dee", system="jira"))
    assert not dee.outcomes[0].ok


def test_a_lead_may_act_on_any_record() -> None:
    done = apply(good_record(), one("/handoff owner outcome @max", author="lee"))
    assert done.outcomes[0].ok and done.record.outcome_owner[0].value.key == "max"


def test_snooze_hides_findings_until_it_ends() -> None:
    record = good_record(hypothesis=())
    assert any(f.code == "missing-field" for f in evaluate(record, CFG, DIRECTORY, NOW))
    command = one("/handoff snooze missing-field 3 drafting it")
    done = apply(record, command)
    assert done.outcomes[0].ok and "until 2025-03-08" in done.outcomes[0].answer
    assert not any(f.code == "missing-field" for f in done.findings)
    later = apply(record, command, now=NOW + timedelta(days=4))
    assert any(f.code == "missing-field" for f in later.findings)


def test_waive_by_subject_and_unknown_kind() -> None:
    record = good_record(hypothesis=())
    done = apply(record, one("/handoff waive hypothesis not needed for this one"))
    assert done.outcomes[0].ok
    assert not any(f.subject == "hypothesis" for f in done.findings)
    (outcome,) = apply(record, one("/handoff waive nonsense because")).outcomes
    assert not outcome.ok and "no finding" in outcome.answer


def _unsigned_cap() -> HandoffRecord:
    record = good_record(cost_cap=v(Money(50_000, "USD")), cost_cap_approver=v(person("cy")))
    assert any(f.subject == "cost-cap sign-off" for f in evaluate(record, CFG, DIRECTORY, NOW))
    return record


def test_only_the_approver_waives_the_cost_cap_sign_off() -> None:
    record = _unsigned_cap()
    refused = apply(record, one("/handoff waive cost-cap-sign-off board said yes", author="bo"))
    assert not refused.outcomes[0].ok and "approver" in refused.outcomes[0].answer
    assert any(f.subject == "cost-cap sign-off" for f in refused.findings)
    also = apply(record, one("/handoff waive decision-missing all fine", author="bo"))
    assert not also.outcomes[0].ok
    done = apply(record, one("/handoff waive cost-cap-sign-off signed on paper", "u-cy", "notion"))
    assert done.outcomes[0].ok
    assert not any(f.subject == "cost-cap sign-off" for f in done.findings)


def test_ack_stops_escalation_at_its_step() -> None:
    record = good_record(hypothesis=())
    opened = {f.id: NOW - timedelta(days=1) for f in evaluate(record, CFG, DIRECTORY, NOW)}
    later = NOW + timedelta(days=7)
    plain = apply(record, now=later, opened=opened)
    top = max(f.escalation for f in plain.findings)
    acked = apply(record, one("/handoff ack", author="bo"), now=later, opened=opened)
    assert acked.outcomes[0].ok
    held = max(f.escalation for f in acked.findings)
    assert held < top
    at_ack = max(f.escalation for f in evaluate(record, CFG, DIRECTORY, NOW, opened))
    assert held == at_ack


def test_help_answers_anyone_known_and_unknown_verbs_explain() -> None:
    (outcome,) = apply(good_record(), one("/handoff help", author="max")).outcomes
    assert outcome.ok and outcome.answer == HELP
    (bad,) = apply(good_record(), one("/handoff frob", author="max")).outcomes
    assert not bad.ok and "unknown command" in bad.answer and bad.line.startswith("✗")


def test_commands_apply_in_the_order_written() -> None:
    record = good_record(
        outcome_owner=(),
        engineering_owner=(),
        monitoring_owner=(),
        cost_cap_approver=(),
        decide=(),
        approve=(),
    )
    first = one("/handoff owner outcome @max", author="max", at=NOW)
    then = one("/handoff snooze stale 2 away", author="max", at=NOW + timedelta(minutes=1))
    done = apply(record, then, first)
    assert [o.command.verb for o in done.outcomes] == ["owner", "snooze"]
    assert all(o.ok for o in done.outcomes)
    assert replace(done.record, outcome_owner=()) == record
