"""What our comments show now, learnt before reconcile so that planning does no network I/O.

Someone may have edited or deleted our comment since we wrote it, and the plan must start
from what people see, not from our notes. The pulls find our comments in batches (GitHub: the
repo-wide comment list since the cursor; Jira: the `comment` field of the search; Notion: the
pages whose check property shows we wrote there), so a run reads no comment item by item:
what they found is settled against the state here (`discover`). An item the discovery did not
report has, as far as anyone can tell, our comment as the state notes it: a person's new
comment, edit or deletion shows in the next list (except a GitHub deletion, which apply meets
as a 404 on the edit and answers with one new comment).

Only a scope whose pull could not look (a connector without batched discovery, or a list that
failed) falls back to reading our comment on each of its changed items, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.base import CommentRef, Connector, Scope, SourceItem, WriteOp
from connectors.errors import ConnectorError
from mapping.link import LinkConfig, link
from sync.engine.knowledge import ScopeOutcome
from sync.engine.own_writes import activity_from_marker
from sync.engine.pacing import Pacer
from sync.store import Store
from sync.store.rows import StoredComment
from sync.writeback.render import is_current, markers_for, shown_key

__all__ = [
    "Comments", "Discovery", "discover", "read_comments", "stored_comments", "tell_known",
    "tell_wanted",
]

log = logging.getLogger(__name__)

Comments = dict[tuple[str, str], CommentRef]  # (system, item id) -> our comment there
Key = tuple[str, str]


@dataclass
class Discovery:
    """What this run knows of our comments, for the plan and for apply."""

    # Our comment on each item as planning should see it is the state's note once `discover`
    # has settled what the pulls found (`comments_for` reads a batch's notes): holding every
    # comment of the workspace here would make memory grow with it.
    found: Comments = field(default_factory=dict)  # found this run (duplicates for the plan)
    looked: set[Key] = field(default_factory=set)  # items whose comment was looked at now
    scopes: set[str] = field(default_factory=set)  # scopes whose discovery covered every item
    unsure: set[Key] = field(default_factory=set)  # a create of ours may have landed unheard

    def settled(self, op: WriteOp) -> bool:
        """Whether this run knows our comment on the op's item, so that a create needs no
        lookup first: discovery covered the item, and no earlier create there is unconfirmed
        (a crash or timeout mid-write: apply looks, so nothing is posted twice)."""
        key = (op.system, op.item_id)
        return key not in self.unsure and (key in self.looked or op.scope in self.scopes)


def tell_known(
    state: Store, connectors: Mapping[str, Connector], cursors: Mapping[str, object]
) -> None:
    """Tell a connector that looks for our comment item by item (`comments_known`) which
    items' comments the state holds, when it reads a scope without a cursor (`--full`): a
    rebuild re-reads the items, not every comment we wrote (1,195 reads at 10k items)."""
    for system, connector in connectors.items():
        tell = getattr(connector, "comments_known", None)
        if not callable(tell):
            continue
        full = any(c is None for k, c in cursors.items() if k.partition(":")[0] == system)
        tell([c.item_id for c in state.iter_comments(system=system)] if full else [])


def tell_wanted(
    state: Store, connectors: Mapping[str, Connector], wanted: Mapping[str, Collection[str]]
) -> None:
    """Tell a connector that can read an item's comments beside its pull (`comments_wanted`)
    which stored items a person commented on, by scope (every run, so a served connector
    forgets the last burst's): a webhook said so, and the item's own read would not show it."""
    for system, connector in connectors.items():
        tell = getattr(connector, "comments_wanted", None)
        if not callable(tell):
            continue
        by_scope: dict[str, set[str]] = {}
        for item_id in sorted(wanted.get(system, ())):
            item = state.item(system, item_id)
            if item is not None and item.state == "present":
                by_scope.setdefault(item.scope, set()).add(item_id)
        tell(by_scope)


def stored_comments(state: Store) -> Comments:
    """Where we wrote our comment on every item, in one read instead of one per item."""
    return {(c.system, c.item_id): CommentRef(c.comment_id, c.body) for c in state.iter_comments()}


def comments_for(state: Store, items: Iterable[SourceItem]) -> Comments:
    """Our comment on each of `items` as the state notes it (after `discover`)."""
    notes = state.comments_of([(i.system, i.id) for i in items])
    return {key: CommentRef(c.comment_id, c.body) for key, c in notes.items()}


def discover(state: Store, outcomes: Sequence[ScopeOutcome], now: datetime) -> Discovery:
    """Settle what the pulls found against the state: a comment of ours the state did not know
    is recorded (and the activity its marker carries restored), one edited or deleted by a
    person replaces our notes, and its item counts as changed so its record is planned again."""
    found = Discovery(unsure=state.unconfirmed_creates())
    verified: list[tuple[str, str, str, str]] = []
    for out in outcomes:
        if out.error:
            continue
        if out.discovered:
            found.scopes.add(out.scope)
        system = out.scope.partition(":")[0]
        for item_id, ref in out.comments.items():
            if _settle(state, found, (system, item_id), ref, now, verified):
                out.changed.add(item_id)
    state.note_shown(verified)
    return found


def _settle(
    state: Store,
    found: Discovery,
    key: Key,
    ref: CommentRef | None,
    now: datetime,
    verified: list[tuple[str, str, str, str]],
) -> bool:
    """One discovered comment (None: none of ours) against our notes; True when it differs."""
    note = state.comment_for(key[1], system=key[0])
    stored = None if note is None else CommentRef(note.comment_id, note.body)
    if ref is None:
        found.looked.add(key)
        if stored is None:
            return False
        # Someone deleted our comment: forget it, and the plan writes it again.
        state.forget_comment(*key)
        return True
    if stored is None:
        item = state.item(*key)
        if item is None:
            return False  # a comment on an item outside our scopes (e.g. a GitHub issue)
        _recognise(state, item, ref, now)
    found.looked.add(key)
    if ref.duplicates:
        found.found[key] = ref
    same = note is not None and note.comment_id == ref.id and _current(note, ref, verified)
    if same:
        return False
    # A write that landed unheard, or a person's edit: remember what is there, or the next
    # run plans from our old notes and sends it all again.
    state.record_comment(key[0], key[1], ref.id, ref.text, now)
    return True


def _current(note: StoredComment, ref: CommentRef, verified: list[Any]) -> bool:
    """`is_current(ref.text, note.body)`, remembered by the shown text's digest: a --full
    read finds every comment again, and comparing each (difflib) cost more than the rest."""
    seen = shown_key(ref.text)
    if note.shown == seen:
        return True
    if not is_current(ref.text, note.body):
        return False
    verified.append((note.system, note.item_id, note.body, seen))
    return True


def _recognise(state: Store, item: SourceItem, ref: CommentRef, now: datetime) -> None:
    """Our comment, unknown to the state (a first read, or a rebuilt state): the activity
    its marker carries is the item's when nothing but our own writes came after it."""
    activity = activity_from_marker(item, ref)
    if activity is not None:
        state.set_activity(item.system, item.id, activity, echo=item.updated)


def read_comments(
    state: Store,
    connectors: Mapping[str, Connector],
    items: Collection[SourceItem],
    link_cfg: LinkConfig,
    found: Discovery,
    changed: set[tuple[str, str]],
    *,
    pacer: Pacer | None,
    clock: Callable[[], datetime],
) -> Comments:
    """Our comment on every item as planning should see it: what discovery found, and for a
    changed item of a scope whose discovery did not cover it, as the item shows it now."""
    comments = comments_for(state, items)

    def unknown(item: SourceItem) -> bool:
        key = (item.system, item.id)
        return (
            item.scope not in found.scopes
            and key not in found.looked
            and key in comments
            and item.system in connectors
            and (item.scope, item.id) in changed
        )

    todo = [i for i in items if unknown(i)]
    if not todo:
        return comments  # the usual case: no linking, no reads
    # Only items that reach a record are planned, so only those are worth a read.
    wanted = {(i.system, i.id) for i in todo}
    for item in (i for group in link(items, link_cfg) for i in group):
        key = (item.system, item.id)
        if key not in wanted:
            continue
        stored = comments[key]
        shown = _shown_comment(connectors[item.system], item, stored, pacer)
        if shown is None:
            del comments[key]
            continue
        if shown != stored:
            state.record_comment(item.system, item.id, shown.id, shown.text, clock())
        comments[key] = shown
    return comments


def _shown_comment(
    connector: Connector, item: SourceItem, stored: CommentRef, pacer: Pacer | None
) -> CommentRef | None:
    """Our comment as `item` shows it now; our notes when it cannot be read."""
    system, _, name = item.scope.partition(":")
    if pacer:
        pacer.wait(item.system, write=False)
    try:
        for marker in markers_for(item.system, item.id, item.uid):
            found = connector.find_comment(Scope(system, name), item.id, marker)
            if found is not None:
                return found
        return None
    except ConnectorError as exc:
        log.warning("could not read our comment on %s, planning from state: %s", item.key, exc)
        return stored
