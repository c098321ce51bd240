"""One runner for the store's migrations on either backend.

The steps are the one ordered list `sync.store.sqlite.schema.migrations` (sqlite-utils'
`Migrations`, whose table `_sqlite_migrations` and its rows stay as sqlite-utils writes them:
a state file written before still opens, and sqlite-utils can still read one written now).
Each step runs on the state's `Sql` with its record, in one transaction; on PostgreSQL the
whole run holds a transaction-scoped advisory lock, so two processes starting at once apply
each step once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlite_utils.migrations import Migrations

from connectors.errors import StateError
from sync.store.sql import Sql

__all__ = ["TABLE", "applied", "migrate", "pending"]

TABLE = Migrations.migrations_table


def applied(db: Sql, migrations: Migrations) -> list[str]:
    """The names of the steps applied to this state, in the order applied ([]: none)."""
    if TABLE not in db.state_tables():
        return []
    rows = db.execute(
        f"SELECT name FROM {TABLE} WHERE migration_set = ? ORDER BY id", [migrations.name]
    ).fetchall()
    return [r[0] for r in rows]


def pending(db: Sql, migrations: Migrations) -> list[str]:
    done = set(applied(db, migrations))
    return [m.name for m in migrations._migrations if m.name not in done]


def migrate(db: Sql, migrations: Migrations, where: str) -> None:
    """Apply every step this state lacks, or refuse a state a newer version wrote."""
    with db.atomic():
        db.serialize_migrations()
        done = applied(db, migrations)
        known = {m.name for m in migrations._migrations}
        newer = [name for name in done if name not in known]
        if newer:
            raise StateError(
                f"The state {where} was written by a newer handoff-sync "
                f"(schema {', '.join(newer)}). Upgrade handoff-sync, or point it at "
                "another state."
            )
        todo = [m for m in migrations._migrations if m.name not in set(done)]
        if not todo:
            return
        _ensure_table(db, migrations)
        for step in todo:
            with db.atomic():
                step.fn(db)  # type: ignore[arg-type]
                db.execute(
                    f"INSERT INTO {TABLE} (migration_set, name, applied_at) VALUES (?, ?, ?)",
                    [migrations.name, step.name, str(datetime.now(UTC))],
                )


def _ensure_table(db: Any, migrations: Migrations) -> None:
    if hasattr(db, "table_names"):  # sqlite-utils: its own check (and upgrade) of the table
        migrations.ensure_migrations_table(db)
    elif TABLE not in db.state_tables():
        db.execute(
            f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, migration_set TEXT, name TEXT, "
            "applied_at TEXT)"
        )
        db.execute(
            f"CREATE UNIQUE INDEX idx_{TABLE}_migration_set_name ON {TABLE} "
            "(migration_set, name)"
        )
