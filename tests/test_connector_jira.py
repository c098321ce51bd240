"""The Jira connector through the real `jira` client against the sandbox: cost, cursor, errors."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors._retry import FAST_POLICY, RetryPolicy
from connectors.base import Cursor, Scope, WriteOp
from connectors.errors import AuthError, NotFound, RateLimited, TransientError
from connectors.jira import JiraConnector, adf_plain_text, open_client, parse_jira_time
from connectors.sandbox import JIRA_EMAIL, Fault, Sandbox

WRITE, READ = "sandbox-jira-write", "sandbox-jira-read"
EXP = Scope("jira", "EXP")
T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
MARKER = "<!-- handoff-sync:check -->"


def workspace(n: int = 5, tz: str = "Pacific/Auckland") -> dict[str, Any]:
    people = [
        {"key": "ana", "name": "Ana Ruiz", "email": "ana@example.com",
         "jira_account_id": "acc-ana", "time_zone": "Europe/Madrid", "active": True},
        {"key": "ben", "name": "Ben Ode", "email": "ben@example.com",
         "jira_account_id": "acc-ben", "time_zone": "America/Chicago", "active": False},
    ]  # fmt: skip
    issues = [
        {
            "key": f"EXP-{i}",
            "id": str(20000 + i),
            "summary": f"Experiment {i}",
            "assignee": "ana",
            "labels": ["handoff"],
            "updated": (T0 + timedelta(minutes=10 * i)).isoformat(),
            "fields": {"Primary metric": f"metric-{i}"},
        }
        for i in range(1, n + 1)
    ]
    return {
        "people": people,
        "jira": {
            "account": {"time_zone": tz},
            "fields": [{"id": "customfield_10100", "name": "Primary metric"}],
            "groups": [{"name": "growth-team", "members": ["ana"]}],
            "apps": [{"account_id": "app-automation", "name": "Automation for Jira"}],
            "projects": [{"key": "EXP", "name": "Experiments"}, {"key": "OPS"}],
            "issues": issues,
        },
    }


def para(text: str) -> dict[str, Any]:
    return {"type": "paragraph", "content": [{"type": "text", "text": text}]}


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(workspace(5)) as sandbox:
        yield sandbox


def connect(sb: Sandbox, version: int = 2, token: str = WRITE, **kw: Any) -> JiraConnector:
    client = open_client(sb.url, JIRA_EMAIL, token, api_version=version, timeout=5)
    kw.setdefault("custom_fields", ["Primary metric"])
    kw.setdefault("policy", FAST_POLICY)
    return JiraConnector(client, api_version=version, **kw)


def searches(sb: Sandbox) -> list[Any]:
    return [e for e in sb.log(service="jira") if e.path.endswith("/search/jql")]


# -- pulling ---------------------------------------------------------------------------------
@pytest.mark.parametrize("n,page_size", [(250, 100), (250, 40), (7, 100)])
def test_full_pull_returns_every_item_in_ceil_n_over_page_searches(n: int, page_size: int) -> None:
    with Sandbox(workspace(n)) as sb:
        conn = connect(sb, page_size=page_size)
        sb.clear_log()
        items = list(conn.pull(EXP, None))
        assert sorted(i.key for i in items) == sorted(f"EXP-{i}" for i in range(1, n + 1))
        assert len(searches(sb)) == math.ceil(n / page_size)
        # The constant: /field for custom fields (once; it also fills the client's own field
        # cache, which would GET it again) and /myself for the account's time zone (once).
        others = [e.path for e in sb.log(service="jira") if not e.path.endswith("/search/jql")]
        assert sorted(others) == ["/rest/api/2/field", "/rest/api/2/myself"]
        assert all(e.query["maxResults"] == [str(page_size)] for e in searches(sb))


def test_item_envelope(sb: Sandbox) -> None:
    item = next(iter(connect(sb).pull(EXP, None)))
    assert (item.system, item.kind, item.id, item.key) == ("jira", "issue", "20001", "EXP-1")
    assert item.url == f"{sb.url}/browse/EXP-1"
    assert item.updated == T0 + timedelta(minutes=10) and item.updated.tzinfo is not None
    assert item.fields["Primary metric"] == "metric-1"  # custom field under its display name
    assert "customfield_10100" not in item.fields
    assert item.fields["assignee"]["accountId"] == "acc-ana"
    assert item.labels == ("handoff",) and item.title == "Experiment 1"
    asked = searches(sb)[0].query["fields"]
    assert "customfield_10100" in asked  # only what the maps need, and our comment inline:
    assert "comment" in asked and "comment" not in item.fields  # read, never stored


def test_second_pull_with_nothing_changed_costs_one_request(sb: Sandbox) -> None:
    conn = connect(sb)
    items = list(conn.pull(EXP, None))
    last = max(items, key=lambda i: (i.updated, int(i.id)))
    sb.clear_log()
    again = list(conn.pull(EXP, Cursor(last.updated, last.id)))
    assert again == []
    assert len(sb.log(service="jira")) == 1


def test_after_one_change_the_next_pull_returns_exactly_it(sb: Sandbox) -> None:
    conn = connect(sb)
    items = list(conn.pull(EXP, None))
    last = max(items, key=lambda i: (i.updated, int(i.id)))
    sb.advance(timedelta(days=30))  # the sandbox clock is past every seeded time
    conn.apply(WriteOp("jira", EXP.key, "20002", "EXP-2", "label.add", name="needs-owner"))
    sb.clear_log()
    changed = list(conn.pull(EXP, Cursor(last.updated, last.id)))
    assert [i.key for i in changed] == ["EXP-2"]
    assert "needs-owner" in changed[0].labels
    assert len(sb.log(service="jira")) == 1


@pytest.mark.parametrize("tz", ["Pacific/Pago_Pago", "Pacific/Kiritimati", "Pacific/Auckland"])
def test_jql_dates_are_written_in_the_account_time_zone(tz: str) -> None:
    """An item changed one minute after the cursor must come back, whatever the account tz.

    Written in UTC, "09:58" would be read as 09:58 in Pago Pago (UTC-11): 11 hours late, and
    the change would be skipped for good.
    """
    with Sandbox(workspace(3, tz=tz)) as sb:
        conn = connect(sb)
        cursor_at = T0 + timedelta(minutes=29)  # EXP-3 was updated at T0+30min
        got = list(conn.pull(EXP, Cursor(cursor_at)))
        assert [i.key for i in got] == ["EXP-3"]
        jql = searches(sb)[-1].query["jql"][0]
        local = (cursor_at - timedelta(minutes=2)).astimezone(ZoneInfo(tz))
        assert f'updated >= "{local:%Y/%m/%d %H:%M}"' in jql
        assert jql.endswith("ORDER BY updated ASC")


def test_a_dst_ambiguous_local_time_steps_back_an_hour() -> None:
    with Sandbox(workspace(1, tz="Pacific/Auckland")) as sb:
        conn = connect(sb)
        # 2026-04-05 02:30 happens twice in Auckland (NZDT -> NZST at 03:00).
        ambiguous = datetime(2026, 4, 4, 13, 32, tzinfo=UTC)  # 02:30 NZDT, the first one
        assert conn.jql(EXP, Cursor(ambiguous)).count('"2026/04/05 01:30"') == 1


def test_entity_properties_come_with_the_search_not_per_item(sb: Sandbox) -> None:
    sb.jira.issues["20001"]["properties"]["handoff.check"] = {"open": 2}
    conn = connect(sb, properties=["handoff.check"])
    sb.clear_log()
    items = {i.key: i for i in conn.pull(EXP, None)}
    assert items["EXP-1"].fields["_properties"] == {"handoff.check": {"open": 2}}
    assert items["EXP-2"].fields["_properties"] == {}
    assert not [e for e in sb.log() if "/properties" in e.path]


def test_custom_scope_jql_is_wrapped_and_reordered(sb: Sandbox) -> None:
    conn = connect(sb)
    scope = Scope("jira", "EXP-handoffs", query="project = EXP AND labels = handoff ORDER BY key")
    assert len(list(conn.pull(scope, None))) == 5
    jql = conn.jql(scope, Cursor(T0))
    assert jql.startswith("(project = EXP AND labels = handoff) AND updated >= ")
    assert jql.count("ORDER BY") == 1


# -- people ----------------------------------------------------------------------------------
def test_people_reports_users_bots_and_groups(sb: Sandbox) -> None:
    people = {a.id: a for a in connect(sb).people()}
    assert people["acc-ana"].email == "ana@example.com"
    assert people["acc-ana"].time_zone == "Europe/Madrid" and people["acc-ana"].active
    assert people["acc-ben"].active is False
    assert people["app-automation"].kind == "bot"
    assert people["growth-team"].kind == "group"


# -- comments --------------------------------------------------------------------------------
def test_find_comment_only_takes_our_own_comment_with_the_marker(sb: Sandbox) -> None:
    issue = sb.jira.issues["20001"]
    now = datetime.now(UTC)
    for n in range(130):  # more than one page of comments
        issue["comments"].append(
            {"id": str(50000 + n), "author": "acc-ana", "body": f"{MARKER} quoted {n}",
             "created": now, "updated": now}
        )  # fmt: skip
    conn = connect(sb)
    assert conn.find_comment(EXP, "20001", MARKER) is None
    made = conn.apply(WriteOp("jira", EXP.key, "20001", "EXP-1", "comment.create",
                              body=f"{MARKER}\nAll clear", marker=MARKER))  # fmt: skip
    found = conn.find_comment(EXP, "20001", MARKER)
    assert found is not None and found.id == made.target and "All clear" in found.text


def test_v3_comments_are_adf_and_found_by_their_text() -> None:
    with Sandbox(workspace(2)) as sb:
        conn = connect(sb, version=3)
        doc = {"type": "doc", "version": 1, "content": [para(MARKER), para("Owner missing")]}
        op = WriteOp("jira", EXP.key, "20002", "EXP-2", "comment.create", body=json.dumps(doc))
        made = conn.apply(op)
        posted = sb.log(method="POST")[-1]
        assert posted.path == "/rest/api/3/issue/20002/comment" and posted.body["body"] == doc
        found = conn.find_comment(EXP, "20002", MARKER)
        assert found is not None and found.id == made.target
        assert found.text == f"{MARKER}\nOwner missing"


def test_apply_writes(sb: Sandbox) -> None:
    conn = connect(sb)
    made = conn.apply(WriteOp("jira", EXP.key, "20003", "EXP-3", "comment.create", body="one"))
    upd = WriteOp("jira", EXP.key, "20003", "EXP-3", "comment.update", body="two",
                  target=made.target)  # fmt: skip
    assert conn.apply(upd).target == made.target
    conn.apply(WriteOp("jira", EXP.key, "20003", "EXP-3", "label.remove", name="handoff"))
    conn.apply(WriteOp("jira", EXP.key, "20003", "EXP-3", "entity_property.set",
                       name="handoff.check", value='{"open": 1}'))  # fmt: skip
    issue = sb.jira.issues["20003"]
    assert [c["body"] for c in issue["comments"]] == ["two"]
    assert issue["fields"]["labels"] == []
    assert issue["properties"]["handoff.check"] == {"open": 1}
    puts = [e for e in sb.log(write=True) if e.method == "PUT" and e.path.endswith("/20003")]
    assert puts[0].body == {"update": {"labels": [{"remove": "handoff"}]}}
    assert not sb.log(method="GET", write=False) or all(
        "/comment/" not in e.path for e in sb.log(method="GET")
    )  # an update is one PUT, not PUT + GET


def test_a_comment_create_is_not_retried_after_a_500(sb: Sandbox) -> None:
    conn = connect(sb)
    sb.inject("POST", r"/comment$", Fault(status=500, commit=False))
    op = WriteOp("jira", EXP.key, "20001", "EXP-1", "comment.create", body="x")
    with pytest.raises(TransientError):
        conn.apply(op)
    assert len(sb.log(method="POST")) == 1


def test_a_label_edit_is_retried_after_a_500(sb: Sandbox) -> None:
    conn = connect(sb)
    sb.inject("PUT", r"/issue/20001$", Fault(status=500))
    conn.apply(WriteOp("jira", EXP.key, "20001", "EXP-1", "label.add", name="x"))
    assert len(sb.log(method="PUT")) == 2
    assert "x" in sb.jira.issues["20001"]["fields"]["labels"]


# -- errors ----------------------------------------------------------------------------------
def test_bad_token(sb: Sandbox) -> None:
    with pytest.raises(AuthError) as err:
        open_client(sb.url, JIRA_EMAIL, "not-a-real-token-123", timeout=5)
    assert f"Jira rejected the token for {JIRA_EMAIL} at {sb.url}" in str(err.value)
    assert "[jira] email and token" in str(err.value)
    assert "not-a-real-token-123" not in str(err.value) + err.value.internal


def test_read_only_token_writing(sb: Sandbox) -> None:
    conn = connect(sb, token=READ)
    with pytest.raises(AuthError) as err:
        conn.apply(WriteOp("jira", EXP.key, "20001", "EXP-1", "comment.create", body="x"))
    assert "permission to comment" in str(err.value)
    assert err.value.status == 403


def test_unknown_project(sb: Sandbox) -> None:
    with pytest.raises(NotFound) as err:
        list(connect(sb).pull(Scope("jira", "NOPE"), None))
    assert "'NOPE' does not exist for the field 'project'" in str(err.value)
    assert "[jira] projects" in str(err.value)


def test_unknown_custom_field(sb: Sandbox) -> None:
    with pytest.raises(NotFound) as err:
        list(connect(sb, custom_fields=["Primary metrc"]).pull(EXP, None))
    assert "custom field 'Primary metrc' does not exist" in str(err.value)
    assert "[fields.jira.fields]" in str(err.value) and "Primary metric" in str(err.value)


def test_optional_custom_fields_are_used_where_they_exist_and_skipped_elsewhere(
    sb: Sandbox,
) -> None:
    # The default field maps try many names; a fresh site has few of them.
    conn = connect(sb, custom_fields=[], optional_custom_fields=["Primary metric", "Cost cap"])
    items = list(conn.pull(EXP, None))
    assert items and all("Cost cap" not in i.fields for i in items)
    assert any("Primary metric" in i.fields for i in items)


def test_deleted_issue_is_not_found(sb: Sandbox) -> None:
    sb.jira.issues["20004"]["state"] = "deleted"
    with pytest.raises(NotFound) as err:
        connect(sb).find_comment(EXP, "20004", MARKER)
    assert "deleted or" in str(err.value) and "can no longer see it" in str(err.value)


def test_429_with_a_long_retry_after_ends_the_scope(sb: Sandbox) -> None:
    conn = connect(sb)
    sb.inject("GET", r"/search/jql$", Fault(status=429, retry_after=30), times=5)
    sb.clear_log()
    with pytest.raises(RateLimited) as err:
        list(conn.pull(EXP, None))
    assert err.value.retry_after == 30
    assert len(searches(sb)) == 1  # longer than the policy's max wait: no retry


def test_429_with_a_short_retry_after_is_waited_out(sb: Sandbox) -> None:
    conn = connect(sb)
    sb.inject("GET", r"/search/jql$", Fault(status=429, retry_after=0.01))
    sb.clear_log()
    assert len(list(conn.pull(EXP, None))) == 5
    assert len(searches(sb)) == 2


def test_sandbox_rate_limit_gives_retry_after() -> None:
    ws = workspace(1)
    ws["jira"]["rate_limit_per_second"] = 2
    with Sandbox(ws, rate_limits=True) as sb:
        conn = connect(sb, custom_fields=[], policy=RetryPolicy(attempts=1))
        sb.clear_log()
        with pytest.raises(RateLimited) as err:
            for _ in range(3):
                list(conn.pull(EXP, None))
        assert err.value.retry_after == 1.0


@pytest.mark.parametrize(
    "fault,expect",
    [
        (Fault(status=500), "Jira answered 500"),
        (Fault(status=503), "Jira answered 503"),
        (Fault(drop=True), "connection to Jira dropped"),
        (Fault(cut=True), "incomplete answer"),
    ],
)
def test_transient_failures_are_retried_then_reported(
    sb: Sandbox, fault: Fault, expect: str
) -> None:
    conn = connect(sb)
    list(conn.pull(EXP, None))  # warm the caches so only searches are counted
    sb.inject("GET", r"/search/jql$", fault, times=100)
    sb.clear_log()
    with pytest.raises(TransientError) as err:
        list(conn.pull(EXP, None))
    assert expect in str(err.value)
    assert len(searches(sb)) == FAST_POLICY.attempts
    sb.clear_faults()
    sb.inject("GET", r"/search/jql$", fault, times=1)
    assert len(list(conn.pull(EXP, None))) == 5  # one failure, then the retry succeeds


def test_timeout_is_transient(sb: Sandbox) -> None:
    client = open_client(sb.url, JIRA_EMAIL, WRITE, timeout=0.2)
    conn = JiraConnector(client, policy=RetryPolicy(attempts=2, base=0.01, cap=0.01))
    sb.inject("GET", r"/search/jql$", Fault(delay=1.0), times=2)
    with pytest.raises(TransientError) as err:
        list(conn.pull(EXP, None))
    assert "did not answer in time" in str(err.value)


# -- pure helpers ----------------------------------------------------------------------------
def test_parse_jira_time_and_adf_text() -> None:
    assert parse_jira_time("2026-11-01T10:00:00.000+1300") == datetime(
        2026, 10, 31, 21, 0, tzinfo=UTC
    )
    assert parse_jira_time("2026-11-01T10:00:00Z") == datetime(2026, 11, 1, 10, tzinfo=UTC)
    two = para("a")
    two["content"].append({"type": "text", "text": "b"})
    assert adf_plain_text({"type": "doc", "content": [two, para("c")]}) == "ab\nc"
    assert adf_plain_text("wiki *bold*") == "wiki *bold*"
