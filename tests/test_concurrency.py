"""Two `handoff sync` started together on one config: one runs, the other leaves with exit 3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from engine_fixtures import workspace, write_config
from fault_helpers import ROOT, posted_comments, run_sync

from connectors.sandbox import Sandbox
from sync.settings import load_settings
from sync.store.sqlite import SqliteStore

# End to end through the real clients and the sandbox: `-m 'not slow'` leaves it out.
pytestmark = pytest.mark.slow


def test_two_syncs_at_once_one_runs_the_other_exits_3(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db")
        # Every request takes a little while, so the first run still holds the lock when the
        # second one, started at the same moment, asks for it.
        sb.latency = 0.05
        cmd = [sys.executable, "-m", "sync.commands.cli", "sync", "--config", str(config)]
        procs = [
            subprocess.Popen(
                cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
        sb.latency = 0.0

        codes = sorted(code for code, _, _ in results)
        assert codes == [0, 3], results
        _, out, err = next(r for r in results if r[0] == 3)
        lines = [ln for ln in (out + err).splitlines() if ln.strip()]
        assert len(lines) == 1 and "Another handoff sync is running" in lines[0], lines
        # Consistent afterwards: one finished run, one comment per item, nothing left to do.
        settings = load_settings(config)
        with SqliteStore.open(settings.state.path) as state:
            runs = state.runs()
            assert [(r.outcome, r.ended is not None) for r in runs] == [("ok", True)]
            assert state.outbox(status="sending") == [] and state.outbox(status="planned") == []
        found = posted_comments(
            sb,
            jira=("EXP-2", "EXP-3"),
            github=(2,),
            notion=("9a8b7c6d-0000-4000-8000-0000000000a1",),
        )
        assert {
            k: sum("handoff-sync:" in p.text for p in v) for k, v in found.items()
        } == dict.fromkeys(found, 1)
        assert run_sync(settings, dry_run=True).ops == []
