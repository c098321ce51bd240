"""The one way the Jira connector talks to Jira: the client, its retry policy, its account.

`open_client` turns the client's own retries off so `call_with_retry` alone decides; every
request goes through `JiraSession._call`, which turns client errors into our tree.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from jira import JIRA

from ._answers import ServerClock, check_redirect, need_dict
from ._retry import RetryPolicy, call_with_retry
from .constants import Remembers
from .errors import register_secret
from .gate import Gated, gate_requests
from .jira_errors import translate as _translate

__all__ = ["MAX_PAGES", "OVERLAP", "JiraSession", "open_client"]

T = TypeVar("T")

MAX_PAGES = 100_000  # a loop guard: 10 million issues per scope
OVERLAP = timedelta(minutes=2)


def open_client(
    url: str, email: str, token: str, *, api_version: int = 2, timeout: float = 30.0
) -> JIRA:
    """A `JIRA` client with its own retries off and a timeout, so one policy decides."""
    register_secret(token)
    register_secret(f"{email}:{token}")  # as Basic auth sends it, base64-encoded
    try:
        return JIRA(
            server=url,
            basic_auth=(email, token),
            options={"rest_api_version": str(api_version), "check_update": False},
            max_retries=0,
            timeout=timeout,
            get_server_info=True,  # Cloud's deploymentType makes the client use /search/jql
        )
    except Exception as exc:  # the constructor already calls serverInfo
        raise _translate(exc, site=url, email=email, what="the Jira site") from exc


class JiraSession(Gated, Remembers):
    """A Jira client with the connector's settings, its clock and its one call path."""

    system = "jira"

    def __init__(
        self,
        client: JIRA,
        *,
        api_version: int = 2,
        custom_fields: Sequence[str] = (),
        optional_custom_fields: Sequence[str] = (),
        policy: RetryPolicy | None = None,
        page_size: int = 100,
        properties: Sequence[str] = (),
        overlap: timedelta = OVERLAP,
        email: str = "",
    ) -> None:
        self.client = client
        self.api_version = api_version
        self.custom_fields = tuple(custom_fields)
        # Names the default field maps try: used where the site has them, skipped otherwise,
        # so a fresh Jira works before anyone creates "Hypothesis" or "Cost cap" fields.
        self.optional_custom_fields = tuple(
            n for n in optional_custom_fields if n not in self.custom_fields
        )
        self.policy = policy or RetryPolicy()
        self.page_size = max(1, min(page_size, 100))  # /search/jql caps pages with fields at 100
        self.properties = tuple(properties)
        self.overlap = overlap
        self.site = client.server_url
        auth = getattr(client._session, "auth", None)
        self.email = email or (auth[0] if isinstance(auth, tuple) else "")
        self._custom: dict[str, str] | None = None  # field id -> display name
        self._me: dict[str, Any] | None = None
        self._once = threading.RLock()  # guards the answers asked once per connector
        self.clock = ServerClock()
        hooks = client._session.hooks.setdefault("response", [])
        hooks.extend([self.clock.hook(), self._off_host])
        gate_requests(client._session, self._before)

    def _off_host(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        """A redirect away from the configured site is an error, never followed."""
        if response.is_redirect:
            what = f"the request {response.request.method} {response.request.path_url}"
            check_redirect(self.site, response.headers.get("Location"), system="jira", what=what)
        return response

    def server_time(self) -> datetime | None:
        """Jira's clock, from the Date header of its latest answer."""
        return self.clock.latest

    # -- the one way to call Jira ----------------------------------------------------------
    def _call(
        self,
        fn: Callable[[], T],
        *,
        scope: str = "",
        what: str = "",
        item_id: str = "",
        idempotent: bool = True,
    ) -> T:
        def attempt() -> T:
            try:
                return fn()
            except Exception as exc:
                raise _translate(
                    exc, site=self.site, email=self.email, what=what, scope=scope, item_id=item_id
                ) from exc

        return call_with_retry(attempt, self.policy, idempotent=idempotent)

    def me(self) -> str:
        """The token's own accountId (asked once)."""
        return str(self._myself().get("accountId") or "")

    def _myself(self) -> dict[str, Any]:
        with self._once:  # scopes pull side by side: ask once, not once per thread
            return self._ask_myself()

    def _ask_myself(self) -> dict[str, Any]:
        if self._me is None:
            what = "the token's own account (/myself)"

            def check(me: Any) -> dict[str, Any]:
                return need_dict(me, ("accountId",), system="jira", scope="", what=what)

            self._me = self._constant(
                "myself", lambda: check(self._call(lambda: self.client._get_json("myself"),
                                                   what=what)), check
            )
        return self._me
