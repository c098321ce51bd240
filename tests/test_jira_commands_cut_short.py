"""Jira's search returns an issue's comments inline but cuts the list short on a long thread
(`fields.comment.total` > the comments returned). A command past the cut is read all the same,
from the issue's paged comment list, and only that issue's list is read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine_fixtures import workspace, write_config
from test_commands_e2e import jira_ours, sync

from connectors.sandbox import Sandbox


def test_a_command_past_the_inline_comments_is_read_from_the_issue_s_list(
    tmp_path: Path,
) -> None:
    ws = workspace()
    ws["jira"]["inline_comment_max"] = 3
    at = datetime.now(UTC) - timedelta(minutes=5)
    chatter = [
        {"author": "ana", "body": f"note {n}",
         "created": (at + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        for n in range(4)
    ]
    command = {"author": "ben", "body": "/handoff snooze missing-field 30 writing it up",
               "created": (at + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    ws["jira"]["issues"][1]["comments"] = [*chatter, command]  # EXP-2: the 5th of 5
    with Sandbox(ws) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db")
        sync(config)
        (body,) = [b.replace("\\", "") for b in jira_ours(sb, "EXP-2")]
        assert "snoozed missing-field until" in body
        lists = [e.path for e in sb.log(method="GET") if e.path.endswith("/comment")]
        assert lists == ["/rest/api/2/issue/10001/comment"]  # EXP-2's, one page, no other
