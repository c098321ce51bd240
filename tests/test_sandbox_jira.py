"""The sandbox's Jira, driven through the real `jira` client and checked against the v3 spec.

v3 answers are validated strictly against jira.sync-subset.v3+v2.json. Its /rest/api/2 paths
are a path-rewritten copy of v3 (ADF where v2 sends wiki strings), so v2 answers are validated
only for endpoints whose bodies do not differ (serverInfo, myself, field, user, search shape
with string bodies dropped).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from jira import JIRA, JIRAError
from openapi_check import validate_response

from connectors.sandbox import JIRA_EMAIL, Fault, Sandbox

WRITE, READ = "sandbox-jira-write", "sandbox-jira-read"
ADF = {"type": "doc", "version": 1, "content": [
    {"type": "paragraph", "content": [{"type": "text", "text": "hello"}]}]}  # fmt: skip


def workspace(n: int = 3, tz: str = "Pacific/Auckland") -> dict[str, Any]:
    return {
        "people": [
            {
                "key": "ana",
                "name": "Ana Ruiz",
                "email": "ana@example.com",
                "jira_account_id": "acc-ana",
                "time_zone": "Europe/Madrid",
                "active": True,
            },
            {
                "key": "ben",
                "name": "Ben Ode",
                "email": "",
                "jira_account_id": "acc-ben",
                "time_zone": "America/Chicago",
                "active": False,
            },
        ],
        "jira": {
            "account": {"time_zone": tz},
            "fields": [
                {"id": "customfield_10100", "name": "Primary metric"},
                {"id": "customfield_10101", "name": "Monitoring owner", "type": "user"},
                {"id": "customfield_10102", "name": "Guardrails", "type": "array"},
            ],
            "groups": [{"name": "growth-team", "members": ["ana"]}],
            "projects": [{"key": "EXP", "name": "Experiments"}],
            "issues": [
                {
                    "key": f"EXP-{i}",
                    "id": str(10000 + i),
                    "summary": f"Experiment {i}",
                    "assignee": "ana",
                    "reporter": "ben",
                    "description": "h2. Brief",
                    "labels": ["handoff"],
                    "updated": f"2026-11-01T{i % 24:02d}:00:00Z",
                    "fields": {"Primary metric": "conversion", "Monitoring owner": "ana"},
                    "comments": [{"author": "ana", "body": "first"}],
                }
                for i in range(1, n + 1)
            ],
        },
    }


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(workspace()) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def spec(shared_api: Path) -> Path:
    path = shared_api / "specs" / "jira.sync-subset.v3+v2.json"
    assert path.is_file(), path
    return path


def client(sb: Sandbox, version: str = "2", token: str = WRITE) -> JIRA:
    return JIRA(
        sb.url,
        basic_auth=(JIRA_EMAIL, token),
        max_retries=0,
        timeout=5,
        options={"rest_api_version": version},
    )


def raw(sb: Sandbox, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(method, sb.url + path, auth=(JIRA_EMAIL, WRITE), timeout=5, **kw)


# -- through the client ----------------------------------------------------------------------
def test_server_info_myself_and_fields(sb: Sandbox) -> None:
    j = client(sb)
    assert j.deploymentType == "Cloud"
    me = j.myself()
    assert me["emailAddress"] == JIRA_EMAIL and me["timeZone"] == "Pacific/Auckland"
    fields = {f["name"]: f for f in j.fields()}
    assert fields["Primary metric"]["id"] == "customfield_10100"
    assert fields["Primary metric"]["schema"]["customId"] == 10100
    assert fields["Watchers"]["clauseNames"] == ["watchers"]


def test_search_pages_with_next_page_token_until_it_is_absent() -> None:
    with Sandbox(workspace(250)) as sb:
        j = client(sb)
        sb.clear_log()
        issues = j.enhanced_search_issues("project = EXP ORDER BY updated ASC", maxResults=0)
        assert len(issues) == 250 and len({i.id for i in issues}) == 250
        pages = [e for e in sb.log() if e.path.endswith("/search/jql")]
        assert len(pages) == 3
        assert "nextPageToken" not in pages[0].query and "nextPageToken" in pages[1].query
        stamps = [i.fields.updated for i in issues]
        keys = [(datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z"), int(i.id))
                for s, i in zip(stamps, issues, strict=True)]  # fmt: skip
        assert keys == sorted(keys)  # ORDER BY updated, ties by id


def test_search_caps_pages_and_honours_fields(sb: Sandbox) -> None:
    j = client(sb)
    page = j.enhanced_search_issues("project = EXP", maxResults=500, fields=["summary"],
                                    json_result=True)  # fmt: skip
    assert isinstance(page, dict)
    assert set(page["issues"][0]["fields"]) == {"summary"}
    page = j.enhanced_search_issues("key = EXP-1", fields="*navigable", json_result=True)
    assert isinstance(page, dict)
    f = page["issues"][0]["fields"]
    assert "comment" not in f and f["customfield_10101"]["accountId"] == "acc-ana"
    assert f["description"] == "h2. Brief"  # v2: wiki string


def test_search_post_is_a_read(sb: Sandbox) -> None:
    j = client(sb, token=READ)
    page = j.enhanced_search_issues("project = EXP", use_post=True, json_result=True)
    assert isinstance(page, dict) and len(page["issues"]) == 3


@pytest.mark.parametrize("tz", ["Pacific/Auckland", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_bare_jql_dates_are_read_in_the_account_time_zone(tz: str) -> None:
    ws = workspace(1, tz=tz)
    ws["jira"]["issues"][0]["updated"] = "2026-11-01T09:30:00Z"
    with Sandbox(ws) as sb:
        j = client(sb)
        local = datetime(2026, 11, 1, 9, 30, tzinfo=UTC).astimezone(ZoneInfo(tz))
        just_before = (local - timedelta(minutes=1)).strftime("%Y/%m/%d %H:%M")
        just_after = (local + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
        assert len(j.enhanced_search_issues(f'updated >= "{just_before}"')) == 1
        assert len(j.enhanced_search_issues(f'updated > "{just_after}"')) == 0
        # Read as UTC the same wall time would be hours away: the trap the connector avoids.
        utc_wall = "2026/11/01 09:29"
        expect = 1 if local.utcoffset() and local.utcoffset() > timedelta(0) else 0  # type: ignore[operator]
        assert len(j.enhanced_search_issues(f'updated >= "{utc_wall}"')) == expect
        millis = int(datetime(2026, 11, 1, 9, 29, tzinfo=UTC).timestamp() * 1000)
        assert len(j.enhanced_search_issues(f"updated >= {millis}")) == 1  # absolute


def test_jql_errors_look_like_jira(sb: Sandbox) -> None:
    j = client(sb)
    for jql, text in [
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ('updated >= "yesterday"', "Date value 'yesterday' for field 'updated' is invalid."),
        ("frobnicate = 1", "Field 'frobnicate' does not exist"),
    ]:
        with pytest.raises(JIRAError) as err:
            j.enhanced_search_issues(jql)
        assert err.value.status_code == 400 and text in err.value.text
    assert raw(sb, "GET", "/rest/api/3/search", params={"jql": "project = EXP"}).status_code == 410


def test_issue_by_key_and_by_id_and_404(sb: Sandbox) -> None:
    j = client(sb, "3")
    by_key, by_id = j.issue("EXP-2"), j.issue("10002")
    assert by_key.id == by_id.id == "10002"
    assert by_key.raw["fields"]["description"]["type"] == "doc"  # v3: ADF
    sb.jira.issues["10003"]["state"] = "forbidden"
    for ref in ("EXP-3", "EXP-99"):
        with pytest.raises(JIRAError) as err:
            j.issue(ref)
        assert err.value.status_code == 404
        assert "Issue does not exist or you do not have permission to see it." in err.value.text


def test_edit_issue_update_operations_move_updated(sb: Sandbox) -> None:
    j = client(sb)
    before = sb.jira.issues["10001"]["updated"]
    issue = j.issue("EXP-1")
    issue.add_field_value("labels", "needs-owner")
    issue.update(fields={"customfield_10100": "revenue"})
    resp = raw(sb, "PUT", "/rest/api/2/issue/EXP-1", json={"update": {
        "labels": [{"remove": "handoff"}], "customfield_10102": [{"add": "latency"}]}})  # fmt: skip
    assert resp.status_code == 204
    f = sb.jira.issues["10001"]["fields"]
    assert f["labels"] == ["needs-owner"] and f["customfield_10102"] == ["latency"]
    assert f["customfield_10100"] == "revenue"
    assert sb.jira.issues["10001"]["updated"] > before
    bad = raw(sb, "PUT", "/rest/api/2/issue/EXP-1", json={"fields": {"Primary metric": "x"}})
    assert bad.status_code == 400 and "Primary metric" in bad.json()["errors"]


def test_comments_v2_wiki_v3_adf(sb: Sandbox) -> None:
    j2, j3 = client(sb), client(sb, "3")
    c = j2.add_comment("EXP-1", "*wiki*")
    assert c.body == "*wiki*"
    c.update(body="*edited*")
    assert j2.comment("EXP-1", c.id).body == "*edited*"
    with pytest.raises(JIRAError) as err:
        j3.add_comment("EXP-1", "plain string on v3")
    assert err.value.status_code == 400
    assert err.value.response.json() == {
        "errorMessages": [], "errors": {"comment": "Comment body is not valid!"}}  # fmt: skip
    c3 = j3.add_comment("EXP-1", ADF)  # type: ignore[arg-type]
    assert c3.raw["body"] == ADF
    listed = raw(sb, "GET", "/rest/api/3/issue/EXP-1/comment", params={"maxResults": 2}).json()
    assert (listed["total"], listed["maxResults"], listed["startAt"]) == (3, 2, 0)
    rest = raw(sb, "GET", "/rest/api/3/issue/EXP-1/comment", params={"startAt": 2}).json()
    assert [x["id"] for x in rest["comments"]] == [c3.id]


def test_comment_writes_move_updated(sb: Sandbox) -> None:
    sb.advance(timedelta(days=60))
    client(sb).add_comment("EXP-2", "x")
    assert sb.jira.issues["10002"]["updated"] > datetime(2026, 12, 1, tzinfo=UTC)


def test_issue_properties(sb: Sandbox) -> None:
    j = client(sb)
    j.add_issue_property("EXP-1", "handoff.check", {"open": 3})
    assert [p.key for p in j.issue_properties("EXP-1")] == ["handoff.check"]
    assert j.issue_property("EXP-1", "handoff.check").value.open == 3  # type: ignore[attr-defined]
    page = j.enhanced_search_issues("key = EXP-1", properties="handoff.check", json_result=True)
    assert isinstance(page, dict) and page["issues"][0]["properties"] == {
        "handoff.check": {"open": 3}}  # fmt: skip


def test_users_and_groups(sb: Sandbox) -> None:
    j = client(sb)
    ana = j.user("acc-ana")
    assert (ana.displayName, ana.active, ana.timeZone) == ("Ana Ruiz", True, "Europe/Madrid")
    ben = raw(sb, "GET", "/rest/api/3/user", params={"accountId": "acc-ben"}).json()
    assert ben["active"] is False and "emailAddress" not in ben  # hidden email
    assert [u.accountId for u in j.search_users(query="ana")] == ["acc-ana"]
    everyone = raw(sb, "GET", "/rest/api/3/users/search").json()
    assert isinstance(everyone, list) and {u["accountId"] for u in everyone} >= {"acc-ana"}
    assert j.groups() == ["growth-team"]
    with pytest.raises(JIRAError) as err:
        j.user("acc-nobody")
    assert err.value.status_code == 404


# -- auth and limits -------------------------------------------------------------------------
def test_bad_token_gets_jira_clouds_401(sb: Sandbox) -> None:
    with pytest.raises(JIRAError) as err:
        JIRA(sb.url, basic_auth=(JIRA_EMAIL, "wrong"), max_retries=0, timeout=5)
    assert err.value.status_code == 401
    assert "Client must be authenticated to access this resource." in err.value.text
    wrong_email = requests.get(sb.url + "/rest/api/3/myself", auth=("x@y.z", WRITE), timeout=5)
    assert wrong_email.status_code == 401
    bearer = requests.get(sb.url + "/rest/api/3/myself",
                          headers={"Authorization": f"Bearer {WRITE}"}, timeout=5)  # fmt: skip
    assert bearer.status_code == 200


def test_read_only_token_writing_gets_403(sb: Sandbox) -> None:
    j = client(sb, token=READ)
    assert j.issue("EXP-1").key == "EXP-1"
    with pytest.raises(JIRAError) as err:
        j.add_comment("EXP-1", "x")
    assert err.value.status_code == 403 and "permission to comment" in err.value.text
    assert len(sb.jira.issues["10001"]["comments"]) == 1


def test_rate_limit_gives_429_with_retry_after() -> None:
    ws = workspace(1)
    ws["jira"]["rate_limit_per_second"] = 3
    with Sandbox(ws, rate_limits=True) as sb:
        statuses = []
        for _ in range(5):
            r = raw(sb, "GET", "/rest/api/3/myself")
            statuses.append(r.status_code)
        assert statuses.count(429) >= 2
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert r.headers["RateLimit-Reason"] == "jira-burst-based"


def test_fault_bodies_are_jira_shaped(sb: Sandbox) -> None:
    sb.inject("GET", r"/myself$", Fault(status=503, retry_after=2))
    r = raw(sb, "GET", "/rest/api/3/myself")
    assert r.status_code == 503 and r.headers["Retry-After"] == "2"
    assert set(r.json()) == {"errorMessages", "errors"}


def test_loading_many_issues_is_fast() -> None:
    """Not a timing assertion: a budget so that a quadratic loader cannot slip in."""
    ws = workspace(1)
    ws["jira"]["issues"] = [
        {"key": f"EXP-{i}", "updated": "2026-11-01T10:00:00Z", "summary": "s"}
        for i in range(1, 20_001)
    ]
    started = time.perf_counter()
    sb = Sandbox(ws)
    elapsed = time.perf_counter() - started
    assert len(sb.jira.issues) == 20_000
    assert elapsed < 20  # generous: about 0.3 s on the dev machine


# -- against the official description --------------------------------------------------------
JIRA_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$")


def as_spec_times(body: Any) -> Any:
    """Jira's times with a colon put in the offset, as the spec's `date-time` format demands.

    Real Jira writes "+0200" (recorded serverinfo.json, issue_comments.json), which the spec's
    format refuses; the sandbox copies the real service, so only this rewrite is made before
    validating, and every time it touches must have Jira's real shape.
    """
    if isinstance(body, list):
        return [as_spec_times(x) for x in body]
    if not isinstance(body, dict):
        return body
    out = {}
    for k, v in body.items():
        if k in ("serverTime", "buildDate", "created", "updated") and isinstance(v, str):
            assert JIRA_TIME.match(v), (k, v)
            v = v[:-2] + ":" + v[-2:]
        out[k] = v if k == "fields" else as_spec_times(v)  # issue fields are free-form
    return out


def test_times_are_written_like_the_recorded_real_ones(shared_api: Path) -> None:
    real = json.loads((shared_api / "recorded/jira/jira-cli/serverinfo.json").read_text())
    assert JIRA_TIME.match(real["serverTime"]) and JIRA_TIME.match(real["buildDate"])
    path = shared_api / "recorded/jira/airbyte-source-jira/issue_comments.json"
    comments = json.loads(path.read_text())["comments"]
    assert all(JIRA_TIME.match(c["created"]) and JIRA_TIME.match(c["updated"]) for c in comments)


def test_v3_answers_match_the_spec(sb: Sandbox, spec: Path) -> None:
    calls: list[tuple[str, str, dict[str, Any], Any]] = [
        ("GET", "/rest/api/3/serverInfo", {}, None),
        ("GET", "/rest/api/3/myself", {}, None),
        ("GET", "/rest/api/3/field", {}, None),
        ("GET", "/rest/api/3/user", {"accountId": "acc-ana"}, None),
        (
            "GET",
            "/rest/api/3/search/jql",
            {"jql": "project = EXP", "fields": "*all", "maxResults": "2"},
            None,
        ),
        ("POST", "/rest/api/3/search/jql", {}, {"jql": "project = EXP", "fields": ["summary"]}),
        ("GET", "/rest/api/3/issue/EXP-1", {}, None),
        ("GET", "/rest/api/3/issue/10001/comment", {}, None),
        ("POST", "/rest/api/3/issue/EXP-1/comment", {}, {"body": ADF}),
        ("PUT", "/rest/api/3/issue/EXP-1", {}, {"update": {"labels": [{"add": "x"}]}}),
    ]
    for method, path, query, body in calls:
        r = raw(sb, method, path, params=query, json=body)
        assert r.status_code < 300, (path, r.text)
        if r.status_code == 204:
            # The spec lists a JSON media type on 204 (a generator artefact); Jira sends nothing.
            assert r.content == b""
            continue
        payload = as_spec_times(r.json())
        validate_response(spec, method, path, r.status_code, payload, dict(r.headers), query)
    cid = sb.jira.issues["10001"]["comments"][-1]["id"]
    path = f"/rest/api/3/issue/EXP-1/comment/{cid}"
    r = raw(sb, "PUT", path, json={"body": ADF})
    validate_response(spec, "PUT", path, r.status_code, as_spec_times(r.json()), dict(r.headers))
    validate_response(spec, "GET", path, 200, as_spec_times(raw(sb, "GET", path).json()), {})


def test_v2_answers_match_the_spec_where_v2_and_v3_agree(sb: Sandbox, spec: Path) -> None:
    search = {"jql": "project = EXP", "fields": "summary,labels,assignee"}
    for path, query in [
        ("/rest/api/2/serverInfo", {}),
        ("/rest/api/2/myself", {}),
        ("/rest/api/2/field", {}),
        ("/rest/api/2/user", {"accountId": "acc-ana"}),
        ("/rest/api/2/search/jql", search),
    ]:
        r = raw(sb, "GET", path, params=query)
        body = as_spec_times(r.json())
        validate_response(spec, "GET", path, 200, body, dict(r.headers), query)
