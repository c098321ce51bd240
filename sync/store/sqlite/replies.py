"""The replies we left per escalation step (issue 17): read when planning, written with the
outbox row that sent them (see `sync.store.sqlite.outbox.outbox_done`), so a reply the state
knows was sent is never planned again and one it does not know is found by its marker."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from connectors.base import WriteOp
from sync.store.rows import StoredReply
from sync.store.sqlite.links import rows_by_pairs
from sync.store.sqlite.schema import StateBase

__all__ = ["StepReplies", "record_reply", "reply_facts"]


def reply_facts(op: WriteOp) -> tuple[str, int, list[str]]:
    """(finding id, step, people) a reply op carries in its `value` (sync.engine.replies)."""
    try:
        facts = json.loads(op.value or "{}")
    except ValueError:
        facts = {}
    people = facts.get("people") if isinstance(facts, dict) else None
    return (
        str(facts.get("finding", "")) if isinstance(facts, dict) else "",
        int(facts.get("step", 0)) if isinstance(facts, dict) else 0,
        [str(p) for p in people] if isinstance(people, list) else [],
    )


class StepReplies(StateBase):
    """The `step_replies_of` verb of `Store`."""

    def step_replies_of(
        self, pairs: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], list[StoredReply]]:
        """The step replies on each of these (system, item id), oldest step first."""
        sql = (
            "SELECT system, item_id, marker, finding_id, step, people, comment_id, done "
            "FROM step_replies WHERE (system, item_id) IN ({values})"
        )
        with self._lock:
            rows = rows_by_pairs(self.db, sql, dict.fromkeys(pairs))
        out: dict[tuple[str, str], list[StoredReply]] = {}
        for r in sorted(rows, key=lambda r: (r[0], r[1], int(r[4]), r[2])):
            people = tuple(str(p) for p in json.loads(r[5] or "[]"))
            reply = StoredReply(str(r[2]), str(r[3]), int(r[4]), people, str(r[6]), bool(r[7]))
            out.setdefault((str(r[0]), str(r[1])), []).append(reply)
        return out


def record_reply(db: Any, op: WriteOp, target: str, at: str) -> None:
    """Inside `outbox_done`'s transaction: a reply created (or found by its marker), or
    marked done."""
    if op.action == "reply.done":
        db.execute(
            "UPDATE step_replies SET done = 1, at = ? "
            "WHERE system = ? AND item_id = ? AND marker = ?",
            [at, op.system, op.item_id, op.marker],
        )
        return
    finding, step, people = reply_facts(op)
    db.execute(
        "INSERT INTO step_replies (system, item_id, marker, finding_id, step, people, "
        "comment_id, done, at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?) "
        "ON CONFLICT (system, item_id, marker) DO UPDATE SET comment_id = excluded.comment_id",
        [op.system, op.item_id, op.marker, finding, step, json.dumps(people), target, at],
    )
