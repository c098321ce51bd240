"""What incremental reconcile keeps in the SQLite store (migration 0007).

    item_nodes  n PK (the item's integer id for linking), (system, item_id) unique, seen
                (the version of the items row it was computed from: its content digest,
                scope and comment, not when it was last read), stamp (the item's state
                and our comment on it then), content (a digest of what the rules and the
                plan read of it), kept (linking uses the item), project (a Jira item's
                project), record_key (its record now)
    item_links  (n, node): the link nodes of each kept item, indexed by node
    records     + next_due: when time alone can next change the record's findings
    dirty_items items a run took up and has not yet planned through to the outbox

A run links from these rows instead of decoding every stored item: it refreshes the rows of
items whose stamp moved, follows item_links from the changed items to their whole linked
groups, and a full rebuild streams (n, node) ordered by node into a union-find.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from connectors.base import SourceItem
from sync.store.rows import iso
from sync.store.sqlite.schema import StateBase

__all__ = ["LinkRow", "Links"]

Pair = tuple[str, str]  # (system, item id)
# system, id, kept, project, nodes, content digest, extract (mapping.stored; None: none)
LinkRow = tuple[str, str, bool, str, "tuple[str, ...] | None", str, "str | None"]

# What an item's plan is made from besides its content: its state, and our comment on it
# as the state knows it (a write recorded, or forgotten).
_STAMP = (
    "i.state || '|' || COALESCE((SELECT c.comment_id || ':' || "
    "length(c.body) || ':' || COALESCE(c.written_at, '') FROM comments c "
    "WHERE c.system = i.system AND c.item_id = i.id), '')"
)
# Which version of an items row a link row was computed from: what the row says, not when it
# was read, so a re-read of an unchanged item (an overlap window, a `--full` pull) leaves its
# link row current and nothing is decoded again. The edit time is part of it: the digest
# leaves out fields that only move with it (Jira's `updated` and `comment`), which a field
# map may still read. (Rows stored before digests: their read time.)
_SEEN = (
    "COALESCE(i.digest, 'read:' || COALESCE(i.last_seen, '')) || '|' || i.scope || '|' || "
    "COALESCE(i.updated, '') || '|' || "
    "COALESCE(i.comment_id, '') || ':' || COALESCE(CAST(length(i.comment_text) AS TEXT), '')"
)
_CHUNK = 400  # host parameters per statement stay far below SQLite's limit
_STREAM = 5000  # rows per read when streaming links


def _chunks(values: Collection[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    seq = list(values)
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


def rows_by_pairs(db: Any, sql: str, pairs: Collection[Pair]) -> list[tuple[Any, ...]]:
    """The rows of `sql` (whose `{values}` stands for a subquery of (?, ?) rows, matched with
    an `(system, id) IN ({values})`) for every (system, id) pair, a chunk at a time.

    The rows are selected from the VALUES list, not matched against it: SQLite scans the
    whole table for `IN (VALUES ...)` (a query per chunk over every row: quadratic in a
    rebuild), while `IN (SELECT column1, column2 FROM (VALUES ...))` searches the index."""
    rows: list[tuple[Any, ...]] = []
    for chunk in _chunks(pairs, _CHUNK // 2):
        values = "SELECT column1, column2 FROM (VALUES " + ",".join("(?, ?)" for _ in chunk) + ")"
        rows += db.execute(sql.format(values=values), [x for p in chunk for x in p]).fetchall()
    return rows


class Links(StateBase):
    """The link and due-time verbs of `SqliteStore`."""

    def stale_links(self) -> list[Pair]:
        """Items whose stored link rows were computed from another version of the row (or
        never): a pull, a deletion or a state change, our comment recorded or forgotten."""
        with self._lock:
            rows = self.db.execute(
                "SELECT i.system, i.id FROM items i LEFT JOIN item_nodes n "
                "ON n.system = i.system AND n.item_id = i.id "
                f"WHERE n.stamp IS NULL OR n.stamp != {_STAMP} OR n.seen IS NOT {_SEEN}"
            ).fetchall()
        return [(s, i) for s, i in rows]

    def items_of(self, pairs: Collection[Pair]) -> list[SourceItem]:
        """The stored items named, whatever their state (missing ones left out)."""
        from sync.store.sqlite.items import _ITEM_COLS, _item_from_row

        sql = f"SELECT {_ITEM_COLS} FROM items WHERE (system, id) IN ({{values}})"
        with self._lock:
            rows = rows_by_pairs(self.db, sql, pairs)
        # By (system, id), as SQLite's bytes compare: the chunks' order is no backend's own.
        return sorted((_item_from_row(r) for r in rows), key=lambda i: (i.system, i.id))

    def items_by_n(self, ns: Collection[int]) -> list[SourceItem]:
        """The stored items with these link ids."""
        with self._lock:
            pairs: list[Pair] = []
            for chunk in _chunks(ns):
                marks = ",".join("?" * len(chunk))
                pairs += self.db.execute(
                    f"SELECT system, item_id FROM item_nodes WHERE n IN ({marks})", chunk
                ).fetchall()
        return self.items_of(pairs)

    def save_links(self, rows: Iterable[LinkRow], *, moved_only: bool = False) -> set[Pair]:
        """Store each item's link nodes (None: linking ignores it) and content digest,
        stamped with its stored row. Returns the items to plan again, which stay in
        `dirty_items` from the moment the new rows are in: those whose content, state, our
        comment or nodes changed, or with `moved_only` only those whose nodes moved (an
        item gone, or linked otherwise)."""
        changed: set[Pair] = set()
        with self._lock, self.db.atomic():
            for system, item_id, kept, project, nodes, content, extract in rows:
                old = self._nodes_of(system, item_id)
                new = None if nodes is None else set(nodes)
                before = self.db.execute(
                    "SELECT stamp, content FROM item_nodes WHERE system = ? AND item_id = ?",
                    [system, item_id],
                ).fetchone()
                self.db.execute(
                    "INSERT INTO item_nodes (system, item_id, kept, project, content, extract) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(system, item_id) DO UPDATE SET "
                    "kept = excluded.kept, project = excluded.project, "
                    "content = excluded.content, extract = excluded.extract",
                    [system, item_id, int(kept), project, content, extract],
                )
                after = self.db.execute(
                    f"UPDATE item_nodes SET stamp = (SELECT {_STAMP} FROM items i "
                    "WHERE i.system = item_nodes.system AND i.id = item_nodes.item_id), "
                    f"seen = (SELECT {_SEEN} FROM items i "
                    "WHERE i.system = item_nodes.system AND i.id = item_nodes.item_id) "
                    "WHERE system = ? AND item_id = ? RETURNING stamp",
                    [system, item_id],
                ).fetchone()
                other = before is None or (before[0], before[1]) != (after[0], content)
                if old != new or (other and not moved_only):
                    changed.add((system, item_id))
                n = self._n(system, item_id)
                self.db.execute("DELETE FROM item_links WHERE n = ?", [n])
                self.db.executemany(
                    "INSERT INTO item_links (n, node) VALUES (?, ?)",
                    [(n, node) for node in sorted(new or ())],
                )
            self.db.executemany(
                "INSERT OR IGNORE INTO dirty_items (system, item_id) VALUES (?, ?)", changed
            )
        return changed

    def _n(self, system: str, item_id: str) -> int:
        row = self.db.execute(
            "SELECT n FROM item_nodes WHERE system = ? AND item_id = ?", [system, item_id]
        ).fetchone()
        return int(row[0])

    def _nodes_of(self, system: str, item_id: str) -> set[str] | None:
        row = self.db.execute(
            "SELECT n, kept FROM item_nodes WHERE system = ? AND item_id = ?", [system, item_id]
        ).fetchone()
        if row is None or not row[1]:
            return None
        nodes = self.db.execute("SELECT node FROM item_links WHERE n = ?", [row[0]]).fetchall()
        return {r[0] for r in nodes}

    def link_projects(self) -> set[str]:
        """The projects of every kept item that has one (Jira's)."""
        with self._lock:
            rows = self.db.execute(
                "SELECT DISTINCT project FROM item_nodes WHERE kept = 1 AND project != ''"
            ).fetchall()
        return {r[0] for r in rows}

    def present_keys(self, system: str) -> set[str]:
        """The keys of every present item of one system, upper-cased."""
        with self._lock:
            rows = self.db.execute(
                "SELECT DISTINCT upper(key) FROM items WHERE system = ? AND state = 'present'",
                [system],
            ).fetchall()
        return {r[0] for r in rows if r[0]}

    def linked_with(self, pairs: Collection[Pair], nodes: Collection[str] = ()) -> set[Pair]:
        """Every kept item linked, directly or through others, to the items or nodes given:
        their whole linked groups."""
        with self._lock:
            sql = (
                "SELECT n FROM item_nodes WHERE kept = 1 AND "
                "(system, item_id) IN ({values})"
            )
            ns: set[int] = {r[0] for r in rows_by_pairs(self.db, sql, pairs)}
            seen_nodes: set[str] = set()
            frontier_nodes = set(nodes)
            frontier = set(ns)
            for _ in range(1_000_000):  # a component is finite; this only bounds the loop
                for chunk in _chunks(frontier):
                    marks = ",".join("?" * len(chunk))
                    frontier_nodes |= {
                        r[0]
                        for r in self.db.execute(
                            f"SELECT node FROM item_links WHERE n IN ({marks})", chunk
                        ).fetchall()
                    }
                frontier_nodes -= seen_nodes
                if not frontier_nodes:
                    break
                seen_nodes |= frontier_nodes
                found: set[int] = set()
                for chunk in _chunks(frontier_nodes):
                    marks = ",".join("?" * len(chunk))
                    found |= {
                        r[0]
                        for r in self.db.execute(
                            f"SELECT n FROM item_links WHERE node IN ({marks})", chunk
                        ).fetchall()
                    }
                frontier, frontier_nodes = found - ns, set()
                ns |= frontier
            return self._pairs_of(ns)

    def _pairs_of(self, ns: Collection[int]) -> set[Pair]:
        out: set[Pair] = set()
        for chunk in _chunks(ns):
            marks = ",".join("?" * len(chunk))
            out |= {
                (s, i)
                for s, i in self.db.execute(
                    f"SELECT system, item_id FROM item_nodes WHERE n IN ({marks})", chunk
                ).fetchall()
            }
        return out

    def iter_link_rows(self) -> Iterator[tuple[int, str]]:
        """Every (item link id, node) ordered by node, a batch at a time: a union-find over
        it joins the items that share a node without holding any item."""
        last: tuple[str, int] = ("", -1)
        while True:
            with self._lock:
                rows = self.db.execute(
                    "SELECT node, n FROM item_links WHERE (node, n) > (?, ?) "
                    "ORDER BY node, n LIMIT ?",
                    [*last, _STREAM],
                ).fetchall()
            if not rows:
                return
            for node, n in rows:
                yield n, node
            last = (rows[-1][0], rows[-1][1])

    def kept_ns(self) -> list[int]:
        """The link ids of every kept item."""
        with self._lock:
            return [
                r[0]
                for r in self.db.execute("SELECT n FROM item_nodes WHERE kept = 1 ORDER BY n")
            ]

    def records_of(self, pairs: Collection[Pair]) -> set[str]:
        """The records these items belonged to when last reconciled."""
        sql = (
            "SELECT record_key FROM item_nodes WHERE record_key IS NOT NULL AND "
            "(system, item_id) IN ({values})"
        )
        with self._lock:
            return {r[0] for r in rows_by_pairs(self.db, sql, pairs)}

    def items_in_records(self, keys: Collection[str]) -> set[Pair]:
        """The items that belonged to these records when last reconciled."""
        out: set[Pair] = set()
        with self._lock:
            for chunk in _chunks(keys):
                marks = ",".join("?" * len(chunk))
                out |= {
                    (s, i)
                    for s, i in self.db.execute(
                        f"SELECT system, item_id FROM item_nodes WHERE record_key IN ({marks})",
                        chunk,
                    ).fetchall()
                }
        return out

    def set_record_keys(
        self, keys: Mapping[Pair, str | None], dues: Mapping[str, datetime | None]
    ) -> None:
        """Each item's record now (None: in none), and when each record is next due."""
        with self._lock, self.db.atomic():
            self.db.executemany(
                "UPDATE item_nodes SET record_key = ? WHERE system = ? AND item_id = ?",
                [(key, s, i) for (s, i), key in keys.items()],
            )
            self.db.executemany(
                "UPDATE records SET next_due = ? WHERE key = ?",
                [(iso(at) if at else None, key) for key, at in dues.items()],
            )

    def forget_reconciled(self) -> None:
        """Before a rebuild: no item belongs to a record, no record is due."""
        with self._lock, self.db.atomic():
            self.db.execute("UPDATE item_nodes SET record_key = NULL")
            self.db.execute("UPDATE records SET next_due = NULL WHERE next_due IS NOT NULL")

    def due_records(self, now: datetime) -> set[str]:
        """Records whose findings time alone may have changed by `now`."""
        with self._lock:
            rows = self.db.execute(
                "SELECT key FROM records WHERE next_due IS NOT NULL AND next_due <= ?", [iso(now)]
            ).fetchall()
        return {r[0] for r in rows}

    def record_count(self) -> int:
        """How many records the stored items make now."""
        with self._lock:
            row = self.db.execute(
                "SELECT count(DISTINCT record_key) FROM item_nodes WHERE record_key IS NOT NULL"
            ).fetchone()
        return int(row[0])

    def unfinished_writes(self) -> set[Pair]:
        """Items with a planned write that has not been done (failed, not attempted,
        interrupted): the next plan must cover them again."""
        with self._lock:
            rows = self.db.execute(
                "SELECT DISTINCT system, item_id FROM outbox "
                "WHERE status NOT IN ('done', 'superseded')"
            ).fetchall()
        return {(s, i) for s, i in rows}

    def dirty_items(self) -> set[Pair]:
        with self._lock:
            return {(s, i) for s, i in self.db.execute("SELECT system, item_id FROM dirty_items")}

    def mark_dirty(self, pairs: Iterable[Pair]) -> None:
        """Items taken up by a run: they stay to be planned until `clear_dirty` (on a shared
        state, until the run whose plan reached the outbox with them clears its own:
        `mark_taken`, `clear_taken`; a mark made again belongs to no run till then)."""
        with self._lock, self.db.atomic():
            self.db.executemany(
                "INSERT INTO dirty_items (system, item_id) VALUES (?, ?) "
                "ON CONFLICT (system, item_id) DO UPDATE SET run_id = NULL",
                list(pairs),
            )

    def clear_dirty(self) -> None:
        with self._lock, self.db.atomic():
            self.db.execute("DELETE FROM dirty_items")
