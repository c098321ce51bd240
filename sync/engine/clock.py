"""Cursors never run ahead of the service's own clock.

One item dated in the future (a wrong clock on a server or an import) would otherwise move a
scope's cursor past every later change, and those changes would never be pulled. Each
connector remembers the `Date` of its latest answer (`server_time()`); a cursor may advance at
most to that time minus the connector's overlap.

A read also tells where the next one may start: an item edited before the read began (less
the overlap, which covers a service's own lag) was there to be read, so the cursor may move to
that time even when the newest item read is older. Without it, the items our own writes
moved in the last `overlap` before the newest one are read again on every run until a person
edits something (20,000 items, 199 pages, at 100k).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

__all__ = ["clamp_cursor", "cursor_after", "read_began"]


def clamp_cursor(connector: Any, newest: datetime) -> datetime:
    """`newest`, or the service's time minus the connector's overlap when that is earlier."""
    server_time = getattr(connector, "server_time", None)
    now = server_time() if callable(server_time) else None
    if not isinstance(now, datetime):
        return newest
    return min(newest, now - _overlap(connector))


def read_began(connector: Any, started: float) -> datetime | None:
    """The service's time when a read that began at `started` (time.monotonic) did: the Date
    of its latest answer less the time the read took on our clock, so at or before it
    whatever our own clock says. None when the service sent no Date."""
    server_time = getattr(connector, "server_time", None)
    now = server_time() if callable(server_time) else None
    if not isinstance(now, datetime):
        return None
    return now - timedelta(seconds=max(0.0, time.monotonic() - started))


def cursor_after(
    connector: Any, newest: datetime | None, began: datetime | None
) -> datetime | None:
    """Where a scope's cursor may move after a clean read: its newest item (clamped to the
    service's clock), or, when later, the time the read began less the overlap."""
    marks = [clamp_cursor(connector, newest)] if newest is not None else []
    if began is not None:
        marks.append(began - _overlap(connector))
    return max(marks) if marks else None


def _overlap(connector: Any) -> timedelta:
    overlap = getattr(connector, "overlap", timedelta(0))
    return overlap if isinstance(overlap, timedelta) else timedelta(0)
