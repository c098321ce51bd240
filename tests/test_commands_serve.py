"""Commands through `handoff serve`, end to end in each system: a person's `/handoff` comment
made in the sandbox -> the service's signed webhook -> one targeted sync -> our one comment
shows the answer (and, on GitHub, the command's comment its reaction). A Notion comment does
not move its page, so only the `comment.created` delivery can bring it: the sync reads that
page's comments, one list, and nothing else of Notion's comments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from engine_fixtures import ANA_NOTION, BEN_NOTION, workspace
from test_serve_e2e import PAGE, _wait, our_comment, serving, settle

from connectors.sandbox import DEFAULT_TOKENS, Sandbox

pytestmark = pytest.mark.slow


def _team() -> dict[str, Any]:
    ws = workspace()
    ws["github"]["users"] = [{"login": "mallory", "name": "Mallory"}]
    gh = {**DEFAULT_TOKENS["github"], "tok-ben": "write", "tok-mal": "write"}
    ws["tokens"] = {**DEFAULT_TOKENS, "github": gh}
    ws["github"]["token_logins"] = {"tok-ben": "ben-gh", "tok-mal": "mallory"}
    return ws


def _github_says(sb: Sandbox, token: str, body: str) -> None:
    r = requests.post(
        f"{sb.url}/api/v3/repos/acme/web/issues/2/comments",
        json={"body": body},
        headers={"Authorization": f"token {token}"},
        timeout=5,
    )
    assert r.status_code == 201, r.text


def _mention(user: str, name: str) -> dict[str, Any]:
    return {"type": "mention", "mention": {"type": "user", "user": {"object": "user", "id": user}},
            "plain_text": f"@{name}", "annotations": {}, "href": None}


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": {"content": text, "link": None}, "plain_text": text,
            "annotations": {}, "href": None}


def _comment_lists(sb: Sandbox, since: int) -> list[str]:
    """The pages whose comments the service (not this test) listed since the `since`-th
    logged request; the service's client asks for full pages."""
    return [e.query["block_id"][0] for e in sb.log()[since:]
            if e.method == "GET" and e.path == "/v1/comments" and "page_size" in e.query]


def test_a_command_in_each_system_reaches_our_comment_through_its_webhook(
    tmp_path: Path,
) -> None:
    with Sandbox(_team()) as sb, serving(sb, tmp_path) as served:
        settle(sb, served)  # the first poll wrote our comments; their echo changed nothing
        before = {s: our_comment(sb, s) for s in ("jira", "github", "notion")}
        assert all(before.values()) and "/handoff" not in "".join(before.values())
        page_edited = sb.notion.pages[PAGE].edited
        logged = len(sb.log())

        sb.jira.person_comment("EXP-2", "acc-ben", "/handoff snooze missing-field 30 writing")
        sb.jira.person_comment("EXP-2", "acc-zed", "/handoff ack")
        _github_says(sb, "tok-ben", "/handoff waive unlinked a chore, not an experiment")
        _github_says(sb, "tok-mal", "/handoff ack")
        sb.notion.person_comment(
            PAGE, BEN_NOTION, [_text("/handoff owner engineering "), _mention(ANA_NOTION, "Ana")]
        )
        sb.notion.person_comment(PAGE, BEN_NOTION, "/handoff waive decision-missing ok")
        assert sb.notion.pages[PAGE].edited == page_edited  # as in Notion: the page is not moved
        _wait(lambda: "engineering owner is now" in our_comment(sb, "notion"), 60,
              "the Notion answer")
        settle(sb, served)

        jira = our_comment(sb, "jira").replace("\\", "")
        assert "snoozed missing-field until" in jira and "I don't know acc-zed" in jira
        github = our_comment(sb, "github").replace("\\", "")
        assert "waived unlinked" in github and "I don't know mallory" in github
        notion = our_comment(sb, "notion")
        assert "engineering owner is now Ana Souza" in notion
        assert "only the cost-cap approver" in notion
        repo = sb.github.repos["acme/web"]
        reactions = {c.body: [r[2] for r in c.reactions] for c in repo.comments.values()
                     if c.body.startswith("/handoff")}
        assert reactions == {
            "/handoff waive unlinked a chore, not an experiment": ["+1"],
            "/handoff ack": ["confused"],
        }
        # Notion's comments were read on that one page, once: not on every page, and not
        # again for the echo of our own comment's edit (a bot's comment is no command).
        assert _comment_lists(sb, logged) == [PAGE]
        sent = [d for d in sb.webhooks.sent if d.service == "notion" and b"comment." in d.body]
        assert {b'"type": "person"' in d.body for d in sent} == {True, False}  # theirs, ours
