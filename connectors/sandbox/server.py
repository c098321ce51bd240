"""The sandbox's HTTP core: one loopback server, routing to the three services, faults, a log.

Each service (Jira, GitHub, Notion) is a `Service` with its own routes, auth, error bodies and
rate limits; this module only carries requests to them and lets tests misbehave on purpose.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "ApiError",
    "Fault",
    "LoggedRequest",
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


@dataclass
class Fault:
    """What the next matching request(s) get instead of a normal answer.

    status: answer with this status and the service's own error body for it.
    delay: seconds to wait before answering (or before the other effects).
    drop: close the connection without answering.
    cut: send the headers and half the body, then close.
    commit: process the request for real first (the write lands on the server), then apply
        delay/drop, so the client never learns it succeeded.
    retry_after: a Retry-After header value for the error answer.
    """

    status: int | None = None
    delay: float = 0.0
    drop: bool = False
    cut: bool = False
    commit: bool = False
    retry_after: float | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Injected:
    method: str
    pattern: re.Pattern[str]
    fault: Fault
    remaining: int
    after: int = 0  # matching requests to let through untouched first


@dataclass(frozen=True)
class LoggedRequest:
    service: str
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int
    write: bool
    at: float
    # The headers that shape the request (content type, API version, auth scheme), with every
    # credential cut to its scheme: enough to check a request against a description, no secret.
    headers: dict[str, str] = field(default_factory=dict)


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
        self._faults: list[_Injected] = []
        self._arrived = {"read": 0, "write": 0}  # counted on arrival, before any fault
        self._log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self._stopping = threading.Event()
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def add(self, service: Service) -> None:
        self.services.append(service)

    def start(self) -> None:
        server = self

        class _Handler(_RequestHandler):
            sandbox = server

        self._httpd = _QuietServer(("127.0.0.1", self._port), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
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
                _Injected(method.upper(), re.compile(path), fault, times, after)
            )

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def _take_fault(self, method: str, path: str, write: bool) -> Fault | None:
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

    def _record(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            self._log.append(entry)

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
                    return result if isinstance(result, Response) else Response(200, result)
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


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (killed, timed out) is part of the tests, not an error.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            return
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    sandbox: SandboxServer
    protocol_version = "HTTP/1.1"
    server_version = "handoff-sandbox/1"
    # Headers and body go out in separate writes; with Nagle on, a kept-alive client's delayed
    # ACK stalls every response by ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header on the sandbox's clock (shifted by `advance`), as services send it."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        return format_datetime(self.sandbox.now().astimezone(UTC), usegmt=True)

    def _handle(self) -> None:
        sb = self.sandbox
        split = urlsplit(self.path)
        body = self._read_body()
        req = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
        )
        service = sb.service_for(req.path)
        if sb.latency:
            sb.sleep(sb.latency)
        is_write = service is not None and service.is_write(req)
        with sb._log_lock:
            sb._arrived["write" if is_write else "read"] += 1
        fault = sb._take_fault(req.method, req.path, is_write)
        if service is None:
            resp = Response(404, {"message": "Not Found"})
        elif fault and not fault.commit:
            sb.sleep(fault.delay)
            if fault.drop:
                self._log(service, req, 0)
                return self._drop()
            resp = self._fault_response(service, req, fault)
        else:
            resp = sb.dispatch(service, req)
            if fault:  # commit: the write happened, the client must not learn it
                self._log(service, req, resp.status)
                sb.sleep(fault.delay)
                return self._drop()
        if service is not None:
            resp = service.decorate(req, resp)
            self._log(service, req, resp.status)
        self._send(resp, cut=bool(fault and fault.cut))

    def _fault_response(self, service: Service, req: Request, fault: Fault) -> Response:
        status = fault.status or 200
        if fault.status is None:  # a cut body on an otherwise normal answer
            resp = self.sandbox.dispatch(service, req)
        elif fault.body is not None:
            resp = Response(status, fault.body)
        else:
            resp = service.error(status, "", req)
        if fault.retry_after is not None:
            resp.headers["Retry-After"] = f"{fault.retry_after:g}"
        resp.headers.update(fault.headers)
        return resp

    def _log(self, service: Service, req: Request, status: int) -> None:
        try:
            body: Any = req.json()
        except (ValueError, UnicodeDecodeError):
            body = req.body.decode("utf-8", "replace")
        self.sandbox._record(
            LoggedRequest(
                service=service.name,
                method=req.method,
                path=req.path,
                query=req.query,
                body=body,
                status=status,
                write=service.is_write(req),
                at=time.monotonic(),
                headers=_loggable_headers(req.headers),
            )
        )

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, resp: Response, cut: bool = False) -> None:
        if resp.body is None or resp.status in (204, 304):
            payload = b""
        elif isinstance(resp.body, bytes):
            payload = resp.body
        else:
            payload = json.dumps(resp.body, ensure_ascii=False).encode("utf-8")
        self.send_response(resp.status)
        headers = {"Content-Type": "application/json; charset=utf-8", **resp.headers}
        for k, v in headers.items():
            self.send_header(k, v)
        if resp.status != 304:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if cut:
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            return self._drop()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def _loggable_headers(headers: Message) -> dict[str, str]:
    """The request's headers with credentials reduced to their scheme ("Basic", "Bearer")."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS:
            value = value.split(" ", 1)[0] + " <redacted>" if " " in value else "<redacted>"
        out[name] = value
    return out


def paginate(items: list[Any], start: int, size: int) -> tuple[list[Any], int | None]:
    """A page of `items` from `start`, and the next start (None on the last page)."""
    page = items[start : start + size]
    nxt = start + size
    return page, (nxt if nxt < len(items) else None)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def iter_json_lines(entries: Iterable[LoggedRequest]) -> Iterator[str]:
    for e in entries:
        yield json.dumps({"service": e.service, "method": e.method, "path": e.path})
