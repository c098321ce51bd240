"""The people directory of a run: the configured people, with each system's accounts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from connectors.base import Connector
from connectors.errors import AuthError, ConnectorError
from mapping.people import Directory
from sync.engine.connect import Unreachable
from sync.engine.result import SyncResult
from sync.systems.runtime import Runtime

__all__ = ["people_directory"]


def people_directory(
    runtime: Runtime,
    connectors: Mapping[str, Connector],
    systems: Iterable[str],
    result: SyncResult,
) -> tuple[Directory, dict[str, bool]]:
    """The people directory, and the systems whose people could not be read (-> whether
    for a refused token)."""
    directory = runtime.directory()
    failed: dict[str, bool] = {}
    for system in systems:
        try:
            directory.add_accounts(connectors[system].people())
        except ConnectorError as exc:
            # Without this system's people, owners there look unknown: say so, go on.
            failed[system] = isinstance(exc, AuthError)
            if not isinstance(connectors[system], Unreachable):
                result.errors.append(exc.message)
    return directory, failed
