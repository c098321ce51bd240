"""Reading our marker comment back from a Jira issue: from the search's inline `comment`
field, or every page of the issue's comment list when that field is cut short."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from ._answers import bad, entries, for_item
from .base import CommentRef, Said, Scope, may_command
from .errors import BadAnswer, ItemError, TransientError
from .jira_session import MAX_PAGES, JiraSession
from .jira_text import adf_plain_text, id_key, parse_jira_time

__all__ = ["JiraComments"]

COMMENT_PAGE = 100
log = logging.getLogger(__name__)


class JiraComments(JiraSession):
    """Finds the connector's own comment on an issue (oldest first, later ones duplicates)."""

    def find_comment(self, scope: Scope, item_id: str, marker: str) -> CommentRef | None:
        """Our comment on an issue: the oldest by our account with `marker`, later ones in
        `duplicates`. Every page is read, by startAt and the reported total: Jira may answer
        fewer comments than asked for, so a short page is not the last."""
        me = self._myself()["accountId"]
        ours: list[tuple[int, str, str, datetime | None]] = []
        said: list[Said] = []
        start = 0
        what = f"the comments of issue {item_id}"
        for _ in range(MAX_PAGES):
            comments, total = self._comment_page(scope, item_id, start, what)
            ours += _ours(comments, me, marker)
            said += self._said(comments, me)
            start += len(comments)
            if start >= total:
                break
            if not comments:
                raise bad("jira", scope.key, what, f"an empty page at {start} of {total}",
                          item_id=item_id)
        else:
            raise bad("jira", scope.key, what, "pages without end", item_id=item_id)
        # Every page read: people's commands past a cut-short inline list (see `said_in`).
        self.__dict__.setdefault("_said_read", {})[item_id] = tuple(said)
        return _oldest(ours)

    def inline_comment(
        self, scope: Scope, item_id: str, inline: Any, marker: str
    ) -> tuple[CommentRef | None, bool]:
        """Our comment from the `comment` field a search returned with the issue, and whether
        the issue was looked at in full. Only when that list is cut short (Jira caps it) or
        not what Jira sends are the issue's comments read, every page (`find_comment`); when
        that read fails the answer is (None, False): not looked, the state's note stands."""
        me = self._myself()["accountId"]
        comments = inline.get("comments") if isinstance(inline, dict) else None
        total = inline.get("total") if isinstance(inline, dict) else None
        whole = (
            isinstance(comments, list)
            and isinstance(total, int)
            and total <= len(comments)
            and all(_valid(c) for c in comments)
        )
        self.__dict__.setdefault("_said_read", {}).pop(item_id, None)  # none from before
        if whole:
            assert isinstance(comments, list)
            return _oldest(_ours(comments, me, marker)), True
        try:
            return self.find_comment(scope, item_id, marker), True
        except (ItemError, TransientError) as exc:
            log.warning("jira: could not read the comments of issue %s: %s", item_id, exc)
            return None, False

    def said_in(self, inline: Any, item_id: str = "") -> tuple[Said, ...]:
        """People's comments with commands: from every page of the issue's comments when
        `inline_comment` had to read them (Jira cut the inline list short, so a command
        past the cut is not lost), else from those the search returned with the issue."""
        read: dict[str, tuple[Said, ...]] = self.__dict__.get("_said_read", {})
        if item_id in read:
            return read.pop(item_id)
        comments = inline.get("comments") if isinstance(inline, dict) else None
        if not isinstance(comments, list):
            return ()
        return self._said(comments, self._myself()["accountId"])

    def _said(self, comments: list[Any], me: str) -> tuple[Said, ...]:
        out = []
        for c in comments:
            if not _valid(c) or c["author"].get("accountType") == "app":
                continue  # a person's comments only: never ours, nor an app's
            account = c["author"].get("accountId")
            text = adf_plain_text(c.get("body"), mentions=True)
            if isinstance(account, str) and account != me and may_command(text):
                at = _edited(c) or datetime.min.replace(tzinfo=UTC)
                out.append(Said(str(c["id"]), account, text, at))
        return tuple(out)

    def _comment_page(
        self, scope: Scope, item_id: str, start: int, what: str
    ) -> tuple[list[dict[str, Any]], int]:
        """One validated page of an issue's comments, and the total Jira reports."""
        try:
            page = self._call(
                lambda: self.client._get_json(
                    f"issue/{item_id}/comment",
                    params={"startAt": start, "maxResults": COMMENT_PAGE},
                ),
                scope=scope.key,
                what=what,
                item_id=item_id,
            )
        except BadAnswer as exc:
            raise for_item(exc, item_id) from exc
        kw: dict[str, Any] = {"system": "jira", "scope": scope.key, "what": what,
                              "item_id": item_id}
        comments = entries(page, "comments", require=("id", "author"), **kw)
        total = page.get("total")
        if not isinstance(total, int) or isinstance(total, bool):
            raise bad(got="a page without its total", **kw)
        if any(not isinstance(c["author"], dict) for c in comments):
            raise bad(got="a comment whose author is not an account", **kw)
        if start + len(comments) > total:
            raise bad(got=f"more comments than the total of {total} it reports", **kw)
        return comments, total


def _valid(comment: Any) -> bool:
    return (
        isinstance(comment, dict)
        and "id" in comment
        and isinstance(comment.get("author"), dict)
    )


def _ours(
    comments: list[dict[str, Any]], me: str, marker: str
) -> list[tuple[int, str, str, datetime | None]]:
    """Comments by our account with `marker`, keyed for sorting by id (ids grow with time)."""
    out = []
    for c in comments:
        text = adf_plain_text(c.get("body"))
        if c["author"].get("accountId") == me and marker in text:
            cid = str(c["id"])
            out.append((id_key(cid)[0], cid, text, _edited(c)))
    return out


def _oldest(ours: list[tuple[int, str, str, datetime | None]]) -> CommentRef | None:
    """The oldest of ours, later ones as its duplicates."""
    if not ours:
        return None
    ours.sort()
    first = ours[0]
    return CommentRef(id=first[1], text=first[2], duplicates=tuple(o[1] for o in ours[1:]),
                      updated=first[3])


def _edited(comment: dict[str, Any]) -> datetime | None:
    """When a comment was last edited, from Jira's `updated` (or `created`); None if unreadable."""
    raw = comment.get("updated") or comment.get("created")
    try:
        return parse_jira_time(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
