"""`handoff report --publish github:owner/repo` through real PyGithub against the sandbox: one
issue, found again by its marker in one request and edited in place; user text stays inert;
a read-only token is refused with the permission it lacks; no token in any output."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from engine_fixtures import workspace, write_config
from openapi_check import validate_schema

from connectors._retry import FAST_POLICY
from connectors.sandbox import Sandbox
from sync.commands.cli import main
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions
from sync.report.data import Filters
from sync.report.publish import REPORT_MARKER, issue_body, marker_for
from sync.settings import load_settings

# Under the report's 80 characters of title, so every part of it reaches the issue.
HOSTILE = "@acme/all | <script>x</script><!-- handoff-sync:report -->[a](javascript:x)"
TOKENS = ("sandbox-github-write", "sandbox-github-read", "sandbox-jira-write", "sandbox-notion")


def _workspace() -> dict[str, Any]:
    ws = workspace()
    ws["jira"]["issues"][2]["summary"] = HOSTILE  # EXP-3: ownerless, so it is in the report
    ws["github"]["repos"]["acme/reports"] = {"pulls": []}
    return ws


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state file after one real sync of the small team (done once: publishing only reads)."""
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


def report(config: Path, *args: str) -> Result:
    result = CliRunner().invoke(main, ["report", "--config", str(config), *args])
    for token in TOKENS:
        assert token not in result.output
    return result


def our_issues(sb: Sandbox, marker: str = REPORT_MARKER) -> list[Any]:
    items = sb.github.repos["acme/reports"].items.values()
    return [i for i in items if not i.is_pull and marker in (i.body or "")]


def test_publishing_twice_edits_one_issue_in_place(sb: Sandbox, config: Path) -> None:
    first = report(config, "--publish", "github:acme/reports", "--since", "2020-01-01")
    assert first.exit_code == 0, first.output
    assert "opened" in first.output and "acme/reports#1" in first.output
    assert "# Handoff report" not in first.output  # published: nothing on stdout
    assert [e.method for e in sb.log(service="github", write=True)] == ["POST"]

    sb.clear_log()
    second = report(config, "--publish", "github:acme/reports", "--since", "2021-01-01")
    assert second.exit_code == 0, second.output
    assert "updated in place" in second.output and "acme/reports#1" in second.output
    writes = sb.log(service="github", write=True)
    assert [(e.method, e.path) for e in writes] == [
        ("PATCH", "/api/v3/repos/acme/reports/issues/1")
    ]
    # Found by one list of the issues our login opened, not a scan of every issue.
    lists = [e for e in sb.log(service="github", method="GET") if e.path.endswith("/issues")]
    assert len(lists) == 1 and lists[0].query["creator"] == ["handoff-bot"]

    issues = our_issues(sb)
    assert len(issues) == 1 and issues[0].title == "Handoff report"
    body = issues[0].body
    assert "Loops closed since 2021-01-01" in body and "2020-01-01" not in body
    # The body is the report the command prints, behind the marker.
    printed = report(config, "--since", "2021-01-01").output

    def stable(text: str) -> list[str]:  # the "Generated HH:MM" line moves with the clock
        return [ln for ln in text.splitlines() if not ln.startswith("Generated ")]

    assert body.startswith(REPORT_MARKER + "\n# Handoff report")
    assert stable(body.split("\n", 1)[1]) == stable(printed)


def test_a_filtered_report_gets_its_own_issue(sb: Sandbox, config: Path) -> None:
    assert report(config, "--publish", "github:acme/reports").exit_code == 0
    team = report(config, "--publish", "github:acme/reports", "--team", "EXP")
    assert team.exit_code == 0, team.output
    assert "acme/reports#2" in team.output and "opened" in team.output
    assert report(config, "--publish", "github:acme/reports").exit_code == 0
    assert len(our_issues(sb)) == 1
    assert len(our_issues(sb, marker_for(Filters(team="EXP")))) == 1
    assert len(sb.log(service="github", method="POST")) == 2


def test_a_hostile_item_title_stays_inert_in_the_issue(sb: Sandbox, config: Path) -> None:
    result = report(config, "--publish", "github:acme/reports")
    assert result.exit_code == 0, result.output
    [issue] = our_issues(sb)
    body = issue.body
    assert "acme/all \\| &lt;script&gt;" in body  # the title is there, escaped
    assert body.count(REPORT_MARKER) == 1  # a title cannot forge our marker
    assert "<script>" not in body
    assert not re.search(r"(?<!\\)\]\(javascript", body)  # "\](" is text, not a link
    assert "@acme/all" not in body  # nobody is pinged
    rows = [ln for ln in body.splitlines() if "acme/all" in ln and ln.startswith("|")]
    assert rows
    for row in rows:
        cells = re.split(r"(?<!\\)\|", row)
        # Four columns, or the at-risk table's six (seven once a report was remembered): the
        # title broke no table cell.
        assert len(cells) in (6, 8, 9), row


def test_a_read_only_token_names_the_permission_and_writes_nothing(
    sb: Sandbox, config: Path
) -> None:
    text = config.read_text().replace("sandbox-github-write", "sandbox-github-read")
    config.write_text(text)
    result = report(config, "--publish", "github:acme/reports")
    assert result.exit_code == 2, result.output
    assert "needs the permission 'Issues: write' on acme/reports" in result.output
    assert our_issues(sb) == []
    assert sb.arrived(write=True) == 1  # the refused POST, never retried


def test_a_bad_target_is_refused_before_anything_is_asked(sb: Sandbox, config: Path) -> None:
    result = report(config, "--publish", "notion:somewhere")
    assert result.exit_code == 2 and "github:OWNER/REPO" in result.output
    assert sb.log() == []


def test_a_report_too_long_for_one_issue_is_cut_at_a_line_with_a_note() -> None:
    markdown = "".join(f"| row {n} |\n" for n in range(40))
    body = issue_body(markdown, REPORT_MARKER, limit=300)
    assert len(body) <= 300 and body.startswith(REPORT_MARKER)
    assert "cut here" in body and "| row 0 |\n" in body and "| row 39 |" not in body
    assert issue_body("short\n", REPORT_MARKER) == REPORT_MARKER + "\nshort\n"


def test_sandbox_issue_writes_answer_as_github_does(sb: Sandbox, shared_api: Path) -> None:
    import requests

    spec = shared_api / "specs" / "github.sync-subset.json"
    api = f"{sb.url}/api/v3/repos/acme/reports/issues"
    auth = {"Authorization": "token sandbox-github-write"}
    made = requests.post(api, json={"title": "T", "body": "B"}, headers=auth, timeout=10)
    assert made.status_code == 201 and made.headers["Location"].endswith("/issues/1")
    validate_schema(spec, "issue", made.json())
    edited = requests.patch(f"{api}/1", json={"state": "closed"}, headers=auth, timeout=10)
    assert edited.status_code == 200 and edited.json()["state"] == "closed"
    validate_schema(spec, "issue", edited.json())
    listed = requests.get(
        api, params={"creator": "ana-gh", "state": "all"}, headers=auth, timeout=10
    )
    assert listed.json() == []
    untitled = requests.post(api, json={"body": "B"}, headers=auth, timeout=10)
    assert untitled.status_code == 422
