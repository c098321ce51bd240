"""One run at a time on a PostgreSQL state: a session advisory lock on its own connection.

The server releases it when that connection ends, so a run that crashed (or a machine that
died) never leaves a stale lock; the holder's pid and start come from pg_stat_activity, for
the message the second run prints.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from connectors.errors import LockHeld
from sync.store.postgres.db import connect
from sync.store.postgres.errors import pg_error, redact

__all__ = ["run_lock"]

_KEY = "SELECT hashtext('handoff-sync:run:' || current_schema())"


@contextmanager
def run_lock(url: str) -> Iterator[str]:
    """Hold this state's run lock for the block, or raise LockHeld; never waits."""
    try:
        conn = connect(url)
    except psycopg.Error as exc:
        raise pg_error(exc, url) from exc
    with conn:
        (key,) = conn.execute(_KEY).fetchone() or (0,)
        (got,) = conn.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone() or (False,)
        if not got:
            raise LockHeld(_held_message(conn, key, url))
        try:
            yield redact(url)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [key])


def _held_message(conn: psycopg.Connection[Any], key: int, url: str) -> str:
    row = conn.execute(
        "SELECT a.pid, a.backend_start, a.client_addr FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
        "AND l.granted AND l.objid::bigint = (%s::bigint & 4294967295) LIMIT 1",
        [key],
    ).fetchone()
    who = ""
    if row:
        who = f" (server pid {row[0]} from {row[2] or 'a local socket'}"
        who += f" since {row[1]:%Y-%m-%dT%H:%M:%S%z})" if row[1] else ")"
    return (
        f"Another handoff sync is running on the PostgreSQL state {redact(url)}{who}; "
        "this run did nothing."
    )
