"""A real PostgreSQL for the tests: Debian's server binaries, a cluster in a temporary folder,
listening on 127.0.0.1 on a free port, stopped and removed at the end of the session.

The binaries come from Debian's `postgresql` package (installed here with apt-get when missing
and running as root, as tests/test_report_browser.py installs Chromium). PostgreSQL refuses to
run as root, so as root the cluster belongs to the `postgres` user the package creates. In CI
(CI=true) a server that cannot start is a failure, never a skip.

Each test gets a database of its own, made from an empty template (CREATE DATABASE ... TEMPLATE
is a file copy: a few milliseconds).

The server does not outlive the pytest that started it: a pytest killed with SIGKILL (a CI
timeout, a kill -9) runs no teardown, so a watchdog process, in a session of its own, waits
for the end of a pipe only that pytest holds open and then stops the server and removes its
folder. A normal stop tells the watchdog so, and it exits without doing anything.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

INSTALL_TIMEOUT = 600  # seconds for apt-get, when the fixture has to install the server
STEP_TIMEOUT = 60  # seconds for initdb, or for the server to start or stop
TEMPLATE = "handoff_template"
_names = itertools.count()
_STOPPED = "stopped"

# Reads its stdin to the end: the pipe's write end, held by the pytest alone, closes when that
# pytest exits however it exits (the kernel closes a killed process's files). Then, unless told
# the server was stopped as usual, stop it (argv[1], JSON) and remove its folder (argv[2]).
_WATCHDOG = f"""
import json, shutil, subprocess, sys
told = sys.stdin.read()
if told.strip() != {_STOPPED!r}:
    try:
        subprocess.run(json.loads(sys.argv[1]), capture_output=True, timeout={STEP_TIMEOUT})
    finally:
        shutil.rmtree(sys.argv[2], ignore_errors=True)
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _bindir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(os.path.realpath(initdb)).parent if initdb else None


def _install() -> str:
    """apt-get install postgresql (root only), bounded; returns why it could not."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "PostgreSQL is missing and installing it needs root"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
            subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=INSTALL_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"apt-get install postgresql failed: {exc}"
    return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One running cluster; `database()` makes a fresh empty database and gives its URL."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="handoff-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self.log = self.root / "server.log"
        self.watchdog: subprocess.Popen[str] | None = None

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        return ["runuser", "-u", "postgres", "--", *cmd] if self.as_root else cmd

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._cmd(*args), check=True, capture_output=True, text=True, timeout=STEP_TIMEOUT
        )

    def _watch(self) -> None:
        """Start the watchdog that stops this server when the pytest holding it dies."""
        stop = self._cmd("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, json.dumps(stop), str(self.root)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            text=True, start_new_session=True,  # a kill of pytest's process group spares it
        )  # fmt: skip

    def start(self) -> None:
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--locale=C", "-E", "UTF8", "--no-sync")  # fmt: skip
        # Tests need speed, not durability: a crash of this server loses nothing we keep.
        opts = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._watch()  # before the start: a kill during it leaves no server either
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.log), "-w", "start")
        self.sql(f"CREATE DATABASE {TEMPLATE}")

    def url(self, db: str = "postgres", *, password: str = "") -> str:
        auth = f"postgres:{password}" if password else "postgres"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{db}"

    def sql(self, statement: str, db: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(db), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def database(self) -> str:
        """A fresh empty database; its URL."""
        name = f"t{os.getpid()}_{next(_names)}"
        self.sql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
        if self.watchdog is not None:
            try:
                self.watchdog.communicate(_STOPPED, timeout=STEP_TIMEOUT)
            except (OSError, subprocess.SubprocessError):
                self.watchdog.kill()
                self.watchdog.wait(STEP_TIMEOUT)


def start_server() -> tuple[PgServer | None, str]:
    """A running server, or None and why not."""
    bindir = _bindir()
    why = ""
    if bindir is None:
        # xdist workers start together: one apt-get at a time (dpkg has one lock).
        with open(Path(tempfile.gettempdir()) / "handoff-pg-install.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            bindir = _bindir()
            why = "" if bindir else _install()
    bindir = bindir or _bindir()
    if bindir is None:
        return None, why or "PostgreSQL's server binaries (initdb) were not found"
    server = PgServer(bindir)
    try:
        server.start()
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        server.stop()
        return None, f"PostgreSQL did not start: {exc} {detail}".strip()
    return server, ""
