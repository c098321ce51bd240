"""`handoff serve` replicas on one state: a claim per inbox row, so each delivery is synced by
one replica.

Every replica's worker sees every delivery (the load balancer hands each to either replica, and
both store it in the one inbox). Before a sync, the worker claims the pending rows no live
claim of another replica holds (claimed_by, claim_until; migration 0045), syncs exactly those,
renews the claim while the sync runs, and marks them done. On PostgreSQL the rows are picked
`FOR UPDATE SKIP LOCKED` (as `sync.store.sqlite.claims` picks outbox rows): two replicas claiming
at once never wait for each other and never take the same row. A replica that died stops
renewing; its rows are free for another once the claim runs out. SQLite (one replica) takes
the same claims and, having no other claimant, behaves as before.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sync.store.rows import InboxRow, iso
from sync.store.sqlite.claims import SKIP_LOCKED
from sync.store.sqlite.inbox import FREE, Inbox

__all__ = ["InboxClaims"]


class InboxClaims(Inbox):
    """The inbox's claim verbs of `State`."""

    def inbox_claim(
        self,
        holder: str,
        now: datetime,
        ttl: timedelta,
        *,
        only: Collection[int] | None = None,
        limit: int = 10_000,
    ) -> list[InboxRow]:
        """Claim, until `now + ttl`, the pending deliveries free for `holder` (all of them, or
        only the ones numbered in `only`: a renewal), oldest first; returns the rows `holder`
        now holds. A row another transaction is claiming right now is skipped, not waited for."""
        at, until = iso(now), iso(now + ttl)
        where = f"done_at IS NULL AND {FREE}"
        params: list[object] = [at, holder]
        if only is not None:
            ns = list(only)[:limit]
            where += f" AND n IN ({','.join('?' * len(ns))})"
            params += ns
        # One UPDATE, the write first: SQLite then waits for the file's write lock instead
        # of failing to upgrade a read; PostgreSQL locks the rows it picks and skips the rest.
        with self._lock, self.db.atomic():
            rows = self.db.execute(
                "UPDATE inbox SET claimed_by = ?, claim_until = ? WHERE n IN ("
                f"SELECT n FROM inbox WHERE {where} ORDER BY n LIMIT ? {SKIP_LOCKED}) RETURNING n",
                [holder, until, *params, limit],
            ).fetchall()
        mine = sorted(int(r[0]) for r in rows)
        if not mine:
            return []
        return self._inbox(f"WHERE n IN ({','.join('?' * len(mine))})", [*mine, len(mine)])

    def inbox_unclaim(self, holder: str) -> int:
        """Give back every claim of `holder` on a pending delivery (its sync ended without
        marking them done, or it stops); returns how many."""
        with self._lock, self.db.atomic():
            cur = self.db.execute(
                "UPDATE inbox SET claimed_by = NULL, claim_until = NULL "
                "WHERE claimed_by = ? AND done_at IS NULL",
                [holder],
            )
            return int(cur.rowcount or 0)
