"""What a store hands in and out, the same for every backend: named rows, never tuples.

Times are aware UTC datetimes; a backend stores them as it likes (SQLite: ISO text via `iso`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from connectors.base import Cursor, WriteOp

__all__ = [
    "AuditRow",
    "FindingLike",
    "FindingRow",
    "FindingsDelta",
    "InboxRow",
    "InboxState",
    "ItemChange",
    "OutboxRow",
    "RecordLike",
    "RecordRow",
    "Run",
    "Status",
    "StoredComment",
    "StoredReply",
    "iso",
    "op_from_json",
    "parse_dt",
    "reply_facts",
]


class FindingLike(Protocol):
    """What state needs of `mapping.rules.Finding` (kept structural so either can change)."""

    @property
    def id(self) -> str: ...
    @property
    def record_key(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def system(self) -> str: ...
    @property
    def item_id(self) -> str: ...
    @property
    def item_key(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def notify(self) -> tuple[str, ...]: ...
    @property
    def escalation(self) -> int: ...


class RecordLike(Protocol):
    """What state needs of `mapping.record.HandoffRecord`."""

    @property
    def key(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def stage(self) -> object: ...
    @property
    def sources(self) -> Iterable[Any]: ...


@dataclass(frozen=True)
class StoredComment:
    """Our comment on one item as we last wrote it."""

    system: str
    item_id: str
    comment_id: str
    body: str
    written_at: datetime | None = None
    shown: str = ""  # digest of the text a service showed for `body`, found current then


@dataclass(frozen=True)
class StoredReply:
    """A reply we left on an item for one finding at one escalation step (sync.writeback.steps)."""

    marker: str
    finding_id: str
    step: int
    people: tuple[str, ...]
    comment_id: str
    done: bool = False


ReplyNotices = list[tuple[str, str, int, str]]  # (marker, finding id, step, person)


def reply_facts(op: WriteOp) -> tuple[str, int, list[str], ReplyNotices]:
    """(finding id, step, people, notices) a step reply op carries in its `value`
    (sync.writeback.steps.StepReply.to_op)."""
    try:
        facts = json.loads(op.value or "{}")
    except ValueError:
        facts = {}
    if not isinstance(facts, dict):
        facts = {}
    people = facts.get("people")
    notices: ReplyNotices = []
    for n in facts.get("notices") or []:
        if isinstance(n, list) and len(n) == 4:
            notices.append((str(n[0]), str(n[1]), int(n[2]), str(n[3])))
    return (
        str(facts.get("finding", "")),
        int(facts.get("step", 0)),
        [str(p) for p in people] if isinstance(people, list) else [],
        notices,
    )


@dataclass(frozen=True)
class FindingsDelta:
    """What one `record_findings` call changed."""

    opened: int = 0
    still_open: int = 0
    resolved: int = 0


@dataclass(frozen=True)
class OutboxRow:
    op: WriteOp
    run_id: int
    status: str
    attempts: int
    error: str = ""
    target: str = ""


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    run_id: int
    op_key: str
    system: str
    item_id: str
    item_key: str
    action: str
    result: str
    target: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Run:
    id: int
    started: datetime
    ended: datetime | None
    dry_run: bool
    counts: Mapping[str, Any]
    outcome: str  # "" while running; a run with no end and no outcome was interrupted


@dataclass(frozen=True)
class Status:
    """Everything `handoff status` shows."""

    runs: list[Run]
    open_findings: dict[str, int]  # code -> open count
    cursors: dict[str, Cursor]
    outbox: dict[str, dict[str, int]]  # system -> status -> count, done excluded
    items: dict[str, int] = field(default_factory=dict)  # system -> items present


@dataclass(frozen=True)
class InboxRow:
    """One webhook delivery as `handoff serve` stored it before answering (not its body)."""

    n: int  # the inbox's own order
    system: str
    delivery: str  # the system's delivery id (the same on a retry)
    event: str
    subject: str  # the item it names, as far as the delivery says
    received_at: datetime
    done_at: datetime | None = None  # when the sync it caused ended (None: still to sync)
    run_id: int | None = None  # that sync


@dataclass(frozen=True)
class InboxState:
    """What `handoff status` and /metrics say about the webhook inbox."""

    pending: int
    oldest_pending: datetime | None  # received, not yet synced
    last_done: datetime | None  # when the latest delivery was taken care of
    last_lag: float | None  # seconds from its arrival to the end of its sync
    received: int  # every delivery stored


def iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: state stores UTC, pass an aware datetime")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def parse_dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def op_from_json(text: str) -> WriteOp:
    return WriteOp(**json.loads(text))


@dataclass(frozen=True)
class RecordRow:
    """A stored handoff record: its key, title and the "system:item_id" of its items."""

    key: str
    title: str
    item_ids: tuple[str, ...]


@dataclass(frozen=True)
class FindingRow:
    """A stored finding as the report reads it (its current episode)."""

    record_key: str
    code: str
    severity: str
    subject: str
    message: str
    system: str
    item_key: str
    url: str
    notify: tuple[str, ...]
    escalation: int
    first_seen: datetime
    resolved_at: datetime | None  # None while open


@dataclass(frozen=True)
class ItemChange:
    """One item's content as a pull that changed it stored it (`handoff show`'s history)."""

    system: str
    item_id: str
    at: datetime
    run_id: int | None
    state: str
    title: str
    fields: Mapping[str, Any]
