"""The replies we left per escalation step (issue 17): read when planning, written with the
outbox row that sent them (see `sync.store.sqlite.outbox.outbox_done`), so a reply the state
knows was sent is never planned again and one it does not know is found by its marker."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from connectors.base import WriteOp
from sync.store.rows import StoredReply, op_from_json, reply_facts
from sync.store.sqlite.links import rows_by_pairs
from sync.store.sqlite.schema import StateBase

__all__ = ["StepReplies", "record_reply"]


class StepReplies(StateBase):
    """The `step_replies_of` and `replies_unsure` verbs of `Store`."""

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


    def replies_unsure(self, system: str, item_id: str) -> set[str]:
        """Markers of notices a reply on this item was sent with (it may have landed: a
        timeout, a crash) and that no reply is recorded as telling since: only a reply
        carrying one of these needs looking for before it is posted (sync.engine.replies)."""
        with self._lock:
            sent = self.db.execute(
                "SELECT op FROM outbox WHERE system = ? AND item_id = ? "
                "AND action = 'reply.create' AND attempts > 0 AND status != 'done'",
                [system, item_id],
            ).fetchall()
            if not sent:
                return set()
            told = self.db.execute(
                "SELECT marker FROM step_replies WHERE system = ? AND item_id = ?",
                [system, item_id],
            ).fetchall()
        unsure: set[str] = set()
        for (text,) in sent:
            op = op_from_json(str(text))
            unsure |= {n[0] for n in reply_facts(op)[3]} | {op.marker}
        return unsure - {str(r[0]) for r in told}


def record_reply(db: Any, op: WriteOp, target: str, at: str) -> None:
    """Inside `outbox_done`'s transaction: a reply created (or found by its marker) gives a
    row per notice it carries, all on its comment; a reply marked done marks them all."""
    if op.action == "reply.done":
        db.execute(
            "UPDATE step_replies SET done = 1, at = ? "
            "WHERE system = ? AND item_id = ? AND (marker = ? OR comment_id = ?)",
            [at, op.system, op.item_id, op.marker, op.target],
        )
        return
    finding, step, people, notices = reply_facts(op)
    rows = [(m, f, s, [p]) for m, f, s, p in notices] or [(op.marker, finding, step, people)]
    for marker, finding_id, at_step, told in rows:
        db.execute(
            "INSERT INTO step_replies (system, item_id, marker, finding_id, step, people, "
            "comment_id, done, at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?) "
            "ON CONFLICT (system, item_id, marker) DO UPDATE SET comment_id = excluded.comment_id",
            [op.system, op.item_id, marker, finding_id, at_step, json.dumps(told), target, at],
        )
