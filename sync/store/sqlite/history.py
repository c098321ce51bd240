"""Findings history: open, refresh and resolve findings, and count them per run."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

from sync.store.rows import FindingLike, FindingsDelta, iso, parse_dt
from sync.store.sqlite.schema import StateBase

__all__ = ["FindingsHistory"]


class FindingsHistory(StateBase):
    """The findings verbs of `State`."""

    def record_findings(
        self,
        run_id: int,
        findings: Iterable[FindingLike],
        now: datetime,
        *,
        records: Collection[str] | None = None,
    ) -> FindingsDelta:
        """Open or refresh `findings`; resolve open ones no longer reported.

        `records` limits resolving to the records this run evaluated (an `--only jira` run or a
        failed scope must not close findings it did not look at); None means every record.
        """
        at = iso(now)
        opened: dict[str, int] = {}
        still = 0
        with self._lock, self.db.atomic():
            seen: set[str] = set()
            for f in findings:
                if f.id in seen:
                    continue
                seen.add(f.id)
                row = self.db.execute(
                    "SELECT resolved_at FROM findings WHERE id = ?", [f.id]
                ).fetchone()
                # A finding that comes back after being fixed starts a new episode: its
                # escalation clock restarts from now.
                fresh = row is None or row[0] is not None
                if fresh:
                    opened[f.code] = opened.get(f.code, 0) + 1
                else:
                    still += 1
                self.db.execute(_UPSERT_FINDING, [*_finding_row(f), at, at, run_id, int(fresh)])
            resolved_by_code = self._resolve_missing(seen, records, at)
            self._snapshot(run_id, opened, resolved_by_code)
        return FindingsDelta(sum(opened.values()), still, sum(resolved_by_code.values()))

    def _resolve_missing(
        self, seen: set[str], records: Collection[str] | None, at: str
    ) -> dict[str, int]:
        if records is None:
            rows = self.db.execute(
                "SELECT id, code FROM findings WHERE resolved_at IS NULL"
            ).fetchall()
        else:
            # Only the open findings of the records decided (by index): a run that evaluated
            # ten records must not read every open finding of the workspace.
            rows, keys = [], list(dict.fromkeys(records))
            for start in range(0, len(keys), 400):
                chunk = keys[start : start + 400]
                rows += self.db.execute(
                    "SELECT id, code FROM findings WHERE resolved_at IS NULL AND record_key "
                    f"IN ({','.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
        gone = [(fid, code) for fid, code in rows if fid not in seen]
        counts: dict[str, int] = {}
        for fid, code in gone:
            self.db.execute("UPDATE findings SET resolved_at = ? WHERE id = ?", [at, fid])
            counts[code] = counts.get(code, 0) + 1
        return counts

    def _snapshot(
        self, run_id: int, opened: Mapping[str, int], resolved: Mapping[str, int]
    ) -> None:
        open_by_code = dict(
            self.db.execute(
                "SELECT code, count(*) FROM findings WHERE resolved_at IS NULL GROUP BY code"
            ).fetchall()
        )
        # "" marks a run that ended with nothing open, so the trend shows it as a zero.
        for code in sorted(set(open_by_code) | set(resolved)) or [""]:
            self.db.execute(
                # A rebuild records a batch at a time: one run's openings and resolutions
                # add up; what is open is the latest count.
                "INSERT INTO finding_counts (run_id, code, open, opened, resolved) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(run_id, code) DO UPDATE SET "
                "open = excluded.open, opened = finding_counts.opened + excluded.opened, "
                "resolved = finding_counts.resolved + excluded.resolved",
                [
                    run_id,
                    code,
                    open_by_code.get(code, 0),
                    opened.get(code, 0),
                    resolved.get(code, 0),
                ],
            )

    def opened_at(self) -> dict[str, datetime]:
        """When each open finding was first seen (this episode): escalation counts from it."""
        with self._lock:
            rows = self.db.execute(
                "SELECT id, first_seen FROM findings WHERE resolved_at IS NULL"
            ).fetchall()
        return {fid: datetime.fromisoformat(first) for fid, first in rows}

    def open_findings(self) -> dict[str, int]:
        with self._lock:
            rows = self.db.execute(
                "SELECT code, count(*) FROM findings WHERE resolved_at IS NULL GROUP BY code"
            ).fetchall()
        return dict(rows)

    def trend(self, runs: int = 10) -> list[tuple[int, datetime, dict[str, int]]]:
        """Open findings by code after each of the last `runs` runs that recorded any, oldest
        first."""
        with self._lock:
            ids = [
                r[0]
                for r in self.db.execute(
                    "SELECT DISTINCT run_id FROM finding_counts ORDER BY run_id DESC LIMIT ?",
                    [runs],
                ).fetchall()
            ]
            out = []
            for rid in sorted(ids):
                started = self.db.execute("SELECT started FROM runs WHERE id = ?", [rid]).fetchone()
                counts = dict(
                    self.db.execute(
                        "SELECT code, open FROM finding_counts "
                        "WHERE run_id = ? AND open > 0 AND code != ''",
                        [rid],
                    ).fetchall()
                )
                out.append((rid, parse_dt(started[0] if started else None) or datetime.min, counts))
        return out

    def closed_since(self, since: datetime) -> dict[str, int]:
        """Findings resolved at or after `since`, by code ("loops closed this week")."""
        with self._lock:
            rows = self.db.execute(
                "SELECT code, count(*) FROM findings WHERE resolved_at >= ? GROUP BY code",
                [iso(since)],
            ).fetchall()
        return dict(rows)


# The last parameter says whether this is a new episode (first_seen restarts, resolved_at
# clears); otherwise only what the rules say now and last_seen change.
_UPSERT_FINDING = (
    "INSERT INTO findings (id, record_key, code, severity, subject, message, system, item_id, "
    "item_key, url, notify, escalation, first_seen, last_seen, run_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(id) DO UPDATE SET severity = excluded.severity, message = excluded.message, "
    "system = excluded.system, item_id = excluded.item_id, item_key = excluded.item_key, "
    "url = excluded.url, notify = excluded.notify, escalation = excluded.escalation, "
    "last_seen = excluded.last_seen, run_id = excluded.run_id, "
    "first_seen = CASE WHEN ? = 1 THEN excluded.first_seen ELSE findings.first_seen END, "
    "resolved_at = NULL"
)


def _finding_row(f: FindingLike) -> list[Any]:
    return [
        f.id,
        f.record_key,
        f.code,
        f.severity,
        f.subject,
        f.message,
        f.system,
        f.item_id,
        f.item_key,
        f.url,
        json.dumps(list(f.notify)),
        int(f.escalation),
    ]
