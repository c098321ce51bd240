"""The one retry policy: what it retries, how long it waits, when it gives up."""

from __future__ import annotations

import pytest

from connectors._retry import RetryPolicy, call_with_retry
from connectors.errors import AuthError, RateLimited, TransientError

POLICY = RetryPolicy(attempts=4, base=1.0, cap=3.0, deadline=100.0, max_retry_after=30.0)


def flaky(errors: list[Exception], result: str = "ok"):
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        if errors:
            raise errors.pop(0)
        return result

    return fn, calls


def test_transient_errors_are_retried_with_capped_exponential_backoff() -> None:
    waits: list[float] = []
    errs: list[Exception] = [TransientError("500", system="github")] * 3
    fn, calls = flaky(list(errs))
    assert call_with_retry(fn, POLICY, sleep=waits.append) == "ok"
    assert calls["n"] == 4
    assert waits == [1.0, 2.0, 3.0]


def test_retry_after_is_honoured() -> None:
    waits: list[float] = []
    fn, _ = flaky([RateLimited("429", system="jira", retry_after=7)])
    assert call_with_retry(fn, POLICY, sleep=waits.append) == "ok"
    assert waits == [7]


def test_a_retry_after_beyond_the_budget_ends_at_once() -> None:
    waits: list[float] = []
    fn, calls = flaky([RateLimited("429", system="notion", retry_after=3600)])
    with pytest.raises(RateLimited):
        call_with_retry(fn, POLICY, sleep=waits.append)
    assert calls["n"] == 1 and waits == []


def test_non_idempotent_writes_are_not_retried_after_a_5xx() -> None:
    fn, calls = flaky([TransientError("500", system="github")])
    with pytest.raises(TransientError):
        call_with_retry(fn, POLICY, idempotent=False, sleep=lambda s: None)
    assert calls["n"] == 1


def test_auth_errors_are_never_retried() -> None:
    fn, calls = flaky([AuthError("401", system="jira")])
    with pytest.raises(AuthError):
        call_with_retry(fn, POLICY, sleep=lambda s: None)
    assert calls["n"] == 1


def test_attempts_are_bounded() -> None:
    fn, calls = flaky([TransientError("503", system="jira")] * 10)
    with pytest.raises(TransientError):
        call_with_retry(fn, POLICY, sleep=lambda s: None)
    assert calls["n"] == POLICY.attempts


def test_deadline_stops_before_a_wait_that_would_pass_it() -> None:
    now = {"t": 0.0}
    policy = RetryPolicy(attempts=50, base=10.0, cap=10.0, deadline=25.0)

    def sleep(s: float) -> None:
        now["t"] += s

    fn, calls = flaky([TransientError("503", system="jira")] * 50)
    with pytest.raises(TransientError):
        call_with_retry(fn, policy, sleep=sleep, clock=lambda: now["t"])
    assert calls["n"] == 3  # waits at 0->10->20; a third wait would end at 30 > 25
