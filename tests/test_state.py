"""The state database: migrations, items, cursors, findings history, outbox and audit."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stand_ins import finding

from connectors.base import CommentRef, Cursor, SourceItem, WriteOp, WriteResult
from connectors.errors import StateError
from mapping.rules import Finding
from sync.store import store_errors
from sync.store.sqlite import SqliteStore, migrations

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def item(i: int, *, labels: tuple[str, ...] = (), title: str = "") -> SourceItem:
    return SourceItem(
        system="jira",
        scope="jira:EXP",
        id=str(10000 + i),
        key=f"EXP-{i}",
        url=f"https://jira.example/browse/EXP-{i}",
        kind="issue",
        updated=T0 + timedelta(minutes=i),
        title=title or f"Experiment {i}",
        fields={"summary": f"Experiment {i}", "customfield_1": [1, {"a": None}]},
        labels=labels,
    )


def F(record_key: str, code: str, subject: str) -> Finding:
    return finding(
        record_key,
        code,
        subject,
        message="The experiment has no outcome owner.",
        item_id="10001",
        item_key="EXP-1",
        url="https://jira.example/browse/EXP-1",
    )


def op(i: int = 1, action: str = "comment.create", body: str = "hello", name: str = "") -> WriteOp:
    return WriteOp(
        system="jira",
        scope="jira:EXP",
        item_id=str(10000 + i),
        item_key=f"EXP-{i}",
        action=action,  # type: ignore[arg-type]
        body=body,
        name=name,
        marker="<!-- handoff -->",
    )


@pytest.fixture
def state(backend_state: SqliteStore) -> SqliteStore:
    """Each test below that takes `state` runs on SQLite and on PostgreSQL."""
    return backend_state


# --- opening and migrations ------------------------------------------------------------------


def test_migrations_from_empty_then_reopen_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStore.open(path) as s:
        tables = set(s.db.table_names())
        assert {"items", "comments", "records", "findings", "finding_counts", "cursors"} <= tables
        assert {"outbox", "audit", "runs", "_sqlite_migrations"} <= tables
        run = s.start_run(T0)
        s.upsert_items([item(1)], run, T0)
    with SqliteStore.open(path) as s:
        applied = [m.name for m in migrations.applied(s.db)]
        assert applied[:2] == ["0001_initial", "0002_item_activity"]
        assert applied == [m.name for m in migrations._migrations]
        assert not migrations.pending(s.db)
        assert [i.key for i in s.iter_items()] == ["EXP-1"]
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteStore.open(path).close()
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('handoff_sync', '0099_future', 'x')"
    )
    db.commit()
    db.close()
    with pytest.raises(StateError, match="newer handoff-sync"):
        SqliteStore.open(path)


@pytest.mark.parametrize(
    "content", [b"this is not a database" * 100, b"SQLite format 3\x00" + b"\xff" * 200]
)
def test_a_corrupt_file_says_where_and_what_to_do(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(content)
    with pytest.raises(StateError) as err:
        SqliteStore.open(path)
    assert str(path) in str(err.value)
    assert "handoff sync --full" in str(err.value)
    with pytest.raises(StateError):
        SqliteStore.copy_of(path)


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="does not exist"):
        SqliteStore.open(tmp_path / "nope" / "state.db")


def test_copy_of_leaves_the_file_byte_for_byte_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStore.open(path) as s:
        run = s.start_run(T0)
        s.upsert_items([item(1), item(2)], run, T0)
    before = path.read_bytes()
    with SqliteStore.copy_of(path) as copy:
        assert len(list(copy.iter_items())) == 2
        run = copy.start_run(T0, dry_run=True)
        copy.upsert_items([item(3)], run, T0)
        copy.advance_cursor("jira:EXP", Cursor(T0), now=T0)
    assert path.read_bytes() == before
    with SqliteStore.copy_of(tmp_path / "missing.db") as empty:
        assert list(empty.iter_items()) == []
    assert not (tmp_path / "missing.db").exists()


def test_naive_datetimes_are_refused(state: SqliteStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        state.start_run(datetime(2026, 1, 1))


# --- items -------------------------------------------------------------------------------------


def test_items_round_trip_and_keep_first_seen(state: SqliteStore) -> None:
    run1 = state.start_run(T0)
    original = item(1, labels=("handoff:ownerless",))
    original = SourceItem(**{**original.__dict__, "comment": CommentRef("55", "text")})
    state.upsert_items([original], run1, T0)
    assert list(state.iter_items()) == [original]
    later = T0 + timedelta(hours=1)
    run2 = state.start_run(later)
    state.upsert_items([item(1, title="Renamed")], run2, later)
    row = state.db.execute("SELECT title, first_seen, last_seen FROM items").fetchone()
    assert row == (
        "Renamed",
        T0.isoformat(timespec="microseconds"),
        later.isoformat(timespec="microseconds"),
    )


def test_upsert_and_iterate_stream_100k_items(state: SqliteStore) -> None:
    def many() -> Iterator[SourceItem]:
        base = item(0)
        for i in range(100_000):
            yield SourceItem(
                system="github",
                scope="github:acme/web",
                id=f"acme/web#{i}",
                key=f"#{i}",
                url="",
                kind="pull",
                updated=base.updated,
                fields={"n": i},
            )

    run = state.start_run(T0)
    assert len(state.upsert_items(many(), run, T0)) == 100_000  # all new, all changed
    seen = 0
    for got in state.iter_items(system="github"):
        seen += 1
        last = got
    assert seen == 100_000
    assert last.fields == {"n": int(last.id.split("#")[1])}
    assert state.status().items == {"github": 100_000}


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=8),
            st.dictionaries(st.text(max_size=5), st.one_of(st.none(), st.integers(), st.text())),
            st.lists(st.text(max_size=10), max_size=3).map(tuple),
        ),
        max_size=8,
        unique_by=lambda t: t[0],
    )
)
def test_any_items_round_trip(rows: list[tuple[str, dict, tuple[str, ...]]]) -> None:
    items = [
        SourceItem(
            system="notion",
            scope="notion:db",
            id=i,
            key=i,
            url="",
            kind="page",
            updated=T0,
            fields=f,
            labels=labels,
        )
        for i, f, labels in rows
    ]
    with SqliteStore.memory() as s:
        s.upsert_items(items, s.start_run(T0), T0)
        assert sorted(s.iter_items(), key=lambda x: x.id) == sorted(items, key=lambda x: x.id)


# --- cursors, records, comments ----------------------------------------------------------------


def test_cursor_moves_forward_only_when_told(state: SqliteStore) -> None:
    assert state.cursor("jira:EXP") is None
    state.advance_cursor("jira:EXP", Cursor(T0, "10001"), now=T0, run_id=1)
    state.advance_cursor("jira:EXP", Cursor(T0 - timedelta(days=1)), now=T0)
    assert state.cursor("jira:EXP") == Cursor(T0, "10001")
    later = Cursor(T0 + timedelta(minutes=5), "10002")
    assert state.advance_cursor("jira:EXP", later, now=T0) == later
    assert state.cursor("jira:EXP") == later
    state.reset_cursor("jira:EXP")
    assert state.cursor("jira:EXP") is None


def test_records_keep_their_items(state: SqliteStore) -> None:
    @dataclass
    class Src:
        system: str
        item_id: str

    @dataclass
    class Rec:
        key: str
        title: str
        stage: str
        sources: tuple[Src, ...]

    state.upsert_records(
        [Rec("EXP-1", "Checkout", "run", (Src("jira", "1"), Src("github", "a#2")))], T0
    )
    assert state.record_items("EXP-1") == ["github:a#2", "jira:1"]
    assert state.record_items("nope") is None


def test_comment_memory(state: SqliteStore) -> None:
    assert state.comment_for("10001") is None
    state.record_comment("jira", "10001", "77", "body v1", T0)
    state.record_comment("jira", "10001", "77", "body v2", T0)
    got = state.comment_for("10001", system="jira")
    assert got is not None and (got.comment_id, got.body) == ("77", "body v2")
    assert state.comment_for("10001", system="github") is None
    state.record_comment("github", "a/b#1", "9", "gh", T0)
    assert [(c.system, c.item_id, c.body) for c in state.iter_comments()] == [
        ("github", "a/b#1", "gh"),
        ("jira", "10001", "body v2"),
    ]
    assert [c.item_id for c in state.iter_comments(system="jira")] == ["10001"]
    state.forget_comment("jira", "10001")
    assert state.comment_for("10001") is None


# --- findings history --------------------------------------------------------------------------


def test_findings_open_refresh_resolve_and_reopen(state: SqliteStore) -> None:
    a, b = F("EXP-1", "ownerless", "outcome_owner"), F("EXP-2", "missing-field", "hypothesis")
    r1 = state.start_run(T0)
    d1 = state.record_findings(r1, [a, b], T0)
    assert (d1.opened, d1.still_open, d1.resolved) == (2, 0, 0)

    t2 = T0 + timedelta(hours=2)
    r2 = state.start_run(t2)
    d2 = state.record_findings(r2, [a], t2)
    assert (d2.opened, d2.still_open, d2.resolved) == (0, 1, 1)
    assert state.opened_at() == {a.id: T0}
    assert state.closed_since(T0) == {"missing-field": 1}

    t3 = T0 + timedelta(days=1)
    r3 = state.start_run(t3)
    state.record_findings(r3, [a, b], t3)
    # b came back: a new episode, so escalation counts from now, not from the first time.
    assert state.opened_at() == {a.id: T0, b.id: t3}
    assert [counts for _, _, counts in state.trend()] == [
        {"ownerless": 1, "missing-field": 1},
        {"ownerless": 1},
        {"ownerless": 1, "missing-field": 1},
    ]


def test_findings_of_records_not_evaluated_stay_open(state: SqliteStore) -> None:
    a, b = F("EXP-1", "ownerless", "outcome_owner"), F("EXP-2", "expired", "expiry")
    state.record_findings(state.start_run(T0), [a, b], T0)
    delta = state.record_findings(state.start_run(T0), [], T0, records={"EXP-1"})
    assert delta.resolved == 1
    assert set(state.opened_at()) == {b.id}


def test_trend_shows_a_run_with_nothing_open(state: SqliteStore) -> None:
    a = F("EXP-1", "ownerless", "outcome_owner")
    state.record_findings(state.start_run(T0), [a], T0)
    state.record_findings(state.start_run(T0), [], T0)
    state.record_findings(state.start_run(T0), [], T0)
    assert [c for _, _, c in state.trend()] == [{"ownerless": 1}, {}, {}]


# --- outbox and audit --------------------------------------------------------------------------


class Crash(BaseException):
    """Stands for the process dying: nothing catches it."""


class CrashInBookkeeping(SqliteStore):
    def record_comment(self, *args: object, **kw: object) -> None:
        raise Crash


def test_outbox_audit_and_comment_are_written_together() -> None:
    s = CrashInBookkeeping(SqliteStore.memory().db)
    run = s.start_run(T0)
    write = op()
    assert s.outbox_plan(write, run, T0)
    s.outbox_sending(write, run, T0)
    with pytest.raises(Crash):
        s.outbox_done(write, run, T0, target="901")
    # Nothing of step 5 survived: the row is still "sending", no audit, no comment.
    row = s.outbox_row(write.key)
    assert row is not None and (row.status, row.attempts) == ("sending", 1)
    assert [a.result for a in s.audit()] == ["sending"]
    assert s.comment_for(write.item_id) is None

    good = SqliteStore(s.db)
    good.outbox_done(write, run, T0, target="901")
    row = good.outbox_row(write.key)
    assert row is not None and (row.status, row.target) == ("done", "901")
    assert [(a.result, a.target) for a in good.audit()] == [("sending", ""), ("done", "901")]
    stored = good.comment_for(write.item_id)
    assert stored is not None and (stored.comment_id, stored.body) == ("901", "hello")


def test_outbox_skips_only_what_this_run_finished(state: SqliteStore) -> None:
    write = op(action="label.add", name="handoff:ownerless")
    r1 = state.start_run(T0)
    assert state.outbox_plan(write, r1, T0)
    state.outbox_done(write, r1, T0)
    assert not state.outbox_plan(write, r1, T0)
    r2 = state.start_run(T0)
    assert state.outbox_plan(write, r2, T0)  # planned again from fresh reads: needed again


def test_labels_follow_done_label_writes(state: SqliteStore) -> None:
    run = state.start_run(T0)
    state.upsert_items([item(1, labels=("team",))], run, T0)
    add = op(action="label.add", name="handoff:ownerless")
    remove = op(action="label.remove", name="team")
    for w in (add, remove):
        state.outbox_plan(w, run, T0)
        state.outbox_done(w, run, T0)
    assert state.item_labels("jira", "10001") == ("handoff:ownerless",)


def test_failed_ops_are_audited_and_unattempted_ones_stay_planned(state: SqliteStore) -> None:
    run = state.start_run(T0)
    a, b = op(1), op(2)
    for w in (a, b):
        state.outbox_plan(w, run, T0)
    state.outbox_failed(a, run, T0, "boom with ghp_abcdefghijklmnop")
    state.outbox_failed(b, run, T0, "github stopped", attempted=False)
    # The audit holds attempted writes only: the op never tried keeps its outbox row.
    assert [(r.result, "ghp_" in r.detail) for r in state.audit()] == [("failed", False)]
    statuses = {r.op.item_id: r.status for r in state.outbox()}
    assert statuses == {a.item_id: "failed", b.item_id: "planned"}
    assert state.status().outbox == {"jira": {"failed": 1, "planned": 1}}


def test_unfinished_ops_of_earlier_runs_are_superseded(state: SqliteStore) -> None:
    r1 = state.start_run(T0)
    state.outbox_plan(op(1), r1, T0)
    r2 = state.start_run(T0)
    assert state.outbox_supersede(["jira"], r2, T0) == 1
    assert state.outbox(status="superseded")[0].op == op(1)
    assert state.status().outbox == {}


def test_audit_is_append_only(state: SqliteStore) -> None:
    run = state.start_run(T0)
    state.outbox_plan(op(), run, T0)
    state.outbox_done(op(), run, T0, target="1")
    with pytest.raises(store_errors(), match="append-only"):
        state.db.execute("UPDATE audit SET result = 'done'")
    with pytest.raises(store_errors(), match="append-only"):
        state.db.execute("DELETE FROM audit")


def test_status_summarises_runs_findings_cursors_and_queue(state: SqliteStore) -> None:
    run = state.start_run(T0)
    state.record_findings(run, [F("EXP-1", "ownerless", "outcome_owner")], T0)
    state.advance_cursor("jira:EXP", Cursor(T0), now=T0)
    state.outbox_plan(op(), run, T0)
    state.finish_run(run, T0 + timedelta(minutes=1), outcome="ok", counts={"done": 0})
    interrupted = state.start_run(T0 + timedelta(hours=1))
    status = state.status()
    assert [r.id for r in status.runs] == [interrupted, run]
    assert status.runs[0].ended is None and status.runs[0].outcome == ""
    assert status.runs[1].outcome == "ok" and status.runs[1].counts == {"done": 0}
    assert status.open_findings == {"ownerless": 1}
    assert status.cursors == {"jira:EXP": Cursor(T0)}
    assert status.outbox == {"jira": {"planned": 1}}


def test_threads_share_one_state_file(tmp_path: Path) -> None:
    with SqliteStore.open(tmp_path / "state.db") as s:
        run = s.start_run(T0)

        def work(system: str) -> None:
            for i in range(50):
                w = WriteOp(system, f"{system}:x", str(i), str(i), "label.add", name="l")
                s.outbox_plan(w, run, T0)
                s.outbox_sending(w, run, T0)
                s.outbox_done(w, run, T0)

        threads = [threading.Thread(target=work, args=(n,)) for n in ("jira", "github", "notion")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(s.audit()) == 300
        assert len(s.outbox(status="done")) == 150


def test_our_own_write_back_is_not_activity_but_a_later_edit_is() -> None:
    """A comment or label of ours moves `updated`; staleness must not reset because of it."""
    t0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    with SqliteStore.memory() as s:
        item = SourceItem("jira", "jira:EXP", "1", "EXP-1", "u", "issue", t0)
        s.upsert_items([item], 1, t0)
        op = WriteOp("jira", "jira:EXP", "1", "EXP-1", "label.add", name="handoff:stale")
        wrote = t0 + timedelta(days=9)
        s.outbox_plan(op, 2, wrote)
        s.outbox_sending(op, 2, wrote)
        echoed = wrote + timedelta(seconds=1)  # the item's edit time, as the answer shows it
        s.outbox_done(op, 2, wrote, answer=WriteResult(op.key, True, updated=echoed))
        # The echo shows our label and the answer's time: what the state holds, no change.
        echo = replace(item, updated=echoed, labels=("handoff:stale",))
        assert s.upsert_items([echo], 3, wrote + timedelta(minutes=5)) == set()
        (stored,) = s.iter_items()
        assert stored.updated == echo.updated and stored.activity == t0
        edit = replace(item, updated=wrote + timedelta(hours=1))
        s.upsert_items([edit], 4, wrote + timedelta(hours=2))
        (stored,) = s.iter_items()
        assert stored.updated == edit.updated and stored.activity is None  # activity = updated


def test_a_content_change_inside_our_quiet_window_is_a_persons_activity() -> None:
    """The quiet window after our write hides our echo, not a person's edit of the content."""
    t0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    with SqliteStore.memory() as s:
        item = SourceItem("jira", "jira:EXP", "1", "EXP-1", "u", "issue", t0, title="A")
        s.upsert_items([item], 1, t0)
        op = WriteOp("jira", "jira:EXP", "1", "EXP-1", "label.add", name="handoff:stale")
        wrote = t0 + timedelta(days=9)
        s.outbox_plan(op, 2, wrote)
        s.outbox_sending(op, 2, wrote)
        s.outbox_done(op, 2, wrote)
        edit = replace(item, updated=wrote + timedelta(seconds=30), labels=("handoff:stale",),
                       title="B")  # fmt: skip
        assert s.upsert_items([edit], 3, wrote + timedelta(minutes=1)) == {("jira", "1")}
        (stored,) = s.iter_items()
        assert stored.updated == edit.updated and stored.activity is None  # activity = updated
