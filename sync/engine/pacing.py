"""Pacing writes under each system's budget, and the flag that stops a run's writes early.

Both are shared by the apply threads of one run: the pacer keeps each system under its write
budget, and `Stop` (set from a signal handler) cuts a pacing pause or a write loop short.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from connectors.errors import ConfigError, Interrupted
from connectors.window import SlidingWindow
from sync import systems
from sync.settings import Settings
from sync.systems.spec import Budget

__all__ = [
    "DEFAULT_BUDGETS",
    "Budget",
    "Pacer",
    "Stop",
    "budgets_for",
    "default_budgets",
    "drain_seconds",
]


# Each registered system's write budget (see `sync.systems`: GitHub's secondary limit,
# Notion's three requests a second with a margin, Jira's own pace).
default_budgets = systems.budgets


# The budgets of the systems shipped; `Pacer()` reads the registry when it is made.
DEFAULT_BUDGETS: Mapping[str, Budget] = default_budgets()


def budgets_for(settings: Settings) -> dict[str, Budget]:
    """Each system's budget: the registry's, with what `[pacing.<system>]` sets over it."""
    budgets = default_budgets()
    for name, given in settings.pacing.items():
        if name not in budgets:
            raise ConfigError(
                f"[pacing.{name}]: no such system; expected one of {', '.join(budgets)}."
            )
        budgets[name] = replace(budgets[name], **given.model_dump(exclude_none=True))
    return budgets


def drain_seconds(systems_of_writes: Iterable[str], budgets: Mapping[str, Budget]) -> float:
    """How long writes to these systems take at their budgets: each system writes one at a
    time within its own budget, the systems side by side (reads and retries not counted, so
    it is the least it can take)."""
    counts: dict[str, int] = {}
    for system in systems_of_writes:
        counts[system] = counts.get(system, 0) + 1
    longest = 0.0
    for system, n in counts.items():
        budget = budgets.get(system)
        if budget is not None and budget.rate > 0 and n > budget.rate:
            # The first `rate` go at once; every further `rate` waits one window.
            longest = max(longest, (n - budget.rate) / budget.rate * budget.per)
    return longest


class Pacer:
    """Keeps each system's calls under its budget with a sliding window: never more than
    `rate` calls in any `per` seconds, which a token bucket's initial burst would break."""

    def __init__(
        self,
        budgets: Mapping[str, Budget] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.budgets = dict(default_budgets() if budgets is None else budgets)
        self.clock = clock
        self.sleep = sleep
        self._windows: dict[str, list[SlidingWindow]] = {}
        self._locks = {system: threading.Lock() for system in self.budgets}
        self._gated: set[str] = set()  # systems whose reads are paced per request

    def wait(self, system: str, *, write: bool = True, halt: Stop | None = None) -> float:
        """Block until one more call to `system` fits its budget; returns seconds waited.
        Once `halt` is set the pause ends at once with Interrupted (the call is not made):
        GitHub's budget can mean a minute's wait, and a Ctrl-C must not sit it out.

        A read of a system whose connector paces each read request itself (`read_gate`) is
        not counted here too: the requests it makes are."""
        if not write and system in self._gated:
            return 0.0
        return self._pace(system, write=write, halt=halt)

    def _pace(self, system: str, *, write: bool, halt: Stop | None = None) -> float:
        budget = self.budgets.get(system)
        if budget is None or budget.rate <= 0 or not (write or budget.reads):
            return 0.0
        waited = 0.0
        with self._locks[system]:
            windows = self._windows.get(system)
            if windows is None:
                windows = self._windows[system] = _windows_of(budget)
            while pause := _hit(windows, self.clock()):
                waited += pause
                if halt is None:
                    self.sleep(pause)
                elif halt.wait(pause):
                    raise Interrupted(f"stopped ({halt.reason}) while pacing {system}'s writes.")
            return waited

    def read_gate(self, system: str) -> Callable[[], None]:
        """What a connector calls before each read request (`connectors.gate`): a pause
        when `system`'s budget counts reads, else nothing. From then on `wait` leaves that
        system's reads to the gate."""

        self._gated.add(system)

        def gate() -> None:
            self._pace(system, write=False)

        return gate

    def width(self, system: str) -> int:
        """How many of `system`'s scopes to pull side by side."""
        budget = self.budgets.get(system)
        return max(1, budget.width) if budget else 1


def _windows_of(budget: Budget) -> list[SlidingWindow]:
    windows = [SlidingWindow(budget.rate, budget.per)]
    if budget.burst > 0:
        windows.append(SlidingWindow(budget.burst, 1.0))
    return windows


def _hit(windows: list[SlidingWindow], now: float) -> float:
    """0 when one more call fits every window (and it is counted in each), else the pause."""
    for i, window in enumerate(windows):
        pause = window.hit(now)
        if pause:
            for earlier in windows[:i]:
                earlier.undo(now)
            return pause
    return 0.0


class Stop:
    """Asked from a signal handler: each system finishes the write in flight, and its
    remaining writes are recorded as not attempted (the next run's plan sends them).

    `writing` says the run has reached its writes; before that a signal need not wait for
    anything (see `sync.commands.cli`)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""
        self.writing = False

    def set(self, reason: str) -> None:
        self.reason = self.reason or reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True (at once) when the run is asked to stop."""
        return self._event.wait(seconds)

    @property
    def event(self) -> threading.Event:
        return self._event
