"""The webhook inbox of the SQLite store: `handoff serve` keeps each delivery here before it
answers, once per delivery id, and its worker marks them done after the sync they caused.

Table `inbox` (migration 0010): n PK, system, delivery (UNIQUE with system), event, subject,
body (the raw bytes, as signed), received_at, done_at (NULL: still to sync), run_id;
claimed_by, claim_until (migration 0045: which `serve` replica syncs it, see inbox_claims).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sync.store.rows import InboxRow, InboxState, iso, parse_dt
from sync.store.sqlite.schema import StateBase

__all__ = ["FREE", "Inbox"]

# A row is free for `holder` when no one else holds a claim on it that still runs (0045).
FREE = "(claim_until IS NULL OR claim_until <= ? OR claimed_by = ?)"


class Inbox(StateBase):
    """Webhook deliveries in, syncs done out."""

    def inbox_put(
        self,
        system: str,
        delivery: str,
        body: bytes,
        now: datetime,
        *,
        event: str = "",
        subject: str = "",
    ) -> bool:
        """Store one delivery durably; False when this delivery id is already stored."""
        with self._lock, self.db.atomic():
            row = self.db.execute(
                "INSERT INTO inbox (system, delivery, event, subject, body, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (system, delivery) DO NOTHING"
                " RETURNING n",
                [system, delivery, event, subject, body, iso(now)],
            ).fetchone()
        return row is not None

    def inbox_pending(
        self, limit: int = 10_000, *, holder: str | None = None, now: datetime | None = None
    ) -> list[InboxRow]:
        """Deliveries not yet synced, oldest first; with `holder`, only those free for it at
        `now`: not claimed by another `serve` replica whose claim still runs (inbox_claims)."""
        if holder is None:
            return self._inbox("WHERE done_at IS NULL", [limit])
        at = iso(now or datetime.now(UTC))
        return self._inbox(f"WHERE done_at IS NULL AND {FREE}", [at, holder, limit])

    def inbox_since(self, n: int = 0, limit: int = 10_000) -> list[InboxRow]:
        """Every delivery stored after the `n`th, synced or not, oldest first."""
        return self._inbox("WHERE n > ?", [n, limit])

    def _inbox(self, where: str, params: list[object]) -> list[InboxRow]:
        with self._lock:
            rows = self.db.execute(
                "SELECT n, system, delivery, event, subject, received_at, done_at, run_id "
                f"FROM inbox {where} ORDER BY n LIMIT ?",
                params,
            ).fetchall()
        return [
            InboxRow(
                n, system, delivery, event or "", subject or "", datetime.fromisoformat(at),
                parse_dt(done), run_id,
            )
            for n, system, delivery, event, subject, at, done, run_id in rows
        ]

    def inbox_done(self, ns: Collection[int], now: datetime, *, run_id: int | None) -> None:
        """These deliveries were taken care of by the sync `run_id` that ended `now`."""
        with self._lock, self.db.atomic():
            self.db.executemany(
                "UPDATE inbox SET done_at = ?, run_id = ? WHERE n = ? AND done_at IS NULL",
                [(iso(now), run_id, n) for n in ns],
            )

    def inbox_prune(self, before: datetime) -> int:
        """Forget deliveries synced before `before` (their ids no longer deduplicate: the
        systems stop retrying within hours); returns how many went."""
        with self._lock, self.db.atomic():
            cur = self.db.execute(
                "DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < ?", [iso(before)]
            )
            return int(cur.rowcount or 0)

    def inbox_body(self, n: int) -> bytes | None:
        """A stored delivery's raw body, as it was signed."""
        with self._lock:
            row = self.db.execute("SELECT body FROM inbox WHERE n = ?", [n]).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def inbox_state(self) -> InboxState:
        with self._lock:
            pending, oldest, received = self.db.execute(
                "SELECT count(done_at IS NULL OR NULL), min(CASE WHEN done_at IS NULL "
                "THEN received_at END), count(*) FROM inbox"
            ).fetchone()
            last = self.db.execute(
                "SELECT done_at, received_at FROM inbox WHERE done_at IS NOT NULL "
                "ORDER BY done_at DESC, n DESC LIMIT 1"
            ).fetchone()
        done_at, lag = None, None
        if last:
            done_at = datetime.fromisoformat(last[0])
            lag = (done_at - datetime.fromisoformat(last[1])).total_seconds()
        return InboxState(int(pending or 0), parse_dt(oldest), done_at, lag, int(received or 0))
