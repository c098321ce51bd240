"""`handoff webhooks register` and doctor's hook check for Jira: one admin webhook for the
site, sending to `<public_url>/webhooks/jira`, signed with `[jira] webhook_secret`, for the
issue and comment events `handoff serve` acts on, limited by JQL to the configured projects."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors._retry import RetryPolicy
from connectors.errors import AuthError, ConfigError, ConnectorError
from sync.engine.connect import open_connector
from sync.settings import Settings
from sync.systems.hooks import Action, HookResult, Mode, Target, act, decide, endpoint
from sync.systems.jira import HOOK_EVENTS, NAME

if TYPE_CHECKING:
    from connectors.jira import JiraConnector

__all__ = ["jira_hooks", "jql_filter"]

HOOK_NAME = "handoff-sync"
SCOPE = "site"
ADMIN_FIX = (
    "admin webhooks need the global permission Administer Jira: grant it to the account "
    "(Settings → System → Global permissions), or a Jira admin creates the webhook in "
    "Settings → System → WebHooks as `handoff webhooks register --dry-run` describes it, with "
    "the secret of HANDOFF_JIRA__WEBHOOK_SECRET"
)
SECRET_FIX = (
    "set HANDOFF_JIRA__WEBHOOK_SECRET to a long random string (python3 -c 'import secrets; "
    "print(secrets.token_hex(32))'), the same for `handoff serve`"
)


def jql_filter(settings: Settings) -> str:
    """Only the configured projects' issues (or the configured JQL when there are none)."""
    projects = settings.jira.projects
    if projects:
        return "project in (" + ", ".join(f'"{p}"' for p in projects) + ")"
    return settings.jira.jql


def jira_hooks(
    settings: Settings, policy: RetryPolicy, public_url: str, mode: Mode
) -> list[HookResult]:
    """The site's admin webhook: checked, planned or brought about (`mode`)."""
    from connectors.jira_hooks import create_hook, list_hooks, replace_hook

    secret = settings.jira.webhook_secret
    value = secret.get_secret_value() if secret is not None else ""
    if mode != "check" and not value:
        return [HookResult(NAME, SCOPE, "refused", "[jira] webhook_secret is not set: the "
                           "webhook would send unsigned deliveries", SECRET_FIX)]
    try:
        conn: JiraConnector = open_connector(settings, NAME, policy)  # type: ignore[assignment]
    except ConfigError as exc:
        return [HookResult(NAME, SCOPE, "refused", exc.message)]
    except ConnectorError as exc:
        action: Action = "refused" if isinstance(exc, AuthError) else "failed"
        return [HookResult(NAME, SCOPE, action, exc.message)]
    url, jql, events = endpoint(public_url, NAME), jql_filter(settings), sorted(HOOK_EVENTS)
    target = Target(NAME, SCOPE, f"Jira site {settings.jira.url}", url, HOOK_EVENTS,
                    "Jira's Settings → System → WebHooks")
    try:
        decision = decide(list_hooks(conn), url, HOOK_EVENTS, {"jql": jql})
        return act(
            target,
            decision,
            mode,
            lambda: create_hook(conn, HOOK_NAME, url, events, jql, value),
            lambda hook: replace_hook(conn, hook.id, HOOK_NAME, url, events, jql, value),
        )
    except AuthError as exc:
        who = settings.jira.email or "the account"
        return [HookResult(NAME, SCOPE, "refused",
                           f"Jira site {settings.jira.url}: Jira refused its admin webhooks "
                           f"({exc.status or 'no status'}): {who} is not a Jira administrator",
                           ADMIN_FIX)]
    except ConnectorError as exc:
        return [HookResult(NAME, SCOPE, "failed", f"Jira site {settings.jira.url}: {exc.message}")]
