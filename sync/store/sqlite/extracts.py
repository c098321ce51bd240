"""What a run reuses instead of computing it again (migration 0009): each item's extract (its
field values and link tokens as mapping extracted them when its link row was last computed,
`sync.engine.incremental`), the render key each of our comments was last found current for
(`sync.writeback.render.render_key`) and the text a service showed for it then, so an
unchanged item is neither parsed, nor its comment rendered or compared again."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from sync.store.sqlite.links import Pair, rows_by_pairs
from sync.store.sqlite.schema import StateBase

__all__ = ["Extracts"]


class Extracts(StateBase):
    """The extract, render-key and shown-text verbs of `SqliteStore` (and `present_in`)."""

    def extracts_of(self, pairs: Collection[Pair]) -> dict[Pair, str]:
        """The stored extract of each item named that has one (see `mapping.stored`)."""
        sql = (
            "SELECT system, item_id, extract FROM item_nodes WHERE extract IS NOT NULL AND "
            "(system, item_id) IN ({values})"
        )
        with self._lock:
            rows = rows_by_pairs(self.db, sql, pairs)
        return {(s, i): text for s, i, text in rows}

    def rendered_of(self, pairs: Collection[Pair]) -> dict[Pair, tuple[str, str]]:
        """(our comment's body as noted, the render key it was found current for) of each
        item named whose comment has one; `record_comment` clears it with a new body."""
        sql = (
            "SELECT system, item_id, body, rendered FROM comments WHERE rendered IS NOT NULL "
            "AND (system, item_id) IN ({values})"
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
            self.db.executemany(
                "UPDATE comments SET rendered = ? WHERE system = ? AND item_id = ? AND body = ?",
                [(key, s, i, body) for (s, i), (body, key) in current.items()],
            )

    def note_shown(self, shown: Iterable[tuple[str, str, str, str]]) -> None:
        """(system, item id, body, digest of the text shown): that text was found to show
        this body (for that body only; `record_comment` clears it)."""
        rows = [(digest, s, i, body) for s, i, body, digest in shown]
        if not rows:
            return
        with self._lock, self.db.atomic():
            self.db.executemany(
                "UPDATE comments SET shown = ? WHERE system = ? AND item_id = ? AND body = ?", rows
            )

    def present_in(self, scope: str) -> list[tuple[str, str, str]]:
        """(system, id, key) of every present item of one scope, without decoding any."""
        with self._lock:
            rows = self.db.execute(
                "SELECT system, id, key FROM items WHERE scope = ? AND state = 'present' "
                "ORDER BY system, id COLLATE BINARY",
                [scope],
            ).fetchall()
        return [(s, i, k or "") for s, i, k in rows]
