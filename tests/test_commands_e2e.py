"""Commands in comments, end to end through the sandbox, in each system: a person's comment
is found in the lists a sync reads anyway, checked, applied, and answered in our one comment."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from engine_fixtures import ANA_NOTION, BEN_NOTION, workspace, write_config
from openapi_check import spec_dict, validate_request

from connectors._retry import FAST_POLICY
from connectors.sandbox import DEFAULT_TOKENS, Sandbox
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions, SyncResult
from sync.settings import load_settings
from sync.store import open_store

MARK = "handoff-sync:"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sync(config: Path) -> SyncResult:
    settings = load_settings(config)
    conns = connect(settings, policy=FAST_POLICY)
    assert conns.errors == []
    return Engine(settings, conns.connectors, conns.scopes).run(SyncOptions())


def jira_ours(sb: Sandbox, key: str) -> list[str]:
    return [str(c["body"]) for c in sb.jira.find_issue(key)["comments"] if MARK in str(c["body"])]


def github_ours(sb: Sandbox, number: int) -> list[str]:
    repo = next(iter(sb.github.repos.values()))
    found = [c.body for c in repo.comments.values() if c.number == number and MARK in c.body]
    return [b.replace("\\", "") for b in found]  # Markdown's escapes aside


def notion_ours(sb: Sandbox) -> list[str]:
    (page,) = sb.notion.pages.values()
    texts = ["".join(t.get("plain_text", "") for t in c["rich_text"]) for c in page.comments]
    return [t for t in texts if MARK in t]


def audit_commands(tmp_path: Path) -> list[str]:
    store = open_store(str(tmp_path / "state.db"))
    try:
        return [r.detail for r in store.audit() if r.action == "command"]
    finally:
        store.close()


def test_jira_commands_owner_snooze_help_and_refusals(tmp_path: Path) -> None:
    ws = workspace()
    now = _iso(datetime.now(UTC) - timedelta(minutes=1))
    said = [
        ("ana", "Setting it:\n/handoff owner outcome [~accountid:acc-ben]"),
        ("acc-zed", "/handoff ack"),
        ("ben", "/handoff snooze missing-field 30 writing it up"),
        ("ana", "/handoff waive decision-missing we agreed"),
        ("ana", "/handoff help"),
    ]
    issue = ws["jira"]["issues"][2]
    assert issue["key"] == "EXP-3"
    issue["comments"] = [{"author": a, "body": b, "created": now} for a, b in said]
    with Sandbox(ws) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db")
        sync(config)
        (body,) = [b.replace("\\", "") for b in jira_ours(sb, "EXP-3")]
        assert "outcome owner is now Ben Okafor" in body
        assert "I don't know acc-zed" in body
        assert "snoozed missing-field until" in body
        assert "only the cost-cap approver" in body
        assert "/handoff owner <role> @person" in body  # the help line
        # the owner now set, the hypothesis snoozed: nothing left for EXP-3 to say
        assert "Owner missing" not in body and "Hypothesis" not in body
        again = sync(config)
        assert not [op for op in again.ops if op.item_key == "EXP-3"]  # answered once
        assert len(jira_ours(sb, "EXP-3")) == 1
    details = audit_commands(tmp_path)
    assert len(details) == 5 and any("✗ acc-zed" in d for d in details)


def test_github_commands_found_in_the_repo_wide_list_after_a_first_sync(tmp_path: Path) -> None:
    ws = workspace()
    ws["github"]["users"] = [{"login": "mallory", "name": "Mallory"}]
    ws["tokens"] = {
        **DEFAULT_TOKENS,
        "github": {
            **DEFAULT_TOKENS["github"],
            "tok-ben": "write",
            "tok-mal": "write",
            "tok-ana": "write",
        },
    }
    ws["github"]["token_logins"] = {"tok-ben": "ben-gh", "tok-mal": "mallory", "tok-ana": "ana-gh"}
    with Sandbox(ws) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db")
        sync(config)
        (before,) = github_ours(sb, 2)
        assert "links to no Jira issue" in before

        def say(token: str, number: int, body: str) -> None:
            r = httpx.post(
                f"{sb.url}/api/v3/repos/acme/web/issues/{number}/comments",
                json={"body": body},
                headers={"Authorization": f"token {token}"},
            )
            assert r.status_code == 201, r.text

        say("tok-ben", 2, "/handoff waive unlinked a chore, not an experiment")
        say("tok-mal", 2, "/handoff ack")
        say("tok-ben", 2, "/handoff waive decision-missing please")
        say("tok-ben", 2, "/handoff frobnicate")
        say("tok-ana", 1, "/handoff owner monitoring @ben-gh\n/handoff ack")
        sync(config)
        (body,) = github_ours(sb, 2)
        assert "links to no Jira issue" not in body
        assert "waived unlinked" in body
        assert "I don't know mallory" in body
        assert "only the cost-cap approver" in body
        assert "unknown command 'frobnicate'" in body
        assert "/handoff" not in before
        # each person's comment got one reaction: done, or not understood
        repo = next(iter(sb.github.repos.values()))
        theirs = [c for c in repo.comments.values() if MARK not in c.body]
        got = {c.body.split("\n")[0]: [r[1:3] for r in c.reactions] for c in theirs}
        done, puzzled = [("handoff-bot", "+1")], [("handoff-bot", "confused")]
        assert got["/handoff waive unlinked a chore, not an experiment"] == done
        assert got["/handoff waive decision-missing please"] == puzzled
        assert got["/handoff ack"] == puzzled
        assert got["/handoff frobnicate"] == puzzled
        assert got["/handoff owner monitoring @ben-gh"] == done
        writes = len(sb.log(write=True))
        sync(config)  # answered and reacted once: nothing more to write
        assert len(sb.log(write=True)) == writes
        pr1 = github_ours(sb, 1)
        assert len(pr1) <= 1
        if pr1:
            assert "monitoring owner is now Ben Okafor" in pr1[0]
    details = audit_commands(tmp_path)
    assert any("monitoring owner is now" in d for d in details)


def _notion_comment(sb: Sandbox, author: str, rich: list[dict[str, Any]]) -> None:
    (page,) = sb.notion.pages.values()
    at = sb.now().replace(second=0, microsecond=0)
    c = {
        "id": str(uuid.uuid4()),
        "discussion_id": str(uuid.uuid4()),
        "created": at,
        "edited": at,
        "author": author,
        "rich_text": rich,
    }
    page.comments.append(c)
    sb.notion.comments[c["id"]] = (page, c)
    page.edited, page.edited_by = at, author  # a person edited the page too


def _text(text: str) -> dict[str, Any]:
    return {
        "type": "text",
        "text": {"content": text, "link": None},
        "plain_text": text,
        "annotations": {},
        "href": None,
    }


def test_notion_commands_on_a_page_we_wrote_to(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db")
        sync(config)
        assert len(notion_ours(sb)) == 1
        sb.advance(timedelta(minutes=3))
        mention = {
            "type": "mention",
            "mention": {"type": "user", "user": {"object": "user", "id": ANA_NOTION}},
            "plain_text": "@Ana Souza",
            "annotations": {},
            "href": None,
        }
        _notion_comment(sb, BEN_NOTION, [_text("/handoff owner engineering "), mention])
        _notion_comment(sb, BEN_NOTION, [_text("/handoff snooze hypothesis 30 drafting")])
        _notion_comment(sb, "0a1b2c3d-0000-4000-8000-00000000zzzz", [_text("/handoff ack")])
        _notion_comment(sb, BEN_NOTION, [_text("/handoff waive decision-missing ok")])
        sync(config)
        (body,) = notion_ours(sb)
        assert "engineering owner is now Ana Souza" in body
        assert "snoozed hypothesis until" in body
        assert "I don't know 0a1b2c3d-0000-4000-8000-00000000zzzz" in body
        assert "only the cost-cap approver" in body


def test_the_reaction_request_and_answer_follow_githubs_description(
    tmp_path: Path, shared_api: Path
) -> None:
    spec = shared_api / "specs" / "github.api.github.com.json.gz"
    ws = workspace()
    ws["github"]["repos"]["acme/web"]["pulls"][1]["comments"] = [
        {"user": "ben-gh", "body": "/handoff help", "created_at": _iso(datetime.now(UTC))}
    ]
    with Sandbox(ws) as sb:
        sync(write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db"))
        (sent,) = [e for e in sb.log(write=True) if e.path.endswith("/reactions")]
        assert sent.status == 201 and sent.body == {"content": "+1"}
        validate_request(spec, "POST", sent.path.removeprefix("/api/v3"), query=sent.query,
                         headers=sent.headers, body=sent.body)  # fmt: skip
        url = f"{sb.url}{sent.path}"
        token = {"Authorization": "token sandbox-github-write"}
        again = httpx.post(url, json={"content": "+1"}, headers=token)
        assert again.status_code == 200  # the same reaction again: GitHub answers the one there
        schema = spec_dict(spec)["components"]["schemas"]["reaction"]
        answer = again.json()
        assert set(schema["required"]) <= set(answer)
        assert answer["content"] in schema["properties"]["content"]["enum"]
        bad = httpx.post(url, json={"content": "thumbs"}, headers=token)
        assert bad.status_code == 422
