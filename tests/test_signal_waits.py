"""A signal during a wait ends the run within seconds: a pause under GitHub's write budget and
a retry's Retry-After both wait on the stop flag, not in time.sleep; the next run finishes the
writes without doubling any comment."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from click.testing import CliRunner
from engine_fixtures import workspace, write_config
from fault_helpers import FAULT_POLICY, ROOT, run_sync
from test_crash import marker_comments

from connectors.errors import Interrupted
from connectors.sandbox import Fault, Sandbox
from sync.commands.cli import main
from sync.engine.connect import connect
from sync.engine.pacing import DEFAULT_BUDGETS, Budget, Pacer, Stop
from sync.engine.run import Engine, SyncOptions, SyncResult
from sync.settings import load_settings

PAUSE = 60.0  # what the run would sit out without the fix


def _wait_for(cond: object, proc: subprocess.Popen[str] | None = None, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not cond():  # type: ignore[operator]
        if proc is not None:
            assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "never got there"
        time.sleep(0.02)


def test_a_pacing_pause_ends_as_soon_as_the_run_is_stopped() -> None:
    pacer = Pacer({"github": Budget(1, PAUSE)})
    halt = Stop()
    pacer.wait("github", halt=halt)  # the budget's one call
    threading.Timer(0.3, halt.set, args=("SIGINT",)).start()
    start = time.monotonic()
    try:
        pacer.wait("github", halt=halt)
        raise AssertionError("the pause ended without the stop")
    except Interrupted as exc:
        assert "SIGINT" in str(exc)
    assert time.monotonic() - start < PAUSE / 4


def test_a_signal_during_a_pacing_pause_stops_the_run_and_the_next_finishes(
    tmp_path: Path,
) -> None:
    with Sandbox(workspace()) as sb:
        settings = load_settings(write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db"))
        conns = connect(settings, policy=FAULT_POLICY)
        halt = Stop()
        # One GitHub write a minute: the second GitHub write waits in the pacer.
        pacer = Pacer({**DEFAULT_BUDGETS, "github": Budget(1, PAUSE)})
        engine = Engine(settings, conns.connectors, conns.scopes, pacer=pacer, halt=halt)
        out: list[SyncResult] = []
        run = threading.Thread(target=lambda: out.append(engine.run(SyncOptions())))
        run.start()
        _wait_for(lambda: sb.log(service="github", write=True))
        time.sleep(0.5)  # the second GitHub write is now pacing
        sent = time.monotonic()
        halt.set("SIGINT")
        run.join(timeout=PAUSE * 2)
        took = time.monotonic() - sent
        assert not run.is_alive() and out
        result = out[0]
        assert took < PAUSE / 4, took
        assert result.interrupted == "SIGINT"
        assert result.applied is not None and result.applied.not_attempted > 0
        assert len(sb.log(service="github", write=True)) == 1

        again = run_sync(settings)
        assert again.exit_code == 0, again.errors
        counts = marker_comments(sb)
        assert max(counts.values()) == 1, counts
        assert counts["pr2"] == 1


def test_sigint_during_a_retry_after_pause_exits_130_within_seconds(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "state.db")
        # Every GitHub write is refused for a minute: the client's retry would wait it out.
        sb.inject("POST", r"^/api/v3/repos/", Fault(status=429, retry_after=PAUSE), times=1000)
        proc = subprocess.Popen(
            [sys.executable, "-m", "sync.commands.cli", "sync", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        try:
            _wait_for(lambda: sb.log(service="github", write=True), proc)
            time.sleep(0.5)
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=PAUSE * 3)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, (out, err)
        assert took < PAUSE / 4, took
        assert "Traceback" not in err
        assert "stopped after" in err and "the next run finishes them" in err, err
        # The 429'd write was answered before anything was done: nothing landed in GitHub.
        assert marker_comments(sb)["pr2"] == 0

        sb.clear_faults()
        rerun = CliRunner().invoke(main, ["sync", "--config", str(config)])
        assert rerun.exit_code == 0, rerun.output
        counts = marker_comments(sb)
        assert max(counts.values()) == 1, counts
        assert counts["pr2"] == 1
