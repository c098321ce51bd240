"""Constant answers (who we are, field lists, people) kept between runs with their age, as
facts in the `meta` table under "constant:<key>"; `sync.engine.constants` decides what is
fresh. `peek_constants` reads them before a run takes its lock (connect needs them first)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from sync.store.rows import iso, parse_dt
from sync.store.sqlite.schema import StateBase

__all__ = ["CONSTANTS_SQL", "ConstantFacts", "parse_constants", "peek_constants"]

_PREFIX = "constant:"
CONSTANTS_SQL = "SELECT key, value FROM meta WHERE key LIKE 'constant:%'"
Stored = dict[str, tuple[str, datetime]]  # key -> (JSON text, when it was asked)


class ConstantFacts(StateBase):
    """The constant-answer verbs of `State`."""

    def constants(self) -> Stored:
        with self._lock:
            rows = self.db.execute(CONSTANTS_SQL).fetchall()
        return parse_constants(rows)

    def put_constants(self, entries: Mapping[str, tuple[str, datetime]]) -> None:
        """Keep fresh answers (JSON text, when asked), replacing older ones, in one go."""
        if not entries:
            return
        with self._lock, self.db.atomic():
            self.db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [
                    (_PREFIX + k, json.dumps({"at": iso(at), "value": text}))
                    for k, (text, at) in entries.items()
                ],
            )


def peek_constants(path: str) -> Stored:
    """The stored answers of the state file at `path`, read only; {} when it cannot say
    (no file yet, an older schema, a busy or damaged file: the run then asks again)."""
    if path == ":memory:" or not Path(path).is_file():
        return {}
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
        try:
            return parse_constants(con.execute(CONSTANTS_SQL).fetchall())
        finally:
            con.close()
    except sqlite3.Error:
        return {}


def parse_constants(rows: list[tuple[str, str]]) -> Stored:
    out: Stored = {}
    for key, value in rows:
        try:
            fact = json.loads(value)
            at = parse_dt(fact["at"])
        except (ValueError, KeyError, TypeError):
            continue  # unreadable: asked again
        if at is not None:
            out[key.removeprefix(_PREFIX)] = (str(fact["value"]), at)
    return out
