"""The state store: the one place that speaks SQL.

`Store` (protocol.py) is what the engine, apply, status, report, doctor and demo may ask of a
state; `rows.py` holds the named rows it hands out. `sqlite/` implements it on one SQLite file.
Nothing outside this package imports sqlite3 or sqlite_utils or writes SQL
(tests/test_store_seam.py checks). This package may import `connectors` (the row types and
errors), `sync.settings`/`sync.engine.connect`/`sync.systems` (identity.py) and nothing else
of `sync`: May import no other package.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.errors import StateError
from sync.store.protocol import Store
from sync.store.rows import (
    AuditRow,
    FindingLike,
    FindingRow,
    FindingsDelta,
    InboxRow,
    InboxState,
    ItemChange,
    OutboxRow,
    RecordLike,
    RecordRow,
    Run,
    Status,
    StoredComment,
)
from sync.store.sqlite import SqliteStore, lock_path
from sync.store.sqlite import run_lock as _file_lock
from sync.store.sqlite import state_error as _sqlite_error
from sync.store.sqlite.constants import peek_constants

if TYPE_CHECKING:
    from sync.settings import Settings

__all__ = [
    "STORE_ERRORS",
    "AuditRow",
    "FindingLike",
    "FindingRow",
    "FindingsDelta",
    "InboxRow",
    "InboxState",
    "ItemChange",
    "OutboxRow",
    "RecordLike",
    "RecordRow",
    "Run",
    "Status",
    "Store",
    "StoredComment",
    "copy_of",
    "discard",
    "memory_store",
    "open_store",
    "read_constants",
    "run_lock",
    "shared",
    "store_error",
]

# What a backend raises when its storage fails underneath a verb; `store_error` turns one
# into the StateError a person reads.
STORE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error,)


def _path(where: Settings | str | Path) -> str:
    return str(where) if isinstance(where, str | Path) else str(where.state.path)


_SHARED: dict[str, SqliteStore] = {}


def open_store(where: Settings | str | Path) -> Store:
    """Open (creating and migrating as needed) the state the settings (or path) name; while
    it is `shared`, that open store itself (closing it then does nothing)."""
    path = _path(where)
    return _SHARED.get(os.path.realpath(path)) or SqliteStore.open(path)


@contextmanager
def shared(where: Settings | str | Path) -> Iterator[Store]:
    """Open the state and, for the block, hand this one open store to every `open_store` of
    the same state in this process, then close it. `handoff serve` takes webhooks into the
    inbox on the connection its syncs use: SQLite then never sees two writers at once (a
    second writer can fail a sync's read-then-write with "database is locked")."""
    path = _path(where)
    key = os.path.realpath(path)
    store = SqliteStore.open(path)
    store.pinned = True
    _SHARED[key] = store
    try:
        yield store
    finally:
        _SHARED.pop(key, None)
        store.pinned = False
        store.close()


def copy_of(where: Settings | str | Path) -> Store:
    """A private in-memory copy of the state: plan or read with the real history while the
    state itself stays byte-for-byte unchanged. A missing state gives an empty one."""
    return SqliteStore.copy_of(_path(where))


def discard(where: Settings | str | Path) -> None:
    """Delete a state and whatever the backend keeps beside it: the next open starts empty."""
    SqliteStore.discard(_path(where))


def memory_store() -> Store:
    """A fresh empty state that leaves no trace (tests, benchmarks)."""
    return SqliteStore.memory()


def read_constants(where: Settings | str | Path) -> dict[str, tuple[str, datetime]]:
    """The constant answers an earlier run kept (JSON text, when asked), read before this
    run takes its lock; {} when the state cannot say."""
    return peek_constants(_path(where))


def run_lock(where: Settings | str | Path) -> AbstractContextManager[Path]:
    """Hold the one-run-at-a-time lock of this state for the block, or raise LockHeld.
    Take it before `open_store`: opening migrates."""
    return _file_lock(lock_path(_path(where)))


def store_error(exc: Exception, where: Settings | str | Path | None) -> StateError:
    """One line for a person about a storage failure (one of STORE_ERRORS)."""
    if isinstance(exc, sqlite3.Error):
        return _sqlite_error(exc, None if where is None else _path(where))
    return StateError(f"The state store failed: {exc}", internal=repr(exc))
