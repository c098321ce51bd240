"""Open findings read a few at a time: a run's totals and its answer come from the store, so
a run that evaluated ten records never holds every finding of the workspace."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from datetime import datetime
from typing import Any

from sync.store.sqlite.schema import StateBase

__all__ = ["OpenFindings"]

_STREAM = 2000  # rows fetched at a time while streaming
_CHUNK = 400  # host parameters per statement
_NAMES = ("record_key", "code", "severity", "subject", "message", "system", "item_id")


def _chunks(values: Collection[str]) -> Iterator[list[str]]:
    seq = list(values)
    for start in range(0, len(seq), _CHUNK):
        yield seq[start : start + _CHUNK]


class OpenFindings(StateBase):
    """The streaming open-findings verbs of `SqliteStore`."""

    def iter_open_findings(self, *, outside: Collection[str] = ()) -> Iterator[dict[str, Any]]:
        """Every open finding of a record not in `outside`, as `mapping.rules.Finding`'s
        fields, ordered by record, code and subject; fetched a few thousand at a time."""
        with self._lock:
            cur = self.db.execute(
                "SELECT record_key, code, severity, subject, message, system, item_id, "
                "item_key, url, notify, escalation FROM findings WHERE resolved_at IS NULL "
                "ORDER BY record_key, code, subject"
            )
            rows = cur.fetchmany(_STREAM)
            while rows:
                for row in rows:
                    if row[0] in outside:
                        continue
                    found = dict(zip(_NAMES, row[:7], strict=True))
                    found.update(
                        item_key=row[7] or "",
                        url=row[8] or "",
                        notify=tuple(json.loads(row[9] or "[]")),
                        escalation=int(row[10] or 0),
                    )
                    yield found
                rows = cur.fetchmany(_STREAM)

    def opened_at_of(self, records: Collection[str]) -> dict[str, datetime]:
        """When each open finding of these records was first seen (this episode)."""
        out: dict[str, datetime] = {}
        with self._lock:
            for chunk in _chunks(dict.fromkeys(records)):
                marks = ",".join("?" * len(chunk))
                rows = self.db.execute(
                    "SELECT id, first_seen FROM findings WHERE resolved_at IS NULL "
                    f"AND record_key IN ({marks})",
                    chunk,
                ).fetchall()
                out.update((fid, datetime.fromisoformat(first)) for fid, first in rows)
        return out

    def open_finding_records(self) -> set[str]:
        """The records that have an open finding."""
        with self._lock:
            rows = self.db.execute(
                "SELECT DISTINCT record_key FROM findings WHERE resolved_at IS NULL"
            ).fetchall()
        return {r[0] for r in rows}

    def flagged_item_count(self) -> int:
        """Items that belong to a record with an open finding (each must carry our comment),
        counted in SQL rather than by loading every record."""
        with self._lock:
            row = self.db.execute(
                "SELECT count(DISTINCT j.value) FROM records r, json_each(r.item_ids) j "
                "WHERE r.key IN (SELECT record_key FROM findings WHERE resolved_at IS NULL)"
            ).fetchone()
        return int(row[0] or 0)
