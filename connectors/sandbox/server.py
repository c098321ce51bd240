"""The sandbox's core: one loopback server, routing to the three services, faults, a log.

Each service (Jira, GitHub, Notion) is a `Service` with its own routes, auth, error bodies and
rate limits; this module only carries requests to them and lets tests misbehave on purpose.
The HTTP side lives in http_handler, the fault shapes in faults, the request log's entries in
request_log.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import ThreadingHTTPServer
from typing import Any

from .faults import Fault, Injected
from .request_log import LoggedRequest

__all__ = [
    "ApiError",
    "Request",
    "Response",
    "Route",
    "SandboxServer",
    "Service",
]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Request:
    """One request as a service handler sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    access: str = ""  # "write" | "read", set by the service's authenticate()

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """Raised by handlers to answer with a service-shaped error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


Handler = Callable[..., Any]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


class Service:
    """Base for the three emulated services; subclasses fill in routes and behaviour."""

    name = ""
    prefix = ""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server

    def routes(self) -> Iterable[Route]:
        return ()

    def authenticate(self, req: Request) -> None:
        """Set req.access to "write" or "read", or raise ApiError with the service's 401."""
        req.access = "write"

    def error(self, status: int, message: str = "", req: Request | None = None) -> Response:
        """The service's own error body for a status (used by faults and the core)."""
        return Response(status, {"message": message or f"HTTP {status}"})

    def forbidden(self, req: Request) -> Response:
        """The answer to a write made with a read-only token."""
        return self.error(403, "forbidden", req)

    def is_write(self, req: Request) -> bool:
        return req.method in WRITE_METHODS

    def limit(self, req: Request, now: float) -> Response | None:
        """Rate limiting, only consulted when the sandbox has rate limits on."""
        return None

    def decorate(self, req: Request, resp: Response) -> Response:
        """Last touch on every answer (headers such as ETag or X-RateLimit-*)."""
        return resp


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Mark a Service method as the handler for `method pattern` (a full-path regex)."""

    def mark(fn: Handler) -> Handler:
        fn._route = (method, pattern)  # type: ignore[attr-defined]
        return fn

    return mark


def collect_routes(service: Service) -> list[Route]:
    """The routes declared on a service's methods with @route."""
    found = []
    for name in dir(type(service)):
        fn = getattr(service, name)
        spec = getattr(fn, "_route", None)
        if spec:
            found.append(Route(spec[0], re.compile(spec[1]), fn))
    return found


class SandboxServer:
    """A threaded HTTP server on 127.0.0.1 hosting registered services under their prefixes."""

    def __init__(self, port: int = 0) -> None:
        self.lock = threading.RLock()  # guards every service's state
        self.services: list[Service] = []
        self.latency = 0.0
        self.rate_limits = False
        self.clock_offset = timedelta(0)
        self._faults: list[Injected] = []
        self._arrived = {"read": 0, "write": 0}  # counted on arrival, before any fault
        self._log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self._stopping = threading.Event()
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.webhooks: Any = None  # a `webhooks.WebhookSender` once `send_webhooks` is called

    # -- lifecycle -------------------------------------------------------------------------
    def add(self, service: Service) -> None:
        self.services.append(service)

    def start(self) -> None:
        # Imported here: the handler builds this module's Request and Response, so it imports
        # this module, which must be complete first.
        from .http_handler import QuietServer, RequestHandler

        server = self

        class _Handler(RequestHandler):
            sandbox = server

        self._httpd = QuietServer(("127.0.0.1", self._port), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def send_webhooks(self, url: str, secrets: dict[str, str]) -> Any:
        """From now on, send each change as its service's signed webhook to `url`
        (`<url>/webhooks/<service>`), for the services given a secret (see `webhooks`)."""
        from .webhooks import WebhookSender

        if self.webhooks is not None:
            self.webhooks.stop()
        self.webhooks = WebhookSender(self, url, secrets)
        return self.webhooks

    def stop(self) -> None:
        if self.webhooks is not None:
            self.webhooks.stop()
        self._stopping.set()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        assert self._httpd is not None, "sandbox not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- clock -----------------------------------------------------------------------------
    def now(self) -> datetime:
        """The sandbox's idea of the time (UTC); tests move it with `advance`."""
        return datetime.now(UTC) + self.clock_offset

    def advance(self, delta: timedelta) -> None:
        self.clock_offset += delta

    # -- faults ----------------------------------------------------------------------------
    def inject(
        self, method: str, path: str, fault: Fault, times: int = 1, after: int = 0
    ) -> None:
        """The next `times` requests whose method and path (a regex searched in the path) match
        get `fault`, once `after` matching requests have passed untouched. method "*" matches
        any method, "WRITE" any request the service counts as a write."""
        with self.lock:
            self._faults.append(
                Injected(method.upper(), re.compile(path), fault, times, after)
            )

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def take_fault(self, method: str, path: str, write: bool) -> Fault | None:
        with self.lock:
            for inj in self._faults:
                wanted = inj.method in ("*", method) or (inj.method == "WRITE" and write)
                if inj.remaining > 0 and wanted and inj.pattern.search(path):
                    if inj.after > 0:
                        inj.after -= 1
                        continue
                    inj.remaining -= 1
                    return inj.fault
            self._faults = [f for f in self._faults if f.remaining > 0]
        return None

    # -- request log -----------------------------------------------------------------------
    def log(
        self, service: str | None = None, method: str | None = None, write: bool | None = None
    ) -> list[LoggedRequest]:
        """Requests received so far, optionally filtered."""
        with self._log_lock:
            entries = list(self._log)
        return [
            e
            for e in entries
            if (service is None or e.service == service)
            and (method is None or e.method == method.upper())
            and (write is None or e.write == write)
        ]

    def clear_log(self) -> None:
        with self._log_lock:
            self._log.clear()
            self._arrived = {"read": 0, "write": 0}

    def arrived(self, *, write: bool) -> int:
        """Requests that reached the server so far, answered or not (a hung one counts)."""
        with self._log_lock:
            return self._arrived["write" if write else "read"]

    def record(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            self._log.append(entry)

    def count_arrival(self, *, write: bool) -> None:
        """Count a request as it arrives, before any fault can swallow it."""
        with self._log_lock:
            self._arrived["write" if write else "read"] += 1

    def sleep(self, seconds: float) -> None:
        """Sleep that ends early when the server stops, so shutdown never hangs."""
        if seconds > 0:
            self._stopping.wait(seconds)

    # -- dispatch --------------------------------------------------------------------------
    def service_for(self, path: str) -> Service | None:
        for service in self.services:
            if path.startswith(service.prefix):
                return service
        return None

    def dispatch(self, service: Service, req: Request) -> Response:
        try:
            service.authenticate(req)
            if service.is_write(req) and req.access != "write":
                return service.forbidden(req)
            if self.rate_limits:
                limited = service.limit(req, time.monotonic())
                if limited is not None:
                    return limited
            for r in _routes_of(service):
                if r.method != req.method:
                    continue
                m = r.pattern.fullmatch(req.path)
                if m:
                    with self.lock:
                        result = r.handler(req, **m.groupdict())
                        resp = result if isinstance(result, Response) else Response(200, result)
                        if self.webhooks is not None and service.is_write(req):
                            self.webhooks.after_write(service, req, m.groupdict(), resp)
                    return resp
            if any(r.pattern.fullmatch(req.path) for r in _routes_of(service)):
                return service.error(405, f"Method {req.method} not allowed", req)
            return service.error(404, "Not Found", req)
        except ApiError as e:
            return e.response


_ROUTE_CACHE: dict[int, list[Route]] = {}


def _routes_of(service: Service) -> list[Route]:
    key = id(service)
    if key not in _ROUTE_CACHE:
        _ROUTE_CACHE[key] = collect_routes(service) + list(service.routes())
    return _ROUTE_CACHE[key]


def paginate(items: list[Any], start: int, size: int) -> tuple[list[Any], int | None]:
    """A page of `items` from `start`, and the next start (None on the last page)."""
    page = items[start : start + size]
    nxt = start + size
    return page, (nxt if nxt < len(items) else None)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")
