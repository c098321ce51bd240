"""Exactly one comment of ours, whatever servers do: find_comment reads every page of a
comment list (Jira may answer fewer than asked), says "none of ours" only from a complete,
valid list, and reports our later duplicates; every item carries an id that survives renames;
a renamed GitHub repository is followed to where it lives now."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from engine_fixtures import DB_ID, workspace, write_config
from fault_helpers import MARKER, post_as_bot, run_sync

from connectors import errors
from connectors._retry import FAST_POLICY
from connectors.base import Scope
from connectors.errors import ConnectorError
from connectors.sandbox import JIRA_EMAIL, Fault, Sandbox
from sync.engine.connect import connect
from sync.settings import load_settings

PAGE = "9a8b7c6d-0000-4000-8000-0000000000a1"
SCOPES = {
    "jira": Scope("jira", "EXP"),
    "github": Scope("github", "acme/web"),
    "notion": Scope("notion", DB_ID),
}
ITEM = {"jira": "10000", "github": "acme/web#1", "notion": PAGE}
ON = {"jira": "EXP-1", "github": 1, "page": PAGE}  # where post_as_bot comments
JIRA_AUTH = (JIRA_EMAIL, "sandbox-jira-write")


def _connectors(sb: Sandbox, tmp_path: Path) -> dict[str, Any]:
    settings = load_settings(write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db"))
    conns = connect(settings, policy=FAST_POLICY)
    assert not conns.errors, conns.errors
    return conns.connectors


def _jira_markers(sb: Sandbox, key: str) -> list[str]:
    """Our marker comments on a Jira issue, from the sandbox's store (its API caps pages)."""
    with sb.lock:
        issue = sb.jira.issues[sb.jira.by_key[key]]
        return [str(c["body"]) for c in issue["comments"] if MARKER in str(c["body"])]


def _with_comments(n: int, cap: int) -> dict[str, Any]:
    ws = workspace()
    ws["jira"]["comment_page_max"] = cap
    for issue in ws["jira"]["issues"]:
        issue["comments"] = [
            {"author": "ana", "body": f"note {i}", "created": f"2026-10-01T09:{i % 60:02d}:00Z"}
            for i in range(n)
        ]
    return ws


# -- Jira: a short page is not the last one -------------------------------------------------
def test_jira_comment_pages_capped_below_what_was_asked_are_read_to_the_total(
    tmp_path: Path,
) -> None:
    with Sandbox(_with_comments(60, cap=50)) as sb:
        ours = post_as_bot(sb, "jira", f"{MARKER}abc check", **ON)
        conn = _connectors(sb, tmp_path)["jira"]
        sb.clear_log()

        found = conn.find_comment(SCOPES["jira"], "10000", MARKER)

        assert found is not None and found.id == ours
        pages = [e for e in sb.log() if e.path.endswith("/issue/10000/comment")]
        assert [e.query["startAt"] for e in pages] == [["0"], ["50"]]


def test_a_second_sync_after_a_change_updates_our_comment_behind_60_others(
    tmp_path: Path,
) -> None:
    """Seen: one more bot comment per change on an item with 60 earlier comments."""
    with Sandbox(_with_comments(60, cap=50)) as sb:
        settings = load_settings(write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db"))
        assert run_sync(settings).exit_code == 0
        assert len(_jira_markers(sb, "EXP-2")) == 1, _jira_markers(sb, "EXP-2")
        # EXP-2 loses its primary metric too: our comment there must change.
        r = requests.put(f"{sb.url}/rest/api/2/issue/EXP-2", auth=JIRA_AUTH, timeout=5,
                         json={"fields": {"description": "Just an idea."}})  # fmt: skip
        r.raise_for_status()

        second = run_sync(settings)

        assert second.exit_code == 0, second.errors
        for key in ("EXP-1", "EXP-2", "EXP-3"):
            assert len(_jira_markers(sb, key)) <= 1, (key, _jira_markers(sb, key))
        (shown,) = _jira_markers(sb, "EXP-2")
        assert "Primary metric" in shown  # the comment was rewritten, not doubled


def test_jira_comments_without_an_author_are_an_error_for_the_item(tmp_path: Path) -> None:
    """Seen: entries without `author` read as "none of ours", and 14 duplicates followed."""
    with Sandbox(workspace()) as sb:
        conn = _connectors(sb, tmp_path)["jira"]
        conn.find_comment(SCOPES["jira"], "10000", "warm-up")
        body = {"comments": [{"id": "1", "body": f"{MARKER}x"}], "total": 1, "startAt": 0,
                "maxResults": 100}  # fmt: skip
        sb.inject("GET", r"/issue/10000/comment$", Fault(status=200, body=body), times=10)

        with pytest.raises(ConnectorError) as caught:
            conn.find_comment(SCOPES["jira"], "10000", MARKER)

        assert isinstance(caught.value, errors.ItemError)
        assert caught.value.item_id == "10000"


def test_jira_comment_pages_past_their_total_are_an_error(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        conn = _connectors(sb, tmp_path)["jira"]
        conn.find_comment(SCOPES["jira"], "10000", "warm-up")
        entry = {"id": "1", "author": {"accountId": "acc-ana"}, "body": "hi"}
        body = {"comments": [entry, dict(entry, id="2")], "total": 1, "startAt": 0,
                "maxResults": 100}  # fmt: skip
        sb.inject("GET", r"/issue/10000/comment$", Fault(status=200, body=body), times=10)

        with pytest.raises(ConnectorError) as caught:
            conn.find_comment(SCOPES["jira"], "10000", MARKER)

        assert isinstance(caught.value, errors.ItemError)


# -- two of ours: the oldest is kept, the others are named ------------------------------------
@pytest.mark.parametrize("system", ["jira", "github", "notion"])
def test_find_comment_returns_the_oldest_of_ours_and_the_others_as_duplicates(
    system: str, tmp_path: Path
) -> None:
    with Sandbox(workspace()) as sb:
        first = post_as_bot(sb, system, f"{MARKER}abc first", **ON)
        second = post_as_bot(sb, system, f"{MARKER}abc second", **ON)
        third = post_as_bot(sb, system, f"{MARKER}abc third", **ON)
        conn = _connectors(sb, tmp_path)[system]

        found = conn.find_comment(SCOPES[system], ITEM[system], f"{MARKER}abc")

        assert found is not None and found.id == first and "first" in found.text
        assert found.duplicates == (second, third)


# -- ids that survive renames and moves -----------------------------------------------------
def test_every_pulled_item_carries_an_id_that_survives_renames(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        conns = _connectors(sb, tmp_path)
        jira = {i.key: i.uid for i in conns["jira"].pull(SCOPES["jira"], None)}
        github = {i.id: i for i in conns["github"].pull(SCOPES["github"], None)}
        notion = [i.uid for i in conns["notion"].pull(SCOPES["notion"], None)]
        repo = sb.github.repos["acme/web"]

    assert jira == {"EXP-1": "10000", "EXP-2": "10001", "EXP-3": "10002"}
    assert {k: i.uid for k, i in github.items()} == {
        f"acme/web#{n}": str(it.id) for n, it in repo.items.items()
    }
    assert all(i.uid != i.id for i in github.values())  # the numeric id, not owner/repo#n
    assert notion == [PAGE]


def test_a_renamed_repository_is_followed_with_every_pull_and_its_comments(
    tmp_path: Path,
) -> None:
    """GitHub answers the old name with a 301 to /repositories/<id>/...; PyGithub follows it
    without the query, which would read only open pulls, in the wrong order."""
    with Sandbox(workspace()) as sb:
        conn = _connectors(sb, tmp_path)["github"]
        with sb.lock:
            sb.github.repos["acme/web"].items[2].state = "closed"
        ours = post_as_bot(sb, "github", f"{MARKER}abc check", **ON)
        before = {i.id: i.uid for i in conn.pull(SCOPES["github"], None)}
        sb.github.rename("acme/web", "acme/shop")

        after = {i.id: i.uid for i in conn.pull(SCOPES["github"], None)}
        found = conn.find_comment(SCOPES["github"], "acme/web#1", MARKER)

        assert after == before and len(after) == 2
        assert found is not None and found.id == ours
        moved = [e for e in sb.log() if e.status == 301]
        assert moved, "the sandbox never answered with a redirect"


# -- a comment list of the wrong shape, in a whole sync ---------------------------------------
WRONG_LISTS = {
    "jira": (r"/issue/\d+/comment$", {"comments": [{"id": "9", "body": "x"}], "total": 1,
                                      "startAt": 0, "maxResults": 100}),
    "github": (r"/issues/\d+/comments$", ["a comment", "another"]),
    "notion": (r"/v1/comments$", {"object": "list", "results": "none", "has_more": False}),
}  # fmt: skip


@pytest.mark.parametrize("system", ["jira", "github", "notion"])
def test_a_comment_list_of_the_wrong_shape_neither_aborts_the_run_nor_doubles_a_comment(
    system: str, tmp_path: Path
) -> None:
    """Seen: a traceback (GitHub, Notion) or a duplicate comment per item (Jira entries
    without `author`)."""
    from test_faults import COMMENTED, fix_items, marker_comments

    with Sandbox(workspace()) as sb:
        settings = load_settings(write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db"))
        assert run_sync(settings).exit_code == 0
        fix_items(sb)
        path, body = WRONG_LISTS[system]
        method = "GET"
        sb.inject(method, path, Fault(status=200, body=body), times=1000)

        run_sync(settings)  # must not raise

        sb.clear_faults()
        found = marker_comments(sb)
        assert all(len(posted) <= 1 for posted in found.values()), found
        again = run_sync(settings)
        assert again.exit_code == 0, again.errors
        found = marker_comments(sb)
        assert [len(found[i]) for i in COMMENTED] == [1] * len(COMMENTED), found


def test_jira_comments_without_author_never_lead_to_a_second_comment_after_a_rebuild(
    tmp_path: Path,
) -> None:
    """Seen: with the state rebuilt (the README's advice), entries without `author` read as
    "none of ours" and each commented issue got a second comment."""
    from test_faults import marker_comments

    with Sandbox(workspace()) as sb:
        state = tmp_path / "s.db"
        settings = load_settings(write_config(tmp_path / "c.toml", sb.url, state))
        assert run_sync(settings).exit_code == 0
        for leftover in tmp_path.glob("s.db*"):
            leftover.unlink()
        path, body = WRONG_LISTS["jira"]
        sb.inject("GET", path, Fault(status=200, body=body), times=1000)

        run_sync(settings)

        sb.clear_faults()
        found = marker_comments(sb)
        assert all(len(posted) <= 1 for posted in found.values()), found
