"""Our own write-back is not human activity, even after the state was rebuilt.

Our comment, label and property writes move an item's `updated`. A state that saw us write
knows it (items.quiet_until); a new or rebuilt state does not, and would take our write for a
person's and lose a "stale" finding. So our comment carries, in its marker, the item's last
human activity as we knew it when writing. On a scope's first read, every item without a
comment of ours on record is looked up once (GitHub: one comment list for the whole repo):
the comment found is recorded, so neither the plan nor apply has to look for it again, and
when the item's `updated` is no later than that comment's last edit (plus TOLERANCE for our
label and property writes right after it), the activity our marker carries is the item's.
A person's later edit makes `updated` later than our comment, and counts as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta

from connectors.base import CommentRef, Connector, Scope, SourceItem
from connectors.errors import ConnectorError
from sync.store import Store
from sync.writeback.render import MARKER_PREFIX, marker_activity, markers_for

__all__ = ["TOLERANCE", "recognise_own_writes"]

log = logging.getLogger(__name__)

# Our label and property writes follow the comment within seconds; Notion's times are whole
# minutes. A person's edit inside this window after our write is taken for ours.
TOLERANCE = timedelta(minutes=5)

Wait = Callable[[str], object]


def recognise_own_writes(
    state: Store,
    connectors: Mapping[str, Connector],
    first_read: Collection[str],
    now: datetime,
    wait: Wait | None = None,
) -> dict[tuple[str, str], CommentRef]:
    """Find our comment on each item of the `first_read` scopes we have none on record for;
    record it, restore the item's activity from its marker, and return what was found (with
    any later duplicates, for the plan to delete)."""
    if not first_read:
        return {}
    known = {(c.system, c.item_id) for c in state.iter_comments()}
    todo = [
        i
        for i in state.iter_items()
        if i.scope in first_read and i.state == "present" and (i.system, i.id) not in known
    ]
    found: dict[tuple[str, str], CommentRef] = {}
    bulk: dict[str, dict[str, CommentRef]] = {}
    for item in todo:
        connector = connectors.get(item.system)
        if connector is None:
            continue
        try:
            ref = _lookup(connector, item, bulk, wait)
        except ConnectorError as exc:
            log.warning("could not read our comment on %s: %s", item.key, exc)
            continue
        if ref is None:
            continue
        found[(item.system, item.id)] = ref
        state.record_comment(item.system, item.id, ref.id, ref.text, now)
        activity = _activity(item, ref)
        if activity is not None:
            state.set_activity(item.system, item.id, activity, echo=item.updated)
    return found


def _lookup(
    connector: Connector,
    item: SourceItem,
    bulk: dict[str, dict[str, CommentRef]],
    wait: Wait | None,
) -> CommentRef | None:
    system, _, name = item.scope.partition(":")
    scope = Scope(system, name)
    find_all = getattr(connector, "find_comments", None)
    if callable(find_all):  # one list for the whole scope instead of one per item
        if item.scope not in bulk:
            if wait:
                wait(item.system)
            bulk[item.scope] = find_all(scope, MARKER_PREFIX)
        return bulk[item.scope].get(item.id)
    for marker in markers_for(item.system, item.id, item.uid):
        if wait:
            wait(item.system)
        ref = connector.find_comment(scope, item.id, marker)
        if ref is not None:
            return ref
    return None


def _activity(item: SourceItem, ref: CommentRef) -> datetime | None:
    """The activity our marker carries, when nothing but our own writes came after it."""
    if ref.updated is None or item.updated > ref.updated + TOLERANCE:
        return None
    for marker in markers_for(item.system, item.id, item.uid):
        carried = marker_activity(ref.text, marker)
        if carried is not None:
            return min(carried, item.updated)
    return None
