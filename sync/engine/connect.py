"""Turn settings into connectors and scopes: opens each registered system's client (see
`sync.systems`)."""

from __future__ import annotations

import socket
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace

from connectors._retry import RetryPolicy
from connectors.base import (
    Account,
    CommentRef,
    Connector,
    Cursor,
    Scope,
    SourceItem,
    WriteOp,
    WriteResult,
)
from connectors.errors import AuthError, ConfigError, ConnectorError
from sync import systems
from sync.engine.constants import ConstantCache, identity
from sync.engine.pacing import Pacer
from sync.settings import Settings
from sync.systems import runtime

__all__ = [
    "Connections",
    "Unreachable",
    "connect",
    "no_scopes_message",
    "open_connector",
    "scopes_of",
]


@dataclass
class Connections:
    connectors: dict[str, Connector] = field(default_factory=dict)
    scopes: list[Scope] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # systems that could not be reached
    refused: list[str] = field(default_factory=list)  # of those, systems that refused the token


class Unreachable:
    """Stands in for a system that could not be opened (wrong token, outage): every call
    raises the error it met. Its scopes stay in the run, so the engine knows that system was
    not read, and a system never read in full blocks every write (issue 11)."""

    def __init__(self, system: str, error: ConnectorError) -> None:
        self.system = system
        self.error = error

    def pull(self, scope: Scope, cursor: Cursor | None) -> Iterator[SourceItem]:
        raise self.error

    def people(self) -> Iterator[Account]:
        raise self.error

    def find_comment(self, scope: Scope, item_id: str, marker: str) -> CommentRef | None:
        raise self.error

    def apply(self, op: WriteOp) -> WriteResult:
        raise self.error


def scopes_of(settings: Settings, only: Collection[str] = ()) -> list[Scope]:
    """Every configured scope, in a stable order."""
    return runtime.scopes(settings, only)


def no_scopes_message(only: Collection[str] = ()) -> str:
    """What to add when a config gives nothing to check (an empty file, or no scopes)."""
    names = [
        s.wanted for s in systems.SYSTEMS.values() if s.wanted and (not only or s.name in only)
    ]
    which = f" for {', '.join(sorted(only))}" if only else ""
    return (
        f"the config names nothing to check{which}: add {', '.join(names[:-1])}"
        f"{' or ' if len(names) > 1 else ''}{names[-1]} (see config.example.toml)."
    )


def connect(
    settings: Settings,
    only: Collection[str] = (),
    policy: RetryPolicy | None = None,
    *,
    pacer: Pacer | None = None,
    constants: ConstantCache | None = None,
) -> Connections:
    """Open a connector for every system that has scopes; a system that cannot be reached is
    reported in `errors` and stands in as `Unreachable`, so the engine sees it was not read.
    With `pacer`, every read request (the first one included) counts against its budget;
    with `constants`, answers that rarely change are taken from there (sync.engine.constants)."""
    policy = policy or RetryPolicy()
    out = Connections(scopes=scopes_of(settings, only))
    if not out.scopes:
        raise ConfigError(no_scopes_message(only))
    wanted = {s.system for s in out.scopes}
    for spec in systems.SYSTEMS.values():
        system = spec.name
        if system not in wanted:
            continue
        try:
            connector = open_connector(settings, system, policy)
            if pacer is not None and hasattr(connector, "read_gate"):
                setattr(connector, "read_gate", pacer.read_gate(system))  # noqa: B010
            if constants is not None and hasattr(connector, "constants"):
                who = identity(spec.url(settings), spec.token(settings))
                setattr(connector, "constants", constants.view(system, who))  # noqa: B010
            _ask_who_we_are(connector, policy)
        except ConnectorError as exc:
            named = _named(exc, system, spec.url(settings))
            exc.message = named  # what the engine shows for each of its scopes
            out.errors.append(named)
            if isinstance(exc, AuthError):
                out.refused.append(system)
            connector = Unreachable(system, exc)
        out.connectors[system] = connector
    return out


def _named(exc: ConnectorError, system: str, url: str) -> str:
    """The error of a system that could not be opened, naming what failed and where."""
    spec = systems.get(system)
    name = spec.display if spec else system
    cause: BaseException | None = exc
    for _ in range(10):  # the client libraries wrap the socket error a few levels deep
        if cause is None:
            break
        if isinstance(cause, ConnectionRefusedError):
            return (
                f"{system}: connection refused by {url} ({name}): check the URL, and that the "
                "service is up; the next run tries again."
            )
        if isinstance(cause, socket.gaierror):
            return f"{system}: the host of {url} ({name}) cannot be found: check the URL."
        cause = cause.__cause__ or cause.__context__
    return exc.message if url in exc.message else f"{exc.message} ({url})"


def _ask_who_we_are(connector: Connector, policy: RetryPolicy) -> None:
    """One identity call before any scope runs, not retried: a wrong URL or token is then one
    message and the system is left out, instead of an error in every scope and call (Jira's
    client already asks when it opens). The answer is cached for finding our comments."""
    me = getattr(connector, "me", None)
    if me is None or not hasattr(connector, "policy"):
        return
    setattr(connector, "policy", replace(policy, attempts=1))  # noqa: B010
    try:
        me()
    finally:
        setattr(connector, "policy", policy)  # noqa: B010


def open_connector(settings: Settings, system: str, policy: RetryPolicy) -> Connector:
    """One system's connector, its client opened (a request or two); raises on failure."""
    spec = systems.get(system)
    if spec is None:
        raise ConfigError(
            f"no such system {system!r}: expected one of {', '.join(systems.names())}"
        )
    return spec.open(settings, spec.token(settings), policy)
