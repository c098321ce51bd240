"""Issue 11: a GitHub repository renamed, or a Jira issue moved to another project, between
two syncs changes nothing but what changed: the same items (by id), the same findings as
without the move, exactly one comment of ours per item, and no ghost or doubled handoff in
the report. Each move is made in the sandbox; the second sync runs with the old config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests
from click.testing import CliRunner
from engine_fixtures import workspace, write_config
from fault_helpers import posted_comments, run_sync

from connectors.sandbox import JIRA_EMAIL, Sandbox
from connectors.sandbox.jira_moves import move_issue
from sync.commands.cli import main
from sync.settings import load_settings
from sync.store.sqlite import SqliteStore

GH_HEADERS = {"Authorization": "token sandbox-github-write"}
JIRA_AUTH = (JIRA_EMAIL, "sandbox-jira-write")
MARKER = "handoff-sync:"


def _report(config: Path) -> dict[str, Any]:
    out = CliRunner().invoke(main, ["report", "--config", str(config), "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    # Links follow the repository to its new name and each run has its own time; the rest
    # must be as it was.
    lines = [{k: v for k, v in ln.items() if k not in ("url", "opened")}
             for ln in doc["findings"]]  # fmt: skip
    return {"handoffs": doc["handoffs"], "open": doc["open"], "findings": lines}


def _github_run(tmp_path: Path, *, rename: bool) -> dict[str, Any]:
    """Sync, (rename acme/web to acme/shop,) link PR #2 to EXP-2, sync with the old config."""
    tmp_path.mkdir()
    with Sandbox(workspace()) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db")
        settings = load_settings(config)
        first = run_sync(settings)
        assert first.exit_code == 0, first.errors
        repo = "acme/web"
        if rename:
            sb.github.rename("acme/web", "acme/shop")
            repo = "acme/shop"
        r = requests.patch(f"{sb.url}/api/v3/repos/{repo}/issues/2", headers=GH_HEADERS,
                           json={"title": "EXP-2 tidy CSS"}, timeout=5)  # fmt: skip
        r.raise_for_status()
        sb.clear_log()

        second = run_sync(settings)

        assert second.exit_code == 0, second.errors
        writes = [(e.method, e.path) for e in sb.log(write=True)]
        ours = {
            item: [p.text for p in posted if MARKER in p.text]
            for item, posted in posted_comments(sb, github=(1, 2), repo=repo).items()
        }
        with SqliteStore.open(settings.state.path) as state:
            items = sorted((i.id, i.state) for i in state.iter_items(system="github"))
        return {
            "first": sorted(f.id for f in first.findings),
            "findings": sorted(f.id for f in second.findings),
            "writes": writes,
            "ours": {k.split("#")[1]: v for k, v in ours.items()},
            "items": items,
            "report": _report(config),
        }


def test_a_renamed_repository_keeps_its_items_findings_and_one_comment_each(
    tmp_path: Path,
) -> None:
    moved = _github_run(tmp_path / "moved", rename=True)
    control = _github_run(tmp_path / "control", rename=False)

    assert moved["findings"] != moved["first"]  # the change to PR #2 was seen
    assert moved["findings"] == control["findings"]
    assert moved["items"] == control["items"] == [("acme/web#1", "present"),
                                                  ("acme/web#2", "present")]  # fmt: skip
    # PR #1 links the clean EXP-1 and never had a comment; PR #2 keeps its one, rewritten.
    assert [len(moved["ours"][n]) for n in ("1", "2")] == [0, 1], moved["ours"]
    assert "Hypothesis is missing" in moved["ours"]["2"][0]  # links now name acme/shop
    assert not [w for w in moved["writes"] if w[0] == "POST" and w[1].endswith("/comments")]
    assert moved["report"] == control["report"]


def _jira_ours(sb: Sandbox, issue_id: str) -> list[str]:
    r = requests.get(f"{sb.url}/rest/api/2/issue/{issue_id}/comment", auth=JIRA_AUTH, timeout=5)
    r.raise_for_status()
    return [str(c["id"]) for c in r.json()["comments"] if MARKER in str(c["body"])]


def test_a_jira_issue_moved_to_another_project_keeps_its_one_comment(tmp_path: Path) -> None:
    ws = workspace()
    ws["jira"]["projects"].append({"key": "OPS", "name": "Operations"})
    with Sandbox(ws) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db")
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace('projects = ["EXP"]', 'projects = ["EXP", "OPS"]'),
                          encoding="utf-8")  # fmt: skip
        settings = load_settings(config)
        assert run_sync(settings).exit_code == 0
        (before,) = _jira_ours(sb, "10001")  # EXP-2 lacks its hypothesis
        with sb.lock:
            assert move_issue(sb.jira, "EXP-2", "OPS") == "OPS-1"
        sb.clear_log()

        moved = run_sync(settings)
        full = run_sync(settings, full=True)

        for result in (moved, full):
            assert result.exit_code == 0, result.errors
            assert "OPS-1" in {f.record_key for f in result.findings}
            assert "EXP-2" not in {f.record_key for f in result.findings}
        assert _jira_ours(sb, "10001") == [before]
        posts = [e.path for e in sb.log(write=True) if e.method == "POST" and "/rest/" in e.path]
        assert not [p for p in posts if p.endswith("/comment")], posts
        with SqliteStore.open(settings.state.path) as state:
            jira = {i.id: (i.key, i.scope, i.state) for i in state.iter_items(system="jira")}
        assert jira["10001"] == ("OPS-1", "jira:OPS", "present")
        assert len(jira) == 3
