"""Jira: projects or JQL, wiki or ADF comments, labels and an optional entity property."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from connectors.base import Scope
from sync.systems.spec import Budget, SystemSpec, WebhookSpec

if TYPE_CHECKING:
    from connectors._retry import RetryPolicy
    from connectors.base import Connector
    from sync.commands.init import Answers, Found
    from sync.settings import Settings
    from sync.writeback.markup import Format
    from sync.writeback.plan import PlanConfig

NAME = "jira"


def _scopes(settings: Settings) -> list[Scope]:
    cfg = settings.jira
    if not cfg.url:
        return []
    scopes = [Scope(NAME, p, query=cfg.jql) for p in cfg.projects]
    if cfg.jql and not cfg.projects:
        scopes.append(Scope(NAME, "jql", query=cfg.jql))
    return scopes


def _open(settings: Settings, token: str, policy: RetryPolicy) -> Connector:
    from connectors import jira
    from sync.systems.runtime import entity_property_key

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
        properties=tuple(filter(None, [entity_property_key(settings)])),
    )


def _format(cfg: PlanConfig) -> Format:
    return "jira-adf" if cfg.jira_format == "adf" else "jira-wiki"


def _doctor(settings: Settings, policy: RetryPolicy) -> object:
    from sync.systems.jira_doctor import check_jira

    return check_jira(settings, policy)


def _discover(answers: Answers, found: Found, jira_token: str) -> None:
    """Jira's custom fields, by name (the config maps record fields to them)."""
    if answers.jira_url and jira_token:
        from connectors import jira
        from connectors.errors import ConnectorError
        from sync.commands.init import POLICY

        try:
            client = jira.open_client(
                answers.jira_url, answers.jira_email, jira_token, timeout=POLICY.timeout
            )
            conn = jira.JiraConnector(client, policy=POLICY)
            for f in conn.fields():
                if f.get("custom"):
                    typ = str((f.get("schema") or {}).get("type") or "any")
                    found.jira_fields[str(f["name"])] = (str(f["id"]), typ)
        except ConnectorError as exc:
            found.notes.append(f"Jira fields not read: {exc.message}")
    elif answers.jira_url:
        found.notes.append(
            "Jira fields not read: set HANDOFF_JIRA__TOKEN and run init again "
            "with --force to fill them in"
        )


def _demo_sample(sb: Any, writes: Any, token: str) -> tuple[str, str, str] | None:
    """Our comment on the first issue the demo commented on, as Jira shows it."""
    import requests

    from connectors.sandbox import JIRA_EMAIL

    issue_id = next((e.path.split("/")[5] for e in writes if e.path.endswith("/comment")), None)
    if not issue_id:
        return None
    base, auth = sb.url, (JIRA_EMAIL, token)
    r = requests.get(f"{base}/rest/api/2/issue/{issue_id}/comment", auth=auth, timeout=10)
    issue = requests.get(
        f"{base}/rest/api/2/issue/{issue_id}?fields=summary", auth=auth, timeout=10
    ).json()
    body = next((c["body"] for c in r.json()["comments"] if "handoff-sync:" in c["body"]), "")
    # Jira shows a mention as the person's name; the raw markup holds their account id.
    for p in sb.workspace.get("people", []):
        if p.get("jira_account_id"):
            body = body.replace(f"[~accountid:{p['jira_account_id']}]", "@" + p["name"])
    return ("Jira", f"{issue['key']} {issue['fields']['summary']}", body)


# Admin webhooks registered with a secret (X-Hub-Signature: sha256=...); the events that can
# change an issue we read.
_EVENTS = {
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
}
HOOK_EVENTS = frozenset(_EVENTS)  # what `handoff webhooks register` subscribes the webhook to


def _hooks(settings: Settings, policy: RetryPolicy, public_url: str, mode: Any) -> list[Any]:
    from sync.systems.jira_hooks import jira_hooks

    return list(jira_hooks(settings, policy, public_url, mode))

def _jira_echo(body: Any, me: str, labels: frozenset[str]) -> bool:
    """Our marker comment or step reply, written or edited by our own account."""
    from connectors.base import OUR_PREFIXES

    comment = body.get("comment") or {}
    by = comment.get("updateAuthor") or comment.get("author") or {}
    return (
        bool(me)
        and str(body.get("webhookEvent", "")).startswith("comment_")
        and (body.get("user") or {}).get("accountId") == me
        and by.get("accountId") == me
        and any(p in json.dumps(comment.get("body")) for p in OUR_PREFIXES)
    )


WEBHOOK = WebhookSpec(
    signature="x-hub-signature",
    delivery=lambda headers, body: str(headers.get("x-atlassian-webhook-identifier", "")),
    event=lambda headers, body: str(body.get("webhookEvent", "")) if isinstance(body, dict) else "",
    known=lambda event: event in _EVENTS,
    subject=lambda body: str((body.get("issue") or {}).get("key", "")),
    every_scope=True,
    echo=_jira_echo,
    us=lambda connector: str(connector.me()),
)


SPEC = SystemSpec(
    name=NAME,
    display="Jira",
    section=lambda s: s.jira,
    scopes=_scopes,
    open=_open,
    comment_format=_format,
    # Jira publishes no fixed rate, only burst limits per endpoint (429 + Retry-After): 10
    # requests a second, reads and writes together, with four projects searched side by side.
    budget=Budget(10, 1.0, reads=True, width=4),
    annotations=frozenset({"labels", "entity_property", "comment_delete"}),
    handle=r"[A-Za-z0-9][A-Za-z0-9:_-]{0,127}",
    reports_active=True,
    wanted="[jira] projects (and [jira] url)",
    token_help="create an API token for that account (id.atlassian.com → Security) and "
    "set HANDOFF_JIRA__TOKEN; check [jira] email",
    doctor=_doctor,
    demo_sample=_demo_sample,
    discover=_discover,
    webhook=WEBHOOK,
    hooks=_hooks,
)
