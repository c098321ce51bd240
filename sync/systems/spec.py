"""What makes one system particular, declared once: `SystemSpec`.

May import `connectors` (lazily, inside `open`) and nothing of `sync` but type names, so that
every other part of `sync` can read the registry without an import cycle.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from connectors._retry import RetryPolicy
    from connectors.base import Connector, Scope
    from sync.settings import Settings
    from sync.writeback.markup import Format
    from sync.writeback.plan import PlanConfig

__all__ = ["Annotation", "Budget", "SystemSpec", "WebhookSpec"]

# What a system can show besides our marker comment. "comment_delete": a duplicate comment of
# ours can be removed (Notion's API has no way to delete a comment). "reactions": a person's
# command comment gets a reaction as well as its answer in our comment.
Annotation = Literal["labels", "page_property", "entity_property", "comment_delete", "reactions"]


@dataclass(frozen=True)
class Budget:
    """One API's budget: at most `rate` paced calls in any `per` seconds. Writes always count;
    `reads` makes every read request count too (the connector's transport asks the pacer
    before each one), so reads and writes share one window. `width`: how many of the
    system's scopes are pulled side by side (writes stay one at a time); `burst`, when set,
    also keeps any one second under it."""

    rate: int
    per: float = 60.0
    reads: bool = False
    width: int = 1
    burst: int = 0  # and at most this many in any one second (0: no such limit)


@dataclass(frozen=True)
class WebhookSpec:
    """How a system's signed webhooks look to `handoff serve` (see `sync.serve`)."""

    signature: str  # the header carrying "sha256=<hex HMAC-SHA256 of the raw body>"
    # (headers with lower-case names, the parsed body) -> the delivery's id, the same on a retry
    delivery: Callable[[Mapping[str, str], Any], str]
    # (headers, body) -> the event's name, e.g. "pull_request.edited"
    event: Callable[[Mapping[str, str], Any], str]
    known: Callable[[str], bool]  # an event that can change what a sync reads
    subject: Callable[[Any], str]  # the item it names, for the log and the inbox
    # A body key carrying a one-time verification token, sent unsigned (Notion); "": none.
    handshake: str = ""
    # body -> the name of the scope it is about (as in `Scope.name`); "": any of the system's.
    scope: Callable[[Any], str] = lambda body: ""
    # Every sync reads all of its scopes, whatever the deliveries name (Jira: its keys name
    # records in every system, and a run knows every key only after reading every project).
    every_scope: bool = False
    # body -> the item whose comment list a person changed, where the system's incremental
    # read would not show it (Notion: a comment does not move the page); "": none.
    comments: Callable[[Any], str] = lambda body: ""
    # (body, our account there, the labels we manage) -> whether the delivery is the echo of
    # one of our own writes: our comment or our label, changed by our account. Anything
    # else (a person's change, or another change made with our token) is not.
    echo: Callable[[Any, str, frozenset[str]], bool] = lambda body, me, labels: False
    us: Callable[[Any], str] = lambda connector: ""  # connector -> our own account there


@dataclass(frozen=True)
class SystemSpec:
    """One system: its settings section, connector, scopes, comment format, annotations,
    write budget, doctor checks and what `init` asks of it."""

    name: str  # as in Scope.system, SourceItem.system and `--only`
    display: str  # as people write it: "GitHub"
    # Its settings section (anything with `url` and `token`); None: the system is off.
    section: Callable[[Settings], Any]
    scopes: Callable[[Settings], list[Scope]]
    # Opens its connector from settings and the token (a request or two); raises on failure.
    open: Callable[[Settings, str, RetryPolicy], Connector]
    comment_format: Callable[[PlanConfig], Format]
    budget: Budget
    annotations: frozenset[Annotation] = frozenset()
    wanted: str = ""  # what a config adds to give it scopes: "[github] repos"
    token_help: str = ""  # where a refused token comes from
    # Doctor: reads only; returns a `sync.commands.doctor_checks.Reached`.
    # None: no checks of its own.
    doctor: Callable[[Settings, RetryPolicy], Any] | None = None
    # Its account list says whether each account is active (doctor compares [[people]] active).
    reports_active: bool = False
    # The handles a comment may mention (a regular expression); "": never mention anyone.
    handle: str = ""
    # Demo: (sandbox, its logged writes, a write token) -> (system, item, our comment as a
    # person sees it, read back through its API), or None when nothing was written there.
    demo_sample: Callable[[Any, Any, str], tuple[str, str, str] | None] | None = None
    # Init: reads what `handoff init` offers to map, given (answers, found, token): it fills
    # `sync.commands.init.Found` in place. None: init discovers nothing there.
    discover: Callable[[Any, Any, str], None] | None = None
    # `handoff serve`: its signed webhooks; None: it sends none.
    webhook: WebhookSpec | None = None
    # `handoff webhooks register` and doctor: (settings, policy, public_url, mode "check" |
    # "dry-run" | "apply") -> `sync.systems.hooks.HookResult`s. None: no registration API.
    hooks: Callable[[Settings, RetryPolicy, str, str], list[Any]] | None = None
    # A system without one: (its address) -> the steps a person takes in its settings.
    hook_steps: Callable[[str], list[str]] | None = None

    def mentions(self, handle: str) -> bool:
        """Whether a comment may mention `handle` (else it shows the person's plain name)."""
        return bool(self.handle) and re.fullmatch(self.handle, handle) is not None

    def supports(self, annotation: Annotation) -> bool:
        return annotation in self.annotations

    def token(self, settings: Settings) -> str:
        """Its token, or a ConfigError saying where to put it."""
        from connectors.errors import ConfigError

        secret = getattr(self.section(settings), "token", None)
        if secret is None or not secret.get_secret_value():
            raise ConfigError(
                f"[{self.name}] token is not set: put it in HANDOFF_{self.name.upper()}__TOKEN "
                f"(or [{self.name}] token in the config file)."
            )
        return str(secret.get_secret_value())

    def url(self, settings: Settings) -> str:
        return str(getattr(self.section(settings), "url", ""))
