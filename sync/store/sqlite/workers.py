"""What a worker of several on one state asks beyond the leases and claims themselves
(sync.store.sqlite.claims): its heartbeat renews its claims, it sees which scopes other
workers hold, and its plan replaces only the pending writes of the items it writes to.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sync.store.rows import iso
from sync.store.sqlite.links import Pair, _chunks
from sync.store.sqlite.schema import StateBase

__all__ = ["Workers"]


class Workers(StateBase):
    """The `renew_claims`, `live_leases` and `outbox_supersede_items` verbs of `State`."""

    def renew_claims(self, holder: str, now: datetime, ttl: timedelta) -> int:
        """Every claim of `holder` runs on until `now + ttl` (its heartbeat); returns how
        many. A claim that already ran out and was taken by another is not `holder`'s."""
        with self._lock, self.db.atomic():
            cur = self.db.execute(
                "UPDATE outbox SET claim_until = ? WHERE claimed_by = ?",
                [iso(now + ttl), holder],
            )
            return int(cur.rowcount)

    def live_leases(self, now: datetime) -> dict[str, str]:
        """Scope -> the worker whose lease on it still runs at `now`."""
        with self._lock:
            rows = self.db.execute(
                "SELECT scope, holder FROM scope_leases WHERE expires > ?", [iso(now)]
            ).fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def outbox_supersede_items(
        self, items: Collection[Pair], run_id: int, now: datetime, holder: str
    ) -> int:
        """Unfinished ops of earlier runs on these (system, item id): this plan, made from
        fresher reads, replaces them; an op another worker holds a live claim on is that
        worker's to finish (it may be on the wire now) and stays. Returns how many left."""
        at = iso(now)
        count = 0
        for chunk in _chunks(list(dict.fromkeys(items)), 200):
            values = "SELECT column1, column2 FROM (VALUES " + ",".join("(?, ?)" for _ in chunk)
            with self._lock, self.db.atomic():
                cur = self.db.execute(
                    "UPDATE outbox SET status = 'superseded', updated_at = ? "
                    "WHERE status NOT IN ('done', 'superseded') AND run_id != ? "
                    f"AND (system, item_id) IN ({values})) "
                    "AND NOT (claimed_by IS NOT NULL AND claimed_by != ? "
                    "AND claim_until > ?)",
                    [at, run_id, *(x for p in chunk for x in p), holder, at],
                )
                count += int(cur.rowcount)
        return count
