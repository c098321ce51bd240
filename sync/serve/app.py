"""The ASGI app of `handoff serve` (Starlette): /webhooks/<system>, /healthz, /metrics.

A delivery is answered 2xx only once it is stored in the inbox (so a crash after the answer
loses nothing) and only when its signature over the raw body matches the system's secret
(401 otherwise, and nothing is stored). A delivery id stored before is acknowledged and
dropped (the system retried); an event that cannot change what a sync reads is acknowledged
and ignored; a body over `[serve] max_body_bytes` gets 413.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from connectors.errors import register_secret
from sync.serve.metrics import Metrics
from sync.serve.verify import signed_by
from sync.settings import Settings
from sync.store import Store
from sync.systems import SYSTEMS, SystemSpec
from sync.systems.spec import WebhookSpec

__all__ = ["HANDSHAKE_FACT", "Hub", "make_app"]

log = logging.getLogger("handoff.serve")
HANDSHAKE_FACT = "webhook_verification:{system}"  # a handshake's token, kept in the state


class TooLarge(Exception):
    pass


class Hub:
    """What the app shares with the worker: the store, the counters, how to wake it."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        metrics: Metrics,
        wake: Callable[[], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        alive: Callable[[], bool] = lambda: True,
    ) -> None:
        self.settings = settings
        self.alive = alive  # the worker still runs
        self.store = store
        self.metrics = metrics
        self.wake = wake
        self.clock = clock
        self.systems = {n: s for n, s in SYSTEMS.items() if s.webhook is not None}

    def secret(self, spec: SystemSpec) -> str:
        """The system's webhook secret: from the settings (environment), or for a system
        with a handshake the token it sent us first."""
        configured = getattr(spec.section(self.settings), "webhook_secret", None)
        if configured is not None and configured.get_secret_value():
            return str(configured.get_secret_value())
        if spec.webhook is not None and spec.webhook.handshake:
            return self.store.fact(HANDSHAKE_FACT.format(system=spec.name)) or ""
        return ""


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse(hub: Hub, system: str, status: int, reason: str) -> Response:
    hub.metrics.count("rejected", (system, reason))
    return JSONResponse({"ok": False, "error": reason}, status_code=status)


def _handshake(hub: Hub, spec: SystemSpec, hook: WebhookSpec, body: Any) -> Response | None:
    """A one-time verification request (unsigned, only the token): keep the first token as
    the secret when none is configured; otherwise accept only the same token again."""
    if not (isinstance(body, dict) and set(body) == {hook.handshake}):
        return None
    token = str(body[hook.handshake])
    known = hub.secret(spec)
    if not known:
        register_secret(token)
        hub.store.remember_fact(HANDSHAKE_FACT.format(system=spec.name), token)
        log.warning(
            "%s sent its webhook verification token; it is kept in the state file and signs "
            "its deliveries from now on. Set it as the subscription's token in %s's settings "
            "(or in HANDOFF_%s__WEBHOOK_SECRET).",
            spec.display, spec.display, spec.name.upper(),
        )
        return JSONResponse({"ok": True})
    if hmac.compare_digest(known.encode("utf-8"), token.encode("utf-8")):
        return JSONResponse({"ok": True})
    return _refuse(hub, spec.name, 401, "unexpected verification token")


def _store(hub: Hub, spec: SystemSpec, hook: WebhookSpec, raw: bytes, request: Request) -> Response:
    """Verified: parse, drop what we ignore, store once per delivery id."""
    name = spec.name
    try:
        body = json.loads(raw)
    except ValueError:
        return _refuse(hub, name, 400, "not JSON")
    headers = {k.lower(): v for k, v in request.headers.items()}
    delivery = hook.delivery(headers, body)
    event = hook.event(headers, body)
    if not delivery:
        return _refuse(hub, name, 400, "no delivery id")
    if not hook.known(event):
        hub.metrics.count("ignored", name)
        return JSONResponse({"ok": True, "ignored": event or "unknown event"}, status_code=202)
    subject = hook.subject(body) if isinstance(body, dict) else ""
    fresh = hub.store.inbox_put(name, delivery, raw, hub.clock(), event=event, subject=subject)
    if not fresh:
        hub.metrics.count("deduplicated", name)
        return JSONResponse({"ok": True, "duplicate": True})
    hub.metrics.count("stored", name)
    hub.wake()
    return JSONResponse({"ok": True, "stored": True}, status_code=202)


def _webhook(hub: Hub) -> Callable[[Request], Any]:
    async def receive(request: Request) -> Response:
        name = request.path_params["system"]
        spec = hub.systems.get(name)
        if spec is None or spec.webhook is None:
            return JSONResponse({"ok": False, "error": "no such system"}, status_code=404)
        hook = spec.webhook
        hub.metrics.count("received", name)
        try:
            raw = await _body(request, hub.settings.serve.max_body_bytes)
        except TooLarge:
            return _refuse(hub, name, 413, "body too large")
        signature = request.headers.get(hook.signature)
        if hook.handshake and signature is None:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            done = await run_in_threadpool(_handshake, hub, spec, hook, parsed)
            if done is not None:
                return done
        secret = await run_in_threadpool(hub.secret, spec)
        if not secret:
            return _refuse(hub, name, 401, "no webhook secret configured")
        if not signed_by(secret, raw, signature):
            return _refuse(hub, name, 401, "bad or missing signature")
        return await run_in_threadpool(_store, hub, spec, hook, raw, request)

    return receive


def make_app(hub: Hub) -> Starlette:
    async def healthz(request: Request) -> Response:
        if not hub.alive():
            return JSONResponse({"ok": False, "error": "the worker stopped"}, status_code=503)
        return JSONResponse({"ok": True})

    async def metrics(request: Request) -> Response:
        state = await run_in_threadpool(hub.store.inbox_state)
        text = hub.metrics.render(state, hub.clock())
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return Starlette(
        routes=[
            Route("/webhooks/{system}", _webhook(hub), methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )
