"""What our comments show now, read before reconcile so that planning does no network I/O.

Someone may have edited or deleted our comment since we wrote it, and the plan must start
from what people see, not from our notes. Only changed items are read: an unchanged item's
comment cannot have changed either (a comment edit bumps the item's update time).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime

from connectors.base import CommentRef, Connector, Scope, SourceItem
from connectors.errors import ConnectorError
from mapping.link import LinkConfig, link
from sync.engine.apply import Pacer
from sync.store import Store
from sync.writeback.render import markers_for

__all__ = ["Comments", "read_comments", "stored_comments"]

log = logging.getLogger(__name__)

Comments = dict[tuple[str, str], CommentRef]  # (system, item id) -> our comment there


def stored_comments(state: Store) -> Comments:
    """Where we wrote our comment on every item, in one read instead of one per item."""
    return {(c.system, c.item_id): CommentRef(c.comment_id, c.body) for c in state.iter_comments()}


def read_comments(
    state: Store,
    connectors: Mapping[str, Connector],
    items: Iterable[SourceItem],
    link_cfg: LinkConfig,
    changed: Collection[tuple[str, str]],
    *,
    pacer: Pacer | None,
    clock: Callable[[], datetime],
) -> Comments:
    """Our comment on every item as planning should see it: from our notes, or for a changed
    item of `connectors`' systems, as the item shows it now (and then noted in the state)."""
    comments = stored_comments(state)
    # Only items that reach a record are planned, so only those are worth a read.
    for item in (i for group in link(items, link_cfg) for i in group):
        stored = comments.get((item.system, item.id))
        if stored is None or item.system not in connectors:
            continue
        if (item.scope, item.id) not in changed:
            continue
        shown = _shown_comment(connectors[item.system], item, stored, pacer)
        if shown is None:
            del comments[(item.system, item.id)]
            continue
        if shown != stored:
            # A write that landed unheard (or an edit): remember what is there,
            # or the next run plans from our old notes and sends it all again.
            state.record_comment(item.system, item.id, shown.id, shown.text, clock())
        comments[(item.system, item.id)] = shown
    return comments


def _shown_comment(
    connector: Connector, item: SourceItem, stored: CommentRef, pacer: Pacer | None
) -> CommentRef | None:
    """Our comment as `item` shows it now; our notes when it cannot be read."""
    system, _, name = item.scope.partition(":")
    if pacer:
        pacer.wait(item.system, write=False)
    try:
        for marker in markers_for(item.system, item.id, item.uid):
            found = connector.find_comment(Scope(system, name), item.id, marker)
            if found is not None:
                return found
        return None
    except ConnectorError as exc:
        log.warning("could not read our comment on %s, planning from state: %s", item.key, exc)
        return stored
