"""A PostgreSQL connection that runs the store's SQL as SQLite would (see `sync.store.sql`).

Autocommit, so a read never leaves a transaction open between verbs; `atomic()` opens one (a
savepoint when nested), as sqlite-utils' does on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from sync.store.sql import to_postgres

__all__ = ["PgDb", "connect"]

CONNECT_TIMEOUT = 10  # seconds: an unreachable server is an error, not a hang


def connect(url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
    # psycopg prepares a statement run often; PostgreSQL may then keep one generic plan made
    # while a table was nearly empty (a scan per lookup once it holds 100,000 items). A plan
    # per execution costs little next to that and follows the table's size.
    conn.execute("SET plan_cache_mode = force_custom_plan")
    return conn


class PgDb:
    """The `Sql` of a psycopg connection whose tables live in `schema`. `scratch`: a private
    copy in the session's temporary schema (a dry run's), thrown away with the connection."""

    def __init__(self, conn: psycopg.Connection[Any], *, scratch: bool = False) -> None:
        self.conn = conn
        self.scratch = scratch
        row = conn.execute("SELECT current_schema()").fetchone()
        self.schema = str(row[0]) if row and row[0] else "public"

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Any:
        *first, last = to_postgres(sql)
        if self.scratch and last.startswith("CREATE TRIGGER"):
            # The audit log's guard: a function in the temporary schema cannot be a trigger's,
            # and a copy that is thrown away needs no guard.
            return self.conn.execute("SELECT 1")
        for stmt in first:
            self.conn.execute(stmt, [])  # type: ignore[arg-type]
        return self.conn.execute(last, list(parameters or []))  # type: ignore[arg-type]

    def state_tables(self) -> set[str]:
        rows = self.conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", [self.schema]
        ).fetchall()
        return {str(r[0]) for r in rows}

    def renumber(self) -> None:
        """Each identity column numbers on after the largest key its table holds (rows came in
        with their own keys: an import, a dry run's copy)."""
        for table, column in self.conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND is_identity = 'YES'",
            [self.schema],
        ).fetchall():
            name = f'"{self.schema}"."{table}"'
            self.conn.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, %s), "  # type: ignore[arg-type]
                f'COALESCE((SELECT max("{column}") FROM {name}), 0) + 1, false)',
                [name, column],
            )

    def serialize_migrations(self) -> None:
        """Inside the migration's transaction: wait for any other process migrating this
        schema (two replicas starting at once apply each step once)."""
        self.conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"migrate:{self.schema}"])

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        (stmt,) = to_postgres(sql)
        rows = [list(r) for r in rows]
        with self.conn.cursor() as cur:
            if rows:
                cur.executemany(stmt, rows)  # type: ignore[arg-type]
            return cur

    @contextmanager
    def atomic(self) -> Iterator[PgDb]:
        with self.conn.transaction():
            yield self

    def close(self) -> None:
        self.conn.close()
