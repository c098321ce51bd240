"""The project's one exception tree; every message is written for the person who must act.

    HandoffSyncError
    ├── ConfigError                  fix the config file or environment (exit 2)
    ├── ConnectorError(system, scope)
    │   ├── AuthError                token rejected or lacks a permission (exit 2)
    │   ├── NotFound                 a configured scope, field or item does not exist
    │   ├── RateLimited(retry_after) budget spent: stop the scope, keep its cursor
    │   ├── TransientError           5xx, timeout or dropped connection after retries
    │   ├── BadAnswer                an answer that is not valid for the request: never empty
    │   └── ItemError(item_id)       one item is malformed: skip it, list it in the report
    ├── StateError                   the state database is unusable
    ├── PlanError                    the planner was given something it cannot plan
    ├── Interrupted                  a signal cut a pause short; the call was not made
    └── LockHeld                     another run holds the lock (exit 3)

`for_status` is the one ladder from an HTTP status to a branch; each connector's `translate`
(connectors/<system>_errors.py) climbs it the same way: a timeout or dropped connection is a
TransientError, and an exception none of them knows is a bug, re-raised as is and never retried.

The root lives here, in the bottom layer, so connectors can raise it; `sync` subclasses it.
`str(error)` is the message for people; `internal` keeps detail for logs. Both are scrubbed of
registered secrets so a token can never reach a terminal, log line or report.
"""

from __future__ import annotations

import base64
import re
import threading
from urllib.parse import quote, quote_plus

__all__ = [
    "AuthError",
    "BadAnswer",
    "ConfigError",
    "ConnectorError",
    "HandoffSyncError",
    "Interrupted",
    "ItemError",
    "LockHeld",
    "NotFound",
    "PlanError",
    "RateLimited",
    "StateError",
    "TransientError",
    "for_status",
    "register_secret",
    "scrub",
]

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_REDACTED = "***"
# Tokens that look like credentials even when nobody registered them.
_TOKEN_SHAPES = re.compile(
    r"(?i)(authorization:\s*(?:token|bearer|basic)\s+)\S+|"
    r"\b(ghp_|gho_|ghs_|github_pat_|secret_|ntn_)[A-Za-z0-9_]{6,}"
)


def register_secret(value: str | None) -> None:
    """Remember a secret so that `scrub` removes it from any text shown to people."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def _encodings(secret: str) -> tuple[set[str], set[str]]:
    """The secret as servers echo it: (plain and percent-encoded forms, base64 cores). In
    Basic auth it sits inside base64(`email:token`): each alignment's stable middle is enough."""
    plain = {secret, quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)}
    plain.add(quote(secret, safe="").replace("%", "%25"))  # encoded twice
    cores: set[str] = set()
    raw = secret.encode()
    for pad in range(3):
        enc = base64.b64encode(b"\0" * pad + raw).decode().rstrip("=")
        # Drop the characters that mix in bytes before or after the secret.
        core = enc[4 if pad else 0 : len(enc) - 4]
        if len(core) >= 8:
            cores.update({core, core.replace("+", "-").replace("/", "_")})
    return {p for p in plain if len(p) >= 4}, cores


_B64_RUN = "[A-Za-z0-9+/_=-]*"


def scrub(text: str) -> str:
    """Replace every registered secret and every token-shaped string in `text`, also when a
    server echoed it base64- or URL-encoded (the whole base64 run goes)."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        plain, cores = _encodings(secret)
        for form in sorted(plain, key=len, reverse=True):
            text = text.replace(form, _REDACTED)
        for core in cores:
            if core in text:
                text = re.sub(_B64_RUN + re.escape(core) + _B64_RUN, _REDACTED, text)
            quoted = quote(core, safe="")
            if quoted != core and quoted in text:
                text = re.sub("[A-Za-z0-9%_.-]*" + re.escape(quoted) + "[A-Za-z0-9%_.-]*",
                              _REDACTED, text)
    return _TOKEN_SHAPES.sub(
        lambda m: (m.group(1) or "") + _REDACTED if m.group(1) else _REDACTED, text
    )


class HandoffSyncError(Exception):
    """Root of every error this project raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, internal: str = "") -> None:
        self.message = scrub(message)
        self.internal = scrub(internal)
        super().__init__(self.message)


class ConfigError(HandoffSyncError):
    """The configuration is missing, malformed or names something that does not exist."""

    exit_code = 2


class ConnectorError(HandoffSyncError):
    """A call to Jira, GitHub or Notion failed; says which system and scope."""

    def __init__(
        self,
        message: str,
        *,
        system: str,
        scope: str = "",
        url: str = "",
        status: int | None = None,
        internal: str = "",
    ) -> None:
        self.system = system
        self.scope = scope
        self.url = scrub(url)
        self.status = status
        where = f"{system}" + (f" ({scope})" if scope else "")
        super().__init__(f"{where}: {message}", internal=internal)


class AuthError(ConnectorError):
    """The token was rejected or lacks a permission the run needs."""

    exit_code = 2


class NotFound(ConnectorError):
    """A configured project, repository, database, field or item does not exist or is hidden."""


class RateLimited(ConnectorError):
    """The service's budget is spent; the scope stops and keeps its cursor."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)  # type: ignore[arg-type]


class TransientError(ConnectorError):
    """A 5xx, timeout or dropped connection that outlasted the retry policy."""


class BadAnswer(ConnectorError):
    """A 2xx answer that is not a valid answer for the request (an empty body, `{}`, an HTML
    page, a JSON shape without the list, a redirect off the configured host, pagination that
    loops or runs past its total): an error for the scope, never an empty result."""


class ItemError(ConnectorError):
    """One item could not be read or written; the run skips it and reports it."""

    def __init__(self, message: str, *, item_id: str, **kw: object) -> None:
        self.item_id = item_id
        super().__init__(message, **kw)  # type: ignore[arg-type]


class StateError(HandoffSyncError):
    """The state database cannot be opened, migrated or written."""


class PlanError(HandoffSyncError):
    """The planner was asked to plan something it cannot express."""


class Interrupted(HandoffSyncError):
    """A signal cut short a wait (a rate-limit pause, a retry's backoff): the call that was
    waiting was not made, so its write counts as not attempted and the next run sends it."""


class LockHeld(HandoffSyncError):
    """Another run holds the lock; this one exits without doing anything."""

    exit_code = 3


def for_status(status: int) -> type[ConnectorError] | None:
    """The branch every connector gives an HTTP error status; None leaves it to the connector
    (a 400 or 409 is about the request: an ItemError for one item, else a ConnectorError)."""
    if status in (401, 403):
        return AuthError
    if status in (404, 410):  # 410: the item existed and was deleted; the fix is the same
        return NotFound
    if status == 429:
        return RateLimited
    if status >= 500:
        return TransientError
    return None
