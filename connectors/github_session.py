"""The one way the GitHub connector talks to GitHub: the client, paging, the call path.

Reads go through PyGithub's `Requester` and follow `Link rel="next"` in a small generator
rather than `PaginatedList`, for three reasons: a page that fails kills a PaginatedList's
iterator, so our retry would restart the whole list; it keeps every element in memory; and its
objects complete themselves lazily (one GET per attribute missing from a list item). Raw JSON
from the list is all the field maps need, so a full pull of N items costs ceil(N/100) requests.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from github import Auth, Github

from ._answers import PageTokens, ServerClock, bad, describe, entries, need_dict, off_host
from ._retry import RetryPolicy, call_with_retry
from .base import Scope
from .constants import Remembers
from .errors import BadAnswer, register_secret
from .gate import Gated
from .github_errors import is_json, translate
from .github_places import RepoPlaces, watch

__all__ = [
    "ISSUE_PERMISSION",
    "READ_PERMISSION",
    "WRITE_PERMISSION",
    "GithubSession",
    "open_client",
    "split_item",
    "utc",
]

T = TypeVar("T")

# Which fine-grained permission each kind of call needs, named as GitHub's settings page does.
READ_PERMISSION = "Pull requests: read (and Issues: read when issues are pulled)"
WRITE_PERMISSION = "Issues: write and Pull requests: write"
ISSUE_PERMISSION = "Issues: write"  # to open and edit the report's issue


def open_client(url: str, token: str, *, timeout: float = 30.0) -> Github:
    """A PyGithub client for `url` (".../api/v3" on GitHub Enterprise) with our settings.

    retry=None: one policy (connectors._retry) decides, and PyGithub's would re-POST after a
    500. Throttles are 0 because the engine paces writes under GitHub's 80-a-minute budget
    itself; PyGithub's sleeps would stack on top of that and halve throughput for nothing.
    lazy=True: get_repo/get_issue build objects without a GET.
    """
    register_secret(token)
    return Github(
        base_url=url.rstrip("/"),
        auth=Auth.Token(token),
        timeout=max(1, math.ceil(timeout)),  # PyGithub asserts an int
        per_page=100,
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
        lazy=True,
    )


def utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _next_link(header: str | None) -> str | None:
    """The rel="next" URL of a Link header, if any."""
    for part in (header or "").split(","):
        url, _, rel = part.partition(";")
        if rel.strip() == 'rel="next"':
            return url.strip().strip("<>")
    return None


def split_item(item_id: str) -> tuple[str, int]:
    """'owner/repo#17' -> ('owner/repo', 17)."""
    full, _, number = item_id.rpartition("#")
    return full, int(number)


class GithubSession(RepoPlaces, Gated, Remembers):
    """A PyGithub client with the connector's settings, its clock, paging and one call path."""

    system = "github"
    # GitHub stamps are exact to the second; the margin covers writes landing in the second
    # we read and replica lag. The cursor's own item at the cursor's time is the stored version.
    overlap = timedelta(seconds=30)
    page_size = 100  # GitHub's maximum
    max_pages = 10_000  # a loop guard: 1,000,000 items per list

    def __init__(
        self,
        client: Github,
        *,
        include_issues: bool = False,
        policy: RetryPolicy | None = None,
        orgs: tuple[str, ...] = (),
    ) -> None:
        self.client = client
        self.include_issues = include_issues
        self.policy = policy or RetryPolicy()
        self.orgs = orgs
        self._me: str | None = None
        self._seen_users: dict[str, dict[str, Any]] = {}
        self._seen_teams: dict[str, str] = {}
        self._owners: set[str] = set()
        self.clock = ServerClock()
        # Locations of redirects seen during this thread's last call (scopes pull side by side)
        self._local = threading.local()
        self._moved: dict[str, str] = {}  # "owner/repo" (lower) -> "/repositories/<id>"
        watch(client, self._on_response, self._before)

    def server_time(self) -> datetime | None:
        """GitHub's clock, from the Date header of its latest answer."""
        return self.clock.latest

    def me(self) -> str:
        """The token's own login (one GET /user, then cached)."""
        if self._me is None:
            self._me = self._constant("me", self._ask_me, _login)
        return self._me

    def _ask_me(self) -> str:
        scope = Scope(self.system, "user")
        data = self._call(scope, lambda: self._get("/user")[1], "none")
        me = need_dict(data, ("login",), system=self.system, scope="user",
                       what="the token's own account (GET /user)")
        return str(me["login"])

    def _list(
        self,
        scope: Scope,
        path: str,
        params: dict[str, str],
        permission: str,
        require: tuple[str, ...] = ("id",),
    ) -> Iterator[dict[str, Any]]:
        """Every element of a list, page by page along Link rel="next", each page retried and
        checked: a page that is not a JSON list of objects, a next link off the API host, a
        link seen before, or pages of nothing new are errors, never the end of the list."""
        url: str | None = path
        query: dict[str, Any] | None = {**params, "per_page": self.page_size}
        what = f"the list GET {path}"
        links = PageTokens(self.system, scope.name, what)
        seen: set[Any] = set()
        base = self.client.requester.base_url
        for _ in range(self.max_pages):
            assert url is not None
            fetch = self._page_fetcher(url, query)
            headers, data = self._call(scope, fetch, permission)
            page = entries(data, None, system=self.system, scope=scope.name, what=what,
                           require=require)
            if not is_json(headers):
                raise bad(self.system, scope.name, what, describe("not json"))
            ids = {e.get("id") for e in page} - {None}
            if ids and ids <= seen:
                raise bad(self.system, scope.name, what, "a next page that repeats the last")
            seen |= ids
            yield from page
            url, query = _next_link(headers.get("link")), None
            if not url or not page:
                return
            if off_host(base, url):
                raise bad(self.system, scope.name, what, "a next-page link to another host")
            links.add(url)
        raise BadAnswer(f"more than {self.max_pages} pages at {path}", system=self.system,
                        scope=scope.name)

    def _page_fetcher(
        self, url: str, query: dict[str, Any] | None
    ) -> Callable[[], tuple[dict[str, Any], Any]]:
        return lambda: self._get(url, query)

    def _get(self, url: str, query: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
        requester = self.client.requester
        redirects = self._redirect_list()
        redirects.clear()
        headers, data = requester.requestJsonAndCheck("GET", self._route(url), parameters=query)
        if redirects and url.startswith("/repos/"):
            self._learn_move(url, redirects[-1])
            if query and self._route(url) != url:
                # PyGithub follows a 301 without the query (state, sort, per_page): ask again.
                headers, data = requester.requestJsonAndCheck(
                    "GET", self._route(url), parameters=query
                )
        return headers, data

    def _call(
        self,
        scope: Scope,
        fn: Callable[[], T],
        permission: str,
        *,
        idempotent: bool = True,
        item_id: str = "",
    ) -> T:
        """Run one SDK call under the retry policy, its failures as connectors.errors."""

        def attempt() -> T:
            try:
                return fn()
            except Exception as e:  # every SDK failure is translated here; unknown ones re-raise
                raise translate(e, scope.name, permission, item_id) from e

        return call_with_retry(attempt, self.policy, idempotent=idempotent)


def _login(stored: Any) -> str:
    if not isinstance(stored, str) or not stored:
        raise TypeError("not a login")
    return stored
