"""The GitHub sandbox, driven through real PyGithub and checked against GitHub's OpenAPI spec."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from github import Auth, Github, GithubException
from github.GithubException import (
    BadCredentialsException,
    RateLimitExceededException,
    UnknownObjectException,
)
from openapi_check import validate_response, validate_schema

from connectors.sandbox import Fault, Sandbox
from connectors.sandbox.github_api import synthetic_section
from connectors.sandbox.github_limits import SECONDARY_MESSAGE

WRITE, READ = "sandbox-github-write", "sandbox-github-read"
START = datetime(2025, 1, 1, tzinfo=UTC)


def workspace(pulls: int = 250) -> dict[str, Any]:
    section = synthetic_section("acme/web", pulls, ["alice", "bob"], START)
    web = section["repos"]["acme/web"]
    web["pulls"][0].update(requested_teams=["data-eng"], requested_reviewers=["carol"])
    web["pulls"][1].update(state="closed", merged_at="2025-01-02T00:00:00Z", labels=["ready"])
    web["issues"] = [
        {"title": "EXP-9 rollout", "user": "carol", "created_at": "2025-02-01T00:00:00Z",
         "comments": [{"user": "bob", "body": f"note {i}"} for i in range(150)]}
    ]  # fmt: skip
    section["orgs"] = {
        "acme": {
            "members": ["alice", "bob", "carol"],
            "teams": [{"slug": "data-eng", "name": "Data Eng", "members": ["alice"]}],
        }
    }
    people = [{"key": "alice", "name": "Alice A", "email": "a@x.io", "github_login": "alice"}]
    return {"people": people, "github": section}


def client(sb: Sandbox, token: str = WRITE) -> Github:
    return Github(
        base_url=f"{sb.url}/api/v3",
        auth=Auth.Token(token),
        per_page=100,
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
        lazy=True,
    )


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(workspace()) as s:
        yield s


@pytest.fixture
def spec(shared_api: Path) -> Path:
    return shared_api / "specs" / "github.sync-subset.json"


def get(sb: Sandbox, path: str, token: str = WRITE, **kw: Any) -> requests.Response:
    headers = {"Authorization": f"token {token}", **kw.pop("headers", {})}
    return requests.request(
        kw.pop("method", "GET"), f"{sb.url}/api/v3{path}", headers=headers, timeout=10, **kw
    )


def check(spec: Path, r: requests.Response, path: str) -> Any:
    """Validate one live answer against the spec and return its JSON."""
    body = r.json() if r.content else b""
    query = parse_qs(urlsplit(r.request.url or "").query)
    validate_response(spec, r.request.method or "GET", path, r.status_code, body, r.headers, query)
    return body


# -- spec validation, endpoint by endpoint ---------------------------------------------------
def test_every_spec_endpoint_answers_as_the_spec_says(sb: Sandbox, spec: Path) -> None:
    r = "/repos/acme/web"
    check(spec, get(sb, r), r)
    check(spec, get(sb, "/repos/acme/nope"), "/repos/acme/nope")
    check(spec, get(sb, "/user"), "/user")
    check(spec, get(sb, "/user", token="wrong"), "/user")
    pulls = get(sb, f"{r}/pulls", params={"state": "all", "per_page": 100})
    assert "Link" in pulls.headers
    check(spec, pulls, f"{r}/pulls")
    check(spec, get(sb, f"{r}/pulls/1"), f"{r}/pulls/1")
    check(spec, get(sb, f"{r}/pulls/2"), f"{r}/pulls/2")  # merged
    check(spec, get(sb, f"{r}/issues/1"), f"{r}/issues/1")  # a PR seen as an issue
    check(spec, get(sb, f"{r}/issues/251"), f"{r}/issues/251")
    check(spec, get(sb, f"{r}/issues/251/comments"), f"{r}/issues/251/comments")
    made = get(sb, f"{r}/issues/1/comments", method="POST", json={"body": "hi"})
    assert made.status_code == 201 and made.headers["Location"].endswith(str(made.json()["id"]))
    check(spec, made, f"{r}/issues/1/comments")
    cid = made.json()["id"]
    check(spec, get(sb, f"{r}/issues/comments/{cid}"), f"{r}/issues/comments/{cid}")
    edit = get(sb, f"{r}/issues/comments/{cid}", method="PATCH", json={"body": "edited"})
    assert check(spec, edit, f"{r}/issues/comments/{cid}")["body"] == "edited"
    bad = get(sb, f"{r}/issues/comments/{cid}", method="PATCH", json={})
    assert bad.status_code == 422
    check(spec, bad, f"{r}/issues/comments/{cid}")
    lab = f"{r}/issues/1/labels"
    bare = get(sb, lab, method="POST", json=["a", "b"])
    assert bare.status_code == 422  # GitHub's description takes {"labels": [...]} only
    check(spec, bare, lab)
    check(spec, get(sb, lab, method="POST", json={"labels": ["a", "b"]}), lab)
    check(spec, get(sb, lab, method="POST", json={"labels": ["c"]}), lab)
    assert [x["name"] for x in check(spec, get(sb, lab), lab)] == ["a", "b", "c"]
    check(spec, get(sb, lab, method="PUT", json={"labels": ["z"]}), lab)
    check(spec, get(sb, "/rate_limit"), "/rate_limit")
    etag = get(sb, f"{r}/pulls/1").headers["ETag"]
    not_modified = get(sb, f"{r}/pulls/1", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not not_modified.content
    check(spec, not_modified, f"{r}/pulls/1")


def test_endpoints_outside_the_spec_subset_match_the_specs_schemas(sb: Sandbox, spec: Path) -> None:
    for issue in get(sb, "/repos/acme/web/issues", params={"state": "all"}).json():
        validate_schema(spec, "issue", issue)
    for comment in get(sb, "/repos/acme/web/issues/comments").json():
        validate_schema(spec, "issue-comment", comment)
    validate_schema(spec, "public-user", get(sb, "/users/alice").json())
    for user in get(sb, "/orgs/acme/members").json():
        validate_schema(spec, "simple-user", user)
    for team in get(sb, "/orgs/acme/teams").json():
        validate_schema(spec, "team", team)
    get(sb, "/repos/acme/web/issues/2/labels", method="POST", json={"labels": ["x"]})
    left = get(sb, "/repos/acme/web/issues/2/labels/ready", method="DELETE").json()
    for label in left:
        validate_schema(spec, "label", label)
    assert [x["name"] for x in left] == ["x"]


def test_the_spec_check_itself_catches_a_wrong_shape(spec: Path) -> None:
    with pytest.raises(AssertionError, match="number"):
        validate_response(spec, "GET", "/repos/o/r/pulls/1", 200, {"number": "one"})
    with pytest.raises(AssertionError, match="not described"):
        validate_response(spec, "GET", "/repos/o/r/issues/comments", 200, [])


# -- paging and lists through PyGithub ------------------------------------------------------
def test_pulls_page_along_link_headers_on_the_sandbox_host(sb: Sandbox) -> None:
    repo = client(sb).get_repo("acme/web")
    pulls = list(repo.get_pulls(state="all", sort="updated", direction="desc"))
    assert [p.number for p in pulls] == list(range(250, 0, -1))
    gets = sb.log(service="github", method="GET")
    assert [e.query.get("page", ["1"])[0] for e in gets] == ["1", "2", "3"]
    middle = get(sb, "/repos/acme/web/pulls", params={"state": "all", "per_page": 100, "page": 2})
    links = requests.utils.parse_header_links(middle.headers["Link"])
    assert {x["rel"] for x in links} == {"prev", "next", "last", "first"}
    assert all(x["url"].startswith(f"{sb.url}/api/v3/repos/acme/web/pulls?") for x in links)


def test_pull_list_filters_and_sorts_as_github(sb: Sandbox) -> None:
    repo = client(sb).get_repo("acme/web")
    assert len(list(repo.get_pulls())) == 249  # state defaults to open
    assert [p.number for p in repo.get_pulls(state="closed")] == [2]
    oldest = next(iter(repo.get_pulls(state="all", sort="updated", direction="asc")))
    assert oldest.number == 1
    assert repo.get_pull(2).merged and repo.get_pull(1).requested_teams[0].slug == "data-eng"
    with pytest.raises(UnknownObjectException):
        repo.get_pull(251).title  # noqa: B018  (an issue, not a pull)


def test_issues_list_carries_prs_and_honours_since(sb: Sandbox) -> None:
    repo = client(sb).get_repo("acme/web")
    everything = list(repo.get_issues(state="all"))
    assert len(everything) == 251
    assert sum(1 for i in everything if i.pull_request is not None) == 250
    since = START + timedelta(minutes=248)
    recent = {i.number for i in repo.get_issues(state="all", since=since)}
    assert recent == {249, 250, 251}


def test_comments_page_edit_and_move_updated_at(sb: Sandbox) -> None:
    gh = client(sb)
    issue = gh.get_repo("acme/web").get_issue(1)
    before = get(sb, "/repos/acme/web/pulls/1").json()["updated_at"]
    sb.advance(timedelta(minutes=5))
    made = issue.create_comment("**handoff** <!-- m -->")
    assert made.user.login == "handoff-bot"
    after = get(sb, "/repos/acme/web/pulls/1").json()["updated_at"]
    assert after > before
    made.edit("edited")
    assert gh.get_repo("acme/web").get_issue(1).get_comment(made.id).body == "edited"
    sb.clear_log()
    bodies = [c.body for c in gh.get_repo("acme/web").get_issue(251).get_comments()]
    assert len(bodies) == 150 and len(sb.log(method="GET")) == 2  # 100 + 50
    repo_wide = list(gh.get_repo("acme/web").get_issues_comments())
    assert len(repo_wide) == 151
    since = list(gh.get_repo("acme/web").get_issues_comments(since=sb.now() - timedelta(1)))
    assert [c.id for c in since] == [made.id]


def test_labels_bare_array_refused_object_added_set_and_removed(sb: Sandbox) -> None:
    issue = client(sb).get_repo("acme/web").get_issue(3)
    # PyGithub sends a bare array, which GitHub's description does not accept.
    for send in (issue.add_to_labels, issue.set_labels):
        with pytest.raises(GithubException) as refused:
            send("handoff:missing", "handoff:stale")
        assert refused.value.status == 422 and "not an object" in refused.value.data["message"]
    assert list(issue.get_labels()) == []
    labels = "/repos/acme/web/issues/3/labels"
    added = get(sb, labels, method="POST", json={"labels": ["handoff:missing", "handoff:stale"]})
    assert added.status_code == 200, added.text
    issue.remove_from_labels("handoff:stale")
    assert [x.name for x in issue.get_labels()] == ["handoff:missing"]
    with pytest.raises(GithubException) as e:  # 404, but not "Not Found": no subclass
        issue.remove_from_labels("handoff:stale")
    assert e.value.status == 404 and e.value.data["message"] == "Label does not exist"
    assert get(sb, labels, method="PUT", json={"labels": ["one", "two"]}).status_code == 200
    assert [x.name for x in issue.get_labels()] == ["one", "two"]
    issue.delete_labels()
    assert list(issue.get_labels()) == []


def test_users_me_orgs_and_teams(sb: Sandbox) -> None:
    gh = client(sb)
    assert gh.get_user().login == "handoff-bot"
    alice = gh.get_user("alice")
    assert (alice.name, alice.email) == ("Alice A", "a@x.io")
    org = get(sb, "/orgs/acme/members").json()
    assert [u["login"] for u in org] == ["alice", "bob", "carol"]
    assert [t["slug"] for t in get(sb, "/orgs/acme/teams").json()] == ["data-eng"]
    members = get(sb, "/orgs/acme/teams/data-eng/members").json()
    assert [u["login"] for u in members] == ["alice"]
    assert get(sb, "/orgs/nobody/teams").status_code == 404


def test_etag_and_304_through_pygithub(sb: Sandbox) -> None:
    pr = client(sb).get_repo("acme/web").get_pull(5)
    pr.complete()
    assert pr.update() is False  # If-None-Match matched: 304, nothing changed
    get(sb, "/repos/acme/web/issues/5/labels", method="POST", json={"labels": ["x"]})
    assert pr.update() is True and [x.name for x in pr.labels] == ["x"]


# -- auth ------------------------------------------------------------------------------------
def test_bad_token_gets_githubs_401(sb: Sandbox) -> None:
    with pytest.raises(BadCredentialsException) as e:
        client(sb, "not-a-token").get_user().login  # noqa: B018
    assert e.value.status == 401 and e.value.data["message"] == "Bad credentials"
    assert "documentation_url" in e.value.data
    bearer = requests.get(
        f"{sb.url}/api/v3/user", headers={"Authorization": f"Bearer {WRITE}"}, timeout=5
    )
    assert bearer.status_code == 200
    assert requests.get(f"{sb.url}/api/v3/user", timeout=5).status_code == 401


def test_read_only_token_reads_but_cannot_write(sb: Sandbox) -> None:
    issue = client(sb, READ).get_repo("acme/web").get_issue(1)
    assert issue.title == "EXP-1 change 1"
    with pytest.raises(GithubException) as e:
        issue.create_comment("x")
    assert e.value.status == 403
    assert e.value.data["message"] == "Resource not accessible by integration"
    assert sb.log(write=True)[-1].status == 403


# -- rate limits -----------------------------------------------------------------------------
def test_primary_limit_headers_exhaustion_304_and_reset() -> None:
    with Sandbox(workspace(5), rate_limits=True) as sb:
        sb.github.primary_limit = 3
        first = get(sb, "/repos/acme/web/pulls/1")
        assert first.headers["X-RateLimit-Remaining"] == "2"
        assert first.headers["X-RateLimit-Resource"] == "core"
        again = get(sb, "/repos/acme/web/pulls/1", headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.headers["X-RateLimit-Remaining"] == "2"
        get(sb, "/user")
        get(sb, "/user")
        with pytest.raises(RateLimitExceededException) as e:
            client(sb).get_user().login  # noqa: B018
        assert e.value.status == 403
        assert e.value.data["message"].startswith("API rate limit exceeded for")
        assert e.value.headers["x-ratelimit-remaining"] == "0"
        reset = int(e.value.headers["x-ratelimit-reset"])
        assert get(sb, "/rate_limit").json()["resources"]["core"]["remaining"] == 0
        sb.advance(timedelta(hours=1, seconds=1))
        assert reset <= sb.now().timestamp()
        assert get(sb, "/user").status_code == 200


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_limit_on_content_creation(status: int) -> None:
    with Sandbox(workspace(5), rate_limits=True) as sb:
        sb.github.writes_per_minute = 2
        sb.github.secondary_status = status
        issue = client(sb).get_repo("acme/web").get_issue(1)
        issue.create_comment("one")
        issue.create_comment("two")
        with pytest.raises(GithubException) as e:
            issue.create_comment("three")
        assert e.value.status == status
        assert e.value.data["message"] == SECONDARY_MESSAGE
        assert 0 < int(e.value.headers["retry-after"]) <= 60
        assert e.value.headers["x-ratelimit-remaining"] != "0"
        assert get(sb, "/user").status_code == 200  # reads are not content creation
        sb.advance(timedelta(minutes=1))
        issue.create_comment("three")


def test_secondary_points_budget_counts_writes_as_five() -> None:
    with Sandbox(workspace(5), rate_limits=True) as sb:
        sb.github.points_per_minute = 7
        get(sb, "/user")
        get(sb, "/user")
        ok = get(sb, "/repos/acme/web/issues/1/labels", method="POST", json={"labels": ["a"]})
        assert ok.status_code == 200  # 1 + 1 + 5 = 7 points
        limited = get(sb, "/user")
        assert limited.status_code == 403 and "secondary rate limit" in limited.json()["message"]


def test_rate_limit_headers_only_when_limits_are_on(sb: Sandbox) -> None:
    assert "X-RateLimit-Limit" not in get(sb, "/user").headers


# -- faults in GitHub's shapes ---------------------------------------------------------------
def test_injected_500_has_githubs_body_and_pygithub_sees_it(sb: Sandbox) -> None:
    sb.inject("GET", r"/pulls/1$", Fault(status=500))
    with pytest.raises(GithubException) as e:
        client(sb).get_repo("acme/web").get_pull(1).title  # noqa: B018
    assert e.value.status == 500 and e.value.data["message"] == "Server Error"


def test_write_flags_follow_http_methods(sb: Sandbox) -> None:
    get(sb, "/repos/acme/web/issues/1/labels", method="POST", json={"labels": ["a"]})
    get(sb, "/repos/acme/web/issues/1/labels")
    assert [(e.method, e.write) for e in sb.log()] == [("POST", True), ("GET", False)]


def test_loads_a_large_workspace_and_serves_its_first_page() -> None:
    with Sandbox(workspace(20_000)) as sb:
        page = get(
            sb,
            "/repos/acme/web/pulls",
            params={"state": "all", "sort": "updated", "direction": "desc"},
        )
        assert page.json()[0]["number"] == 20_000 and len(page.json()) == 30


def test_payload_keys_match_recorded_github_answers(sb: Sandbox, shared_api: Path) -> None:
    recorded = shared_api / "recorded" / "github" / "exchanges"

    def body(name: str) -> Any:
        return json.loads((recorded / name).read_text())["response"]["body"]

    real_pull = body(
        "PullRequest.testConvertToDraft__00__GET_repos_didot_PyGithub_pulls_1__200.json"
    )
    assert set(get(sb, "/repos/acme/web/pulls/1").json()) == set(real_pull)
    name = (
        "PaginatedList.testCustomPerPageIteration__02__"
        "GET_repos_PyGithub_PyGithub_issues_1136_comments__200.json"
    )
    ours = get(sb, "/repos/acme/web/issues/251/comments").json()[0]
    assert set(body(name)[0]) <= set(ours)
