"""What `handoff show` reads about one handoff's items: how their content changed over time,
and every write of ours on them; and the audit row of a document we publish (the weekly
review, `note_published`).

Table `item_history` (migration 0032): n (order), system, item_id, at (the pull's time),
run_id, digest, state, title, fields JSON. One row each time a pull stores an item whose
content or state differs from the stored row (a new item included): the smallest history
that lets a lead see which field changed when. Overlap re-reads and our own echoes are no
change (see `sync.store.sqlite.items`), so they add no row.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sync.store.rows import AuditRow, ItemChange, iso
from sync.store.sqlite.schema import StateBase

__all__ = ["ItemHistory"]

Key = tuple[str, str]  # (system, item id)
_CHUNK = 400  # keys per query, under SQLite's variable limit
_AUDIT = (
    "SELECT at, run_id, op_key, system, item_id, item_key, action, result, target, detail "
    "FROM audit WHERE system = ? AND item_id IN ({marks}) ORDER BY id"
)


class ItemHistory(StateBase):
    """The history verbs of the SQLite store."""

    def _note_history(self, rows: Sequence[tuple[Any, ...]], changed: Collection[Key]) -> None:
        """Keep a history row for each item row (as `items` stores it) whose content changed;
        called inside the transaction that writes the rows."""
        kept = [
            (r[0], r[2], r[13], r[15], r[18], r[12], r[6], r[8])
            for r in rows
            if (r[0], r[2]) in changed
        ]
        if kept:
            self.db.executemany(
                "INSERT INTO item_history (system, item_id, at, run_id, digest, state, title, "
                "fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                kept,
            )

    def item_history(self, pairs: Collection[Key]) -> list[ItemChange]:
        """Each stored content change of these items, oldest first."""
        out: list[ItemChange] = []
        for system, ids in _by_system(pairs).items():
            for at in range(0, len(ids), _CHUNK):
                chunk = ids[at : at + _CHUNK]
                with self._lock:
                    rows = self.db.execute(
                        "SELECT system, item_id, at, run_id, state, title, fields "
                        f"FROM item_history WHERE system = ? AND item_id IN "
                        f"({','.join('?' * len(chunk))}) ORDER BY n",
                        [system, *chunk],
                    ).fetchall()
                out += [
                    ItemChange(r[0], r[1], datetime.fromisoformat(r[2]), r[3], r[4] or "",
                               r[5] or "", json.loads(r[6] or "{}"))
                    for r in rows
                ]  # fmt: skip
        return sorted(out, key=lambda c: c.at)

    def note_published(
        self, system: str, scope: str, item_id: str, item_key: str, *, result: str, target: str,
        detail: str, now: datetime,
    ) -> None:
        """An audit row for a document we published (the weekly review): where, and whether
        it was created or edited in place."""
        with self._lock, self.db.atomic():
            self.db.execute(
                "INSERT INTO audit (at, run_id, op_key, system, scope, item_id, item_key, "
                "action, name, result, target, detail) "
                "VALUES (?, NULL, '', ?, ?, ?, ?, 'publish', '', ?, ?, ?)",
                [iso(now), system, scope, item_id, item_key, result, target, detail],
            )

    def audit_of(self, pairs: Collection[Key]) -> list[AuditRow]:
        """Every audit row about these items (our writes on them and their outcomes)."""
        out: list[tuple[int, AuditRow]] = []
        for system, ids in _by_system(pairs).items():
            for at in range(0, len(ids), _CHUNK):
                chunk = ids[at : at + _CHUNK]
                sql = _AUDIT.format(marks=",".join("?" * len(chunk)))
                with self._lock:
                    rows = self.db.execute(sql, [system, *chunk]).fetchall()
                out += [(i, _audit_row(r)) for i, r in enumerate(rows)]
        return sorted((row for _, row in out), key=lambda r: r.at)


def _by_system(pairs: Collection[Key]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for system, item_id in sorted(set(pairs)):
        found.setdefault(system, []).append(item_id)
    return found


def _audit_row(r: Sequence[Any]) -> AuditRow:
    return AuditRow(
        datetime.fromisoformat(r[0]), r[1], r[2] or "", r[3] or "", r[4] or "", r[5] or "",
        r[6] or "", r[7] or "", r[8] or "", r[9] or "",
    )  # fmt: skip
