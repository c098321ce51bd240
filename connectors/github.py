"""GitHub through PyGithub: pull requests (and issues) per repo, people and teams, our comments.

The client, paging and the one call path live in `github_session`; reading our comments back in
`github_comments`; writes in `github_writes`. This module pulls items and people.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

from .base import MARKER_PREFIX, Account, CommentRef, Cursor, Scope, SourceItem
from .errors import AuthError, BadAnswer, ConnectorError, NotFound, RateLimited
from .found import FoundComments
from .github_comments import GithubComments
from .github_errors import header
from .github_session import READ_PERMISSION, open_client, utc
from .github_writes import GithubWrites

__all__ = ["GithubConnector", "open_client"]

log = logging.getLogger(__name__)
HOLD = 1000  # changed items held back until the comment list is read (a read since a cursor)


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


class GithubConnector(GithubComments, GithubWrites, FoundComments):
    """Pull requests (and optionally issues) of a repo; comments and labels on them."""

    # -- reading ---------------------------------------------------------------------------
    def pull(self, scope: Scope, cursor: Cursor | None) -> Iterator[SourceItem]:
        """Items of repo `scope.name` updated since `cursor - overlap`, newest first, by id once,
        each with our comment as the repo-wide comment list shows it (see `_our_comments`)."""
        self._owners.add(scope.name.split("/", 1)[0])
        since = cursor.updated.astimezone(UTC) - self.overlap if cursor else None
        items = self._items(scope, cursor, since)
        held: list[SourceItem] = []
        if cursor is not None:
            # A comment added, edited or deleted moves its item's `updated`: when no item
            # changed since the cursor (those at or before it are the overlap, read again),
            # none of our comments did, and the comment list is not read at all.
            held = list(itertools.islice(items, HOLD))
            if all(i.updated <= cursor.updated for i in held):  # re-read in the overlap
                yield from held
                self._found_beside(scope, {})
                return
        found = self._our_comments(scope, since)
        for item in itertools.chain(held, items):
            ref = found.pop(item.id, None) if found is not None else None
            # A full list saw every comment: no entry means none of ours. A list since the
            # cursor shows only comments changed since; the others stand as the state knows.
            looked = found is not None and (since is None or ref is not None)
            said = tuple(self.said_box().pop(item.id, ()))
            yield replace(item, comment=ref, comment_read=looked, said=said)
        self._found_beside(scope, found)

    def _our_comments(self, scope: Scope, since: datetime | None) -> dict[str, CommentRef] | None:
        """Our comments in the repo, one list in pages of 100 instead of one list per item:
        all of them on a full read, those changed since `since` otherwise. A full read lists
        them before the items, so that every item streams out with its comment; a read since
        the cursor holds up to HOLD changed items first, and reads the list only if any.
        None when the list cannot be read: the engine then looks item by item as before."""
        try:
            return self.find_comments(scope, MARKER_PREFIX, since)
        except (AuthError, RateLimited):
            raise
        except ConnectorError as exc:
            log.warning("github: could not list the comments of %s, looking per item: %s",
                        scope.name, exc)
            return None

    def _items(
        self, scope: Scope, cursor: Cursor | None, since: datetime | None
    ) -> Iterator[SourceItem]:
        full = scope.name
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
            updated=utc(raw["updated_at"]),
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
