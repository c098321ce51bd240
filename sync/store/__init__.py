"""The state store: the one place that speaks SQL.

`Store` (protocol.py) is what the engine, apply, status, report, doctor and demo may ask of a
state; `rows.py` holds the named rows it hands out. `sqlite/` implements it on one SQLite file, and
its verbs (`sqlite.common.SqlStore`) run unchanged on PostgreSQL (`postgres/`, chosen by
`[state] url`): one SQL text, translated where the dialects differ (`sql.py`), one list of
migrations applied by one runner (`migrate.py`).
Nothing outside this package imports sqlite3, sqlite_utils or psycopg or writes SQL
(tests/test_store_seam.py checks). This package may import `connectors` (the row types and
errors), `sync.settings`/`sync.engine.connect`/`sync.systems` (identity.py) and nothing else
of `sync`: May import no other package.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Union

from connectors.errors import StateError
from sync.store.inspect import StateInfo, inspect_postgres, inspect_sqlite
from sync.store.postgres.errors import is_postgres, pg_error, redact
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
    StoredReply,
)
from sync.store.sqlite import SqliteStore, lock_path, migrations
from sync.store.sqlite import run_lock as _file_lock
from sync.store.sqlite import state_error as _sqlite_error
from sync.store.sqlite.common import SqlStore
from sync.store.sqlite.constants import peek_constants

if TYPE_CHECKING:
    from sync.settings import Settings
    from sync.store.postgres.store import PostgresStore

__all__ = [
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
    "StateInfo",
    "Status",
    "Store",
    "StoredComment",
    "StoredReply",
    "copy_of",
    "discard",
    "exists",
    "inspect_state",
    "memory_store",
    "open_store",
    "plan_lock",
    "read_constants",
    "reader",
    "run_lock",
    "schema_steps",
    "shared",
    "shared_state",
    "store_error",
    "store_errors",
    "where_is",
]


def store_errors() -> tuple[type[Exception], ...]:
    """What a backend raises when its storage fails underneath a verb (`except store_errors()`);
    `store_error` turns one into the StateError a person reads. psycopg is imported only by the
    PostgreSQL backend, when a state there is opened (a SQLite user never loads it): until
    then no psycopg error can be raised, so its class is named only once it is loaded."""
    psycopg = sys.modules.get("psycopg")
    return (sqlite3.Error, psycopg.Error) if psycopg else (sqlite3.Error,)


def _pg_store() -> type[PostgresStore]:
    """The PostgreSQL backend, imported (with psycopg) on first use."""
    from sync.store.postgres.store import PostgresStore

    return PostgresStore

Where = Union["Settings", str, Path]


def _path(where: Where) -> str:
    """The state's place: a SQLite file's path, or a PostgreSQL URL (`[state] url`)."""
    if isinstance(where, str | Path):
        return str(where)
    return where.state.url or str(where.state.path)


def where_is(where: Where) -> str:
    """The state's place as a person may read it (a database URL without its password)."""
    url = _pg(where)
    return redact(url) if url else _path(where)


def _pg(where: Where) -> str | None:
    """The PostgreSQL URL when the state lives there, else None."""
    place = _path(where)
    return place if is_postgres(place) else None


_SHARED: dict[str, Store] = {}


def _key(where: Where) -> str:
    return _pg(where) or os.path.realpath(_path(where))


def _open(where: Where) -> SqlStore:
    url = _pg(where)
    return _pg_store().open(url) if url else SqliteStore.open(_path(where))


def open_store(where: Where) -> Store:
    """Open (creating and migrating as needed) the state the settings (or path, or URL) name;
    while it is `shared`, that open store itself (closing it then does nothing)."""
    return _SHARED.get(_key(where)) or _open(where)


@contextmanager
def shared(where: Where) -> Iterator[Store]:
    """Open the state and, for the block, hand this one open store to every `open_store` of
    the same state in this process, then close it. `handoff serve` takes webhooks into the
    inbox on the connection its syncs use: SQLite then never sees two writers at once (a
    second writer can fail a sync's read-then-write with "database is locked")."""
    key = _key(where)
    store = _open(where)
    store.pinned = True
    _SHARED[key] = store
    try:
        yield store
    finally:
        _SHARED.pop(key, None)
        store.pinned = False
        store.close()


def copy_of(where: Where) -> Store:
    """A private copy of the state: plan or read with the real history while the state
    itself stays unchanged (SQLite: byte for byte). A missing state gives an empty one."""
    url = _pg(where)
    return _pg_store().copy_of(url) if url else SqliteStore.copy_of(_path(where))


def reader(where: Where) -> Store:
    """The state to read only (`status`, `report`): on SQLite a private copy, as `copy_of`;
    on PostgreSQL the state itself in a read-only session (copying a shared database to read
    it would cost as much as the state is large)."""
    url = _pg(where)
    return _pg_store().reader(url) if url else SqliteStore.copy_of(_path(where))


def exists(where: Where) -> bool:
    """Whether there is a state to read yet (a file; a database with our tables)."""
    url = _pg(where)
    if url is None:
        return Path(_path(where)).exists()
    return _pg_store().exists(url)


def inspect_state(where: Where) -> StateInfo:
    """What `handoff doctor` reports of the state: reachable, migrated, serving which config.
    Reads only."""
    url = _pg(where)
    return inspect_postgres(url) if url else inspect_sqlite(_path(where))


def discard(where: Where) -> None:
    """Delete a state and whatever the backend keeps beside it: the next open starts empty."""
    url = _pg(where)
    if url:
        _pg_store().discard(url)
    else:
        SqliteStore.discard(_path(where))


def schema_steps() -> list[str]:
    """The names of the migrations this version applies, in order (both backends)."""
    return [m.name for m in migrations._migrations]


def memory_store() -> Store:
    """A fresh empty state that leaves no trace (tests, benchmarks)."""
    return SqliteStore.memory()


def read_constants(where: Where) -> dict[str, tuple[str, datetime]]:
    """The constant answers an earlier run kept (JSON text, when asked), read before this
    run takes its lock; {} when the state cannot say."""
    url = _pg(where)
    if url is None:
        return peek_constants(_path(where))
    return _pg_store().peek_constants(url)


def run_lock(where: Where) -> AbstractContextManager[object]:
    """Hold the one-run-at-a-time lock of this state for the block, or raise LockHeld.
    Take it before `open_store`: opening migrates. SQLite: a file lock beside the file;
    PostgreSQL: an advisory lock of the database's schema."""
    url = _pg(where)
    if url is None:
        return _file_lock(lock_path(_path(where)))
    from sync.store.postgres.lock import run_lock as pg_lock

    return pg_lock(url)


def shared_state(where: Where) -> bool:
    """Whether several workers may share this state at once (PostgreSQL): a run then takes
    no run lock, leases its scopes, claims its writes and plans under `plan_lock`."""
    return _pg(where) is not None


def plan_lock(where: Where, wait: float) -> AbstractContextManager[object]:
    """Hold the plan lock of a shared state for the block, waiting up to `wait` seconds for
    another worker's plan (then StateError); nothing on SQLite (its run lock is whole)."""
    url = _pg(where)
    if url is None:
        return nullcontext()
    from sync.store.postgres.lock import plan_lock as pg_plan_lock

    return pg_plan_lock(url, wait)


def store_error(exc: Exception, where: Where | None) -> StateError:
    """One line for a person about a storage failure (one of `store_errors()`)."""
    psycopg = sys.modules.get("psycopg")
    if psycopg and isinstance(exc, psycopg.Error):
        return pg_error(exc, _path(where) if where is not None else "(the [state] url)")
    if isinstance(exc, sqlite3.Error):
        return _sqlite_error(exc, None if where is None else _path(where))
    return StateError(f"The state store failed: {exc}", internal=repr(exc))
