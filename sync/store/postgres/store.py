"""The PostgreSQL store: the same verbs as the SQLite one (`SqlStore`), on a server database
named by `[state] url`. Tables live in the connection's current schema (`?options=-csearch_path=x`
in the URL puts a team in a schema of its own).

A dry run plans on `copy_of`: the state's tables copied into the session's temporary schema,
which PostgreSQL drops with the connection. Nothing is written to the state, and no row of it
is locked while the dry run reads the systems (a transaction held open and rolled back at the
end would hold the locks of every row it touched, and a real sync would wait for it).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

import psycopg

from sync.store.migrate import pending
from sync.store.postgres.db import PgDb, connect
from sync.store.postgres.errors import pg_error, redact
from sync.store.sqlite.common import SqlStore
from sync.store.sqlite.constants import CONSTANTS_SQL, parse_constants
from sync.store.sqlite.schema import migrations

__all__ = ["PostgresStore", "schema_tables"]


@lru_cache(maxsize=1)
def schema_tables() -> tuple[str, ...]:
    """The tables the migrations make (the one schema source, read off a memory state)."""
    from sync.store.sqlite.store import SqliteStore

    store = SqliteStore.memory()
    try:
        return tuple(sorted(store.db.state_tables()))
    finally:
        store.close()


class PostgresStore(SqlStore):
    """Open with `PostgresStore.open(url)` or `.copy_of(url)`."""

    url: str

    @classmethod
    def open(cls, url: str) -> PostgresStore:
        """Open (creating and migrating as needed) the state in the database at `url`."""
        try:
            db = PgDb(connect(url))
        except psycopg.Error as exc:
            raise pg_error(exc, url) from exc
        return cls._on(db, url)

    @classmethod
    def _on(cls, db: PgDb, url: str) -> PostgresStore:
        try:
            store = cls.__new__(cls)
            store.url = url
            SqlStore.__init__(store, db, path=redact(url))
            return store
        except psycopg.Error as exc:
            db.close()
            raise pg_error(exc, url) from exc

    @classmethod
    def copy_of(cls, url: str) -> PostgresStore:
        """A private copy of the state in this session's temporary schema: a dry run (or a
        report) reads the real history, and nothing it does reaches the state."""
        try:
            conn = connect(url)
            home = PgDb(conn)
            ours = [t for t in schema_tables() if t in home.state_tables()]
            with conn.transaction():
                # The session's temporary schema exists from its first object on; it is where
                # the copy's tables (and those migrations make) go.
                conn.execute("CREATE TEMP SEQUENCE handoff_scratch")
                conn.execute("SET search_path = pg_temp")
                for table in ours:
                    _copy_table(conn, home.schema, table)
                copy = PgDb(conn, scratch=True)
                copy.renumber()  # the copy's numbering goes on after the rows copied
            return cls._on(copy, url)
        except psycopg.Error as exc:
            raise pg_error(exc, url) from exc

    @classmethod
    def reader(cls, url: str) -> PostgresStore:
        """The state itself in a read-only session (`status`, `report`): no copy to make, and
        any write is refused by the server. A state that still lacks migrations is read
        through `copy_of` instead (migrating is a write)."""
        try:
            conn = connect(url)
            db = PgDb(conn)
            if pending(db, migrations):
                conn.close()
                return cls.copy_of(url)
            conn.execute("SET default_transaction_read_only = on")
            store = cls.__new__(cls)
            store.url = url
            # The verbs' own setup without `_migrate`: nothing is left to apply.
            SqlStore.__init__(store, db, path=redact(url), migrate=False)
            return store
        except psycopg.Error as exc:
            raise pg_error(exc, url) from exc

    @staticmethod
    def peek_constants(url: str) -> dict[str, tuple[str, datetime]]:
        """The constant answers kept in the database, read only; {} when it cannot say."""
        try:
            with connect(url) as conn:
                db = PgDb(conn)
                if "meta" not in db.state_tables():
                    return {}
                return parse_constants(db.execute(CONSTANTS_SQL).fetchall())
        except psycopg.Error:
            return {}

    @staticmethod
    def exists(url: str) -> bool:
        """Whether the database holds a state yet (read only)."""
        try:
            with connect(url) as conn:
                return "runs" in PgDb(conn).state_tables()
        except psycopg.Error as exc:
            raise pg_error(exc, url) from exc

    @staticmethod
    def discard(url: str) -> None:
        """Drop the state's tables (only those the migrations make): the next open starts
        empty."""
        try:
            with connect(url) as conn:
                db = PgDb(conn)
                present = db.state_tables()
                with conn.transaction():
                    for table in schema_tables():
                        if table in present:
                            conn.execute(f'DROP TABLE "{db.schema}"."{table}" CASCADE')  # type: ignore[arg-type]
                    conn.execute(  # the audit log's guards (sync.store.sql._pg_trigger)
                        f'DROP FUNCTION IF EXISTS "{db.schema}".audit_no_update_refuse(), '  # type: ignore[arg-type]
                        f'"{db.schema}".audit_no_delete_refuse()'
                    )
        except psycopg.Error as exc:
            raise pg_error(exc, url) from exc


def _copy_table(conn: psycopg.Connection[Any], home: str, table: str) -> None:
    src = f'"{home}"."{table}"'
    conn.execute(f'CREATE TEMP TABLE "{table}" (LIKE {src} INCLUDING ALL)')  # type: ignore[arg-type]
    conn.execute(f'INSERT INTO pg_temp."{table}" SELECT * FROM {src}')  # type: ignore[arg-type]
