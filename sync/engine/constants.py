"""Constant reads cached in the state with a time-to-live (issue 13): who we are, Jira's
field list, the people and groups, Notion's data source ids.

An answer is kept under the system, a digest of its URL and token, and its name: a different
token or site never sees another's answers, so a wrong token still meets the service at once
(its first request is refused, as before). A person who joins, leaves or is deactivated shows
once the answer is older than `[cache] ttl_hours` (24 by default), or at once with `--full`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sync.store import Store

__all__ = ["ConstantCache", "SystemConstants", "identity"]


def identity(url: str, token: str) -> str:
    """A short digest of where and as whom (never the token itself)."""
    return hashlib.sha256(f"{url.rstrip('/')}\0{token}".encode()).hexdigest()[:16]


class ConstantCache:
    """One run's constant answers: those stored by earlier runs, and those asked now."""

    def __init__(
        self,
        stored: Mapping[str, tuple[str, datetime]],
        *,
        now: datetime,
        ttl: timedelta,
        refresh: bool = False,
    ) -> None:
        # `refresh` (--full): every answer is asked again, then kept.
        self._stored = {} if refresh else {
            k: text for k, (text, at) in stored.items() if now - at < ttl
        }
        self.now = now
        self._fresh: dict[str, tuple[str, datetime]] = {}
        self._lock = threading.Lock()  # scopes pull side by side

    def view(self, system: str, who: str) -> SystemConstants:
        return SystemConstants(self, f"{system}:{who}:")

    def get(self, key: str) -> Any | None:
        with self._lock:
            text = self._fresh.get(key, (None, None))[0] or self._stored.get(key)
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return None

    def put(self, key: str, value: Any) -> None:
        text = json.dumps(value, sort_keys=True)
        with self._lock:
            self._fresh[key] = (text, self.now)

    def save(self, state: Store) -> None:
        """Keep what this run asked (once: later calls add only newer answers)."""
        with self._lock:
            fresh, self._fresh = self._fresh, {}
            self._stored.update({k: text for k, (text, _) in fresh.items()})
        state.put_constants(fresh)


class SystemConstants:
    """One system's answers, as its connector sees them (`connectors.constants.Constants`)."""

    def __init__(self, cache: ConstantCache, prefix: str) -> None:
        self.cache = cache
        self.prefix = prefix

    def get(self, name: str) -> Any | None:
        return self.cache.get(self.prefix + name)

    def put(self, name: str, value: Any) -> None:
        self.cache.put(self.prefix + name, value)
