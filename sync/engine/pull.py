"""The pull step: each system's scopes read side by side, items queued to the store in batches.

One thread per system because each system has its own budget, and inside it up to that
budget's `width` scopes at once (Jira projects, GitHub repositories), the pacer keeping their
requests together under the budget; one writer (the caller's thread) because the store is
not shared across threads.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime

from connectors.base import CommentRef, Connector, Cursor, Said, Scope, SourceItem
from connectors.errors import AuthError, HandoffSyncError, TransientError, scrub
from sync.engine.clock import read_began
from sync.engine.knowledge import ScopeOutcome
from sync.store import Store

__all__ = ["pull"]

log = logging.getLogger(__name__)



class _Done:
    """A scope's clean end on the pull queue, with when its read began on the service's clock."""

    def __init__(self, began: datetime | None) -> None:
        self.began = began



class _Skipped:
    """A scope another worker on the shared state holds: that one reads it."""


class _Beside:
    """Our comments a scope's pull found beside its items (None: discovery not whole), and
    people's commands it read there (item id -> its command comments)."""

    def __init__(
        self,
        found: Mapping[str, CommentRef] | None,
        said: Mapping[str, tuple[Said, ...]] | None = None,
    ) -> None:
        self.found = found
        self.said = said or {}
_QUEUE_DEPTH = 2000  # items in flight between pull threads and the state writer
_BATCH = 500  # items stored per write

Progress = Callable[[str, int, int], None]  # (phase, done, total or 0)
_Queue = queue.Queue[tuple[str, object]]
Take = Callable[[str], bool]  # lease a scope before reading it (sync.engine.shared)


def pull(
    connectors: Mapping[str, Connector],
    scopes: Sequence[Scope],
    cursors: Mapping[str, Cursor | None],
    state: Store,
    *,
    run_id: int,
    now: datetime,
    progress: Progress,
    widths: Mapping[str, int] | None = None,
    take: Take | None = None,
) -> list[ScopeOutcome]:
    """Pull every scope named in `cursors` from where its cursor stands, storing items as
    they come; one outcome per scope. `widths`: scopes of a system read at once (default 1).
    `take(scope key)`: on a shared state, lease the scope just before reading it; one another
    worker holds comes back `skipped` (so workers starting together share the scopes)."""
    outcomes = {key: ScopeOutcome(key) for key in cursors}
    for key, out in outcomes.items():
        out.full = cursors[key] is None
    q: _Queue = queue.Queue(maxsize=_QUEUE_DEPTH)
    systems = list(dict.fromkeys(s.system for s in scopes if s.key in cursors))
    threads = [
        threading.Thread(
            target=_worker,
            args=(
                connectors[s],
                [sc for sc in scopes if sc.system == s and sc.key in cursors],
                cursors,
                q,
                (widths or {}).get(s, 1),
                take,
            ),
            name=f"pull-{s}",
            daemon=True,
        )
        for s in systems
    ]
    for t in threads:
        t.start()
    _store_from(q, outcomes, state, run_id, now, progress)
    for t in threads:
        t.join(timeout=5)
    for out in outcomes.values():
        if out.error:
            log.warning("pull of %s failed: %s", out.scope, out.error)
        else:
            log.info(
                "pulled %d items from %s, %d of them changed", out.pulled, out.scope,
                len(out.changed),
            )
    return list(outcomes.values())


def _worker(
    connector: Connector,
    scopes: Sequence[Scope],
    cursors: Mapping[str, Cursor | None],
    q: _Queue,
    width: int = 1,
    take: Take | None = None,
) -> None:
    """One system's scopes: one after another, or `width` at a time."""
    if width <= 1 or len(scopes) <= 1:
        for scope in scopes:
            _pull_scope(connector, scope, cursors[scope.key], q, take)
        return
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="pull-scope") as pool:
        for scope in scopes:
            pool.submit(_pull_scope, connector, scope, cursors[scope.key], q, take)


def _pull_scope(
    connector: Connector, scope: Scope, cursor: Cursor | None, q: _Queue, take: Take | None
) -> None:
    """One scope's items onto the queue, then its end: `_Done` or the error that stopped it
    (or `_Skipped`: another worker holds it)."""
    started = time.monotonic()
    try:
        if take is not None and not take(scope.key):
            q.put((scope.key, _Skipped()))
            return
        for item in connector.pull(scope, cursor):
            q.put((scope.key, item))
        beside = getattr(connector, "comments_beside", None)  # see connectors.found
        said = getattr(connector, "said_beside", None)
        q.put((scope.key, _Beside(beside(scope) if callable(beside) else None,
                                  said(scope) if callable(said) else None)))
        q.put((scope.key, _Done(read_began(connector, started))))
    except HandoffSyncError as exc:
        q.put((scope.key, exc))
    except Exception as exc:  # a bug in one scope must not stop the others
        log.exception("pull of %s failed", scope.key)
        q.put((scope.key, exc))


def _store_from(
    q: _Queue,
    outcomes: Mapping[str, ScopeOutcome],
    state: Store,
    run_id: int,
    now: datetime,
    progress: Progress,
) -> None:
    """Take items off the queue into the store until every scope has ended."""
    pending = set(outcomes)
    batch: list[tuple[str, SourceItem]] = []
    total = 0
    while pending:
        key, payload = q.get()
        if isinstance(payload, SourceItem):
            _count(outcomes[key], payload)
            # Our comment lives in the state's comments (see sync.engine.comments), not in
            # every item row, where each run would decode it again.
            batch.append((key, replace(payload, comment=None) if payload.comment else payload))
            if len(batch) >= _BATCH:
                _store(state, batch, outcomes, run_id, now)
                total += len(batch)
                batch = []
                progress("pull", total, 0)
            continue
        if isinstance(payload, _Beside):
            _found(outcomes[key], payload)
            _said(state, outcomes[key], payload, now)
            continue
        pending.discard(key)
        _end(outcomes[key], payload)
    if batch:
        _store(state, batch, outcomes, run_id, now)
        total += len(batch)
    progress("pull", total, total)


def _store(
    state: Store,
    batch: list[tuple[str, SourceItem]],
    outcomes: Mapping[str, ScopeOutcome],
    run_id: int,
    now: datetime,
) -> None:
    """Store a batch of (scope key, item); only the items whose content or state differs
    from the stored row count as changed (overlap windows and our own writes' echo do not)."""
    changed = state.upsert_items((item for _, item in batch), run_id, now)
    # A person's new or edited command is a change of its item, whatever else moved.
    changed |= state.said_put(((i.system, i.id, s) for _, i in batch for s in i.said), now)
    for key, item in batch:
        if (item.system, item.id) in changed:
            outcomes[key].changed.add(item.id)


def _count(out: ScopeOutcome, item: SourceItem) -> None:
    out.pulled += 1
    out.seen.add(item.id)
    if item.comment_read:
        out.comments[item.id] = item.comment
    if out.newest is None or item.updated > out.newest:
        out.newest = item.updated


def _found(out: ScopeOutcome, beside: _Beside) -> None:
    """Comments found on items not pulled; an item pulled keeps what its pull saw."""
    out.discovered = beside.found is not None
    for item_id, ref in (beside.found or {}).items():
        out.comments.setdefault(item_id, ref)


def _said(state: Store, out: ScopeOutcome, beside: _Beside, now: datetime) -> None:
    """Commands read on items the pull did not yield (a webhook named them): kept, and a new
    or edited one makes its item count as changed, so its record is reconciled."""
    system = out.scope.partition(":")[0]
    found = ((system, i, s) for i, said in beside.said.items() for s in said)
    out.changed |= {i for _, i in state.said_put(found, now)}


def _end(out: ScopeOutcome, payload: object) -> None:
    """A scope's end: cleanly (`_Done`), or with the error that stopped it."""
    if isinstance(payload, _Done):
        out.began = payload.began
    elif isinstance(payload, _Skipped):
        out.skipped, out.full = True, False  # read by another worker: nothing is known here
    elif isinstance(payload, HandoffSyncError):
        out.error = payload.message
        out.auth = isinstance(payload, AuthError)
        out.transient = isinstance(payload, TransientError)
    elif isinstance(payload, Exception):
        out.error = scrub(
            f"{out.scope}: unexpected error ({type(payload).__name__}: {payload}); "
            "the other scopes went on. Please report this with the log."
        )
