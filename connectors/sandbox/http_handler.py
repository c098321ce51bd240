"""The HTTP side of the sandbox: read one request, apply any fault, dispatch it, answer.

`SandboxServer.start` serves with these classes; the services never see HTTP, only `Request`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import time
from datetime import UTC
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .faults import Fault
from .request_log import LoggedRequest, loggable_headers
from .server import Request, Response, SandboxServer, Service

__all__ = ["QuietServer", "RequestHandler"]


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (killed, timed out) is part of the tests, not an error.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            return
        super().handle_error(request, client_address)


class RequestHandler(BaseHTTPRequestHandler):
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
        sb.count_arrival(write=is_write)
        fault = sb.take_fault(req.method, req.path, is_write)
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
        self.sandbox.record(
            LoggedRequest(
                service=service.name,
                method=req.method,
                path=req.path,
                query=req.query,
                body=body,
                status=status,
                write=service.is_write(req),
                at=time.monotonic(),
                headers=loggable_headers(req.headers),
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
