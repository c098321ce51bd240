"""People's commands between the store and the pure reconcile: read, parsed, answered.

The pulls keep each person's `/handoff` comment in the store (`Store.said_put`); here the
comments kept on a batch's items become `mapping.commands.Command`s for reconcile, and what
reconcile made of them goes back: each comment's answer lines, once per change, with an audit
row (`Store.said_answered`). The answers themselves show in our comment on the item.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from connectors.base import SourceItem
from mapping.commands import Command, CommandSource, parse_commands
from mapping.commands_apply import Outcome
from sync.store import Store

__all__ = ["commands_of", "record_answers"]

Key = tuple[str, str]


def commands_of(state: Store, items: Iterable[SourceItem]) -> dict[Key, list[Command]]:
    """The commands people wrote on these items, as the store keeps them."""
    by_key = {(i.system, i.id): i for i in items}
    out: dict[Key, list[Command]] = {}
    for key, said in state.said_for(list(by_key)).items():
        item = by_key[key]
        for s in said:
            src = CommandSource(item.system, item.id, item.key, s.id, s.author, s.at, item.url)
            out.setdefault(key, []).extend(parse_commands(s.text, src))
    return out


def record_answers(
    state: Store, outcomes: Sequence[Outcome], run_id: int | None, now: datetime
) -> int:
    """Each comment's answer lines to the store (and the audit, when they changed)."""
    answers: dict[Key, list[str]] = {}
    for o in outcomes:
        src = o.command.source
        answers.setdefault((src.system, src.comment_id), []).append(o.line)
    return state.said_answered(answers, run_id, now) if answers else 0
