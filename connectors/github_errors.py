"""GitHub's failures as the project's errors, each with what to do about it."""

from __future__ import annotations

import json
import time
from typing import Any

import requests
from github import GithubException

from .errors import (
    AuthError,
    BadAnswer,
    ConnectorError,
    ItemError,
    NotFound,
    RateLimited,
    TransientError,
    for_status,
)

__all__ = ["header", "is_json", "message", "translate"]


def message(e: GithubException) -> str:
    data = e.data if isinstance(e.data, dict) else {}
    return str(data.get("message") or e.message or "")


def header(headers: Any, name: str) -> str | None:
    for k, v in dict(headers or {}).items():
        if k.lower() == name.lower():
            return str(v)
    return None


def is_json(headers: Any) -> bool:
    ctype = header(headers, "Content-Type")
    return ctype is None or "json" in ctype.lower()


def translate(e: Exception, scope: str, permission: str, item_id: str = "") -> ConnectorError:
    """A PyGithub or requests failure as the project's error, with what to do about it; an
    exception it does not know is a bug and is re-raised as is."""
    kw: dict[str, Any] = {"system": "github", "scope": scope}
    if isinstance(e, ConnectorError):
        return e
    if isinstance(e, RuntimeError | AssertionError):  # PyGithub: a redirect or link off-host
        return BadAnswer(
            f"GitHub's answer pointed to another host or protocol than the configured API "
            f"({e}): nothing was read from it; check [github] url",
            **kw,
        )
    if isinstance(e, GithubException):
        return _from_answer(e, kw, scope=scope, permission=permission, item_id=item_id)
    if isinstance(e, requests.Timeout):
        return TransientError("GitHub did not answer in time (timeout)", **kw)
    if isinstance(e, requests.exceptions.RetryError):
        return TransientError("GitHub kept failing (server errors)", **kw)
    if isinstance(e, requests.exceptions.ChunkedEncodingError | json.JSONDecodeError):
        return TransientError("GitHub's answer was cut off", internal=str(e), **kw)
    if isinstance(e, requests.ConnectionError):
        return TransientError("the connection to GitHub failed or was dropped", **kw)
    if isinstance(e, requests.RequestException):
        return TransientError(f"request to GitHub failed ({type(e).__name__})", **kw)
    raise e


def _from_answer(
    e: GithubException, kw: dict[str, Any], *, scope: str, permission: str, item_id: str
) -> ConnectorError:
    """A GitHub error answer, placed by `for_status` like the other systems' answers."""
    status, msg = e.status, message(e)
    kw.update(status=status, internal=f"{status} {msg}")
    # GitHub's secondary rate limit answers 403 with "rate limit" in the message.
    cls = RateLimited if status == 403 and "rate limit" in msg.lower() else for_status(status)
    if cls is RateLimited:
        return RateLimited(
            f"rate limit reached ({msg}); the scope resumes on the next run",
            retry_after=_retry_after(e.headers),
            **kw,
        )
    if status == 401:
        return AuthError(
            "the token was rejected (401 Bad credentials): set a valid GitHub token in the config",
            **kw,
        )
    if cls is AuthError and "not accessible" in msg.lower():
        return AuthError(f"{msg}: the token needs the permission '{permission}' on {scope}", **kw)
    if cls is AuthError:
        return AuthError(f"forbidden ({msg}): the token needs '{permission}' on {scope}", **kw)
    if cls is NotFound:
        what = f"item {item_id}" if item_id else f"repository {scope}"
        return NotFound(f"{what} does not exist or this token cannot see it ({msg})", **kw)
    if cls is TransientError:
        return TransientError(f"GitHub answered {status} {msg}".rstrip(), **kw)
    if item_id:
        return ItemError(f"GitHub refused the write ({status} {msg})", item_id=item_id, **kw)
    return ConnectorError(f"GitHub answered {status} {msg}", **kw)


def _retry_after(headers: Any) -> float | None:
    """Retry-After when given, else the wait until X-RateLimit-Reset, else GitHub's 60 s."""
    retry_after = header(headers, "Retry-After")
    if retry_after and retry_after.strip().isdigit():
        return float(retry_after)
    reset = header(headers, "X-RateLimit-Reset")
    if header(headers, "X-RateLimit-Remaining") == "0" and reset and reset.isdigit():
        return max(0.0, float(reset) - time.time())
    return 60.0  # GitHub: without headers, wait at least a minute before a secondary retry
