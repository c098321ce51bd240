"""Outgoing notifications (issue 17): a Slack incoming webhook, any URL taking a signed JSON
POST, and email over SMTP. httpx and the standard library's smtplib; nothing else.

Delivery is at most once (the outbox marks it sending first, see sync.store.sqlite.notices),
so every message carries its delivery id for the receiver to drop a duplicate: the headers
`Idempotency-Key` and `X-Handoff-Delivery` on HTTP, the `Message-ID` on email. The JSON POST
is signed: `X-Handoff-Signature: sha256=<hex HMAC-SHA256 of the exact body, keyed by the
secret>`, as GitHub signs its webhooks, so a receiver can check it came from us.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate

import httpx

from connectors.errors import ConnectorError, TransientError, scrub

__all__ = ["CHANNELS", "Message", "NotSent", "Notifier", "SmtpConfig", "sign"]

CHANNELS = ("slack", "webhook", "email")
SYSTEM = "notify"


class NotSent(TransientError):
    """The delivery certainly did not reach anyone (refused connection, an HTTP error
    answer): its notices may be delivered again by a later run."""


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Message:
    """One digest for one person on one channel."""

    delivery: str  # the delivery id, unique per digest and channel
    person: str
    name: str
    email: str
    subject: str
    text: str
    notices: Sequence[dict[str, object]] = field(default_factory=tuple)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    sender: str = ""
    starttls: bool = True
    user: str = ""
    password: str = ""


class Notifier:
    """Sends a message on a channel; raises a ConnectorError naming the channel on failure."""

    def __init__(
        self,
        *,
        slack_url: str = "",
        webhook_url: str = "",
        secret: str = "",
        smtp: SmtpConfig | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.slack_url, self.webhook_url, self.secret = slack_url, webhook_url, secret
        self.smtp, self.timeout = smtp, timeout
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def send(self, channel: str, message: Message) -> str:
        """Deliver; returns what the receiver gave back to recognise it (status or id)."""
        if channel == "slack":
            return self._post("slack", self.slack_url, {"text": message.text}, message, False)
        if channel == "webhook":
            body: dict[str, object] = {
                "delivery": message.delivery,
                "person": message.person,
                "name": message.name,
                "email": message.email,
                "subject": message.subject,
                "text": message.text,
                "notices": list(message.notices),
            }
            return self._post("webhook", self.webhook_url, body, message, True)
        if channel == "email":
            return self._mail(message)
        raise ConnectorError(f"unknown channel {channel!r}", system=SYSTEM)

    def _post(
        self, channel: str, url: str, data: dict[str, object], message: Message, signed: bool
    ) -> str:
        body = json.dumps(data, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.delivery,
            "X-Handoff-Delivery": message.delivery,
        }
        if signed:
            headers["X-Handoff-Signature"] = sign(self.secret, body)
        try:
            answer = self._http.post(url, content=body, headers=headers)
        except httpx.ConnectError:
            raise NotSent(
                f"{channel}: the receiver is not reachable; check [notify] and that it is up",
                system=SYSTEM,
            ) from None
        except httpx.HTTPError as exc:
            raise TransientError(
                f"{channel}: could not deliver ({type(exc).__name__}); check [notify] and "
                "that the receiver is up",
                system=SYSTEM,
            ) from None
        if answer.status_code in (401, 403, 404):
            raise NotSent(
                f"{channel}: the receiver refused the delivery (HTTP {answer.status_code}); "
                "check the URL and secret in [notify]",
                system=SYSTEM,
                status=answer.status_code,
            )
        if answer.status_code >= 300:
            raise NotSent(
                f"{channel}: HTTP {answer.status_code} from the receiver",
                system=SYSTEM,
                status=answer.status_code,
            )
        return str(answer.status_code)

    def _mail(self, message: Message) -> str:
        cfg = self.smtp
        if cfg is None or not message.email:
            raise ConnectorError(
                f"email: no address for {message.person}; add email to their [[people]] entry",
                system=SYSTEM,
            )
        mail = EmailMessage()
        mail["From"], mail["To"] = cfg.sender, message.email
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = f"<{hashlib.sha256(message.delivery.encode()).hexdigest()}@handoff>"
        mail["X-Handoff-Delivery"] = message.delivery
        mail.set_content(message.text)
        try:
            with smtplib.SMTP(cfg.host, cfg.port, timeout=self.timeout) as smtp:
                if cfg.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if cfg.user:
                    smtp.login(cfg.user, cfg.password)
                smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError:
            raise NotSent(
                "email: the SMTP server refused the login; check smtp_user and "
                "HANDOFF_NOTIFY__SMTP_PASSWORD",
                system=SYSTEM,
            ) from None
        except (
            ConnectionRefusedError,
            smtplib.SMTPConnectError,
            smtplib.SMTPRecipientsRefused,
        ) as exc:
            raise NotSent(
                f"email: not sent via {cfg.host}:{cfg.port}: {scrub(str(exc))}", system=SYSTEM
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientError(
                f"email: could not send via {cfg.host}:{cfg.port}: {scrub(str(exc))}",
                system=SYSTEM,
            ) from None
        return str(mail["Message-ID"])
