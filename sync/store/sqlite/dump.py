"""Every row of every table of a state, out and in: `handoff state export` / `import` move a
team between SQLite and PostgreSQL with its whole history (runs, findings, outbox, audit...).

Rows go out as (table, {column: value}); bytes travel as {"$bytes": base64}. Only a state with
no rows takes rows in (a merge of two histories would mix their runs and findings), in one
transaction; keys numbered by the backend keep their numbers, and PostgreSQL's numbering then
goes on after them.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from typing import Any

from connectors.errors import StateError
from sync.store.migrate import TABLE as MIGRATIONS
from sync.store.migrate import applied
from sync.store.sqlite.schema import StateBase, migrations

__all__ = ["Dump", "Row"]

Row = tuple[str, dict[str, Any]]  # (table, row)
_STREAM = 2000
# Parents before children is not needed (no foreign keys); a fixed order keeps files diffable.
_ORDER = ("runs", "items", "item_nodes", "item_links", "records", "findings", "finding_counts",
          "cursors", "scope_reads", "comments", "outbox", "audit", "meta", "inbox", "said",
          "dirty_items")  # fmt: skip


def _tables(present: set[str]) -> list[str]:
    rest = sorted(present - set(_ORDER) - {MIGRATIONS})
    return [t for t in _ORDER if t in present] + rest


def _out(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    return value


def _in(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$bytes"}:
        return base64.b64decode(value["$bytes"])
    return value


class Dump(StateBase):
    """The export and import verbs of the store."""

    def schema_version(self) -> list[str]:
        """The migrations applied to this state, in order."""
        with self._lock:
            return applied(self.db, migrations)

    def dump_rows(self) -> Iterator[Row]:
        """Every row of every table but the migrations' own (see `schema_version`)."""
        with self._lock:
            tables = _tables(self.db.state_tables())
        for table in tables:
            with self._lock:
                cur = self.db.execute(f'SELECT * FROM "{table}"')
                names = [d[0] for d in cur.description]
                rows = cur.fetchall()
            for row in rows:
                yield table, {n: _out(v) for n, v in zip(names, row, strict=True)}

    def load_rows(self, rows: Iterable[Row]) -> dict[str, int]:
        """Take every row into this empty state; how many per table."""
        counts: dict[str, int] = {}
        with self._lock, self.db.atomic():
            tables = _tables(self.db.state_tables())
            for table in tables:
                if self.db.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone():
                    raise StateError(
                        f"The state {self.path} already holds {table}: import into an empty "
                        "state (a new database, or a [state] path that does not exist yet)."
                    )
            batch: dict[tuple[str, tuple[str, ...]], list[list[Any]]] = {}
            for table, row in rows:
                if table not in tables:
                    raise StateError(f"The export holds a table this state has not: {table}.")
                key = (table, tuple(row))
                batch.setdefault(key, []).append([_in(v) for v in row.values()])
                counts[table] = counts.get(table, 0) + 1
                if len(batch[key]) >= _STREAM:
                    self._insert(*key, batch.pop(key))
            for key, values in batch.items():
                self._insert(*key, values)
            self.db.renumber()
        return counts

    def _insert(self, table: str, columns: tuple[str, ...], values: list[list[Any]]) -> None:
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        self.db.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', values)
