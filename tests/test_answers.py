"""Never read from what was not an answer: every page is checked where a connector receives it.

Through the real clients against the sandbox, with the fault made at the HTTP layer: an empty
200, `{}`, an HTML 200, entries that are not objects, a redirect to another host, and page
tokens that cycle (or a Link header that never ends). For the pull of each system and for the
comment list `find_comment` reads, each must be an error naming the system (a BadAnswer for
the scope, an ItemError for the item) and never an empty result, and a cycle must stop within
a few requests, not after thousands.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from engine_fixtures import DB_ID, workspace, write_config

from connectors import errors
from connectors._retry import FAST_POLICY
from connectors.base import Scope
from connectors.errors import ConnectorError
from connectors.sandbox import Fault, Sandbox
from sync.engine.connect import connect
from sync.settings import load_settings

PAGE = "9a8b7c6d-0000-4000-8000-0000000000a1"
SCOPES = {
    "jira": Scope("jira", "EXP"),
    "github": Scope("github", "acme/web"),
    "notion": Scope("notion", DB_ID),
}
ITEM = {"jira": "10000", "github": "acme/web#1", "notion": PAGE}
PATHS = {
    ("jira", "pull"): ("GET", r"/search/jql$"),
    ("jira", "comments"): ("GET", r"/issue/10000/comment$"),
    ("github", "pull"): ("GET", r"/repos/acme/web/pulls$"),
    ("github", "comments"): ("GET", r"/issues/1/comments$"),
    ("notion", "pull"): ("POST", r"/v1/data_sources/[^/]+/query$"),
    ("notion", "comments"): ("GET", r"/v1/comments$"),
}
HTML = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"
# What each list looks like when it is empty: what another host answers after a redirect.
EMPTY = {
    "jira": {"issues": [], "isLast": True},
    "jira-comments": {"comments": [], "total": 0, "startAt": 0, "maxResults": 100},
    "github": [],
    "notion": {"object": "list", "results": [], "next_cursor": None, "has_more": False},
}


class _Elsewhere(BaseHTTPRequestHandler):
    """Another host: answers every request with a well-formed empty list."""

    def _answer(self) -> None:
        if "/rest/api/" in self.path:
            body = EMPTY["jira-comments" if "/comment" in self.path else "jira"]
        else:
            body = EMPTY["notion" if "/v1/" in self.path else "github"]
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Elsewhere)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # "localhost": a host name other than the configured 127.0.0.1, still on loopback.
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _connectors(sb: Sandbox, tmp_path: Path) -> dict[str, Any]:
    settings = load_settings(write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db"))
    conns = connect(settings, policy=FAST_POLICY)
    assert not conns.errors, conns.errors
    return conns.connectors


def _read(conn: Any, system: str, what: str) -> Any:
    if what == "pull":
        return list(conn.pull(SCOPES[system], None))
    return conn.find_comment(SCOPES[system], ITEM[system], "handoff-sync:")


def _faults(kind: str, system: str, what: str, elsewhere: str) -> list[Fault]:
    if kind == "empty-200":
        return [Fault(status=200, body=b"")]
    if kind == "empty-object":
        return [Fault(status=200, body={})]
    if kind == "html-200":
        return [Fault(status=200, body=HTML, headers={"Content-Type": "text/html"})]
    if kind == "not-objects":
        body: Any = {
            "jira": {"issues": ["EXP-1"], "isLast": True},
            "github": ["acme/web#1"],
            "notion": {"object": "list", "results": ["x"], "next_cursor": None, "has_more": False},
        }[system]
        if (system, what) == ("jira", "comments"):
            body = {"comments": ["hello"], "total": 1, "startAt": 0, "maxResults": 100}
        return [Fault(status=200, body=body)]
    if kind == "off-host-redirect":
        target = f"{elsewhere}/moved"
        return [Fault(status=301, body=b"", headers={"Location": target})]
    raise AssertionError(kind)


KINDS = ["empty-200", "empty-object", "html-200", "not-objects", "off-host-redirect"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("what", ["pull", "comments"])
@pytest.mark.parametrize("system", ["jira", "github", "notion"])
def test_a_page_that_is_not_an_answer_is_an_error_never_an_empty_result(
    system: str, what: str, kind: str, elsewhere: str, tmp_path: Path
) -> None:
    with Sandbox(workspace()) as sb:
        conn = _connectors(sb, tmp_path)[system]
        if what == "comments":
            conn.find_comment(SCOPES[system], ITEM[system], "warm-up")  # our own id, cached
        method, path = PATHS[(system, what)]
        for fault in _faults(kind, system, what, elsewhere):
            sb.inject(method, path, fault, times=1000)

        with pytest.raises(ConnectorError) as caught:
            _read(conn, system, what)

        expected = errors.ItemError if what == "comments" else errors.BadAnswer
        assert isinstance(caught.value, expected), repr(caught.value)
        assert str(caught.value).startswith(system), str(caught.value)
        assert "Sign in" not in str(caught.value)  # what came back is described, not echoed


def _cycle(system: str, what: str, sb: Sandbox) -> list[Fault]:
    """Pages whose tokens go A, B, A, B, ... (or whose Link header never ends)."""
    if system == "jira":
        return [
            Fault(status=200, body={"issues": [], "isLast": False, "nextPageToken": t})
            for t in ["A", "B"] * 30
        ]
    if system == "notion":
        return [
            Fault(status=200, body={"object": "list", "results": [], "next_cursor": t,
                                    "has_more": True, "type": "page_or_data_source"})
            for t in ["A", "B"] * 30
        ]  # fmt: skip
    # GitHub: the first page again and again, each with a new rel="next".
    api = f"{sb.url}/api/v3/repos/acme/web"
    path = "/pulls" if what == "pull" else "/issues/1/comments"
    first = requests.get(
        f"{api}{path}",
        params={"state": "all", "per_page": 100},
        headers={"Authorization": "token sandbox-github-write"},
        timeout=5,
    )
    first.raise_for_status()
    body = first.json() or [{"id": 1, "user": {"login": "ben-gh"}, "body": "hi"}]
    return [
        Fault(status=200, body=body, headers={"Link": f'<{api}{path}?page={n}>; rel="next"'})
        for n in range(2, 62)
    ]


# Jira's comment pages go by startAt and total, not tokens: see test_comment_reads.py.
CYCLING = [("jira", "pull"), ("github", "pull"), ("github", "comments"), ("notion", "pull"),
           ("notion", "comments")]  # fmt: skip


@pytest.mark.parametrize(("system", "what"), CYCLING)
def test_pagination_that_cycles_stops_within_a_few_requests(
    system: str, what: str, tmp_path: Path
) -> None:
    with Sandbox(workspace()) as sb:
        conn = _connectors(sb, tmp_path)[system]
        if what == "comments":
            conn.find_comment(SCOPES[system], ITEM[system], "warm-up")
        method, path = PATHS[(system, what)]
        for fault in _cycle(system, what, sb):
            sb.inject(method, path, fault, times=1)
        sb.clear_log()

        with pytest.raises(ConnectorError) as caught:
            _read(conn, system, what)

        assert isinstance(caught.value, errors.BadAnswer | errors.ItemError), caught.value
        assert str(caught.value).startswith(system)
        pages = [e for e in sb.log() if e.method == method and re.search(path, e.path)]
        assert len(pages) <= 3, f"{len(pages)} requests before the cycle was noticed"
