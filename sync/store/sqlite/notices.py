"""Ladder steps owed to people, kept until delivered (issue 17: escalations that notify).

Table `notices` (migration 0050): key PK ("person|finding|step"), person, finding_id, step,
role, reached_at, deliver_at, line, told_at (NULL: still owed), op_key (the delivery that
carried it). A notice is computed when its record is evaluated and kept here, so a step that
falls in someone's quiet hours is still delivered later without the record at hand.

Delivery is at most once: `notify_sending` marks the op as sending (with its audit row) and
its notices as told in ONE transaction, before anything leaves. A crash after it sends
nothing again; the receiver gets a delivery id (`X-Handoff-Delivery`, SMTP Message-ID) to
drop a duplicate should one ever reach it by another path.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from connectors.base import WriteOp
from mapping.notify import Notice
from sync.store.rows import iso, parse_dt
from sync.store.sqlite.outbox import OutboxLedger

__all__ = ["Notices"]

_CHUNK = 400  # keys per query, under SQLite's variable limit
_COLS = "person, finding_id, step, role, reached_at, deliver_at, line"


class Notices(OutboxLedger):
    """The notice verbs of the store."""

    def notices_owe(self, notices: Iterable[Notice]) -> int:
        """Keep the notices not known yet (one already owed or told stays as it is: each
        step is told once). Returns how many were new."""
        new = 0
        with self._lock, self.db.atomic():
            for n in notices:
                cur = self.db.execute(
                    f"INSERT INTO notices (key, {_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (key) DO NOTHING",
                    [
                        n.key,
                        n.person,
                        n.finding_id,
                        n.step,
                        n.role,
                        iso(n.reached_at),
                        iso(n.deliver_at),
                        n.line,
                    ],
                )
                new += max(cur.rowcount, 0)
        return new

    def notices_owed(self) -> list[Notice]:
        """Every notice not told yet, oldest step first."""
        with self._lock:
            rows = self.db.execute(
                f"SELECT {_COLS} FROM notices WHERE told_at IS NULL ORDER BY deliver_at, key"
            ).fetchall()
        return [
            Notice(r[0], r[1], int(r[2]), r[3] or "", _dt(r[4]), _dt(r[5]), r[6] or "")
            for r in rows
        ]

    def notices_told(self) -> dict[str, str]:
        """Notice key -> the op that carried it, for every notice told."""
        with self._lock:
            rows = self.db.execute(
                "SELECT key, op_key FROM notices WHERE told_at IS NOT NULL ORDER BY key"
            ).fetchall()
        return {r[0]: r[1] or "" for r in rows}

    def notices_forget(self, keys: Collection[str]) -> int:
        """Drop owed notices (their finding closed before they were told); told ones stay,
        so the same step is never told twice."""
        gone = 0
        wanted = sorted(set(keys))
        with self._lock, self.db.atomic():
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                cur = self.db.execute(
                    f"DELETE FROM notices WHERE told_at IS NULL AND key IN ({marks})", chunk
                )
                gone += max(cur.rowcount, 0)
        return gone

    def notices_untell(self, op_key: str) -> int:
        """The delivery `op_key` certainly reached nobody: its notices are owed again."""
        with self._lock, self.db.atomic():
            cur = self.db.execute(
                "UPDATE notices SET told_at = NULL, op_key = NULL WHERE op_key = ?", [op_key]
            )
            return max(cur.rowcount, 0)

    def notify_sending(
        self, op: WriteOp, keys: Collection[str], run_id: int, now: datetime
    ) -> None:
        """About to deliver `op`: in one transaction the op is sending, the audit says so,
        and its notices are told (see the module's note on at most once)."""
        at = iso(now)
        with self._lock, self.db.atomic():
            self.db.execute(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1, "
                "updated_at = ? WHERE op_key = ?",
                [at, op.key],
            )
            self._audit(op, run_id, at, "sending", "", "")
            wanted = sorted(set(keys))
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                self.db.execute(
                    "UPDATE notices SET told_at = ?, op_key = ? "
                    f"WHERE told_at IS NULL AND key IN ({marks})",
                    [at, op.key, *chunk],
                )


def _dt(text: str) -> datetime:
    at = parse_dt(text)
    assert at is not None  # NOT NULL columns
    return at
