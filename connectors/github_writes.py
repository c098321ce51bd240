"""Carrying out writes on GitHub: comments and labels, and the report's published issue.

Writes use PyGithub's own calls on lazily built objects (no GET before the write). The client
retries nothing (`retry=None`): a POST that got a 500 or timed out is never re-sent, by PyGithub
or by us, so a comment cannot be doubled; the engine looks for the marker before re-creating.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from github import GithubException
from github.IssueComment import IssueComment

from ._answers import date_header
from .base import Scope, WriteOp, WriteResult
from .errors import ItemError, NotFound
from .github_errors import message
from .github_session import (
    ISSUE_PERMISSION,
    READ_PERMISSION,
    WRITE_PERMISSION,
    GithubSession,
    split_item,
)

__all__ = ["GithubWrites"]


def _utc(when: datetime | None) -> datetime | None:
    """PyGithub's times are UTC; older versions give them naive."""
    if when is None:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


class GithubWrites(GithubSession):
    """`apply` for GitHub, and `publish_issue` for `handoff report --publish`."""

    def apply(self, op: WriteOp) -> WriteResult:
        """Carry out one comment or label write on a pull request or issue."""
        full, number = split_item(op.item_id)
        scope = Scope(self.system, full)
        issue = self._repo_obj(full).get_issue(number)  # lazy: no request

        if op.action == "comment.create":
            made = self._call(
                scope,
                lambda: issue.create_comment(op.body),
                WRITE_PERMISSION,
                idempotent=False,
                item_id=op.item_id,
            )
            # The answer's updated_at is the issue's too: our echo in the next pull.
            return WriteResult(op.key, True, target=str(made.id), updated=_utc(made.updated_at))
        if op.action == "comment.update":
            path = self._route(f"/repos/{full}/issues/comments/{op.target}")
            url = f"{self.client.requester.base_url}{path}"
            comment = IssueComment(self.client.requester, url=url)  # lazy: no request
            self._call(scope, lambda: comment.edit(op.body), WRITE_PERMISSION, item_id=op.item_id)
            # edit() took the answer's attributes: reading updated_at costs no request.
            return WriteResult(op.key, True, target=op.target, updated=_utc(comment.updated_at))
        if op.action == "comment.delete":
            # A later duplicate of our comment (a race between two runs); already gone is done.
            url = f"{self.client.requester.base_url}/repos/{full}/issues/comments/{op.target}"
            dup = IssueComment(self.client.requester, url=url)  # lazy: no request
            try:
                self._call(scope, dup.delete, WRITE_PERMISSION, item_id=op.item_id)
            except NotFound:
                return WriteResult(op.key, True, target=op.target, detail="already gone")
            return WriteResult(op.key, True, target=op.target)
        if op.action == "label.add":
            return self._add_label(op, scope, issue.url)
        if op.action == "reaction.create":
            return self._react(op, scope, full)
        if op.action == "label.remove":

            def remove() -> tuple[str, datetime | None]:
                # As Issue.remove_from_labels sends it, keeping the answer's Date: the
                # answer is the label list, and its Date is when the issue moved.
                url = f"{issue.url}/labels/{quote(op.name)}"
                try:
                    headers, _ = self.client.requester.requestJsonAndCheck("DELETE", url)
                    return "", date_header(headers)
                except GithubException as e:
                    if e.status == 404 and "label does not exist" in message(e).lower():
                        return "label was not on the item", None  # the goal already holds
                    raise

            detail, when = self._call(scope, remove, WRITE_PERMISSION, item_id=op.item_id)
            return WriteResult(op.key, True, detail=detail, updated=when)
        raise ItemError(
            f"cannot {op.action} on GitHub", item_id=op.item_id, system=self.system, scope=full
        )

    def _react(self, op: WriteOp, scope: Scope, full: str) -> WriteResult:
        # Our answer to a person's command, beside the line in our comment. GitHub answers 200
        # with the reaction already there, so a retry cannot double it; it moves no item.
        url = f"{self.client.requester.base_url}/repos/{full}/issues/comments/{op.target}"
        comment = IssueComment(self.client.requester, url=url)  # lazy: no request
        try:
            self._call(
                scope, lambda: comment.create_reaction(op.value), WRITE_PERMISSION,
                item_id=op.item_id,
            )  # fmt: skip
        except NotFound:
            return WriteResult(op.key, True, target=op.target, detail="the comment is gone")
        return WriteResult(op.key, True, target=op.target)

    def _add_label(self, op: WriteOp, scope: Scope, issue_url: str) -> WriteResult:
        # GitHub's description takes {"labels": [...]}; PyGithub's add_to_labels would send
        # a bare array, so the request goes through its requester instead.
        add = {"labels": [op.name]}
        post = self.client.requester.requestJsonAndCheck
        headers, _ = self._call(
            scope,
            lambda: post("POST", f"{issue_url}/labels", input=add),
            WRITE_PERMISSION,
            item_id=op.item_id,
        )
        # The answer is the label list, no issue: its Date is when the issue moved.
        return WriteResult(op.key, True, updated=date_header(headers))

    # -- publishing (`handoff report --publish`) ----------------------------------------------
    def publish_issue(self, repo: str, title: str, body: str, marker: str) -> tuple[int, str, bool]:
        """Create our one issue in `repo` carrying `marker`, or edit it in place if it exists:
        (number, url, created).

        It is found among the issues our login opened, oldest first at 100 a page, so one
        request finds it unless the bot opened a hundred issues before it. `body` must contain
        `marker`. A create is not retried: after a lost answer, the next run finds it instead.
        """
        if marker not in body:
            raise ValueError("the issue body must carry the marker it is found again by")
        scope = Scope(self.system, repo)
        params = {"creator": self.me(), "state": "all", "sort": "created", "direction": "asc"}
        found: dict[str, Any] | None = None
        for raw in self._list(scope, f"/repos/{repo}/issues", params, READ_PERMISSION):
            if "pull_request" not in raw and marker in (raw.get("body") or ""):
                found = raw
                break
        gh_repo = self.client.get_repo(repo)  # lazy: no request
        if found is None:
            made = self._call(
                scope,
                lambda: gh_repo.create_issue(title=title, body=body),
                ISSUE_PERMISSION,
                idempotent=False,
            )
            return made.number, made.html_url, True
        number = int(found["number"])
        issue = gh_repo.get_issue(number)  # lazy: no request
        # The state is left alone: a lead who closed the issue keeps it closed.
        self._call(scope, lambda: issue.edit(title=title, body=body), ISSUE_PERMISSION)
        return number, str(found.get("html_url") or ""), False
