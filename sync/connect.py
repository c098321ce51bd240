"""Turn settings into connectors and scopes: the one place that opens the three clients."""

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
from sync.settings import Settings

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
    scopes: list[Scope] = []
    if settings.jira.url and (not only or "jira" in only):
        scopes += [Scope("jira", p, query=settings.jira.jql) for p in settings.jira.projects]
        if settings.jira.jql and not settings.jira.projects:
            scopes.append(Scope("jira", "jql", query=settings.jira.jql))
    if settings.github.url and (not only or "github" in only):
        scopes += [Scope("github", r) for r in settings.github.repos]
    if settings.notion.url and (not only or "notion" in only):
        scopes += [Scope("notion", d) for d in settings.notion.databases]
    return scopes


def no_scopes_message(only: Collection[str] = ()) -> str:
    """What to add when a config gives nothing to check (an empty file, or no scopes)."""
    wanted = {
        "jira": "[jira] projects (and [jira] url)",
        "github": "[github] repos",
        "notion": "[notion] databases",
    }
    names = [v for k, v in wanted.items() if not only or k in only]
    which = f" for {', '.join(sorted(only))}" if only else ""
    return (
        f"the config names nothing to check{which}: add {', '.join(names[:-1])}"
        f"{' or ' if len(names) > 1 else ''}{names[-1]} (see config.example.toml)."
    )


def _token(settings: Settings, system: str) -> str:
    secret = getattr(settings, system).token
    if secret is None or not secret.get_secret_value():
        raise ConfigError(
            f"[{system}] token is not set: put it in HANDOFF_{system.upper()}__TOKEN "
            f"(or [{system}] token in the config file)."
        )
    return str(secret.get_secret_value())


def connect(
    settings: Settings, only: Collection[str] = (), policy: RetryPolicy | None = None
) -> Connections:
    """Open a connector for every system that has scopes; a system that cannot be reached is
    reported in `errors` and stands in as `Unreachable`, so the engine sees it was not read."""
    policy = policy or RetryPolicy()
    out = Connections(scopes=scopes_of(settings, only))
    if not out.scopes:
        raise ConfigError(no_scopes_message(only))
    systems = {s.system for s in out.scopes}
    for system in ("jira", "github", "notion"):
        if system not in systems:
            continue
        try:
            connector = open_connector(settings, system, policy)
            _ask_who_we_are(connector, policy)
        except ConnectorError as exc:
            named = _named(exc, system, getattr(settings, system).url)
            exc.message = named  # what the engine shows for each of its scopes
            out.errors.append(named)
            if isinstance(exc, AuthError):
                out.refused.append(system)
            connector = Unreachable(system, exc)
        out.connectors[system] = connector
    return out


_NAMES = {"jira": "Jira", "github": "GitHub", "notion": "Notion"}


def _named(exc: ConnectorError, system: str, url: str) -> str:
    """The error of a system that could not be opened, naming what failed and where."""
    name = _NAMES.get(system, system)
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
    token = _token(settings, system)
    if system == "jira":
        from connectors import jira

        cfg = settings.jira
        client = jira.open_client(
            cfg.url, cfg.email, token, api_version=cfg.api_version, timeout=policy.timeout
        )
        return jira.JiraConnector(
            client,
            api_version=cfg.api_version,
            optional_custom_fields=settings.fields.jira.custom_field_names(),
            policy=policy,
            page_size=cfg.page_size,
            email=cfg.email,
            # The entity property rides along in the search, so the plan sees what is there.
            properties=_entity_properties(settings),
        )
    if system == "github":
        from connectors import github

        gh = github.open_client(settings.github.url, token, timeout=policy.timeout)
        return github.GithubConnector(
            gh, include_issues=settings.github.include_issues, policy=policy
        )
    from connectors import notion

    client_n = notion.open_client(settings.notion.url, token, timeout=policy.timeout)
    return notion.NotionConnector(
        client_n, body_fields=settings.fields.notion.needs_body(), policy=policy
    )


def _entity_properties(settings: Settings) -> tuple[str, ...]:
    writeback = settings.writeback
    return (writeback.entity_property_key,) if writeback.jira_entity_property else ()
