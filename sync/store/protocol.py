"""The operations the engine, apply, status, report, doctor and demo need of a store.

Named by what they mean, not by tables: a backend (SQLite today, PostgreSQL in issue 15) may
lay its data out as it likes as long as these verbs keep their promises. The run lock is not
a verb of an open store: it must be held before the store is opened (opening migrates), so
each backend provides it beside `open_store` (see `sync.store.run_lock`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from connectors.base import Cursor, SourceItem, WriteOp, WriteResult
from sync.store.rows import (
    AuditRow,
    FindingLike,
    FindingRow,
    FindingsDelta,
    OutboxRow,
    RecordLike,
    RecordRow,
    Run,
    Status,
    StoredComment,
)

__all__ = ["Store"]


class Store(Protocol):
    """One state: what the last runs saw, wrote and found. Every time is an aware datetime."""

    path: str  # where the state lives, for messages

    # --- lifetime ------------------------------------------------------------------------
    def close(self) -> None: ...
    def __enter__(self) -> Store: ...
    def __exit__(self, *exc: object) -> None: ...

    # --- runs ----------------------------------------------------------------------------
    def start_run(self, now: datetime, *, dry_run: bool = False) -> int: ...
    def finish_run(
        self, run_id: int, now: datetime, *, outcome: str, counts: Mapping[str, Any]
    ) -> None: ...
    def runs(self, limit: int = 10, *, dry_runs: bool = True) -> list[Run]: ...
    def status(self, *, runs: int = 5) -> Status: ...

    # --- items ---------------------------------------------------------------------------
    def upsert_items(
        self, items: Iterable[SourceItem], run_id: int, now: datetime
    ) -> set[tuple[str, str]]: ...
    def mark_item(self, system: str, item_id: str, state: str) -> None: ...
    def set_activity(
        self, system: str, item_id: str, activity: datetime, *, echo: datetime
    ) -> None: ...
    def iter_items(
        self, *, system: str | None = None, scope: str | None = None
    ) -> Iterator[SourceItem]: ...
    def item(self, system: str, item_id: str) -> SourceItem | None: ...
    def item_labels(self, system: str, item_id: str) -> tuple[str, ...] | None: ...

    # --- records -------------------------------------------------------------------------
    def upsert_records(self, records: Iterable[RecordLike], now: datetime) -> int: ...
    def record_items(self, key: str) -> list[str] | None: ...
    def records(self) -> list[RecordRow]: ...

    # --- finding history -----------------------------------------------------------------
    def record_findings(
        self,
        run_id: int,
        findings: Iterable[FindingLike],
        now: datetime,
        *,
        records: Collection[str] | None = None,
    ) -> FindingsDelta: ...
    def opened_at(self) -> dict[str, datetime]: ...
    def open_findings(self) -> dict[str, int]: ...
    def trend(self, runs: int = 10) -> list[tuple[int, datetime, dict[str, int]]]: ...
    def closed_since(self, since: datetime) -> dict[str, int]: ...
    def findings(
        self, *, open_only: bool = False, resolved_since: datetime | None = None
    ) -> list[FindingRow]: ...

    # --- cursors and scope reads ---------------------------------------------------------
    def cursor(self, scope_key: str) -> Cursor | None: ...
    def advance_cursor(
        self, scope_key: str, cursor: Cursor, *, now: datetime, run_id: int | None = None
    ) -> Cursor: ...
    def reset_cursor(self, scope_key: str | None = None) -> None: ...
    def mark_read(self, scope_key: str, at: datetime) -> None: ...
    def last_reads(self) -> dict[str, datetime]: ...

    # --- our comments --------------------------------------------------------------------
    def comment_for(self, item_id: str, *, system: str | None = None) -> StoredComment | None: ...
    def record_comment(
        self,
        system: str,
        item_id: str,
        comment_id: str,
        body: str,
        now: datetime,
        *,
        op_key: str = "",
    ) -> None: ...
    def iter_comments(self, *, system: str | None = None) -> Iterator[StoredComment]: ...
    def forget_comment(self, system: str, item_id: str) -> None: ...

    # --- outbox and audit ----------------------------------------------------------------
    def outbox_plan(self, op: WriteOp, run_id: int, now: datetime) -> bool: ...
    def outbox_plan_many(
        self, ops: Sequence[WriteOp], run_id: int, now: datetime
    ) -> set[str]: ...
    def outbox_row(self, op_key: str) -> OutboxRow | None: ...
    def outbox(
        self, *, status: str | None = None, system: str | None = None
    ) -> list[OutboxRow]: ...
    def outbox_sending(self, op: WriteOp, run_id: int, now: datetime) -> None: ...
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
    ) -> None: ...
    def outbox_failed(
        self,
        op: WriteOp,
        run_id: int,
        now: datetime,
        error: str,
        *,
        attempted: bool = True,
        later: bool = False,
    ) -> None: ...
    def outbox_not_attempted(
        self, system: str, run_id: int, now: datetime, error: str
    ) -> int: ...
    def outbox_flush(self) -> None: ...
    def outbox_supersede(self, systems: Collection[str], run_id: int, now: datetime) -> int: ...
    def audit(self, *, op_key: str | None = None, run_id: int | None = None) -> list[AuditRow]: ...

    # --- constant answers kept between runs (JSON text, when asked) ------------------------
    def constants(self) -> dict[str, tuple[str, datetime]]: ...
    def put_constants(self, entries: Mapping[str, tuple[str, datetime]]) -> None: ...

    # --- served config (a cached fact about the state itself) ----------------------------
    def served_config(self) -> str | None: ...
    def serve_config(self, text: str) -> None: ...

    # --- other small facts about the state (e.g. which scopes lost access, since when) ----
    def fact(self, key: str) -> str | None: ...
    def remember_fact(self, key: str, value: str) -> None: ...
