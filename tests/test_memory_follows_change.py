"""A quiet run's memory follows what it evaluated: the open findings of the records nobody
touched stay in the state; the run neither decodes, nor re-records, nor holds them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors._retry import FAST_POLICY
from connectors.sandbox import Sandbox
from connectors.sandbox.demo import sandbox_config
from connectors.sandbox.generate import generate_workspace
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions, SyncResult
from sync.settings import Settings, load_settings
from sync.store.sqlite import SqliteStore

# Store verbs that hand findings (or their first-seen times) to the engine, and the verb
# that takes them back; each is counted by the rows it returns or receives.
_READS = ("iter_open_findings", "opened_at", "opened_at_of", "findings")


@contextmanager
def _workspace(tmp_path: Path) -> Iterator[tuple[Settings, Callable[..., SyncResult]]]:
    """A generated workspace, and a sync through the real clients on a clock that stands."""
    with Sandbox(generate_workspace(300, seed=5)) as sb:
        config = tmp_path / "c.toml"
        config.write_text(sandbox_config(sb, state_path=str(tmp_path / "s.db")), encoding="utf-8")
        settings = load_settings(config)
        now = datetime.now(UTC).replace(microsecond=0)

        def sync(**opts: Any) -> SyncResult:
            conns = connect(settings, policy=FAST_POLICY)
            engine = Engine(settings, conns.connectors, conns.scopes, clock=lambda: now)
            return engine.run(SyncOptions(**opts))

        yield settings, sync


def _spy(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    seen: Counter[str] = Counter()

    def counted(name: str, verb: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: SqliteStore, *args: Any, **kwargs: Any) -> Any:
            rows = list(verb(self, *args, **kwargs)) if name == "iter_open_findings" else None
            out = verb(self, *args, **kwargs) if rows is None else iter(rows)
            seen[name] += len(rows) if rows is not None else len(out)
            return out

        return call

    for name in _READS:
        monkeypatch.setattr(SqliteStore, name, counted(name, getattr(SqliteStore, name)))
    record = SqliteStore.record_findings

    def recorded(self: SqliteStore, run_id: int, findings: Any, *a: Any, **k: Any) -> Any:
        findings = list(findings)
        seen["record_findings"] += len(findings)
        return record(self, run_id, findings, *a, **k)

    monkeypatch.setattr(SqliteStore, "record_findings", recorded)
    return seen


def test_a_quiet_run_holds_no_finding_of_records_it_did_not_evaluate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _workspace(tmp_path) as (settings, sync):

        sync()
        sync()  # the run right after the writing run
        with SqliteStore.open(settings.state.path) as state:
            open_now = sum(state.open_findings().values())
        assert open_now > 50  # the workspace has plenty to say

        seen = _spy(monkeypatch)
        quiet = sync(findings=False)  # as the CLI runs it
        assert quiet.errors == [] and quiet.ops == []
        # The run still reports every open finding, counted by the state...
        assert quiet.counts()["findings"] == open_now
        # ...but decodes, records and holds none of them: it evaluated nothing.
        assert quiet.findings == []
        assert sum(seen.values()) <= open_now // 10, seen

        # Asked for them (tests, the demo), the run reads them from the state, after.
        told = sync()
        assert len(told.findings) == told.counts()["findings"] == open_now


def test_a_rebuild_records_findings_a_batch_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync.engine import incremental

    monkeypatch.setattr(incremental, "GROUP_BATCH", 50)
    with _workspace(tmp_path) as (settings, sync):

        first = sync()
        sizes: list[int] = []
        record = SqliteStore.record_findings

        def recorded(self: SqliteStore, run_id: int, findings: Any, *a: Any, **k: Any) -> Any:
            findings = list(findings)
            sizes.append(len(findings))
            return record(self, run_id, findings, *a, **k)

        monkeypatch.setattr(SqliteStore, "record_findings", recorded)
        again = sync(full=True, findings=False)
        assert again.errors == [] and again.counts()["findings"] == len(first.findings)
        # Several batches, none holding every finding; together, every finding once.
        assert len(sizes) > 2 and max(sizes) < len(first.findings) / 2, sizes
        assert sum(sizes) == len(first.findings)
        with SqliteStore.open(settings.state.path) as state:
            (_, _, trend), *_ = reversed(state.trend(1))
            assert trend == state.open_findings()  # the run's counts add up across batches
