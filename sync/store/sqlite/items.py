"""Item rows: what the pulls saw, which of it changed, and the echo of our own writes.

An item counts as changed only when it is new, its content digest differs from the stored
row's (`connectors.base.content_digest`: edit times and our comment excluded), its state
(present/deleted/forbidden) differs, or its `updated` is later than the stored one (someone
did something we do not read as content: a comment, an edit of ours). Overlap windows and
Notion's minute-rounded boundary pages come back with the digest and time the state already
holds; our own writes store the item's new edit time from their answers (and their labels and
fields), so their echo is no change either, in this process or the next one. The row itself
is always rewritten, so `updated` and `last_seen` stay current for the cursor logic.

`activity` (a person's last change) moves to the pulled `updated` when the digest changed (a
person changed content, even inside our quiet window) or when `updated` is past the quiet
window after our own write (a person's comment or an edit we do not read). Inside the window
and with the same content, a newer `updated` is our echo and the person's activity stays.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from connectors.base import CommentRef, SourceItem, WriteOp, WriteResult, content_digest
from sync.store.rows import iso
from sync.store.sqlite.item_history import ItemHistory

__all__ = ["ItemRows"]

_BATCH = 1000  # rows per transaction when streaming items in or out
STAMP_SLACK = timedelta(milliseconds=10)

Changed = set[tuple[str, str]]
Version = tuple[Any, Any, Any]  # (digest, state, updated) of a stored row


class ItemRows(ItemHistory):
    """The item verbs of the SQLite store."""

    def upsert_items(self, items: Iterable[SourceItem], run_id: int, now: datetime) -> Changed:
        """Store pulled items, streaming in batches (first_seen survives updates); returns the
        (system, id) pairs whose content or state changed, new items included."""
        seen = iso(now)
        changed: Changed = set()
        batch: list[SourceItem] = []
        for item in items:
            batch.append(item)
            if len(batch) >= _BATCH:
                changed |= self._write_items(batch, seen, run_id)
                batch = []
        if batch:
            changed |= self._write_items(batch, seen, run_id)
        return changed

    def _write_items(self, items: list[SourceItem], seen: str, run_id: int) -> Changed:
        rows = [_item_row(i, seen, run_id) for i in items]
        with self._lock, self.db.atomic():
            before = self._stored_versions({(i.system, i.id) for i in items})
            # Plain SQL rather than upsert_all: the update must leave first_seen alone.
            self.db.executemany(_UPSERT_ITEM, rows)
            fresh = {(r[0], r[2]) for r in rows if _new_content(before.get((r[0], r[2])), r)}
            self._note_history(rows, fresh)  # what `handoff show` lists as changes
        return {(i.system, i.id) for i, row in zip(items, rows, strict=True)
                if _changed(before.get((i.system, i.id)), row, i.updated)}  # fmt: skip

    def _stored_versions(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Version]:
        """(system, id) -> (digest, state, updated) of the stored rows among `keys`."""
        out: dict[tuple[str, str], Version] = {}
        by_system: dict[str, list[str]] = {}
        for system, item_id in keys:
            by_system.setdefault(system, []).append(item_id)
        for system, ids in by_system.items():
            marks = ",".join("?" * len(ids))
            rows = self.db.execute(
                "SELECT id, digest, state, updated FROM items "
                f"WHERE system = ? AND id IN ({marks})",
                [system, *ids],
            ).fetchall()
            out.update({(system, r[0]): (r[1], r[2], r[3]) for r in rows})
        return out

    def mark_item(self, system: str, item_id: str, state: str) -> None:
        """Record that an item is deleted or out of our reach; the next pull that returns it
        makes it present again (a change of state, so the item counts as changed)."""
        with self._lock, self.db.atomic():
            self.db.execute(
                "UPDATE items SET state = ? WHERE system = ? AND id = ?", [state, system, item_id]
            )

    def set_activity(
        self, system: str, item_id: str, activity: datetime, *, echo: datetime
    ) -> None:
        """A person's last activity read back from our own marker; an `updated` up to `echo`
        is our write-back, not activity (sync.engine.own_writes)."""
        with self._lock, self.db.atomic():
            self.db.execute(
                "UPDATE items SET activity = ?, quiet_until = MAX(COALESCE(quiet_until, ''), ?) "
                "WHERE system = ? AND id = ?",
                [iso(activity), iso(echo), system, item_id],
            )

    def iter_items(
        self, *, system: str | None = None, scope: str | None = None
    ) -> Iterator[SourceItem]:
        """Every stored item, read a batch at a time so 100,000 items never sit in memory."""
        where, params = [], []
        if system:
            where.append("system = ?")
            params.append(system)
        if scope:
            where.append("scope = ?")
            params.append(scope)
        last: tuple[str, str] = ("", "")
        while True:
            cond = " AND ".join([*where, "(system, id) > (?, ?)"])
            with self._lock:
                rows = self.db.execute(
                    f"SELECT {_ITEM_COLS} FROM items WHERE {cond} ORDER BY system, id LIMIT ?",
                    [*params, *last, _BATCH],
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _item_from_row(row)
            last = (rows[-1][0], rows[-1][2])

    def item(self, system: str, item_id: str) -> SourceItem | None:
        """One stored item, whatever its state; None if never stored."""
        with self._lock:
            row = self.db.execute(
                f"SELECT {_ITEM_COLS} FROM items WHERE system = ? AND id = ?", [system, item_id]
            ).fetchone()
        return _item_from_row(row) if row else None

    def _echo(self, op: WriteOp, result: WriteResult | None) -> None:
        """Make the stored row show our write as the next pull will (inside the caller's
        transaction): labels, the fields the answer showed, the new edit time; then the
        digest again, so the echo counts as no change. The person's activity stays."""
        row = self.db.execute(
            f"SELECT {_ITEM_COLS} FROM items WHERE system = ? AND id = ?",
            [op.system, op.item_id],
        ).fetchone()
        if row is None:
            return
        item = _item_from_row(row)
        labels = [x for x in item.labels if x != op.name]
        if op.action == "label.add":
            labels.append(op.name)
        if op.action in ("label.add", "label.remove"):
            item = replace(item, labels=tuple(labels))
        if result is not None and result.fields:
            item = replace(item, fields=_merged(item.fields, result.fields))
        updated = item.updated
        if result is not None and result.updated is not None and result.updated > updated:
            updated = result.updated
        self.db.execute(
            "UPDATE items SET labels = ?, fields = ?, digest = ?, "
            "activity = CASE WHEN ? > updated THEN COALESCE(activity, updated) ELSE activity END, "
            "updated = MAX(updated, ?), quiet_until = MAX(COALESCE(quiet_until, ''), ?) "
            "WHERE system = ? AND id = ?",
            [
                json.dumps(list(item.labels)),
                json.dumps(dict(item.fields), default=str),
                content_digest(item),
                iso(updated),
                iso(updated),
                iso(updated),
                op.system,
                op.item_id,
            ],
        )


def _new_content(stored: Version | None, row: tuple[Any, ...]) -> bool:
    return stored is None or stored[:2] != (row[_DIGEST], row[_STATE])


def _changed(stored: Version | None, row: tuple[Any, ...], updated: datetime) -> bool:
    if stored is None or stored[:2] != (row[_DIGEST], row[_STATE]):
        return True
    # Servers stamp our comment and the item it moves within a few milliseconds.
    return stored[2] is None or updated > datetime.fromisoformat(stored[2]) + STAMP_SLACK


def _merged(fields: Mapping[str, Any], shown: Mapping[str, Any]) -> dict[str, Any]:
    """`fields` with the answer's values in; a dict value is merged one level deep (Jira's
    entity properties come back one property at a time)."""
    out = dict(fields)
    for key, value in shown.items():
        old = out.get(key)
        both = isinstance(old, dict) and isinstance(value, dict)
        out[key] = {**old, **value} if both else value  # type: ignore[dict-item]
    return out


_ITEM_COLS = (
    "system, scope, id, key, url, kind, title, updated, fields, labels, comment_id, "
    "comment_text, state, activity, uid"
)

_UPSERT_ITEM = (
    "INSERT INTO items (system, scope, id, key, url, kind, title, updated, fields, labels, "
    "comment_id, comment_text, state, first_seen, last_seen, run_id, activity, uid, digest) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(system, id) DO UPDATE SET scope = excluded.scope, key = excluded.key, "
    "url = excluded.url, kind = excluded.kind, title = excluded.title, "
    "updated = excluded.updated, fields = excluded.fields, labels = excluded.labels, "
    "comment_id = excluded.comment_id, comment_text = excluded.comment_text, "
    "state = excluded.state, last_seen = excluded.last_seen, run_id = excluded.run_id, "
    "uid = excluded.uid, digest = excluded.digest, "
    # A person changed content: that is activity, even inside our quiet window. Otherwise a
    # newer `updated` inside the quiet window after our own write is its echo: keep the
    # person's last activity. (ISO UTC text compares in time order.)
    "activity = CASE WHEN items.digest IS NOT NULL AND items.digest != excluded.digest "
    "THEN excluded.updated "
    "WHEN items.quiet_until IS NOT NULL AND excluded.updated <= items.quiet_until "
    "THEN COALESCE(items.activity, items.updated) ELSE excluded.updated END"
)
_STATE, _DIGEST = 12, 18  # positions in an item row


def _item_row(item: SourceItem, seen: str, run_id: int) -> tuple[Any, ...]:
    comment = item.comment
    return (
        item.system,
        item.scope,
        item.id,
        item.key,
        item.url,
        item.kind,
        item.title,
        iso(item.updated),
        json.dumps(dict(item.fields), default=str),
        json.dumps(list(item.labels)),
        comment.id if comment else None,
        comment.text if comment else None,
        item.state,
        seen,
        seen,
        run_id,
        iso(item.updated),  # a new item's activity is its last update
        item.uid or None,
        content_digest(item),
    )


def _item_from_row(row: tuple[Any, ...]) -> SourceItem:
    system, scope, item_id, key, url, kind, title, updated = row[:8]
    fields, labels, comment_id, comment_text, state, activity, uid = row[8:]
    return SourceItem(
        system=system,
        scope=scope,
        id=item_id,
        key=key or "",
        url=url or "",
        kind=kind or "",
        updated=datetime.fromisoformat(updated),
        title=title or "",
        fields=json.loads(fields or "{}"),
        labels=tuple(json.loads(labels or "[]")),
        comment=CommentRef(comment_id, comment_text or "") if comment_id else None,
        state=state,
        # Only set when it differs: our own write-back moved `updated` since a person's change.
        activity=datetime.fromisoformat(activity) if activity and activity != updated else None,
        uid=uid or "",
    )
