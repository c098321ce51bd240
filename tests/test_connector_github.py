"""The GitHub connector through real PyGithub against the sandbox: cost, increments, errors."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, timedelta
from typing import Any

import pytest
from test_sandbox_github import READ, WRITE, workspace

from connectors._retry import FAST_POLICY, RetryPolicy
from connectors.base import Cursor, Scope, WriteOp
from connectors.errors import AuthError, NotFound, RateLimited, TransientError
from connectors.github import GithubConnector, open_client
from connectors.sandbox import Fault, Sandbox

SCOPE = Scope("github", "acme/web")
ONCE = RetryPolicy(attempts=1, base=0.01, cap=0.01, deadline=5.0, max_retry_after=1.0)


def connector(
    sb: Sandbox,
    token: str = WRITE,
    *,
    include_issues: bool = False,
    policy: RetryPolicy = FAST_POLICY,
    timeout: float = 10.0,
) -> GithubConnector:
    client = open_client(f"{sb.url}/api/v3", token, timeout=timeout)
    return GithubConnector(client, include_issues=include_issues, policy=policy)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(workspace()) as s:
        yield s


def pull_lists(sb: Sandbox) -> list[Any]:
    """The pulls list requests: a pull also reads our comments, in one repo-wide list."""
    return [e for e in sb.log(service="github", method="GET") if e.path.endswith("/pulls")]


def op(action: str, item: int = 1, **kw: str) -> WriteOp:
    item_id = f"acme/web#{item}"
    return WriteOp("github", SCOPE.key, item_id, item_id, action, **kw)  # type: ignore[arg-type]


# -- pulling ---------------------------------------------------------------------------------
def test_full_pull_returns_every_pull_at_one_request_per_hundred(sb: Sandbox) -> None:
    items = list(connector(sb).pull(SCOPE, None))
    assert len(items) == 250 and len({i.id for i in items}) == 250
    gets = sb.log(service="github", method="GET")
    assert len(pull_lists(sb)) == math.ceil(250 / 100)  # no repo GET, no per-item completion
    rest = [e.path for e in gets if not e.path.endswith("/pulls")]
    assert set(rest) <= {"/api/v3/user", "/api/v3/repos/acme/web/issues/comments"}, rest
    first = next(i for i in items if i.id == "acme/web#1")
    assert first.kind == "pull" and first.key == "acme/web#1"
    assert first.url.endswith("/acme/web/pull/1") and first.title == "EXP-1 change 1"
    assert first.updated.tzinfo is not None and first.updated.utcoffset() == timedelta(0)
    assert first.fields["head"]["ref"] == "feature/exp-1"
    assert first.fields["requested_teams"][0]["slug"] == "data-eng"
    assert next(i for i in items if i.id == "acme/web#2").labels == ("ready",)


def test_issues_are_added_by_config_without_their_prs_twice(sb: Sandbox) -> None:
    items = list(connector(sb, include_issues=True).pull(SCOPE, None))
    assert len(items) == 251
    issues = [i for i in items if i.kind == "issue"]
    assert [i.id for i in issues] == ["acme/web#251"]
    by_query = list(connector(sb).pull(Scope("github", "acme/web", "issues"), None))
    assert len(by_query) == 251


def test_unchanged_second_pull_costs_one_request_and_returns_nothing(sb: Sandbox) -> None:
    gh = connector(sb)
    items = list(gh.pull(SCOPE, None))
    newest = max(items, key=lambda i: i.updated)
    sb.clear_log()
    again = list(gh.pull(SCOPE, Cursor(newest.updated, newest.id)))
    assert again == []
    assert len(pull_lists(sb)) == 1


def test_after_one_pr_changes_the_next_pull_returns_exactly_it(sb: Sandbox) -> None:
    gh = connector(sb)
    items = list(gh.pull(SCOPE, None))
    newest = max(items, key=lambda i: i.updated)
    sb.advance(timedelta(minutes=3))
    gh.apply(op("label.add", item=17, name="handoff:stale"))
    sb.clear_log()
    changed = list(gh.pull(SCOPE, Cursor(newest.updated, newest.id)))
    assert [i.id for i in changed] == ["acme/web#17"]
    assert changed[0].labels == ("handoff:stale",)
    assert len(pull_lists(sb)) == 1


def test_incremental_issue_pull_sends_since_in_utc(sb: Sandbox) -> None:
    cursor_time = (sb.now() - timedelta(days=1)).astimezone(UTC)
    list(connector(sb, include_issues=True).pull(SCOPE, Cursor(cursor_time)))
    issue_get = next(e for e in sb.log(method="GET") if e.path.endswith("/issues"))
    assert issue_get.query["since"][0].endswith("Z")


def test_people_reports_logins_and_teams_as_groups(sb: Sandbox) -> None:
    gh = connector(sb)
    list(gh.pull(SCOPE, None))
    accounts = {a.id: a for a in gh.people()}
    assert {"alice", "bob", "carol"} <= set(accounts)
    assert accounts["alice"].kind == "person"
    assert accounts["acme/data-eng"].kind == "group"
    assert accounts["acme/data-eng"].name == "Data Eng"
    assert "data-eng" not in accounts  # a requested team is never a person


# -- our comment -----------------------------------------------------------------------------
def test_find_comment_matches_own_login_and_marker_only(sb: Sandbox) -> None:
    gh = connector(sb)
    marker = "<!-- handoff-sync:EXP-9 -->"
    issue = 251  # 150 comments by bob already: two pages
    assert gh.find_comment(SCOPE, f"acme/web#{issue}", marker) is None
    other = connector(sb)
    other._me = "someone-else"  # a comment by another account that quotes our marker
    made = gh.apply(op("comment.create", item=issue, body=f"findings {marker}"))
    sb.clear_log()
    found = gh.find_comment(SCOPE, f"acme/web#{issue}", marker)
    assert found is not None and found.id == made.target and marker in found.text
    assert len(sb.log(method="GET")) == 2  # 151 comments at 100 a page; /user is cached
    assert other.find_comment(SCOPE, f"acme/web#{issue}", marker) is None


def test_find_comments_scans_the_repo_once(sb: Sandbox) -> None:
    gh = connector(sb)
    a = gh.apply(op("comment.create", item=3, body="x <!-- handoff-sync -->"))
    b = gh.apply(op("comment.create", item=251, body="y <!-- handoff-sync -->"))
    sb.clear_log()
    found = gh.find_comments(SCOPE, "<!-- handoff-sync")
    assert {k: v.id for k, v in found.items()} == {"acme/web#3": a.target, "acme/web#251": b.target}
    paths = [e.path for e in sb.log(method="GET")]
    assert paths == ["/api/v3/user"] + ["/api/v3/repos/acme/web/issues/comments"] * 2  # 152


# -- writing ---------------------------------------------------------------------------------
def test_apply_comment_and_label_writes(sb: Sandbox) -> None:
    gh = connector(sb)
    made = gh.apply(op("comment.create", body="**missing** owner"))
    assert made.ok and made.target.isdigit()
    updated = gh.apply(op("comment.update", body="all clear", target=made.target))
    assert updated.target == made.target
    gh.apply(op("label.add", name="handoff:missing"))
    assert sb.log(method="POST")[-1].body == {"labels": ["handoff:missing"]}  # as described
    removed = gh.apply(op("label.remove", name="handoff:missing"))
    again = gh.apply(op("label.remove", name="handoff:missing"))
    assert removed.ok and again.ok and "not on the item" in again.detail
    comment = sb.github.repos["acme/web"].comments[int(made.target)]
    assert comment.body == "all clear" and sb.github.repos["acme/web"].items[1].labels == []
    assert [e.method for e in sb.log(service="github")] == [
        "POST",
        "PATCH",
        "POST",
        "DELETE",
        "DELETE",
    ]


@pytest.mark.parametrize(
    ("fault", "message"),
    [(Fault(status=500), "500"), (Fault(commit=True, delay=1.5), "timeout")],
)
def test_comment_create_that_fails_is_sent_exactly_once(
    sb: Sandbox, fault: Fault, message: str
) -> None:
    sb.inject("POST", r"/issues/1/comments$", fault, times=5)
    with pytest.raises(TransientError, match=message):
        connector(sb, timeout=1.0).apply(op("comment.create", body="once"))
    assert len(sb.log(method="POST")) == 1  # PyGithub's default retry would have re-POSTed


def test_comment_create_that_lands_but_drops_is_not_resent_and_is_found(sb: Sandbox) -> None:
    sb.inject("POST", r"/issues/1/comments$", Fault(commit=True, drop=True))
    gh = connector(sb)
    with pytest.raises(TransientError):
        gh.apply(op("comment.create", body="once <!-- m -->"))
    assert len(sb.log(method="POST")) == 1
    assert gh.find_comment(SCOPE, "acme/web#1", "<!-- m -->") is not None


def test_idempotent_writes_and_reads_are_retried_after_5xx(sb: Sandbox) -> None:
    sb.inject("GET", r"/pulls$", Fault(status=502), times=2)
    assert len(list(connector(sb).pull(SCOPE, None))) == 250
    assert [e.status for e in pull_lists(sb)][:3] == [502, 502, 200]


# -- errors ----------------------------------------------------------------------------------
def _no_token(e: BaseException, token: str) -> None:
    assert token not in str(e) and token not in getattr(e, "internal", "")


def test_bad_token_is_an_auth_error_without_the_token(sb: Sandbox) -> None:
    token = "ghp_wrongtoken123456"
    with pytest.raises(AuthError, match="Bad credentials") as e:
        list(connector(sb, token).pull(SCOPE, None))
    _no_token(e.value, token)


def test_read_only_token_names_the_missing_permission(sb: Sandbox) -> None:
    gh = connector(sb, READ)
    assert len(list(gh.pull(SCOPE, None))) == 250
    with pytest.raises(AuthError) as e:
        gh.apply(op("comment.create", body="x"))
    assert "Resource not accessible by integration" in str(e.value)
    assert "Issues: write" in str(e.value)
    assert len(sb.log(write=True)) == 1  # not retried
    _no_token(e.value, READ)


def test_unknown_repo_is_named(sb: Sandbox) -> None:
    with pytest.raises(NotFound, match="acme/nope"):
        list(connector(sb).pull(Scope("github", "acme/nope"), None))


def test_primary_rate_limit_ends_the_scope_with_its_reset() -> None:
    with Sandbox(workspace(5), rate_limits=True) as sb:
        gh = connector(sb)
        list(gh.pull(SCOPE, None))  # who we are, our comments, the pulls
        used = len(sb.log(service="github"))
        sb.github.primary_limit = used
        with pytest.raises(RateLimited, match="API rate limit exceeded") as e:
            list(gh.pull(SCOPE, None))
        assert e.value.retry_after is not None and 3500 < e.value.retry_after <= 3600
        assert len(sb.log(service="github")) == used + 1  # the reset is too far off to wait


def test_secondary_rate_limit_carries_retry_after() -> None:
    with Sandbox(workspace(5), rate_limits=True) as sb:
        sb.github.writes_per_minute = 1
        gh = connector(sb)
        gh.apply(op("label.add", name="a"))
        with pytest.raises(RateLimited, match="secondary rate limit") as e:
            gh.apply(op("label.add", name="b"))
        assert e.value.retry_after is not None and 0 < e.value.retry_after <= 60


def test_persistent_500_becomes_transient_after_the_policy(sb: Sandbox) -> None:
    sb.inject("GET", r"/pulls$", Fault(status=500), times=10)
    with pytest.raises(TransientError, match="500"):
        list(connector(sb).pull(SCOPE, None))
    assert len(pull_lists(sb)) == FAST_POLICY.attempts


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault(delay=1.5), "timeout"),
        (Fault(drop=True), "connection"),
        (Fault(cut=True), "cut off"),
    ],
)
def test_transport_failures_are_transient(sb: Sandbox, fault: Fault, message: str) -> None:
    sb.inject("GET", r"/pulls$", fault)
    with pytest.raises(TransientError, match=message):
        list(connector(sb, policy=ONCE, timeout=1.0).pull(SCOPE, None))
