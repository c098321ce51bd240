"""Applying a plan: outbox, crash safety at every step, failures kept to their system, pacing."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fakes import BOT, FakeClock, FakeConnector
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import Connector, WriteOp
from connectors.errors import AuthError, ItemError, NotFound, RateLimited, TransientError
from sync.engine.apply import GIVE_UP_AFTER, apply
from sync.engine.pacing import Budget, Pacer
from sync.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MARKER = "<!-- handoff-sync -->"


def now() -> datetime:
    return T0


def comment(system: str, item: str, text: str = "Missing: outcome owner") -> WriteOp:
    return WriteOp(
        system=system,
        scope=f"{system}:main",
        item_id=item,
        item_key=f"{system.upper()}-{item}",
        action="comment.create",
        body=f"{MARKER}\n{text}",
        marker=MARKER,
    )


def label(system: str, item: str, name: str = "handoff:ownerless") -> WriteOp:
    return WriteOp(
        system=system,
        scope=f"{system}:main",
        item_id=item,
        item_key=f"{system.upper()}-{item}",
        action="label.add",
        name=name,
    )


def world(
    systems: tuple[str, ...] = ("jira", "github", "notion"), items: int = 3
) -> dict[str, FakeConnector]:
    fakes = {s: FakeConnector(s) for s in systems}
    for fake in fakes.values():
        for i in range(items):
            fake.add_item(str(i))
    return fakes


def plan(fakes: dict[str, FakeConnector], items: int = 3) -> list[WriteOp]:
    return [w for s in fakes for i in range(items) for w in (comment(s, str(i)), label(s, str(i)))]


def run(ops: list[WriteOp], fakes: dict[str, FakeConnector], state: SqliteStore, **kw: object):  # type: ignore[no-untyped-def]
    conns: dict[str, Connector] = dict(fakes)
    return apply(ops, conns, state, run_id=state.start_run(T0), now=now, **kw)  # type: ignore[arg-type]


def assert_converged(
    fakes: dict[str, FakeConnector], ops: list[WriteOp], state: SqliteStore, *, audit: bool = True
) -> None:
    """One marker comment per item with the planned text, every label, every op done."""
    for w in ops:
        fake = fakes[w.system]
        if w.action == "comment.create":
            ours = fake.comments(w.item_id, MARKER)
            assert [c.body for c in ours] == [w.body], (w.system, w.item_id)
            stored = state.comment_for(w.item_id, system=w.system)
            assert stored is not None and stored.comment_id == ours[0].id
        else:
            assert w.name in fake.labels(w.item_id)
        row = state.outbox_row(w.key)
        assert row is not None and row.status == "done", (w, row)
    if not audit:
        return
    # The audit accounts for every write a server received, crashes included.
    sending = Counter((a.system, a.item_id) for a in state.audit() if a.result == "sending")
    for fake in fakes.values():
        landed = Counter((o.system, o.item_id) for o in fake.landed)
        assert all(sending[k] >= n for k, n in landed.items()), (landed, sending)


# --- the happy path ----------------------------------------------------------------------------


def test_first_run_writes_once_and_records_everything() -> None:
    fakes, state = world(), SqliteStore.memory()
    ops = plan(fakes)
    seen: list[tuple[str, str]] = []
    report = run(ops, fakes, state, on_progress=lambda o, outcome: seen.append((o.key, outcome)))
    assert (report.done, report.failed, report.ok) == (18, 0, True)
    assert sorted(seen) == sorted((o.key, "done") for o in ops)
    assert_converged(fakes, ops, state)
    assert [a.result for a in state.audit()].count("sending") == 18
    assert [a.result for a in state.audit()].count("done") == 18
    # The state knew nothing, so each create looked for the marker once first.
    assert sum(len(f.finds) for f in fakes.values()) == 9


def test_second_run_with_the_same_plan_sends_no_comment() -> None:
    fakes, state = world(), SqliteStore.memory()
    ops = plan(fakes)
    run(ops, fakes, state)
    calls = {s: len(f.calls) for s, f in fakes.items()}
    report = run(ops, fakes, state)
    assert report.unchanged == 9
    sent = [o.action for f in fakes.values() for o in f.calls[calls[f.system] :]]
    assert "comment.create" not in sent and "comment.update" not in sent
    # A create planned again while we remember the comment: it is looked up, not re-posted.
    assert sum(len(f.finds) for f in fakes.values()) == 18


def test_the_same_run_twice_skips_what_it_did() -> None:
    fakes, state = world(("github",)), SqliteStore.memory()
    ops = plan(fakes)
    run_id = state.start_run(T0)
    apply(ops, dict(fakes), state, run_id=run_id, now=now)
    report = apply(ops, dict(fakes), state, run_id=run_id, now=now)
    assert report.skipped == len(ops) and len(fakes["github"].calls) == len(ops)


def test_a_changed_text_edits_the_comment_in_place() -> None:
    fakes, state = world(("notion",), items=1), SqliteStore.memory()
    run([comment("notion", "0", "v1")], fakes, state)
    report = run([comment("notion", "0", "All clear")], fakes, state)
    assert report.done == 1
    assert [c.body for c in fakes["notion"].comments("0")] == [f"{MARKER}\nAll clear"]
    assert fakes["notion"].calls[-1].action == "comment.update"
    assert state.audit()[-1].action == "comment.update"


@pytest.mark.parametrize("text", ["v1", "v2"])
def test_a_comment_someone_deleted_is_written_again(text: str) -> None:
    fakes, state = world(("jira",), items=1), SqliteStore.memory()
    run([comment("jira", "0", "v1")], fakes, state)
    fakes["jira"].items["0"].comments.clear()
    report = run([comment("jira", "0", text)], fakes, state)
    assert report.done == 1
    assert [c.body for c in fakes["jira"].comments("0")] == [f"{MARKER}\n{text}"]
    stored = state.comment_for("0", system="jira")
    assert stored is not None and stored.comment_id == fakes["jira"].comments("0")[0].id


def test_an_update_of_a_deleted_comment_writes_it_again() -> None:
    fakes, state = world(("github",), items=1), SqliteStore.memory()
    run([comment("github", "0", "v1")], fakes, state)
    old = fakes["github"].comments("0")[0].id
    fakes["github"].items["0"].comments.clear()
    update = WriteOp(
        **{**comment("github", "0", "v2").__dict__, "action": "comment.update", "target": old}
    )
    report = run([update], fakes, state)
    assert report.done == 1
    assert [c.body for c in fakes["github"].comments("0")] == [f"{MARKER}\nv2"]


def test_a_person_quoting_our_marker_is_not_mistaken_for_us() -> None:
    fakes, state = world(("github",), items=1), SqliteStore.memory()
    fakes["github"].add_comment("0", f"look: {MARKER} ha", author="mallory")
    run([comment("github", "0")], fakes, state)
    assert [c.author for c in fakes["github"].comments("0", MARKER)] == ["mallory", BOT]


# --- crash safety ------------------------------------------------------------------------------


class Crash(BaseException):
    """The process dies here: nothing in apply catches it."""


STATE_STEPS = ("outbox_plan_many", "outbox_sending", "record_comment", "outbox_done")
CONNECTOR_STEPS = ("find_comment", "apply:before", "apply:after")


class CrashingState(SqliteStore):
    """Dies on the n-th call of one verb: before it for record_comment (inside step 5's
    transaction), after it otherwise."""

    def __init__(self, base: SqliteStore, step: str, nth: int) -> None:
        super().__init__(base.db)
        self.step, self.left = step, nth
        self._count = threading.Lock()  # systems apply in parallel threads

    def _tick(self, step: str) -> None:
        if step == self.step:
            with self._count:
                self.left -= 1
                now_dead = self.left == 0
            if now_dead:
                raise Crash(step)

    def outbox_plan_many(self, *a, **kw):  # type: ignore[no-untyped-def]
        out = super().outbox_plan_many(*a, **kw)
        self._tick("outbox_plan_many")
        return out

    def outbox_sending(self, *a, **kw):  # type: ignore[no-untyped-def]
        super().outbox_sending(*a, **kw)
        self._tick("outbox_sending")

    def record_comment(self, *a, **kw):  # type: ignore[no-untyped-def]
        self._tick("record_comment")
        super().record_comment(*a, **kw)

    def outbox_done(self, *a, **kw):  # type: ignore[no-untyped-def]
        super().outbox_done(*a, **kw)
        self._tick("outbox_done")


class CrashingConnector(FakeConnector):
    def __init__(self, system: str, step: str, nth: int) -> None:
        super().__init__(system)
        self.step, self.left = step, nth

    def _tick(self, step: str) -> bool:
        if step == self.step:
            self.left -= 1
            return self.left == 0
        return False

    def find_comment(self, *a, **kw):  # type: ignore[no-untyped-def]
        if self._tick("find_comment"):
            raise Crash("find_comment")
        return super().find_comment(*a, **kw)

    def apply(self, op: WriteOp):  # type: ignore[no-untyped-def]
        if self._tick("apply:before"):
            raise Crash("apply:before")
        result = super().apply(op)
        if self._tick("apply:after"):
            raise Crash("apply:after")  # landed on the server, never recorded
        return result


@pytest.mark.parametrize(
    ("step", "nth"),
    # The plan goes into the outbox in one call per run: it has only a first time to die at.
    [(s, n) for s in STATE_STEPS + CONNECTOR_STEPS for n in (1, 2, 3)
     if s != "outbox_plan_many" or n == 1],
)
def test_a_crash_at_any_step_is_repaired_by_the_next_run(step: str, nth: int) -> None:
    fakes = {"github": CrashingConnector("github", step, nth), "jira": FakeConnector("jira")}
    for fake in fakes.values():
        for i in range(3):
            fake.add_item(str(i))
    ops = plan(fakes)  # type: ignore[arg-type]
    base = SqliteStore.memory()
    crashing = CrashingState(base, step, nth)
    with pytest.raises(Crash):
        run(ops, fakes, crashing)  # type: ignore[arg-type]
    fakes["github"].step = ""  # the restarted process does not crash
    rerun = SqliteStore(base.db)
    report = run(ops, fakes, rerun)  # type: ignore[arg-type]
    assert report.ok
    assert_converged(fakes, ops, rerun)  # type: ignore[arg-type]


def test_a_lost_state_file_still_posts_no_second_comment() -> None:
    fakes = world()
    ops = plan(fakes)
    run(ops, fakes, SqliteStore.memory())
    fresh = SqliteStore.memory()
    report = run(ops, fakes, fresh)
    assert report.unchanged == 9
    assert_converged(fakes, ops, fresh, audit=False)  # the first run's audit went with it


def test_a_write_that_lands_then_times_out_is_found_again() -> None:
    fakes, state = world(("github",)), SqliteStore.memory()
    fakes["github"].land_then_fail("comment.create")
    ops = plan(fakes)
    first = run(ops, fakes, state)
    assert first.failed == 1 and "timed out" in first.failures[0].message
    assert state.outbox(status="failed")[0].op.action == "comment.create"
    second = run(ops, fakes, state)
    assert second.ok and second.unchanged == 3
    assert_converged(fakes, ops, state)


# --- failures stay where they happen ---------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        AuthError("token rejected (401)", system="github"),
        RateLimited("secondary rate limit", system="github", retry_after=600),
    ],
)
def test_auth_or_rate_limit_stops_that_system_only(error: Exception) -> None:
    fakes, state = world(), SqliteStore.memory()
    fakes["github"].fail_next("comment.create", error)
    ops = plan(fakes)
    report = run(ops, fakes, state)
    assert report.failed == 1 and report.not_attempted == 5
    assert set(report.stopped) == {"github"}
    assert {f.system for f in report.failures} == {"github"}
    assert len(fakes["github"].calls) == 1
    assert report.done == 12  # jira and notion finished
    # The audit holds attempted writes only; the outbox keeps the rest planned, with why.
    assert not [a for a in state.audit() if a.result == "not-attempted"]
    left = [r for r in state.outbox(status="planned", system="github") if r.error]
    assert len(left) == 5 and all("github stopped" in r.error for r in left)
    assert all("github stopped" in f.message for f in report.failures if not f.attempted)


@pytest.mark.parametrize(
    "error",
    [
        ItemError("issue is archived", system="jira", item_id="1"),
        NotFound("issue was deleted", system="jira"),
        TransientError("503 after retries", system="jira"),
        KeyError("connector bug"),
    ],
)
def test_one_failing_item_does_not_stop_the_rest(error: Exception) -> None:
    fakes, state = world(("jira",)), SqliteStore.memory()
    fakes["jira"].fail_next("label.add", error)
    report = run(plan(fakes), fakes, state)
    assert (report.failed, report.done) == (1, 5)
    failure = report.failures[0]
    assert failure.item_key == "JIRA-0" and "could not add the label handoff:ownerless" in (
        failure.message
    )


def test_a_system_that_keeps_failing_is_given_up_on() -> None:
    fakes, state = world(("notion", "jira"), items=10), SqliteStore.memory()
    fakes["notion"].fail_next(None, TransientError("502", system="notion"), times=GIVE_UP_AFTER)
    report = run(plan(fakes, items=10), fakes, state)
    assert report.failed == GIVE_UP_AFTER and report.not_attempted == 20 - GIVE_UP_AFTER
    assert "10 failed writes in a row" in report.stopped["notion"]
    assert len(fakes["notion"].calls) == GIVE_UP_AFTER and report.done == 20


def test_a_system_without_a_connector_is_reported_not_crashed() -> None:
    fakes, state = world(("jira",)), SqliteStore.memory()
    ops = [*plan(fakes), label("github", "9")]
    report = run(ops, fakes, state)
    assert report.done == 6 and report.not_attempted == 1
    assert "no github connector" in report.failures[0].message


def test_interrupted_ops_of_an_earlier_run_leave_the_queue() -> None:
    fakes, state = world(("jira",)), SqliteStore.memory()
    fakes["jira"].fail_next(None, RateLimited("busy", system="jira"))
    run([label("jira", "0", "old")], fakes, state)
    assert state.status().outbox == {"jira": {"failed": 1}}
    run([label("jira", "0", "new")], fakes, state)
    assert state.status().outbox == {}


# --- pacing ------------------------------------------------------------------------------------


def max_in_window(times: list[float], window: float) -> int:
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_github_stays_under_80_creates_in_any_minute() -> None:
    clock = FakeClock()
    fakes = {"github": FakeConnector("github", clock=clock)}
    for i in range(250):
        fakes["github"].add_item(str(i))
    ops = [comment("github", str(i)) for i in range(250)]
    pacer = Pacer({"github": Budget(80, 60.0)}, clock=clock, sleep=clock.sleep)
    report = run(ops, fakes, SqliteStore.memory(), pacer=pacer)
    assert report.done == 250
    times = fakes["github"].call_times
    assert max_in_window(times, 60.0) == 80
    assert clock() >= 180.0  # 250 creates need at least three full windows


def test_without_a_pacer_the_same_run_would_burst() -> None:
    """The check above can fail: unpaced, all 250 land in the same simulated instant."""
    clock = FakeClock()
    fakes = {"github": FakeConnector("github", clock=clock)}
    for i in range(250):
        fakes["github"].add_item(str(i))
    run([comment("github", str(i)) for i in range(250)], fakes, SqliteStore.memory())
    assert max_in_window(fakes["github"].call_times, 60.0) == 250


def test_notion_paces_reads_too_and_github_does_not() -> None:
    clock = FakeClock()
    pacer = Pacer(
        {"notion": Budget(3, 1.0, reads=True), "github": Budget(80, 60.0)},
        clock=clock,
        sleep=clock.sleep,
    )
    for _ in range(7):
        pacer.wait("notion", write=False)
        pacer.wait("github", write=False)
    assert clock() == pytest.approx(2.0)  # 7 Notion calls at 3 a second: windows 0, 1, 2
    assert pacer.wait("jira") == 0.0  # no budget configured: not paced


# --- property: any faults, then one clean run, converge --------------------------------------

FAULTS = st.lists(
    st.tuples(
        st.sampled_from(["jira", "github", "notion"]),
        st.sampled_from(["comment.create", "label.add", None]),
        st.sampled_from(["fail", "land", "auth", "rate"]),
    ),
    max_size=6,
)


@settings(max_examples=40, deadline=None)
@given(faults=FAULTS, runs=st.integers(min_value=1, max_value=3))
def test_any_faults_then_a_clean_run_converge(
    faults: list[tuple[str, str | None, str]], runs: int
) -> None:
    fakes, state = world(items=2), SqliteStore.memory()
    ops = plan(fakes, items=2)
    for _ in range(runs):
        for system, action, kind in faults:
            _inject(fakes[system], action, kind)
        run(ops, fakes, state)
    for fake in fakes.values():
        fake.clear_failures()
    report = run(ops, fakes, state)
    assert report.ok
    assert_converged(fakes, ops, state)


def _inject(fake: FakeConnector, action: str | None, kind: str) -> None:
    errors: dict[str, Callable[[], Exception]] = {
        "fail": lambda: TransientError("502", system=fake.system),
        "auth": lambda: AuthError("401", system=fake.system),
        "rate": lambda: RateLimited("429", system=fake.system, retry_after=1),
    }
    if kind == "land":
        fake.land_then_fail(action)
    else:
        fake.fail_next(action, errors[kind]())


def test_a_comment_carrying_the_older_marker_by_id_is_edited_not_doubled() -> None:
    # Markers now name an item by its uid; a comment posted before carries the marker of its
    # id, and must still be the one comment we keep (issue 11: exactly one comment).
    from sync.writeback.render import marker_for

    fake = FakeConnector("github")
    fake.add_item("acme/web#1")
    legacy = marker_for("github", "acme/web#1")
    fake.add_comment("acme/web#1", f"Old findings\n<!-- {legacy}/0000000000 -->")
    new = marker_for("github", "555")
    op = WriteOp(
        system="github",
        scope="github:acme/web",
        item_id="acme/web#1",
        item_key="acme/web#1",
        action="comment.create",
        body=f"New findings\n<!-- {new}/1111111111 -->",
        marker=new,
    )
    with SqliteStore.memory() as state:
        report = run([op], {"github": fake}, state)
    assert report.ok
    (only,) = fake.comments("acme/web#1")
    assert "New findings" in only.body
