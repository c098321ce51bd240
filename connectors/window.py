"""A sliding-window limit, pure (the caller passes the time): the one implementation the
sandbox's rate limits and the sync's write pacer both use. A token bucket would allow an
initial burst past the limit; a window never lets more than `limit` events into any `seconds`.
"""

from __future__ import annotations

from collections import deque

__all__ = ["SlidingWindow"]


class SlidingWindow:
    """Counts events in a rolling window; tells how long until the next one is allowed."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._events: deque[float] = deque()

    def hit(self, now: float) -> float:
        """Record an event; return 0 if allowed, else the seconds to wait (event not recorded)."""
        while self._events and now - self._events[0] >= self.seconds:
            self._events.popleft()
        if len(self._events) >= self.limit:
            return max(0.001, self.seconds - (now - self._events[0]))
        self._events.append(now)
        return 0.0

    def undo(self, now: float) -> None:
        """Take back the event just recorded at `now` (another limit refused the call)."""
        if self._events and self._events[-1] == now:
            self._events.pop()

    @property
    def used(self) -> int:
        return len(self._events)
