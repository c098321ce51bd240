"""The SQLite store: one file that remembers what the last runs saw, wrote and found.

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

Threads: one connection opened with check_same_thread=False and one re-entrant lock around
every verb. Writes are small and the APIs are the bottleneck, so serialising them costs
nothing and keeps each verb's transaction whole.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from connectors.base import Cursor
from connectors.errors import StateError
from sync.store.rows import RecordLike, iso
from sync.store.sqlite.batches import OutboxBatches
from sync.store.sqlite.constants import ConstantFacts
from sync.store.sqlite.conventions import Conventions
from sync.store.sqlite.errors import state_error
from sync.store.sqlite.extracts import Extracts
from sync.store.sqlite.history import FindingsHistory
from sync.store.sqlite.inbox import Inbox
from sync.store.sqlite.links import Links
from sync.store.sqlite.open_findings import OpenFindings
from sync.store.sqlite.reads import Reads
from sync.store.sqlite.said import SaidRows
from sync.store.sqlite.schema import migrations
from sync.store.sqlite.unconfirmed import Unconfirmed

__all__ = ["SqliteStore"]

log = logging.getLogger(__name__)


def _open_read_only(where: Path) -> sqlite3.Connection:
    """A read-only connection to the file; on a read-only folder (no room for SQLite's shared
    memory file) the file is opened as immutable, which nobody can change there anyway."""
    uri = where.resolve().as_uri()
    con = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=5.0)
    try:
        con.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return con
    except sqlite3.OperationalError:
        con.close()
        if os.access(where.parent, os.W_OK):
            raise
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)


class SqliteStore(
    FindingsHistory,
    OutboxBatches,
    ConstantFacts,
    Reads,
    Links,
    Extracts,
    Unconfirmed,
    OpenFindings,
    Inbox,
    SaidRows,
    Conventions,
):
    """The SQLite store; open with `SqliteStore.open(path)`, `.memory()` or `.copy_of(path)`."""

    def __init__(self, db: Database, *, path: str = ":memory:") -> None:
        self.db = db
        self.path = path
        self._lock = threading.RLock()
        self.pinned = False
        self._migrate()

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path) -> SqliteStore:
        """Open (creating and migrating as needed) the state file at `path`."""
        where = str(path)
        if where != ":memory:" and not Path(where).parent.is_dir():
            raise StateError(
                f"The folder of the state file {where} does not exist. Create it, or set "
                "[state] path in the config to a writable place."
            )
        try:
            conn = sqlite3.connect(where, check_same_thread=False, timeout=30.0)
            db = Database(conn)
            db.execute("PRAGMA busy_timeout = 30000")
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.enable_wal()  # readers (`handoff status`) never wait for a sync
            return cls(db, path=where)
        except sqlite3.Error as exc:
            raise state_error(exc, where) from exc

    @classmethod
    def memory(cls) -> SqliteStore:
        """A fresh in-memory state (tests, or a run that must leave no trace)."""
        return cls(Database(sqlite3.connect(":memory:", check_same_thread=False)))

    @staticmethod
    def discard(path: str | Path) -> None:
        """Delete the state file and SQLite's journal files beside it (not the lock)."""
        where = Path(path)
        for name in (where.name, f"{where.name}-wal", f"{where.name}-shm"):
            (where.parent / name).unlink(missing_ok=True)

    @classmethod
    def copy_of(cls, path: str | Path) -> SqliteStore:
        """An in-memory copy of the file: a dry run plans with the real history and the file
        stays byte-for-byte unchanged. A missing file gives an empty state."""
        where = Path(path)
        mem = sqlite3.connect(":memory:", check_same_thread=False)
        if where.exists():
            try:
                src = _open_read_only(where)
                try:
                    # A first read fails after the timeout if another program holds the
                    # file; backup() itself would retry a locked file for ever.
                    src.execute("SELECT count(*) FROM sqlite_master").fetchone()
                    src.backup(mem)
                finally:
                    src.close()
            except sqlite3.Error as exc:
                raise state_error(exc, where) from exc
        return cls(Database(mem), path=str(where))

    def _migrate(self) -> None:
        try:
            with self._lock:
                known = {m.name for m in migrations._migrations}
                newer = [m.name for m in migrations.applied(self.db) if m.name not in known]
                if newer:
                    raise StateError(
                        f"The state file {self.path} was written by a newer handoff-sync "
                        f"(schema {', '.join(newer)}). Upgrade handoff-sync, or point it at "
                        "another state file."
                    )
                migrations.apply(self.db)
        except sqlite3.Error as exc:
            raise state_error(exc, self.path) from exc

    def close(self) -> None:
        if self.pinned:
            return  # shared by its owner for a while (see `sync.store.shared`)
        with self._lock:
            self.db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- runs ----------------------------------------------------------------------------

    def start_run(self, now: datetime, *, dry_run: bool = False) -> int:
        with self._lock, self.db.atomic():
            cur = self.db.execute(
                "INSERT INTO runs (started, dry_run) VALUES (?, ?)", [iso(now), int(dry_run)]
            )
            return int(cur.lastrowid or 0)

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
