"""What a run reuses instead of computing it again (migration 0009): each item's extract (its
field values and link tokens as mapping extracted them when its link row was last computed,
`sync.engine.incremental`), and the render key each of our comments was last found current
for (`sync.writeback.render.render_key`), so an unchanged item is neither parsed nor its
comment rendered again."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sync.store.sqlite.links import Pair, rows_by_pairs
from sync.store.sqlite.schema import StateBase

__all__ = ["Extracts"]


class Extracts(StateBase):
    """The extract and render-key verbs of `SqliteStore`."""

    def extracts_of(self, pairs: Collection[Pair]) -> dict[Pair, str]:
        """The stored extract of each item named that has one (see `mapping.stored`)."""
        sql = (
            "SELECT system, item_id, extract FROM item_nodes WHERE extract IS NOT NULL AND "
            "(system, item_id) IN (VALUES {values})"
        )
        with self._lock:
            rows = rows_by_pairs(self.db, sql, pairs)
        return {(s, i): text for s, i, text in rows}

    def rendered_of(self, pairs: Collection[Pair]) -> dict[Pair, tuple[str, str]]:
        """(our comment's body as noted, the render key it was found current for) of each
        item named whose comment has one; `record_comment` clears it with a new body."""
        sql = (
            "SELECT system, item_id, body, rendered FROM comments WHERE rendered IS NOT NULL "
            "AND (system, item_id) IN (VALUES {values})"
        )
        with self._lock:
            rows = rows_by_pairs(self.db, sql, pairs)
        return {(s, i): (body, key) for s, i, body, key in rows}

    def note_rendered(self, current: Mapping[Pair, tuple[str, str]]) -> None:
        """Keep each comment's render key, for the body it was found current with only (a
        comment recorded since keeps none)."""
        if not current:
            return
        with self._lock, self.db.atomic():
            self.db.conn.executemany(
                "UPDATE comments SET rendered = ? WHERE system = ? AND item_id = ? AND body = ?",
                [(key, s, i, body) for (s, i), (body, key) in current.items()],
            )
