"""Our comments as the state notes them, for a batch of items; and comment creates whose
outcome the state never learnt (see `sync.engine.comments`)."""

from __future__ import annotations

from collections.abc import Collection

from sync.store.rows import StoredComment, parse_dt
from sync.store.sqlite.links import rows_by_pairs
from sync.store.sqlite.schema import StateBase

__all__ = ["Unconfirmed"]


class Unconfirmed(StateBase):
    """The `comments_of` and `unconfirmed_creates` verbs of `State`."""

    def comments_of(
        self, pairs: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredComment]:
        """Our comment on each of these (system, item id), where the state knows one: one
        query per chunk, so planning a batch never loads every comment of the workspace."""
        sql = (
            "SELECT system, item_id, comment_id, body, written_at FROM comments "
            "WHERE (system, item_id) IN ({values})"
        )
        with self._lock:
            rows = rows_by_pairs(self.db, sql, dict.fromkeys(pairs))
        return {(r[0], r[1]): StoredComment(r[0], r[1], r[2], r[3], parse_dt(r[4])) for r in rows}

    def unconfirmed_creates(self) -> set[tuple[str, str]]:
        """(system, item id) of items where a comment create was sent (it may have landed:
        a timeout, a crash) and never confirmed, and no comment of ours is on record since.
        Such a row stays unconfirmed after a later run supersedes it; a comment recorded on
        the item settles it."""
        with self._lock:
            rows = self.db.execute(
                "SELECT DISTINCT o.system, o.item_id FROM outbox o WHERE "
                "o.action = 'comment.create' AND o.attempts > 0 AND o.status != 'done' "
                "AND NOT EXISTS (SELECT 1 FROM comments c "
                "WHERE c.system = o.system AND c.item_id = o.item_id)"
            ).fetchall()
        return {(str(r[0]), str(r[1])) for r in rows}
