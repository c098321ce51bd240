"""The one sliding window, shared by the sandbox's rate limits and the write pacer."""

from __future__ import annotations

from connectors.window import SlidingWindow
from sync.engine.pacing import Budget, Pacer


def test_the_window_admits_limit_events_then_says_how_long_to_wait() -> None:
    w = SlidingWindow(2, 10.0)
    assert w.hit(0.0) == 0.0 and w.hit(1.0) == 0.0
    assert w.hit(4.0) == 6.0  # the first event leaves the window at 10
    assert w.used == 2  # a refused event is not counted
    assert w.hit(10.0) == 0.0  # the first one left: room again


def test_the_pacer_waits_exactly_what_the_window_says() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    pacer = Pacer({"github": Budget(2, 60.0)}, clock=lambda: now[0], sleep=sleep)
    assert [pacer.wait("github") for _ in range(3)] == [0.0, 0.0, 60.0]
    assert slept == [60.0]  # never a third call inside any 60 s, and no burst past it
