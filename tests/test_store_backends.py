"""The store on both backends: every verb of `Store` gives the same answers on SQLite and on a
real PostgreSQL (tests/pg_server.py), and the pieces PostgreSQL does its own way (opening and
migrating, the run lock, a dry run's copy, errors) keep their promises.

tests/test_state.py runs unchanged on both backends too (its `state` fixture is
`backend_state`); this module adds the verbs it does not reach and compares the two backends
answer for answer.
"""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from stand_ins import Rec, Src, finding
from test_state import item, op

from connectors.base import Cursor, Said, SourceItem, WriteOp, WriteResult
from connectors.errors import LockHeld, StateError
from mapping.notify import Notice
from sync.store import Store, copy_of, discard, exists, open_store, read_constants, run_lock
from sync.store.protocol import Store as StoreProtocol

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HERE = Path(__file__).resolve().parent


def _plain(value: Any) -> Any:
    """A result in a form two backends' answers compare in (sets sorted, rows as tuples)."""
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {repr(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def exercise(s: Store) -> list[tuple[str, Any]]:
    """Call every verb of `Store` in a plausible order; what each answered, by name."""
    out: list[tuple[str, Any]] = []

    def say(name: str, value: Any) -> None:
        out.append((name, _plain(value)))

    run = s.start_run(T0)
    say("start_run", run)
    items = [item(1, labels=("a",)), item(2), item(3)]
    say("upsert_items", s.upsert_items(items, run, T0))
    say("upsert_items again", s.upsert_items(items, run, T0))
    s.mark_item("jira", "10003", "deleted")
    s.set_activity("jira", "10002", T0 + timedelta(hours=1), echo=T0 + timedelta(hours=2))
    say("iter_items", list(s.iter_items(system="jira")))
    say("iter_items scope", [i.id for i in s.iter_items(scope="jira:EXP")])
    say("item", s.item("jira", "10002"))
    say("item_labels", s.item_labels("jira", "10001"))
    rec = Rec("EXP-1", "One", "design", (Src("jira", "10001"), Src("jira", "10002")))
    say("upsert_records", s.upsert_records([rec], T0))
    say("record_items", s.record_items("EXP-1"))
    say("records", s.records())
    # links and due times
    say("stale_links", s.stale_links())
    rows = [
        ("jira", "10001", True, "EXP", ("key:EXP-1",), "c1", '{"x": 1}'),
        ("jira", "10002", True, "EXP", ("key:EXP-1", "key:EXP-2"), "c2", None),
        ("jira", "10003", False, "EXP", None, "c3", None),
    ]
    say("save_links", s.save_links(rows))
    say("save_links moved_only", s.save_links(rows[:1], moved_only=True))
    say("stale_links after", s.stale_links())
    pairs = [("jira", "10001"), ("jira", "10002"), ("jira", "nope")]
    say("items_of", [i.id for i in s.items_of(pairs)])
    say("kept_ns", len(s.kept_ns()))
    say("items_by_n", [i.id for i in s.items_by_n(s.kept_ns())])
    say("link_projects", s.link_projects())
    say("key_scopes", s.key_scopes())
    say("item_history", [(c.system, c.item_id, c.state) for c in s.item_history(pairs)])
    s.note_published("notion", "page", "p1", "weekly", result="created", target="notion:p1",
                     detail="weekly review", now=T0)  # fmt: skip
    say("audit_of", [(a.action, a.item_id) for a in s.audit_of([("notion", "p1")])])
    say("extracts_of", s.extracts_of(pairs))
    say("present_in", s.present_in("jira:EXP"))
    say("present_keys", s.present_keys("jira"))
    say("linked_with", s.linked_with([("jira", "10001")]))
    say("linked_with nodes", s.linked_with([], ["key:EXP-2"]))
    say("iter_link_rows", [node for _, node in s.iter_link_rows()])
    s.set_record_keys({("jira", "10001"): "EXP-1", ("jira", "10002"): "EXP-1"},
                      {"EXP-1": T0 + timedelta(days=1)})  # fmt: skip
    say("records_of", s.records_of(pairs))
    say("items_in_records", s.items_in_records(["EXP-1"]))
    say("due_records before", s.due_records(T0))
    say("due_records after", s.due_records(T0 + timedelta(days=2)))
    say("record_count", s.record_count())
    s.mark_dirty([("jira", "10001")])
    say("dirty_items", s.dirty_items())
    s.clear_dirty()
    say("dirty_items cleared", s.dirty_items())
    # findings
    found = [
        finding("EXP-1", "missing-field", "hypothesis", item_id="10001", item_key="EXP-1"),
        finding("EXP-1", "ownerless", "outcome", item_id="10002", item_key="EXP-1"),
    ]
    say("record_findings", s.record_findings(run, found, T0))
    say("open_findings", s.open_findings())
    say("opened_at", s.opened_at())
    say("opened_at_of", s.opened_at_of(["EXP-1"]))
    say("iter_open_findings", list(s.iter_open_findings()))
    say("iter_open_findings outside", list(s.iter_open_findings(outside=["EXP-1"])))
    say("open_finding_records", s.open_finding_records())
    say("flagged_item_count", s.flagged_item_count())
    later = T0 + timedelta(hours=3)
    say("record_findings resolve", s.record_findings(run, found[:1], later, records=["EXP-1"]))
    say("closed_since", s.closed_since(T0))
    say("findings", s.findings())
    say("findings open", s.findings(open_only=True))
    say("findings resolved", s.findings(resolved_since=T0))
    say("trend", s.trend())
    # cursors and reads
    say("advance_cursor", s.advance_cursor("jira:EXP", Cursor(T0, "10002"), now=T0, run_id=run))
    say("advance_cursor back", s.advance_cursor("jira:EXP", Cursor(T0, "10001"), now=T0))
    say("cursor", s.cursor("jira:EXP"))
    s.mark_read("jira:EXP", T0)
    say("last_reads", s.last_reads())
    s.reset_cursor("jira:EXP")
    say("cursor reset", s.cursor("jira:EXP"))
    s.advance_cursor("github:acme/web", Cursor(T0, ""), now=T0)
    s.reset_cursor()
    say("cursor reset all", s.cursor("github:acme/web"))
    # outbox, audit, our comments
    create = op(1)
    say("outbox_plan", s.outbox_plan(create, run, T0))
    say("outbox_plan_many", s.outbox_plan_many([create, op(2, "label.add", name="x")], run, T0))
    say("unconfirmed before", s.unconfirmed_creates())
    s.outbox_sending(create, run, T0)
    say("unconfirmed sending", s.unconfirmed_creates())
    answer = WriteResult(create.key, True, target="c-1", updated=T0 + timedelta(minutes=5))
    s.outbox_done(create, run, T0, target="c-1", answer=answer, later=True)
    s.outbox_flush()
    say("outbox_row", s.outbox_row(create.key))
    say("comment_for", s.comment_for("10001", system="jira"))
    say("comments_of", s.comments_of([("jira", "10001"), ("jira", "10002")]))
    # a reply per escalation step: recorded with its outbox row, then marked done
    # one reply giving two notices (a digest, sync.writeback.steps): a row for each
    facts = (
        '{"finding": "EXP-1:stale:x", "people": ["ana", "bo"], "step": 1, "notices": '
        '[["handoff-step:0123456789ab/s1", "EXP-1:stale:x", 1, "ana"], '
        '["handoff-step:ba9876543210/s1", "EXP-1:stale:x", 1, "bo"]]}'
    )
    reply = replace(op(1, "reply.create"), marker="handoff-step:0123456789ab/s1", value=facts)
    s.outbox_plan(reply, run, T0)
    s.outbox_sending(reply, run, T0)
    say("replies_unsure sending", sorted(s.replies_unsure("jira", "10001")))
    s.outbox_done(reply, run, T0, target="c-9")
    say("replies_unsure done", sorted(s.replies_unsure("jira", "10001")))
    say("step_replies_of", s.step_replies_of([("jira", "10001"), ("jira", "10002")]))
    closed = replace(reply, action="reply.done", target="c-9", body="done")
    s.outbox_plan(closed, run, T0)
    s.outbox_done(closed, run, T0, target="c-9")
    say("step_replies_of done", s.step_replies_of([("jira", "10001")]))
    s.note_rendered({("jira", "10001"): ("hello", "rk")})
    say("rendered_of", s.rendered_of([("jira", "10001")]))
    s.note_shown([("jira", "10001", "hello", "shown-digest")])
    say("comment_for shown", s.comment_for("10001"))
    s.record_comment("jira", "10002", "c-2", "body 2", T0, op_key="k2")
    say("iter_comments", list(s.iter_comments(system="jira")))
    s.forget_comment("jira", "10002")
    say("iter_comments after forget", list(s.iter_comments()))
    label = op(2, "label.add", name="x")
    s.outbox_failed(label, run, T0, "boom", later=False)
    say("outbox failed", s.outbox(status="failed"))
    s.outbox_plan(op(3), run, T0)
    say("outbox_not_attempted", s.outbox_not_attempted("jira", run, T0, "stopped"))
    say("unfinished_writes", s.unfinished_writes())
    run2 = s.start_run(T0 + timedelta(hours=1))
    say("outbox_supersede none", s.outbox_supersede([], run2, T0))  # an empty IN list
    say("outbox_supersede", s.outbox_supersede(["jira"], run2, T0))
    say("outbox", s.outbox(system="jira"))
    # several workers: scope leases and outbox claims (tests/test_claims.py says more)
    ttl = timedelta(minutes=1)
    say("lease_scopes", s.lease_scopes(["jira:EXP", "github:acme/web"], "w1", T0, ttl))
    say("lease_scopes held", s.lease_scopes(["jira:EXP"], "w2", T0, ttl))
    say("leases", s.leases("w1"))
    say("release_scopes", s.release_scopes("w1"))
    keys = [create.key, label.key, op(3).key]
    say("outbox_claim superseded", s.outbox_claim(keys, "w1", T0, ttl))  # no one's to send
    s.outbox_plan_many([label, op(3)], run2, T0)  # planned again: to send again
    say("outbox_claim", s.outbox_claim(keys, "w1", T0, ttl))
    say("outbox_claim held", s.outbox_claim(keys, "w2", T0, ttl))
    say("renew_claims", s.renew_claims("w1", T0 + ttl / 2, ttl))
    s.lease_scopes(["notion:db"], "w2", T0, ttl)
    say("live_leases", s.live_leases(T0))
    # w1's live claims spare its ops; the others of the item leave the queue.
    say("outbox_supersede_items", s.outbox_supersede_items([("jira", "10002")], run, T0, "w2"))
    say("outbox_supersede_items mine", s.outbox_supersede_items([("jira", "10002")], run, T0,
                                                                "w1"))
    say("outbox_unclaim", s.outbox_unclaim("w1"))
    # what nobody holds, taken over after a worker's own writes (tests/test_workers_adopt.py)
    say("outbox_adoptable", [o.key for o in s.outbox_adoptable("jira", "w3", T0, 10, T0 - ttl)])
    say("outbox_adoptable since", s.outbox_adoptable("jira", "w3", T0, 10, T0 + ttl))
    say("outbox_waiting", s.outbox_waiting(keys, "w3", T0))
    s.mark_dirty([("jira", "10001"), ("jira", "10002")])
    s.mark_taken([("jira", "10001"), ("jira", "10002")], run2)
    s.mark_dirty([("jira", "10002")])  # another run's plan takes it up again meanwhile
    s.mark_taken([("github", "acme/web#1")], run2)
    say("clear_taken", s.clear_taken(run2, [("github", "acme/web#1")]))
    say("dirty after clear_taken", s.dirty_items())
    s.clear_dirty()
    say("audit", s.audit(run_id=run))
    say("audit op", s.audit(op_key=create.key))
    # constants, facts, served config
    s.put_constants({"jira.fields": ('["a"]', T0)})
    say("constants", s.constants())
    s.serve_config('{"jira": 1}')
    say("served_config", s.served_config())
    s.remember_fact("lost:jira:EXP", '"2026"')
    say("fact", s.fact("lost:jira:EXP"))
    # the webhook inbox
    say("inbox_put", s.inbox_put("github", "d-1", b"\x00{raw}\xff", T0, event="push", subject="1"))
    say("inbox_put again", s.inbox_put("github", "d-1", b"other", T0))
    s.inbox_put("jira", "d-2", b"{}", T0 + timedelta(seconds=1))
    pending = s.inbox_pending()
    # n orders deliveries; PostgreSQL's numbering may skip (a refused duplicate takes one).
    say("inbox_pending", [replace(r, n=0) for r in pending])
    say("inbox_body", s.inbox_body(pending[0].n))
    # serve replicas: what r1 claims, r2 neither gets nor sees pending until it is given back
    say("inbox_claim", [r.delivery for r in s.inbox_claim("r1", T0, ttl)])
    say("inbox_claim held", s.inbox_claim("r2", T0, ttl, only=[pending[1].n]))
    say("inbox_pending r2", s.inbox_pending(holder="r2", now=T0))
    say("inbox_unclaim", s.inbox_unclaim("r1"))
    s.inbox_done([pending[0].n], T0 + timedelta(seconds=5), run_id=run)
    say("inbox_since", [replace(r, n=0) for r in s.inbox_since(pending[0].n)])
    say("inbox_state", s.inbox_state())
    say("inbox_prune", s.inbox_prune(T0 + timedelta(days=1)))
    # people's commands
    said = Said("sc-1", "acc-ana", "/handoff snooze 3d", T0)
    say("said_put", s.said_put([("jira", "10001", said)], T0))
    say("said_put same", s.said_put([("jira", "10001", said)], T0))
    edited = Said("sc-1", "acc-ana", "/handoff snooze 5d", T0 + timedelta(minutes=1))
    say("said_put edited", s.said_put([("jira", "10001", edited)], T0))
    say("said_for", s.said_for([("jira", "10001")]))
    say("said_answered", s.said_answered({("jira", "sc-1"): ["snoozed"]}, run, T0))
    say("said_answered same", s.said_answered({("jira", "sc-1"): ["snoozed"]}, run, T0))
    # ladder steps owed to people (issue 17)
    owed = [
        Notice("ana", "EXP-1:no_owner:x", 0, "owner", T0, T0, "[error] EXP-1: no owner"),
        Notice("kai", "EXP-1:no_owner:x", 1, "approver", T0, T0 + timedelta(hours=3), "l2"),
    ]
    say("notices_owe", s.notices_owe(owed))
    say("notices_owe again", s.notices_owe(owed))
    say("notices_owed", s.notices_owed())
    nop = WriteOp("notify", "webhook", "ana", "Ana", "notify.send", body="hi", name="webhook")
    s.outbox_plan(nop, run, T0)
    s.notify_sending(nop, [owed[0].key], run, T0)
    say("notices_told", s.notices_told())
    say("notices_untell", s.notices_untell(nop.key))
    say("notices_forget", s.notices_forget([owed[1].key]))
    say("notices_owed after", [n.key for n in s.notices_owed()])
    # runs and status at the end
    s.finish_run(run, T0 + timedelta(minutes=9), outcome="ok", counts={"ops": 2})
    s.start_run(T0 + timedelta(hours=2), dry_run=True)
    say("runs", [(r.id, r.ended, r.dry_run, r.counts, r.outcome) for r in s.runs()])
    say("runs no dry", [r.id for r in s.runs(dry_runs=False)])
    say("status", s.status())
    s.forget_reconciled()
    say("record_count after forget", s.record_count())
    return out


def nop_key() -> str:
    return WriteOp("notify", "webhook", "ana", "Ana", "notify.send", body="hi", name="webhook").key


# Verbs that promise no order: their rows are compared as sets.
UNORDERED = {"stale_links"}


def test_every_verb_answers_the_same_on_sqlite_and_postgres(tmp_path: Path, pg_url: str) -> None:
    with open_store(str(tmp_path / "s.db")) as lite, open_store(pg_url) as pg:
        on_sqlite, on_postgres = exercise(lite), exercise(pg)
    assert [n for n, _ in on_sqlite] == [n for n, _ in on_postgres]
    differ = [
        (name, a, b)
        for (name, a), (_, b) in zip(on_sqlite, on_postgres, strict=True)
        if (sorted(a, key=repr) if name in UNORDERED else a)
        != (sorted(b, key=repr) if name in UNORDERED else b)
    ]
    assert differ == []
    # The answers are the ones a store must give, not two equal wrong ones.
    said = dict(on_sqlite)
    assert said["upsert_items again"] == []
    assert said["inbox_put"] is True and said["inbox_put again"] is False
    assert said["inbox_body"] == b"\x00{raw}\xff"
    assert said["flagged_item_count"] == 2
    assert said["due_records after"] == ["EXP-1"] and said["due_records before"] == []
    assert said["said_put edited"] == [["jira", "10001"]] and said["said_put same"] == []
    assert said["outbox_supersede"] >= 1
    assert said["replies_unsure sending"] == [
        "handoff-step:0123456789ab/s1", "handoff-step:ba9876543210/s1"
    ] and said["replies_unsure done"] == []
    replied = said["step_replies_of"]["('jira', '10001')"]
    assert [(r.people, r.comment_id, r.done) for r in replied] == [(("ana",), "c-9", False),
                                                                   (("bo",), "c-9", False)]
    assert all(r.done for r in said["step_replies_of done"]["('jira', '10001')"])
    assert said["notices_owe"] == 2 and said["notices_owe again"] == 0
    assert said["notices_told"] == {repr("ana|EXP-1:no_owner:x|0"): nop_key()}
    assert said["notices_untell"] == 1 and said["notices_forget"] == 1
    assert said["notices_owed after"] == ["ana|EXP-1:no_owner:x|0"]
    assert said["lease_scopes"] == ["jira:EXP", "github:acme/web"]
    assert said["lease_scopes held"] == [] and said["release_scopes"] == 2
    # The done create is no one's to send; what w1 claims, w2 cannot have.
    assert set(said["outbox_claim"]) == {op(2, "label.add", name="x").key, op(3).key}
    assert said["outbox_claim held"] == [] and said["outbox_unclaim"] == 2
    assert said["outbox_claim superseded"] == [] and said["renew_claims"] == 2
    assert said["live_leases"] == {"'notion:db'": "w2"}  # keys as said() keeps them
    assert said["outbox_supersede_items"] == 0 and said["outbox_supersede_items mine"] == 1
    assert said["inbox_claim"] == ["d-1", "d-2"] and said["inbox_claim held"] == []
    assert said["inbox_pending r2"] == [] and said["inbox_unclaim"] == 2
    assert said["outbox_adoptable"] and said["outbox_adoptable since"] == []
    assert set(said["outbox_adoptable"]) == set(said["outbox_waiting"])
    assert said["clear_taken"] == 1  # 10001; 10002 is the other run's, acme/web#1 kept
    assert len(said["dirty after clear_taken"]) == 2


def test_this_module_calls_every_verb_of_the_protocol() -> None:
    verbs = {n for n, f in vars(StoreProtocol).items() if callable(f) and not n.startswith("_")}
    tree = ast.parse((HERE / "test_store_backends.py").read_text(encoding="utf-8"))
    called = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert verbs - called == set()


def _dump(url: str) -> dict[str, list[Any]]:
    """Every row of every table in the database's public schema, and its tables."""
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]  # fmt: skip
        return {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}


def test_a_copy_of_a_postgres_state_writes_nothing_to_it(pg_url: str) -> None:
    with open_store(pg_url) as s:
        run = s.start_run(T0)
        s.upsert_items([item(1)], run, T0)
        s.inbox_put("github", "d-1", b"x", T0)
    before = _dump(pg_url)
    with copy_of(pg_url) as c:
        assert [i.id for i in c.iter_items()] == ["10001"]
        run2 = c.start_run(T0)
        assert run2 == run + 1  # numbering goes on after the copied rows
        c.upsert_items([item(2)], run2, T0)
        c.inbox_put("jira", "d-2", b"y", T0)
        c.outbox_plan(op(1), run2, T0)
        assert len(list(c.iter_items())) == 2
    assert _dump(pg_url) == before


def test_a_copy_of_an_empty_database_is_empty_and_leaves_it_empty(pg_url: str) -> None:
    assert exists(pg_url) is False
    with copy_of(pg_url) as c:
        c.start_run(T0)
        assert c.runs()
    assert _dump(pg_url) == {}
    assert read_constants(pg_url) == {}


def test_migrations_are_recorded_as_on_sqlite_and_discard_drops_only_ours(
    tmp_path: Path, pg_url: str
) -> None:
    from sync.store.sqlite import migrations

    names = [m.name for m in migrations._migrations]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE someone_elses (x int)")
    with open_store(pg_url) as s:
        s.put_constants({"k": ("[1]", T0)})
    assert exists(pg_url)
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT migration_set, name FROM _sqlite_migrations ORDER BY id"
        ).fetchall()
    assert rows == [("handoff_sync", n) for n in names]
    assert read_constants(pg_url) == {"k": ("[1]", T0)}
    with open_store(pg_url):  # a second open applies nothing again
        pass
    discard(pg_url)
    assert list(_dump(pg_url)) == ["someone_elses"]
    with open_store(pg_url) as s:
        assert s.runs() == []


def test_a_sqlite_file_migrated_by_sqlite_utils_opens_and_migrates(tmp_path: Path) -> None:
    # A state file as main wrote it before this runner: sqlite-utils applied the steps.
    from sqlite_utils import Database

    from sync.store.sqlite import SqliteStore, migrations

    path = tmp_path / "old.db"
    db = Database(path)
    migrations.apply(db, stop_before="0010_webhook_inbox")
    db.close()
    with SqliteStore.open(path) as s:
        assert s.inbox_put("github", "d", b"x", T0)
        rows = s.db.execute("SELECT name FROM _sqlite_migrations ORDER BY id").fetchall()
    assert [r[0] for r in rows] == [m.name for m in migrations._migrations]
    assert migrations.pending(Database(path)) == []  # sqlite-utils reads what we wrote


def test_a_newer_postgres_state_is_refused(pg_url: str) -> None:
    open_store(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('handoff_sync', '0099_future', 'x')"
        )
    with pytest.raises(StateError, match=r"newer handoff-sync.*0099_future"):
        open_store(pg_url)


def test_one_run_at_a_time_on_a_postgres_state(pg_url: str) -> None:
    held = r"Another handoff sync is running.*server pid"
    with run_lock(pg_url), pytest.raises(LockHeld, match=held), run_lock(pg_url):
        pass
    with run_lock(pg_url):  # released at the end of the block
        pass


def test_an_unreachable_database_is_named_without_its_password(pg_server: Any) -> None:
    url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{pg_server.port}/no_such_db"
    for attempt in (lambda: open_store(url), lambda: run_lock(url).__enter__()):
        with pytest.raises(StateError) as err:
            attempt()
        text = str(err.value)
        assert "no_such_db" in text and "postgres:***@" in text
        assert "s3cret-pw" not in text and "[state] url" in text


def test_items_with_any_text_round_trip_on_postgres(pg_url: str) -> None:
    odd = SourceItem(
        system="github", scope="github:acme/web", id="acme/web#1", key="#1",
        url="https://x/?a=1&b=%20", kind="pull", updated=T0,
        title="50% done? it's 'quoted' — ünïcode ?? %s %(x)s",
        fields={"body": "a ? b % c", "n": [1, None, {"k": "v"}]}, labels=("x%", "?"),
    )  # fmt: skip
    with open_store(pg_url) as s:
        s.upsert_items([odd], s.start_run(T0), T0)
        assert s.item("github", "acme/web#1") == odd
        assert json.loads(json.dumps(s.item("github", "acme/web#1").fields)) == odd.fields  # type: ignore[union-attr]


def test_a_copy_of_an_empty_database_lives_in_the_temporary_schema(pg_url: str) -> None:
    with copy_of(pg_url) as c:
        assert c.db.schema.startswith("pg_temp")  # type: ignore[attr-defined]
        assert "runs" in c.db.state_tables()  # type: ignore[attr-defined]


def test_every_row_moves_between_backends_both_ways(tmp_path: Path, pg_url: str) -> None:
    def rows(s: Store) -> list[str]:
        return sorted(json.dumps(r, sort_keys=True) for r in s.dump_rows())

    with open_store(str(tmp_path / "a.db")) as lite:
        exercise(lite)
        assert lite.schema_version()[-1] == migrations_last()
        with open_store(pg_url) as pg:
            counts = pg.load_rows(lite.dump_rows())
            assert counts["audit"] >= 3 and counts["inbox"] == 1  # one was pruned
            with open_store(str(tmp_path / "b.db")) as back:
                back.load_rows(pg.dump_rows())
                assert rows(lite) == rows(pg) == rows(back)
            # Numbering goes on after the imported keys, and the audit log stays append-only.
            assert pg.start_run(T0) == max(r.id for r in lite.runs()) + 1
            assert pg.inbox_put("jira", "d-9", b"z", T0)
            with pytest.raises(StateError, match="import into an empty state"):
                pg.load_rows([])


def migrations_last() -> str:
    from sync.store import schema_steps

    return schema_steps()[-1]


def test_a_reader_of_a_postgres_state_reads_it_and_cannot_write(pg_url: str) -> None:
    from sync.store import reader

    with reader(pg_url) as r:  # an empty database: read through a copy (no migrating)
        assert r.runs() == []
    assert exists(pg_url) is False
    with open_store(pg_url) as s:
        s.start_run(T0)
    with reader(pg_url) as r:
        assert len(r.runs()) == 1
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            r.start_run(T0)


def _churn(s: Store) -> list[tuple[str, Any]]:
    """Records and findings stored over several runs, some changed later (PostgreSQL moves a
    changed row to the end of its table; SQLite keeps it in place)."""
    keys = [f"EXP-{k}" for k in (7, 3, 11, 1, 9, 5, 12, 2)]
    out: list[tuple[str, Any]] = []
    for step in range(3):
        at = T0 + timedelta(hours=step)
        run = s.start_run(at)
        # each run stores the records in another order and changes some of them
        order = keys[step:] + keys[:step]
        recs = [Rec(k, f"{k} v{step}", "design", (Src("jira", k),)) for k in order[: 6 + step]]
        s.upsert_records(recs, at)
        found = [
            finding(k, code, f"{k} {code} {step}", item_id=k, item_key=k)
            for k in reversed(order[: 4 + step])
            for code in ("ownerless", "missing-field")
        ]
        s.record_findings(run, found, at)
        s.upsert_items([item(i, title=f"v{step}") for i in (5, 12, 2, 9, 1)[step:]], run, at)
        s.finish_run(run, at, outcome="ok", counts={})
    out.append(("records", _plain(s.records())))
    out.append(("present_in", s.present_in("jira:EXP")))
    pairs = [("jira", str(10000 + i)) for i in (9, 1, 12, 5, 2)]
    out.append(("items_of", [i.id for i in s.items_of(pairs)]))
    for name, rows in (
        ("findings", s.findings()),
        ("findings open", s.findings(open_only=True)),
        ("findings resolved", s.findings(resolved_since=T0)),
        ("open_findings", s.open_findings()),
        ("iter_open_findings", list(s.iter_open_findings())),
    ):
        out.append((name, _plain(rows)))
    return out


def test_listings_come_in_the_same_order_on_both_backends(tmp_path: Path, pg_url: str) -> None:
    with open_store(str(tmp_path / "s.db")) as lite, open_store(pg_url) as pg:
        on_sqlite, on_postgres = _churn(lite), _churn(pg)
    assert len(dict(on_sqlite)["records"]) == 8 and dict(on_sqlite)["findings"]
    assert [
        (name, a, b) for (name, a), (_, b) in zip(on_sqlite, on_postgres, strict=True) if a != b
    ] == []
