"""The pure half of `handoff doctor`: checks of mapped fields, properties and people against
what the systems reported. No I/O here; `sync.commands.doctor` fetches and calls these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from connectors.base import Account
from connectors.errors import AuthError, ConfigError, ConnectorError
from mapping.people import PersonConfig
from sync.settings import Settings

__all__ = ["Check", "HandoffError", "Reached", "check_people", "fail", "token_fix"]

Status = Literal["ok", "info", "warn", "FAIL"]


@dataclass(frozen=True)
class Check:
    """One line of the doctor's answer."""

    system: str  # "config", "people" or a system's name
    status: Status
    message: str
    fix: str = ""


HandoffError = ConfigError | ConnectorError


@dataclass
class Reached:
    """What checking one system found, plus what the people check needs from it."""

    checks: list[Check]
    accounts: list[Account] | None = None  # None: the account list could not be read
    lookup: Callable[[str], dict[str, Any] | None] | None = None  # GitHub: one login


def fail(system: str, exc: HandoffError, fix: str = "") -> Check:
    """A failure's message without the "jira (scope): " prefix the line already shows."""
    message, source = exc.message, getattr(exc, "system", system)
    if message.startswith(f"{source} (") and "): " in message:
        message = message.split("): ", 1)[1]
    return Check(system, "FAIL", message.removeprefix(f"{source}: "), fix)


def token_fix(system: str, exc: HandoffError) -> str:
    if isinstance(exc, ConfigError):
        return ""  # its message already says where to put the token
    if isinstance(exc, AuthError):
        from sync import systems

        spec = systems.get(system)
        return spec.token_help if spec else ""
    return f"check [{system}] url and that this machine can reach it"


def _display(system: str) -> str:
    from sync import systems

    spec = systems.get(system)
    return spec.display if spec else system


def _reports_active(system: str) -> bool:
    from sync import systems

    spec = systems.get(system)
    return spec is not None and spec.reports_active


# -- people -------------------------------------------------------------------------------
def check_people(
    settings: Settings,
    accounts: dict[str, list[Account]],
    github_user: Callable[[str], dict[str, Any] | None] | None = None,
) -> list[Check]:
    """Each configured person's ids exist in the systems that were read, and emails join."""
    out: list[Check] = []
    index = {s: {a.id: a for a in accts} for s, accts in accounts.items()}
    by_email = {s: {a.email.lower(): a for a in accts if a.email} for s, accts in accounts.items()}
    checked = 0
    for p in settings.people:
        # Systems that listed their accounts; GitHub is asked one login at a time instead.
        for system in index:
            aid = str(getattr(p, system, "") or "")
            if not aid:
                out += _email_join(p, system, by_email[system])
                continue
            checked += 1
            out += _account_check(p, system, aid, index[system])
        if p.github and github_user is not None:
            checked += 1
            out += _github_login_check(p, github_user)
    if settings.people and not accounts and github_user is None:
        return [Check("people", "info", "not checked: no system's accounts could be read")]
    if settings.people and not any(c.status in ("FAIL", "warn") for c in out):
        out.insert(
            0,
            Check(
                "people",
                "ok",
                f"{len(settings.people)} people: {checked} account ids found, emails agree",
            ),
        )
    if not settings.people:
        out.append(
            Check(
                "people",
                "info",
                "no [[people]] configured: owners are matched by "
                "what each system reports (email joins accounts across systems)",
            )
        )
    return out


def _email_join(p: PersonConfig, system: str, by_email: dict[str, Account]) -> list[Check]:
    """A person with no id in `system`: say which account their email joins them to."""
    hit = by_email.get(p.email.lower()) if p.email else None
    if hit is None:
        return []
    return [
        Check(
            "people",
            "info",
            f"{p.key}: joined to {system} account {hit.name or hit.id} by email {p.email}",
        )
    ]


def _account_check(
    p: PersonConfig, system: str, aid: str, index: dict[str, Account]
) -> list[Check]:
    """The configured id `aid` exists in `system` and agrees on email and being active."""
    acct = index.get(aid)
    if acct is None:
        if not p.active:
            return []  # Notion does not list deactivated members
        return [
            Check(
                "people",
                "FAIL",
                f"{p.key}: {system} account {aid} does not exist or the token cannot see it",
                f"correct [[people]] {system} for {p.key!r} (or remove it)",
            )
        ]
    if acct.email and p.email and acct.email.lower() != p.email.lower():
        return [
            Check(
                "people",
                "warn",
                f"{p.key}: {system} account {aid} has email "
                f"{acct.email}, the config says {p.email}",
                f"correct [[people]] email or {system} for {p.key!r}",
            )
        ]
    if _reports_active(system) and acct.active != p.active:
        state = "active" if acct.active else "deactivated"
        return [
            Check(
                "people",
                "warn",
                f"{p.key}: {_display(system)} says the account is {state}",
                f"set active = {str(acct.active).lower()} for {p.key!r}",
            )
        ]
    return []


def _github_login_check(
    p: PersonConfig, github_user: Callable[[str], dict[str, Any] | None]
) -> list[Check]:
    """GitHub is asked about one login at a time: it has no account list to read."""
    try:
        found = github_user(p.github)
    except ConnectorError as exc:
        return [Check("people", "FAIL", exc.message)]
    if found is not None:
        return []
    return [
        Check(
            "people",
            "FAIL",
            f"{p.key}: GitHub login {p.github!r} does not exist",
            f"correct [[people]] github for {p.key!r}",
        )
    ]
