"""Jira's failures as the project's errors, each with a message that says the fix."""

from __future__ import annotations

from typing import Any

import requests
from jira import JIRAError

from .errors import (
    BadAnswer,
    ConnectorError,
    ItemError,
    NotFound,
    RateLimited,
    TransientError,
    for_status,
)

__all__ = ["translate"]


def translate(
    exc: BaseException,
    *,
    site: str,
    email: str,
    what: str = "",
    scope: str = "",
    item_id: str = "",
) -> ConnectorError:
    """One SDK or transport failure as the project's error, with a message that says the fix;
    an exception it does not know is a bug and is re-raised as is."""
    where: dict[str, Any] = {"system": "jira", "scope": scope, "url": site}
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, JIRAError):
        return _from_answer(exc, where, email=email, what=what, item_id=item_id)
    return _from_transport(exc, where, what or site)


def _from_answer(
    exc: JIRAError, where: dict[str, Any], *, email: str, what: str, item_id: str
) -> ConnectorError:
    """A Jira error answer, placed by `for_status` like the other systems' answers."""
    status = exc.status_code or 0
    text = _jira_message(exc)
    url = exc.url or where["url"]
    site, target, account = where["url"], what or url, email or "the account"
    kw = dict(where, url=url, status=status, internal=f"{status} {url}: {text}")
    if status == 400 and "does not exist for the field 'project'" in text:
        return NotFound(
            f"{text} Check [jira] projects: the key must exist and be visible to {account}", **kw
        )
    messages = {
        401: f"Jira rejected the token for {email or 'the configured account'} at {site}: "
        "check [jira] email and token (an Atlassian API token of that account)",
        403: f"the account {email or ''} may not do this on {target}: Jira says {text!r}; "
        "grant it that permission in the project's permission scheme",
        404: f"{target} was not found: it was deleted or {account} can no longer see it "
        "(Jira answers both the same way)",
        429: f"Jira's rate limit was reached while reading {target}",
    }
    cls = for_status(status) if status else TransientError  # 0: no answer came at all
    message = messages.get(status, messages[404] if cls is NotFound else "")
    if cls is RateLimited:
        return RateLimited(message, retry_after=_retry_after(exc), **kw)
    if cls is not None:
        return cls(message or f"Jira answered {status} for {target}", **kw)
    if item_id:
        return ItemError(f"Jira refused the change to {what}: {text}", item_id=item_id, **kw)
    return ConnectorError(f"Jira answered {status} for {target}: {text}", **kw)


def _from_transport(exc: BaseException, where: dict[str, Any], target: str) -> ConnectorError:
    """A request that got no usable answer; anything else is a bug and goes up unchanged."""
    if isinstance(exc, requests.exceptions.Timeout):
        return TransientError(f"Jira did not answer in time for {target}", **where)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return TransientError(
            f"the connection to Jira dropped while reading {target}", internal=repr(exc), **where
        )
    # A body cut short: fewer bytes than Content-Length.
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return TransientError(
            f"Jira sent an incomplete answer for {target}", internal=repr(exc), **where
        )
    if isinstance(exc, ValueError):  # a whole body that is not JSON: an HTML page, text
        return BadAnswer(
            f"{target} came back as a page that is not JSON (HTML or text), not a valid "
            "answer: nothing was read from it; check [jira] url (the site, not a login or "
            "proxy page)",
            internal=repr(exc),
            **where,
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return TransientError(f"the request to Jira failed for {target}", **where)
    raise exc


def _jira_message(exc: JIRAError) -> str:
    text = str(exc.text or "")
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            body = response.json()
        except ValueError:
            return response.text[:300] if response.text else text
        if isinstance(body, dict):
            parts = list(body.get("errorMessages") or []) + [
                f"{k}: {v}" for k, v in (body.get("errors") or {}).items()
            ]
            if parts:
                return "; ".join(str(p) for p in parts)
    return text


def _retry_after(exc: JIRAError) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
