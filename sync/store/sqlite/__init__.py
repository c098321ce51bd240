"""The SQLite backend of `sync.store`: one file through sqlite-utils, schema migrations, a
file lock beside it. The only place (with `sync.store`) that may import sqlite3/sqlite_utils."""

from __future__ import annotations

from sync.store.sqlite.errors import READ_ONLY, state_error
from sync.store.sqlite.lock import lock_path, run_lock
from sync.store.sqlite.schema import migrations
from sync.store.sqlite.store import SqliteStore

__all__ = ["READ_ONLY", "SqliteStore", "lock_path", "migrations", "run_lock", "state_error"]
