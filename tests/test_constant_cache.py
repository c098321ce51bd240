"""Constant reads cached in the state with a time-to-live (issue 13): who we are, Jira's
/myself, /field, users and groups, Notion's users and data source ids. Counted from the
sandbox's request log over `handoff sync` as cron runs it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from engine_fixtures import DB_ID, workspace, write_config

from connectors.sandbox import Sandbox
from sync.commands.cli import main

CONSTANT = {
    "jira": ("/rest/api/2/myself", "/rest/api/2/field", "/rest/api/2/users/search",
             "/rest/api/2/group/bulk"),
    "github": ("/api/v3/user",),
    "notion": ("/v1/users/me", "/v1/users", f"/v1/databases/{DB_ID}"),
}


def constant_reads(sb: Sandbox) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in sb.log():
        if e.method == "GET" and e.path.rstrip("/") in CONSTANT.get(e.service, ()):
            counts[e.path] = counts.get(e.path, 0) + 1
    return counts


def sync(config: Path, *args: str) -> dict[str, object]:
    out = CliRunner().invoke(main, ["sync", "--config", str(config), "--json", *args])
    assert out.exit_code in (0, 1), out.output
    return dict(json.loads(out.output.strip().splitlines()[-1]))


def test_a_second_run_makes_no_constant_reads_and_full_makes_them_again(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db")
        sync(config)
        first = constant_reads(sb)
        # Every constant is asked on the first run, once.
        assert set(first) == {p for paths in CONSTANT.values() for p in paths}, first
        assert set(first.values()) == {1}, first

        sb.clear_log()
        sync(config)
        assert constant_reads(sb) == {}

        sb.clear_log()
        sync(config, "--full")
        assert constant_reads(sb) == first


def test_answers_older_than_the_time_to_live_are_asked_again(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db")
        config.write_text(config.read_text() + "\n[cache]\nttl_hours = 0\n")
        sync(config)
        first = constant_reads(sb)
        sb.clear_log()
        sync(config)
        assert constant_reads(sb) == first


def test_another_token_never_sees_the_answers_kept_for_this_one(tmp_path: Path) -> None:
    """A wrong token is still refused on every run: its first request meets the service."""
    with Sandbox(workspace()) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db")
        sync(config)
        config.write_text(config.read_text().replace('"sandbox-github-write"', '"not-it"'))
        sb.clear_log()
        out = CliRunner().invoke(main, ["sync", "--config", str(config), "--json"])
        assert out.exit_code == 2, out.output
        asked = [e for e in sb.log(service="github") if e.path == "/api/v3/user"]
        assert [e.status for e in asked] == [401]
