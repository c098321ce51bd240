"""Several sync workers on one PostgreSQL state (issue 15, sync/engine/shared.py): two runs at
once share the scopes, each item gets one comment (counted in the sandbox's request log), and
the findings equal one worker's; a scope another worker holds and never read is waited for,
then read or blind; a dead worker's leases and claims run out and its writes are taken over,
the marker lookup settling the one in flight."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pg_server import PgServer
from test_state import op

from connectors._retry import FAST_POLICY
from connectors.sandbox import Fault, Sandbox
from connectors.sandbox.demo import sandbox_config
from connectors.sandbox.generate import generate_workspace
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions, SyncResult
from sync.engine.shared import Worker
from sync.settings import Settings, load_settings
from sync.store import open_store

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
WS = generate_workspace(120, now=NOW)


def config(tmp_path: Path, sb: Sandbox, url: str, name: str, lease: float = 30) -> Settings:
    text = sandbox_config(sb, state_path="unused.db").replace(
        '\npath = "unused.db"\n', f'\nurl = "{url}"\nlease_seconds = {lease}\n', 1
    )
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


def engine(settings: Settings) -> Engine:
    conns = connect(settings, policy=FAST_POLICY)
    assert conns.errors == []
    return Engine(settings, conns.connectors, conns.scopes)


def comment_posts(sb: Sandbox) -> Counter[str]:
    """POSTs that create a comment, by the item they went to (from the sandbox's log)."""
    seen: Counter[str] = Counter()
    for e in sb.log(method="POST", write=True):
        if e.path == "/v1/comments":
            seen[f"notion:{e.body['parent']['page_id']}"] += 1
        elif e.path.endswith(("/comment", "/comments")):
            seen[e.path] += 1
    return seen


def findings(result: SyncResult) -> list[tuple[str, str, str]]:
    return sorted((f.record_key, f.code, f.subject) for f in result.findings)


def run_together(engines: list[Engine], opts: SyncOptions) -> list[Any]:
    """Each engine's run in a thread of its own, started together; results or exceptions."""
    out: list[Any] = [None] * len(engines)
    start = threading.Barrier(len(engines))

    def one(i: int) -> None:
        start.wait()
        try:
            out[i] = engines[i].run(opts)
        except Exception as exc:  # the test reports it
            out[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(engines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return out


@pytest.mark.slow
def test_two_workers_at_once_share_the_scopes_and_comment_once(
    tmp_path: Path, pg_server: PgServer
) -> None:
    shared_url, alone_url = pg_server.database(), pg_server.database()
    with Sandbox(WS) as sb, Sandbox(WS) as lone_sb:
        sb.latency = 0.01  # requests take a moment: the two workers' pulls overlap
        # Each worker pulls up to four Jira projects and four repositories side by side (their
        # budgets' width) but Notion's data sources one at a time: the first Notion query
        # hangs a moment, so the other worker takes the second data source meanwhile.
        sb.inject("POST", r"/query$", Fault(delay=2.0), times=1)
        first, second = (config(tmp_path, sb, shared_url, f"w{i}.toml") for i in (1, 2))
        results = run_together([engine(first), engine(second)], SyncOptions())
        for r in results:
            assert isinstance(r, SyncResult), r
            assert r.exit_code == 0, r.errors
        pulled = [{o.scope for o in r.scopes if not o.skipped} for r in results]
        every = {s.key for s in engine(first).scopes}
        assert pulled[0] and pulled[1], pulled  # both read a share
        assert not pulled[0] & pulled[1] and pulled[0] | pulled[1] == every
        # Each item commented once, as the sandbox's log saw the requests.
        posts = comment_posts(sb)
        assert posts and max(posts.values()) == 1, [k for k, n in posts.items() if n > 1]
        # The sends were shared too, and together the two wrote what one worker writes.
        assert all(r.applied and r.applied.done for r in results), [r.applied for r in results]

        # One worker alone on the same workspace: the same findings, the same comments.
        alone = engine(config(tmp_path, lone_sb, alone_url, "alone.toml")).run(SyncOptions())
        assert alone.exit_code == 0, alone.errors
        assert set(comment_posts(lone_sb)) == set(posts)
        assert len(sb.log(write=True)) == len(lone_sb.log(write=True))
        check = engine(first).run(SyncOptions(dry_run=True))
        lone_check = engine(config(tmp_path, lone_sb, alone_url, "a2.toml")).run(
            SyncOptions(dry_run=True)
        )
        assert findings(check) == findings(lone_check)
        assert check.ops == [], check.plan_text  # nothing left undone by the two


def test_a_skipped_scope_never_read_is_waited_for_then_blind(
    tmp_path: Path, pg_url: str
) -> None:
    from engine_fixtures import workspace

    with Sandbox(workspace()) as sb:
        settings = config(tmp_path, sb, pg_url, "c.toml", lease=1)
        with open_store(pg_url) as other:
            # Another worker leased the Jira project and never reads it (it died at once).
            assert other.lease_scopes(["jira:EXP"], "dead", datetime.now(UTC),
                                      timedelta(seconds=4)) == ["jira:EXP"]
        result = engine(settings).run(SyncOptions())  # waits until the lease runs out
        (jira,) = [o for o in result.scopes if o.scope == "jira:EXP"]
        assert jira.skipped and "never been read in full" in jira.error, jira
        assert "jira:EXP" in result.blind and result.ops == []
        assert not sb.log(write=True)  # blind: nothing written anywhere
        # The lease ran out: the next run reads the scope itself and writes.
        again = engine(settings).run(SyncOptions())
        assert again.exit_code == 0, again.errors
        assert not any(o.skipped for o in again.scopes)
        assert comment_posts(sb)


def test_a_skipped_scope_is_read_once_its_holder_has_read_it(
    tmp_path: Path, pg_url: str
) -> None:
    from engine_fixtures import workspace

    with Sandbox(workspace()) as sb:
        settings = config(tmp_path, sb, pg_url, "c.toml", lease=30)
        now = datetime.now(UTC)
        with open_store(pg_url) as other:
            other.lease_scopes(["jira:EXP"], "busy", now, timedelta(seconds=30))

        def holder_reads_it() -> None:
            # The holder ("busy", a worker that syncs Jira only) reads the project in full
            # a moment later.
            helper = engine(settings)
            with open_store(pg_url) as st:
                worker = Worker(st, settings, helper.clock)
                worker.holder = "busy"
                helper._run(st, SyncOptions(only=frozenset({"jira"})), worker)

        timer = threading.Timer(1.5, holder_reads_it)
        timer.start()
        try:
            result = engine(settings).run(SyncOptions())
        finally:
            timer.join(timeout=60)
        assert result.exit_code == 0, result.errors
        assert not result.blind
        (jira,) = [o for o in result.scopes if o.scope == "jira:EXP"]
        assert jira.skipped and not jira.error  # read by "busy", waited for
        posts = comment_posts(sb)
        assert posts and max(posts.values()) == 1


def test_supersede_spares_another_workers_live_claim(pg_url: str) -> None:
    with open_store(pg_url) as s:
        old = s.start_run(NOW)
        sending = op(1, body="v1")
        s.outbox_plan_many([sending, op(2, body="v1")], old, NOW)
        assert s.outbox_claim([sending.key], "a", NOW, timedelta(minutes=1)) == {sending.key}
        new = s.start_run(NOW)
        gone = s.outbox_supersede_items(
            [("jira", sending.item_id), ("jira", op(2).item_id)], new, NOW, "b"
        )
        assert gone == 1  # item 2's old op; a's claimed op stays a's to finish
        assert s.outbox_row(sending.key).status == "planned"
        assert s.outbox_row(op(2, body="v1").key).status == "superseded"
        # Once a's claim ran out, a newer plan replaces it too.
        later = NOW + timedelta(minutes=2)
        assert s.outbox_supersede_items([("jira", sending.item_id)], new, later, "b") == 1


def test_a_plan_leaves_alone_what_another_worker_did_since_it_began(pg_url: str) -> None:
    with open_store(pg_url) as s:
        a, b = s.start_run(NOW), s.start_run(NOW)
        label = op(1, "label.add", name="x")
        s.outbox_plan_many([label], a, NOW)
        s.outbox_sending(label, a, NOW + timedelta(seconds=5))
        s.outbox_done(label, a, NOW + timedelta(seconds=5), later=False)
        # b began reading before a's write: its plan of the same write is older than it.
        assert s.outbox_plan_many([label], b, NOW, since=NOW) == {label.key}
        assert s.outbox_row(label.key).status == "done"
        # A plan from reads after the write means the write is needed again.
        later = NOW + timedelta(seconds=9)
        assert s.outbox_plan_many([label], b, later, since=later) == set()
        assert s.outbox_row(label.key).status == "planned"


def test_two_holders_never_hold_ops_of_one_item_at_once(pg_url: str) -> None:
    ttl = timedelta(minutes=1)
    # Per item, two ops planned by two runs (two workers' plans of one item).
    with open_store(pg_url) as s:
        r1, r2 = s.start_run(NOW), s.start_run(NOW)
        mine = [op(i, body="one") for i in range(1, 41)]
        theirs = [op(i, body="two") for i in range(1, 41)]
        s.outbox_plan_many(mine, r1, NOW)
        s.outbox_plan_many(theirs, r2, NOW)
    got: dict[str, set[str]] = {}

    def claim(holder: str, ops: list[Any]) -> None:
        with open_store(pg_url) as st:
            got[holder] = set()
            for start in range(0, len(ops), 5):  # small bites, so the claimants interleave
                got[holder] |= st.outbox_claim([o.key for o in ops[start : start + 5]],
                                               holder, NOW, ttl)

    threads = [threading.Thread(target=claim, args=(h, ops))
               for h, ops in (("w1", mine), ("w2", theirs))]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    items = {h: {k.split(":")[1] for k in keys} for h, keys in got.items()}
    assert not items["w1"] & items["w2"], "two holders hold ops of one item"
    assert len(items["w1"] | items["w2"]) == 40  # every item went to one of them


def test_a_killed_workers_claims_run_out_and_its_comment_is_not_posted_twice(
    tmp_path: Path, pg_url: str
) -> None:
    import time

    import psycopg
    from engine_fixtures import workspace
    from test_crash import marker_comments

    with Sandbox(workspace()) as sb:
        settings = config(tmp_path, sb, pg_url, "c.toml", lease=1)
        assert engine(settings).run(SyncOptions()).exit_code == 0
        posts = comment_posts(sb)
        # Make it as a worker killed mid-send leaves it: its comment landed on the server, its
        # "done" never reached the state, its claim and its leases still run for a moment.
        until = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        with psycopg.connect(pg_url, autocommit=True) as db:
            key, item = db.execute(
                "SELECT op_key, item_id FROM outbox WHERE action = 'comment.create' "
                "AND system = 'jira' ORDER BY item_key LIMIT 1"
            ).fetchone()
            db.execute("UPDATE outbox SET status = 'sending', claimed_by = 'killed', "
                       "claim_until = %s WHERE op_key = %s", [until, key])  # fmt: skip
            db.execute("DELETE FROM comments WHERE system = 'jira' AND item_id = %s", [item])
        with open_store(pg_url) as s:
            s.lease_scopes(["jira:EXP", "github:acme/web"], "killed", datetime.now(UTC),
                           timedelta(seconds=1))
            assert ("jira", item) in s.unconfirmed_creates()
        # While the claim runs, no one else sends on that item.
        early = engine(settings).run(SyncOptions())
        assert early.exit_code == 0, early.errors
        assert comment_posts(sb) == posts
        time.sleep(1.2)  # the dead worker's claim and leases ran out
        rerun = engine(settings).run(SyncOptions())
        assert rerun.exit_code == 0, rerun.errors
        assert comment_posts(sb) == posts  # nothing posted again: the marker was found
        assert max(marker_comments(sb).values()) == 1, marker_comments(sb)
        with open_store(pg_url) as s:
            assert ("jira", item) not in s.unconfirmed_creates()  # settled
            assert s.comment_for(item, system="jira") is not None


def test_the_plan_lock_waits_for_another_plan_then_says_who_held_it(pg_url: str) -> None:
    import time

    from connectors.errors import StateError
    from sync.store import plan_lock

    open_store(pg_url).close()  # migrated
    with plan_lock(pg_url, 5):
        # A second worker waits (bounded) and then names the holder.
        started = time.monotonic()
        waiting = plan_lock(pg_url, 0.5)
        with pytest.raises(StateError, match=r"kept planning.*server pid \d+.*0\.5 s"):
            waiting.__enter__()
        assert time.monotonic() - started >= 0.5
    released: list[float] = []

    def second() -> None:
        with plan_lock(pg_url, 10):
            released.append(time.monotonic())

    with plan_lock(pg_url, 5):
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.6)
        assert released == []  # still waiting while the first plans
        let_go = time.monotonic()
    t.join(timeout=10)
    assert released and released[0] >= let_go  # it got the lock once the first let go
