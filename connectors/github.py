"""GitHub through PyGithub: pull requests (and issues) per repo, people and teams, our comments.

Reads go through PyGithub's `Requester` and follow `Link rel="next"` in a small generator
rather than `PaginatedList`, for three reasons: a page that fails kills a PaginatedList's
iterator, so our retry would restart the whole list; it keeps every element in memory; and its
objects complete themselves lazily (one GET per attribute missing from a list item). Raw JSON
from the list is all the field maps need, so a full pull of N items costs ceil(N/100) requests.

Writes use PyGithub's own calls on lazily built objects (no GET before the write). The client
retries nothing (`retry=None`): a POST that got a 500 or timed out is never re-sent, by PyGithub
or by us, so a comment cannot be doubled; the engine looks for the marker before re-creating.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from github import Auth, Github, GithubException
from github.IssueComment import IssueComment

from ._answers import PageTokens, ServerClock, bad, describe, entries, need_dict, off_host
from ._retry import RetryPolicy, call_with_retry
from .base import Account, CommentRef, Cursor, Scope, SourceItem, WriteOp, WriteResult
from .errors import (
    AuthError,
    BadAnswer,
    ItemError,
    NotFound,
    register_secret,
)
from .github_errors import header, is_json, message, translate
from .github_places import RepoPlaces, watch

__all__ = ["GithubConnector", "open_client"]

log = logging.getLogger(__name__)
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


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _edited(comment: dict[str, Any]) -> datetime | None:
    """When a comment was last edited (`updated_at`); None when GitHub did not say."""
    raw = comment.get("updated_at") or comment.get("created_at")
    try:
        return _utc(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def _next_link(header: str | None) -> str | None:
    """The rel="next" URL of a Link header, if any."""
    for part in (header or "").split(","):
        url, _, rel = part.partition(";")
        if rel.strip() == 'rel="next"':
            return url.strip().strip("<>")
    return None


def _no_urls(value: Any) -> Any:
    """A user, team or label without its API URLs (a dozen per user object)."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if not k.endswith("url")}
    if isinstance(value, list):
        return [_no_urls(v) for v in value]
    return value


def slim(raw: dict[str, Any]) -> dict[str, Any]:
    """A pull or issue as the list returned it, less what no field map reads: the head and
    base repositories in full, `_links` and the API URLs. They are two thirds of a list item
    (12 of 18 KB), which every stored item would otherwise carry in memory and in the state."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "_links" or (key.endswith("_url") and key != "html_url"):
            continue
        if key in ("head", "base") and isinstance(value, dict):
            value = {k: value[k] for k in ("ref", "label", "sha") if k in value}
        elif key in ("user", "assignee", "assignees", "requested_reviewers", "requested_teams",
                     "labels", "milestone", "closed_by"):
            value = _no_urls(value)
        out[key] = value
    return out


def _is_cursor(item: SourceItem, cursor: Cursor | None) -> bool:
    """The item the cursor was taken from, unchanged since: already stored."""
    return cursor is not None and item.id == cursor.item_id and item.updated == cursor.updated


def _split_item(item_id: str) -> tuple[str, int]:
    """'owner/repo#17' -> ('owner/repo', 17)."""
    full, _, number = item_id.rpartition("#")
    return full, int(number)


class GithubConnector(RepoPlaces):
    """Pull requests (and optionally issues) of a repo; comments and labels on them."""

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
        self._redirects: list[str] = []  # Locations of redirects seen during the last call
        self._moved: dict[str, str] = {}  # "owner/repo" (lower) -> "/repositories/<id>"
        watch(client, self._on_response)

    def server_time(self) -> datetime | None:
        """GitHub's clock, from the Date header of its latest answer."""
        return self.clock.latest

    # -- reading ---------------------------------------------------------------------------
    def pull(self, scope: Scope, cursor: Cursor | None) -> Iterator[SourceItem]:
        """Items of repo `scope.name` updated since `cursor - overlap`, newest first, by id once."""
        full = scope.name
        self._owners.add(full.split("/", 1)[0])
        since = cursor.updated.astimezone(UTC) - self.overlap if cursor else None
        seen: set[str] = set()
        params = {"state": "all", "sort": "updated", "direction": "desc"}
        for raw in self._list(scope, f"/repos/{full}/pulls", params, READ_PERMISSION):
            item = self._item(scope, raw, "pull")
            if since is not None and item.updated < since:
                break  # sorted by updated: everything after this is older still
            if item.id not in seen and not _is_cursor(item, cursor):
                seen.add(item.id)
                yield item
        if not (self.include_issues or scope.query == "issues"):
            return
        issue_params = dict(params)
        if since is not None:
            # PyGithub would format a datetime without converting it; we send UTC ourselves.
            issue_params["since"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        for raw in self._list(scope, f"/repos/{full}/issues", issue_params, READ_PERMISSION):
            if "pull_request" in raw:
                continue  # the pulls list above carried it, with head/base and reviewers
            item = self._item(scope, raw, "issue")
            if since is not None and item.updated < since:
                break
            if item.id not in seen and not _is_cursor(item, cursor):
                seen.add(item.id)
                yield item

    def _item(self, scope: Scope, raw: dict[str, Any], kind: str) -> SourceItem:
        item_id = f"{scope.name}#{raw['number']}"
        self._remember_people(raw)
        return SourceItem(
            system=self.system,
            scope=scope.key,
            id=item_id,
            key=item_id,
            url=raw.get("html_url", ""),
            kind=kind,
            updated=_utc(raw["updated_at"]),
            title=raw.get("title") or "",
            fields=slim(raw),
            labels=tuple(lab["name"] for lab in raw.get("labels", []) if isinstance(lab, dict)),
            uid=str(raw["id"]),  # survives a rename or transfer of the repository
        )

    def _remember_people(self, raw: dict[str, Any]) -> None:
        users = [raw.get("user"), *raw.get("assignees", []), *raw.get("requested_reviewers", [])]
        for user in users:
            if isinstance(user, dict) and user.get("login"):
                known = self._seen_users.setdefault(user["login"], {})
                known.update({k: user[k] for k in ("name", "email", "type") if user.get(k)})
        owner = raw.get("base", {}).get("repo", {}).get("owner", {}).get("login", "")
        for team in raw.get("requested_teams", []):
            org = owner or raw["url"].split("/repos/", 1)[1].split("/", 1)[0]
            self._seen_teams[f"{org}/{team['slug']}"] = team.get("name", team["slug"])

    def people(self) -> Iterator[Account]:
        """Logins and teams seen in pulls, plus members and teams of the orgs we know of."""
        people: dict[str, dict[str, Any]] = {k: dict(v) for k, v in self._seen_users.items()}
        teams = dict(self._seen_teams)
        for org in sorted(set(self.orgs) | self._owners):
            scope = Scope(self.system, org)
            try:
                for user in self._list(scope, f"/orgs/{org}/members", {}, "Members: read"):
                    people.setdefault(user["login"], {"type": user.get("type")})
                for team in self._list(scope, f"/orgs/{org}/teams", {}, "Members: read"):
                    teams[f"{org}/{team['slug']}"] = team.get("name") or team["slug"]
            except (NotFound, AuthError) as e:
                # A user-owned repo has no org; a token without org access cannot list it.
                log.info("github: skipping members of %s: %s", org, e)
        for login, info in sorted(people.items()):
            kind: Literal["person", "bot"] = "bot" if info.get("type") == "Bot" else "person"
            yield Account(
                self.system, login, info.get("name") or "", info.get("email") or "", kind=kind
            )
        for team_id, name in sorted(teams.items()):
            yield Account(self.system, team_id, name, kind="group")

    def me(self) -> str:
        """The token's own login (one GET /user, then cached)."""
        if self._me is None:
            scope = Scope(self.system, "user")
            data = self._call(scope, lambda: self._get("/user")[1], "none")
            me = need_dict(data, ("login",), system=self.system, scope="user",
                           what="the token's own account (GET /user)")
            self._me = str(me["login"])
        return self._me

    # -- read-only checks (`handoff doctor`) -------------------------------------------------
    def repo_permissions(self, full: str) -> dict[str, bool]:
        """The token's access to repo `full` (the repo JSON's `permissions`: admin, maintain,
        push, triage, pull); empty when GitHub does not say. NotFound when it is not visible."""
        scope = Scope(self.system, full)
        data = self._call(scope, lambda: self._get(f"/repos/{full}")[1], READ_PERMISSION)
        return {k: bool(v) for k, v in (data.get("permissions") or {}).items()}

    def repo_names(self, limit: int = 100) -> list[str]:
        """"owner/name" of the repositories the token reaches (`handoff init`), at most
        `limit`, sorted."""
        scope = Scope(self.system, "user")
        names: list[str] = []
        for page in range(1, limit // 100 + 2):
            query = {"per_page": 100, "page": page}
            _, data = self._call(scope, functools.partial(self._get, "/user/repos", query), "none")
            if not isinstance(data, list):
                raise BadAnswer("GitHub answered the repository list (/user/repos) with something "
                                "else than a list", system=self.system, scope="github:user")
            names += [str(r["full_name"]) for r in data if isinstance(r, dict)]
            if len(data) < 100 or len(names) >= limit:
                break
        return sorted(names[:limit])

    def token_scopes(self) -> list[str] | None:
        """A classic token's OAuth scopes (X-OAuth-Scopes); None for fine-grained and app
        tokens, whose permissions GitHub does not report."""
        headers, _ = self._call(Scope(self.system, "user"), lambda: self._get("/user"), "none")
        value = header(headers, "X-OAuth-Scopes")
        return None if value is None else [s.strip() for s in value.split(",") if s.strip()]

    def user(self, login: str) -> dict[str, Any] | None:
        """A user's public profile, or None when no such login exists."""
        scope = Scope(self.system, "users")
        try:
            data: dict[str, Any] = self._call(
                scope, lambda: self._get(f"/users/{login}")[1], "none"
            )
        except NotFound:
            return None
        return data

    def find_comment(self, scope: Scope, item_id: str, marker: str) -> CommentRef | None:
        """Our comment on one item: the oldest by our login containing `marker`; later ones
        go in `duplicates`. A malformed comment list is an ItemError, never "none of ours"."""
        me = self.me()
        _, number = _split_item(item_id)
        path = f"/repos/{scope.name}/issues/{number}/comments"
        ours: list[tuple[int, str, datetime | None]] = []
        try:
            for c in self._list(scope, path, {}, READ_PERMISSION):
                body, user = c.get("body") or "", c.get("user") or {}  # a deleted user: null
                if not isinstance(user, dict) or not isinstance(body, str):
                    raise bad(self.system, scope.name, f"the comments of {item_id}",
                              "a comment whose user or text is not what GitHub sends")
                if user.get("login") == me and marker in body:
                    ours.append((int(c["id"]), body, _edited(c)))
        except BadAnswer as e:
            raise ItemError(e.message, item_id=item_id, system=self.system,
                            scope=scope.name) from e
        if not ours:
            return None
        ours.sort()  # GitHub's comment ids grow with time: the first is the oldest
        return CommentRef(str(ours[0][0]), ours[0][1], tuple(str(o[0]) for o in ours[1:]),
                          updated=ours[0][2])

    def find_comments(
        self, scope: Scope, marker: str, since: datetime | None = None
    ) -> dict[str, CommentRef]:
        """Our comments on every item of the repo in one list: item id -> the oldest one, any
        later ones of ours with the marker in its `duplicates`.

        For the first sync (or a lost state): pages the repo-wide comment list at 100 instead
        of one list per item. `marker` is any text all our comments carry; `since` limits the
        scan to comments updated since then.
        """
        me = self.me()
        params = {"sort": "created", "direction": "asc"}
        if since is not None:
            params["since"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        found: dict[str, CommentRef] = {}
        path = f"/repos/{scope.name}/issues/comments"
        for c in self._list(scope, path, params, READ_PERMISSION, require=("id", "issue_url")):
            body, user = c.get("body") or "", c.get("user") or {}
            if isinstance(user, dict) and user.get("login") == me and marker in str(body):
                item_id = f"{scope.name}#{str(c['issue_url']).rsplit('/', 1)[1]}"
                first = found.get(item_id)
                if first is None:
                    found[item_id] = CommentRef(str(c["id"]), str(body), updated=_edited(c))
                else:  # oldest first: a later one of ours is a duplicate
                    dupes = (*first.duplicates, str(c["id"]))
                    found[item_id] = replace(first, duplicates=dupes)
        return found

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
        self._redirects.clear()
        headers, data = requester.requestJsonAndCheck("GET", self._route(url), parameters=query)
        if self._redirects and url.startswith("/repos/"):
            self._learn_move(url, self._redirects[-1])
            if query and self._route(url) != url:
                # PyGithub follows a 301 without the query (state, sort, per_page): ask again.
                headers, data = requester.requestJsonAndCheck(
                    "GET", self._route(url), parameters=query
                )
        return headers, data

    # -- writing ---------------------------------------------------------------------------
    def apply(self, op: WriteOp) -> WriteResult:
        """Carry out one comment or label write on a pull request or issue."""
        full, number = _split_item(op.item_id)
        scope = Scope(self.system, full)
        issue = self._repo_obj(full).get_issue(number)  # lazy: no request

        if op.action == "comment.create":
            made = self._call(
                scope,
                lambda: issue.create_comment(op.body),
                WRITE_PERMISSION,
                idempotent=False,
                item_id=op.item_id,
            )
            return WriteResult(op.key, True, target=str(made.id))
        if op.action == "comment.update":
            path = self._route(f"/repos/{full}/issues/comments/{op.target}")
            url = f"{self.client.requester.base_url}{path}"
            comment = IssueComment(self.client.requester, url=url)  # lazy: no request
            self._call(scope, lambda: comment.edit(op.body), WRITE_PERMISSION, item_id=op.item_id)
            return WriteResult(op.key, True, target=op.target)
        if op.action == "comment.delete":
            # A later duplicate of our comment (a race between two runs); already gone is done.
            url = f"{self.client.requester.base_url}/repos/{full}/issues/comments/{op.target}"
            dup = IssueComment(self.client.requester, url=url)  # lazy: no request
            try:
                self._call(scope, dup.delete, WRITE_PERMISSION, item_id=op.item_id)
            except NotFound:
                return WriteResult(op.key, True, target=op.target, detail="already gone")
            return WriteResult(op.key, True, target=op.target)
        if op.action == "label.add":
            # GitHub's description takes {"labels": [...]}; PyGithub's add_to_labels would send
            # a bare array, so the request goes through its requester instead.
            add = {"labels": [op.name]}
            post = self.client.requester.requestJsonAndCheck
            self._call(
                scope,
                lambda: post("POST", f"{issue.url}/labels", input=add),
                WRITE_PERMISSION,
                item_id=op.item_id,
            )
            return WriteResult(op.key, True)
        if op.action == "label.remove":

            def remove() -> str:
                try:
                    issue.remove_from_labels(op.name)
                    return ""
                except GithubException as e:
                    if e.status == 404 and "label does not exist" in message(e).lower():
                        return "label was not on the item"  # the goal state already holds
                    raise

            detail = self._call(scope, remove, WRITE_PERMISSION, item_id=op.item_id)
            return WriteResult(op.key, True, detail=detail)
        raise ItemError(
            f"cannot {op.action} on GitHub", item_id=op.item_id, system=self.system, scope=full
        )

    # -- publishing (`handoff report --publish`) ----------------------------------------------
    def publish_issue(self, repo: str, title: str, body: str, marker: str) -> tuple[int, str, bool]:
        """Create our one issue in `repo` carrying `marker`, or edit it in place if it exists:
        (number, url, created).

        It is found among the issues our login opened, oldest first at 100 a page, so one
        request finds it unless the bot opened a hundred issues before it. `body` must contain
        `marker`. A create is not retried: after a lost answer, the next run finds it instead.
        """
        if marker not in body:
            raise ValueError("the issue body must carry the marker it is found again by")
        scope = Scope(self.system, repo)
        params = {"creator": self.me(), "state": "all", "sort": "created", "direction": "asc"}
        found: dict[str, Any] | None = None
        for raw in self._list(scope, f"/repos/{repo}/issues", params, READ_PERMISSION):
            if "pull_request" not in raw and marker in (raw.get("body") or ""):
                found = raw
                break
        gh_repo = self.client.get_repo(repo)  # lazy: no request
        if found is None:
            made = self._call(
                scope,
                lambda: gh_repo.create_issue(title=title, body=body),
                ISSUE_PERMISSION,
                idempotent=False,
            )
            return made.number, made.html_url, True
        number = int(found["number"])
        issue = gh_repo.get_issue(number)  # lazy: no request
        # The state is left alone: a lead who closed the issue keeps it closed.
        self._call(scope, lambda: issue.edit(title=title, body=body), ISSUE_PERMISSION)
        return number, str(found.get("html_url") or ""), False

    # -- errors ----------------------------------------------------------------------------
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
