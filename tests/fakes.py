"""In-memory stand-ins for the three systems: a FakeConnector records every call and can fail.

Like bedevere's FakeGH: no patching, a small object that behaves like the server would and
remembers what was asked of it. Failures are scripted per action:

    fake.fail_next("comment.create", TransientError("boom", system="github"))
    fake.land_then_fail("comment.create")   # the write lands, then the client sees a timeout
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import (
    Account,
    CommentRef,
    Cursor,
    Scope,
    SourceItem,
    WriteOp,
    WriteResult,
)
from connectors.errors import NotFound, TransientError

__all__ = ["BOT", "FakeClock", "FakeComment", "FakeConnector"]

BOT = "handoff-bot"  # the account our token writes as
EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class FakeComment:
    id: str
    body: str
    author: str = BOT


@dataclass
class _Item:
    item: SourceItem
    labels: list[str] = field(default_factory=list)
    comments: list[FakeComment] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    entity_properties: dict[str, str] = field(default_factory=dict)


class FakeClock:
    """A monotonic clock and sleep that only move when someone sleeps (or `advance`s)."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.t += max(0.0, seconds)

    advance = sleep

    def now(self) -> datetime:
        """A wall clock on the same time line, for `apply(now=...)`."""
        return EPOCH + timedelta(seconds=self())


class FakeConnector:
    """One system in memory, implementing the Connector protocol."""

    def __init__(self, system: str, *, clock: Callable[[], float] | None = None) -> None:
        self.system = system
        self.clock = clock or (lambda: 0.0)
        self.items: dict[str, _Item] = {}
        self.accounts: list[Account] = [Account(system, BOT, name="Handoff bot", kind="bot")]
        self.calls: list[WriteOp] = []  # every apply() call, failed ones included
        self.call_times: list[float] = []
        self.landed: list[WriteOp] = []  # writes that changed the server
        self.finds: list[tuple[str, str]] = []  # find_comment calls: (item_id, marker)
        self._failures: list[tuple[str | None, BaseException, bool]] = []
        self._next_comment = 100
        self._lock = threading.RLock()

    # --- scripting ---------------------------------------------------------------------

    def add_item(
        self, item_id: str, *, scope: str = "", key: str = "", labels: tuple[str, ...] = ()
    ) -> SourceItem:
        scope = scope or f"{self.system}:main"
        item = SourceItem(
            system=self.system,
            scope=scope,
            id=item_id,
            key=key or item_id,
            url=f"https://{self.system}.example/{item_id}",
            kind="issue",
            updated=EPOCH,
            title=f"Item {item_id}",
            labels=labels,
        )
        with self._lock:
            self.items[item_id] = _Item(item, list(labels))
        return item

    def add_comment(self, item_id: str, body: str, *, author: str = BOT) -> FakeComment:
        """A comment made outside the sync (a person, or our own from a lost run)."""
        with self._lock:
            comment = FakeComment(self._new_comment_id(), body, author)
            self.items[item_id].comments.append(comment)
            return comment

    def fail_next(self, action: str | None, error: BaseException, times: int = 1) -> None:
        """The next `times` apply calls of `action` (None: any) raise `error`, writing nothing."""
        with self._lock:
            self._failures.extend([(action, error, False)] * times)

    def land_then_fail(
        self, action: str | None, error: BaseException | None = None, times: int = 1
    ) -> None:
        """The next `times` writes of `action` land on the server, then raise `error`
        (default: a TransientError, as when the response times out)."""
        err = error or TransientError("read timed out after the write", system=self.system)
        with self._lock:
            self._failures.extend([(action, err, True)] * times)

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def comments(self, item_id: str, marker: str = "") -> list[FakeComment]:
        with self._lock:
            return [c for c in self.items[item_id].comments if marker in c.body]

    def labels(self, item_id: str) -> list[str]:
        with self._lock:
            return list(self.items[item_id].labels)

    def properties(self, item_id: str) -> dict[str, str]:
        with self._lock:
            return dict(self.items[item_id].properties)

    # --- the Connector protocol --------------------------------------------------------

    def pull(self, scope: Scope, cursor: Cursor | None) -> Iterator[SourceItem]:
        with self._lock:
            found = [
                self._snapshot(it)
                for it in self.items.values()
                if it.item.scope == scope.key
                and (cursor is None or it.item.updated >= cursor.updated)
            ]
        yield from sorted(found, key=lambda i: (i.updated, i.id))

    def people(self) -> Iterator[Account]:
        yield from list(self.accounts)

    def find_comment(self, scope: Scope, item_id: str, marker: str) -> CommentRef | None:
        with self._lock:
            self.finds.append((item_id, marker))
            it = self.items.get(item_id)
            if it is None:
                raise NotFound(f"no item {item_id}", system=self.system, scope=scope.key)
            for c in it.comments:
                if c.author == BOT and marker and marker in c.body:
                    return CommentRef(c.id, c.body)
        return None

    def apply(self, op: WriteOp) -> WriteResult:
        with self._lock:
            self.calls.append(op)
            self.call_times.append(self.clock())
            failure = self._take_failure(op.action)
            if failure and not failure[1]:
                raise failure[0]
            result = self._write(op)
            self.landed.append(op)
            if failure:
                raise failure[0]
            return result

    # --- internals ---------------------------------------------------------------------

    def _take_failure(self, action: str) -> tuple[BaseException, bool] | None:
        for i, (want, error, lands) in enumerate(self._failures):
            if want is None or want == action:
                del self._failures[i]
                return error, lands
        return None

    def _write(self, op: WriteOp) -> WriteResult:
        it = self.items.get(op.item_id)
        if it is None:
            raise NotFound(f"no item {op.item_id}", system=self.system, scope=op.scope)
        target = ""
        if op.action == "comment.create":
            comment = FakeComment(self._new_comment_id(), op.body)
            it.comments.append(comment)
            target = comment.id
        elif op.action == "comment.update":
            match = [c for c in it.comments if c.id == op.target and c.author == BOT]
            if not match:
                raise NotFound(
                    f"no comment {op.target} on {op.item_key}", system=self.system, scope=op.scope
                )
            match[0].body = op.body
            target = op.target
        elif op.action == "label.add":
            if op.name not in it.labels:
                it.labels.append(op.name)
        elif op.action == "label.remove":
            if op.name in it.labels:
                it.labels.remove(op.name)
        elif op.action == "property.set":
            it.properties[op.name] = op.value
        elif op.action == "entity_property.set":
            it.entity_properties[op.name] = op.value
        return WriteResult(op.key, True, target=target)

    def _snapshot(self, it: _Item) -> SourceItem:
        ours = next((c for c in it.comments if c.author == BOT), None)
        extra: dict[str, Any] = {"labels": tuple(it.labels)}
        if ours:
            extra["comment"] = CommentRef(ours.id, ours.body)
        return replace(it.item, **extra)

    def _new_comment_id(self) -> str:
        self._next_comment += 1
        return str(self._next_comment)
