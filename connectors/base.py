"""The types every connector shares: what a pull yields, what a write asks for, who people are.

Connectors speak HTTP and return these; `mapping` and `sync` read them and never see an SDK.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

__all__ = [
    "COMMAND_WORD",
    "MARKER_PREFIX",
    "OUR_PREFIXES",
    "STEP_PREFIX",
    "SYSTEMS",
    "Account",
    "CommentRef",
    "Connector",
    "Cursor",
    "Said",
    "Scope",
    "SourceItem",
    "WriteAction",
    "WriteOp",
    "WriteResult",
    "content_digest",
    "may_command",
]

SYSTEMS = ("jira", "github", "notion")
# Every marker of ours starts with this (sync.writeback.render makes the rest): what a pull
# looks for when it finds our comments in batches.
MARKER_PREFIX = "handoff-sync:"
# The marker of a reply per escalation step (issue 17, sync.writeback.steps): a distinct kind,
# so a pull looking for our sticky comment never takes a reply for it; both are ours.
STEP_PREFIX = "handoff-step:"
OUR_PREFIXES = (MARKER_PREFIX, STEP_PREFIX)
System = Literal["jira", "github", "notion"]
# What a person's comment holds when it may carry a command for us (mapping.commands reads it).
COMMAND_WORD = "/handoff"


def may_command(text: str) -> bool:
    """Whether a comment's text may hold a command: a person's, never one with our marker."""
    return COMMAND_WORD in text.lower() and not any(p in text for p in OUR_PREFIXES)


@dataclass(frozen=True)
class Scope:
    """One unit of pulling: a Jira project (or JQL), a GitHub repo, a Notion database."""

    system: str
    name: str  # "EXP" | "acme/web" | a Notion database id
    query: str = ""  # Jira: a JQL that replaces `project = name`; GitHub: "issues" adds issues

    @property
    def key(self) -> str:
        return f"{self.system}:{self.name}"


@dataclass(frozen=True)
class Cursor:
    """The last updated time (UTC, tz-aware) a scope's pull has been fully stored up to."""

    updated: datetime
    item_id: str = ""


@dataclass(frozen=True)
class CommentRef:
    """Our own marker comment on an item: its id, and its text as plain text when known."""

    id: str
    text: str = ""
    # Ids of later comments of ours that carry the same marker (a race between two runs or
    # installations): the oldest is kept, these are deleted.
    duplicates: tuple[str, ...] = ()
    # When the comment was last edited (UTC), from the service's own comment timestamps; an
    # item `updated` no later than this (give or take our label writes) shows no human change.
    updated: datetime | None = None


@dataclass(frozen=True)
class Said:
    """A person's comment that may carry `/handoff` commands, as a list the pull read showed it."""

    id: str
    author: str  # Jira accountId | GitHub login | Notion user id
    text: str  # plain text
    at: datetime  # when it was written or last edited (UTC)


@dataclass(frozen=True)
class SourceItem:
    """One Jira issue, GitHub pull request/issue or Notion page, as the field maps need it.

    `fields` holds raw API values: Jira standard fields by id and custom fields by display
    name; a GitHub pull's JSON; a Notion page's `properties` (plus `"_body"` block text when a
    mapped field lives in the page body).
    """

    system: str
    scope: str  # Scope.key
    id: str  # stable and unique in its system: Jira issue id, "acme/web#17", Notion page id
    key: str  # what people call it: "EXP-42", "acme/web#17", the page title
    url: str  # where a person opens it
    kind: str  # "issue" | "pull" | "page"
    updated: datetime  # UTC, tz-aware
    title: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    labels: tuple[str, ...] = ()
    comment: CommentRef | None = None
    state: Literal["present", "deleted", "forbidden"] = "present"
    # The last change a person made, when the state knows `updated` moved because of our own
    # write-back (a comment or label of ours is not activity); None means `updated`.
    activity: datetime | None = None
    # An id that survives renames and moves (Jira's numeric issue id, GitHub's numeric issue
    # id, the Notion page id): our marker names the item by it. Empty means `id`.
    uid: str = ""
    # The pull looked for our comment on this item: `comment` None then means "none of ours
    # there". False: not looked, what the state knows stands.
    comment_read: bool = False
    # People's comments with commands for us, found in the comment lists the pull read anyway
    # (never a read of its own); only those new or edited since the last read, on a read since
    # a cursor. Not part of the item's content (the store keeps them apart).
    said: tuple[Said, ...] = ()


@dataclass(frozen=True)
class Account:
    """A user, group, team or bot as one system reports it."""

    system: str
    id: str  # Jira accountId | GitHub login (teams: "org/slug") | Notion user id
    name: str = ""
    email: str = ""
    active: bool = True
    time_zone: str = ""
    kind: Literal["person", "group", "bot"] = "person"


WriteAction = Literal[
    "comment.create",
    "comment.update",
    "comment.delete",
    "reply.create",  # a new comment per escalation step (sync.writeback.steps)
    "reply.done",  # that comment, edited to say its finding closed (`target`)
    "label.add",
    "label.remove",
    "property.set",
    "entity_property.set",
    "reaction.create",  # on a person's comment (`target`): `value` is the reaction's content
    "notify.send",  # a digest to a person (sync.engine.notify): `name` is the channel
]


@dataclass(frozen=True)
class WriteOp:
    """One planned write, in the target system's own format.

    `body` is the comment as the system takes it: wiki markup (Jira v2), Markdown (GitHub), or
    JSON text of an ADF document (Jira v3) or a Notion rich_text array. `marker` is the string
    that identifies our comment on this item. `value` is JSON text for properties.
    """

    system: str
    scope: str
    item_id: str
    item_key: str
    action: WriteAction
    body: str = ""
    name: str = ""  # label or property name
    value: str = ""  # JSON text
    target: str = ""  # comment id for comment.update
    marker: str = ""

    @property
    def key(self) -> str:
        """Idempotency key: the same write always has the same key."""
        parts = [self.system, self.item_id, self.action, self.name, self.value, self.target]
        parts.append(self.body)
        digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
        return f"{self.system}:{self.item_id}:{self.action}:{digest[:16]}"


@dataclass(frozen=True)
class WriteResult:
    """What a write did: `target` is the comment id it created or edited.

    `updated` is the item's edit time after the write, as the write's own answer shows it
    (None when the answer does not say); `fields` are item fields as the answer shows them
    (a Notion property we set). The state takes both, so the next pull sees our echo as no
    change (see `content_digest`).
    """

    op_key: str
    ok: bool
    target: str = ""
    detail: str = ""
    updated: datetime | None = None
    fields: Mapping[str, Any] | None = None


# Fields that are not content: edit times (ours move them too), comments (our own marker
# comment and its count), and labels (compared as `SourceItem.labels`, which the state keeps
# current after our label writes).
_NOT_CONTENT: dict[str, frozenset[str]] = {
    "jira": frozenset({"updated", "comment", "labels"}),
    "github": frozenset({"updated_at", "comments", "labels"}),
}
# Notion property types that move with every edit of the page, our own included.
_EDIT_STAMPS = frozenset({"last_edited_time", "last_edited_by"})


def content_digest(item: SourceItem) -> str:
    """A digest of what the rules and plan read of `item`: its fields, labels (as a set),
    title, key, url, kind, state and uid; not its edit time nor our comment on it."""
    skip = _NOT_CONTENT.get(item.system, frozenset())
    fields = {
        k: v
        for k, v in item.fields.items()
        if k not in skip and not (isinstance(v, dict) and v.get("type") in _EDIT_STAMPS)
    }
    parts = [fields, sorted(item.labels), item.title, item.key, item.url, item.kind,
             item.state, item.uid]  # fmt: skip
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class Connector(Protocol):
    """What the engine needs from each system."""

    system: str

    def pull(self, scope: Scope, cursor: Cursor | None) -> Iterator[SourceItem]:
        """Yield items of `scope` changed since `cursor` (all items when it is None)."""
        ...

    def people(self) -> Iterator[Account]:
        """Yield every user, group, team and bot this token can see."""
        ...

    def find_comment(self, scope: Scope, item_id: str, marker: str) -> CommentRef | None:
        """Find our comment on an item by its marker, written by our own account."""
        ...

    def apply(self, op: WriteOp) -> WriteResult:
        """Carry out one write; raise a ConnectorError subclass when it fails."""
        ...
