"""GitHub: repositories, Markdown comments and labels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.base import Scope
from sync.systems.spec import Budget, SystemSpec, WebhookSpec

if TYPE_CHECKING:
    from connectors._retry import RetryPolicy
    from connectors.base import Connector
    from sync.settings import Settings

NAME = "github"


def _scopes(settings: Settings) -> list[Scope]:
    cfg = settings.github
    return [Scope(NAME, r) for r in cfg.repos] if cfg.url else []


def _open(settings: Settings, token: str, policy: RetryPolicy) -> Connector:
    from connectors import github

    gh = github.open_client(settings.github.url, token, timeout=policy.timeout)
    return github.GithubConnector(gh, include_issues=settings.github.include_issues, policy=policy)


def _doctor(settings: Settings, policy: RetryPolicy) -> object:
    from sync.systems.github_doctor import check_github

    return check_github(settings, policy)


def _demo_sample(sb: Any, writes: Any, token: str) -> tuple[str, str, str] | None:
    """Our comment on the first pull the demo commented on, as GitHub shows it."""
    import requests

    path = next(
        (e.path for e in writes if e.path.endswith("/comments") and "/api/v3/" in e.path), None
    )
    if not path:
        return None
    r = requests.get(sb.url + path, headers={"Authorization": f"token {token}"}, timeout=10)
    body = next((c["body"] for c in r.json() if "handoff-sync:" in c["body"]), "")
    number = path.split("/")[-2]
    repo = "/".join(path.split("/")[4:6])
    return ("GitHub", f"{repo}#{number}", body)


# Repository hooks (X-Hub-Signature-256); the events that can change a pull or issue we read.
_EVENTS = {"pull_request", "issues", "issue_comment", "label"}
HOOK_EVENTS = frozenset(_EVENTS)  # what `handoff webhooks register` subscribes a hook to


def _hooks(settings: Settings, policy: RetryPolicy, public_url: str, mode: Any) -> list[Any]:
    from sync.systems.github_hooks import github_hooks

    return list(github_hooks(settings, policy, public_url, mode))


def _gh_event(headers: Any, body: Any) -> str:
    name = str(headers.get("x-github-event", ""))
    action = body.get("action") if isinstance(body, dict) else None
    return f"{name}.{action}" if action else name


def _gh_subject(body: Any) -> str:
    repo = (body.get("repository") or {}).get("full_name", "")
    item = body.get("pull_request") or body.get("issue") or {}
    return f"{repo}#{item['number']}" if item.get("number") else repo


def _gh_echo(body: Any, me: str, labels: frozenset[str]) -> bool:
    """Our marker comment or step reply, or one of our labels, changed by our own login."""
    from connectors.base import OUR_PREFIXES

    if not me or (body.get("sender") or {}).get("login") != me:
        return False
    if "comment" in body:
        text = str((body.get("comment") or {}).get("body") or "")
        return any(p in text for p in OUR_PREFIXES)
    label = str((body.get("label") or {}).get("name") or "")
    return body.get("action") in ("labeled", "unlabeled") and label in labels


WEBHOOK = WebhookSpec(
    signature="x-hub-signature-256",
    delivery=lambda headers, body: str(headers.get("x-github-delivery", "")),
    event=_gh_event,
    known=lambda event: event.partition(".")[0] in _EVENTS,
    subject=_gh_subject,
    scope=lambda body: str((body.get("repository") or {}).get("full_name", "")),
    echo=_gh_echo,
    us=lambda connector: str(connector.me()),
)



SPEC = SystemSpec(
    name=NAME,
    display="GitHub",
    section=lambda s: s.github,
    scopes=_scopes,
    open=_open,
    comment_format=lambda cfg: "github-md",
    # 80 content-creating requests a minute (GitHub's secondary limit), one at a time; reads
    # are not paced (5,000 an hour, 100 in flight) but four repositories are read at once.
    budget=Budget(80, 60.0, width=4),
    annotations=frozenset({"labels", "comment_delete", "reactions"}),
    handle=r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}",
    wanted="[github] repos",
    token_help="create a token (github.com/settings/tokens) and set HANDOFF_GITHUB__TOKEN",
    doctor=_doctor,
    demo_sample=_demo_sample,
    webhook=WEBHOOK,
    hooks=_hooks,
)
