"""GitHub repository hooks through PyGithub (`repo.get_hooks()`, `repo.create_hook(...)`, and
the hook's own PATCH): listed, created and corrected for `handoff webhooks register`.

Managing a repository's hooks needs admin on it (a classic token's `admin:repo_hook` scope, or
a fine-grained token's "Webhooks: read and write"); GitHub answers 404 to a token that lacks
it, as if the hooks did not exist, and 403 to a fine-grained token without the permission.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Scope
from .hooks import FoundHook

if TYPE_CHECKING:
    from .github import GithubConnector

__all__ = ["HOOK_PERMISSION", "create_hook", "edit_hook", "list_hooks"]

HOOK_PERMISSION = "admin:repo_hook (Webhooks: read and write)"


def _found(hook: Any) -> FoundHook:
    config = dict(hook.config or {})
    return FoundHook(
        id=str(hook.id),
        url=str(config.get("url") or ""),
        active=bool(hook.active),
        events=frozenset(hook.events or ()),
        settings={"content_type": str(config.get("content_type") or "form")},
    )


def list_hooks(conn: GithubConnector, repo: str) -> list[FoundHook]:
    """Every hook of `repo` (all pages); NotFound or AuthError when the token may not."""

    def fetch() -> list[FoundHook]:
        # The client is lazy: no GET /repos first, the hooks list is the one request a page.
        return [_found(h) for h in conn._repo_obj(repo).get_hooks()]

    return conn._call(Scope(conn.system, repo), fetch, HOOK_PERMISSION)


def _config(url: str, secret: str) -> dict[str, str]:
    return {"url": url, "content_type": "json", "insecure_ssl": "0", "secret": secret}


def create_hook(
    conn: GithubConnector, repo: str, url: str, events: list[str], secret: str
) -> FoundHook:
    """A new active "web" hook sending JSON to `url`, signed with `secret`. Not re-sent on a
    lost answer: the next register finds it by its URL instead of doubling it."""

    def create() -> FoundHook:
        made = conn._repo_obj(repo).create_hook(
            "web", _config(url, secret), events, active=True
        )
        return _found(made)

    return conn._call(Scope(conn.system, repo), create, HOOK_PERMISSION, idempotent=False)


def edit_hook(
    conn: GithubConnector, repo: str, hook_id: str, url: str, events: list[str], secret: str
) -> FoundHook:
    """Make hook `hook_id` ours as `create_hook` would: active, JSON, these events and the
    secret (a config sent replaces the whole config, so the secret goes with it)."""
    body = {"config": _config(url, secret), "events": events, "active": True}

    def edit() -> FoundHook:
        path = f"{conn._repo_obj(repo).url}/hooks/{hook_id}"
        _, data = conn.client.requester.requestJsonAndCheck("PATCH", path, input=body)
        from github.Hook import Hook

        return _found(Hook(conn.client.requester, {}, data, completed=True))

    return conn._call(Scope(conn.system, repo), edit, HOOK_PERMISSION)
