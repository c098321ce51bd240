"""Jira's failures as the project's errors, each with a message that says the fix."""

from __future__ import annotations

from typing import Any

import requests
from jira import JIRAError

from .errors import (
    AuthError,
    BadAnswer,
    ConnectorError,
    ItemError,
    NotFound,
    RateLimited,
    TransientError,
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
    """One SDK or transport failure as the project's error, with a message that says the fix."""
    where: dict[str, Any] = {"system": "jira", "scope": scope, "url": site}
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, JIRAError):
        status = exc.status_code or 0
        text = _jira_message(exc)
        url = exc.url or site
        where["url"] = url
        internal = f"{status} {url}: {text}"
        if status == 401:
            return AuthError(
                f"Jira rejected the token for {email or 'the configured account'} at {site}: "
                "check [jira] email and token (an Atlassian API token of that account)",
                status=status,
                internal=internal,
                **where,
            )
        if status == 403:
            return AuthError(
                f"the account {email or ''} may not do this on {what or url}: Jira says "
                f"{text!r}; grant it that permission in the project's permission scheme",
                status=status,
                internal=internal,
                **where,
            )
        if status == 404:
            return NotFound(
                f"{what or url} was not found: it was deleted or {email or 'the account'} can "
                "no longer see it (Jira answers both the same way)",
                status=status,
                internal=internal,
                **where,
            )
        if status == 400 and "does not exist for the field 'project'" in text:
            return NotFound(
                f"{text} Check [jira] projects: the key must exist and be visible to "
                f"{email or 'the account'}",
                status=status,
                internal=internal,
                **where,
            )
        if status == 429:
            return RateLimited(
                f"Jira's rate limit was reached while reading {what or url}",
                retry_after=_retry_after(exc),
                status=status,
                internal=internal,
                **where,
            )
        if status >= 500 or status == 0:
            return TransientError(
                f"Jira answered {status} for {what or url}",
                status=status,
                internal=internal,
                **where,
            )
        if item_id:
            return ItemError(
                f"Jira refused the change to {what}: {text}",
                item_id=item_id,
                status=status,
                internal=internal,
                **where,
            )
        return ConnectorError(
            f"Jira answered {status} for {what or url}: {text}",
            status=status,
            internal=internal,
            **where,
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return TransientError(f"Jira did not answer in time for {what or site}", **where)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return TransientError(
            f"the connection to Jira dropped while reading {what or site}",
            internal=repr(exc),
            **where,
        )
    # A body cut short: fewer bytes than Content-Length.
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return TransientError(
            f"Jira sent an incomplete answer for {what or site}", internal=repr(exc), **where
        )
    if isinstance(exc, ValueError):  # a whole body that is not JSON: an HTML page, text
        return BadAnswer(
            f"{what or site} came back as a page that is not JSON (HTML or text), not a valid "
            "answer: nothing was read from it; check [jira] url (the site, not a login or "
            "proxy page)",
            internal=repr(exc),
            **where,
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return TransientError(f"the request to Jira failed for {what or site}", **where)
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
