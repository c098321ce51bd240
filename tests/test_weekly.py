"""`handoff report --weekly`: the closed loop per team against the week before, published to
one Notion page (created once, then edited in place) or one GitHub issue, through the real
clients against the sandbox; counted in the sandbox's request log. A dry run writes nothing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from engine_fixtures import workspace, write_config
from openapi_check import validate_request

from connectors._retry import FAST_POLICY
from connectors.sandbox import Sandbox
from mapping.finding import Finding
from sync.commands.cli import main
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions
from sync.report.publish_weekly import NOTION_MARKER
from sync.report.weekly import WEEKLY_MARKER, gather_weekly, render_weekly_md
from sync.settings import load_settings
from sync.store import memory_store, open_store

PARENT = "5d1c3f00-aaaa-4bbb-8ccc-000000000001"  # a page shared with the integration


def _workspace() -> dict[str, Any]:
    ws = workspace()
    ws["github"]["repos"]["acme/reports"] = {"pulls": []}
    ws["notion"]["pages"] = [{"id": PARENT, "title": "Team reviews"}]
    return ws


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synced")
    with Sandbox(_workspace()) as sb:
        config = write_config(folder / "handoff.toml", sb.url, folder / "state.db")
        settings = load_settings(config)
        conns = connect(settings, policy=FAST_POLICY)
        assert Engine(settings, conns.connectors, conns.scopes).run(SyncOptions()).exit_code == 0
    return folder / "state.db"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(_workspace()) as server:
        yield server


@pytest.fixture
def config(sb: Sandbox, synced: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for system in ("JIRA", "GITHUB", "NOTION"):
        monkeypatch.delenv(f"HANDOFF_{system}__TOKEN", raising=False)
    state = tmp_path / "state.db"
    shutil.copyfile(synced, state)
    return write_config(tmp_path / "handoff.toml", sb.url, state)


def weekly(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["report", "--weekly", "--config", str(config), *args])


def _texts(sb: Sandbox, page_id: str) -> list[str]:
    page = sb.notion.loose[page_id]
    return [
        "".join(r["plain_text"] for r in b[b["type"]]["rich_text"])
        for b in page.blocks
        if not b["in_trash"]
    ]


def test_the_review_counts_per_team_against_last_week(config: Path) -> None:
    result = weekly(config, "--format", "json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert set(body["all"]) == {"this_week", "previous_week"}
    assert set(body["all"]["this_week"]) == {"opened", "closed", "escalated", "decided"}
    # The sync ran within the week: everything it opened is this week's, nothing last week's.
    assert body["all"]["this_week"]["opened"] > 0
    assert body["all"]["previous_week"]["opened"] == 0
    assert sum(t["this_week"]["opened"] for t in body["teams"].values()) == (
        body["all"]["this_week"]["opened"]
    )
    text = weekly(config).output
    assert "| **All teams** |" in text and "## Decided this week" in text


def _valid_for_notion(shared_api: Path, log: list[Any]) -> None:
    spec = shared_api / "specs" / "notion-openapi.2025-09-03.makenotion-mcp.json"
    for e in log:
        body = e.body if e.body not in ("", None) else None
        validate_request(spec, e.method, e.path, query=e.query, headers=e.headers, body=body)


def test_notion_page_is_created_once_then_edited_in_place(
    sb: Sandbox, config: Path, shared_api: Path
) -> None:
    sb.clear_log()
    first = weekly(config, "--publish", f"notion:https://www.notion.so/Team-{PARENT}")
    assert first.exit_code == 0, first.output
    assert "(created)" in first.output
    creates = [r for r in sb.log("notion", "POST") if r.path == "/v1/pages"]
    assert len(creates) == 1 and creates[0].body["parent"] == {"page_id": PARENT}
    ours = [p for p in sb.notion.loose.values() if p.parent == PARENT and not p.trashed]
    assert len(ours) == 1
    page = ours[0].id
    _valid_for_notion(shared_api, sb.log("notion"))
    texts = _texts(sb, page)
    assert texts[0] == NOTION_MARKER and any("All teams" in t for t in texts)

    # A lead edits a line of it; the next run puts the review back, in the same page.
    line = next(b for b in sb.notion.loose[page].blocks if b["type"] == "bulleted_list_item")
    line["bulleted_list_item"]["rich_text"][0]["plain_text"] = "edited by hand"
    sb.clear_log()
    second = weekly(config, "--publish", f"notion:{PARENT}")
    assert second.exit_code == 0, second.output
    assert "(updated in place)" in second.output
    writes = sb.log("notion", write=True)
    assert not [r for r in writes if r.path == "/v1/pages"]  # no second page
    assert [(r.method, r.path) for r in writes] == [("PATCH", f"/v1/blocks/{line['id']}")]
    assert _texts(sb, page) == texts
    _valid_for_notion(shared_api, sb.log("notion"))
    # Each publish is in the state's audit log, as every write of ours is.
    state = load_settings(config).state.path
    with open_store(state) as store:
        rows = [r for r in store.audit() if r.action == "publish"]
    assert [(r.system, r.item_key, r.result) for r in rows] == [
        ("notion", page, "created"),
        ("notion", page, "updated"),
    ]
    assert len([p for p in sb.notion.loose.values() if p.parent == PARENT]) == 1


def test_github_issue_is_opened_once_then_edited(sb: Sandbox, config: Path) -> None:
    for _ in range(2):
        result = weekly(config, "--publish", "github:acme/reports")
        assert result.exit_code == 0, result.output
    issues = [
        i
        for i in sb.github.repos["acme/reports"].items.values()
        if not i.is_pull and WEEKLY_MARKER in (i.body or "")
    ]
    assert len(issues) == 1
    posts = [r for r in sb.log("github", "POST") if r.path.endswith("/acme/reports/issues")]
    assert len(posts) == 1
    assert "| **All teams** |" in issues[0].body


def test_dry_run_writes_nothing(sb: Sandbox, config: Path) -> None:
    sb.clear_log()
    for target in (f"notion:{PARENT}", "github:acme/reports"):
        result = weekly(config, "--publish", target, "--dry-run")
        assert result.exit_code == 0, result.output
        assert "nothing written" in result.output and "| **All teams** |" in result.output
    assert sb.log() == []
    with open_store(load_settings(config).state.path) as store:
        assert not [r for r in store.audit() if r.action == "publish"]


def test_a_place_that_is_not_one_is_refused(config: Path) -> None:
    result = weekly(config, "--publish", "notion:not-a-page")
    assert result.exit_code == 2
    assert "github:OWNER/REPO or notion:PAGE" in result.output


def _finding(subject: str, escalation: int = 0) -> Finding:
    return Finding(code="missing-field", severity="warning", subject=subject, message="m",
                   record_key="EXP-1", system="jira", item_id="1", item_key="EXP-1", url="",
                   notify=("ana",), escalation=escalation)  # fmt: skip


def test_each_week_counts_what_happened_in_it(tmp_path: Path) -> None:
    """Opened, closed and escalated land in the week they happened, not the week asked."""
    settings = load_settings(write_config(tmp_path / "h.toml", "http://127.0.0.1:9",
                                          tmp_path / "s.db"))  # fmt: skip
    state = memory_store()
    f1, f2, f3 = _finding("hypothesis"), _finding("metric", 1), _finding("cost_cap", 1)
    at = [datetime(2026, 11, d, h, tzinfo=UTC) for d, h in ((15, 12), (16, 9), (19, 9), (23, 10))]
    state.record_findings(1, [f1], at[0])
    state.record_findings(2, [f1, f2], at[1])  # f2 reaches the approver Tue 17 Nov 17:00
    state.record_findings(3, [f1, f2, f3], at[2])  # f3 reaches the approver Fri 20 Nov 17:00
    state.record_findings(4, [f2, f3], at[3])  # f1 is fixed
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    week = gather_weekly(state, settings, now=now, directory=settings.directory())
    assert week.counts(None) == {"opened": 1, "closed": 1, "escalated": 1, "decided": 0}
    assert week.counts(None, previous=True) == {
        "opened": 2, "closed": 0, "escalated": 1, "decided": 0,
    }  # fmt: skip
    [escalated] = week.this_week("escalated")
    assert escalated.at == datetime(2026, 11, 20, 17, tzinfo=UTC) - timedelta(seconds=5)
    assert "| **All teams** | 1 (−1) | 1 (+1) | 1 (±0) | 0 (±0) |" in render_weekly_md(week)


def test_the_full_report_dry_run_publishes_nothing_and_notion_asks_for_weekly(
    sb: Sandbox, config: Path
) -> None:
    sb.clear_log()
    dry = CliRunner().invoke(main, ["report", "--config", str(config), "--publish",
                                    "github:acme/reports", "--dry-run"])  # fmt: skip
    assert dry.exit_code == 0, dry.output
    assert "nothing written" in dry.output and "# " in dry.output
    assert sb.log() == []
    refused = CliRunner().invoke(main, ["report", "--config", str(config), "--publish",
                                        f"notion:{PARENT}"])  # fmt: skip
    assert refused.exit_code == 2 and "add --weekly" in refused.output
