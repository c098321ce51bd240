"""Issue 11, slice B: the engine never writes from partial knowledge, and writes one comment.

Every test drives the real clients against the sandbox, with faults made at the HTTP layer.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from engine_fixtures import workspace, write_config
from fault_helpers import FAULT_POLICY, posted_comments, run_sync
from jira import JIRA

from connectors.base import WriteOp
from connectors.sandbox import JIRA_EMAIL, Fault, Sandbox
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions
from sync.report.data import gather
from sync.report.render import render_json, render_markdown
from sync.settings import Settings, load_settings
from sync.store.sqlite import SqliteStore

MANY = 1000


@pytest.fixture
def sandbox() -> Sandbox:
    with Sandbox(workspace()) as sb:
        yield sb


@pytest.fixture
def settings(sandbox: Sandbox, tmp_path: Path) -> Settings:
    return load_settings(write_config(tmp_path / "c.toml", sandbox.url, tmp_path / "state.db"))


def _with_jira_token(config: Path, token: str) -> Settings:
    text = config.read_text(encoding="utf-8").replace('"sandbox-jira-write"', f'"{token}"')
    config.write_text(text, encoding="utf-8")
    return load_settings(config)


# -- 1. a system never read in full blocks every write -------------------------------------
def test_first_sync_with_a_wrong_jira_token_writes_nothing_and_exits_2(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "c.toml", sandbox.url, tmp_path / "state.db")
    settings = _with_jira_token(config, "not-the-token")

    result = run_sync(settings)

    assert sandbox.log(write=True) == []
    assert result.exit_code == 2, result.errors


def test_first_sync_with_jira_answering_500_writes_nothing_and_exits_1(
    sandbox: Sandbox, settings: Settings
) -> None:
    sandbox.inject("*", r"^/rest/api/", Fault(status=500), times=MANY)

    result = run_sync(settings)

    assert sandbox.log(write=True) == []
    assert result.exit_code == 1, result.errors


def test_first_sync_whose_jira_people_cannot_be_read_writes_nothing(
    sandbox: Sandbox, settings: Settings
) -> None:
    sandbox.inject("GET", r"/users?/search", Fault(status=500), times=MANY)

    result = run_sync(settings)

    assert sandbox.log(write=True) == []
    assert result.exit_code == 1, result.errors
    assert result.blind and all(s.startswith("jira:") for s in result.blind)


# -- 6. a rebuilt state recognises our own writes -------------------------------------------
def test_a_rebuilt_state_gives_the_same_findings_and_writes_nothing(
    sandbox: Sandbox, settings: Settings
) -> None:
    first = run_sync(settings)
    assert first.exit_code == 0, first.errors
    Path(settings.state.path).unlink()
    sandbox.clear_log()

    rebuilt = run_sync(settings)

    assert rebuilt.exit_code == 0, rebuilt.errors
    assert sorted(f.id for f in rebuilt.findings) == sorted(f.id for f in first.findings)
    assert [(e.method, e.path) for e in sandbox.log(write=True)] == []


# -- 4. a person's edit that keeps our footer is overwritten --------------------------------
def test_an_edit_of_our_comment_that_keeps_the_footer_is_overwritten(
    sandbox: Sandbox, settings: Settings
) -> None:
    run_sync(settings)
    jira = JIRA(
        server=sandbox.url,
        basic_auth=(JIRA_EMAIL, "sandbox-jira-write"),
        options={"rest_api_version": "2"},
        max_retries=0,
    )
    (ours,) = [c for c in jira.comments("EXP-2") if "handoff-sync:" in c.body]
    original = ours.body
    ours.update(body=original.replace("Hypothesis is missing", "Hypothesis is fine, ignore"))
    sandbox.clear_log()

    again = run_sync(settings)

    assert again.exit_code == 0, again.errors
    (after,) = [c for c in jira.comments("EXP-2") if "handoff-sync:" in c.body]
    assert after.body == original
    assert [(e.method, e.path) for e in sandbox.log(write=True)] == [
        ("PUT", f"/rest/api/2/issue/10001/comment/{ours.id}")
    ]


# -- 5. a duplicate of our comment is deleted, and deleting twice is done -------------------
def _ops(sandbox: Sandbox, settings: Settings) -> dict[str, tuple[str, str]]:
    """Post a second copy of our comment on EXP-2 and on PR #2 through each API: (item, id)."""
    run_sync(settings)
    found = posted_comments(sandbox, jira=("EXP-2",), github=(2,))
    jira_body = found["EXP-2"][0].text
    gh_body = found["acme/web#2"][0].text
    j = requests.post(
        f"{sandbox.url}/rest/api/2/issue/EXP-2/comment",
        json={"body": jira_body},
        auth=(JIRA_EMAIL, "sandbox-jira-write"),
        timeout=5,
    ).json()
    g = requests.post(
        f"{sandbox.url}/api/v3/repos/acme/web/issues/2/comments",
        json={"body": gh_body},
        headers={"Authorization": "token sandbox-github-write"},
        timeout=5,
    ).json()
    return {"jira": ("10001", str(j["id"])), "github": ("acme/web#2", str(g["id"]))}


def test_comment_delete_removes_a_duplicate_and_a_second_delete_is_done(
    sandbox: Sandbox, settings: Settings
) -> None:
    dups = _ops(sandbox, settings)
    conns = connect(settings)
    for system, (item, cid) in dups.items():
        op = WriteOp(system, f"{system}:x", item, item, "comment.delete", target=cid)
        first = conns.connectors[system].apply(op)
        again = conns.connectors[system].apply(op)
        assert first.ok and again.ok and again.detail == "already gone"
    found = posted_comments(sandbox, jira=("EXP-2",), github=(2,))
    assert [len(found[k]) for k in ("EXP-2", "acme/web#2")] == [1, 1]
    deletes = [(e.method, e.status) for e in sandbox.log(write=True) if e.method == "DELETE"]
    assert deletes == [("DELETE", 204), ("DELETE", 404)] * 2


# -- 7. deleted vs lost access ---------------------------------------------------------------
def _open_records(settings: Settings) -> set[str]:
    con = sqlite3.connect(settings.state.path)
    try:
        rows = con.execute("SELECT record_key FROM findings WHERE resolved_at IS NULL")
        return {r[0] for r in rows}
    finally:
        con.close()


def test_an_issue_deleted_in_jira_closes_its_findings_after_a_full_sync(
    sandbox: Sandbox, settings: Settings
) -> None:
    run_sync(settings)
    assert "EXP-3" in _open_records(settings)
    gone = requests.delete(
        f"{sandbox.url}/rest/api/2/issue/EXP-3", auth=(JIRA_EMAIL, "sandbox-jira-write"), timeout=5
    )
    assert gone.status_code == 204

    full = run_sync(settings, full=True)

    assert full.exit_code == 0, full.errors
    assert "EXP-3" not in {f.record_key for f in full.findings}
    assert "EXP-3" not in _open_records(settings)
    with SqliteStore.open(settings.state.path) as state:
        (item,) = [i for i in state.iter_items(system="jira") if i.key == "EXP-3"]
    assert item.state == "deleted"


# -- 8. a PR naming a Jira key that does not exist ------------------------------------------
def test_a_pr_naming_a_missing_jira_key_is_unlinked_not_a_phantom_handoff(tmp_path: Path) -> None:
    ws = workspace()
    ws["github"]["repos"]["acme/web"]["pulls"][1]["title"] = "EXP-99 tidy CSS"
    with Sandbox(ws) as sb:
        settings = load_settings(write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db"))

        result = run_sync(settings)

        assert result.exit_code == 0, result.errors
        assert "EXP-99" not in {f.record_key for f in result.findings}
        (finding,) = [f for f in result.findings if f.item_key == "acme/web#2"]
        assert finding.code == "unlinked"
        assert "EXP-99" in finding.message
        (body,) = [p.text for p in posted_comments(sb, github=(2,))["acme/web#2"]]
        assert "Not linked" in body and "99" in body and "Missing" not in body


# -- 2. a system read before that fails now: stored items, and how old they are -------------
def test_a_system_read_before_that_fails_now_says_how_old_its_items_are(
    sandbox: Sandbox, settings: Settings
) -> None:
    first = run_sync(settings)
    assert first.exit_code == 0, first.errors
    sandbox.inject("*", r"/search/jql", Fault(status=500), times=MANY)
    later = datetime.now(UTC) + timedelta(hours=3)
    conns = connect(settings, policy=FAULT_POLICY)

    result = Engine(settings, conns.connectors, conns.scopes, clock=lambda: later).run(
        SyncOptions()
    )

    assert result.exit_code == 1
    assert any("jira:EXP" in e and "last read in full 3 h ago" in e for e in result.errors)
    assert result.counts()["scopes_from_stored_items"] == 1
    assert 3 * 3600 - 120 <= result.counts()["stored_items_age_s"] <= 3 * 3600 + 120
    # Jira's items as stored stand in: the same handoffs and findings, nothing rewritten.
    assert {f.record_key for f in result.findings} == {f.record_key for f in first.findings}
    with SqliteStore.copy_of(settings.state.path) as state:
        data = gather(state, now=later)
    assert "jira:EXP was last read in full 3 h before this report" in render_markdown(data)
    assert "jira:EXP" in json.loads(render_json(data))["last_read_in_full"]


def test_a_rebuilt_state_keeps_a_stale_finding_our_own_comment_did_not_end(
    tmp_path: Path,
) -> None:
    ws = workspace()
    ws["jira"]["issues"][2]["status"] = "In Progress"  # EXP-3 runs, untouched since Nov 1
    with Sandbox(ws) as sb:
        settings = load_settings(write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db"))
        first = run_sync(settings)
        assert "stale" in {f.code for f in first.findings if f.record_key == "EXP-3"}
        Path(settings.state.path).unlink()
        sb.clear_log()

        rebuilt = run_sync(settings)

        assert sorted(f.id for f in rebuilt.findings) == sorted(f.id for f in first.findings)
        assert [(e.method, e.path) for e in sb.log(write=True)] == []


def test_a_rebuilt_state_still_counts_a_persons_edit_after_our_comment_as_activity(
    tmp_path: Path,
) -> None:
    ws = workspace()
    ws["jira"]["issues"][2]["status"] = "In Progress"  # EXP-3 runs, untouched since Nov 1
    with Sandbox(ws) as sb:
        settings = load_settings(write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db"))
        first = run_sync(settings)
        assert "stale" in {f.code for f in first.findings if f.record_key == "EXP-3"}
        Path(settings.state.path).unlink()
        sb.advance(timedelta(minutes=30))  # well past our writes' echo
        r = requests.put(f"{sb.url}/rest/api/2/issue/EXP-3", timeout=5,
                         auth=(JIRA_EMAIL, "sandbox-jira-write"),
                         json={"fields": {"labels": ["checked"]}})  # fmt: skip
        assert r.status_code == 204

        rebuilt = run_sync(settings)

        assert rebuilt.exit_code == 0, rebuilt.errors
        assert "stale" not in {f.code for f in rebuilt.findings if f.record_key == "EXP-3"}


def test_a_later_sync_with_every_token_refused_exits_2_and_writes_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "c.toml", sandbox.url, tmp_path / "state.db")
    assert run_sync(load_settings(config)).exit_code == 0
    text = config.read_text(encoding="utf-8")
    for system in ("jira", "github", "notion"):
        text = text.replace(f'"sandbox-{system}-write"', '"wrong-token"')
    config.write_text(text, encoding="utf-8")
    sandbox.clear_log()

    result = run_sync(load_settings(config))

    assert sandbox.log(write=True) == []
    assert result.exit_code == 2, result.errors
