"""Every command, in each of the three systems, end to end through the sandbox and the real
clients: owner, snooze, waive (refused for anyone but the cost-cap approver, then accepted from
the approver just named), ack, help, an unknown command and an unknown person. Each is answered
once in our one comment, audited, and (on GitHub) reacted to; the next sync writes nothing."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from engine_fixtures import ANA_NOTION, BEN_NOTION, workspace, write_config
from test_commands_e2e import (
    MARK,
    _notion_comment,
    _text,
    audit_commands,
    github_ours,
    jira_ours,
    notion_ours,
    sync,
)

from connectors.sandbox import Sandbox
from sync.writeback.render import MAX_ANSWERS

pytestmark = pytest.mark.slow

NOBODY = "0a1b2c3d-0000-4000-8000-0000000zzzz1"  # a Notion user the directory does not know
STRANGER = {"jira": "acc-zed", "github": "mallory", "notion": NOBODY}
# Who acts (has a part in the handoff), whom they name, and how each system writes a mention.
ACTOR = {"jira": "ana", "github": "ben-gh", "notion": BEN_NOTION}
NAMED = {"jira": ("ben", "Ben Okafor"), "github": ("ana-gh", "Ana Souza"),
         "notion": (ANA_NOTION, "Ana Souza")}  # fmt: skip
MENTION = {"jira": "[~accountid:acc-ben]", "github": "@ana-gh", "notion": None}
SNOOZED = {"jira": "hypothesis", "github": "unlinked", "notion": "hypothesis"}


def _script(system: str) -> list[tuple[str, str]]:
    """(author, command) in the order they are said."""
    actor, named = ACTOR[system], NAMED[system][0]
    return [
        (actor, "/handoff owner monitoring {B}"),
        (STRANGER[system], "/handoff ack"),
        (actor, "/handoff waive decision-missing we agreed"),
        (actor, "/handoff owner approver {B}"),
        (named, "/handoff waive decision-missing approved, within the cap"),
        (actor, f"/handoff snooze {SNOOZED[system]} 30 drafting it"),
        (actor, "/handoff ack"),
        (actor, "/handoff help"),
        (actor, "/handoff frobnicate"),
    ]


EXPECTED = [  # what our comment answers, in the same order; True: done, False: refused
    ("monitoring owner is now {name}", True),
    ("I don't know {stranger}", False),
    ("only the cost-cap approver may waive", False),
    ("cost cap approver is now {name}", True),
    ("waived decision-missing", True),
    ("snoozed {kind} until", True),
    ("acknowledged: escalation stops at its current step", True),
    ("/handoff owner <role> @person", True),
    ("unknown command 'frobnicate'", False),
]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seed(system: str, ws: dict[str, Any]) -> None:
    """Jira and GitHub: the comments are there before the first sync reads them."""
    start = datetime.now(UTC) - timedelta(minutes=30)
    said = [(a, c.replace("{B}", MENTION[system] or "")) for a, c in _script(system)]
    if system == "jira":
        issue = ws["jira"]["issues"][2]
        issue["comments"] = [
            {"author": a, "body": c, "created": _iso(start + timedelta(minutes=i))}
            for i, (a, c) in enumerate(said)
        ]
    elif system == "github":
        ws["github"]["users"] = [{"login": "mallory", "name": "Mallory"}]
        pull = ws["github"]["repos"]["acme/web"]["pulls"][1]
        pull["assignees"] = ["ben-gh"]  # ben has a part: the PR's engineering owner
        pull["comments"] = [
            {"user": a, "body": c, "created_at": _iso(start + timedelta(minutes=i))}
            for i, (a, c) in enumerate(said)
        ]


def _say_in_notion(sb: Sandbox) -> None:
    mention = {
        "type": "mention",
        "mention": {"type": "user", "user": {"object": "user", "id": ANA_NOTION}},
        "plain_text": "@Ana Souza",
        "annotations": {},
        "href": None,
    }
    for author, command in _script("notion"):
        rich = [_text(command.replace("{B}", ""))]
        if "{B}" in command:
            rich.append(mention)
        _notion_comment(sb, author, rich)
        sb.advance(timedelta(minutes=1))  # each said after the one before


def _ours(sb: Sandbox, system: str) -> list[str]:
    if system == "jira":
        return [b.replace("\\", "") for b in jira_ours(sb, "EXP-3")]
    if system == "github":  # as a reader sees it: no HTML escapes, no mention-breaking joiner
        return [html.unescape(b).replace("\u2060", "") for b in github_ours(sb, 2)]
    return notion_ours(sb)


@pytest.mark.parametrize("system", ["jira", "github", "notion"])
def test_every_command_in_each_system(system: str, tmp_path: Path) -> None:
    name = NAMED[system][1]
    wanted = [
        (text.format(name=name, stranger=STRANGER[system], kind=SNOOZED[system]), ok)
        for text, ok in EXPECTED
    ]
    ws = workspace()
    _seed(system, ws)
    with Sandbox(ws) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db")
        sync(config)
        if system == "notion":
            sb.advance(timedelta(minutes=3))
            _say_in_notion(sb)
            sync(config)
        (body,) = _ours(sb, system)
        # The comment shows the latest answers (the audit keeps them all, below).
        for want, _ok in wanted[-MAX_ANSWERS:]:
            assert want in body, f"{system}: {want!r} not answered in:\n{body}"
        assert wanted[-MAX_ANSWERS - 1][0] not in body
        # The snoozed finding is no longer listed; the answers are in the one comment.
        assert {"hypothesis": "Hypothesis", "unlinked": "links to no Jira issue"}[
            SNOOZED[system]
        ] not in body.split("/handoff")[0]
        if system == "github":
            repo = next(iter(sb.github.repos.values()))
            theirs = sorted((c for c in repo.comments.values() if MARK not in c.body),
                            key=lambda c: c.id)  # fmt: skip
            got = [[r[2] for r in c.reactions] for c in theirs]
            assert got == [["+1"] if ok else ["confused"] for _, ok in EXPECTED]
        writes = len(sb.log(write=True))
        sync(config)  # every command answered once: nothing more to write
        assert len(sb.log(write=True)) == writes
        assert len(_ours(sb, system)) == 1
    audited = audit_commands(tmp_path)
    assert len(audited) == len(wanted), audited
    for want, ok in wanted:  # each command audited once, with its answer and its outcome
        (line,) = [d for d in audited if want in d]
        assert line.startswith("✓" if ok else "✗"), line
