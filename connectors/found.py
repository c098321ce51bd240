"""Our comments a pull found in batches, beyond the items it yielded.

A pull attaches our comment to each item it yields (`SourceItem.comment`, `comment_read`).
Some comments of ours belong to items the pull did not yield (GitHub's repo-wide comment list
since the cursor also shows our comments on unchanged items, e.g. one a person edited), and the
engine must learn those too. It asks after the pull (`comments_beside`): those comments, by
item id, or None when the pull's discovery did not cover the whole scope (it failed, or the
connector has none), in which case the engine trusts no "none of ours" it did not see itself.
"""

from __future__ import annotations

from .base import CommentRef, Scope

__all__ = ["FoundComments"]


class FoundComments:
    """Mixed into a connector: remember, per scope, what its last pull found besides items."""

    def _found_beside(self, scope: Scope, found: dict[str, CommentRef] | None) -> None:
        self.__dict__.setdefault("_beside", {})[scope.key] = found

    def comments_beside(self, scope: Scope) -> dict[str, CommentRef] | None:
        """Our comments on items of `scope` its last pull did not yield (item id -> comment),
        or None when that pull's discovery did not cover every item; asked once per pull."""
        beside: dict[str, dict[str, CommentRef] | None] = self.__dict__.get("_beside", {})
        return beside.pop(scope.key, None)
