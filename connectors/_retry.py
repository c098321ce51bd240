"""The one retry policy for all three systems, applied at the connector boundary.

The clients' own retries are switched off (they differ, and stacked under ours they multiply);
connectors translate SDK exceptions into `connectors.errors` first, then this decides:
TransientError and RateLimited are retried with Retry-After honoured, otherwise exponential
backoff with a cap, all within a deadline. A write is retried only when the caller says it is
idempotent. When the budget is spent the last error is raised, so a scope ends cleanly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base

from .errors import Interrupted, RateLimited, TransientError

__all__ = ["FAST_POLICY", "RetryPolicy", "call_with_retry", "interruptible", "pause"]

# Set while a run can be stopped by a signal (see `interruptible`): a retry's backoff or a
# Retry-After then waits on it instead of sleeping, so a signalled run ends within seconds.
_stop: threading.Event | None = None


@contextmanager
def interruptible(event: threading.Event) -> Iterator[None]:
    """While the block runs, every retry wait ends early (raising Interrupted) once `event`
    is set: a Ctrl-C must not sit out a 60 s Retry-After."""
    global _stop
    before, _stop = _stop, event
    try:
        yield
    finally:
        _stop = before


def pause(seconds: float) -> None:
    """Sleep `seconds`, unless the run is stopped first (then raise Interrupted: the call that
    would follow is not made)."""
    stop = _stop
    if stop is None:
        time.sleep(seconds)
    elif stop.wait(seconds) or stop.is_set():
        raise Interrupted("stopped by a signal while waiting to retry; the call was not made.")

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base: float = 0.5  # first backoff, doubled each attempt
    cap: float = 30.0  # longest single wait
    deadline: float = 180.0  # give up once this much time has passed since the first attempt
    max_retry_after: float = 120.0  # a longer Retry-After ends the scope instead of waiting
    timeout: float = 30.0  # per-request timeout connectors pass to their clients


# For tests: same behaviour, tiny waits.
FAST_POLICY = RetryPolicy(attempts=4, base=0.01, cap=0.05, deadline=10.0, max_retry_after=2.0)


class _stop_after_deadline(stop_base):
    """Stop when the next wait would end past the deadline."""

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float]) -> None:
        self.policy = policy
        self.clock = clock
        self.start = clock()

    def __call__(self, retry_state: RetryCallState) -> bool:
        nxt = retry_state.upcoming_sleep or 0.0
        return self.clock() - self.start + nxt > self.policy.deadline


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    idempotent: bool = True,
    sleep: Callable[[float], None] = pause,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run `fn` under the policy; `fn` raises connectors.errors exceptions only."""

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            if exc.retry_after > policy.max_retry_after:
                raise exc  # waiting that long would stall the run: end the scope now
            return max(0.0, exc.retry_after)
        backoff: float = policy.base * (2 ** (state.attempt_number - 1))
        return min(policy.cap, backoff)

    def retry_on(exc: BaseException) -> bool:
        # Rate limits are answered before anything is done, so even a write may be re-sent.
        if isinstance(exc, RateLimited):
            return True
        return isinstance(exc, TransientError) and idempotent

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts) | _stop_after_deadline(policy, clock),
        wait=wait,
        retry=retry_if_exception(retry_on),
        sleep=sleep,
        reraise=True,
    )
    return retrying(fn)
