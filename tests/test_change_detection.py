"""Change means change: an item counts as changed only when its content differs from the
stored row, and the echo of our own writes makes no work.

Through the real clients against the sandbox: overlap windows and Notion's minute-rounded
boundary pages are pulled again but change nothing, across processes (a new connector object
each run, as cron starts them); a person's edit changes exactly that item; the run right after
a writing run finds nothing changed and writes nothing; each write's answer time is stored.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from engine_fixtures import ANA_NOTION, DB_ID, workspace, write_config
from fault_helpers import run_sync

from connectors._retry import FAST_POLICY
from connectors.base import Cursor, Scope, WriteOp
from connectors.sandbox import JIRA_EMAIL, Sandbox
from sync.engine.connect import connect
from sync.engine.run import SyncResult
from sync.settings import Settings, load_settings
from sync.store.sqlite import SqliteStore

PAGE = "9a8b7c6d-0000-4000-8000-0000000000a1"
SCOPES = {
    "jira": Scope("jira", "EXP"),
    "github": Scope("github", "acme/web"),
    "notion": Scope("notion", DB_ID),
}
NOTION_HEADERS = {"Authorization": "Bearer sandbox-notion-write", "Notion-Version": "2025-09-03"}


def _settings(sb: Sandbox, tmp_path: Path) -> Settings:
    return load_settings(write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db"))


def _connectors(settings: Settings) -> dict[str, Any]:
    """New connector objects, as a new process would have them (nothing in memory)."""
    conns = connect(settings, policy=FAST_POLICY)
    assert not conns.errors, conns.errors
    return conns.connectors


def _changed(result: SyncResult) -> dict[str, set[str]]:
    return {o.scope: set(o.changed) for o in result.scopes if o.changed}


def _edit(sb: Sandbox, system: str) -> str:
    """A person's edit of one item's content; the item's id."""
    if system == "jira":
        r = requests.put(
            f"{sb.url}/rest/api/2/issue/EXP-2",
            json={"fields": {"description": "Just an idea."}},
            auth=(JIRA_EMAIL, "sandbox-jira-write"),
            timeout=5,
        )
        r.raise_for_status()
        return str(sb.jira.by_key["EXP-2"])
    if system == "github":
        with sb.lock:
            repo = sb.github.repos["acme/web"]
            pr = repo.items[2]
            pr.title = "Tidy CSS and fonts"
            repo.touch(pr, sb.now())
        return "acme/web#2"
    r = requests.patch(
        f"{sb.url}/v1/pages/{PAGE}",
        json={"properties": {"Outcome owner": {"people": [{"id": ANA_NOTION}]}}},
        headers=NOTION_HEADERS,
        timeout=5,
    )
    r.raise_for_status()
    return PAGE


# -- the store decides what changed ----------------------------------------------------------
@pytest.mark.parametrize("system", ["jira", "github", "notion"])
def test_pulling_the_overlap_window_again_changes_nothing(system: str, tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb, SqliteStore.memory() as state:
        settings = _settings(sb, tmp_path)
        first = list(_connectors(settings)[system].pull(SCOPES[system], None))
        assert state.upsert_items(first, 1, sb.now()) == {(system, i.id) for i in first}
        # A cursor before every item: the whole scope is the overlap window, read again.
        before = Cursor(min(i.updated for i in first) - timedelta(minutes=1))
        again = list(_connectors(settings)[system].pull(SCOPES[system], before))
        assert {i.id for i in again} == {i.id for i in first}

        assert state.upsert_items(again, 2, sb.now()) == set()


def test_notion_boundary_pages_read_by_a_new_process_change_nothing(tmp_path: Path) -> None:
    """Notion rounds last_edited_time to the minute, so a pull from the cursor gets the
    cursor's own minute again; no process memory is needed to see they did not change."""
    with Sandbox(workspace()) as sb, SqliteStore.memory() as state:
        settings = _settings(sb, tmp_path)
        first = list(_connectors(settings)["notion"].pull(SCOPES["notion"], None))
        state.upsert_items(first, 1, sb.now())
        cursor = Cursor(max(i.updated for i in first))

        boundary = list(_connectors(settings)["notion"].pull(SCOPES["notion"], cursor))

        assert [i.id for i in boundary] == [PAGE]  # pulled again: the store decides
        assert state.upsert_items(boundary, 2, sb.now()) == set()


def test_a_change_within_the_same_minute_is_seen_by_a_new_process(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb, SqliteStore.memory() as state:
        settings = _settings(sb, tmp_path)
        _edit(sb, "notion")  # now: the page's minute is this one
        first = list(_connectors(settings)["notion"].pull(SCOPES["notion"], None))
        state.upsert_items(first, 1, sb.now())
        cursor = Cursor(max(i.updated for i in first))
        r = requests.patch(
            f"{sb.url}/v1/pages/{PAGE}",
            json={"properties": {"Outcome owner": {"people": []}}},
            headers=NOTION_HEADERS,
            timeout=5,
        )
        r.raise_for_status()
        again = list(_connectors(settings)["notion"].pull(SCOPES["notion"], cursor))
        if again and again[0].updated != first[0].updated:
            pytest.skip("the minute turned between the two edits")

        assert state.upsert_items(again, 2, sb.now()) == {("notion", PAGE)}


# -- through the engine ----------------------------------------------------------------------
def test_the_run_after_a_writing_run_changes_nothing_and_writes_nothing(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        settings = _settings(sb, tmp_path)
        first = run_sync(settings)
        assert first.exit_code == 0, first.errors
        assert first.applied.done > 0  # comments, labels and the Notion property
        assert sum(len(o.changed) for o in first.scopes) == 6  # every item is new
        sb.clear_log()

        second = run_sync(settings)  # new connectors, as a new process has them

        assert second.exit_code == 0, second.errors
        assert _changed(second) == {}
        assert second.ops == [] and sb.log(write=True) == []
        # No comment read back item by item: GitHub's one repo-wide list (since the cursor,
        # which our writes' echo passed) is the only comment read.
        reads = [e.path for e in sb.log() if "comment" in e.path]
        assert reads in ([], ["/api/v3/repos/acme/web/issues/comments"]), reads
        third = run_sync(settings)
        assert _changed(third) == {} and third.ops == []


@pytest.mark.parametrize("system", ["jira", "github", "notion"])
def test_a_persons_edit_changes_exactly_that_item(system: str, tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        settings = _settings(sb, tmp_path)
        assert run_sync(settings).exit_code == 0
        sb.advance(timedelta(minutes=10))  # past our own writes' quiet window
        edited = sb.now().replace(microsecond=0) - timedelta(minutes=1)  # Notion: the minute
        item_id = _edit(sb, system)

        second = run_sync(settings)

        assert second.exit_code == 0, second.errors
        assert _changed(second) == {SCOPES[system].key: {item_id}}
        with SqliteStore.open(settings.state.path) as state:
            stored = state.item(system, item_id)
        # A person's change is activity (our writes after it in this run are not).
        assert stored is not None and (stored.activity or stored.updated) >= edited


@pytest.mark.parametrize("system", ["jira", "github"])
def test_a_comment_right_after_our_writes_moves_the_item_and_counts(
    system: str, tmp_path: Path
) -> None:
    """Not content, but the item's edit time moved past what our writes' answers said: a
    person did something there (it may be an edit of our own comment)."""
    with Sandbox(workspace()) as sb:
        settings = _settings(sb, tmp_path)
        assert run_sync(settings).exit_code == 0
        # GitHub's times are whole seconds: a comment in the second of our write is
        # indistinguishable from its echo by time (and is found by its content, or by C's
        # comment discovery when it is our own comment that was edited).
        sb.advance(timedelta(seconds=2))
        if system == "jira":
            r = requests.post(f"{sb.url}/rest/api/2/issue/EXP-3/comment", json={"body": "hm"},
                              auth=(JIRA_EMAIL, "sandbox-jira-write"), timeout=5)  # fmt: skip
            item_id = str(sb.jira.by_key["EXP-3"])
        else:
            r = requests.post(f"{sb.url}/api/v3/repos/acme/web/issues/2/comments",
                              json={"body": "hm"}, timeout=5,
                              headers={"Authorization": "token sandbox-github-write"})  # fmt: skip
            item_id = "acme/web#2"
        r.raise_for_status()

        second = run_sync(settings)

        assert _changed(second) == {SCOPES[system].key: {item_id}}


def test_each_writes_answer_time_is_stored_as_the_items_update(tmp_path: Path) -> None:
    """Our writes move each item's edit time; the state holds the moved time (from the
    writes' answers) and still knows the person's last activity from before them."""
    with Sandbox(workspace()) as sb:
        settings = _settings(sb, tmp_path)
        before = sb.now()
        sb.advance(timedelta(minutes=5))  # our writes land clearly after the seeded edits
        first = run_sync(settings)
        assert first.exit_code == 0 and first.applied.done > 0
        written = {(o.system, o.item_id) for o in first.ops}
        shown = {
            (i.system, i.id): i
            for system, conn in _connectors(settings).items()
            for i in conn.pull(SCOPES[system], None)
        }
        with SqliteStore.open(settings.state.path) as state:
            for system, item_id in sorted(written):
                stored = state.item(system, item_id)
                now = shown[(system, item_id)]
                assert stored is not None and now.updated > before, (system, item_id)
                # Label answers carry no item, so their time is the answer's Date header.
                assert abs(stored.updated - now.updated) <= timedelta(seconds=1), item_id
                assert stored.activity is not None and stored.activity < before


@pytest.mark.parametrize("system", ["jira", "github", "notion"])
def test_a_write_answers_with_the_items_new_edit_time(system: str, tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        conns = _connectors(_settings(sb, tmp_path))
        sb.advance(timedelta(days=40))
        item = {"jira": str(sb.jira.by_key["EXP-1"]), "github": "acme/web#1", "notion": PAGE}
        if system == "notion":
            op = WriteOp("notion", SCOPES[system].key, PAGE, "brief", "property.set",
                         name="Handoff check", value='{"rich_text": []}')
        else:
            op = WriteOp(system, SCOPES[system].key, item[system], "x", "comment.create",
                         body="a note")
        sb.clear_log()

        result = conns[system].apply(op)

        assert len(sb.log()) == 1  # the time came with the write's own answer
        after = list(conns[system].pull(SCOPES[system], None))
        shown = next(i for i in after if i.id == item[system])
        assert result.updated == shown.updated
