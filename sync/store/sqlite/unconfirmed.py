"""Comment creates whose outcome the state never learnt (see `sync.engine.comments`)."""

from __future__ import annotations

from sync.store.sqlite.schema import StateBase

__all__ = ["Unconfirmed"]


class Unconfirmed(StateBase):
    """The `unconfirmed_creates` verb of `State`."""

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
