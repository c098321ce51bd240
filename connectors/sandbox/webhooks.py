"""The sandbox's webhooks: each change it makes is sent, signed, to a URL given at start.

    sb.send_webhooks("http://127.0.0.1:8080", {"github": s1, "jira": s2, "notion": s3})

Each service posts to `<url>/webhooks/<service>` with its real headers and payload shapes:
GitHub repository hooks (X-GitHub-Event, X-GitHub-Delivery, X-Hub-Signature-256; payloads as
in @octokit/webhooks-examples), Jira Cloud admin webhooks with a secret
(X-Atlassian-Webhook-Identifier, X-Hub-Signature: sha256=...; `webhookEvent`, `issue`,
`comment`), Notion subscriptions (first an unsigned {"verification_token"}, then
X-Notion-Signature on events that carry ids only: `type`, `entity`, `data`, `authors`).
A write through the API sends its event after it is answered (creating a repository hook
sends GitHub's `ping`); a person's edit made on the
sandbox's objects directly is announced with `person_edit_pull`, and a person's comment made
in Jira's or Notion's app (their `person_comment`) as `comment_created` / `comment.created` by
that person. Deliveries go out in order
from one thread, retried a few times when the receiver is down or answers 5xx; `sent` keeps
each one with the status it got.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .server import Request, Response

__all__ = ["Delivery", "WebhookSender"]

_TRIES = 3


@dataclass
class Delivery:
    service: str
    headers: dict[str, str]
    body: bytes
    status: int = 0  # what the receiver answered (0: never reached)


def _sign(secret: str, body: bytes, algo: Any = hashlib.sha256, name: str = "sha256") -> str:
    return f"{name}=" + hmac.new(secret.encode(), body, algo).hexdigest()


class WebhookSender:
    """Signs and posts the sandbox's events, in order, from one thread."""

    def __init__(self, sandbox: Any, url: str, secrets: dict[str, str]) -> None:
        self.sandbox = sandbox
        self.url = url.rstrip("/")
        self.secrets = dict(secrets)
        self.sent: list[Delivery] = []
        self.paused = threading.Event()  # tests hold deliveries back with it
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()
        if "notion" in self.secrets:  # a new subscription verifies its endpoint first
            token = {"verification_token": self.secrets["notion"]}
            self._queue.put(Delivery("notion", _JSON, json.dumps(token).encode()))

    # -- sending ---------------------------------------------------------------------------
    def emit(self, service: str, payload: dict[str, Any], headers: dict[str, str]) -> None:
        secret = self.secrets.get(service)
        if secret is None:
            return
        body = json.dumps(payload).encode()
        signed = dict(headers)
        if service == "github":
            signed["X-Hub-Signature"] = _sign(secret, body, hashlib.sha1, "sha1")
            signed["X-Hub-Signature-256"] = _sign(secret, body)
        elif service == "jira":
            signed["X-Hub-Signature"] = _sign(secret, body)
        else:
            signed["X-Notion-Signature"] = _sign(secret, body)
        self._queue.put(Delivery(service, {**_JSON, **signed}, body))

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every queued delivery has been sent (or given up on)."""
        end = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < end:
            time.sleep(0.02)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            d = self._queue.get()
            try:
                if d is None:
                    return
                while self.paused.is_set():
                    time.sleep(0.02)
                self._post(d)
                self.sent.append(d)
            finally:
                self._queue.task_done()

    def _post(self, d: Delivery) -> None:
        for attempt in range(_TRIES):
            req = urllib.request.Request(
                f"{self.url}/webhooks/{d.service}", data=d.body, headers=d.headers, method="POST"
            )
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    d.status = resp.status
                    return
            except urllib.error.HTTPError as exc:
                d.status = exc.code
                if exc.code < 500:
                    return
            except OSError:
                d.status = 0
            time.sleep(0.2 * (attempt + 1))

    # -- what each write announces -----------------------------------------------------------
    def after_write(
        self, service: Any, req: Request, groups: dict[str, str], resp: Response
    ) -> None:
        """Called by the server (under its lock) after a write was answered 2xx."""
        if resp.status >= 300 or service.name not in self.secrets:
            return
        build = {"github": _github, "jira": _jira, "notion": _notion}.get(service.name)
        if build is not None:
            build(self, service, req, groups, resp)

    def person_edit_pull(self, repo: str, number: int, action: str = "edited") -> None:
        """A person changed a pull request on github.com (the sandbox has no route for it)."""
        gh = self.sandbox.github
        r = gh.repos[repo]
        it = r.items[number]
        render = _github_render(gh)
        kind = "pull_request" if it.is_pull else "issues"
        obj = render.pull(r, it, True) if it.is_pull else render.issue(r, it)
        payload = {"action": action, "number": it.number, "repository": render.repo(r)}
        payload["pull_request" if it.is_pull else "issue"] = obj
        payload["sender"] = render.user(it.user)
        self.emit("github", payload, _gh_headers(kind, r.id))


    def jira_comment(self, jira: Any, issue: dict[str, Any], comment: dict[str, Any],
                     author: str) -> None:
        """A person's comment made in Jira's app: `comment_created`, by that person."""
        if "jira" in self.secrets:
            payload = _jira_payload(jira, issue, "2", author)
            payload["comment"] = jira.comment_json(issue, comment, "2")
            payload.update(webhookEvent="comment_created", issue_event_type_name="issue_commented")
            self.emit("jira", payload, _jira_headers())

    def notion_comment(self, notion: Any, page: Any, cid: str, author: str) -> None:
        """A person's comment made in Notion's app: `comment.created`, by that person."""
        if "notion" in self.secrets:
            data = {"page_id": page.id, "parent": {"id": page.id, "type": "page"}}
            entity = {"id": cid, "type": "comment"}
            self.emit("notion", _notion_event(self, notion, "comment.created", entity, data,
                                              {"id": author, "type": "person"}),
                      {"User-Agent": "notion-api"})


_JSON = {"Content-Type": "application/json"}


def _gh_headers(event: str, repo_id: int) -> dict[str, str]:
    return {
        "User-Agent": "GitHub-Hookshot/sandbox",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "1",
        "X-GitHub-Hook-Installation-Target-Type": "repository",
        "X-GitHub-Hook-Installation-Target-ID": str(repo_id),
    }


def _github_render(gh: Any) -> Any:
    from .github_render import Render

    host = gh.server.url.removeprefix("http://")
    return Render(f"http://{host}/api/v3", f"http://{host}", gh.users, gh.orgs)


def _github(
    sender: WebhookSender, gh: Any, req: Request, groups: dict[str, str], resp: Response
) -> None:
    r = gh.repos.get(f"{groups.get('owner')}/{groups.get('repo')}")
    if r is None:
        return
    render = gh._r(req)
    login = gh.token_logins.get(gh._token(req), "")
    base = {"repository": render.repo(r), "sender": render.user(login) if login else None}
    if req.path.endswith("/hooks") and isinstance(resp.body, dict):
        # GitHub pings a hook once when it is created (recorded/github/webhooks/ping.json).
        hook = resp.body
        headers = {**_gh_headers("ping", r.id), "X-GitHub-Hook-ID": str(hook["id"])}
        payload = {"zen": "Keep it logically awesome.", "hook_id": hook["id"], "hook": hook}
        sender.emit("github", {**payload, **base}, headers)
        return
    if "hook_id" in groups:
        return  # editing or deleting a hook announces nothing
    if req.path.endswith("/reactions"):
        return  # repository hooks have no event for a reaction
    if "comment_id" in groups or req.path.endswith("/comments"):
        comment = resp.body if isinstance(resp.body, dict) else {"id": int(groups["comment_id"])}
        number = int(groups.get("number") or 0) or _number_of(r, comment)
        it = r.items.get(number)
        if it is None:
            return
        action = {"POST": "created", "PATCH": "edited", "DELETE": "deleted"}[req.method]
        issue = render.issue(r, it)
        payload = {"action": action, "issue": issue, "comment": comment, **base}
        sender.emit("github", payload, _gh_headers("issue_comment", r.id))
        return
    number = int(groups.get("number") or (resp.body or {}).get("number") or 0)
    it = r.items.get(number)
    if it is None:
        return
    action = "edited"
    if "/labels" in req.path:
        action = "unlabeled" if req.method == "DELETE" else "labeled"
    elif req.method == "POST":
        action = "opened"
    kind = "pull_request" if it.is_pull else "issues"
    obj = render.pull(r, it, True) if it.is_pull else render.issue(r, it)
    payload = {"action": action, "number": it.number, **base}
    payload["pull_request" if it.is_pull else "issue"] = obj
    if action not in ("labeled", "unlabeled"):
        sender.emit("github", payload, _gh_headers(kind, r.id))
        return
    for name in _labels_named(req, groups):  # GitHub sends one event per label, naming it
        sender.emit("github", {**payload, "label": {"name": name}}, _gh_headers(kind, r.id))


def _labels_named(req: Request, groups: dict[str, str]) -> list[str]:
    if groups.get("name"):
        return [urllib.parse.unquote(groups["name"])]
    try:
        sent = req.json()
    except ValueError:
        return []
    names = sent.get("labels") if isinstance(sent, dict) else sent
    return [str(n.get("name", "") if isinstance(n, dict) else n) for n in names or []] or [""]


def _number_of(repo: Any, comment: dict[str, Any]) -> int:
    found = repo.comments.get(int(comment.get("id", 0)))
    if found is not None:
        return int(found.number)
    m = re.search(r"/issues/(\d+)$", str(comment.get("issue_url", "")))
    return int(m.group(1)) if m else 0


def _jira(
    sender: WebhookSender, jira: Any, req: Request, groups: dict[str, str], resp: Response
) -> None:
    ref = groups.get("ref")
    if not ref or "/properties/" in req.path:
        return  # entity properties: not an event the admin webhook is registered for
    issue = jira.issues.get(ref) or jira.issues.get(jira.by_key.get(ref.upper(), ""))
    if issue is None:
        return
    v = groups.get("v") or "2"
    payload = _jira_payload(jira, issue, v, jira.account_id)
    if "/comment" in req.path:
        cid = groups.get("cid") or str((resp.body or {}).get("id", ""))
        found = next((c for c in issue["comments"] if c["id"] == cid), None)
        event = {"POST": "comment_created", "PUT": "comment_updated"}.get(req.method)
        event = event or "comment_deleted"
        payload["comment"] = (
            jira.comment_json(issue, found, v) if found is not None else {"id": cid}
        )
        payload.update(webhookEvent=event, issue_event_type_name="issue_commented")
    else:
        event = "jira:issue_deleted" if req.method == "DELETE" else "jira:issue_updated"
        payload.update(webhookEvent=event, issue_event_type_name="issue_generic")
        payload["changelog"] = {"id": str(jira.version), "items": []}
    sender.emit("jira", payload, _jira_headers())


def _jira_payload(jira: Any, issue: dict[str, Any], v: str, user: str) -> dict[str, Any]:
    return {
        "timestamp": int(datetime.now(UTC).timestamp() * 1000),
        "user": jira.user_json(user, v),
        "issue": jira.issue_json(issue, v, jira._wanted([], "*navigable"), []),
    }


def _jira_headers() -> dict[str, str]:
    return {
        "User-Agent": "Atlassian Webhook HTTP Client",
        "X-Atlassian-Webhook-Identifier": str(uuid.uuid4().int % 10**12),
        "X-Atlassian-Webhook-Flow": "Primary",
    }


def _notion(
    sender: WebhookSender, notion: Any, req: Request, groups: dict[str, str], resp: Response
) -> None:
    body = resp.body if isinstance(resp.body, dict) else {}
    if "page_id" in groups:
        page = notion.pages.get(body.get("id", ""))
        if page is None:
            return
        changed = list((req.json() or {}).get("properties") or {})
        schema = page.source.schema
        kind = "page.deleted" if page.trashed else "page.properties_updated"
        data: dict[str, Any] = {
            "parent": {
                "id": page.source.db.id,
                "type": "database",
                "data_source_id": page.source.id,
            },
            "updated_properties": [str(schema.get(n, {}).get("id", n)) for n in changed],
        }
        entity = {"id": page.id, "type": "page"}
    elif req.path.startswith("/v1/comments"):
        cid = str(body.get("id") or groups.get("comment_id", ""))
        found = notion.comments.get(cid)
        if found is None:
            return
        page = found[0]
        kind = {"POST": "comment.created", "PATCH": "comment.updated"}.get(req.method, "")
        kind = kind or "comment.deleted"
        data = {"page_id": page.id, "parent": {"id": page.id, "type": "page"}}
        entity = {"id": cid, "type": "comment"}
    else:
        return
    event = _notion_event(sender, notion, kind, entity, data, {"id": notion.bot_id, "type": "bot"})
    sender.emit("notion", event, {"User-Agent": "notion-api"})


def _notion_event(sender: WebhookSender, notion: Any, kind: str, entity: dict[str, Any],
                  data: dict[str, Any], author: dict[str, str]) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "workspace_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, notion.bot_id)),
        "workspace_name": notion.workspace_name,
        "subscription_id": str(uuid.uuid5(uuid.NAMESPACE_URL, sender.url)),
        "integration_id": notion.bot_id,
        "type": kind,
        "authors": [author],
        "attempt_number": 1,
        "entity": entity,
        "data": data,
    }
