"""The syncs of `handoff serve` build every record on the same basis as `handoff sync` does:
a quiet delivery's sync after the first one checks no record, rather than rebuilding them all
because a connector kept open since the first sync lists more people and teams (bench/
serve_latency.py: a 36 s rebuild at 10k items in the way of the first edit after a start)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bench.wiring import run_as_cli
from connectors.sandbox import Sandbox
from connectors.sandbox.demo import sandbox_config
from connectors.sandbox.generate import generate_workspace
from sync.commands.serve import _Syncer
from sync.engine.pacing import Stop
from sync.engine.run import SyncOptions
from sync.settings import load_settings
from sync.store import shared


def test_later_syncs_of_the_service_rebuild_no_record(tmp_path: Path) -> None:
    # A generated workspace: its pull requests name org teams, which a connector kept open
    # used to add to the next run's directory.
    with Sandbox(generate_workspace(120, seed=3, now=datetime.now(UTC))) as sb:
        config = tmp_path / "handoff.toml"
        config.write_text(sandbox_config(sb, state_path=str(tmp_path / "state.db")))
        settings = load_settings(config)
        run_as_cli(settings, SyncOptions(findings=False), lambda: datetime.now(UTC))
        with shared(settings) as store:
            syncer = _Syncer(settings, store, Stop())
            outcomes = [syncer([], True) for _ in range(3)]  # the start-up poll, then two more
            runs = {r.id: r.counts for r in store.runs(10)}
    assert all(o.ok for o in outcomes)
    records = runs[outcomes[0].run_id]["records"]
    assert records > 0
    for o in outcomes:  # nobody changed anything: no record to check, none rebuilt
        assert runs[o.run_id]["records_checked"] == 0, runs[o.run_id]
