"""Notion pages a person commented on, read beside a pull.

A comment does not move a page's last_edited_time, so a pull since a cursor never returns the
page a person just commented on. Notion's `comment.created` webhook names the page; the served
engine hands those pages to the connector (`comments_wanted`) and the next pull of their scope
reads each one's comments (one list, paged): our comment there for discovery
(`comments_beside`) and people's commands (`said_beside`), without reading the page itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from .base import MARKER_PREFIX, CommentRef, Said, Scope
from .errors import ItemError, TransientError

__all__ = ["NotionWanted"]

log = logging.getLogger("connectors.notion")


class NotionWanted:
    """Mixed into the Notion connector, which provides `find_comment`."""

    _wanted: dict[str, frozenset[str]]

    def find_comment(self, scope: Scope, item_id: str, marker: str) -> CommentRef | None:
        raise NotImplementedError

    def comments_wanted(self, by_scope: dict[str, set[str]]) -> None:
        """Pages a person commented on, by scope key: the next pull of each scope reads their
        comments whether or not its query returns them (told before every run)."""
        self._wanted = {k: frozenset(v) for k, v in by_scope.items()}

    def said_beside(self, scope: Scope) -> dict[str, tuple[Said, ...]]:
        """People's commands on the wanted pages the last pull of `scope` did not yield."""
        beside: dict[str, dict[str, tuple[Said, ...]]] = self.__dict__.get("_said_beside", {})
        return beside.pop(scope.key, {})

    def _read_wanted(self, scope: Scope, pages: Iterable[str],
                     whole: list[bool]) -> dict[str, CommentRef]:
        """The comments of wanted pages the query did not return: our comment on each (for
        discovery) and their commands (kept for `said_beside`)."""
        found: dict[str, CommentRef] = {}
        said: dict[str, tuple[Said, ...]] = {}
        for page_id in sorted(pages):
            try:
                ref = self.find_comment(scope, page_id, MARKER_PREFIX)
            except (ItemError, TransientError) as exc:
                log.warning("notion: could not read the comments of page %s: %s", page_id, exc)
                whole[0] = False
                continue
            said[page_id] = self.__dict__.get("_said", {}).pop(page_id, ())
            if ref is not None:
                found[page_id] = ref
        self.__dict__.setdefault("_said_beside", {})[scope.key] = said
        return found
