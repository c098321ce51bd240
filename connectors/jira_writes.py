"""Carrying out write operations on Jira: comments, labels, entity properties."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ._answers import date_header
from .base import WriteOp, WriteResult
from .errors import ItemError, NotFound
from .jira_session import JiraSession
from .jira_text import parse_jira_time

__all__ = ["JiraWrites"]


class JiraWrites(JiraSession):
    """`apply` for Jira, one request per operation."""

    def apply(self, op: WriteOp) -> WriteResult:
        item, what = op.item_id, f"issue {op.item_key or op.item_id}"
        kw: dict[str, Any] = {"scope": op.scope, "what": what, "item_id": item}
        if op.action == "comment.create":
            body = self._comment_body(op)
            # Not retried on 5xx/timeouts: it may have landed; the engine looks for the marker.
            created = self._call(
                lambda: self.client.add_comment(item, body), idempotent=False, **kw
            )
            # The comment's `updated` is the issue's too: our echo in the next pull.
            when = _time((created.raw or {}).get("updated"))
            return WriteResult(op.key, ok=True, target=str(created.id), updated=when)
        if op.action == "comment.update":
            body = self._comment_body(op)
            answer = self._call(
                lambda: self._put(f"issue/{item}/comment/{op.target}", {"body": body}), **kw
            )
            return WriteResult(op.key, ok=True, target=op.target, updated=_answer_time(answer))
        if op.action == "comment.delete":
            # A later duplicate of our comment (a race between two runs); already gone is done.
            try:
                self._call(
                    lambda: self.client._session.delete(
                        self.client._get_url(f"issue/{item}/comment/{op.target}")
                    ),
                    **kw,
                )
            except NotFound:
                return WriteResult(op.key, ok=True, target=op.target, detail="already gone")
            return WriteResult(op.key, ok=True, target=op.target)
        if op.action in ("label.add", "label.remove"):
            verb = "add" if op.action == "label.add" else "remove"
            # An `update` operation, not a rewrite of all labels: concurrent edits survive.
            payload = {"update": {"labels": [{verb: op.name}]}}
            # returnIssue: the answer is the issue itself, with the `updated` our write gave
            # it (otherwise 204 and no body); the same request, no read after it.
            answer = self._call(
                lambda: self._put(f"issue/{item}", payload, returnIssue="true"), **kw
            )
            return WriteResult(op.key, ok=True, updated=_answer_time(answer))
        if op.action == "entity_property.set":
            value = json.loads(op.value) if op.value else None
            self._call(lambda: self.client.add_issue_property(item, op.name, value), **kw)
            # Properties do not move `updated`; the search reads the ones we ask it for back.
            shown = {"_properties": {op.name: value}} if op.name in self.properties else None
            return WriteResult(op.key, ok=True, fields=shown)
        raise ItemError(
            f"Jira cannot carry out {op.action!r} on {what}",
            item_id=item,
            system="jira",
            scope=op.scope,
        )

    def _comment_body(self, op: WriteOp) -> Any:
        """v2 takes wiki markup; v3 only ADF, so op.body is the document as JSON text."""
        if self.api_version == 3:
            try:
                return json.loads(op.body)
            except ValueError as exc:
                raise ItemError(
                    "a v3 comment body must be an ADF document as JSON text",
                    item_id=op.item_id,
                    system="jira",
                    scope=op.scope,
                ) from exc
        return op.body

    def _put(self, path: str, payload: dict[str, Any], **params: str) -> Any:
        # The client's Resource.update() GETs the resource again after every PUT; one request
        # is enough. Errors still come out as JIRAError from the client's session.
        url = self.client._get_url(path)
        return self.client._session.put(url, data=json.dumps(payload), params=params or None)


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return parse_jira_time(text)
    except ValueError:
        return None


def _answer_time(response: Any) -> datetime | None:
    """The edit time an answer shows: its body's `updated` (a comment; an issue's is in its
    fields), else its Date header (to the second)."""
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    shown = None
    if isinstance(body, dict):
        fields = body.get("fields")
        shown = _time(fields.get("updated") if isinstance(fields, dict) else body.get("updated"))
    return shown or date_header(getattr(response, "headers", None))
