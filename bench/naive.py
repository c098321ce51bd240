"""The baseline: the sync a user would write from the client libraries' own documentation.

List every item with the library's paginator, then ask each item for its comments to find ours
(by the same marker), then post, edit and label one call at a time with the library's object
methods. The content is ours: items become `SourceItem`s through the connectors' own field
conversion, and records, findings and the writes each item needs come from `mapping` and
`sync.writeback.plan`/`sync.writeback.render`, so the two syncs differ only in how they talk to
the APIs.

What the docs suggest, per library:
- jira: `enhanced_search_issues(jql, maxResults=0)` (all fields), `comments(issue)` per issue,
  `add_comment`, `comment.update(body=...)`, `issue.update(fields={"labels": [...]})`.
- PyGithub: `repo.get_pulls(state="all")` (default page size 30), `pr.get_issue_comments()` per
  PR, `pr.create_issue_comment`, `comment.edit`, `pr.add_to_labels`/`remove_from_labels`.
  Its default throttle (0.25 s between requests, 1 s between writes) is turned off so that the
  comparison counts the strategy's requests, not a sleep.
- notion-client: `iterate_paginated_api(data_sources.query)`, `comments.list` per page,
  `comments.create`, `comments.update`, `pages.update(properties=...)`.

No state, no cursor: every run lists everything and reads every item's comments again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from github import Auth, Github
from jira import JIRA
from notion_client import Client
from notion_client.helpers import iterate_paginated_api

from connectors.base import CommentRef, Scope, SourceItem, WriteOp
from connectors.github import GithubConnector
from connectors.jira import JiraConnector, adf_plain_text
from connectors.notion import NotionConnector, _parse_time
from mapping.link import build_records
from mapping.rules import evaluate
from sync.engine.connect import scopes_of
from sync.engine.run import plan_config
from sync.settings import Settings
from sync.writeback.plan import ItemView, Target, plan

__all__ = ["NaiveResult", "run_naive"]

log = logging.getLogger(__name__)


@dataclass
class NaiveResult:
    items: int = 0
    records: int = 0
    findings: int = 0
    writes: dict[str, int] = field(default_factory=dict)  # action -> count sent


def _secret(settings: Settings, system: str) -> str:
    token = getattr(settings, system).token
    return str(token.get_secret_value()) if token is not None else ""


class _Naive:
    def __init__(self, settings: Settings, paced: bool = False) -> None:
        self.settings = settings
        cfg = settings.jira
        self.jira = JIRA(
            server=cfg.url,
            basic_auth=(cfg.email, _secret(settings, "jira")),
            options={"rest_api_version": str(cfg.api_version)},
        )
        # Against the APIs' limits, PyGithub as its users get it: its own pacing (0.25 s
        # between requests, 1 s between writes) keeps it under GitHub's secondary limits,
        # which it does not retry for a POST or PATCH. Without limits, no pacing to flatter us.
        spacing = {} if paced else {"seconds_between_requests": 0, "seconds_between_writes": 0}
        self.gh = Github(
            base_url=settings.github.url.rstrip("/"),
            auth=Auth.Token(_secret(settings, "github")),
            **spacing,
        )
        self.notion = Client(auth=_secret(settings, "notion"), base_url=settings.notion.url)
        # Only the connectors' pure raw-JSON -> SourceItem conversions are used (no I/O).
        self._jc = JiraConnector(self.jira, api_version=cfg.api_version)
        self._gc = GithubConnector(self.gh)
        self._nc = NotionConnector(self.notion, body_fields=False)
        self.handles: dict[tuple[str, str], Any] = {}  # item -> library object to write through
        self.found: dict[tuple[str, str], Any] = {}  # item -> our comment object

    # -- reading -------------------------------------------------------------------------
    def pull(self) -> Iterator[SourceItem]:
        scopes = scopes_of(self.settings)
        me_jira = self.jira.myself()["accountId"]
        custom = {f["id"]: f["name"] for f in self.jira.fields() if f.get("custom")}
        me_gh = self.gh.get_user().login
        me_notion = self.notion.users.me()["id"]
        for scope in scopes:
            if scope.system == "jira":
                yield from self._jira(scope, custom, me_jira)
            elif scope.system == "github":
                yield from self._github(scope, me_gh)
            else:
                yield from self._notion(scope, me_notion)

    def _jira(self, scope: Scope, custom: dict[str, str], me: str) -> Iterator[SourceItem]:
        for issue in self.jira.enhanced_search_issues(f'project = "{scope.name}"', maxResults=0):
            item = self._jc._item(scope, issue.raw, custom)
            ref = None
            for c in self.jira.comments(issue):
                text = adf_plain_text(c.raw.get("body"))
                if (c.raw.get("author") or {}).get("accountId") == me and "handoff-sync:" in text:
                    ref = CommentRef(str(c.id), text)
                    self.found[("jira", item.id)] = c
            self.handles[("jira", item.id)] = issue
            yield replace(item, comment=ref)

    def _github(self, scope: Scope, me: str) -> Iterator[SourceItem]:
        repo = self.gh.get_repo(scope.name)
        for pr in repo.get_pulls(state="all"):
            # The list item's own fields only: touching a missing one costs a GET per PR.
            item = self._gc._item(scope, pr._rawData, "pull")
            ref = None
            for c in pr.get_issue_comments():
                if c.user.login == me and "handoff-sync:" in (c.body or ""):
                    ref = CommentRef(str(c.id), c.body)
                    self.found[("github", item.id)] = c
            self.handles[("github", item.id)] = pr
            yield replace(item, comment=ref)

    def _notion(self, scope: Scope, me: str) -> Iterator[SourceItem]:
        db = self.notion.databases.retrieve(database_id=scope.name)
        for ds in db.get("data_sources", []):
            query = self.notion.data_sources.query
            for page in iterate_paginated_api(query, data_source_id=ds["id"]):
                item = self._nc._item(scope, page, _parse_time(page["last_edited_time"]))
                ref = None
                listed = self.notion.comments.list(block_id=page["id"])
                for c in listed.get("results", []):
                    text = "".join(t.get("plain_text", "") for t in c.get("rich_text", []))
                    if (c.get("created_by") or {}).get("id") == me and "handoff-sync:" in text:
                        ref = CommentRef(c["id"], text)
                yield replace(item, comment=ref)

    # -- writing -------------------------------------------------------------------------
    def write(self, op: WriteOp) -> None:
        key = (op.system, op.item_id)
        if op.system == "jira":
            issue = self.handles[key]
            if op.action == "comment.create":
                body = json.loads(op.body) if self.settings.jira.api_version == 3 else op.body
                self.jira.add_comment(issue, body)
            elif op.action == "comment.update":
                body = json.loads(op.body) if self.settings.jira.api_version == 3 else op.body
                self.found[key].update(body=body)
            elif op.action in ("label.add", "label.remove"):
                labels = list(issue.fields.labels)
                labels = [*labels, op.name] if op.action == "label.add" else [
                    x for x in labels if x != op.name]
                issue.update(fields={"labels": labels})
        elif op.system == "github":
            pr = self.handles[key]
            if op.action == "comment.create":
                pr.create_issue_comment(op.body)
            elif op.action == "comment.update":
                self.found[key].edit(op.body)
            elif op.action == "label.add":  # GitHub's description takes {"labels": [...]}
                pr.requester.requestJsonAndCheck(
                    "POST", f"{pr.issue_url}/labels", input={"labels": [op.name]})
            elif op.action == "label.remove":
                pr.remove_from_labels(op.name)
        elif op.action == "comment.create":
            self.notion.comments.create(parent={"page_id": op.item_id},
                                        rich_text=json.loads(op.body))
        elif op.action == "comment.update":
            self.notion.comments.update(op.target, rich_text=json.loads(op.body))
        elif op.action == "property.set":
            self.notion.pages.update(page_id=op.item_id,
                                     properties={op.name: json.loads(op.value)})


def run_naive(
    settings: Settings, now: datetime | None = None, *, paced: bool = False
) -> NaiveResult:
    """One naive sync: list, read every item's comments, plan with our code, write one by one."""
    now = now or datetime.now(UTC)
    naive = _Naive(settings, paced)
    items = {(i.system, i.id): i for i in naive.pull()}
    directory = settings.directory()
    records = build_records(items.values(), settings.fields, directory, settings.link)
    rules = settings.rules_config()
    findings = {r.key: evaluate(r, rules, directory, now, {}) for r in records}
    prop = settings.notion_property.name
    targets = []
    for record in records:
        links = tuple((s.item_key, s.url) for s in record.sources)
        for src in record.sources:
            item = items.get((src.system, src.item_id))
            if item is not None:
                view = ItemView.from_item(item, property_name=prop)
                targets.append(Target(view, tuple(findings.get(record.key, ())), links))
    ops = plan(targets, plan_config(settings), directory)
    result = NaiveResult(items=len(items), records=len(records),
                         findings=sum(len(f) for f in findings.values()))
    for op in ops:
        naive.write(op)
        result.writes[op.action] = result.writes.get(op.action, 0) + 1
    return result
