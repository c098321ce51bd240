"""Several workers on one state: each scope leased by one worker, each outbox write claimed by
one (sync/store/sqlite/claims.py); on PostgreSQL, claimants at once skip, never wait for,
the rows another is claiming."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
from test_state import op

from sync.store import Store, open_store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TTL = timedelta(minutes=1)


def test_a_scope_is_leased_to_one_worker_until_its_lease_expires(backend_state: Store) -> None:
    s = backend_state
    assert s.lease_scopes(["jira:EXP", "github:a/b"], "w1", T0, TTL) == ["jira:EXP", "github:a/b"]
    # Another worker skips what w1 holds and takes what is free.
    assert s.lease_scopes(["jira:EXP", "notion:db"], "w2", T0, TTL) == ["notion:db"]
    # w1 renews its own; w2 still cannot have it before the renewed lease runs out.
    later = T0 + timedelta(seconds=50)
    assert s.lease_scopes(["jira:EXP"], "w1", later, TTL) == ["jira:EXP"]
    assert s.lease_scopes(["jira:EXP"], "w2", T0 + timedelta(seconds=70), TTL) == []
    # w1 died: once its lease expired, w2 takes the scope over.
    assert s.lease_scopes(["jira:EXP"], "w2", later + TTL, TTL) == ["jira:EXP"]
    assert s.leases("w1") == ["github:a/b"]
    assert s.release_scopes("w1") == 1 and s.leases("w1") == []
    assert s.leases("w2") == ["jira:EXP", "notion:db"]


def test_a_write_is_claimed_by_one_worker_and_a_dead_ones_claim_expires(
    backend_state: Store,
) -> None:
    s = backend_state
    run = s.start_run(T0)
    ops = [op(1), op(2), op(3, "label.add", name="x")]
    s.outbox_plan_many(ops, run, T0)
    keys = [o.key for o in ops]
    assert s.outbox_claim(keys, "w1", T0, TTL) == set(keys)
    assert s.outbox_claim(keys, "w2", T0 + timedelta(seconds=30), TTL) == set()
    # w1 sends op 1 and dies before it learns the answer; it finished op 3.
    s.outbox_sending(ops[0], run, T0)
    s.outbox_sending(ops[2], run, T0)
    s.outbox_done(ops[2], run, T0, target="", later=False)
    after = T0 + TTL + timedelta(seconds=1)
    # w2 gets what w1 left undone; a done write is no one's to send again.
    assert s.outbox_claim(keys, "w2", after, TTL) == {ops[0].key, ops[1].key}
    # The create w1 may have landed is unconfirmed: w2's apply looks for its marker first.
    assert ("jira", ops[0].item_id) in s.unconfirmed_creates()
    assert s.outbox_unclaim("w2") == 2
    assert s.outbox_claim(keys, "w1", after, TTL) == {ops[0].key, ops[1].key}


def test_claimants_at_once_on_postgres_skip_what_another_is_claiming(pg_url: str) -> None:
    with open_store(pg_url) as s:
        run = s.start_run(T0)
        ops = [op(i) for i in range(1, 4)]
        s.outbox_plan_many(ops, run, T0)
    # Another worker's transaction holds op 1's row (it is claiming it right now).
    other = psycopg.connect(pg_url)
    try:
        other.execute("SELECT op_key FROM outbox WHERE op_key = %s FOR UPDATE", [ops[0].key])
        got: list[set[str]] = []
        with open_store(pg_url) as s2:
            t = threading.Thread(
                target=lambda: got.append(s2.outbox_claim([o.key for o in ops], "w2", T0, TTL))
            )
            t.start()
            t.join(timeout=10)
            waited = t.is_alive()
            other.rollback()  # lets a claimant that waited go on, so the test ends
            t.join(timeout=10)
        assert not waited, "a claimant waited for another's row instead of skipping it"
        assert got == [{ops[1].key, ops[2].key}]
    finally:
        other.close()


def test_many_claimants_on_postgres_split_the_writes_without_overlap(pg_url: str) -> None:
    ops = [op(i) for i in range(1, 301)]
    keys = [o.key for o in ops]
    with open_store(pg_url) as s:
        s.outbox_plan_many(ops, s.start_run(T0), T0)
    got: dict[str, set[str]] = {}

    def claim(holder: str) -> None:
        with open_store(pg_url) as mine:
            got[holder] = set()
            for start in range(0, len(keys), 25):  # small bites, so the claimants interleave
                got[holder] |= mine.outbox_claim(keys[start : start + 25], holder, T0, TTL)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    claimed = [k for mine in got.values() for k in mine]
    assert sorted(claimed) == sorted(keys)  # each write claimed, and by one worker only
