"""Issue 13: our comments are found in batches, never one read per item.

Counted in the sandbox's request log, on the small engine workspace (3 Jira issues, 2 PRs, one
Notion page): GitHub reads one repo-wide comment list per repo (pages of 100), Jira takes the
comments inline in its search and reads an issue's own list only when the inline one is cut
short, Notion reads a page's comments only where our check property shows we wrote there; a
run with nothing changed reads no comment at all. What the batches find still keeps exactly
one comment of ours per item.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
from engine_fixtures import ANA_NOTION, DB_ID, workspace, write_config
from fault_helpers import MARKER, post_as_bot, run_sync

from connectors.sandbox import JIRA_EMAIL, Fault, Sandbox
from sync.settings import Settings, load_settings
from sync.writeback.render import marker_for

PAGE = "9a8b7c6d-0000-4000-8000-0000000000a1"
ON = {"jira": "EXP-2", "github": 2, "page": PAGE}
JIRA_AUTH = (JIRA_EMAIL, "sandbox-jira-write")
GITHUB_AUTH = {"Authorization": "token sandbox-github-write"}


def comment_reads(sb: Sandbox) -> dict[str, list[str]]:
    """Every comment read since the log was cleared, by kind."""
    gets = sb.log(method="GET")
    return {
        "jira_issue": [e.path for e in gets if re.search(r"/rest/api/\d/issue/[^/]+/comment$",
                                                         e.path)],
        "github_item": [e.path for e in gets if re.search(r"/issues/\d+/comments$", e.path)],
        "github_repo": [e.path for e in gets if e.path.endswith("/repos/acme/web/issues/comments")],
        "notion_page": [str(e.query.get("block_id")) for e in gets if e.path == "/v1/comments"],
    }  # fmt: skip


def _settings(sb: Sandbox, tmp_path: Path) -> Settings:
    return load_settings(write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db"))


def _ours(sb: Sandbox) -> dict[str, int]:
    """How many comments of ours each Jira issue and PR shows, read through their APIs."""
    out: dict[str, int] = {}
    for key in ("EXP-1", "EXP-2", "EXP-3"):
        r = requests.get(f"{sb.url}/rest/api/2/issue/{key}/comment", auth=JIRA_AUTH, timeout=5)
        out[key] = sum(MARKER in c["body"] for c in r.json()["comments"])
    for n in (1, 2):
        r = requests.get(f"{sb.url}/api/v3/repos/acme/web/issues/{n}/comments",
                         headers=GITHUB_AUTH, timeout=5)  # fmt: skip
        out[f"pr{n}"] = sum(MARKER in c["body"] for c in r.json())
    return out


def test_first_sync_reads_one_comment_list_per_repo_and_none_per_item(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        first = run_sync(_settings(sb, tmp_path))

        assert first.exit_code == 0, first.errors
        reads = comment_reads(sb)
        assert reads["github_repo"] == ["/api/v3/repos/acme/web/issues/comments"]
        assert reads["github_item"] == []
        assert reads["jira_issue"] == []
        assert reads["notion_page"] == []  # the page carries no property of ours yet
        asked = [e for e in sb.log(service="jira") if e.path.endswith("/search/jql")]
        assert all("comment" in e.query["fields"] for e in asked)
        assert sb.log(write=True), "the first sync wrote nothing: nothing was tested"


def test_after_a_writing_run_and_with_no_change_no_comment_is_read_per_item(
    tmp_path: Path,
) -> None:
    with Sandbox(workspace()) as sb:
        settings = _settings(sb, tmp_path)
        assert run_sync(settings).exit_code == 0
        sb.advance(timedelta(minutes=5))
        sb.clear_log()

        after = run_sync(settings)

        assert after.exit_code == 0, after.errors
        assert sb.log(write=True) == []
        reads = comment_reads(sb)
        assert reads["github_item"] == [] and reads["jira_issue"] == []
        # Our writes moved the PRs: their comments come in the list since the cursor, once.
        assert reads["github_repo"] == ["/api/v3/repos/acme/web/issues/comments"]
        since = [e.query.get("since") for e in sb.log(method="GET")
                 if e.path.endswith("/issues/comments")]  # fmt: skip
        assert all(since), since
        # The page we wrote on moved too, but its last edit is ours: nothing to read there.
        assert reads["notion_page"] == []
        sb.advance(timedelta(minutes=5))
        sb.clear_log()

        still = run_sync(settings)

        assert still.exit_code == 0, still.errors
        assert sb.log(write=True) == []
        assert comment_reads(sb) == {k: [] for k in reads}


def test_a_jira_inline_comment_list_cut_short_is_read_for_exactly_those_issues(
    tmp_path: Path,
) -> None:
    ws = workspace()
    ws["jira"]["inline_comment_max"] = 2
    for issue in ws["jira"]["issues"]:
        n = 3 if issue["key"] in ("EXP-1", "EXP-3") else 2
        issue["comments"] = [
            {"author": "ana", "body": f"note {i}", "created": f"2026-10-01T09:0{i}:00Z"}
            for i in range(n)
        ]
    with Sandbox(ws) as sb:
        result = run_sync(_settings(sb, tmp_path))

        assert result.exit_code == 0, result.errors
        read = sorted(p.split("/")[-2] for p in comment_reads(sb)["jira_issue"])
        assert read == ["10000", "10002"]  # EXP-1 and EXP-3, nothing else
        assert all(n <= 1 for n in _ours(sb).values())


def test_a_notion_page_is_read_only_where_our_property_shows_we_wrote(tmp_path: Path) -> None:
    ws = workspace()
    ws["notion"]["databases"][0]["pages"].append(_page("9a8b7c6d-0000-4000-8000-0000000000a2"))
    with Sandbox(ws) as sb:
        marker = marker_for("notion", PAGE)
        ours = post_as_bot(sb, "notion", f"Old findings.\n\n{marker}/0123456789", **ON)
        with sb.lock:  # as our last run left it: the comment, and the property beside it
            sb.notion.pages[PAGE].props["Handoff check"] = "Old findings."
        sb.clear_log()

        result = run_sync(_settings(sb, tmp_path))

        assert result.exit_code == 0, result.errors
        assert comment_reads(sb)["notion_page"] == [str([PAGE])]
        created = [e for e in sb.log(write=True) if e.method == "POST" and
                   e.path == "/v1/comments" and PAGE in str(e.body)]  # fmt: skip
        assert created == []  # ours was found, and brought up to date in place
        edits = [e.path for e in sb.log(write=True) if e.method == "PATCH"]
        assert f"/v1/comments/{ours}" in edits


def test_a_full_rebuild_reads_no_notion_comment_the_state_holds(tmp_path: Path) -> None:
    """`--full` re-reads every page, not every comment we wrote (one request a page at three a
    second: 400 s at 10k items); a lost state still looks, so nothing is doubled."""
    with Sandbox(workspace()) as sb:
        settings = _settings(sb, tmp_path)
        assert run_sync(settings).exit_code == 0
        ours = [e for e in sb.log(write=True) if e.method == "POST" and e.path == "/v1/comments"]
        assert ours, "the workspace must give a Notion page our comment"
        sb.advance(timedelta(minutes=10))
        sb.clear_log()

        full = run_sync(settings, full=True)

        assert full.exit_code == 0, full.errors
        assert comment_reads(sb)["notion_page"] == []
        assert sb.log(write=True) == []
        Path(settings.state.path).unlink()  # a lost state: every page with our property is read
        sb.clear_log()

        again = run_sync(settings)

        assert again.exit_code == 0, again.errors
        assert len(comment_reads(sb)["notion_page"]) == len(ours)
        assert not [e for e in sb.log(write=True) if e.method == "POST" and
                    e.path == "/v1/comments"]  # fmt: skip


def test_our_comment_changed_on_an_item_not_pulled_reaches_the_plan(tmp_path: Path) -> None:
    """The list since the cursor also shows comments on items the pulls list did not
    return; the engine learns them (`comments_beside`), and the plan repairs the comment."""
    with Sandbox(workspace()) as sb:
        settings = _settings(sb, tmp_path)
        assert run_sync(settings).exit_code == 0
        repo = sb.github.repos["acme/web"]
        with sb.lock:
            (cid,) = [c.id for c in repo.comments.values() if c.number == 2]
            comment = repo.comments[cid]
            # A person rewrites our text and keeps our footer (its marker).
            comment.body = "Done, see the doc.\n\n" + comment.body[comment.body.index(MARKER):]
            comment.updated = sb.now().replace(microsecond=0) + timedelta(minutes=1)
        sb.advance(timedelta(minutes=5))
        # Another PR changes, so the comment list is read; PR #2 itself does not move.
        r = requests.post(f"{sb.url}/api/v3/repos/acme/web/issues/1/labels",
                          headers=GITHUB_AUTH, json={"labels": ["ready"]}, timeout=5)  # fmt: skip
        r.raise_for_status()
        sb.clear_log()

        again = run_sync(settings)

        assert again.exit_code == 0, again.errors
        pulled = [e for e in sb.log(method="GET") if e.path.endswith("/pulls")]
        assert pulled
        writes = [(e.method, e.path) for e in sb.log(write=True) if "/api/v3/" in e.path]
        assert ("PATCH", f"/api/v3/repos/acme/web/issues/comments/{cid}") in writes
        assert not [w for w in writes if w[1].endswith("/issues/2/comments")]  # not a second
        assert _ours(sb)["pr2"] == 1


def test_a_person_deleting_our_jira_comment_gets_one_new_one(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        settings = _settings(sb, tmp_path)
        assert run_sync(settings).exit_code == 0
        r = requests.get(f"{sb.url}/rest/api/2/issue/EXP-2/comment", auth=JIRA_AUTH, timeout=5)
        (cid,) = [c["id"] for c in r.json()["comments"] if MARKER in c["body"]]
        requests.delete(f"{sb.url}/rest/api/2/issue/EXP-2/comment/{cid}", auth=JIRA_AUTH,
                        timeout=5).raise_for_status()  # fmt: skip
        sb.advance(timedelta(minutes=5))
        sb.clear_log()

        again = run_sync(settings)

        assert again.exit_code == 0, again.errors
        assert comment_reads(sb)["jira_issue"] == []  # the search showed it gone
        posts = [e.path for e in sb.log(write=True) if e.method == "POST" and "comment" in e.path]
        assert posts == ["/rest/api/2/issue/10001/comment"]
        assert _ours(sb)["EXP-2"] == 1


def _page(page_id: str) -> dict[str, Any]:
    return {
        "id": page_id,
        "created_time": "2026-11-01T09:00:00Z",
        "last_edited_time": "2026-11-01T09:00:00Z",
        "properties": {"Name": "Another brief", "Jira": f"https://x/{DB_ID}"},
    }


def test_our_github_comment_deleted_is_posted_once_again_when_its_findings_change(
    tmp_path: Path,
) -> None:
    """The list since the cursor does not show a deletion: our notes stand until the plan
    edits the comment; the edit answers 404, and exactly one new comment is posted."""
    with Sandbox(workspace()) as sb:
        settings = _settings(sb, tmp_path)
        assert run_sync(settings).exit_code == 0
        r = requests.get(f"{sb.url}/api/v3/repos/acme/web/issues/2/comments",
                         headers=GITHUB_AUTH, timeout=5)  # fmt: skip
        (cid,) = [c["id"] for c in r.json() if MARKER in c["body"]]
        requests.delete(f"{sb.url}/api/v3/repos/acme/web/issues/comments/{cid}",
                        headers=GITHUB_AUTH, timeout=5).raise_for_status()  # fmt: skip
        sb.advance(timedelta(minutes=5))
        requests.patch(f"{sb.url}/api/v3/repos/acme/web/issues/2", headers=GITHUB_AUTH,
                       json={"body": "Implements EXP-3"}, timeout=5).raise_for_status()  # fmt: skip
        sb.advance(timedelta(minutes=5))
        sb.clear_log()

        again = run_sync(settings)

        assert again.exit_code == 0, again.errors
        writes = [(e.method, e.path, e.status) for e in sb.log(write=True) if "comments" in e.path]
        assert ("PATCH", f"/api/v3/repos/acme/web/issues/comments/{cid}", 404) in writes
        posts = [w for w in writes if w[0] == "POST"]
        assert posts == [("POST", "/api/v3/repos/acme/web/issues/2/comments", 201)], writes
        assert _ours(sb)["pr2"] == 1


def test_a_repo_comment_list_of_the_wrong_shape_falls_back_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    with Sandbox(workspace()) as sb:
        settings = _settings(sb, tmp_path)
        sb.inject("GET", r"/repos/acme/web/issues/comments$",
                  Fault(status=200, body={"not": "a list"}), times=1000)  # fmt: skip

        first = run_sync(settings)  # must not raise; the items are looked at one by one

        assert first.exit_code == 0, first.errors
        assert comment_reads(sb)["github_item"], "no fallback to the per-item look"
        sb.clear_faults()
        sb.advance(timedelta(minutes=5))
        again = run_sync(settings)
        assert again.exit_code == 0, again.errors
        assert _ours(sb) == {"EXP-1": 0, "EXP-2": 1, "EXP-3": 1, "pr1": 0, "pr2": 1}


def test_a_notion_page_a_person_edited_has_its_comments_read_once(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        settings = _settings(sb, tmp_path)
        assert run_sync(settings).exit_code == 0
        sb.advance(timedelta(minutes=5))
        with sb.lock:  # a person edits the page (the API would name our bot as the editor)
            page = sb.notion.pages[PAGE]
            page.props["Name"] = "Free shipping banner brief, v2"
            page.edited = sb.now().replace(second=0, microsecond=0)
            page.edited_by = ANA_NOTION
            page.source.version += 1
        sb.advance(timedelta(minutes=5))
        sb.clear_log()

        again = run_sync(settings)

        assert again.exit_code == 0, again.errors
        assert comment_reads(sb)["notion_page"] == [str([PAGE])]
        assert not [e for e in sb.log(write=True) if e.method == "POST"]  # ours was found


def test_a_notion_create_that_landed_unheard_is_found_even_after_a_later_run_superseded_it(
    tmp_path: Path,
) -> None:
    """Notion shows no comment in a page's edit time, and our property write makes us the
    last editor: only the outbox knows a create may have landed. It stays unconfirmed until
    a comment of ours is on record, even once a later plan superseded the row."""
    from sync.store.sqlite.store import SqliteStore

    with Sandbox(workspace()) as sb:
        settings = _settings(sb, tmp_path)
        sb.inject("POST", r"/v1/comments$", Fault(commit=True, delay=2.0), times=1)
        run_sync(settings)  # the create lands; the client gave up waiting
        sb.clear_faults()
        landed = [e for e in sb.log(write=True) if e.path == "/v1/comments"]
        assert len(landed) == 1
        with SqliteStore.open(settings.state.path) as state:
            assert state.comment_for(PAGE, system="notion") is None
            state.outbox_supersede(["notion"], run_id=-1, now=sb.now())  # as a later run would
            assert state.unconfirmed_creates() == {("notion", PAGE)}
        sb.advance(timedelta(minutes=5))
        sb.clear_log()

        again = run_sync(settings)

        assert again.exit_code == 0, again.errors
        assert [e.path for e in sb.log(write=True) if e.method == "POST"] == []
        assert comment_reads(sb)["notion_page"] == [str([PAGE])]  # apply looked, once
        with SqliteStore.open(settings.state.path) as state:
            assert state.comment_for(PAGE, system="notion") is not None
            assert state.unconfirmed_creates() == set()
