"""The sandbox's Notion, driven through notion-client 3.1 and compared with recorded answers."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from notion_client import APIResponseError, Client
from notion_client.errors import UnknownHTTPResponseError

from connectors.sandbox import Fault, Sandbox

DB = "22222222-2222-2222-2222-222222222222"
ANA = "11111111-1111-1111-1111-111111111111"
OTHER_BOT = "66666666-6666-6666-6666-666666666666"
LOG = logging.getLogger("tests.notion_sdk")  # the SDK's default logger adds a handler per client
T0 = datetime(2025, 1, 1, 10, 0, 31, tzinfo=UTC)
WRITE, READ = "sandbox-notion-write", "sandbox-notion-read"


def page_id(i: int) -> str:
    return f"33333333-3333-3333-3333-{i:012d}"


def workspace(n: int = 5, **db: Any) -> dict[str, Any]:
    """`n` pages edited one minute apart on 2025-01-01 from 10:00, with a body and a comment."""
    pages = [{"id": page_id(i), "created_time": "2025-01-01T09:00:00Z",
              "last_edited_time": (T0 + timedelta(minutes=i)).isoformat(),
              "properties": {"Name": f"EXP-{i}", "Owner": [ANA], "Stage": "Run",
                             "Score": i, "Tags": ["a"] if i % 2 else [], "Link": None},
              "body": [{"type": "heading_2", "text": "Hypothesis"}, "it works"],
              "comments": [{"author": OTHER_BOT, "text": f"hello {i}"}]} for i in range(n)]
    spec = {"id": DB, "title": "Experiments", "pages": pages,
            "properties": {"Name": "title", "Owner": "people", "Notes": "rich_text",
                           "Stage": {"type": "select", "options": ["Design", "Run"]},
                           "Status": {"type": "status", "options": ["Not started", "Done"]},
                           "Score": "number", "Done": "checkbox", "Tags": "multi_select",
                           "Due": "date", "Link": "url", "Rel": "relation",
                           "Calc": "formula", "Edited": "last_edited_time"}}
    spec.update(db)
    return {"people": [{"key": "ana", "name": "Ana", "email": "ana@example.com",
                        "notion_user_id": ANA, "active": True}],
            "notion": {"bot": {"name": "handoff-sync"},
                       "users": [{"id": OTHER_BOT, "name": "Alerts", "type": "bot"}],
                       "databases": [spec]}}


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(workspace()) as sandbox:
        yield sandbox


def client(sandbox: Sandbox, token: str = WRITE) -> Client:
    return Client(auth=token, base_url=sandbox.url, retry=False, logger=LOG)


def data_source(c: Client) -> str:
    return str(c.databases.retrieve(DB)["data_sources"][0]["id"])


def error_of(fn: Any) -> APIResponseError:
    with pytest.raises(APIResponseError) as info:
        fn()
    return info.value


# -- the structural comparison with recorded answers ----------------------------------------------
def recorded(shared_api: Path, name: str) -> Any:
    path = shared_api / "recorded" / "notion" / "exchanges-2025-09-03" / name
    return json.loads(path.read_text(encoding="utf-8"))["response"]["body"]


def shape_diff(real: Any, ours: Any, path: str = "$", loose: frozenset[str] = frozenset()) -> list:
    """Where `ours` differs from `real` in keys or JSON types (list items: first of each).

    Paths in `loose` only need the same JSON type (their keys legitimately differ, e.g. a
    page's parent or a data source's property schema).
    """
    def kind(v: Any) -> str:
        return "null" if v is None else "number" if isinstance(v, int | float) and not \
            isinstance(v, bool) else type(v).__name__

    if kind(real) != kind(ours) and "null" not in (kind(real), kind(ours)):
        return [f"{path}: {kind(real)} != {kind(ours)}"]
    if path in loose or not isinstance(real, dict | list) or not isinstance(ours, type(real)):
        return []
    if isinstance(real, list):
        return shape_diff(real[0], ours[0], f"{path}[]", loose) if real and ours else []
    out = [f"{path}.{k}: missing" for k in real if k not in ours]
    out += [f"{path}.{k}: extra" for k in ours if k not in real]
    for k in real.keys() & ours.keys():
        out += shape_diff(real[k], ours[k], f"{path}.{k}", loose)
    return out


def test_shape_diff_finds_missing_extra_and_retyped_keys() -> None:
    real = {"a": 1, "b": {"c": "x"}, "d": [{"e": True}]}
    assert shape_diff(real, {"a": 2, "b": {"c": "y"}, "d": [{"e": False}]}) == []
    assert set(shape_diff(real, {"a": "1", "b": {}, "d": [{"e": 1}], "z": 0})) == {
        "$.a: number != str", "$.b.c: missing", "$.d[].e: bool != number", "$.z: extra"}


def test_database_data_source_and_page_have_the_recorded_shapes(sb: Sandbox,
                                                                shared_api: Path) -> None:
    c = client(sb)
    db = c.databases.retrieve(DB)
    real_db = recorded(shared_api, "test_databases_retrieve__02__GET_v1_databases_ID__200.json")
    assert shape_diff(real_db, db, loose=frozenset({"$.parent"})) == []
    ds = c.data_sources.retrieve(db["data_sources"][0]["id"])
    real_ds = recorded(shared_api,
                       "test_data_sources_retrieve__03__GET_v1_data_sources_ID__200.json")
    assert shape_diff(real_ds, ds, loose=frozenset({"$.properties", "$.database_parent",
                                                    "$.icon"})) == []
    assert shape_diff(real_ds["properties"]["Name"], ds["properties"]["Name"]) == []
    page = c.pages.retrieve(page_id(1))
    real_page = recorded(shared_api, "test_pages_retrieve__01__GET_v1_pages_ID__200.json")
    assert shape_diff(real_page, page, loose=frozenset({"$.parent", "$.properties"})) == []
    assert shape_diff(real_page["properties"]["title"], page["properties"]["Name"]) == []
    assert page["parent"] == {"type": "data_source_id", "data_source_id": ds["id"],
                              "database_id": DB}


def test_query_comments_users_blocks_have_the_recorded_shapes(sb: Sandbox,
                                                              shared_api: Path) -> None:
    c = client(sb)
    result = c.data_sources.query(data_source(c))
    real = recorded(shared_api,
                    "test_data_sources_query__03__POST_v1_data_sources_ID_query__200.json")
    assert shape_diff(real, result, loose=frozenset({"$.results"})) == []
    created = c.comments.create(parent={"page_id": page_id(0)},
                                rich_text=[{"text": {"content": "Handoff check"}}])
    real = recorded(shared_api, "test_comments_create__01__POST_v1_comments__200.json")
    assert shape_diff(real, created) == []
    updated = c.comments.update(created["id"], rich_text=[{"text": {"content": "Updated."}}])
    real = recorded(shared_api, "test_comments_update__02__PATCH_v1_comments_ID__200.json")
    assert shape_diff(real, updated) == []
    listed = c.comments.list(block_id=page_id(0))
    real = recorded(shared_api, "test_comments_list__02__GET_v1_comments__200.json")
    assert shape_diff(real, listed) == []
    users = c.users.list()
    real = recorded(shared_api, "test_users_list__00__GET_v1_users__200.json")
    assert shape_diff(real, users, loose=frozenset({"$.results"})) == []
    ours = {u["type"]: u for u in users["results"]}
    theirs = {u["type"]: u for u in real["results"]}
    assert shape_diff(theirs["person"], ours["person"]) == []
    me = c.users.me()
    assert shape_diff(recorded(shared_api, "test_users_me__00__GET_v1_users_me__200.json"),
                      me) == []
    blocks = c.blocks.children.list(page_id(0), page_size=2)
    real = recorded(shared_api,
                    "test_iterate_paginated_api__02__GET_v1_blocks_ID_children__200.json")
    assert shape_diff(real["results"][0], blocks["results"][1]) == []  # both paragraphs
    assert shape_diff(real, blocks, loose=frozenset({"$.results"})) == []


def test_error_bodies_have_the_recorded_shape_and_messages(sb: Sandbox, shared_api: Path) -> None:
    err = error_of(lambda: client(sb, "wrong-token").users.list())
    real = recorded(shared_api, "test_api_response_error__01__GET_v1_users__401.json")
    assert shape_diff(real, json.loads(err.body)) == []
    assert (err.status, err.code, str(err)) == (401, "unauthorized", "API token is invalid.")
    err = error_of(lambda: client(sb).request(path="invalid", method="GET"))
    assert (err.status, err.code, str(err)) == (400, "invalid_request_url",
                                                "Invalid request URL.")
    err = error_of(lambda: client(sb).pages.retrieve("00000000-0000-0000-0000-000000000000"))
    real = recorded(shared_api,
                    "test_build_request_error_integration__00__GET_v1_pages_ID__404.json")
    assert err.code == "object_not_found" and str(err).startswith(real["message"][:60])
    assert "shared with your integration" in str(err)


# -- paging, filters and sorts --------------------------------------------------------------------
def test_query_pages_with_cursors_in_the_body() -> None:
    with Sandbox(workspace(7)) as sb:
        c = client(sb)
        ds = data_source(c)
        seen, cursor, calls = [], None, 0
        while True:
            kw = {"start_cursor": cursor} if cursor else {}
            r = c.data_sources.query(ds, page_size=3, **kw)
            calls += 1
            seen += [p["id"] for p in r["results"]]
            if not r["has_more"]:
                break
            cursor = r["next_cursor"]
        assert calls == 3 and sorted(seen) == [page_id(i) for i in range(7)]
        bodies = [e.body for e in sb.log(method="POST")]
        assert bodies[1] == {"page_size": 3, "start_cursor": seen[3]}
        assert sb.log(write=True) == []  # a query is a read


def test_filters_and_sorts() -> None:
    with Sandbox(workspace(6)) as sb:
        c = client(sb)
        ds = data_source(c)

        def names(**kw: Any) -> list[str]:
            res = c.data_sources.query(ds, **kw)["results"]
            return [p["properties"]["Name"]["title"][0]["plain_text"] for p in res]

        since = {"timestamp": "last_edited_time",
                 "last_edited_time": {"on_or_after": "2025-01-01T10:03:00Z"}}
        asc = [{"timestamp": "last_edited_time", "direction": "ascending"}]
        assert names(filter=since, sorts=asc) == ["EXP-3", "EXP-4", "EXP-5"]
        assert names(filter=since, sorts=[{"property": "Score", "direction": "descending"}]) \
            == ["EXP-5", "EXP-4", "EXP-3"]
        odd = {"property": "Tags", "multi_select": {"contains": "a"}}
        assert names(filter={"and": [since, odd]}, sorts=asc) == ["EXP-3", "EXP-5"]
        low = {"property": "Score", "number": {"less_than": 1}}
        assert names(filter={"or": [low, odd]}, sorts=asc) == ["EXP-0", "EXP-1", "EXP-3",
                                                               "EXP-5"]
        assert names(filter={"property": "Name", "title": {"equals": "EXP-2"}}) == ["EXP-2"]
        err = error_of(lambda: c.data_sources.query(ds, filter={"property": "Nope",
                                                                "select": {"equals": "x"}}))
        assert err.code == "validation_error" and "Nope" in str(err)
        err = error_of(lambda: c.data_sources.query(ds, page_size=101))
        assert err.code == "validation_error"
        assert str(err) == ("body failed validation: body.page_size should be less than or "
                            "equal to `100`, instead was `101`.")


def test_comments_users_and_blocks_page_too() -> None:
    ws = workspace(1)
    page = ws["notion"]["databases"][0]["pages"][0]
    page["comments"] = [{"author": OTHER_BOT, "text": f"c{i}"} for i in range(5)]
    page["body"] = [f"line {i}" for i in range(5)]
    ws["people"] += [{"key": f"p{i}", "name": f"P{i}", "notion_user_id":
                      f"77777777-7777-7777-7777-{i:012d}"} for i in range(3)]
    ws["people"].append({"key": "gone", "name": "Gone", "active": False,
                         "notion_user_id": "88888888-8888-8888-8888-888888888888"})
    with Sandbox(ws) as sb:
        c = client(sb)
        for list_call, expected in (
            (lambda **kw: c.comments.list(block_id=page_id(0), **kw), 5),
            (lambda **kw: c.users.list(**kw), 6),  # Ana, P0-P2, Alerts, our bot; not Gone
            (lambda **kw: c.blocks.children.list(page_id(0), **kw), 5),
        ):
            got, cursor = [], None
            for _ in range(10):
                r = list_call(page_size=2, **({"start_cursor": cursor} if cursor else {}))
                got += r["results"]
                cursor = r["next_cursor"]
                if not r["has_more"]:
                    break
            assert len({x["id"] for x in got}) == expected
        assert [t["plain_text"] for b in got for t in b["paragraph"]["rich_text"]] == \
            [f"line {i}" for i in range(5)]
        assert error_of(lambda: c.users.retrieve("88888888888888888888888888888888")).status \
            == 404


# -- writes ---------------------------------------------------------------------------------------
def test_a_comment_is_deleted_only_by_the_connection_that_created_it() -> None:
    """Notion's reference (delete-a-comment, update-a-comment): a connection may change only
    its own comments and is answered 404 object_not_found for any other."""
    ws = workspace(1)
    page = ws["notion"]["databases"][0]["pages"][0]
    page["comments"] = [{"author": OTHER_BOT, "text": "someone else's"}]
    with Sandbox(ws) as sb:
        c = client(sb)
        (theirs,) = c.comments.list(block_id=page_id(0))["results"]
        ours = c.comments.create(parent={"page_id": page_id(0)},
                                 rich_text=[{"type": "text", "text": {"content": "ours"}}])

        gone = c.comments.delete(ours["id"])

        assert gone["object"] == "comment" and gone["id"] == ours["id"]
        left = c.comments.list(block_id=page_id(0))["results"]
        assert [x["id"] for x in left] == [theirs["id"]]
        assert error_of(lambda: c.comments.delete(ours["id"])).status == 404
        assert error_of(lambda: c.comments.delete(theirs["id"])).status == 404


def test_page_update_validates_like_notion_and_moves_last_edited_to_the_minute(
        sb: Sandbox) -> None:
    c = client(sb)
    before = c.pages.retrieve(page_id(2))
    sb.advance(timedelta(days=400))
    after = c.pages.update(page_id(2), properties={
        "Stage": {"select": {"name": "Missing fields"}},
        "Notes": {"rich_text": [{"text": {"content": "x" * 2000}}]},
        "Owner": {"people": [{"id": ANA}]}, "Done": {"checkbox": True}})
    assert after["properties"]["Stage"]["select"]["name"] == "Missing fields"
    assert after["properties"]["Notes"]["rich_text"][0]["plain_text"] == "x" * 2000
    assert after["properties"]["Owner"]["people"][0]["name"] == "Ana"
    assert after["last_edited_time"] > before["last_edited_time"]
    assert after["last_edited_time"].endswith(":00.000Z")
    assert after["properties"]["Edited"]["last_edited_time"] == after["last_edited_time"]
    assert c.pages.retrieve(page_id(2))["properties"]["Done"]["checkbox"] is True
    cases = {
        "Nope is not a property that exists.": {"Nope": {"select": {"name": "x"}}},
        "Stage is expected to be select.": {"Stage": {"rich_text": []}},
        "Score is expected to be number.": {"Score": {"number": "3"}},
        "body failed validation: body.properties.Notes.rich_text[0].text.content.length "
        "should be ≤ `2000`, instead was `2001`.":
            {"Notes": {"rich_text": [{"text": {"content": "x" * 2001}}]}},
        "body failed validation: body.properties.Notes.rich_text.length should be ≤ `100`, "
        "instead was `101`.": {"Notes": {"rich_text": [{"text": {"content": "x"}}] * 101}},
        "Calc is a formula property, which cannot be updated.": {"Calc": {"formula": {}}},
    }
    for message, props in cases.items():
        err = error_of(lambda p=props: c.pages.update(page_id(2), properties=p))
        assert (err.status, err.code, str(err)) == (400, "validation_error", message)
    long = [{"text": {"content": "x" * 2001}}]
    err = error_of(lambda: c.comments.create(parent={"page_id": page_id(2)}, rich_text=long))
    assert "body.rich_text[0].text.content.length" in str(err)


def test_trashed_pages_are_told_apart_from_pages_we_cannot_see() -> None:
    ws = workspace(3)
    ws["notion"]["databases"].append({"id": "99999999-9999-9999-9999-999999999999",
                                      "shared": False, "pages": [{"id": page_id(50)}]})
    with Sandbox(ws) as sb:
        c = client(sb)
        c.pages.update(page_id(1), in_trash=True)
        trashed = c.pages.retrieve(page_id(1))
        assert trashed["in_trash"] is True and trashed["archived"] is True
        err = error_of(lambda: c.pages.update(page_id(1), properties={
            "Score": {"number": 1}}))
        assert err.code == "validation_error" and "archived" in str(err)
        ids = [p["id"] for p in c.data_sources.query(data_source(c))["results"]]
        assert page_id(1) not in ids and len(ids) == 2
        for call in (lambda: c.pages.retrieve(page_id(50)),
                     lambda: c.databases.retrieve("99999999999999999999999999999999")):
            err = error_of(call)
            assert err.status == 404 and err.code == "object_not_found"
            assert "Make sure the relevant pages and databases are shared" in str(err)


def test_auth_version_and_capabilities(sb: Sandbox) -> None:
    reader = client(sb, READ)
    assert reader.pages.retrieve(page_id(0))["id"] == page_id(0)
    assert reader.data_sources.query(data_source(reader))["results"]
    for write in (lambda: reader.pages.update(page_id(0), properties={"Score": {"number": 1}}),
                  lambda: reader.comments.create(parent={"page_id": page_id(0)},
                                                 rich_text=[{"text": {"content": "x"}}])):
        err = error_of(write)
        assert (err.status, err.code, str(err)) == (
            403, "restricted_resource", "Insufficient permissions for this endpoint.")
    c = client(sb)
    theirs = c.comments.list(block_id=page_id(0))["results"][0]["id"]
    err = error_of(lambda: c.comments.update(theirs, rich_text=[{"text": {"content": "x"}}]))
    assert err.code == "restricted_resource"
    old = Client(auth=WRITE, base_url=sb.url, retry=False, notion_version="", logger=LOG)
    with pytest.raises(UnknownHTTPResponseError) as info:  # the SDK does not know this code
        old.users.list()
    assert info.value.status == 400 and json.loads(info.value.body)["code"] == "missing_version"


def test_rate_limit_answers_429_with_retry_after() -> None:
    with Sandbox(workspace(1), rate_limits=True) as sb:
        c = client(sb)
        codes = []
        for _ in range(sb.notion.RATE_LIMIT + 2):
            try:
                c.users.me()
                codes.append(200)
            except APIResponseError as e:
                codes.append(e.status)
                assert e.code == "rate_limited" and int(e.headers["retry-after"]) >= 1
        assert codes[: sb.notion.RATE_LIMIT] == [200] * sb.notion.RATE_LIMIT
        assert codes[-2:] == [429, 429]


def test_injected_faults_get_notion_error_bodies(sb: Sandbox) -> None:
    c = client(sb)
    for status, code in ((500, "internal_server_error"), (503, "service_unavailable"),
                         (429, "rate_limited"), (404, "object_not_found")):
        sb.inject("GET", r"/v1/pages/", Fault(status=status))
        err = error_of(lambda: c.pages.retrieve(page_id(0)))
        assert (err.status, err.code) == (status, code)
    assert c.pages.retrieve(page_id(0))["id"] == page_id(0)


def test_large_workspace_loads_and_pages() -> None:
    with Sandbox(workspace(3000)) as sb:
        c = client(sb)
        r = c.data_sources.query(data_source(c), page_size=100,
                                 sorts=[{"timestamp": "last_edited_time",
                                         "direction": "descending"}])
        assert len(r["results"]) == 100 and r["has_more"]
        assert r["results"][0]["id"] == page_id(2999)
