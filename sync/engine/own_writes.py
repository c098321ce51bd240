"""Our own write-back is not human activity, even after the state was rebuilt.

Our comment, label and property writes move an item's `updated`. A state that saw us write
knows it (items.quiet_until); a new or rebuilt state does not, and would take our write for a
person's and lose a "stale" finding. So our comment carries, in its marker, the item's last
human activity as we knew it when writing. The pulls find our comments in batches
(`sync.engine.comments.discover`); a comment the state did not know is recorded, and when the
item's `updated` is no later than that comment's last edit (plus TOLERANCE for our label and
property writes right after it), the activity our marker carries is the item's. A person's
later edit makes `updated` later than our comment, and counts as before.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from connectors.base import CommentRef, SourceItem
from sync.writeback.render import marker_activity, markers_for

__all__ = ["TOLERANCE", "activity_from_marker"]

# Our label and property writes follow the comment within seconds; Notion's times are whole
# minutes. A person's edit inside this window after our write is taken for ours.
TOLERANCE = timedelta(minutes=5)


def activity_from_marker(item: SourceItem, ref: CommentRef) -> datetime | None:
    """The activity our marker carries, when nothing but our own writes came after it."""
    if ref.updated is None or item.updated > ref.updated + TOLERANCE:
        return None
    for marker in markers_for(item.system, item.id, item.uid):
        carried = marker_activity(ref.text, marker)
        if carried is not None:
            return min(carried, item.updated)
    return None
