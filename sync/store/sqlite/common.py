"""The store's verbs on either backend: what the last runs saw, wrote and found.

Schema (migration set "handoff_sync"; every time is UTC ISO text, every JSON column is text):

    items          (system, id) PK: scope, key, url, kind, title, updated, fields JSON,
                   labels JSON, comment_id, comment_text, state present|deleted|forbidden,
                   first_seen, last_seen, run_id
    comments       (system, item_id) PK: comment_id, body (exactly what we last wrote),
                   written_at, op_key. How a later run finds its own comment without a request.
    records        key PK: title, stage, item_ids JSON, first_seen, last_seen
    findings       id PK ("record:code:subject"): record_key, code, severity, subject, message,
                   system, item_id, item_key, url, notify JSON, escalation, first_seen,
                   last_seen, resolved_at (NULL while open), run_id
    finding_counts (run_id, code) PK: open, opened, resolved — one row per code per run, for
                   the trend of open findings and the loops closed
    cursors        scope PK: updated, item_id, advanced_at, run_id
    outbox         op_key PK: run_id, system, scope, item_id, item_key, action, op JSON,
                   status planned|sending|done|failed|superseded, attempts, error, target,
                   created_at, updated_at
    audit          id PK (append-only: triggers refuse UPDATE and DELETE): at, run_id, op_key,
                   system, scope, item_id, item_key, action, name, result, target, detail
    runs           id PK: started, ended (NULL: still running or interrupted), dry_run,
                   counts JSON, outcome

Threads: one connection and one re-entrant lock around every verb. Writes are small and the
APIs are the bottleneck, so serialising them costs nothing and keeps each verb's transaction
whole.

The same verbs run on SQLite (`SqliteStore`) and PostgreSQL (`sync.store.postgres`): each
backend opens a connection that speaks `sync.store.sql.Sql` and hands it to `SqlStore`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from connectors.base import Cursor
from sync.store.migrate import migrate
from sync.store.rows import RecordLike, iso
from sync.store.sql import Sql
from sync.store.sqlite.adopt import Adopt
from sync.store.sqlite.batches import OutboxBatches
from sync.store.sqlite.claims import Claims
from sync.store.sqlite.constants import ConstantFacts
from sync.store.sqlite.conventions import Conventions
from sync.store.sqlite.dump import Dump
from sync.store.sqlite.extracts import Extracts
from sync.store.sqlite.history import FindingsHistory
from sync.store.sqlite.inbox_claims import InboxClaims
from sync.store.sqlite.links import Links
from sync.store.sqlite.notices import Notices
from sync.store.sqlite.open_findings import OpenFindings
from sync.store.sqlite.reads import Reads
from sync.store.sqlite.replies import StepReplies
from sync.store.sqlite.said import SaidRows
from sync.store.sqlite.schema import migrations
from sync.store.sqlite.unconfirmed import Unconfirmed
from sync.store.sqlite.workers import Workers

__all__ = ["SqlStore"]


class SqlStore(
    FindingsHistory,
    OutboxBatches,
    ConstantFacts,
    Reads,
    Links,
    Extracts,
    Unconfirmed,
    OpenFindings,
    InboxClaims,
    SaidRows,
    Conventions,
    StepReplies,
    Dump,
    Notices,
    Claims,
    Workers,
    Adopt,
):
    """Every verb of `sync.store.Store` on one open `Sql` connection."""

    def __init__(self, db: Sql, *, path: str = ":memory:", migrate: bool = True) -> None:
        self.db = db
        self.path = path
        self._lock = threading.RLock()
        self.pinned = False
        if migrate:
            self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            migrate(self.db, migrations, self.path)

    def close(self) -> None:
        if self.pinned:
            return  # shared by its owner for a while (see `sync.store.shared`)
        with self._lock:
            self.db.close()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- runs ----------------------------------------------------------------------------

    def start_run(self, now: datetime, *, dry_run: bool = False) -> int:
        with self._lock, self.db.atomic():
            row = self.db.execute(
                "INSERT INTO runs (started, dry_run) VALUES (?, ?) RETURNING id",
                [iso(now), int(dry_run)],
            ).fetchone()
            return int(row[0])

    def finish_run(
        self, run_id: int, now: datetime, *, outcome: str, counts: Mapping[str, Any]
    ) -> None:
        with self._lock, self.db.atomic():
            self.db.execute(
                "UPDATE runs SET ended = ?, outcome = ?, counts = ? WHERE id = ?",
                [iso(now), outcome, json.dumps(dict(counts), default=str), run_id],
            )

    # --- records -------------------------------------------------------------------------

    def upsert_records(self, records: Iterable[RecordLike], now: datetime) -> int:
        seen = iso(now)
        count = 0
        with self._lock, self.db.atomic():
            for rec in records:
                ids = sorted(f"{s.system}:{s.item_id}" for s in rec.sources)
                self.db.execute(
                    "INSERT INTO records (key, title, stage, item_ids, first_seen, last_seen) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                    "title = excluded.title, stage = excluded.stage, "
                    "item_ids = excluded.item_ids, last_seen = excluded.last_seen",
                    [rec.key, rec.title, str(rec.stage), json.dumps(ids), seen, seen],
                )
                count += 1
        return count

    def record_items(self, key: str) -> list[str] | None:
        """The "system:item_id" list of a stored record."""
        with self._lock:
            row = self.db.execute("SELECT item_ids FROM records WHERE key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else None

    # --- cursors -------------------------------------------------------------------------

    def cursor(self, scope_key: str) -> Cursor | None:
        with self._lock:
            row = self.db.execute(
                "SELECT updated, item_id FROM cursors WHERE scope = ?", [scope_key]
            ).fetchone()
        return Cursor(datetime.fromisoformat(row[0]), row[1] or "") if row else None

    def advance_cursor(
        self, scope_key: str, cursor: Cursor, *, now: datetime, run_id: int | None = None
    ) -> Cursor:
        """Move a scope's cursor forward, never back; call only once the scope's pull and plan
        are stored. Returns the cursor now in force."""
        with self._lock, self.db.atomic():
            old = self.cursor(scope_key)
            if old and (old.updated, old.item_id) >= (cursor.updated, cursor.item_id):
                return old
            self.db.execute(
                "INSERT INTO cursors (scope, updated, item_id, advanced_at, run_id) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(scope) DO UPDATE SET "
                "updated = excluded.updated, item_id = excluded.item_id, "
                "advanced_at = excluded.advanced_at, run_id = excluded.run_id",
                [scope_key, iso(cursor.updated), cursor.item_id, iso(now), run_id],
            )
            return cursor

    def mark_read(self, scope_key: str, at: datetime) -> None:
        """Remember that a scope's pull came back whole at `at`."""
        with self._lock, self.db.atomic():
            self.db.execute(
                "INSERT INTO scope_reads (scope, read_at) VALUES (?, ?) "
                "ON CONFLICT(scope) DO UPDATE SET read_at = excluded.read_at",
                [scope_key, iso(at)],
            )

    def last_reads(self) -> dict[str, datetime]:
        """When each scope was last read whole (scopes never read are absent)."""
        with self._lock:
            rows = self.db.execute("SELECT scope, read_at FROM scope_reads").fetchall()
        return {scope: datetime.fromisoformat(at) for scope, at in rows}

    def reset_cursor(self, scope_key: str | None = None) -> None:
        """Forget one scope's cursor (or all): the next pull is a full one."""
        with self._lock, self.db.atomic():
            if scope_key is None:
                self.db.execute("DELETE FROM cursors")
            else:
                self.db.execute("DELETE FROM cursors WHERE scope = ?", [scope_key])
