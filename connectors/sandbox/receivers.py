"""Where the sandbox's outgoing notifications land: a JSON-POST receiver and an SMTP sink.

Both listen on 127.0.0.1 only and keep what they received in memory, so tests and `handoff
demo` can show who was told what, when, and through which channel.

    with WebhookReceiver(secret="s3cret") as hook, SmtpSink() as smtp:
        hook.url            # http://127.0.0.1:PORT/hook  (any path is accepted)
        hook.received()     # [Received(path, headers, body, json, verified, at)]
        smtp.port           # plain SMTP, no TLS/AUTH, like a local relay
        smtp.messages()     # [email.message.EmailMessage]
        hook.hold(1)        # the 2nd POST is kept, then left unanswered (a sender killed then)

The receiver answers like a Slack incoming webhook (200 with the text "ok", 400
"invalid_payload" for a body that is not a JSON object) and, when it has a secret, checks the
HMAC-SHA256 signature header the way a receiver of ours should: 401 and `verified=False` when it
is missing or wrong. The SMTP sink is stdlib-only: `smtpd` is deprecated and gone in Python 3.12,
and the few verbs smtplib sends are a short state machine, so aiosmtpd would not earn its place.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socketserver
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = ["SIGNATURE_HEADER", "Received", "SmtpSink", "WebhookReceiver", "sign"]

# GitHub-style: "sha256=" + hex HMAC of the raw body under the shared secret.
SIGNATURE_HEADER = "X-Handoff-Signature"  # as connectors.notify (issue 17) sends it
_MAX_BODY = 1 << 20  # a notification is small; anything bigger is a bug, not a message
_MAX_LINE = 1000  # RFC 5321 line limit (998 + CRLF), with room


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Received:
    """One JSON POST as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    verified: bool  # the signature matched (always False when the receiver has no secret)
    at: datetime


class _Server:
    """Start/stop on a daemon thread; subclasses provide `_server`."""

    _server: socketserver.BaseServer
    _thread: threading.Thread | None = None

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()  # type: ignore[attr-defined]
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class WebhookReceiver(_Server):
    """Records every POST; checks the HMAC signature when given a secret."""

    def __init__(self, secret: str = "", port: int = 0) -> None:
        self.secret = secret
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._arrived = 0
        self._hold: tuple[int, bool, float] | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _hook_handler(self))
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def arrived(self) -> int:
        """POSTs that reached the receiver, kept or not."""
        with self._lock:
            return self._arrived

    def hold(self, at: int, *, keep: bool = True, seconds: float = 30.0) -> None:
        """Leave the `at`-th POST (0-based) unanswered for `seconds`, having kept it (it
        landed) or not (it was lost in flight): what a sender killed meanwhile left behind."""
        with self._lock:
            self._hold = (at, keep, seconds)

    def _held(self) -> tuple[bool, float]:
        """(keep it, seconds to wait before answering) for the POST arriving now."""
        with self._lock:
            n, self._arrived = self._arrived, self._arrived + 1
            if self._hold is None or self._hold[0] != n:
                return True, 0.0
            return self._hold[1], self._hold[2]

    def _record(
        self, path: str, headers: dict[str, str], body: bytes, keep: bool = True
    ) -> tuple[int, str]:
        got = headers.get(SIGNATURE_HEADER.lower(), "")
        verified = bool(self.secret) and hmac.compare_digest(got, sign(self.secret, body))
        try:
            parsed = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            parsed = None
        entry = Received(path, headers, body, parsed, verified, datetime.now(UTC))
        if keep:
            with self._lock:
                self._received.append(entry)
        if self.secret and not verified:
            return 401, "invalid_signature"
        if not isinstance(parsed, dict):
            return 400, "invalid_payload"
        return 200, "ok"


def _hook_handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                self._answer(413, "too_large")
                return
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            keep, wait = receiver._held()
            status, text = receiver._record(self.path, headers, body, keep)
            if wait:
                time.sleep(wait)  # bounded: the sender is killed meanwhile
                return
            self._answer(status, text)

        def _answer(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:  # tests read .received(), not stderr
            return

    return Handler


class SmtpSink(_Server):
    """A local SMTP relay that accepts every message and keeps it."""

    def __init__(self, port: int = 0) -> None:
        self._lock = threading.Lock()
        self._messages: list[tuple[str, list[str], EmailMessage, datetime]] = []
        server = socketserver.ThreadingTCPServer(("127.0.0.1", port), _smtp_handler(self))
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]

    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [m for _, _, m, _ in self._messages]

    def envelopes(self) -> list[tuple[str, list[str], EmailMessage, datetime]]:
        """(mail from, rcpt to, message, received at) for each message."""
        with self._lock:
            return list(self._messages)

    def _keep(self, sender: str, rcpt: list[str], data: bytes) -> None:
        msg = BytesParser(policy=policy.default).parsebytes(data)
        assert isinstance(msg, EmailMessage)
        with self._lock:
            self._messages.append((sender, rcpt, msg, datetime.now(UTC)))


def _smtp_handler(sink: SmtpSink) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        timeout = 30

        def handle(self) -> None:
            self._say("220 127.0.0.1 handoff-sync sandbox SMTP sink")
            sender, rcpt = "", list[str]()
            for _ in range(10_000):  # bounded: a session of a test sends a handful of verbs
                line = self.rfile.readline(_MAX_LINE)
                if not line:
                    return
                verb, _, arg = line.decode("utf-8", "replace").strip().partition(" ")
                verb = verb.upper()
                if verb in ("EHLO", "HELO"):
                    self._say("250 127.0.0.1")
                elif verb == "MAIL":
                    sender, rcpt = _address(arg), []
                    self._say("250 OK")
                elif verb == "RCPT":
                    rcpt.append(_address(arg))
                    self._say("250 OK")
                elif verb == "DATA":
                    if not rcpt:
                        self._say("503 RCPT first")
                        continue
                    self._say("354 End data with <CR><LF>.<CR><LF>")
                    sink._keep(sender, rcpt, self._data())
                    self._say("250 OK queued")
                elif verb in ("RSET", "NOOP"):
                    self._say("250 OK")
                elif verb == "QUIT":
                    self._say("221 Bye")
                    return
                else:  # STARTTLS, AUTH, ...: a local relay needs neither
                    self._say("502 Command not implemented")

        def _data(self) -> bytes:
            lines: list[bytes] = []
            for _ in range(_MAX_BODY):
                line = self.rfile.readline(_MAX_LINE)
                if not line or line in (b".\r\n", b".\n"):
                    break
                line = line[1:] if line.startswith(b"..") else line  # dot-stuffing
                lines.append(line.rstrip(b"\r\n") + b"\n")  # CRLF on the wire, LF kept
            return b"".join(lines)

        def _say(self, text: str) -> None:
            self.wfile.write(text.encode() + b"\r\n")

    return Handler


def _address(arg: str) -> str:
    """`FROM:<a@b> SIZE=1` -> `a@b`."""
    _, _, rest = arg.partition(":")
    return rest.strip().split(" ")[0].strip("<>")
