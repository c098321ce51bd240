"""Several workers on one state: a lease per scope and a claim per outbox write.

A lease row (scope, holder, expires) says which worker pulls a scope; a worker takes the scopes
whose lease is free, expired or its own, and skips the others (a worker that died holds its
scopes only until they expire). An outbox row's claim (claimed_by, claim_until) says which worker
sends it: on PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`, so two claimants at once
never wait for each other and never take the same row; SQLite has one writer at a time anyway
(the comment marker below is SQL comment to it). A claim left by a worker that died expires;
the next claimant finds the row "sending" and the existing crash recovery (the marker lookup
of `sync.engine.apply`, `unconfirmed_creates`) settles what the dead worker did.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sync.store.rows import iso
from sync.store.sqlite.schema import StateBase

__all__ = ["CLAIM_LOCK", "SKIP_LOCKED", "Claims"]

# SQLite reads a comment; `sync.store.sql.to_postgres` makes it the row lock that skips rows
# another transaction holds.
SKIP_LOCKED = "/* FOR UPDATE SKIP LOCKED */"
# SQLite selects 1; on PostgreSQL a transaction-scoped advisory lock (sync.store.sql).
CLAIM_LOCK = "SELECT 1 /* XACT LOCK claims */"

_CHUNK = 500


class Claims(StateBase):
    """The lease and claim verbs of `State`."""

    def lease_scopes(
        self, scopes: Sequence[str], holder: str, now: datetime, ttl: timedelta
    ) -> list[str]:
        """Take or renew the lease of each scope that is free, expired or `holder`'s own, until
        `now + ttl`; returns the scopes `holder` now holds, in the order asked."""
        at, until = iso(now), iso(now + ttl)
        with self._lock, self.db.atomic():
            for scope in scopes:
                # The conflict's WHERE reads the row as it is after any concurrent taker
                # committed: of two workers at once, one takes it and the other does not.
                self.db.execute(
                    "INSERT INTO scope_leases (scope, holder, expires) VALUES (?, ?, ?) "
                    "ON CONFLICT(scope) DO UPDATE SET holder = excluded.holder, "
                    "expires = excluded.expires WHERE scope_leases.expires <= ? "
                    "OR scope_leases.holder = excluded.holder",
                    [scope, holder, until, at],
                )
        held = set(self.leases(holder))
        return [s for s in scopes if s in held]

    def leases(self, holder: str) -> list[str]:
        """The scopes `holder` holds (expired or not: `lease_scopes` decides that)."""
        with self._lock:
            rows = self.db.execute(
                "SELECT scope FROM scope_leases WHERE holder = ? ORDER BY scope", [holder]
            ).fetchall()
        return [str(r[0]) for r in rows]

    def release_scopes(self, holder: str) -> int:
        """Give back every lease of `holder` (its run ended); returns how many."""
        with self._lock, self.db.atomic():
            cur = self.db.execute("DELETE FROM scope_leases WHERE holder = ?", [holder])
            return int(cur.rowcount)

    def outbox_claim(
        self, op_keys: Collection[str], holder: str, now: datetime, ttl: timedelta
    ) -> set[str]:
        """Claim, until `now + ttl`, the ones of these outbox rows still to send (not done, not
        superseded) and not claimed by another worker whose claim still runs, nor on an item
        another worker holds a live claim on (two creates on one item at once would both miss
        the marker and post twice); returns the keys `holder` now holds. A row another
        transaction is claiming right now is skipped, not waited for."""
        at, until = iso(now), iso(now + ttl)
        keys = list(dict.fromkeys(op_keys))
        got: set[str] = set()
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            with self._lock, self.db.atomic():
                # Claimants one at a time (PostgreSQL: an advisory lock until this transaction
                # ends): the item test below then reads every claim committed before.
                self.db.execute(CLAIM_LOCK)
                rows = self.db.execute(
                    f"SELECT op_key FROM outbox o WHERE op_key IN ({marks}) "
                    "AND status NOT IN ('done', 'superseded') "
                    "AND (claim_until IS NULL OR claim_until <= ? OR claimed_by = ?) "
                    "AND NOT EXISTS (SELECT 1 FROM outbox x WHERE x.system = o.system "
                    "AND x.item_id = o.item_id AND x.claimed_by != ? AND x.claim_until > ?) "
                    f"{SKIP_LOCKED}",
                    [*chunk, at, holder, holder, at],
                ).fetchall()
                mine = [str(r[0]) for r in rows]
                if mine:
                    self.db.execute(
                        "UPDATE outbox SET claimed_by = ?, claim_until = ? "
                        f"WHERE op_key IN ({','.join('?' * len(mine))})",
                        [holder, until, *mine],
                    )
                got.update(mine)
        return got

    def outbox_unclaim(self, holder: str) -> int:
        """Give back every claim of `holder` (its apply ended); returns how many."""
        with self._lock, self.db.atomic():
            cur = self.db.execute(
                "UPDATE outbox SET claimed_by = NULL, claim_until = NULL WHERE claimed_by = ?",
                [holder],
            )
            return int(cur.rowcount)
