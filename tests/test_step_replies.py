"""sync.writeback.steps: a new reply per escalation step, once, with a real mention, its own
marker, and marked done when its finding closes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import MARKER_PREFIX
from mapping.people import Directory, PersonConfig
from mapping.rules import Finding
from sync.writeback.markup import FORMATS
from sync.writeback.render import marker_for
from sync.writeback.steps import (
    DONE,
    STEP_PREFIX,
    ReplyPlace,
    SeenReply,
    StepReply,
    describe_replies,
    plan_step_replies,
    step_marker,
)

ANA_JIRA = "557058:0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
ANA_NOTION = "1a2b3c4d-1a2b-1a2b-1a2b-1a2b3c4d5e6f"
PEOPLE = Directory.from_config(
    [
        PersonConfig(key="ana", name="Ana Souza", jira=ANA_JIRA, github="ana", notion=ANA_NOTION),
        PersonConfig(key="bo", name="Bo Lind", github="bo-lind"),
        PersonConfig(key="lee", name="Lee Park", github="leepark"),
    ]
)
GH = ReplyPlace("github", "github:acme/web", "101", "acme/web#7", uid="u-101", fmt="github-md")


def finding(
    step: int, notify: tuple[str, ...], code: str = "stale", record: str = "R-1"
) -> Finding:
    return Finding(
        code, "warning", "handoff", "Nobody has touched this handoff in 3 days.", record,
        "github", "101", "acme/web#7", "https://github.com/acme/web/issues/7",
        notify=notify, escalation=step,
    )  # fmt: skip


def _seen(replies: list[StepReply], done: bool = False) -> dict[str, SeenReply]:
    """The notices these replies gave, as the state keeps them (a row per notice)."""
    return {
        n.marker: SeenReply(n.marker, f"c{i}", done, n.finding_id, n.step)
        for i, r in enumerate(replies)
        for n in r.notices
    }


def test_a_new_step_gets_one_new_reply_mentioning_only_who_it_adds() -> None:
    f = finding(1, ("ana", "bo"))
    out = plan_step_replies(GH, [f], {}, {f.id: frozenset({"ana"})}, PEOPLE)
    assert [(r.action, r.people, r.step) for r in out] == [("reply.create", ("bo",), 1)]
    body = out[0].body
    assert body.startswith("@bo-lind: this needs you now (escalation step 2, approver).")
    assert "@ana" not in body  # told at step 1 already
    assert out[0].marker == step_marker("github", "u-101", f.id, 1, "bo") and out[0].marker in body


def test_the_reply_is_never_repeated_once_seen() -> None:
    f = finding(1, ("ana", "bo"))
    first = plan_step_replies(GH, [f], {}, {f.id: frozenset({"ana"})}, PEOPLE)
    assert len(first) == 1
    assert plan_step_replies(GH, [f], _seen(first), {f.id: frozenset({"ana"})}, PEOPLE) == []


def test_the_first_step_gets_no_reply_our_comment_tells_them() -> None:
    assert plan_step_replies(GH, [finding(0, ("ana",))], {}, {}, PEOPLE) == []


def test_each_step_has_its_own_marker_and_reply() -> None:
    f0 = finding(0, ("ana",))
    told: dict[str, frozenset[str]] = {f0.id: frozenset({"ana"})}  # the first step's
    seen: dict[str, SeenReply] = {}
    sent: list[StepReply] = []
    for step, notify in enumerate([("ana",), ("ana", "bo"), ("ana", "bo", "lee")]):
        f = finding(step, notify)
        out = plan_step_replies(GH, [f], seen, told, PEOPLE)
        for r in out:
            seen |= {k: replace(v, comment_id=f"c{len(seen)}") for k, v in _seen([r]).items()}
            told[f.id] = told.get(f.id, frozenset()) | set(r.people)
        sent += out
    assert [(r.people, r.step) for r in sent] == [(("bo",), 1), (("lee",), 2)]
    assert len({r.marker for r in sent}) == 2
    assert len({r.to_op().key for r in sent}) == 2


def test_a_jump_of_two_steps_is_one_reply_naming_both() -> None:
    f = finding(2, ("ana", "bo", "lee"))
    (r,) = plan_step_replies(GH, [f], {}, {f.id: frozenset({"ana"})}, PEOPLE)
    assert (r.people, r.step) == (("bo", "lee"), 2)
    assert r.body.startswith("@bo-lind @leepark: this needs you now (escalation step 3, lead).")


def _climb() -> list[StepReply]:
    f1, f2 = finding(1, ("ana", "bo")), finding(2, ("ana", "bo", "lee"))
    told = {f1.id: frozenset({"ana"})}
    sent = plan_step_replies(GH, [f1], {}, told, PEOPLE)
    told = {f1.id: frozenset({"ana", "bo"})}
    return sent + plan_step_replies(GH, [f2], _seen(sent), told, PEOPLE)


def test_a_closed_finding_marks_its_replies_done_once_and_without_a_mention() -> None:
    sent = _climb()
    assert len(sent) == 2
    closed = plan_step_replies(GH, [], _seen(sent), {}, PEOPLE)
    assert sorted((r.action, r.target) for r in closed) == [
        ("reply.done", "c0"),
        ("reply.done", "c1"),
    ]
    assert all(DONE in r.body and "@" not in r.body.split("<!--")[0] for r in closed)
    assert plan_step_replies(GH, [], _seen(sent, done=True), {}, PEOPLE) == []


def test_a_finding_that_falls_back_a_step_closes_only_the_higher_reply() -> None:
    sent = _climb()
    told = {sent[0].finding_id: frozenset({"ana", "bo", "lee"})}
    back = plan_step_replies(GH, [finding(1, ("ana", "bo"))], _seen(sent), told, PEOPLE)
    assert [(r.action, r.step) for r in back] == [("reply.done", 2)]


def test_nobody_new_means_no_reply() -> None:
    f = finding(2, ("ana",))
    assert plan_step_replies(GH, [f], {}, {f.id: frozenset({"ana"})}, PEOPLE) == []
    assert plan_step_replies(GH, [finding(1, ())], {}, {}, PEOPLE) == []


def test_findings_of_other_items_are_not_replied_here() -> None:
    other = ReplyPlace("github", "github:acme/web", "202", "acme/web#9")
    assert plan_step_replies(other, [finding(1, ("ana", "bo"))], {}, {}, PEOPLE) == []


def test_the_step_marker_is_never_taken_for_our_sticky_comment() -> None:
    m = step_marker("github", "u-101", "R-1:stale:handoff", 0)
    assert m.startswith(STEP_PREFIX) and MARKER_PREFIX not in m
    assert marker_for("github", "u-101") not in m


def _mentions(fmt: str, body: str) -> list[Any]:
    if fmt == "jira-adf":
        doc = json.loads(body)
        return [n["attrs"]["id"] for p in doc["content"] for n in p.get("content", [])
                if n.get("type") == "mention"]  # fmt: skip
    if fmt == "notion-rich-text":
        return [o["mention"]["user"]["id"] for o in json.loads(body) if o["type"] == "mention"]
    return [body.split(": this needs you")[0]]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_mention_is_a_real_one_in_every_format(fmt: str) -> None:
    system = "jira" if fmt.startswith("jira") else fmt.split("-")[0]
    place = ReplyPlace(system, f"{system}:X", "101", "X-1", fmt=fmt)
    f = Finding(
        "stale", "warning", "handoff", "Stale.", "R-1", system, "101", "X-1", "",
        notify=("ana",), escalation=1,
    )  # fmt: skip
    (reply,) = plan_step_replies(place, [f], {}, {}, PEOPLE)
    want = {"jira-wiki": [f"[~accountid:{ANA_JIRA}]"], "jira-adf": [ANA_JIRA],
            "github-md": ["@ana"], "notion-rich-text": [ANA_NOTION]}[fmt]  # fmt: skip
    assert _mentions(fmt, reply.body) == want
    assert reply.marker in reply.body


def test_dry_run_lines_name_who_is_told() -> None:
    out = plan_step_replies(GH, [finding(1, ("ana",))], {}, {}, PEOPLE)
    (line,) = describe_replies(out)
    assert line.startswith("acme/web#7: new reply telling ana (step 2)")


MONDAY_9 = datetime(2026, 12, 7, 9, tzinfo=UTC)


def test_a_person_outside_working_hours_is_named_at_their_next_working_start() -> None:
    """Quiet hours (issue 17) for replies too: whoever is asleep is left out of the reply and
    the record is due again when they start work; they get a reply of their own then."""
    f = finding(2, ("ana", "bo", "lee"))
    asleep = {"bo": MONDAY_9}
    later: list[tuple[str, datetime]] = []
    told = {f.id: frozenset({"ana"})}
    (now,) = plan_step_replies(GH, [f], {}, told, PEOPLE, wake=asleep.get, later=later)
    assert now.people == ("lee",) and "@bo-lind" not in now.body
    assert later == [("R-1", MONDAY_9)]
    # Monday 9:00: Bo is awake; Lee was told by the first reply and is not named again.
    told = {f.id: frozenset({"ana", "lee"})}
    (then,) = plan_step_replies(GH, [f], _seen([now]), told, PEOPLE, wake=lambda p: None)
    assert then.people == ("bo",) and "@leepark" not in then.body
    assert then.marker != now.marker
    # Nobody awake: no reply at all, and the record waits for the first to start.
    later.clear()
    gone = plan_step_replies(GH, [f], {}, told, PEOPLE, wake=lambda p: MONDAY_9, later=later)
    assert gone == [] and later == [("R-1", MONDAY_9)]


def test_several_steps_for_one_person_on_one_item_in_one_run_are_one_reply() -> None:
    """Digest: two findings of one item climbing in one run make one reply, naming Bo once,
    with a line and a marker for each; it says done only once both have closed."""
    f1, f2 = finding(1, ("ana", "bo")), finding(1, ("ana", "bo"), code="no_owner")
    told = {f1.id: frozenset({"ana"}), f2.id: frozenset({"ana"})}
    (r,) = plan_step_replies(GH, [f1, f2], {}, told, PEOPLE)
    assert r.people == ("bo",) and r.body.count("@bo-lind") == 1
    assert r.body.startswith("@bo-lind: these need you now.")
    markers = {step_marker("github", "u-101", f.id, 1, "bo") for f in (f1, f2)}
    assert {n.marker for n in r.notices} == markers and all(m in r.body for m in markers)
    facts = json.loads(r.to_op().value)
    assert sorted(n[1] for n in facts["notices"]) == sorted([f1.id, f2.id])
    seen = _seen([r])
    assert plan_step_replies(GH, [f1, f2], seen, told, PEOPLE) == []
    assert plan_step_replies(GH, [f2], seen, told, PEOPLE) == []  # f2 still open: not done
    (done,) = plan_step_replies(GH, [], seen, {}, PEOPLE)
    assert done.action == "reply.done" and all(m in done.body for m in markers)
