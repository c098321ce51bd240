"""Reading our marker comments back from GitHub: on one item, or across a whole repo."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ._answers import bad
from .base import CommentRef, Said, Scope, may_command
from .errors import BadAnswer, ItemError
from .github_session import READ_PERMISSION, GithubSession, split_item, utc

__all__ = ["GithubComments"]


def _is_said(comment: dict[str, Any], me: str) -> bool:
    user = comment.get("user")
    if not isinstance(user, dict) or user.get("type") == "Bot":
        return False  # a person's comments only: never ours, nor another app's
    login = user.get("login")
    return isinstance(login, str) and login != me and may_command(str(comment.get("body") or ""))


def _said(comment: dict[str, Any]) -> Said:
    user = comment["user"]
    at = _edited(comment) or datetime.min.replace(tzinfo=UTC)
    return Said(str(comment["id"]), str(user["login"]), str(comment.get("body") or ""), at)


def _edited(comment: dict[str, Any]) -> datetime | None:
    """When a comment was last edited (`updated_at`); None when GitHub did not say."""
    raw = comment.get("updated_at") or comment.get("created_at")
    try:
        return utc(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


class GithubComments(GithubSession):
    """Finds the connector's own comments (oldest first, later ones duplicates)."""

    def said_box(self) -> dict[str, list[Said]]:
        """People's comments with commands by item id, from the repo-wide lists read, until
        the pull hands them out (item ids name their repo: scopes side by side share it)."""
        box: dict[str, list[Said]] = self.__dict__.setdefault("_said", {})
        return box

    def find_comment(self, scope: Scope, item_id: str, marker: str) -> CommentRef | None:
        """Our comment on one item: the oldest by our login containing `marker`; later ones
        go in `duplicates`. A malformed comment list is an ItemError, never "none of ours"."""
        me = self.me()
        _, number = split_item(item_id)
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
        said = self.said_box()
        path = f"/repos/{scope.name}/issues/comments"
        for c in self._list(scope, path, params, READ_PERMISSION, require=("id", "issue_url")):
            body, user = c.get("body") or "", c.get("user") or {}
            item_id = f"{scope.name}#{str(c['issue_url']).rsplit('/', 1)[1]}"
            if _is_said(c, me):
                said.setdefault(item_id, []).append(_said(c))
            if isinstance(user, dict) and user.get("login") == me and marker in str(body):
                first = found.get(item_id)
                if first is None:
                    found[item_id] = CommentRef(str(c["id"]), str(body), updated=_edited(c))
                else:  # oldest first: a later one of ours is a duplicate
                    dupes = (*first.duplicates, str(c["id"]))
                    found[item_id] = replace(first, duplicates=dupes)
        return found
