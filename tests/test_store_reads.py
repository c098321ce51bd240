"""The store's read verbs for the report, status and the served-config check: named rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from stand_ins import Rec, Src, finding

from connectors.base import SourceItem
from mapping.rules import Finding
from sync.store import (
    FindingRow,
    RecordRow,
    Store,
    copy_of,
    discard,
    memory_store,
    open_store,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def F(record_key: str, code: str, subject: str) -> Finding:
    return finding(
        record_key,
        code,
        subject,
        message="No outcome owner.",
        item_id="10001",
        item_key="EXP-1",
        url="https://jira.example/browse/EXP-1",
        notify=("ana", "lead"),
        escalation=1,
    )


@pytest.fixture
def store() -> Iterator[Store]:
    with memory_store() as s:
        yield s


def test_records_come_back_named_with_their_items(store: Store) -> None:
    store.upsert_records(
        [Rec("EXP-1", "Checkout", "run", (Src("notion", "p1"), Src("jira", "1")))], T0
    )
    store.upsert_records([Rec("EXP-2", "", "design", ())], T0)
    assert store.records() == [
        RecordRow("EXP-1", "Checkout", ("jira:1", "notion:p1")),
        RecordRow("EXP-2", "", ()),
    ]


def test_findings_open_resolved_since_and_all(store: Store) -> None:
    a, b = F("EXP-1", "ownerless", "outcome_owner"), F("EXP-2", "missing-field", "sample_size")
    run = store.start_run(T0)
    store.record_findings(run, [a, b], T0)
    later = T0 + timedelta(hours=2)
    store.record_findings(store.start_run(later), [a], later)  # b is resolved at `later`

    (open_a,) = store.findings(open_only=True)
    assert open_a == FindingRow(
        record_key="EXP-1",
        code="ownerless",
        severity="error",
        subject="outcome_owner",
        message="No outcome owner.",
        system="jira",
        item_key="EXP-1",
        url="https://jira.example/browse/EXP-1",
        notify=("ana", "lead"),
        escalation=1,
        first_seen=T0,
        resolved_at=None,
    )
    (closed,) = store.findings(resolved_since=later)
    assert (closed.record_key, closed.resolved_at) == ("EXP-2", later)
    assert store.findings(resolved_since=later + timedelta(seconds=1)) == []
    assert [f.record_key for f in store.findings()] == ["EXP-1", "EXP-2"]


def test_one_item_by_its_id_whatever_its_state(store: Store) -> None:
    it = SourceItem(
        system="notion",
        scope="notion:db1",
        id="p1",
        key="EXP-1",
        url="u",
        kind="page",
        updated=T0,
        title="t",
        fields={"Team": {"select": {"name": "Growth"}}},
    )
    store.upsert_items([it], 1, T0)
    store.mark_item("notion", "p1", "deleted")
    got = store.item("notion", "p1")
    assert got is not None and got.state == "deleted"
    assert (got.scope, got.fields) == ("notion:db1", {"Team": {"select": {"name": "Growth"}}})
    assert store.item("jira", "p1") is None


def test_runs_can_leave_dry_runs_out(store: Store) -> None:
    real = store.start_run(T0)
    dry = store.start_run(T0 + timedelta(minutes=1), dry_run=True)
    assert [r.id for r in store.runs(5)] == [dry, real]
    assert [r.id for r in store.runs(5, dry_runs=False)] == [real]


def test_served_config_survives_reopening_and_copies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "state.db"
    with open_store(path) as s:
        assert s.served_config() is None
        s.serve_config('{"jira": 1}')
        s.serve_config('{"jira": 2}')
    with copy_of(path) as c:
        assert c.served_config() == '{"jira": 2}'


def test_discard_leaves_nothing_that_open_would_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "state.db"
    with open_store(path) as s:
        s.start_run(T0)
        # While open in WAL mode the journal files exist beside the state.
        assert {p.name for p in tmp_path.iterdir()} >= {"state.db", "state.db-wal"}
    discard(path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("state.db")]
    with open_store(path) as fresh:
        assert fresh.runs() == []
