"""What `handoff doctor` may learn of a state without changing it: can it be reached, which
migrations it has and lacks, and which config it serves. Reads only (a SQLite file read only,
a PostgreSQL connection that runs SELECTs)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sync.store.migrate import applied, pending
from sync.store.postgres.errors import pg_error, redact
from sync.store.sql import Sql
from sync.store.sqlite.db import SqliteDb
from sync.store.sqlite.errors import state_error
from sync.store.sqlite.schema import migrations

__all__ = ["StateInfo", "inspect_postgres", "inspect_sqlite"]


@dataclass(frozen=True)
class StateInfo:
    kind: str  # "SQLite" | "PostgreSQL"
    where: str  # a path, or a URL without its password
    reachable: bool = True
    error: str = ""  # why not, for a person
    applied: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    newer: list[str] = field(default_factory=list)  # steps a newer handoff-sync applied
    served: str | None = None  # the served-config JSON, None: not yet


def _read(db: Sql, kind: str, where: str) -> StateInfo:
    done = applied(db, migrations)
    known = {m.name for m in migrations._migrations}
    served = None
    if "meta" in db.state_tables():
        row = db.execute("SELECT value FROM meta WHERE key = ?", ["served_config"]).fetchone()
        served = row[0] if row else None
    return StateInfo(
        kind, where, applied=done, pending=pending(db, migrations),
        newer=[n for n in done if n not in known], served=served,
    )  # fmt: skip


def inspect_postgres(url: str) -> StateInfo:
    import psycopg  # only for a state in PostgreSQL (a SQLite user never loads the driver)

    from sync.store.postgres.db import PgDb, connect

    where = redact(url)
    try:
        with connect(url) as conn:
            return _read(PgDb(conn), "PostgreSQL", where)
    except psycopg.Error as exc:
        return StateInfo("PostgreSQL", where, reachable=False, error=pg_error(exc, url).message)


def inspect_sqlite(path: str) -> StateInfo:
    if not Path(path).is_file():
        return StateInfo("SQLite", path, pending=[m.name for m in migrations._migrations])
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        try:
            return _read(SqliteDb(conn), "SQLite", path)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return StateInfo("SQLite", path, reachable=False, error=state_error(exc, path).message)
