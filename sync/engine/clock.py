"""Cursors never run ahead of the service's own clock.

One item dated in the future (a wrong clock on a server or an import) would otherwise move a
scope's cursor past every later change, and those changes would never be pulled. Each
connector remembers the `Date` of its latest answer (`server_time()`); a cursor may advance at
most to that time minus the connector's overlap.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

__all__ = ["clamp_cursor"]


def clamp_cursor(connector: Any, newest: datetime) -> datetime:
    """`newest`, or the service's time minus the connector's overlap when that is earlier."""
    server_time = getattr(connector, "server_time", None)
    now = server_time() if callable(server_time) else None
    if not isinstance(now, datetime):
        return newest
    overlap = getattr(connector, "overlap", timedelta(0))
    limit = now - (overlap if isinstance(overlap, timedelta) else timedelta(0))
    return min(newest, limit)
