"""Jira Cloud admin webhooks (`/rest/webhooks/1.0/webhook`) through the `jira` client's session:
listed, created and replaced for `handoff webhooks register`.

The `jira` library has no method for them, and Atlassian's OpenAPI description holds only the
apps' dynamic webhooks (/rest/api/3/webhook, for Connect and OAuth apps). The admin webhook
API is documented at developer.atlassian.com/cloud/jira/platform/webhooks ("Registering a
webhook via the Jira REST API"): POST {name, url, events, filters
{"issue-related-events-section": JQL}, excludeBody, secret}; GET lists them; PUT
`.../webhook/{id}` replaces one. Only a Jira administrator may use it (403 otherwise).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .errors import BadAnswer
from .hooks import FoundHook

if TYPE_CHECKING:
    from .jira import JiraConnector

__all__ = ["HOOKS_PATH", "JQL_FILTER", "create_hook", "list_hooks", "replace_hook"]

HOOKS_PATH = "/rest/webhooks/1.0/webhook"
JQL_FILTER = "issue-related-events-section"
_WHAT = "the admin webhooks (/rest/webhooks/1.0/webhook)"


def _found(raw: Any) -> FoundHook:
    if not isinstance(raw, dict) or not raw.get("self"):
        raise BadAnswer(f"Jira answered {_WHAT} with something else than a webhook",
                        system="jira", scope="site")
    return FoundHook(
        id=str(raw["self"]).rstrip("/").rsplit("/", 1)[-1],
        url=str(raw.get("url") or ""),
        active=bool(raw.get("enabled", True)),
        events=frozenset(raw.get("events") or ()),
        settings={"jql": str((raw.get("filters") or {}).get(JQL_FILTER) or "")},
    )


def list_hooks(conn: JiraConnector) -> list[FoundHook]:
    """Every admin webhook of the site; AuthError when the account is no Jira admin."""
    url = conn.site.rstrip("/") + HOOKS_PATH
    data = conn._call(lambda: conn.client._session.get(url).json(), what=_WHAT)
    if not isinstance(data, list):
        raise BadAnswer(f"Jira answered {_WHAT} with something else than a list",
                        system="jira", scope="site")
    return [_found(h) for h in data]


def _body(name: str, url: str, events: list[str], jql: str, secret: str, **more: Any) -> str:
    return json.dumps(
        {"name": name, "url": url, "events": events, "filters": {JQL_FILTER: jql},
         "excludeBody": False, "secret": secret, **more}
    )


def create_hook(
    conn: JiraConnector, name: str, url: str, events: list[str], jql: str, secret: str
) -> FoundHook:
    """A new admin webhook; not re-sent on a lost answer (the next register finds it)."""
    target = conn.site.rstrip("/") + HOOKS_PATH
    body = _body(name, url, events, jql, secret)
    return _found(conn._call(lambda: conn.client._session.post(target, data=body).json(),
                             what=_WHAT, idempotent=False))


def replace_hook(
    conn: JiraConnector, hook_id: str, name: str, url: str, events: list[str], jql: str,
    secret: str,
) -> FoundHook:
    """Webhook `hook_id` replaced by ours (a PUT replaces it whole, so all of it is sent)."""
    target = f"{conn.site.rstrip('/')}{HOOKS_PATH}/{hook_id}"
    body = _body(name, url, events, jql, secret, enabled=True)
    return _found(conn._call(lambda: conn.client._session.put(target, data=body).json(),
                             what=_WHAT))
