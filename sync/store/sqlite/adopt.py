"""What a worker of several on one state does after its own writes (sync.engine.claimed):
it takes over the pending writes nobody holds (a worker that died after planning, or one left
behind because another worker held its item), and it clears only the taken-up marks its own
plan read, so marks another worker made since survive."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from connectors.base import WriteOp
from sync.store.rows import iso, op_from_json
from sync.store.sqlite.links import Pair, _chunks
from sync.store.sqlite.schema import StateBase

__all__ = ["Adopt"]

# Another worker holds a live claim on a write of the same item (`outbox_claim` skips those).
_ITEM_HELD = (
    "NOT EXISTS (SELECT 1 FROM outbox x WHERE x.system = o.system AND x.item_id = o.item_id "
    "AND x.claimed_by != ? AND x.claim_until > ?)"
)


class Adopt(StateBase):
    """The `outbox_adoptable`, `outbox_waiting`, `mark_taken` and `clear_taken` verbs."""

    def outbox_adoptable(
        self, system: str, holder: str, now: datetime, limit: int, since: datetime
    ) -> list[WriteOp]:
        """Up to `limit` writes of `system` still to send (planned, or left sending by a
        worker whose claim ran out), planned or tried `since` (older ones the caller's own
        plan took up and replaced or let be), that nobody holds now: no live claim on the
        row, nor another worker's on its item. Oldest plan first."""
        at = iso(now)
        with self._lock:
            rows = self.db.execute(
                "SELECT op FROM outbox o WHERE system = ? AND status IN ('planned', 'sending') "
                f"AND updated_at >= ? AND (claim_until IS NULL OR claim_until <= ?) "
                f"AND {_ITEM_HELD} ORDER BY created_at, op_key LIMIT ?",
                [system, iso(since), at, holder, at, limit],
            ).fetchall()
        return [op_from_json(r[0]) for r in rows]

    def outbox_waiting(self, op_keys: Collection[str], holder: str, now: datetime) -> set[str]:
        """Of these writes, those still to send that no other worker holds a live claim on
        (those it sends): nobody has them in hand, though another worker's claim on their
        item may keep them from being claimed now."""
        at = iso(now)
        out: set[str] = set()
        for chunk in _chunks(list(dict.fromkeys(op_keys)), 500):
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self.db.execute(
                    f"SELECT op_key FROM outbox WHERE op_key IN ({marks}) "
                    "AND status NOT IN ('done', 'superseded') AND NOT (claimed_by IS NOT NULL "
                    "AND claimed_by != ? AND claim_until > ?)",
                    [*chunk, holder, at],
                ).fetchall()
            out |= {str(r[0]) for r in rows}
        return out

    def mark_taken(self, pairs: Iterable[Pair], run_id: int) -> None:
        """These items are taken up by run `run_id` (its plan read their marks): the marks
        become its own, to clear when it settles (`clear_taken`)."""
        with self._lock, self.db.atomic():
            self.db.executemany(
                "INSERT INTO dirty_items (system, item_id, run_id) VALUES (?, ?, ?) "
                "ON CONFLICT (system, item_id) DO UPDATE SET run_id = excluded.run_id",
                [(s, i, run_id) for s, i in pairs],
            )

    def clear_taken(self, run_id: int, keep: Collection[Pair] = ()) -> int:
        """Clear the marks run `run_id` took up, but those of `keep` (writes still pending):
        an item another run marked since is that run's to settle. Returns how many."""
        with self._lock, self.db.atomic():
            if keep:
                self.db.executemany(
                    "UPDATE dirty_items SET run_id = NULL "
                    "WHERE system = ? AND item_id = ? AND run_id = ?",
                    [(s, i, run_id) for s, i in keep],
                )
            cur = self.db.execute("DELETE FROM dirty_items WHERE run_id = ?", [run_id])
            return int(cur.rowcount)
