"""sync.writeback.steps: a new reply per escalation step, once, with a real mention, its own
marker, and marked done when its finding closes."""

from __future__ import annotations

import json
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


def finding(step: int, notify: tuple[str, ...], code: str = "stale") -> Finding:
    return Finding(
        code, "warning", "handoff", "Nobody has touched this handoff in 3 days.", "R-1",
        "github", "101", "acme/web#7", "https://github.com/acme/web/issues/7",
        notify=notify, escalation=step,
    )  # fmt: skip


def _seen(replies: list[StepReply], done: bool = False) -> dict[str, SeenReply]:
    return {r.marker: SeenReply(r.marker, f"c{i}", done) for i, r in enumerate(replies)}


def test_a_new_step_gets_one_new_reply_mentioning_only_who_it_adds() -> None:
    f = finding(1, ("ana", "bo"))
    out = plan_step_replies(GH, [f], {}, {f.id: frozenset({"ana"})}, PEOPLE)
    assert [(r.action, r.people, r.step) for r in out] == [("reply.create", ("bo",), 1)]
    body = out[0].body
    assert body.startswith("@bo-lind: this needs you now (escalation step 2, approver).")
    assert "@ana" not in body  # told at step 1 already
    assert out[0].marker == step_marker("github", "u-101", f.id, 1) and out[0].marker in body


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
            seen[r.marker] = SeenReply(r.marker, f"c{len(seen)}")
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
