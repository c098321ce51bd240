"""Nothing lost with several workers (issue 15, sync/engine/claimed.py `Claims.more`): a write
another worker's claim on its item kept from this worker is sent once that claim is gone, a
dead worker's plan in the outbox is sent by the next worker (once, the marker looked up for a
create first), and a worker settling clears only the taken-up marks its own plan read. All on
PostgreSQL, the requests counted in the sandbox's request log."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import requests
from engine_fixtures import workspace
from test_crash import AUTH, marker_comments
from test_workers_engine import comment_posts, config, engine

from connectors.base import WriteOp
from connectors.sandbox import Sandbox
from sync.engine.apply import apply
from sync.engine.claimed import Claims
from sync.engine.run import SyncOptions
from sync.store import Store, open_store

EXP3 = "10002"  # the Jira issue EXP-3: a comment and two labels planned on it


def _plan(settings: object) -> dict[str, WriteOp]:
    """What one worker plans for the fresh workspace, by (item id, action, label)."""
    ops = engine(settings).run(SyncOptions(dry_run=True)).ops  # type: ignore[arg-type]
    return {f"{o.item_id}:{o.action}:{o.name}": o for o in ops}


def _apply_as(
    state: Store, settings: object, holder: str, ttl: float, ops: list[WriteOp], run: int
) -> object:
    conns = engine(settings).connectors  # type: ignore[arg-type]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731
    return apply(
        ops,
        conns,
        state,
        run_id=run,
        now=clock,
        planned=set(),
        claims=lambda mine: Claims(state, holder, timedelta(seconds=ttl), clock, mine),
    )


def test_a_write_kept_by_another_workers_claim_on_its_item_is_sent_once_it_is_gone(
    tmp_path: Path, pg_url: str
) -> None:
    with Sandbox(workspace()) as sb:
        settings = config(tmp_path, sb, pg_url, "c.toml", lease=10)
        plan = _plan(settings)
        label = plan[f"{EXP3}:label.add:handoff:missing-fields"]
        comment = plan[f"{EXP3}:comment.create:"]
        now = datetime.now(UTC)
        with open_store(pg_url) as s:
            a, b = s.start_run(now), s.start_run(now)
            s.outbox_plan_many([label], a, now)
            s.outbox_plan_many([comment], b, now)
            # Worker A holds its label write on EXP-3 (it is sending it).
            assert s.outbox_claim([label.key], "A", now, timedelta(seconds=30)) == {label.key}
        released: list[float] = []

        def a_finishes() -> None:
            with open_store(pg_url) as st:
                at = datetime.now(UTC)
                st.outbox_sending(label, a, at)
                st.outbox_done(label, a, at, later=False)
                st.outbox_unclaim("A")
                released.append(time.monotonic())

        timer = threading.Timer(1.0, a_finishes)
        timer.start()
        try:
            with open_store(pg_url) as s:
                report = _apply_as(s, settings, "B", 10, [comment], b)
                row = s.outbox_row(comment.key)
        finally:
            timer.join(timeout=30)
        assert report.done == 1 and report.elsewhere == 0, report  # type: ignore[attr-defined]
        assert report.ok, report.failures  # type: ignore[attr-defined]
        assert row is not None and row.status == "done"
        posts = [e for e in sb.log(method="POST", write=True) if e.path.endswith("/comment")]
        assert len(posts) == 1 and (EXP3 in posts[0].path or "EXP-3" in posts[0].path), posts
        assert released and posts[0].at >= released[0] - 0.5  # sent after A let go, not before
        assert not [e for e in sb.log(write=True) if "labels" in str(e.body)], "A's label twice"
        assert max(marker_comments(sb).values()) == 1


def test_a_write_still_kept_at_the_bound_is_reported_and_its_item_stays_taken_up(
    tmp_path: Path, pg_url: str
) -> None:
    with Sandbox(workspace()) as sb:
        settings = config(tmp_path, sb, pg_url, "c.toml", lease=10)
        plan = _plan(settings)
        label = plan[f"{EXP3}:label.add:handoff:missing-fields"]
        comment = plan[f"{EXP3}:comment.create:"]
        now = datetime.now(UTC)
        with open_store(pg_url) as s:
            a, b = s.start_run(now), s.start_run(now)
            s.outbox_plan_many([label], a, now)
            s.outbox_plan_many([comment], b, now)
            s.outbox_claim([label.key], "A", now, timedelta(seconds=60))  # A is slow
            started = time.monotonic()
            report = _apply_as(s, settings, "B", 1, [comment], b)
            waited = time.monotonic() - started
            assert s.outbox_row(comment.key).status == "planned"  # still to send, A's to find
        assert 1 <= waited < 10
        assert not sb.log(write=True)
        assert report.done == 0 and report.elsewhere == 1  # type: ignore[attr-defined]
        (failure,) = report.failures  # type: ignore[attr-defined]
        assert not failure.attempted and "next run sends it" in failure.message, failure
        assert report.held == {("jira", EXP3)}  # type: ignore[attr-defined]


def test_a_dead_workers_plan_in_the_outbox_is_sent_once_by_the_next_worker(
    tmp_path: Path, pg_url: str
) -> None:
    with Sandbox(workspace()) as sb:
        settings = config(tmp_path, sb, pg_url, "c.toml", lease=2)
        assert engine(settings).run(SyncOptions()).exit_code == 0
        before = comment_posts(sb)
        gone_at: list[float] = []

        def dead_worker_planned(phase: str, done: int, total: int) -> None:
            # Another worker put its plan in the outbox after this one planned, claimed it,
            # and died: on EXP-3 before sending (our comment there is gone since: it must be
            # posted again), on EXP-2 while sending (its comment landed, unheard of).
            if phase != "write" or gone_at:
                return
            gone_at.append(time.monotonic())
            at = datetime.now(UTC)
            with psycopg.connect(pg_url, autocommit=True) as db:
                dead_run = db.execute(
                    "INSERT INTO runs (started, dry_run) VALUES (%s, 0) RETURNING id",
                    [at.isoformat()],
                ).fetchone()[0]
                rows = dict(
                    db.execute(
                        "SELECT item_id, target FROM outbox WHERE system = 'jira' "
                        "AND action = 'comment.create'"
                    ).fetchall()
                )
                requests.delete(
                    f"{sb.url}/rest/api/2/issue/EXP-3/comment/{rows[EXP3]}",
                    auth=AUTH["jira"],
                    timeout=5,
                ).raise_for_status()
                expired = (at - timedelta(seconds=5)).isoformat(timespec="microseconds")
                for item, status, tries in ((EXP3, "planned", 0), ("10001", "sending", 1)):
                    db.execute(
                        "UPDATE outbox SET status = %s, attempts = %s, run_id = %s, "
                        "claimed_by = 'dead', claim_until = %s, updated_at = %s "
                        "WHERE system = 'jira' AND item_id = %s AND action = 'comment.create'",
                        [status, tries, dead_run, expired,
                         at.isoformat(timespec="microseconds"), item],
                    )  # fmt: skip
                    db.execute(
                        "DELETE FROM comments WHERE system = 'jira' AND item_id = %s", [item]
                    )

        worker = engine(settings)
        worker.progress = dead_worker_planned
        result = worker.run(SyncOptions())
        assert gone_at, "the run never reached its writes"
        assert result.exit_code == 0, result.errors
        new = comment_posts(sb) - before
        assert sum(new.values()) == 1 and all(EXP3 in k or "EXP-3" in k for k in new), new
        assert max(marker_comments(sb).values()) == 1, marker_comments(sb)  # none twice
        looked = {
            e.path
            for e in sb.log(method="GET")
            if e.at >= gone_at[0] and e.path.endswith("/comment")
        }
        assert any("EXP-2" in p or "10001" in p for p in looked), looked  # marker looked up
        with open_store(pg_url) as s:
            for item in (EXP3, "10001"):
                rows = [r for r in s.outbox() if r.op.item_id == item
                        and r.op.action == "comment.create"]  # fmt: skip
                assert [r.status for r in rows] == ["done"], rows
                assert s.comment_for(item, system="jira") is not None
            assert ("jira", "10001") not in s.unconfirmed_creates()


def test_settling_clears_only_the_marks_this_run_took_up(tmp_path: Path, pg_url: str) -> None:
    with Sandbox(workspace()) as sb:
        settings = config(tmp_path, sb, pg_url, "c.toml", lease=10)
        assert engine(settings).run(SyncOptions()).exit_code == 0
        old, both, later = ("jira", "10000"), ("github", "acme/web#1"), ("jira", "10001")
        with open_store(pg_url) as s:
            s.mark_dirty([old, both])  # left by a run that stopped before its plan
        marked: list[bool] = []

        def another_worker_takes_up(phase: str, done: int, total: int) -> None:
            # After this run planned: another worker's plan takes these up, then it dies
            # before its writes reach the outbox.
            if phase == "write" and not marked:
                with open_store(pg_url) as st:
                    st.mark_dirty([both, later])
                marked.append(True)

        worker = engine(settings)
        worker.progress = another_worker_takes_up
        result = worker.run(SyncOptions())
        assert marked and result.exit_code == 0, result.errors
        with open_store(pg_url) as s:
            left = s.dirty_items()
        assert old not in left  # this run took it up and planned it through
        assert {both, later} <= left, left  # the other worker's marks survive for the next run
