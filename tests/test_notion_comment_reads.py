"""A person's comment on a Notion page does not move the page, so a sync since a cursor never
reads it; the engine reads that page's comments only when told (`comments_of`, from Notion's
`comment.created` webhook): one comment list, on that page, whether or not the page's query
returns it (here it does, last edited by our own property write, which alone reads nothing)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import requests
from engine_fixtures import BEN_NOTION, workspace, write_config
from test_commands_e2e import notion_ours

from connectors._retry import FAST_POLICY
from connectors.sandbox import Sandbox
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions
from sync.settings import load_settings

PAGE = "9a8b7c6d-0000-4000-8000-0000000000a1"
HEADERS = {"Authorization": "Bearer sandbox-notion-write", "Notion-Version": "2025-09-03"}


def _sync(config: Path, **comments_of: set[str]) -> None:
    settings = load_settings(config)
    conns = connect(settings, policy=FAST_POLICY)
    engine = Engine(settings, conns.connectors, conns.scopes, comments_of=comments_of)
    assert not engine.run(SyncOptions()).failed


def _lists(sb: Sandbox, since: int) -> list[str]:
    return [e.query["block_id"][0] for e in sb.log()[since:]
            if e.method == "GET" and e.path == "/v1/comments"]


def test_a_person_s_comment_is_read_only_where_a_webhook_names_its_page(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db")
        _sync(config)
        sb.advance(timedelta(minutes=3))
        sb.notion.person_comment(PAGE, BEN_NOTION, "/handoff snooze hypothesis 30 drafting")

        logged = len(sb.log())
        _sync(config)  # a poll: the page did not move, its comments are not read
        assert _lists(sb, logged) == []
        assert "snoozed hypothesis" not in notion_ours(sb)[0]

        # An edit with our own token: the query returns the page, last edited by us.
        r = requests.patch(f"{sb.url}/v1/pages/{PAGE}", headers=HEADERS, timeout=5,
                           json={"properties": {"Outcome owner": {"people": [{"id": BEN_NOTION}]}}})
        assert r.status_code == 200, r.text
        logged = len(sb.log())
        _sync(config, notion={PAGE})
        assert _lists(sb, logged) == [PAGE]
        (body,) = notion_ours(sb)
        assert "snoozed hypothesis until" in body

        logged = len(sb.log())
        _sync(config, notion={"0000dead-0000-4000-8000-000000000000"})  # not a page we hold
        assert _lists(sb, logged) == []
