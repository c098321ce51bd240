"""The run lock: a second run, in this process or another, is refused with who holds it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ROOT

from connectors.errors import LockHeld
from sync.store.sqlite import lock_path, run_lock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_lock_file_sits_beside_the_state(tmp_path: Path) -> None:
    assert lock_path(tmp_path / "state.db") == tmp_path / "state.db.lock"


def test_second_holder_in_the_same_process_is_refused(tmp_path: Path) -> None:
    where = lock_path(tmp_path / "state.db")
    with run_lock(where, now=T0):
        with pytest.raises(LockHeld) as err, run_lock(where):
            pass
        assert err.value.exit_code == 3
        message = str(err.value)
        assert f"pid {os.getpid()}" in message and "2026-03-02T09:00:00" in message
        assert "\n" not in message
    with run_lock(where):  # released on exit
        pass


def test_lock_is_released_when_the_block_raises(tmp_path: Path) -> None:
    where = tmp_path / "x.lock"
    with pytest.raises(RuntimeError), run_lock(where):
        raise RuntimeError("boom")
    with run_lock(where):
        pass


def test_another_process_is_refused_and_a_killed_holder_frees_it(tmp_path: Path) -> None:
    where = tmp_path / "state.db.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            from sync.store.sqlite import run_lock
            with run_lock({str(where)!r}):
                print("held", flush=True)
                time.sleep(60)
        """),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld, match=f"pid {holder.pid}"), run_lock(where):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)  # dies without any cleanup of its own
        holder.wait()
    with run_lock(where):  # the kernel released the flock with the process
        pass
