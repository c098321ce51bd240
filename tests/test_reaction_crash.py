"""A command's reaction (GitHub 👍 / 😕) is neither lost nor doubled by a crash: killed while
the reaction's POST is in flight or just after it landed, or between recording the answer and
queueing the reaction, the next run leaves exactly one reaction on the person's comment."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from engine_fixtures import workspace, write_config
from test_crash import handoff

from connectors._retry import FAST_POLICY
from connectors.sandbox import Fault, Sandbox
from sync.engine import run as engine_run
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions
from sync.settings import load_settings


def _workspace() -> dict[str, Any]:
    ws = workspace()
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ws["github"]["repos"]["acme/web"]["pulls"][1]["comments"] = [
        {"user": "ben-gh", "body": "/handoff help", "created_at": at}
    ]
    return ws


def _reactions(sb: Sandbox) -> list[str]:
    repo = sb.github.repos["acme/web"]
    (said,) = [c for c in repo.comments.values() if c.body == "/handoff help"]
    return [r[2] for r in said.reactions]


def _engine(config: Path) -> Engine:
    settings = load_settings(config)
    conns = connect(settings, policy=FAST_POLICY)
    return Engine(settings, conns.connectors, conns.scopes)


def _hung(sb: Sandbox, proc: Any) -> None:
    """Wait until the reaction hangs in the sandbox: landed, or arrived and not answered."""
    deadline = time.monotonic() + 60
    while not _reactions(sb) and sb.arrived(write=True) <= len(sb.log(write=True)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sync never reached the reaction"
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.parametrize("lands", [True, False], ids=["write-landed", "write-in-flight"])
def test_sigkill_at_the_reaction_then_rerun_leaves_one_reaction(
    tmp_path: Path, lands: bool
) -> None:
    with Sandbox(_workspace()) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db")
        # The reaction hangs: after the server applied it, or before (then dropped).
        fault = Fault(commit=True, delay=30) if lands else Fault(drop=True, delay=30)
        sb.inject("POST", r"/reactions$", fault)
        proc = handoff(config)
        _hung(sb, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
        sb.clear_faults()
        assert _reactions(sb) == (["+1"] if lands else [])

        rerun = handoff(config)
        out, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, (out.decode(), err.decode())
        assert _reactions(sb) == ["+1"]
        check = _engine(config).run(SyncOptions(dry_run=True))
        assert check.ops == [] and not check.failed, check.plan_text


def test_a_crash_between_the_answer_and_the_outbox_still_reacts_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Sandbox(_workspace()) as sb:
        config = write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db")

        def crash(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("killed before the outbox")

        with monkeypatch.context() as m:
            m.setattr(engine_run, "apply", crash)
            with pytest.raises(RuntimeError):
                _engine(config).run(SyncOptions())
        assert sb.log(write=True) == [] and _reactions(sb) == []  # the answer is recorded

        _engine(config).run(SyncOptions())
        assert _reactions(sb) == ["+1"]
        writes = len(sb.log(write=True))
        _engine(config).run(SyncOptions())
        assert len(sb.log(write=True)) == writes and _reactions(sb) == ["+1"]
