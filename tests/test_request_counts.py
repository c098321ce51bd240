"""Exact request counts per kind of run (issue 13, "cost follows change"), counted in the
sandbox's request log on a small generated workspace with the real connectors.

Every expectation is a formula over the workspace (bench/targets.py: pages = ceil(items/100)
per scope, one page of GitHub's repository-wide comment list per repository, the constant
reads named there), never a number copied from a run. Writes are held to an independent
oracle: a `--full --dry-run` rebuild on a snapshot of the state at the same clock plans exactly
the writes the incremental run then sends, and finds the same findings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from bench import targets as t
from bench.wiring import run_as_cli
from connectors._retry import FAST_POLICY
from connectors.base import WriteOp
from connectors.sandbox import JIRA_EMAIL, Sandbox
from connectors.sandbox.demo import sandbox_config
from connectors.sandbox.generate import generate_workspace
from sync.engine.run import SyncOptions, SyncResult
from sync.settings import Settings, load_settings
from sync.store import open_store

N = 60  # 24 Jira issues in 4 projects, 24 PRs in 4 repositories, 12 pages in 2 databases
QUIET = timedelta(minutes=10)  # past every overlap window (Jira 2 min, GitHub 30 s, Notion 1)

pytestmark = pytest.mark.slow


@dataclass
class World:
    sb: Sandbox
    ws: dict[str, Any]
    settings: Settings
    state: Path


@dataclass
class Run:
    result: SyncResult
    counts: Counter[tuple[str, str]]

    def reads(self) -> Counter[tuple[str, str]]:
        return +Counter({k: n for k, n in self.counts.items() if k[1] != "write"})

    def writes(self) -> dict[str, int]:
        return {s: n for (s, kind), n in self.counts.items() if kind == "write"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    ws = generate_workspace(N, seed=0, now=datetime.now(UTC))
    with Sandbox(ws) as sb:
        state = tmp_path / "state.db"
        config = tmp_path / "config.toml"
        config.write_text(sandbox_config(sb, state_path=str(state)), encoding="utf-8")
        yield World(sb, sb.workspace, load_settings(config), state)


def sync(w: World, **opts: Any) -> Run:
    """One run through the real clients, wired as `handoff sync` wires it, the engine's clock
    on the sandbox's clock; the requests it sent, counted from the sandbox's log."""
    w.sb.clear_log()
    result = run_as_cli(w.settings, SyncOptions(**opts), w.sb.now, FAST_POLICY)
    assert not result.errors, result.errors
    return Run(result, t.by_kind(w.sb.log()))


def _signature(ops: list[WriteOp]) -> list[tuple[str, ...]]:
    return sorted((o.system, o.item_id, o.action, o.name, o.value, o.target, o.body)
                  for o in ops)


def full_rebuild(w: World) -> SyncResult:
    """What a `--full --dry-run` plans now, on a snapshot of the state that is put back after,
    so the run under test starts from the state as it was."""
    files = [p for p in w.state.parent.glob(w.state.name + "*") if p.is_file()]
    saved = {p: p.read_bytes() for p in files}
    try:
        w.sb.clear_log()
        return sync(w, full=True, dry_run=True).result
    finally:
        for p in w.state.parent.glob(w.state.name + "*"):
            if p not in saved:
                p.unlink()
        for p, data in saved.items():
            p.write_bytes(data)


def open_findings(w: World) -> set[tuple[str, str, str]]:
    with open_store(w.settings) as state:
        return {(f.record_key, f.code, f.subject) for f in state.findings(open_only=True)}


def checked(w: World, **opts: Any) -> Run:
    """The run, held to the full rebuild's plan and findings at the same moment."""
    oracle = full_rebuild(w)
    run = sync(w, **opts)
    assert _signature(run.result.ops) == _signature(oracle.ops)
    sent = Counter({s: n for s, n in run.writes().items()})
    planned = Counter(o.system for o in oracle.ops)
    assert sent == planned, (sent, planned)
    assert open_findings(w) == {(f.record_key, f.code, f.subject) for f in oracle.findings}
    return run


def settled(w: World) -> Run:
    """The first (writing) sync, then the clock moves past the overlap windows."""
    first = sync(w)
    assert first.result.ops
    w.sb.advance(QUIET)
    return first


# -- first sync -----------------------------------------------------------------------------
def test_first_sync_pages_and_constants_are_at_the_floor(world: World) -> None:
    """What holds before issue 13 too: every list read at 100 a page, the named constants,
    one comment per item of a record with findings, the plan a full rebuild makes."""
    first = checked(world)

    want = t.expect_first(world.ws)
    for kind in ("list", "const"):
        got = {s: n for (s, k), n in first.counts.items() if k == kind}
        assert got == {s: n for (s, k), n in want.items() if k == kind}, kind
    creates = {(o.system, o.item_id) for o in first.result.ops if o.action == "comment.create"}
    assert creates and creates <= _items_of_flagged_records(world, first.result)
    assert len(creates) == sum(o.action == "comment.create" for o in first.result.ops)


def test_first_sync_reads_the_page_floor_and_no_comment_per_item(world: World) -> None:
    first = sync(world)

    assert first.reads() == t.expect_first(world.ws)
    assert t.reads(first.counts) <= t.first_sync_read_limit(world.ws)


def _items_of_flagged_records(w: World, result: SyncResult) -> set[tuple[str, str]]:
    keys = {f.record_key for f in result.findings}
    with open_store(w.settings) as state:
        rows = [r for r in state.records() if r.key in keys]
    out: set[tuple[str, str]] = set()
    for row in rows:
        for ref in row.item_ids:
            system, _, item = str(ref).partition(":")
            out.add((system, item))
    return out


# -- the run right after a writing run ------------------------------------------------------
def test_the_run_right_after_the_first_reads_pages_only_and_writes_nothing(
    world: World,
) -> None:
    first = sync(world)
    # The items our writes touched, per scope key ('jira:EXP'): their pages are what this run
    # may read again.
    touched = Counter(scope for scope, _ in {(o.scope, o.item_id) for o in first.result.ops})
    assert set(touched) <= set(t.scope_items(world.ws))

    after = checked(world)

    assert after.writes() == {}
    # Our writes' echo is no change: no record is taken up again (at 5k items, 2,158 were
    # before the reconcile step used the pull's own digest).
    assert sum(len(o.changed) for o in after.result.scopes) == 0
    assert after.result.checked == 0
    assert after.reads() == t.expect_quiet(world.ws, changed=touched)


# -- nobody changed anything ----------------------------------------------------------------
def test_a_no_change_run_reads_one_page_per_scope_and_writes_nothing(world: World) -> None:
    settled(world)
    sync(world)  # the run right after (tested above)
    world.sb.advance(QUIET)

    quiet = checked(world)

    assert quiet.writes() == {}
    assert quiet.reads() == t.expect_quiet(world.ws)
    assert sum(n for (s, k), n in quiet.counts.items() if k == "list") == len(
        t.scope_items(world.ws))
    # The run right after read every item our writes moved; what it read is not read again
    # (at 100k items the overlap before the newest item held 20,000 of them, 199 pages).
    assert {o.scope: o.pulled for o in quiet.result.scopes if o.pulled} == {}


# -- one item changed by a person -----------------------------------------------------------
def _person_changes(w: World, system: str) -> tuple[str, bool]:
    """A person edits one item of `system` (a label, or a Notion page's title); returns its
    scope key and whether the item carries our property (Notion)."""
    sb, ws = w.sb, w.ws
    if system == "jira":
        issue = ws["jira"]["issues"][0]
        requests.put(f"{sb.url}/rest/api/3/issue/{issue['key']}",
                     auth=(JIRA_EMAIL, "sandbox-jira-write"), timeout=10,
                     json={"update": {"labels": [{"add": "touched"}]}}).raise_for_status()
        return "jira:" + issue["key"].split("-")[0], False
    if system == "github":
        repo = next(iter(ws["github"]["repos"]))
        number = ws["github"]["repos"][repo]["pulls"][0]["number"]
        requests.post(f"{sb.url}/api/v3/repos/{repo}/issues/{number}/labels", timeout=10,
                      json={"labels": ["touched"]},
                      headers={"Authorization": "token sandbox-github-write"}).raise_for_status()
        return f"github:{repo}", False
    db = ws["notion"]["databases"][0]
    page = db["pages"][0]
    headers = {"Authorization": "Bearer sandbox-notion-write", "Notion-Version": "2025-09-03"}
    title = {"Name": {"title": [{"text": {"content": page["title"] + " (v2)"}}]}}
    answer = requests.patch(f"{sb.url}/v1/pages/{page['id']}", json={"properties": title},
                            headers=headers, timeout=10)
    answer.raise_for_status()
    check = answer.json()["properties"].get("Handoff check") or {}
    return f"notion:{db['id']}", bool(check.get("rich_text"))


@pytest.mark.parametrize("system", ["jira", "github", "notion"])
def test_one_item_changed_by_a_person_costs_its_page_and_no_comment_reads(
    world: World, system: str
) -> None:
    settled(world)
    sync(world)
    world.sb.advance(QUIET)
    scope, marked = _person_changes(world, system)

    run = checked(world)

    # Notion has no batch comment list: a changed page that carries our property is the one
    # comment read allowed ("only when" the property shows we wrote there: not required).
    reads = run.reads()
    assert reads.pop(("notion", "lookup"), 0) <= int(marked)
    assert reads == t.expect_quiet(world.ws, changed={scope: 1})


# -- a record's expiry passes -----------------------------------------------------------------
def _next_expiry(ws: dict[str, Any], today: date) -> tuple[date, set[str]]:
    """The first review date on or after today among Jira issues, and the issues that carry
    it (each keys a record)."""
    dates: dict[date, set[str]] = {}
    for issue in ws["jira"]["issues"]:
        value = (issue.get("fields") or {}).get("Review date")
        if value and date.fromisoformat(value) >= today:
            dates.setdefault(date.fromisoformat(value), set()).add(issue["key"])
    when = min(dates)
    return when, dates[when]


def test_a_record_whose_expiry_passes_is_rewritten_without_reading_more(world: World) -> None:
    settled(world)
    sync(world)
    now = world.sb.now()
    when, keys = _next_expiry(world.ws, now.date())
    before = {f.record_key for f in full_rebuild(world).findings if f.code == "expired"}
    assert not keys & before
    # Past the date in every time zone (the rule may read the owner's), nothing else changed.
    world.sb.advance(datetime.combine(when + timedelta(days=1), datetime.min.time(), UTC)
                     + timedelta(hours=14) - now)

    run = checked(world)

    expired = {f.record_key for f in run.result.findings if f.code == "expired"}
    assert keys & expired, (keys, expired)
    assert run.writes(), "the records that expired carry our comment: it must change"
    # Constants may have expired from the cache over the days the clock moved.
    reads = run.reads()
    first = t.constants(world.ws, first=True)
    for system in t.SYSTEMS:
        assert reads.pop((system, "const"), 0) <= first[system]
    want = t.expect_quiet(world.ws)
    for system in t.SYSTEMS:
        want.pop((system, "const"), None)
    assert reads == want


# -- incremental and full agree -------------------------------------------------------------
def test_every_incremental_run_plans_and_finds_what_a_full_rebuild_does(world: World) -> None:
    """First sync, the run after, a person's change, an expiry passing: each run's writes and
    the findings it leaves equal those of a `--full` rebuild at the same moment."""
    checked(world)
    checked(world)
    world.sb.advance(QUIET)
    _person_changes(world, "jira")
    checked(world)
    now = world.sb.now()
    when, _ = _next_expiry(world.ws, now.date())
    world.sb.advance(datetime.combine(when + timedelta(days=1), datetime.min.time(), UTC)
                     + timedelta(hours=14) - now)
    assert checked(world).result.ops
