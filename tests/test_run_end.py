"""Every run ends truthfully: a signal stops the writes cleanly, status and report say how a
run ended, and `--every` rides out an outage."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_fixtures import workspace, write_config
from test_crash import marker_comments

from connectors.sandbox import Fault, Sandbox
from sync.commands.cli import main
from sync.commands.run import serve, sync_once

ROOT = Path(__file__).resolve().parent.parent
WRITE_DELAY = 1.0  # seconds each write hangs on the server, so a signal lands mid-write


def _start_sync(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sync.commands.cli", "sync", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    ("sig", "code", "name"), [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")]
)
def test_a_signal_mid_write_stops_within_seconds_and_the_next_run_finishes(
    tmp_path: Path, sig: signal.Signals, code: int, name: str
) -> None:
    with Sandbox(workspace()) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db")
        sb.inject("WRITE", ".", Fault(delay=WRITE_DELAY), times=1000)
        proc = _start_sync(config)
        try:
            deadline = time.monotonic() + 60
            while sb.arrived(write=True) < 2:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the sync never reached its writes"
                time.sleep(0.02)
            sent = time.monotonic()
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=60)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == code, (out, err)
        # The writes in flight finish (each hangs WRITE_DELAY), then nothing more is sent.
        assert took < 6 * WRITE_DELAY, took
        assert "Traceback" not in err and "Aborted!" not in err
        line = [x for x in err.splitlines() if "stopped after" in x]
        assert len(line) == 1, err
        assert "the next run finishes them" in line[0]
        found = re.search(r"stopped after (\d+) of (\d+) writes", line[0])
        assert found, line[0]
        done, total = int(found[1]), int(found[2])
        assert 0 < done < total
        arrived = sb.arrived(write=True)
        assert arrived < total
        con = sqlite3.connect(tmp_path / "state.db")
        try:
            # Not attempted: still planned in the outbox, with why; the audit holds only
            # the writes that were attempted.
            not_attempted = con.execute(
                "SELECT count(*) FROM outbox WHERE status = 'planned' AND error IS NOT NULL"
            ).fetchone()[0]
            assert not con.execute(
                "SELECT count(*) FROM audit WHERE result = 'not-attempted'"
            ).fetchone()[0]
            outcome = con.execute("SELECT outcome FROM runs ORDER BY id DESC").fetchone()[0]
        finally:
            con.close()
        assert not_attempted == total - done > 0
        assert outcome.startswith("interrupted") and name in outcome

        status = CliRunner().invoke(main, ["status", "--config", str(config)])
        assert "interrupted" in status.output and name in status.output, status.output
        report = CliRunner().invoke(main, ["report", "--config", str(config)])
        assert "did not complete: interrupted by " + name in report.output, report.output

        sb.clear_faults()
        rerun = subprocess.run(
            [sys.executable, "-m", "sync.commands.cli", "sync", "--config", str(config)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
        assert rerun.returncode == 0, rerun.stderr
        counts = marker_comments(sb)
        assert max(counts.values()) == 1, counts
        assert {item for item, n in counts.items() if n} == {"EXP-2", "EXP-3", "pr2", "page"}


def test_status_and_report_show_a_failed_run_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Sandbox(workspace()) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db")
        runner = CliRunner()
        assert runner.invoke(main, ["sync", "--config", str(config)]).exit_code == 0
        monkeypatch.setenv("HANDOFF_GITHUB__TOKEN", "not-a-real-token")
        out = runner.invoke(main, ["sync", "--config", str(config)])
        assert out.exit_code != 0, out.output
        monkeypatch.delenv("HANDOFF_GITHUB__TOKEN")

        st = runner.invoke(main, ["status", "--config", str(config), "--json"])
        runs = json.loads(st.output)["runs"]
        assert runs[0]["outcome"].startswith("failed") and "github" in runs[0]["outcome"].lower()
        assert runs[1]["outcome"] == "ok"
        text = runner.invoke(main, ["status", "--config", str(config)]).output
        assert "failed" in text and "github" in text.lower()
        assert "not-a-real-token" not in text

        report = runner.invoke(main, ["report", "--config", str(config)])
        assert report.exit_code == 0, report.output
        assert "failed" in report.output and "github" in report.output.lower(), report.output


def test_every_rides_out_an_outage_and_syncs_when_the_systems_are_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The sandbox is down (connection refused) for the first run and back for the second.
    probe = Sandbox(workspace())
    probe.start()
    port = int(probe.url.rsplit(":", 1)[1])
    probe.stop()
    config = write_config(tmp_path / "c.toml", f"http://127.0.0.1:{port}", tmp_path / "s.db")
    codes: list[int] = []
    back: list[Sandbox] = []

    def once() -> int:
        code = sync_once(str(config), False, False, (), False, False)
        codes.append(code)
        if len(codes) == 1:
            sb = Sandbox(workspace(), port=port)
            sb.start()
            back.append(sb)
        return code

    try:
        serve(0.2, once, max_runs=2)
    finally:
        for sb in back:
            sb.stop()
    assert codes == [1, 0]
    assert back and back[0].log(write=True)
    # The outage is named with what and where.
    out = capsys.readouterr().out
    for name in ("Jira", "GitHub", "Notion"):
        assert f"connection refused by http://127.0.0.1:{port}" in out
        assert f"({name})" in out, out


def test_a_signal_before_any_write_ends_the_run_at_once_and_writes_nothing(
    tmp_path: Path,
) -> None:
    with Sandbox(workspace()) as sb:
        state = tmp_path / "state.db"
        config = write_config(tmp_path / "c.toml", sb.url, state)
        # Every read of Jira's issue search hangs for a long while: the run sits in its pull.
        sb.inject("*", r"/search", Fault(delay=20), times=50)
        proc = _start_sync(config)
        try:
            deadline = time.monotonic() + 60
            while not state.exists():
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.02)
            time.sleep(0.5)
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, (out, err)
        assert took < 10, took  # not the 20 s the hung read would take
        assert "Traceback" not in err and "before any write" in err, err
        assert sb.log(write=True) == []
        status = CliRunner().invoke(main, ["status", "--config", str(config)])
        assert "interrupted by SIGINT before any write" in status.output, status.output
