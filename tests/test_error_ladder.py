"""The three connectors climb one error ladder: the same failure gives the same error class."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import requests
from github import GithubException
from jira import JIRAError
from notion_client import APIResponseError
from notion_client.errors import UnknownHTTPResponseError

from connectors import github_errors, jira_errors, notion_errors
from connectors._retry import FAST_POLICY, call_with_retry
from connectors.errors import (
    AuthError,
    ConnectorError,
    NotFound,
    RateLimited,
    TransientError,
)


class Surprise(Exception):
    """An exception no translate knows: a bug in our code or the SDK's."""


# The codes Notion sends with these statuses; any other status reaches us as an unknown answer.
_NOTION_CODES = {401: "unauthorized", 403: "restricted_resource", 404: "object_not_found",
                 429: "rate_limited", 500: "internal_server_error", 503: "service_unavailable"}


def jira_answer(status: int) -> Exception:
    response = requests.Response()
    response.status_code = status
    response.headers["Retry-After"] = "7"
    response._content = b'{"errorMessages": ["no"]}'
    return JIRAError("no", status_code=status, url="https://x.test/rest", response=response)


def github_answer(status: int) -> Exception:
    return GithubException(status, {"message": "no"}, {"Retry-After": "7"})


def notion_answer(status: int) -> Exception:
    headers = httpx.Headers({"retry-after": "7"})
    if status in _NOTION_CODES:
        return APIResponseError(_NOTION_CODES[status], status, "no", headers, "{}")
    return UnknownHTTPResponseError(status, "no", headers, "<html>")


def jira(exc: Exception) -> ConnectorError:
    return jira_errors.translate(exc, site="https://x.test", email="a@x.test", what="PROJ-1")


def github(exc: Exception) -> ConnectorError:
    return github_errors.translate(exc, "acme/web", "Issues: read")


def notion(exc: Exception) -> ConnectorError:
    return notion_errors.translate(exc, scope="db", what="read")


Answer = Callable[[int], Exception]
SYSTEMS: dict[str, tuple[Callable[[Exception], ConnectorError], Answer, Exception, Exception]] = {
    "jira": (jira, jira_answer, requests.exceptions.ReadTimeout("read timed out"),
             requests.exceptions.ConnectionError(ConnectionRefusedError(111, "refused"))),
    "github": (github, github_answer, requests.exceptions.ReadTimeout("read timed out"),
               requests.exceptions.ConnectionError(ConnectionRefusedError(111, "refused"))),
    "notion": (notion, notion_answer, httpx.ReadTimeout("read timed out"),
               httpx.ConnectError("[Errno 111] Connection refused")),
}

STATUSES = [(401, AuthError), (403, AuthError), (404, NotFound), (410, NotFound),
            (429, RateLimited), (500, TransientError), (502, TransientError),
            (503, TransientError)]


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize(("status", "expected"), STATUSES)
def test_an_error_status_gives_the_same_class_in_every_system(
    system: str, status: int, expected: type[ConnectorError]
) -> None:
    translate, answer, _, _ = SYSTEMS[system]
    error = translate(answer(status))
    assert type(error) is expected, f"{system} {status}: {error!r}"
    assert error.system == system and error.status == status
    if expected is RateLimited:
        assert isinstance(error, RateLimited) and error.retry_after == 7.0


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("case", ["timeout", "refused"])
def test_no_answer_is_transient_in_every_system(system: str, case: str) -> None:
    translate, _, timeout, refused = SYSTEMS[system]
    error = translate(timeout if case == "timeout" else refused)
    assert type(error) is TransientError


@pytest.mark.parametrize("system", SYSTEMS)
def test_an_unknown_exception_is_a_bug_raised_as_is_and_never_retried(system: str) -> None:
    translate = SYSTEMS[system][0]
    bug = Surprise("a bug")
    calls: list[int] = []

    def attempt() -> None:
        calls.append(1)
        try:
            raise bug
        except Exception as exc:  # what every connector's _call does
            raise translate(exc) from exc

    with pytest.raises(Surprise) as raised:
        call_with_retry(attempt, FAST_POLICY, sleep=lambda _: None)
    assert raised.value is bug
    assert calls == [1]


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_transient_failure_is_retried_in_every_system(system: str) -> None:
    translate, answer, _, _ = SYSTEMS[system]
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise translate(answer(503))
        return "ok"

    assert call_with_retry(attempt, FAST_POLICY, sleep=lambda _: None) == "ok"
    assert len(calls) == 3
