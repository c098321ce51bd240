"""Is an answer valid for the request that got it? Checked where each page is received.

An empty body, `{}`, an HTML page, a JSON shape without the list, entries that are not
objects, a redirect to another host than the configured one, or pagination that cycles: each
is a `BadAnswer` for the scope (or an `ItemError` for one item's comments), never an empty
result, so nothing is ever written from what was not read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from .errors import BadAnswer, ConnectorError, ItemError

__all__ = [
    "PageTokens",
    "ServerClock",
    "check_redirect",
    "date_header",
    "describe",
    "entries",
    "for_item",
    "need_dict",
    "off_host",
]

FIX = "check the configured URL, proxies or the service's status page, then run again"


def describe(data: Any) -> str:
    """What came back, in a few words, for a message (never the body itself: it may echo a
    token)."""
    if data is None or data == "" or data == b"":
        return "an empty body"
    if data == {}:
        return "an empty JSON object ({})"
    if isinstance(data, dict) and isinstance(data.get("data"), str):
        return "a page that is not JSON (HTML or text)"  # PyGithub's wrapping of non-JSON
    if isinstance(data, dict):
        keys = ", ".join(sorted(str(k) for k in data)[:6])
        return f"a JSON object with only {keys}"
    if isinstance(data, list):
        return f"a JSON list of {len(data)}"
    if isinstance(data, str | bytes):
        return "a page that is not JSON (HTML or text)"
    return f"a JSON {type(data).__name__}"


def bad(system: str, scope: str, what: str, got: str, *, item_id: str = "") -> ConnectorError:
    """The error for an answer that is not valid for the request."""
    msg = f"{what} came back as {got}, not a valid answer: nothing was read from it; {FIX}"
    if item_id:
        return ItemError(msg, item_id=item_id, system=system, scope=scope)
    return BadAnswer(msg, system=system, scope=scope)


def need_dict(
    data: Any, keys: tuple[str, ...], *, system: str, scope: str, what: str, item_id: str = ""
) -> dict[str, Any]:
    """`data` as a JSON object carrying every key in `keys`."""
    if not isinstance(data, dict) or any(k not in data for k in keys):
        raise _bad(system, scope, what, data, item_id)
    return data


def entries(
    data: Any,
    key: str | None,
    *,
    system: str,
    scope: str,
    what: str,
    item_id: str = "",
    require: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """The list under `key` (or `data` itself when key is None); each entry an object with
    the `require`d keys."""
    found = data.get(key) if key is not None and isinstance(data, dict) else data
    if key is not None and not isinstance(data, dict):
        found = None
    if not isinstance(found, list):
        raise _bad(system, scope, what, data, item_id)
    for entry in found:
        if not isinstance(entry, dict) or any(entry.get(k) in (None, "") for k in require):
            got = "a list with an entry that is not a complete object"
            if isinstance(entry, dict):
                missing = [k for k in require if entry.get(k) in (None, "")]
                got = f"a list with an entry missing {', '.join(missing)}"
            raise bad(system, scope, what, got, item_id=item_id)
    return found


def for_item(exc: BadAnswer, item_id: str) -> ItemError:
    """A bad answer while reading one item's comments: an error for that item only."""
    return ItemError(exc.message.split(": ", 1)[-1], item_id=item_id, system=exc.system,
                     scope=exc.scope, status=exc.status, internal=exc.internal)


def _bad(system: str, scope: str, what: str, data: Any, item_id: str) -> ConnectorError:
    return bad(system, scope, what, describe(data), item_id=item_id)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def off_host(configured: str, url: str) -> bool:
    """Whether `url` (absolute, or relative to `configured`) leaves the configured origin."""
    return _origin(urljoin(configured, url)) != _origin(configured)


def check_redirect(
    configured: str, location: str | None, *, system: str, scope: str = "", what: str = ""
) -> None:
    """A redirect to another host than the configured one is an error, never followed."""
    if location is not None and off_host(configured, location):
        target = _origin(urljoin(configured, location))[1] or "an unknown host"
        raise BadAnswer(
            f"{what or 'a request'} was redirected to another host ({target}) than the "
            f"configured {configured}: nothing was read from it; check the configured URL",
            system=system,
            scope=scope,
        )


class PageTokens:
    """The page tokens (or next URLs) of one listing: a token seen twice is a cycle."""

    def __init__(self, system: str, scope: str, what: str) -> None:
        self.seen: set[str] = set()
        self.system, self.scope, self.what = system, scope, what

    def add(self, token: str) -> None:
        if token in self.seen:
            raise BadAnswer(
                f"the pages of {self.what} cycle (a page token came back a second time after "
                f"{len(self.seen)} pages); stopping rather than looping: {FIX}",
                system=self.system,
                scope=self.scope,
            )
        self.seen.add(token)


def date_header(headers: Any) -> datetime | None:
    """The time an answer's `Date` header gives (UTC, to the second), or None."""
    value = None
    if headers is not None:
        value = headers.get("Date") or headers.get("date")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


class ServerClock:
    """The service's clock, from the `Date` header of its latest answer."""

    def __init__(self) -> None:
        self.latest: datetime | None = None

    def saw(self, headers: Any) -> None:
        when = date_header(headers)
        if when is not None:
            self.latest = when

    def hook(self) -> Callable[..., Any]:
        """A requests response hook that records the clock."""

        def record(response: Any, *args: Any, **kwargs: Any) -> Any:
            self.saw(response.headers)
            return response

        return record
