"""Outbox bookkeeping in batches: a run's plan in one transaction per chunk, settled writes
recorded a batch at a time, and the ops a stopped system never reached in one statement.

Only one row must be durable before a request goes out: the op's "sending" row (and its audit
line), so a write that reached the server before the process died is accounted for. Its "done"
or "failed" row can wait for the next transaction: a crash before that leaves the op
"sending", which the next run's plan replaces and its marker lookup settles (nothing doubled,
nothing lost), exactly as a crash between the request and its answer does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from connectors.base import WriteOp, WriteResult
from connectors.errors import scrub
from sync.store.rows import iso
from sync.store.sqlite.outbox import OutboxLedger

__all__ = ["SETTLE_BATCH", "OutboxBatches"]

SETTLE_BATCH = 100  # settled ops kept back at most before they are written
_PLAN_CHUNK = 500  # ops planned per transaction (and per IN list of the "done" check)

_PLAN_SQL = (
    "INSERT INTO outbox (op_key, run_id, system, scope, item_id, item_key, action, op, "
    "status, attempts, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'planned', 0, ?, ?) "
    "ON CONFLICT(op_key) DO UPDATE SET run_id = excluded.run_id, "
    "status = 'planned', error = NULL, updated_at = excluded.updated_at"
)


class OutboxBatches(OutboxLedger):
    """The batched outbox verbs of `State`; the one-op verbs stay for callers that want them."""

    def _later(self) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
        pending: list[tuple[str, tuple[Any, ...], dict[str, Any]]]
        pending = self.__dict__.setdefault("_settle_later", [])
        return pending

    def outbox_plan_many(
        self, ops: Sequence[WriteOp], run_id: int, now: datetime, *, since: datetime | None = None
    ) -> set[str]:
        """Put every op in the outbox as planned for this run, a chunk per transaction;
        returns the keys this run has already finished (they are left as they are). `since`
        (several workers): also those any run finished at or after it, this run's start: this
        plan came from reads older than that write."""
        at = iso(now)
        after = iso(since) if since is not None else "~"  # "~": after every ISO time
        finished: set[str] = set()
        for start in range(0, len(ops), _PLAN_CHUNK):
            chunk = ops[start : start + _PLAN_CHUNK]
            marks = ",".join("?" * len(chunk))
            with self._lock, self.db.atomic():
                rows = self.db.execute(
                    "SELECT op_key FROM outbox WHERE status = 'done' "
                    f"AND (run_id = ? OR updated_at >= ?) AND op_key IN ({marks})",
                    [run_id, after, *(op.key for op in chunk)],
                ).fetchall()
                done = {r[0] for r in rows}
                finished |= done
                self.db.executemany(
                    _PLAN_SQL,
                    [
                        (op.key, run_id, op.system, op.scope, op.item_id, op.item_key,
                         op.action, json.dumps(asdict(op)), at, at)
                        for op in chunk
                        if op.key not in done
                    ],
                )
        return finished

    def outbox_sending(self, op: WriteOp, run_id: int, now: datetime) -> None:
        # The one transaction that must happen before the request: it also settles the ops
        # finished since the last one, so a run costs about one transaction per write.
        with self._lock, self.db.atomic():
            self._settle()
            super().outbox_sending(op, run_id, now)

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
        later: bool = False,
    ) -> None:
        """As `OutboxLedger.outbox_done`; `later`: recorded with the next transaction (at most
        SETTLE_BATCH ops on), see the module's note on why that is safe."""
        kw = {"target": target, "result": result, "detail": detail, "sent": sent, "answer": answer}
        self._keep("done", (op, run_id, now), kw, later)

    def outbox_failed(
        self,
        op: WriteOp,
        run_id: int,
        now: datetime,
        error: str,
        *,
        attempted: bool = True,
        later: bool = False,
    ) -> None:
        """A failed op; one not attempted keeps its outbox row "planned" with the reason and
        adds no audit row (the audit holds the writes that were attempted)."""
        self._keep("failed", (op, run_id, now, error), {"attempted": attempted}, later)

    def outbox_not_attempted(self, system: str, run_id: int, now: datetime, error: str) -> int:
        """Every op of `system` this run planned but never reached: one statement."""
        with self._lock, self.db.atomic():
            self._settle()
            cur = self.db.execute(
                "UPDATE outbox SET error = ?, updated_at = ? "
                "WHERE run_id = ? AND system = ? AND status = 'planned'",
                [scrub(error), iso(now), run_id, system],
            )
            return cur.rowcount

    def outbox_flush(self) -> None:
        """Write the settled ops kept back so far."""
        with self._lock, self.db.atomic():
            self._settle()

    def _keep(self, kind: str, args: tuple[Any, ...], kw: dict[str, Any], later: bool) -> None:
        with self._lock:
            pending = self._later()
            pending.append((kind, args, kw))
            if later and len(pending) < SETTLE_BATCH:
                return
            with self.db.atomic():
                self._settle()

    def _settle(self) -> None:
        """Inside the caller's transaction: write what was kept back, in order."""
        pending = self._later()
        todo, pending[:] = list(pending), []
        for kind, args, kw in todo:
            if kind == "done":
                OutboxLedger.outbox_done(self, *args, **kw)
            elif kw["attempted"]:
                OutboxLedger.outbox_failed(self, *args, **kw)
            else:
                op, _run_id, now, error = args
                self.db.execute(
                    "UPDATE outbox SET status = 'planned', error = ?, updated_at = ? "
                    "WHERE op_key = ?",
                    [scrub(error), iso(now), op.key],
                )
