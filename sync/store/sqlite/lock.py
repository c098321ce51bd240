"""One run at a time: an advisory lock on a file beside the state database.

`fcntl.flock` is released by the kernel when the process exits or dies, so a crashed run never
leaves a stale lock behind; the pid and start time written into the file only serve the message
the second run prints.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from connectors.errors import LockHeld, StateError
from sync.store.sqlite.errors import READ_ONLY

__all__ = ["lock_path", "run_lock"]

log = logging.getLogger(__name__)


def lock_path(state_path: str | Path) -> Path:
    """The lock file that guards a state database: `<state>.lock` beside the real file.

    Keyed on the real path: the same state reached through a symlink (or `..`) must share
    one lock, or two runs write to the same items at once.
    """
    p = Path(os.path.realpath(state_path))
    return p.with_name(p.name + ".lock")


@contextmanager
def run_lock(path: str | Path, *, now: datetime | None = None) -> Iterator[Path]:
    """Hold the lock at `path` (a lock file, see `lock_path`) for the block, or raise LockHeld.

    Never waits: cron starts the next run anyway, so a second run should leave at once.
    """
    where = Path(path)
    try:
        fd = os.open(where, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise StateError(
                READ_ONLY.format(folder=where.parent, why=exc.strerror), internal=repr(exc)
            ) from exc
        raise StateError(
            f"Cannot create the lock file {where} ({exc.strerror}). Check that its folder "
            "exists and is writable by this user.",
            internal=repr(exc),
        ) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(_held_message(fd, where)) from None
        started = (now or datetime.now(UTC)).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "started": started}).encode(), 0)
        try:
            yield where
        finally:
            # Empty the file first so nobody reads our pid after we are gone; closing the
            # descriptor is what releases the lock.
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _held_message(fd: int, where: Path) -> str:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        holder = {}
    who = ""
    if isinstance(holder, dict) and holder.get("pid"):
        who = f" by pid {holder['pid']}"
        if holder.get("started"):
            who += f" since {holder['started']}"
    return f"Another handoff sync is running{who} (lock {where}); this run did nothing."
