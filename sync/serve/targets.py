"""Which scopes a burst's sync reads: only those its deliveries are about.

A delivery names its scope when it can (GitHub: the repository; Notion: a page's database);
one that names none makes its sync read every scope of its system. A system whose every
scope every run must read (`WebhookSpec.every_scope`: Jira, whose keys link records in every
system) is read whole each time, and a poll reads everything.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from connectors.base import Scope
from sync.store import InboxRow
from sync.systems import SYSTEMS
from sync.systems.spec import WebhookSpec

__all__ = ["comment_reads", "echo_only", "targets"]


def _norm(name: str) -> str:
    return name.replace("-", "").lower()


def _always(system: str) -> bool:
    spec = SYSTEMS.get(system)
    return spec is None or spec.webhook is None or spec.webhook.every_scope


def _deliveries(
    rows: Sequence[InboxRow], body: Callable[[int], bytes | None]
) -> Iterator[tuple[InboxRow, WebhookSpec | None, dict[str, Any] | None]]:
    """Each delivery with its system's webhook spec (None: a system without one) and its
    parsed body (None: not a JSON object)."""
    for row in rows:
        spec = SYSTEMS.get(row.system)
        hook = spec.webhook if spec is not None else None
        try:
            parsed = json.loads(body(row.n) or b"null")
        except ValueError:
            parsed = None
        yield row, hook, parsed if isinstance(parsed, dict) else None


def targets(
    rows: Sequence[InboxRow], body: Callable[[int], bytes | None], scopes: Sequence[Scope]
) -> list[Scope]:
    """The scopes to read for these deliveries (every scope for none: a poll)."""
    if not rows:
        return list(scopes)
    whole: set[str] = set()
    named: set[tuple[str, str]] = set()
    for row, hook, parsed in _deliveries(rows, body):
        if hook is None:
            continue
        name = hook.scope(parsed) if parsed is not None else ""
        if name:
            named.add((row.system, _norm(name)))
        else:
            whole.add(row.system)
    return [
        s
        for s in scopes
        if _always(s.system) or s.system in whole or (s.system, _norm(s.name)) in named
    ]


def comment_reads(
    rows: Sequence[InboxRow], body: Callable[[int], bytes | None]
) -> dict[str, set[str]]:
    """System -> the items whose comments these deliveries say a person changed, where the
    scope's read would not show it (`WebhookSpec.comments`: Notion's `comment.created`)."""
    out: dict[str, set[str]] = {}
    for row, hook, parsed in _deliveries(rows, body):
        item = hook.comments(parsed) if hook is not None and parsed is not None else ""
        if item:
            out.setdefault(row.system, set()).add(item)
    return out


def echo_only(
    rows: Sequence[InboxRow],
    body: Callable[[int], bytes | None],
    us: Mapping[str, str],
    labels: frozenset[str],
) -> bool:
    """Whether every delivery of a burst is the echo of one of our own writes (`us`: system
    -> our account; `labels`: the labels we manage), which the state already holds, so the
    burst needs no sync. One delivery of anything else, or one not understood, needs one."""
    if not rows:
        return False
    for row, hook, parsed in _deliveries(rows, body):
        me = us.get(row.system, "")
        if hook is None or not me or parsed is None or not hook.echo(parsed, me, labels):
            return False
    return True
