"""What a run knows, and how well: which scopes were read whole, which were never read, how
old the stored items are that stand in for a scope that failed now, which items are gone.

The engine asks these questions after its pulls; the answers decide whether it may write at
all (a scope never read in full blocks every write in every system) and what the summary says.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connectors.base import CommentRef
from sync.store import Store
from sync.systems.jira import NAME as JIRA

__all__ = [
    "ScopeOutcome",
    "age",
    "blind_scopes",
    "jira_keys",
    "mark_gone",
    "record_reads",
    "stale_note",
    "stale_scopes",
]

log = logging.getLogger(__name__)

STALE = (
    "{scope} could not be read now; last read in full {age} ago ({at:%Y-%m-%d %H:%M} UTC), "
    "so its items as read then stand in for it. Fix the error above; the next run reads it."
)


@dataclass
class ScopeOutcome:
    scope: str
    pulled: int = 0
    newest: datetime | None = None
    began: datetime | None = None  # when the read began, on the service's clock
    error: str = ""
    auth: bool = False  # the error was a token or permission refusal
    full: bool = False  # pulled without a cursor: every item of the scope came back
    unreached: bool = False  # its system could not even be opened (see sync.engine.connect)
    transient: bool = False  # the error was an outage (refused, 5xx, timeout): try again later
    # Not pulled by this run: another worker on the shared state holds its lease and reads
    # it (sync.engine.shared); its stored items stand for it.
    skipped: bool = False
    seen: set[str] = field(default_factory=set, repr=False)  # ids of the items pulled
    # ids of the pulled items whose content or state differs from the stored row (new ones
    # included): what makes work. Overlap windows and our own writes' echo are not in it.
    changed: set[str] = field(default_factory=set, repr=False)
    # Our comments as the pull found them: item id -> ours, or None for "looked, none of
    # ours"; items the pull did not look at are absent (see `sync.engine.comments`).
    comments: dict[str, CommentRef | None] = field(default_factory=dict, repr=False)
    # The pull's comment discovery covered the whole scope: an item it did not report has
    # our comment exactly as the state notes it.
    discovered: bool = False


def blind_scopes(
    state: Store, outcomes: Sequence[ScopeOutcome], people_failed: Mapping[str, bool]
) -> tuple[list[str], bool]:
    """Scopes never read in full whose read (pull, or its system's people) failed now, and
    whether a refused token or permission is among the causes."""
    blind: list[str] = []
    auth = False
    for o in outcomes:
        system = o.scope.partition(":")[0]
        if state.cursor(o.scope) is not None or not (o.error or system in people_failed):
            continue
        blind.append(o.scope)
        auth = auth or (o.auth if o.error else people_failed[system])
    return blind, auth


def record_reads(state: Store, outcomes: Sequence[ScopeOutcome], now: datetime) -> None:
    """Every scope pulled without error was read whole as of `now` (by this run: a scope
    another worker read is that worker's to record)."""
    for o in outcomes:
        if not o.error and not o.skipped:
            state.mark_read(o.scope, now)


def stale_scopes(
    state: Store, outcomes: Sequence[ScopeOutcome], blind: Sequence[str]
) -> dict[str, datetime]:
    """Scopes read before that failed now -> when they were last read whole."""
    failed = [o.scope for o in outcomes if o.error and o.scope not in blind]
    if not failed:
        return {}
    reads = state.last_reads()
    out: dict[str, datetime] = {}
    for scope in failed:
        cursor = state.cursor(scope)
        at = reads.get(scope) or (cursor.updated if cursor else None)
        if at is not None:
            out[scope] = at
    return out


def stale_note(scope: str, at: datetime, now: datetime) -> str:
    """One line for people: which scope, how old our knowledge of it is."""
    return STALE.format(scope=scope, age=age(now - at), at=at)


def age(delta: timedelta) -> str:
    """A duration as people say it: "40 s", "12 min", "3 h", "2 days"."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def mark_gone(state: Store, outcomes: Sequence[ScopeOutcome]) -> None:
    """A full pull that came back whole and no longer returns a stored item: the item was
    deleted (or left the scope), so its findings close. A failed pull proves nothing."""
    for out in outcomes:
        if not out.full or out.error or out.skipped:
            continue
        # Ids and keys only: decoding every stored item here cost a --full run as much as
        # folding its records.
        gone = [(s, i, k) for s, i, k in state.present_in(out.scope) if i not in out.seen]
        for system, item_id, key in gone:
            log.info("%s %s is no longer in %s: marked deleted", system, key, out.scope)
            state.mark_item(system, item_id, "deleted")


def jira_keys(state: Store, outcomes: Sequence[ScopeOutcome]) -> set[str] | None:
    """Every Jira key we hold, when every Jira scope was read this run; else None (unknown)."""
    jira = [o for o in outcomes if o.scope.startswith(f"{JIRA}:")]
    if not jira or any(o.error for o in jira):
        return None
    return state.present_keys(JIRA)
