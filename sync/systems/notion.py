"""Notion: databases, rich-text comments and a page property."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.base import Scope
from sync.systems.spec import Budget, SystemSpec, WebhookSpec

if TYPE_CHECKING:
    from connectors._retry import RetryPolicy
    from connectors.base import Connector
    from sync.commands.init import Answers, Found
    from sync.settings import Settings

NAME = "notion"


def _scopes(settings: Settings) -> list[Scope]:
    cfg = settings.notion
    return [Scope(NAME, d) for d in cfg.databases] if cfg.url else []


def _open(settings: Settings, token: str, policy: RetryPolicy) -> Connector:
    from connectors import notion

    client = notion.open_client(settings.notion.url, token, timeout=policy.timeout)
    return notion.NotionConnector(
        client,
        body_fields=settings.fields.notion.needs_body(),
        policy=policy,
        check_property=settings.notion_property.name,
    )


def _doctor(settings: Settings, policy: RetryPolicy) -> object:
    from sync.systems.notion_doctor import check_notion

    return check_notion(settings, policy)


def _discover(answers: Answers, found: Found, notion_token: str) -> None:
    """The properties of each Notion database, by name and type."""
    if answers.notion_databases and notion_token:
        from connectors import notion
        from connectors.errors import ConnectorError
        from sync.commands.init import POLICY

        conn_n = notion.NotionConnector(
            notion.open_client(answers.notion_url, notion_token, timeout=POLICY.timeout),
            policy=POLICY,
        )
        for db in answers.notion_databases:
            try:
                for name, typ in conn_n.properties(Scope(NAME, db)).items():
                    found.notion_properties.setdefault(name, typ)
            except ConnectorError as exc:
                found.notes.append(f"Notion database {db} not read: {exc.message}")
    elif answers.notion_databases:
        found.notes.append(
            "Notion properties not read: set HANDOFF_NOTION__TOKEN and run init "
            "again with --force to fill them in"
        )


def _demo_sample(sb: Any, writes: Any, token: str) -> tuple[str, str, str] | None:
    """Our comment on the first page the demo commented on, as Notion shows it."""
    import requests

    sent = next((e for e in writes if e.path == "/v1/comments"), None)
    if sent is None or not isinstance(sent.body, dict):
        return None
    page = sent.body.get("parent", {}).get("page_id", "")
    r = requests.get(
        f"{sb.url}/v1/comments",
        params={"block_id": page},
        headers={"Authorization": f"Bearer {token}", "Notion-Version": "2025-09-03"},
        timeout=10,
    )
    texts = ["".join(t["plain_text"] for t in c["rich_text"]) for c in r.json()["results"]]
    body = next((t for t in texts if "handoff-sync:" in t), "")
    return ("Notion", f"page {page}", body)


# Webhook subscriptions: a one-time unsigned {"verification_token": ...}, then deliveries
# signed with that token (X-Notion-Signature). Events carry ids only.
_KINDS = ("page.", "comment.", "data_source.", "database.")


def _notion_scope(body: Any) -> str:
    """The database a page event's parent names; "" when it names a page or data source."""
    parent = (body.get("data") or {}).get("parent") or {}
    return str(parent.get("id", "")) if parent.get("type") == "database" else ""


def _notion_subject(body: Any) -> str:
    data = body.get("data") or {}
    return str(data.get("page_id") or (body.get("entity") or {}).get("id", ""))


# The events a subscription sends that `handoff serve` acts on (all of its `_KINDS` that touch
# a page we read or a comment on one), as Notion's "Event types & delivery" names them.
HOOK_EVENTS = (
    "page.created",
    "page.properties_updated",
    "page.content_updated",
    "page.moved",
    "page.deleted",
    "page.undeleted",
    "comment.created",
    "comment.updated",
    "comment.deleted",
)


def _hook_steps(public_url: str) -> list[str]:
    """Notion has no API to subscribe: what a person does in the integration's settings."""
    url = f"{public_url.rstrip('/')}/webhooks/{NAME}"
    return [
        "Open notion.so/profile/integrations and the integration whose secret is "
        "HANDOFF_NOTION__TOKEN; in its Webhooks tab choose + Create a subscription.",
        f"Webhook URL: {url} (`handoff serve` must be running there, reachable over https).",
        f"Events: {', '.join(HOOK_EVENTS)}.",
        "Create it, with HANDOFF_NOTION__WEBHOOK_SECRET unset for `handoff serve` (a token "
        "other than the one set is refused): Notion sends a one-time verification_token to "
        "that URL; `handoff serve` answers it and keeps it in its state file as the secret "
        "of every later delivery (X-Notion-Signature).",
        "Click Verify in Notion and paste that token. handoff-sync never prints secrets: it "
        f"is in the state file's meta table under the key webhook_verification:{NAME}.",
    ]


def _notion_comments(body: Any) -> str:
    """The page a person commented on (or edited a comment of): its comments are read, since
    a comment does not move the page's last_edited_time. A bot's comment (ours among them)
    is never a command, so its delivery reads nothing."""
    if str(body.get("type", "")) not in ("comment.created", "comment.updated"):
        return ""
    authors = body.get("authors")
    if isinstance(authors, list) and authors and all(
        isinstance(a, dict) and a.get("type") == "bot" for a in authors
    ):
        return ""
    return str((body.get("data") or {}).get("page_id") or "")


def _notion_echo(body: Any, me: str) -> bool:
    """A comment event by our bot alone: the integration can only ever write its own
    comments. (Our property's echo names the property by an id we do not keep: it syncs.)"""
    authors = body.get("authors")
    return (
        bool(me)
        and str(body.get("type", "")).startswith("comment.")
        and isinstance(authors, list)
        and bool(authors)
        and all(isinstance(a, dict) and a.get("id") == me for a in authors)
    )


WEBHOOK = WebhookSpec(
    signature="x-notion-signature",
    delivery=lambda headers, body: str(body.get("id", "")) if isinstance(body, dict) else "",
    event=lambda headers, body: str(body.get("type", "")) if isinstance(body, dict) else "",
    known=lambda event: event.startswith(_KINDS),
    subject=_notion_subject,
    handshake="verification_token",
    scope=_notion_scope,
    comments=_notion_comments,
    echo=lambda body, me, labels: _notion_echo(body, me),
    us=lambda connector: str(connector.me()),
)


SPEC = SystemSpec(
    name=NAME,
    display="Notion",
    section=lambda s: s.notion,
    scopes=_scopes,
    open=_open,
    comment_format=lambda cfg: "notion-rich-text",
    # About 3 requests a second for everything, reads included (every query page and comment
    # read asks the pacer first); 8 in 3 s keeps a margin, since 3 in 1 s sat exactly on the
    # limit and any jitter crossed it, and never more than 3 in any one second.
    # Notion's API (2025-09-03) cannot delete a comment.
    budget=Budget(8, 3.0, reads=True, burst=3),
    annotations=frozenset({"page_property", "comment_delete"}),  # DELETE /v1/comments/{id}
    handle=r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}",
    wanted="[notion] databases",
    token_help="copy the internal integration secret (notion.so/profile/integrations) "
    "into HANDOFF_NOTION__TOKEN",
    doctor=_doctor,
    demo_sample=_demo_sample,
    discover=_discover,
    webhook=WEBHOOK,
    hook_steps=_hook_steps,
)
