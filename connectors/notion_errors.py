"""Notion's failures as the project's errors, each with what to do about it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
from notion_client import APIResponseError
from notion_client.errors import RequestTimeoutError, UnknownHTTPResponseError

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

__all__ = ["LISTING", "translate"]

# The integration capability a 403 restricted_resource points at, per kind of call.
_CAPABILITY = {
    "read": "Read content",
    "comments.read": "Read comments",
    "users": "Read user information",
    "comment.create": "Insert comments",
    "comment.update": "Insert comments",
    "comment.delete": "Insert comments",
    "property.set": "Update content",
    "page.publish": "Insert content",
}

LISTING = {
    "read": "the query of the data source (POST /v1/data_sources/…/query)",
    "comments.read": "the comment list (GET /v1/comments)",
    "users": "the user list (GET /v1/users)",
}

# Notion's codes, for an answer whose status alone does not say (409 conflict: try again).
_BY_CODE: dict[str, type[ConnectorError]] = {
    "unauthorized": AuthError,
    "restricted_resource": AuthError,
    "object_not_found": NotFound,
    "rate_limited": RateLimited,
    "conflict_error": TransientError,
}


def translate(exc: Exception, *, scope: str, what: str, item_id: str = "",
              prop: str = "") -> ConnectorError:
    """One SDK or transport failure as the project's error, with what to do about it; an
    exception it does not know is a bug and is re-raised as is."""
    kw: dict[str, Any] = {"system": "notion", "scope": scope}
    where = f" on page {item_id}" if item_id else ""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, UnknownHTTPResponseError) and 300 <= exc.status < 400:
        # httpx follows no redirect: Notion's API never sends one, so it is not Notion answering.
        location = exc.headers.get("location") if exc.headers is not None else None
        target = urlsplit(str(location or "")).hostname or "an unknown place"
        return BadAnswer(f"{LISTING.get(what, what)} was redirected ({exc.status}) to "
                         f"{target}: nothing was read from it; check [notion] url",
                         status=exc.status, **kw)
    if isinstance(exc, APIResponseError | UnknownHTTPResponseError):
        return _from_answer(exc, kw, what=what, where=where, item_id=item_id, prop=prop)
    if isinstance(exc, RequestTimeoutError | httpx.TimeoutException):
        return TransientError(f"Notion did not answer in time{where}; try again later", **kw)
    if isinstance(exc, httpx.TransportError):
        return TransientError(f"the connection to Notion failed{where} ({type(exc).__name__}); "
                              "check the network and the base URL", internal=str(exc), **kw)
    if isinstance(exc, ValueError):  # a whole body that is not JSON: empty, HTML, text
        return BadAnswer(f"Notion's answer{where} for {LISTING.get(what, what)} is not JSON "
                         "(an empty body or an HTML page), not a valid answer: nothing was read "
                         "from it; check [notion] url", internal=str(exc)[:200], **kw)
    raise exc


def _from_answer(exc: APIResponseError | UnknownHTTPResponseError, kw: dict[str, Any], *,
                 what: str, where: str, item_id: str, prop: str) -> ConnectorError:
    """A Notion error answer, placed by `for_status` like the other systems' answers."""
    status = exc.status
    code = str(getattr(getattr(exc, "code", ""), "value", getattr(exc, "code", "")))
    body = exc.body[:200] if isinstance(exc, UnknownHTTPResponseError) else str(exc)
    kw.update(status=status, internal=f"{status} {code}: {body}".replace(" :", ":"))
    label = f"{status} {code}".strip()
    cls = for_status(status) or _BY_CODE.get(code)
    if cls is RateLimited:
        return RateLimited(f"rate limited ({status}); slow down or retry later",
                           retry_after=_retry_after(exc.headers), **kw)
    if cls is AuthError and status == 401:
        return AuthError(f"the token was rejected ({label}); set a valid internal integration "
                         "secret", **kw)
    if cls is AuthError:
        cap = _CAPABILITY.get(what, "Read content")
        return AuthError(f"the integration lacks a capability{where} ({label}); enable "
                         f"\"{cap}\" in the integration's capabilities", **kw)
    if cls is NotFound:
        return NotFound(f"not found{where} ({label}): check the id and share the database "
                        "with the integration (••• → Connections)", **kw)
    if cls is TransientError:
        return TransientError(f"Notion failed{where} ({label}); try again later", **kw)
    if code == "validation_error" and item_id:
        name = f"property {prop!r}" if prop else what
        return ItemError(f"Notion refused {name}{where}: {exc}", item_id=item_id, **kw)
    return ConnectorError(f"Notion refused the request ({label}): {body}", **kw)


def _retry_after(headers: Any) -> float | None:
    try:
        return float(headers.get("retry-after")) if headers is not None else None
    except (TypeError, ValueError):
        return None
