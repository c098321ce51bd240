"""Reconcile is the pure middle of a run: no network, no store writes, and the engine's plan."""

from __future__ import annotations

from datetime import UTC, datetime
from inspect import signature
from pathlib import Path

from engine_fixtures import workspace, write_config

from connectors._retry import FAST_POLICY
from connectors.base import CommentRef, SourceItem
from connectors.sandbox import Sandbox
from sync.engine.comments import stored_comments
from sync.engine.connect import connect
from sync.engine.knowledge import jira_keys
from sync.engine.pull import pull
from sync.engine.reconcile import reconcile
from sync.engine.run import Engine, SyncOptions
from sync.settings import load_settings
from sync.store import Store, memory_store
from sync.systems import runtime

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


class ReadOnlyStore:
    """The reads reconcile's inputs come from; any other use of the store fails the test."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def iter_items(self) -> list[SourceItem]:
        return [i for i in self._store.iter_items() if i.state == "present"]

    def opened_at(self) -> dict[str, datetime]:
        return self._store.opened_at()

    def comments(self) -> dict[tuple[str, str], CommentRef]:
        return stored_comments(self._store)

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"reconcile's inputs used the store's {name}")


def test_reconcile_makes_no_request_and_plans_what_the_engine_plans(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        settings = load_settings(write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db"))
        conns = connect(settings, policy=FAST_POLICY)
        assert conns.errors == []
        engine = Engine(settings, conns.connectors, conns.scopes, clock=lambda: NOW)
        planned = engine.run(SyncOptions(dry_run=True)).ops
        assert planned  # a fresh workspace has findings to write

        # The steps before reconcile, by hand: people, then every scope pulled into a store.
        rt = runtime.runtime(settings)
        directory = rt.directory()
        for connector in conns.connectors.values():
            directory.add_accounts(connector.people())
        store = memory_store()
        outcomes = pull(
            conns.connectors,
            conns.scopes,
            {s.key: None for s in conns.scopes},
            store,
            run_id=store.start_run(NOW, dry_run=True),
            now=NOW,
            progress=lambda phase, done, total: None,
        )
        view = ReadOnlyStore(store)
        items = view.iter_items()
        requests_before = len(sb.log())

        done = reconcile(
            items,
            rt,
            directory,
            now=NOW,
            opened=view.opened_at(),
            comments=view.comments(),
            systems=list(conns.connectors),
            known_keys=jira_keys(store, outcomes),
        )

        assert len(sb.log()) == requests_before  # not one request reached the APIs
    assert done.ops == planned
    assert {r.key for r in done.records} >= {"EXP-1", "EXP-2", "EXP-3", "acme/web#2"}


def test_reconcile_is_given_neither_a_store_nor_connectors_nor_a_clock() -> None:
    annotations = " ".join(str(p.annotation) for p in signature(reconcile).parameters.values())
    for unwanted in ("Store", "Connector", "Callable"):
        assert unwanted not in annotations
