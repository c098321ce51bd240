"""Bookkeeping in batches (issue 13): the plan goes into the outbox a chunk per transaction,
settled writes ride along with the next durable "sending" row, and a system that stops at a
budget records every op it never reached in one statement, with no audit rows for them."""

from __future__ import annotations

from datetime import UTC, datetime

from fakes import FakeConnector

from connectors.base import Connector, WriteOp
from connectors.errors import RateLimited
from sync.engine.apply import apply
from sync.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def label(i: int) -> WriteOp:
    return WriteOp(
        system="github",
        scope="github:o/r",
        item_id=str(i),
        item_key=f"o/r#{i}",
        action="label.add",
        name="handoff:ownerless",
    )


class Traced:
    """The SQL a store runs, as SQLite itself reports it (not what our code says it does)."""

    def __init__(self, state: SqliteStore) -> None:
        self.statements: list[str] = []
        state.db.conn.set_trace_callback(self.statements.append)

    def writes(self) -> list[str]:
        return [s for s in self.statements if s.lstrip().upper().startswith(("UPDATE", "INSERT"))]

    def commits(self) -> int:
        return sum(1 for s in self.statements if s.strip().upper() in ("COMMIT", "END"))


def stopped_run(left: int) -> tuple[SqliteStore, Traced, int]:
    """A run of `left + 1` ops whose first write meets a rate limit that stops the system."""
    fake = FakeConnector("github")
    for i in range(left + 1):
        fake.add_item(str(i))
    fake.fail_next("label.add", RateLimited("secondary rate limit", system="github"))
    state = SqliteStore.memory()
    run_id = state.start_run(T0)
    traced = Traced(state)
    conns: dict[str, Connector] = {"github": fake}  # type: ignore[dict-item]
    report = apply([label(i) for i in range(left + 1)], conns, state, run_id=run_id,
                   now=lambda: T0)
    state.db.conn.set_trace_callback(None)
    assert report.failed == 1 and report.not_attempted == left
    assert len(fake.calls) == 1
    return state, traced, run_id


def test_ops_left_at_a_budget_stop_cost_the_same_few_statements_whatever_their_number() -> None:
    _, few, _ = stopped_run(10)
    many_state, many, run_id = stopped_run(400)
    # Planning 401 ops is one chunk more than planning 11; everything after that is the same.
    plan_rows = [s for s in many.writes() if s.lstrip().upper().startswith("INSERT INTO OUTBOX")]
    assert len(plan_rows) == 401  # executemany: one statement per row, one transaction a chunk
    assert len(many.writes()) - len(plan_rows) == len(few.writes()) - 11
    assert many.commits() <= few.commits() + 1
    # No audit row for an op never attempted; the outbox still tells which they are.
    assert [a.result for a in many_state.audit(run_id=run_id)] == ["sending", "failed"]
    left = [r for r in many_state.outbox(status="planned") if r.error]
    assert len(left) == 400 and all("stopped" in r.error for r in left)
    assert many_state.status().outbox == {"github": {"failed": 1, "planned": 400}}


def test_a_writing_run_costs_about_one_transaction_per_write() -> None:
    fake = FakeConnector("github")
    n = 50
    for i in range(n):
        fake.add_item(str(i))
    state = SqliteStore.memory()
    run_id = state.start_run(T0)
    traced = Traced(state)
    conns: dict[str, Connector] = {"github": fake}  # type: ignore[dict-item]
    report = apply([label(i) for i in range(n)], conns, state, run_id=run_id, now=lambda: T0)
    state.db.conn.set_trace_callback(None)
    assert report.done == n
    # Before batching: plan, sending and done were three transactions per op.
    assert traced.commits() <= n + 3, traced.commits()
    assert [r.status for r in state.outbox()] == ["done"] * n
    assert sum(a.result == "done" for a in state.audit(run_id=run_id)) == n
