"""The engine's key paths with the state on PostgreSQL, against the sandbox through the real
clients: a first sync, a second sync that changes nothing, a dry run that writes nothing (to
the systems or the database), `status` and `report`, and a `handoff sync` killed mid-write
whose rerun settles through the outbox and the marker lookup (one comment per item)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from engine_fixtures import workspace, write_config
from test_crash import handoff, marker_comments, wait_for_writes
from test_engine import sync

from connectors.sandbox import Fault, Sandbox
from sync.commands.cli import main
from sync.settings import Settings, load_settings
from sync.store import copy_of


def pg_config(
    tmp_path: Path, sandbox_url: str, url: str, name: str = "c.toml", lease: float = 0
) -> Path:
    """The engine tests' config with the state at `url`; `lease`: [state] lease_seconds."""
    path = write_config(tmp_path / name, sandbox_url, tmp_path / "unused.db")
    state = f'url = "{url}"' + (f"\nlease_seconds = {lease}" if lease else "")
    text = path.read_text(encoding="utf-8").replace(
        f'path = "{tmp_path / "unused.db"}"', state
    )
    path.write_text(text, encoding="utf-8")
    return path


def dump(url: str) -> dict[str, list[str]]:
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]  # fmt: skip
        return {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}


def findings_of(settings: Settings) -> list[tuple[str, str, str]]:
    result = sync(settings, dry_run=True)
    return sorted((f.record_key, f.code, f.subject) for f in result.findings)


def test_sync_twice_dry_run_status_and_report_on_postgres(tmp_path: Path, pg_url: str) -> None:
    with Sandbox(workspace()) as sb:
        settings = load_settings(pg_config(tmp_path, sb.url, pg_url))
        first = sync(settings)
        assert first.exit_code == 0, first.errors
        writes = len(sb.log(write=True))
        assert writes >= 6
        assert max(marker_comments(sb).values()) == 1

        second = sync(settings)
        assert second.exit_code == 0, second.errors
        assert second.ops == [] and len(sb.log(write=True)) == writes  # nothing changed

        before = dump(pg_url)
        dry = sync(settings, dry_run=True)
        assert dry.exit_code == 0 and dry.ops == []
        assert dump(pg_url) == before  # not a row, not a run, not a cursor
        assert len(sb.log(write=True)) == writes

        with Sandbox(workspace()) as lite_sb:
            lite = load_settings(write_config(tmp_path / "l.toml", lite_sb.url, tmp_path / "l.db"))
            assert sync(lite).exit_code == 0
            assert findings_of(lite) == findings_of(settings)  # the same findings as SQLite's

        config = tmp_path / "c.toml"
        status = CliRunner().invoke(main, ["status", "--config", str(config), "--json"])
        assert status.exit_code == 0, status.output
        doc = json.loads(status.output)
        assert doc["items"] == {"github": 2, "jira": 3, "notion": 1}
        assert [r["dry_run"] for r in doc["runs"]][-2:] == [False, False]  # the two syncs
        report = CliRunner().invoke(  # --dry-run: a report otherwise keeps its time
            main, ["report", "--config", str(config), "--format", "md", "--dry-run"]
        )
        assert report.exit_code == 0, report.output
        assert "EXP-3" in report.output
        # `show` and the weekly report read the database as `status` does (they read a state
        # file's path before, and said "No state yet" on PostgreSQL).
        shown = CliRunner().invoke(main, ["show", "EXP-3", "--config", str(config), "--json"])
        assert shown.exit_code == 0, shown.output
        assert "EXP-3" in shown.output
        weekly = CliRunner().invoke(
            main, ["report", "--weekly", "--config", str(config), "--format", "md", "--dry-run"]
        )
        assert weekly.exit_code == 0, weekly.output
        assert dump(pg_url) == before


@pytest.mark.slow
def test_a_sync_killed_mid_write_resumes_from_the_postgres_outbox(
    tmp_path: Path, pg_url: str
) -> None:
    with Sandbox(workspace()) as sb:
        config = pg_config(tmp_path, sb.url, pg_url, lease=2)
        # The third write lands on the server and hangs: the process dies before it hears.
        sb.inject("WRITE", ".", Fault(commit=True, delay=30), after=2)
        proc = handoff(config)
        wait_for_writes(sb, 3, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
        sb.clear_faults()
        with psycopg.connect(pg_url) as conn:
            sending = conn.execute("SELECT count(*) FROM outbox WHERE status = 'sending'")
            # The write in flight is on record (with those before it whose "done" rows were
            # waiting for the next transaction: sync.store.sqlite.batches).
            assert sending.fetchone()[0] >= 1

        # The dead worker's scope leases and write claims run out (lease_seconds) and the
        # rerun takes them over; its marker lookup settles the write that was in flight.
        time.sleep(2.5)
        rerun = handoff(config)
        out, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, (out.decode(), err.decode())
        counts = marker_comments(sb)
        assert max(counts.values()) == 1, counts
        assert {item for item, n in counts.items() if n} == {"EXP-2", "EXP-3", "pr2", "page"}
        check = sync(load_settings(config), dry_run=True)
        assert check.ops == [] and not check.failed, check.plan_text


@pytest.mark.slow
def test_serve_on_postgres_keeps_deliveries_and_syncs_what_they_touch(
    tmp_path: Path, pg_url: str
) -> None:
    from test_serve_e2e import _wait, our_comment, person_edit, serving, settle

    with Sandbox(workspace()) as sb:
        config = pg_config(tmp_path, sb.url, pg_url, name="handoff.toml")
        config.write_text(config.read_text(encoding="utf-8") + "\n[serve]\n", encoding="utf-8")
        with serving(sb, tmp_path) as served:
            settle(sb, served)  # the first poll wrote the comments
            before = our_comment(sb, "jira")
            person_edit(sb, "jira")
            _wait(lambda: our_comment(sb, "jira") != before, 30, "the comment to change")
            settle(sb, served)
        assert max(marker_comments(sb).values()) == 1
        with copy_of(pg_url) as state:
            inbox = state.inbox_state()
            assert inbox.received >= 1 and inbox.pending == 0
            assert sum(r.counts.get("writes_done", 0) >= 1 for r in state.runs(50)) >= 2


@pytest.mark.slow
def test_a_replica_starts_while_another_process_holds_the_run_lock(
    tmp_path: Path, pg_url: str
) -> None:
    """Two replicas starting together: on a shared state opening it takes no run lock (its
    migrations take their own), so a replica never exits 3 at its start."""
    from test_serve_e2e import serving

    from sync.store import run_lock

    with Sandbox(workspace()) as sb:
        config = pg_config(tmp_path, sb.url, pg_url, name="handoff.toml")
        config.write_text(config.read_text(encoding="utf-8") + "\n[serve]\n", encoding="utf-8")
        with run_lock(pg_url), serving(sb, tmp_path) as served:
            assert served.proc.poll() is None, served.log.read_text()
