"""People's `/handoff` commands as the pulls found them, and what became of them.

Table `said` (migration 0011): system, comment_id (PK together), item_id, author, text, at
(written or last edited), seen_at, answer (the outcome lines last recorded for the comment;
NULL: not yet answered). A list since a cursor shows a comment once, so the store keeps it:
every later reconcile of its record applies it again. A comment edited since is stored anew
(text, time, answer cleared). Each new answer is also an audit row (action "command").
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime

from connectors.base import Said
from sync.store.rows import iso, parse_dt
from sync.store.sqlite.schema import StateBase

__all__ = ["SaidRows"]

Key = tuple[str, str]  # (system, item id)
_CHUNK = 400  # keys per query, under SQLite's variable limit


class SaidRows(StateBase):
    """The command verbs of the SQLite store."""

    def said_put(self, found: Iterable[tuple[str, str, Said]], now: datetime) -> set[Key]:
        """Keep people's command comments, (system, item id, comment); returns the items with
        a new or edited one (an edited one loses its old answer)."""
        fresh: set[Key] = set()
        with self._lock, self.db.atomic():
            for system, item_id, said in found:
                row = self.db.execute(
                    "SELECT text, at FROM said WHERE system = ? AND comment_id = ?",
                    [system, said.id],
                ).fetchone()
                if row is not None and (row[0], row[1]) == (said.text, iso(said.at)):
                    continue
                fresh.add((system, item_id))
                self.db.execute(
                    "INSERT INTO said (system, comment_id, item_id, author, text, at,"
                    " seen_at, answer) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)"
                    " ON CONFLICT (system, comment_id) DO UPDATE SET item_id = excluded.item_id,"
                    " author = excluded.author, text = excluded.text, at = excluded.at,"
                    " seen_at = excluded.seen_at, answer = NULL",
                    [system, said.id, item_id, said.author, said.text, iso(said.at), iso(now)],
                )
        return fresh

    def said_for(self, keys: Collection[Key]) -> dict[Key, list[Said]]:
        """The command comments kept on these items, oldest first."""
        out: dict[Key, list[Said]] = {}
        wanted = sorted(set(keys))
        with self._lock:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                where = " OR ".join(["(system = ? AND item_id = ?)"] * len(chunk))
                rows = self.db.execute(
                    "SELECT system, item_id, comment_id, author, text, at FROM said"
                    f" WHERE {where} ORDER BY at, comment_id",
                    [v for key in chunk for v in key],
                ).fetchall()
                for system, item_id, cid, author, text, at in rows:
                    when = parse_dt(at)
                    if when is None:
                        continue  # not a time: not a command anyone can date
                    said = Said(cid, author, text, when)
                    out.setdefault((system, item_id), []).append(said)
        return out

    def said_answered(
        self, answers: Mapping[tuple[str, str], Sequence[str]], run_id: int | None, now: datetime
    ) -> set[Key]:
        """Record the answers to each comment, (system, comment id) -> its outcome lines: a
        comment whose answer changed gets it stored and one audit row; returns those."""
        changed: set[Key] = set()
        with self._lock, self.db.atomic():
            for (system, cid), lines in answers.items():
                text = "\n".join(lines)
                row = self.db.execute(
                    "SELECT item_id, answer, author FROM said WHERE system = ? AND comment_id = ?",
                    [system, cid],
                ).fetchone()
                if row is None or row[1] == text:
                    continue
                changed.add((system, cid))
                self.db.execute(
                    "UPDATE said SET answer = ? WHERE system = ? AND comment_id = ?",
                    [text, system, cid],
                )
                self.db.execute(
                    "INSERT INTO audit (at, run_id, op_key, system, scope, item_id, item_key,"
                    " action, name, result, target, detail) VALUES (?, ?, '', ?, '', ?, '',"
                    " 'command', ?, ?, ?, ?)",
                    [iso(now), run_id, system, row[0], row[2],
                     "answered", cid, text],
                )  # fmt: skip
        return changed
