"""`handoff webhooks register` and doctor's hook check for GitHub: one repository hook per
configured repository, sending JSON to `<public_url>/webhooks/github`, signed with
`[github] webhook_secret`, for the events `handoff serve` acts on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors._retry import RetryPolicy
from connectors.errors import AuthError, ConfigError, ConnectorError, NotFound
from sync.engine.connect import open_connector
from sync.settings import Settings
from sync.systems.github import HOOK_EVENTS, NAME
from sync.systems.hooks import Action, HookResult, Mode, Target, act, decide, endpoint

if TYPE_CHECKING:
    from connectors.github import GithubConnector

__all__ = ["github_hooks"]

ADMIN_FIX = (
    "the token needs admin on the repository: a classic token with the admin:repo_hook scope "
    "(or repo, as an admin of it), or a fine-grained token with Webhooks: read and write; or a "
    "repository admin adds the hook in Settings → Webhooks as `handoff webhooks register "
    "--dry-run` describes it"
)
SECRET_FIX = (
    "set HANDOFF_GITHUB__WEBHOOK_SECRET to a long random string (python3 -c 'import secrets; "
    "print(secrets.token_hex(32))'), the same for `handoff serve`"
)


def github_hooks(
    settings: Settings, policy: RetryPolicy, public_url: str, mode: Mode
) -> list[HookResult]:
    """Each configured repository's hook: checked, planned or brought about (`mode`)."""
    secret = settings.github.webhook_secret
    value = secret.get_secret_value() if secret is not None else ""
    if mode != "check" and not value:
        return [HookResult(NAME, "", "refused", "[github] webhook_secret is not set: "
                           "the hooks would send unsigned deliveries", SECRET_FIX)]
    try:
        conn: GithubConnector = open_connector(settings, NAME, policy)  # type: ignore[assignment]
    except ConfigError as exc:
        return [HookResult(NAME, "", "refused", exc.message)]
    except ConnectorError as exc:
        action: Action = "refused" if isinstance(exc, AuthError) else "failed"
        return [HookResult(NAME, "", action, exc.message)]
    url = endpoint(public_url, NAME)
    out: list[HookResult] = []
    for repo in settings.github.repos:
        out += _repo(conn, repo, url, value, mode)
    return out


def _repo(conn: GithubConnector, repo: str, url: str, secret: str, mode: Mode) -> list[HookResult]:
    from connectors.github_hooks import create_hook, edit_hook, list_hooks

    target = Target(NAME, repo, f"repository {repo}", url, HOOK_EVENTS,
                    f"{repo}'s Settings → Webhooks")
    events = sorted(HOOK_EVENTS)
    try:
        decision = decide(list_hooks(conn, repo), url, HOOK_EVENTS, {"content_type": "json"})
        return act(
            target,
            decision,
            mode,
            lambda: create_hook(conn, repo, url, events, secret),
            lambda hook: edit_hook(conn, repo, hook.id, url, events, secret),
        )
    except (NotFound, AuthError) as exc:
        status = f" ({exc.status})" if exc.status else ""
        return [HookResult(NAME, repo, "refused",
                           f"repository {repo}: GitHub refused its webhooks{status}: the token "
                           "may not manage them (or the repository does not exist)", ADMIN_FIX)]
    except ConnectorError as exc:
        return [HookResult(NAME, repo, "failed", f"repository {repo}: {exc.message}")]
