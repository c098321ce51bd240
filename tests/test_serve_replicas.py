"""`handoff serve` replicas on one state share its inbox: each delivery is synced by exactly one
replica (its worker claims the rows it syncs), none is lost, and the rows a replica killed
mid-sync had claimed go to another replica once the claim expires (issue 15)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync.serve.metrics import Metrics
from sync.serve.worker import Outcome, Timing, Worker
from sync.store import InboxRow, Store, open_store

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TTL = timedelta(seconds=30)


@pytest.fixture(params=["sqlite", "postgres"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One state both replicas open, on each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "state.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def two(where: str) -> Iterator[tuple[Store, Store]]:
    with open_store(where) as a, open_store(where) as b:
        yield a, b


def _put(store: Store, n: int, items: int = 10, start: int = 0) -> None:
    for i in range(start, start + n):
        store.inbox_put("jira", f"d{i}", b"{}", datetime.now(UTC), subject=f"EXP-{i % items}")


# -- the verbs ---------------------------------------------------------------------------------
def test_a_claimed_row_is_no_one_elses_until_its_claim_expires(two: tuple[Store, Store]) -> None:
    a, b = two
    _put(a, 3)
    mine = a.inbox_claim("r1", T0, TTL)
    assert [r.delivery for r in mine] == ["d0", "d1", "d2"]
    assert b.inbox_claim("r2", T0 + timedelta(seconds=1), TTL) == []
    # r2 does not even see them pending; r1 still does (its own), and so does a plain look.
    assert b.inbox_pending(holder="r2", now=T0) == []
    assert len(a.inbox_pending(holder="r1", now=T0)) == 3 and len(b.inbox_pending()) == 3
    # r1 renews only what it names; expired, the rest is r2's to take.
    renewed = a.inbox_claim("r1", T0 + timedelta(seconds=20), TTL, only=[mine[0].n])
    assert [r.n for r in renewed] == [mine[0].n]
    later = T0 + TTL + timedelta(seconds=1)
    assert [r.delivery for r in b.inbox_claim("r2", later, TTL)] == ["d1", "d2"]
    # given back, a row is free at once; a done row is never claimed again.
    assert a.inbox_unclaim("r1") == 1
    assert [r.delivery for r in b.inbox_claim("r2", later, TTL)] == ["d0", "d1", "d2"]
    b.inbox_done([r.n for r in mine], later, run_id=5)
    assert a.inbox_claim("r1", later + TTL * 2, TTL) == []


def test_two_claimants_at_once_never_take_the_same_row(two: tuple[Store, Store]) -> None:
    a, b = two
    _put(a, 200)
    got: dict[str, list[int]] = {"r1": [], "r2": []}

    def take(store: Store, holder: str) -> None:
        for _ in range(40):
            rows = store.inbox_claim(holder, datetime.now(UTC), TTL, limit=7)
            got[holder] += [r.n for r in rows]
            store.inbox_done([r.n for r in rows], datetime.now(UTC), run_id=None)

    threads = [threading.Thread(target=take, args=(s, h)) for s, h in ((a, "r1"), (b, "r2"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not set(got["r1"]) & set(got["r2"])
    assert sorted(got["r1"] + got["r2"]) == sorted(r.n for r in a.inbox_since())


# -- two workers -------------------------------------------------------------------------------
def _worker(store: Store, runs: int, synced: dict[int, list[int]], ttl: float = 30.0) -> Worker:
    counter = iter(range(runs, runs + 10_000))
    lock = threading.Lock()

    def sync(batch: list[InboxRow], poll: bool) -> Outcome:
        rid = next(counter)
        time.sleep(0.05)  # a sync takes a while: the other replica runs meanwhile
        with lock:
            synced[rid] = [r.n for r in batch]
        return Outcome(rid, ok=True, interrupted=False)

    worker = Worker(store, sync, Timing(0.05, 0.3, 3600.0, ttl), Metrics())
    worker.last_poll = datetime.now(UTC)  # no poll at start here
    return worker


def test_two_replicas_sync_each_delivery_exactly_once(two: tuple[Store, Store]) -> None:
    a, b = two
    synced: dict[int, list[int]] = {}
    workers = [_worker(a, 1000, synced), _worker(b, 2000, synced)]
    assert workers[0].holder != workers[1].holder
    threads = [threading.Thread(target=w.run) for w in workers]
    for t in threads:
        t.start()
    try:
        for i in range(0, 100, 10):  # deliveries keep arriving, at either replica
            _put(a if i % 20 else b, 10, start=i)
            for w in workers:
                w.wake()
            time.sleep(0.05)
        deadline = time.monotonic() + 30
        while a.inbox_pending() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        for w in workers:
            w.stop()
        for t in threads:
            t.join(10)
    rows = a.inbox_since()
    assert len(rows) == 100 and all(r.done_at is not None for r in rows)
    taken = [n for batch in synced.values() for n in batch]
    assert sorted(taken) == sorted(r.n for r in rows)  # each once: none twice, none lost
    by_run = {n: rid for rid, batch in synced.items() for n in batch}
    assert {r.n: r.run_id for r in rows} == by_run  # the row says which replica's sync it was
    assert {rid // 1000 for rid in synced} == {1, 2}  # both replicas did a share
    assert a.inbox_unclaim(workers[0].holder) == 0  # stopped, each gave its claims back
    assert b.inbox_unclaim(workers[1].holder) == 0


_REPLICA = textwrap.dedent(
    """
    import sys, threading
    from datetime import UTC, datetime
    from sync.serve.metrics import Metrics
    from sync.serve.worker import Outcome, Timing, Worker
    from sync.store import open_store

    def sync(batch, poll):
        print("syncing", len(batch), flush=True)
        threading.Event().wait()  # stuck mid-sync until killed

    store = open_store(sys.argv[1])
    worker = Worker(store, sync, Timing(0.0, 0.0, 3600.0, float(sys.argv[2])), Metrics())
    worker.last_poll = datetime.now(UTC)
    worker.run()
    """
)


def test_a_killed_replicas_deliveries_go_to_the_other_when_its_claim_expires(where: str) -> None:
    ttl = 1.5
    with open_store(where) as store:
        _put(store, 5)
    child = subprocess.Popen(
        [sys.executable, "-c", _REPLICA, where, str(ttl)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    synced: dict[int, list[int]] = {}
    try:
        assert child.stdout is not None
        assert child.stdout.readline().split() == ["syncing", "5"]
        with open_store(where) as store:
            worker = _worker(store, 1, synced, ttl=ttl)
            thread = threading.Thread(target=worker.run)
            thread.start()
            try:
                # Alive, the replica renews its claim: twice the ttl later, still its own.
                time.sleep(ttl * 2)
                assert synced == {}
                child.send_signal(signal.SIGKILL)
                child.wait(10)
                killed = time.monotonic()
                while store.inbox_pending() and time.monotonic() < killed + 20:
                    worker.wake()
                    time.sleep(0.05)
                took = time.monotonic() - killed
            finally:
                worker.stop()
                thread.join(10)
            rows = store.inbox_since()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert [n for batch in synced.values() for n in batch] == [r.n for r in rows]
    assert all(r.run_id == 1 for r in rows)
    assert took < ttl + 10  # taken once the claim ran out, not at some later poll
