"""The big guard of incremental reconcile: after any sequence of runs, people's edits and the
clock moving on, a run that evaluates only what changed finds and plans exactly what a
rebuild of every record finds and plans on a copy of the same state.

Both sides are dry runs (the real pull, read and plan, nothing written) with the same clock:
the state as the runs left it, and a copy whose "records built on" fact is cleared, so its
run rebuilds every record from the store in two streaming passes.
"""

from __future__ import annotations

import shutil
import tracemalloc
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from engine_fixtures import workspace, write_config

from connectors._retry import FAST_POLICY
from connectors.sandbox import JIRA_EMAIL, Sandbox
from connectors.sandbox.demo import sandbox_config
from connectors.sandbox.generate import generate_workspace
from sync.engine import incremental
from sync.engine.comments import discover
from sync.engine.connect import connect
from sync.engine.evaluate import evaluate_run
from sync.engine.incremental import BASIS
from sync.engine.knowledge import ScopeOutcome
from sync.engine.result import stored_findings
from sync.engine.run import Engine, SyncOptions, SyncResult
from sync.settings import Settings, load_settings
from sync.store.sqlite import SqliteStore
from sync.store.sqlite import items as sqlite_store
from sync.systems import runtime

GH = {"Authorization": "token sandbox-github-write"}
JIRA_AUTH = (JIRA_EMAIL, "sandbox-jira-write")


class World:
    """A sandbox, a config and a clock the test moves."""

    def __init__(self, sb: Sandbox, tmp: Path, config: Callable[[Path], Path]) -> None:
        self.sb, self.tmp, self.config = sb, tmp, config
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.settings = load_settings(config(tmp / "state.db"))
        self.copies = 0

    def engine(self, settings: Settings) -> Engine:
        conns = connect(settings, policy=FAST_POLICY)
        assert conns.errors == []
        return Engine(settings, conns.connectors, conns.scopes, clock=lambda: self.now)

    def sync(self, **opts: Any) -> SyncResult:
        return self.engine(self.settings).run(SyncOptions(**opts))

    def state(self) -> SqliteStore:
        return SqliteStore.open(self.settings.state.path)

    def compare(self) -> tuple[SyncResult, SyncResult]:
        """An incremental dry run and a rebuilding dry run on a copy: identical answers."""
        self.copies += 1
        copy = self.tmp / f"copy{self.copies}.db"
        shutil.copy(self.settings.state.path, copy)
        with SqliteStore.open(copy) as state:
            state.remember_fact(BASIS, "")
        rebuilt = self.engine(load_settings(self.config(copy))).run(SyncOptions(dry_run=True))
        step = self.sync(dry_run=True)
        assert step.errors == rebuilt.errors == []
        assert Counter(step.findings) == Counter(rebuilt.findings)
        assert Counter(map(repr, step.ops)) == Counter(map(repr, rebuilt.ops))
        assert step.records == rebuilt.records
        return step, rebuilt


def _jira_edit(sb: Sandbox, key: str, fields: dict[str, Any]) -> None:
    r = requests.put(
        f"{sb.url}/rest/api/2/issue/{key}", json={"fields": fields}, auth=JIRA_AUTH, timeout=10
    )
    assert r.status_code == 204, r.text


def _pr_title(sb: Sandbox, repo: str, number: int, title: str) -> None:
    r = requests.patch(
        f"{sb.url}/api/v3/repos/{repo}/issues/{number}",
        json={"title": title},
        headers=GH,
        timeout=10,
    )
    assert r.status_code == 200, r.text


def _keys(sb: Sandbox) -> list[tuple[str, str]]:
    """(id, key) of the sandbox's Jira issues, in id order."""
    issues = sb.jira.issues
    return sorted(((i, issues[i]["key"]) for i in issues), key=lambda p: int(p[0]))


def _pulls(sb: Sandbox) -> list[tuple[str, int]]:
    return sorted(
        (f"{repo.owner}/{repo.name}", item.number)
        for repo in sb.github.repos.values()
        for item in repo.items.values()
        if item.is_pull
    )


def _story(world: World) -> None:
    """Runs with people's edits and the clock moving between them, comparing at each step."""
    world.sync()
    sb = world.sb
    with world.state() as state:  # the runs after this one evaluate only what changed
        assert state.fact(BASIS) and not state.dirty_items()
    world.compare()
    keys, pulls = _keys(sb), _pulls(sb)
    # A person changes a field: the record's findings change.
    _jira_edit(sb, keys[0][1], {"description": "Experiment brief, nothing else yet."})
    world.compare()
    world.sync()
    # A PR moves to another key: two records change, one may vanish.
    repo, number = pulls[0]
    _pr_title(sb, repo, number, f"{keys[1][1]} follow-up")
    world.compare()
    world.sync()
    world.compare()
    # An issue is gone (a full pull would find it missing): its record changes or vanishes.
    gone_id, _ = keys[2]
    sb.jira.issues[gone_id]["state"] = "deleted"
    with world.state() as state:
        state.mark_item("jira", gone_id, "deleted")
    world.compare()
    world.sync()
    # Time alone: escalation steps, staleness, expiry dates passing.
    for hours in (5, 20, 30, 24 * 3, 24 * 9, 24 * 40):
        world.now += timedelta(hours=hours)
        world.compare()
        world.sync()
    step, _ = world.compare()
    assert step.findings  # the workspace still has something to say


def test_demo_workspace_incremental_equals_rebuild(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        world = World(sb, tmp_path, lambda state: write_config(tmp_path / "c.toml", sb.url, state))
        _story(world)


@pytest.mark.parametrize("seed", [3])
def test_generated_workspace_incremental_equals_rebuild(tmp_path: Path, seed: int) -> None:
    with Sandbox(generate_workspace(240, seed=seed)) as sb:

        def config(state: Path) -> Path:
            path = tmp_path / f"{state.stem}.toml"
            path.write_text(sandbox_config(sb, state_path=str(state)), encoding="utf-8")
            return path

        _story(World(sb, tmp_path, config))


def _counting(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count every item the store decodes from its rows."""
    seen: Counter[str] = Counter()
    decode = sqlite_store._item_from_row

    def counted(row: tuple[Any, ...]) -> Any:
        seen["items"] += 1
        return decode(row)

    monkeypatch.setattr(sqlite_store, "_item_from_row", counted)
    return seen


def _reconcile_only(world: World, state: SqliteStore) -> Any:
    """The reconcile step of a run whose pulls brought nothing new, as the engine runs it."""
    conns = connect(world.settings, policy=FAST_POLICY)
    rt = runtime.runtime(world.settings)
    directory = rt.directory()
    for connector in conns.connectors.values():
        directory.add_accounts(connector.people())
    outcomes = [ScopeOutcome(s.key) for s in conns.scopes]
    return evaluate_run(
        state,
        rt,
        directory,
        conns.connectors,
        outcomes,
        systems=list(conns.connectors),
        now=world.now,
        full=False,
        found=discover(state, outcomes, world.now),
        pacer=None,
        clock=lambda: world.now,
    )


def test_a_steady_run_decodes_only_the_items_it_touches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Sandbox(generate_workspace(300, seed=5)) as sb:
        config = tmp_path / "c.toml"
        config.write_text(sandbox_config(sb, state_path=str(tmp_path / "s.db")), encoding="utf-8")
        world = World(sb, tmp_path, lambda state: config)
        world.sync()
        world.sync()  # the run after the writing run
        seen = _counting(monkeypatch)
        with world.state() as state:
            done = _reconcile_only(world, state)
            assert not done.full and done.loaded == 0 and seen["items"] == 0
            # Every record is still counted, but nothing was evaluated, so no finding is
            # held: every open finding stays in the state, which the run's answer reads.
            assert done.records > 50 and done.findings == [] and not done.evaluated
            stored = Counter(stored_findings(state))
            assert stored and stored == Counter(world.sync(dry_run=True).findings)
        seen.clear()
        (key_id, key) = _keys(sb)[0]
        _jira_edit(sb, key, {"summary": "Renamed by a person"})
        edited = world.sync()
        with world.state() as state:
            group = state.items_in_records(state.records_of([("jira", key_id)]))
        pulled = sum(o.pulled for o in edited.scopes)
        # The pulled items are read back once for their links and once for their records,
        # plus the edited issue's group; with the pull reporting only changed content
        # (slice D), "pulled" shrinks to what people changed.
        assert seen["items"] <= 2 * (pulled + len(group)) + 10, (seen, pulled, len(group))


def test_a_rebuild_holds_one_batch_of_groups_not_every_item(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Sandbox(generate_workspace(2000, seed=7)) as sb:
        config = tmp_path / "c.toml"
        config.write_text(sandbox_config(sb, state_path=str(tmp_path / "s.db")), encoding="utf-8")
        world = World(sb, tmp_path, lambda state: config)
        world.sync()
        settings = world.settings
        rt = runtime.runtime(settings)
        monkeypatch.setattr(incremental, "GROUP_BATCH", 100)
        monkeypatch.setattr(incremental, "_BATCH", 100)
        with world.state() as state:
            tracemalloc.start()
            every = list(state.iter_items())
            holding_all = tracemalloc.get_traced_memory()[0]
            del every
            tracemalloc.stop()
            tracemalloc.start()
            done = evaluate_run(
                state,
                rt,
                rt.directory(),
                {},
                [],
                systems=[],
                now=world.now,
                full=True,
                found=discover(state, [], world.now),
                pacer=None,
                clock=lambda: world.now,
            )
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert done.full and done.records > 500
        # Findings stay (they are the run's answer); items and records come and go a batch
        # at a time, so the rebuild's peak is a fraction of merely holding every item.
        assert peak < holding_all / 3, (peak, holding_all)
