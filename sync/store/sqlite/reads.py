"""What the report, `handoff status` and the served-config check read from the SQLite store."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from connectors.base import Cursor
from sync.store.rows import FindingRow, RecordRow, Run, Status, iso, parse_dt
from sync.store.sqlite.schema import StateBase

__all__ = ["Reads"]

_FINDING_COLS = (
    "record_key, code, severity, subject, message, system, item_key, url, notify, "
    "escalation, first_seen, resolved_at"
)
_SERVED = "served_config"  # the meta key holding which config this state serves


class Reads(StateBase):
    """The read-side verbs of `SqliteStore`, each returning named rows."""

    def runs(self, limit: int = 10, *, dry_runs: bool = True) -> list[Run]:
        """The latest runs, newest first; `dry_runs=False` leaves dry runs out."""
        where = "" if dry_runs else "WHERE dry_run = 0 "
        with self._lock:
            rows = self.db.execute(
                "SELECT id, started, ended, dry_run, counts, outcome FROM runs "
                f"{where}ORDER BY id DESC LIMIT ?",
                [limit],
            ).fetchall()
        return [
            Run(
                r[0],
                parse_dt(r[1]) or datetime.min,
                parse_dt(r[2]),
                bool(r[3]),
                json.loads(r[4] or "{}"),
                r[5] or "",
            )
            for r in rows
        ]

    def status(self, *, runs: int = 5) -> Status:
        """Everything `handoff status` shows, read in one go."""
        with self._lock:
            cursors = {
                scope: Cursor(datetime.fromisoformat(updated), item_id or "")
                for scope, updated, item_id in self.db.execute(
                    "SELECT scope, updated, item_id FROM cursors ORDER BY scope"
                ).fetchall()
            }
            queued: dict[str, dict[str, int]] = {}
            for system, status, n in self.db.execute(
                "SELECT system, status, count(*) FROM outbox "
                "WHERE status NOT IN ('done', 'superseded') GROUP BY system, status"
            ).fetchall():
                queued.setdefault(system, {})[status] = n
            items = dict(
                self.db.execute(
                    "SELECT system, count(*) FROM items WHERE state = 'present' GROUP BY system"
                ).fetchall()
            )
            open_findings = dict(
                self.db.execute(
                    "SELECT code, count(*) FROM findings WHERE resolved_at IS NULL GROUP BY code"
                ).fetchall()
            )
            return Status(self.runs(runs), open_findings, cursors, queued, items)

    def records(self) -> list[RecordRow]:
        """Every stored handoff record, in the order they were first seen, then by key (the
        same on both backends: PostgreSQL moves a changed row, a table scan has no order)."""
        with self._lock:
            rows = self.db.execute(
                "SELECT key, title, item_ids FROM records "
                "ORDER BY first_seen, key COLLATE BINARY"
            ).fetchall()
        return [RecordRow(k, title or "", tuple(json.loads(ids or "[]"))) for k, title, ids in rows]

    def findings(
        self, *, open_only: bool = False, resolved_since: datetime | None = None
    ) -> list[FindingRow]:
        """Stored findings by when their episode began, then by record, code and subject: all
        of them, only the open ones, or only those resolved at or after `resolved_since`."""
        where, params = "", []
        if open_only:
            where = " WHERE resolved_at IS NULL"
        elif resolved_since is not None:
            where, params = " WHERE resolved_at >= ?", [iso(resolved_since)]
        with self._lock:
            rows = self.db.execute(
                f"SELECT {_FINDING_COLS} FROM findings{where} ORDER BY first_seen, "
                "record_key COLLATE BINARY, code, subject COLLATE BINARY, id",
                params,
            )
            return [_finding_from_row(r) for r in rows.fetchall()]

    def served_config(self) -> str | None:
        """The config this state serves, as `serve_config` stored it (None: not yet)."""
        return self.fact(_SERVED)

    def serve_config(self, text: str) -> None:
        """Remember which config this state serves from now on."""
        self.remember_fact(_SERVED, text)

    def fact(self, key: str) -> str | None:
        """A small fact about the state itself (JSON text by convention), or None."""
        with self._lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def remember_fact(self, key: str, value: str) -> None:
        with self._lock, self.db.atomic():
            self.db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )


def _finding_from_row(row: tuple[Any, ...]) -> FindingRow:
    record, code, severity, subject, message, system, item_key, url, notify = row[:9]
    escalation, first_seen, resolved_at = row[9:]
    return FindingRow(
        record_key=record,
        code=code,
        severity=severity or "",
        subject=subject or "",
        message=message or "",
        system=system or "",
        item_key=item_key or "",
        url=url or "",
        notify=tuple(str(k) for k in json.loads(notify or "[]")),
        escalation=int(escalation or 0),
        first_seen=datetime.fromisoformat(first_seen),
        resolved_at=parse_dt(resolved_at),
    )
