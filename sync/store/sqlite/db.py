"""The SQLite side of `sync.store.sql.Sql`: sqlite-utils' Database, which runs the store's SQL
as written, plus the two calls the PostgreSQL side also answers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlite_utils import Database

__all__ = ["SqliteDb"]


class SqliteDb(Database):
    """sqlite-utils' Database (migrations still get all of it) with the calls of `Sql`."""

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        return self.conn.executemany(sql, rows)

    def state_tables(self) -> set[str]:
        return set(self.table_names())

    def serialize_migrations(self) -> None:
        """Nothing to do: opening a file state is done under its run lock or in memory."""

    def renumber(self) -> None:
        """Nothing to do: SQLite numbers a rowid key after the largest one there."""
