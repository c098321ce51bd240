"""Escalation steps that notify (issue 17): owed notices in, digests out through the outbox.

`owe` runs where a record is evaluated (the record is at hand there): every ladder step its
open findings have reached becomes a notice per person, kept in the state until told.
`deliver` runs after the item writes, every run: the owed notices whose time has come and
whose person is inside their working hours become one digest per person, each planned as an
outbox op per configured channel ("notify.send", keyed by the digest), audited, paced, and
marked sending together with its notices before it leaves (at most once: see
sync.store.sqlite.notices). A dry run only lists what it would send.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from connectors.base import WriteOp
from connectors.errors import ConnectorError
from connectors.notify import Message, Notifier, NotSent, SmtpConfig
from mapping.finding import Finding
from mapping.notify import Digest, Notice, digests, notices
from mapping.people import Directory
from mapping.record import HandoffRecord
from sync.settings import NotifySettings, Settings
from sync.store import Store

__all__ = ["Delivered", "deliver", "notifier", "owe"]

SYSTEM = "notify"


@dataclass
class Delivered:
    """What the notify phase did (or, in a dry run, would do)."""

    lines: list[str] = field(default_factory=list)  # "would notify <name> by <channel>: ..."
    sent: int = 0
    failed: list[str] = field(default_factory=list)


def owe(
    state: Store,
    settings: Settings,
    directory: Directory,
    found: Iterable[tuple[HandoffRecord, list[Finding]]],
    opened: Mapping[str, datetime],
    now: datetime,
) -> int:
    """Keep the notices the evaluated records' findings owe (nothing when no channel is
    configured). Returns how many were new."""
    if not settings.notify.channels():
        return 0
    esc = settings.rules_config().escalation
    owed: list[Notice] = []
    for record, findings in found:
        for f in findings:
            owed += notices(f, record, esc, directory, opened.get(f.id) or now, now)
    return state.notices_owe(owed) if owed else 0


def notifier(cfg: NotifySettings) -> Notifier:
    """The channels `[notify]` configures."""
    smtp = None
    if cfg.smtp_host:
        password = cfg.smtp_password.get_secret_value() if cfg.smtp_password else ""
        smtp = SmtpConfig(
            cfg.smtp_host, cfg.smtp_port, cfg.smtp_from, cfg.smtp_starttls, cfg.smtp_user, password
        )
    return Notifier(
        slack_url=cfg.slack_webhook.get_secret_value() if cfg.slack_webhook else "",
        webhook_url=cfg.webhook_url,
        secret=cfg.secret.get_secret_value() if cfg.secret else "",
        smtp=smtp,
        timeout=cfg.timeout_seconds,
    )


def _op(digest: Digest, channel: str) -> WriteOp:
    keys = sorted(n.key for n in digest.notices)
    return WriteOp(
        system=SYSTEM,
        scope=channel,
        item_id=digest.person,
        item_key=digest.name or digest.person,
        action="notify.send",
        body=digest.text,
        name=channel,
        value=json.dumps(keys),
        target=digest.key,
    )


def _message(digest: Digest, op: WriteOp, directory: Directory) -> Message:
    person = directory.get(digest.person)
    notes = [
        {"finding": n.finding_id, "step": n.step + 1, "role": n.role, "line": n.line}
        for n in digest.notices
    ]
    return Message(
        delivery=op.key,
        person=digest.person,
        name=digest.name,
        email=person.email if person else "",
        subject=digest.subject,
        text=digest.text,
        notices=notes,
    )


def _plan(
    state: Store, settings: Settings, directory: Directory, now: datetime, dry_run: bool
) -> list[tuple[Digest, WriteOp]]:
    """The digests due now, one op per channel; owed notices of closed findings are dropped."""
    owed = state.notices_owed()
    open_ids = set(state.opened_at())
    closed = [n.key for n in owed if n.finding_id not in open_ids]
    if closed and not dry_run:
        state.notices_forget(closed)
    live = [n for n in owed if n.finding_id in open_ids]
    esc = settings.rules_config().escalation
    planned = []
    for digest in digests(live, set(), directory, esc, now):
        person = directory.get(digest.person)
        for channel in settings.notify.channels():
            if channel == "email" and not (person and person.email):
                continue  # no address: the other channels (and the item's reply) tell them
            planned.append((digest, _op(digest, channel)))
    return planned


def deliver(
    state: Store,
    settings: Settings,
    directory: Directory,
    *,
    run_id: int,
    now: datetime,
    dry_run: bool = False,
    send: Notifier | None = None,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivered:
    """Plan and (unless `dry_run`) send the digests due now; see the module's note."""
    out = Delivered()
    if not settings.notify.channels():
        return out
    planned = _plan(state, settings, directory, now, dry_run)
    if dry_run:
        for digest, op in planned:
            said = "; ".join(n.line for n in digest.notices)
            out.lines.append(f"would notify {op.item_key} by {op.name}: {digest.subject}: {said}")
        return out
    # Deliveries an earlier run left unfinished are not resent: their notices are told.
    state.outbox_supersede([SYSTEM], run_id, now)
    channel = send or notifier(settings.notify)
    tick = clock or (lambda: now)
    try:
        by_digest: dict[str, list[WriteOp]] = {}
        for digest, op in planned:
            by_digest.setdefault(digest.key, []).append(op)
        first = True
        for digest in {d.key: d for d, _ in planned}.values():
            results = []
            for op in by_digest[digest.key]:
                if not first and settings.notify.pace_seconds:
                    sleep(settings.notify.pace_seconds)
                first = False
                results.append(_send_one(state, channel, digest, op, directory, run_id, tick, out))
            if results and all(r == "not sent" for r in results):
                # No channel reached anyone: the notices are owed again next run.
                state.notices_untell(by_digest[digest.key][0].key)
    finally:
        if send is None:
            channel.close()
    return out


def _send_one(
    state: Store,
    channel: Notifier,
    digest: Digest,
    op: WriteOp,
    directory: Directory,
    run_id: int,
    clock: Callable[[], datetime],
    out: Delivered,
) -> str:
    """One op: "sent", "not sent" (certainly reached nobody), "failed" (it may have), or
    "skipped" (this run delivered it already)."""
    if not state.outbox_plan(op, run_id, clock()):
        return "skipped"
    state.notify_sending(op, [n.key for n in digest.notices], run_id, clock())
    try:
        answer = channel.send(op.name, _message(digest, op, directory))
    except ConnectorError as exc:
        state.outbox_failed(op, run_id, clock(), exc.message)
        out.failed.append(exc.message)
        return "not sent" if isinstance(exc, NotSent) else "failed"
    state.outbox_done(op, run_id, clock(), target=answer)
    out.sent += 1
    return "sent"
