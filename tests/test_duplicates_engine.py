"""Issue 11: two of our marker comments on one item (a race between two runs or two
installations) end, after one sync, as one: the oldest, brought up to date; the later one is
deleted through each API (Jira, GitHub, Notion), and a second sync writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_fixtures import workspace, write_config
from fault_helpers import post_as_bot, posted_comments, run_sync

from connectors.sandbox import Sandbox
from sync.settings import load_settings
from sync.writeback.render import marker_for

PAGE = "9a8b7c6d-0000-4000-8000-0000000000a1"
ON = {"jira": "EXP-2", "github": 2, "page": PAGE}  # where post_as_bot comments


def _ours(sb: Sandbox, system: str, marker: str) -> list[tuple[str, str]]:
    """(id, text) of every comment of ours on the item, read through the service's API."""
    found = posted_comments(
        sb,
        jira=("EXP-2",) if system == "jira" else (),
        github=(2,) if system == "github" else (),
        notion=(PAGE,) if system == "notion" else (),
    )
    (comments,) = found.values()
    return [(str(p.raw["id"]), p.text) for p in comments if marker in p.text]


@pytest.mark.parametrize("system", ["jira", "github", "notion"])
def test_two_of_our_comments_on_one_item_become_the_oldest_up_to_date(
    system: str, tmp_path: Path
) -> None:
    with Sandbox(workspace()) as sb:
        uid = {
            "jira": "10001",
            "github": str(sb.github.repos["acme/web"].items[2].id),
            "notion": PAGE,
        }[system]
        marker = marker_for(system, uid)
        oldest = post_as_bot(sb, system, f"Old findings.\n\n{marker}/0123456789", **ON)
        newer = post_as_bot(sb, system, f"Old findings, again.\n\n{marker}/9876543210", **ON)
        if system == "notion":
            # Each installation set its check property next to its comment; Notion has no
            # batch comment list, so that property is what tells a run to read the comments.
            with sb.lock:
                sb.notion.pages[PAGE].props["Handoff check"] = "Old findings."
        settings = load_settings(write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db"))

        first = run_sync(settings)

        assert first.exit_code == 0, first.errors
        ours = _ours(sb, system, marker)
        assert [cid for cid, _ in ours] == [oldest], ours
        expected = "Not linked" if system == "github" else "Hypothesis"
        assert "Old findings" not in ours[0][1] and expected in ours[0][1]
        deletes = [e for e in sb.log(write=True) if e.method == "DELETE"]
        assert [e.path.rsplit("/", 1)[-1] for e in deletes] == [newer]
        assert all(e.status in (200, 204) for e in deletes)
        sb.clear_log()

        second = run_sync(settings)

        assert second.exit_code == 0, second.errors
        assert [(e.method, e.path) for e in sb.log(write=True)] == []
        assert [cid for cid, _ in _ours(sb, system, marker)] == [oldest]
