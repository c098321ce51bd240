"""A SQLite user never pays for the PostgreSQL driver: psycopg is imported only when a state
lives in PostgreSQL (issue 15). Checked in a fresh interpreter, since this one may have loaded
psycopg for other tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Everything a SQLite run asks of `sync.store`: open (migrating), a verb, the run lock, the
# checks `doctor` and `status` make, a storage error turned into a message.
_SQLITE_USER = """
import sqlite3, sys
from datetime import UTC, datetime
import sync.store as s
import sync.engine.run, sync.commands.cli
where = sys.argv[1]
with s.run_lock(where):
    with s.open_store(where) as st:
        st.finish_run(st.start_run(datetime.now(UTC)), datetime.now(UTC), outcome="ok", counts={})
assert s.exists(where) and s.inspect_state(where).reachable
with s.reader(where) as r:
    r.status()
assert s.store_errors() == (sqlite3.Error,)
s.store_error(sqlite3.OperationalError("disk I/O error"), where)
print("psycopg" in sys.modules)
"""


def _run(code: str, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]


def test_a_sqlite_state_never_imports_psycopg(tmp_path: Path) -> None:
    assert _run(_SQLITE_USER, str(tmp_path / "state.db")) == "False"


def test_a_postgres_url_loads_the_driver_and_its_errors_are_the_stores() -> None:
    # No server needed: the port is closed, so opening fails, as a StateError naming the URL.
    code = """
import sys
import sync.store as s
from connectors.errors import StateError
url = "postgresql://bob:secret@127.0.0.1:9/none"
try:
    s.open_store(url)
except StateError as exc:
    assert "secret" not in exc.message and "127.0.0.1:9" in exc.message, exc.message
else:
    raise SystemExit("opened a closed port")
import psycopg
assert s.store_errors()[-1] is psycopg.Error
print("psycopg" in sys.modules)
"""
    assert _run(code) == "True"
