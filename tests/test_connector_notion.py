"""The Notion connector through real notion-client 3.1 against the sandbox."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors._retry import FAST_POLICY
from connectors.base import Cursor, Scope, SourceItem, WriteOp
from connectors.errors import AuthError, ItemError, NotFound, RateLimited, TransientError
from connectors.notion import NotionConnector, open_client
from connectors.sandbox import Fault, Sandbox

DB = "22222222-2222-2222-2222-222222222222"
HIDDEN_DB = "99999999-9999-9999-9999-999999999999"
ANA = "11111111-1111-1111-1111-111111111111"
OTHER_BOT = "66666666-6666-6666-6666-666666666666"
WRITE, READ = "sandbox-notion-write", "sandbox-notion-read"
T0 = datetime(2025, 1, 1, 10, 0, 31, tzinfo=UTC)
SCOPE = Scope("notion", DB)
MARKER = "<!-- handoff-sync -->"


def page_id(i: int) -> str:
    return f"33333333-3333-3333-3333-{i:012d}"


def workspace(n: int) -> dict[str, Any]:
    pages = [{"id": page_id(i), "last_edited_time": (T0 + timedelta(minutes=i % 7)).isoformat(),
              "properties": {"Name": f"EXP-{i}", "Owner": [ANA], "Stage": "Run"},
              "body": [{"type": "heading_2", "text": "Hypothesis"}, "Faster checkout converts"]}
             for i in range(n)]
    return {"people": [{"key": "ana", "name": "Ana", "email": "ana@example.com",
                        "notion_user_id": ANA}],
            "notion": {"users": [{"id": OTHER_BOT, "name": "Alerts", "type": "bot"}],
                       "databases": [
                           {"id": DB, "title": "Experiments", "pages": pages,
                            "properties": {"Name": "title", "Owner": "people",
                                           "Notes": "rich_text",
                                           "Stage": {"type": "select", "options": ["Run"]},
                                           "Handoff check": "select"}},
                           {"id": HIDDEN_DB, "shared": False, "pages": []}]}}


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(workspace(5)) as sandbox:
        yield sandbox


def connector(sb: Sandbox, token: str = WRITE, timeout: float = 5.0,
              body_fields: bool = False) -> NotionConnector:
    return NotionConnector(open_client(sb.url, token, timeout=timeout), body_fields=body_fields,
                           policy=FAST_POLICY)


def queries(sb: Sandbox) -> list[Any]:
    return [e for e in sb.log(service="notion", method="POST") if e.path.endswith("/query")]


def cursor_after(items: list[SourceItem]) -> Cursor:
    last = max(items, key=lambda i: i.updated)
    return Cursor(last.updated, last.id)


def rich(text: str) -> str:
    return json.dumps([{"type": "text", "text": {"content": text}}])


# -- pulling --------------------------------------------------------------------------------------
def test_open_client_sets_timeout_base_url_and_no_retries(sb: Sandbox) -> None:
    c = open_client(sb.url, WRITE, timeout=7.5)
    assert c.client.timeout.read == 7.5
    assert str(c.client.base_url) == f"{sb.url}/v1/"
    assert c._max_retries == 0
    sb.inject("GET", r"/v1/users$", Fault(status=503))
    with pytest.raises(Exception, match="unavailable"):
        c.users.list()
    assert len(sb.log(method="GET")) == 1  # the client did not try again by itself


def test_full_pull_returns_every_page_in_ceil_n_over_100_queries() -> None:
    n = 250
    with Sandbox(workspace(n)) as sb:
        items = list(connector(sb).pull(SCOPE, None))
        assert sorted(i.id for i in items) == [page_id(i) for i in range(n)]
        assert len(queries(sb)) == math.ceil(n / 100)
        assert len(sb.log()) == math.ceil(n / 100) + 1  # + resolving the database once
        first = next(i for i in items if i.id == page_id(3))
        assert (first.key, first.title, first.kind, first.state) == ("EXP-3", "EXP-3", "page",
                                                                     "present")
        assert first.updated == datetime(2025, 1, 1, 10, 3, tzinfo=UTC)  # to the minute
        assert first.fields["Stage"]["select"]["name"] == "Run" and first.labels == ()
        assert first.url.endswith(page_id(3).replace("-", ""))
        assert "_body" not in first.fields


def test_filter_and_sorts_reach_the_server(sb: Sandbox) -> None:
    conn = connector(sb)
    list(conn.pull(SCOPE, Cursor(datetime(2025, 1, 1, 10, 3, tzinfo=UTC))))
    body = queries(sb)[-1].body
    assert body["filter"] == {"timestamp": "last_edited_time",
                              "last_edited_time": {"on_or_after": "2025-01-01T10:01:00.000Z"}}
    assert body["sorts"] == [{"timestamp": "last_edited_time", "direction": "ascending"}]
    assert body["page_size"] == 100


def test_incremental_pulls_ask_once_and_return_the_window_since_the_cursor(sb: Sandbox) -> None:
    """Times are whole minutes, so the pages of the overlap before the cursor come back; the
    state's content digest tells they did not change (tests/test_change_detection.py)."""
    conn = connector(sb)
    first = list(conn.pull(SCOPE, None))
    assert len(first) == 5
    cursor = cursor_after(first)
    sb.clear_log()
    window = list(conn.pull(SCOPE, cursor))
    edge = cursor.updated - conn.overlap
    assert [i.id for i in window] == [i.id for i in first if i.updated >= edge] != []
    assert len(window) < len(first)
    assert len(sb.log()) == 1  # one query: the data source is already resolved
    sb.advance(timedelta(days=800))  # the seeded pages are old; the edit lands minutes later
    conn.apply(WriteOp("notion", SCOPE.key, page_id(2), "EXP-2", "property.set",
                       name="Notes", value=json.dumps({"rich_text": [{"text": {
                           "content": "Changed"}}]})))
    changed = {i.id: i for i in conn.pull(SCOPE, cursor)}
    assert changed[page_id(2)].fields["Notes"]["rich_text"][0]["plain_text"] == "Changed"
    # Changed again in the same minute: same last_edited_time, new content - not lost.
    conn.apply(WriteOp("notion", SCOPE.key, page_id(2), "EXP-2", "property.set",
                       name="Notes", value=json.dumps({"rich_text": []})))
    again = {i.id: i for i in conn.pull(SCOPE, cursor_after(list(changed.values())))}
    assert list(again) == [page_id(2)] and again[page_id(2)].fields["Notes"]["rich_text"] == []


def test_a_cursor_that_was_not_advanced_gets_the_boundary_pages_again(sb: Sandbox) -> None:
    conn = connector(sb)
    first = list(conn.pull(SCOPE, None))
    older = Cursor(min(i.updated for i in first))  # as if the caller failed to store the pull
    assert {i.id for i in conn.pull(SCOPE, older)} == {i.id for i in first}


def test_trashed_pages_come_back_as_deleted(sb: Sandbox) -> None:
    conn = connector(sb)
    sb.notion.pages[page_id(1)].trashed = True
    page = conn.client.pages.retrieve(page_id(1))
    item = conn._item(SCOPE, page, datetime.now(UTC))
    assert item.state == "deleted"


def test_body_fields_are_plain_text_with_headings() -> None:
    with Sandbox(workspace(2)) as sb:
        items = list(connector(sb, body_fields=True).pull(SCOPE, None))
        assert items[0].fields["_body"] == "## Hypothesis\nFaster checkout converts"
        assert len(sb.log(method="GET")) == 1 + 2  # database + one body per page


def test_people_tell_persons_from_bots(sb: Sandbox) -> None:
    people = {a.id: a for a in connector(sb).people()}
    assert people[ANA].kind == "person" and people[ANA].email == "ana@example.com"
    assert people[OTHER_BOT].kind == "bot"
    assert people[sb.notion.bot_id].kind == "bot"


# -- comments and writes --------------------------------------------------------------------------
def test_find_comment_pages_and_only_trusts_our_own_bot() -> None:
    notes = [f"note {i}" for i in range(130)]  # other people's comments, one quoting our marker
    notes[5] = f"quoting {MARKER}"
    ws = workspace(1)
    ws["notion"]["databases"][0]["pages"][0]["comments"] = [
        {"author": OTHER_BOT, "text": t} for t in notes]
    with Sandbox(ws) as sb:
        conn = connector(sb)
        assert conn.find_comment(SCOPE, page_id(0), MARKER) is None
        made = conn.apply(WriteOp("notion", SCOPE.key, page_id(0), "EXP-0", "comment.create",
                                  body=rich(f"Handoff check: 2 missing {MARKER}"), marker=MARKER))
        sb.clear_log()
        found = conn.find_comment(SCOPE, page_id(0), MARKER)
        assert found is not None and found.id == made.target and MARKER in found.text
        assert len(sb.log(method="GET")) == 2  # two pages of comments; users/me is cached
        conn.apply(WriteOp("notion", SCOPE.key, page_id(0), "EXP-0", "comment.update",
                           body=rich(f"All clear {MARKER}"), target=made.target))
        again = conn.find_comment(SCOPE, page_id(0), MARKER)
        assert again is not None and again.text.startswith("All clear")


def test_property_set_and_its_validation_error_names_the_property(sb: Sandbox) -> None:
    conn = connector(sb)
    op = WriteOp("notion", SCOPE.key, page_id(1), "EXP-1", "property.set",
                 name="Handoff check", value=json.dumps({"select": {"name": "Missing fields"}}))
    assert conn.apply(op).ok
    assert sb.notion.pages[page_id(1)].props["Handoff check"] == "Missing fields"
    bad = WriteOp("notion", SCOPE.key, page_id(1), "EXP-1", "property.set",
                  name="Handoff check", value=json.dumps({"rich_text": []}))
    with pytest.raises(ItemError) as info:
        conn.apply(bad)
    assert info.value.item_id == page_id(1) and "'Handoff check'" in str(info.value)
    assert "expected to be select" in str(info.value)


# -- errors ---------------------------------------------------------------------------------------
def test_bad_token_and_missing_capability_are_auth_errors(sb: Sandbox) -> None:
    with pytest.raises(AuthError, match="401 unauthorized") as info:
        list(connector(sb, "ntn_badtoken123456").pull(SCOPE, None))
    assert "ntn_badtoken123456" not in str(info.value) + info.value.internal
    reader = connector(sb, READ)
    with pytest.raises(AuthError, match='"Insert comments"'):
        reader.apply(WriteOp("notion", SCOPE.key, page_id(0), "EXP-0", "comment.create",
                             body=rich("x")))
    with pytest.raises(AuthError, match='"Update content"'):
        reader.apply(WriteOp("notion", SCOPE.key, page_id(0), "EXP-0", "property.set",
                             name="Notes", value=json.dumps({"rich_text": []})))


def test_a_database_not_shared_says_to_share_it(sb: Sandbox) -> None:
    with pytest.raises(NotFound, match="share the database with the integration") as info:
        list(connector(sb).pull(Scope("notion", HIDDEN_DB), None))
    assert info.value.scope == f"notion:{HIDDEN_DB}" and info.value.status == 404


def test_rate_limits_are_retried_after_retry_after_then_raised(sb: Sandbox) -> None:
    conn = connector(sb)
    sb.inject("GET", r"/v1/databases/", Fault(status=429, retry_after=0))
    assert conn.data_sources(SCOPE)
    assert len(sb.log(method="GET")) == 2
    sb.inject("POST", r"/query$", Fault(status=429, retry_after=60))  # beyond the policy's max
    with pytest.raises(RateLimited) as info:
        list(conn.pull(SCOPE, None))
    assert info.value.retry_after == 60
    assert len(queries(sb)) == 1


def test_reads_retry_5xx_but_creates_are_never_sent_twice(sb: Sandbox) -> None:
    conn = connector(sb)
    sb.inject("POST", r"/query$", Fault(status=500), times=2)
    assert len(list(conn.pull(SCOPE, None))) == 5
    assert len(queries(sb)) == 3
    sb.inject("POST", r"/v1/comments$", Fault(status=502))
    create = WriteOp("notion", SCOPE.key, page_id(0), "EXP-0", "comment.create", body=rich("x"))
    with pytest.raises(TransientError, match="try again later"):
        conn.apply(create)
    assert len(sb.log(method="POST", write=True)) == 1
    sb.inject("PATCH", r"/v1/pages/", Fault(status=503))
    conn.apply(WriteOp("notion", SCOPE.key, page_id(0), "EXP-0", "property.set", name="Notes",
                       value=json.dumps({"rich_text": []})))  # an update is safe to resend
    assert len(sb.log(method="PATCH")) == 2


def test_timeouts_dropped_connections_and_cut_bodies_are_transient(sb: Sandbox) -> None:
    conn = connector(sb, timeout=0.2)
    create = WriteOp("notion", SCOPE.key, page_id(0), "EXP-0", "comment.create", body=rich("x"))
    sb.inject("POST", r"/v1/comments$", Fault(commit=True, delay=1.0))
    with pytest.raises(TransientError, match="did not answer in time"):
        conn.apply(create)
    assert len(sb.notion.pages[page_id(0)].comments) == 1  # landed once, never re-sent
    for fault in (Fault(drop=True), Fault(cut=True)):
        sb.inject("GET", r"/v1/databases/", fault, times=10)
        with pytest.raises(TransientError):
            connector(sb).data_sources(SCOPE)
        sb.clear_faults()


def test_pull_with_unknown_sdk_kwargs_would_send_nothing() -> None:
    # The trap the connector avoids: notion-client drops unknown keyword arguments silently.
    with Sandbox(workspace(1)) as sb:
        c = open_client(sb.url, WRITE, timeout=5)
        ds = connector(sb).data_sources(SCOPE)[0]
        c.data_sources.query(ds, sort=[{"timestamp": "last_edited_time",
                                        "direction": "ascending"}])
        assert queries(sb)[-1].body is None or queries(sb)[-1].body == {}
