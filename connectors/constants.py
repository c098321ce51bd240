"""Answers that rarely change, kept between runs: who we are, Jira's field list, the people
and groups, a Notion database's data source ids.

The engine hands each connector a `Constants` (`sync.engine.constants`): the answers stored by
an earlier run with this very URL and token, younger than the configured time-to-live. A
connector asks the service only for what it does not find there, and puts the answer back.
Without one (tests, `handoff doctor`) every answer is asked once per connector, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any, Protocol, TypeVar

from .base import Account

__all__ = ["Constants", "Remembers", "accounts_from", "accounts_to"]

T = TypeVar("T")


class Constants(Protocol):
    def get(self, name: str) -> Any | None:
        """The stored answer (JSON values), or None when there is none or it is too old."""
        ...

    def put(self, name: str, value: Any) -> None:
        """Keep a fresh answer (JSON values only)."""
        ...


class Remembers:
    """Mixed into a connector: `constants` is set by `sync.engine.connect`."""

    constants: Constants | None = None

    def _constant(self, name: str, ask: Callable[[], T], load: Callable[[Any], T]) -> T:
        """The answer to `name`: from `constants` (rebuilt by `load`), else asked (and kept)."""
        cache = self.constants
        if cache is not None:
            stored = cache.get(name)
            if stored is not None:
                try:
                    return load(stored)
                except (TypeError, ValueError, KeyError):
                    pass  # a stored answer of another shape: ask again
        value = ask()
        if cache is not None:
            cache.put(name, value)
        return value


def accounts_to(accounts: Iterable[Account]) -> list[dict[str, Any]]:
    return [asdict(a) for a in accounts]


def accounts_from(stored: Any) -> list[dict[str, Any]]:
    """Stored accounts, checked: a list of objects that make an `Account` each."""
    if not isinstance(stored, list):
        raise TypeError("not a list of accounts")
    for a in stored:
        Account(**a)  # raises TypeError on a missing or unknown key
    return stored
