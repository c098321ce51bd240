"""What to tell a person when the state file cannot be used: one line, and the advice that fits.

Only a damaged file earns "move it aside and rebuild"; a read-only folder, a full disk or
another program holding the file each say what to fix instead.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from connectors.errors import StateError
from sync.store.sqlite.schema import FIX_HINT

__all__ = ["READ_ONLY", "state_error"]

READ_ONLY = (
    "The state folder {folder} is read-only ({why}): make it writable by this user, or set "
    "[state] path in the config to a writable place. Nothing was written."
)


def state_error(exc: sqlite3.Error, path: str | Path | None) -> StateError:
    """One line for a person, with the advice that fits what SQLite said about the file.

    Only a damaged file earns "move it aside and rebuild"; a read-only folder, a full disk or
    another program holding the file each say what to fix instead.
    """
    name = getattr(exc, "sqlite_errorname", "") or ""
    where = Path(str(path)) if path is not None else Path("(the [state] path of the config)")
    if name.startswith("SQLITE_FULL") or "disk is full" in str(exc):
        text = (
            f"The disk holding the state file {where} is full ({exc}): free some space (or "
            "move [state] path elsewhere) and run again; the writes not recorded are found "
            "again by their marker."
        )
    elif name.startswith("SQLITE_IOERR"):
        text = (
            f"Could not write the state file {where} ({exc}): check that its disk has free "
            "space and works, then run again."
        )
    elif name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        text = (
            f"The state file {where} is locked by another program ({exc}): wait for it to "
            "finish (or close it) and try again."
        )
    elif name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")) or (
        path is not None and not _writable(where)
    ):
        text = READ_ONLY.format(folder=where.parent, why=exc)
    else:
        text = (
            f"The state file {where} is damaged and cannot be read as SQLite ({exc}). "
            f"{FIX_HINT}"
        )
    return StateError(text, internal=repr(exc))


def _writable(path: Path) -> bool:
    folder = path.parent if str(path) != ":memory:" else Path(".")
    return os.access(folder, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))
