"""The outbox of planned writes, the append-only audit log, and the comments we wrote."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from connectors.base import WriteOp, WriteResult
from connectors.errors import scrub
from sync.store.rows import AuditRow, OutboxRow, StoredComment, iso, op_from_json, parse_dt
from sync.store.sqlite.items import ItemRows
from sync.store.sqlite.replies import record_reply

__all__ = ["ECHO_GRACE", "OutboxLedger"]

# How long after our own write a newer `updated` is taken to be its echo (server clocks and
# Notion's minute rounding included).
ECHO_GRACE = timedelta(minutes=2)


class OutboxLedger(ItemRows):
    """The outbox, audit and comment verbs of `State` (a write's echo goes to the item rows)."""

    # --- our comments --------------------------------------------------------------------

    def comment_for(self, item_id: str, *, system: str | None = None) -> StoredComment | None:
        sql = (
            "SELECT system, item_id, comment_id, body, written_at, shown FROM comments "
            "WHERE item_id = ?"
        )
        params = [item_id]
        if system:
            sql += " AND system = ?"
            params.append(system)
        with self._lock:
            row = self.db.execute(sql, params).fetchone()
        if row is None:
            return None
        return StoredComment(row[0], row[1], row[2], row[3], parse_dt(row[4]), row[5] or "")

    def record_comment(
        self,
        system: str,
        item_id: str,
        comment_id: str,
        body: str,
        now: datetime,
        *,
        op_key: str = "",
    ) -> None:
        with self._lock, self.db.atomic():
            self.db.execute(
                "INSERT INTO comments (system, item_id, comment_id, body, written_at, op_key) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(system, item_id) DO UPDATE SET "
                "comment_id = excluded.comment_id, body = excluded.body, "
                "written_at = excluded.written_at, op_key = excluded.op_key, "
                "rendered = NULL, shown = NULL",
                [system, item_id, comment_id, body, iso(now), op_key],
            )

    def iter_comments(self, *, system: str | None = None) -> Iterator[StoredComment]:
        """Every comment we remember, a batch at a time."""
        last = ("", "")
        where = "(system, item_id) > (?, ?)" + (" AND system = ?" if system else "")
        while True:
            with self._lock:
                rows = self.db.execute(
                    "SELECT system, item_id, comment_id, body, written_at FROM comments "
                    f"WHERE {where} ORDER BY system, item_id LIMIT 1000",
                    [*last, *([system] if system else [])],
                ).fetchall()
            if not rows:
                return
            for r in rows:
                yield StoredComment(r[0], r[1], r[2], r[3], parse_dt(r[4]))
            last = (rows[-1][0], rows[-1][1])

    def forget_comment(self, system: str, item_id: str) -> None:
        """Our comment is gone from the item (someone deleted it): stop pointing at it."""
        with self._lock, self.db.atomic():
            self.db.execute(
                "DELETE FROM comments WHERE system = ? AND item_id = ?", [system, item_id]
            )

    def outbox_plan(self, op: WriteOp, run_id: int, now: datetime) -> bool:
        """Put `op` in the outbox as planned for this run. False: this run already did it.

        Done in an earlier run does not count: the plan comes from fresh reads, so planning the
        same write again means it is needed again (someone removed the label we added).
        """
        with self._lock, self.db.atomic():
            before = self.outbox_row(op.key)
            if before and before.status == "done" and before.run_id == run_id:
                return False
            at = iso(now)
            self.db.execute(
                "INSERT INTO outbox (op_key, run_id, system, scope, item_id, item_key, action, "
                "op, status, attempts, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'planned', 0, ?, ?) "
                "ON CONFLICT(op_key) DO UPDATE SET run_id = excluded.run_id, "
                "status = 'planned', error = NULL, updated_at = excluded.updated_at",
                [
                    op.key,
                    run_id,
                    op.system,
                    op.scope,
                    op.item_id,
                    op.item_key,
                    op.action,
                    json.dumps(asdict(op)),
                    at,
                    at,
                ],
            )
        return True

    def outbox_row(self, op_key: str) -> OutboxRow | None:
        with self._lock:
            row = self.db.execute(
                "SELECT op, run_id, status, attempts, error, target FROM outbox WHERE op_key = ?",
                [op_key],
            ).fetchone()
        return _outbox_from_row(row) if row else None

    def outbox(self, *, status: str | None = None, system: str | None = None) -> list[OutboxRow]:
        sql = "SELECT op, run_id, status, attempts, error, target FROM outbox WHERE 1 = 1"
        params: list[Any] = []
        if status:
            sql += " AND status = ?"
            params.append(status)
        if system:
            sql += " AND system = ?"
            params.append(system)
        with self._lock:
            rows = self.db.execute(sql + " ORDER BY created_at, op_key", params).fetchall()
        return [_outbox_from_row(r) for r in rows]

    def outbox_sending(self, op: WriteOp, run_id: int, now: datetime) -> None:
        """About to send: the audit says so first, so a write that reached the server before
        the process died is still accounted for."""
        at = iso(now)
        with self._lock, self.db.atomic():
            self.db.execute(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1, "
                "updated_at = ? WHERE op_key = ?",
                [at, op.key],
            )
            self._audit(op, run_id, at, "sending", "", "")
            self._quiet(op, now)

    def outbox_done(
        self,
        op: WriteOp,
        run_id: int,
        now: datetime,
        *,
        target: str = "",
        result: str = "done",
        detail: str = "",
        sent: WriteOp | None = None,
        answer: WriteResult | None = None,
    ) -> None:
        """In one transaction: the op is done, the audit says so, and what we wrote is
        remembered (our comment's id and exact body; the item as the write left it: its
        labels, the fields and edit time the `answer` showed, so its echo is no change).

        `sent` is the write actually sent when it differs from the plan (a create that became
        an update of the comment found by its marker); the audit records that one.
        """
        at = iso(now)
        with self._lock, self.db.atomic():
            self.db.execute(
                "UPDATE outbox SET status = 'done', error = NULL, target = ?, updated_at = ? "
                "WHERE op_key = ?",
                [target, at, op.key],
            )
            self._audit(sent or op, run_id, at, result, target, detail, op_key=op.key)
            self._quiet(op, now)
            if op.action in ("comment.create", "comment.update") and target:
                self.record_comment(op.system, op.item_id, target, op.body, now, op_key=op.key)
            if op.action in ("reply.create", "reply.done"):
                record_reply(self.db, op, target, at)
            if answer is not None or op.action in ("label.add", "label.remove"):
                self._echo(op, answer)

    def _quiet(self, op: WriteOp, now: datetime) -> None:
        # Our write moves the item's `updated`; until a little after it, that is not activity.
        self.db.execute(
            "UPDATE items SET quiet_until = ? WHERE system = ? AND id = ?",
            [iso(now + ECHO_GRACE), op.system, op.item_id],
        )

    def outbox_failed(
        self,
        op: WriteOp,
        run_id: int,
        now: datetime,
        error: str,
        *,
        attempted: bool = True,
    ) -> None:
        """Record a failed op (or one not attempted because its system stopped)."""
        at = iso(now)
        error = scrub(error)
        with self._lock, self.db.atomic():
            self.db.execute(
                "UPDATE outbox SET status = ?, error = ?, updated_at = ? WHERE op_key = ?",
                ["failed" if attempted else "planned", error, at, op.key],
            )
            self._audit(op, run_id, at, "failed" if attempted else "not-attempted", "", error)

    def outbox_supersede(self, systems: Collection[str], run_id: int, now: datetime) -> int:
        """Unfinished ops of earlier runs: this run's plan, made from fresh reads, replaces
        them, so they leave the queue."""
        with self._lock, self.db.atomic():
            marks = ",".join("?" * len(systems))
            cur = self.db.execute(
                "UPDATE outbox SET status = 'superseded', updated_at = ? "
                f"WHERE status != 'done' AND run_id != ? AND system IN ({marks})",
                [iso(now), run_id, *systems],
            )
            return cur.rowcount

    def _audit(
        self,
        op: WriteOp,
        run_id: int,
        at: str,
        result: str,
        target: str,
        detail: str,
        *,
        op_key: str = "",
    ) -> None:
        self.db.execute(
            "INSERT INTO audit (at, run_id, op_key, system, scope, item_id, item_key, action, "
            "name, result, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                at,
                run_id,
                op_key or op.key,
                op.system,
                op.scope,
                op.item_id,
                op.item_key,
                op.action,
                op.name,
                result,
                target,
                scrub(detail),
            ],
        )

    def item_labels(self, system: str, item_id: str) -> tuple[str, ...] | None:
        with self._lock:
            row = self.db.execute(
                "SELECT labels FROM items WHERE system = ? AND id = ?", [system, item_id]
            ).fetchone()
        return tuple(json.loads(row[0] or "[]")) if row else None

    def audit(self, *, op_key: str | None = None, run_id: int | None = None) -> list[AuditRow]:
        sql = (
            "SELECT at, run_id, op_key, system, item_id, item_key, action, result, target, "
            "detail FROM audit WHERE 1 = 1"
        )
        params: list[Any] = []
        if op_key:
            sql += " AND op_key = ?"
            params.append(op_key)
        if run_id is not None:
            sql += " AND run_id = ?"
            params.append(run_id)
        with self._lock:
            rows = self.db.execute(sql + " ORDER BY id", params).fetchall()
        return [
            AuditRow(
                datetime.fromisoformat(r[0]),
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                r[7],
                r[8] or "",
                r[9] or "",
            )
            for r in rows
        ]


def _outbox_from_row(row: tuple[Any, ...]) -> OutboxRow:
    return OutboxRow(op_from_json(row[0]), row[1], row[2], row[3], row[4] or "", row[5] or "")
