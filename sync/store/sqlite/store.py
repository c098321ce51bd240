"""The SQLite store: one file (through sqlite-utils) that remembers what the last runs saw,
wrote and found. The verbs are `SqlStore`'s (common.py documents the tables); this module
opens the file, a memory state or a private copy of the file.

Threads: one connection opened with check_same_thread=False and one re-entrant lock around
every verb. Writes are small and the APIs are the bottleneck, so serialising them costs
nothing and keeps each verb's transaction whole.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from connectors.errors import StateError
from sync.store.sqlite.common import SqlStore
from sync.store.sqlite.db import SqliteDb
from sync.store.sqlite.errors import state_error

__all__ = ["SqliteStore"]



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


class SqliteStore(SqlStore):
    """The SQLite store; open with `SqliteStore.open(path)`, `.memory()` or `.copy_of(path)`."""

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
            db = SqliteDb(conn)
            db.execute("PRAGMA busy_timeout = 30000")
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.enable_wal()  # readers (`handoff status`) never wait for a sync
            return cls(db, path=where)
        except sqlite3.Error as exc:
            raise state_error(exc, where) from exc

    @classmethod
    def memory(cls) -> SqliteStore:
        """A fresh in-memory state (tests, or a run that must leave no trace)."""
        return cls(SqliteDb(sqlite3.connect(":memory:", check_same_thread=False)))

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
        return cls(SqliteDb(mem), path=str(where))

    def _migrate(self) -> None:
        try:
            super()._migrate()
        except sqlite3.Error as exc:
            raise state_error(exc, self.path) from exc
