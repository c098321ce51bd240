"""The tests' PostgreSQL (tests/pg_server.py) does not outlive the pytest that started it: a
pytest killed with SIGKILL runs no fixture teardown, so a watchdog stops the server instead."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pg_server import PgServer, in_ci, start_server

HERE = Path(__file__).resolve().parent

_PARENT = textwrap.dedent(
    """
    import sys, threading
    sys.path.insert(0, sys.argv[1])
    from pg_server import start_server
    server, why = start_server()
    print(server.port if server else "none", server.root if server else why, flush=True)
    threading.Event().wait()  # until killed: no teardown runs
    """
)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_server_stops_when_the_pytest_that_started_it_is_killed() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _PARENT, str(HERE)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        port, root = child.stdout.readline().strip().split(" ", 1)
        if port == "none":
            if in_ci():
                pytest.fail(f"CI needs PostgreSQL: {root}")
            pytest.skip(root)
        assert _listening(int(port))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 30
        while _listening(int(port)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _listening(int(port)), "the server outlived its pytest"
        while Path(root).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not Path(root).exists(), "the cluster's folder was left behind"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


def test_a_server_stopped_as_usual_takes_its_watchdog_with_it() -> None:
    server, why = start_server()
    if server is None:
        if in_ci():
            pytest.fail(f"CI needs PostgreSQL: {why}")
        pytest.skip(why)
    try:
        assert isinstance(server, PgServer) and server.watchdog is not None
        watchdog = server.watchdog.pid
    finally:
        server.stop()
    assert not _listening(server.port) and not server.root.exists()
    deadline = time.monotonic() + 10
    while _alive(watchdog) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(watchdog)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet waited for by its parent) counts as gone.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))
