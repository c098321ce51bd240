"""Session advisory locks on a PostgreSQL state, each on its own connection: the run lock
(one `handoff` command that must be alone: export, import) and the plan lock (several sync
workers: one plans at a time; pulls and sends run side by side outside it).

The server releases it when that connection ends, so a run that crashed (or a machine that
died) never leaves a stale lock; the holder's pid and start come from pg_stat_activity, for
the message the second run prints.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from connectors.errors import LockHeld, StateError
from sync.store.postgres.db import connect
from sync.store.postgres.errors import pg_error, redact

__all__ = ["plan_lock", "run_lock"]

_KEY = "SELECT hashtext('handoff-sync:run:' || current_schema())"
_PLAN_KEY = "SELECT hashtext('handoff-sync:plan:' || current_schema())"
_POLL = 0.2  # seconds between tries while another worker plans


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


@contextmanager
def plan_lock(url: str, wait: float) -> Iterator[None]:
    """Hold this state's plan lock for the block (several workers: one plans at a time),
    waiting up to `wait` seconds for another worker's plan to end, then StateError."""
    try:
        conn = connect(url)
    except psycopg.Error as exc:
        raise pg_error(exc, url) from exc
    with conn:
        (key,) = conn.execute(_PLAN_KEY).fetchone() or (0,)
        deadline = time.monotonic() + wait
        # Polled rather than a blocking pg_advisory_lock: the wait stays bounded and the
        # message can name who held it.
        while not (conn.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone() or [0])[0]:
            if time.monotonic() >= deadline:
                raise StateError(
                    f"Another handoff sync worker kept planning on the PostgreSQL state "
                    f"{redact(url)}{_holder(conn, key)} for more than {wait:g} s "
                    "([state] plan_wait_seconds); this run wrote nothing. "
                    "Check that worker, or raise plan_wait_seconds."
                )
            time.sleep(_POLL)
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [key])


def _held_message(conn: psycopg.Connection[Any], key: int, url: str) -> str:
    return (
        f"Another handoff sync is running on the PostgreSQL state {redact(url)}"
        f"{_holder(conn, key)}; this run did nothing."
    )


def _holder(conn: psycopg.Connection[Any], key: int) -> str:
    """Who holds advisory lock `key`: " (server pid P from A since T)", or "" unknown."""
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
    return who
