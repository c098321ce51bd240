"""Lost access: a scope read before whose pull a token or permission now refuses (401/403).

Its items are not deleted (a refusal proves nothing about them): they stay, their findings stay
open, and the run, `handoff status` and the report say "lost access" with the scope, since
when, and what to do. That is distinct from a deleted item (a 404, or a full pull of its scope
that no longer returns it: `sync.engine.knowledge.mark_gone`), whose findings close.

The scopes without access, and since when, are kept in the state's `meta` table, so the report
and `status` can say it, and the "since" stays the first refusal, not the latest.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sync.engine.knowledge import ScopeOutcome, age
from sync.store import Store

__all__ = ["ADVICE", "lost_access", "lost_note", "lost_sentence", "stored_lost_access"]

_KEY = "lost_access"
ADVICE = "check the token's permissions for this scope (or remove the scope from the config)"
LOST = (
    "{scope}: lost access since {since:%Y-%m-%d %H:%M} UTC (its token or permission was "
    "refused; last read in full {age} ago): its findings are kept open as read then, not "
    "closed as deleted. To fix: {advice}."
)


def stored_lost_access(state: Store) -> dict[str, datetime]:
    """Scope -> since when its token has been refused, as the last runs found it."""
    text = state.fact(_KEY)
    if not text:
        return {}
    return {scope: datetime.fromisoformat(at) for scope, at in json.loads(text).items()}


def lost_access(
    state: Store, outcomes: Sequence[ScopeOutcome], blind: Sequence[str], now: datetime
) -> dict[str, datetime]:
    """Update and return the scopes of this run that lost access -> since when. A scope read
    whole again has its access back; a scope that failed otherwise (an outage) proves nothing
    either way and keeps what was known."""
    known = stored_lost_access(state)
    lost: dict[str, datetime] = {}
    for o in outcomes:
        if not o.error:
            known.pop(o.scope, None)
        elif o.auth and o.scope not in blind:
            lost[o.scope] = known.setdefault(o.scope, now)
    value = json.dumps({scope: at.isoformat() for scope, at in sorted(known.items())})
    state.remember_fact(_KEY, value)
    return lost


def lost_note(scope: str, since: datetime, last_read: datetime | None, now: datetime) -> str:
    """One line for people: which scope lost access, since when, what to do."""
    read = age(now - last_read) if last_read is not None else "an unknown time"
    return LOST.format(scope=scope, since=since, age=read, advice=ADVICE)


def lost_sentence(scope: str, since: datetime) -> str:
    """The report's sentence for a scope without access."""
    return (
        f"{scope}: lost access since {since:%Y-%m-%d %H:%M} UTC (its token or permission is "
        f"refused); its findings are kept open, not closed as deleted: {ADVICE}."
    )
