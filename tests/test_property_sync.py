"""A stateful property test: random team edits, syncs, faults and SIGKILLs, then one clean sync.

Hypothesis drives the small team workspace through the real jira, PyGithub and notion clients.
Whatever happened before, after a final fault-free sync:

- every item holds at most one marker comment (read back through each API), and the one it
  holds says what the planner wants (and a full dry run plans nothing);
- every Jira/GitHub item carries exactly the managed labels its record's findings call for;
- the audit log accounts for every write the sandbox received: each write request matches an
  audit row of the same system, item and action (sending, done or failed), and each write the
  audit calls done reached the sandbox.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import requests
from engine_fixtures import BEN_NOTION, workspace, write_config
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from connectors._retry import FAST_POLICY
from connectors.sandbox import JIRA_EMAIL, Fault, LoggedRequest, Sandbox
from connectors.sandbox.notion_model import norm_id
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions, SyncResult, plan_config
from sync.settings import load_settings
from sync.store.sqlite import SqliteStore
from sync.writeback.annotations import labels_for
from sync.writeback.render import MARKER_PREFIX, is_current

# End to end through the real clients and the sandbox: `-m 'not slow'` leaves it out.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
# FAST_POLICY with a 1 s client timeout, so a write that lands but never answers costs 1 s.
POLICY = replace(FAST_POLICY, timeout=1.0)
HANG = 1.5  # seconds a committed request hangs: longer than POLICY.timeout

PAGE = "9a8b7c6d-0000-4000-8000-0000000000a1"
CY_NOTION = "0a1b2c3d-0000-4000-8000-000000000003"
JIRA_KEYS = ("EXP-1", "EXP-2", "EXP-3")
PULLS = (1, 2)
JIRA_AUTH = (JIRA_EMAIL, "sandbox-jira-write")
HEADERS = {
    "github": {"Authorization": "token sandbox-github-write"},
    "notion": {"Authorization": "Bearer sandbox-notion-write", "Notion-Version": "2025-09-03"},
}
HYPOTHESIS = "\n\nh2. Hypothesis\nShorter forms lift completion."
FOREIGN_LABEL = "team:checkout"  # a label we do not manage: must survive every sync

# Faults a sync may meet: (method, path regex, fault). "GET" and "POST /query" are reads.
FAULTS = [
    *[(m, p, Fault(status=s)) for s in (500, 503) for m, p in (("GET", "."), ("WRITE", "."))],
    ("*", "/rest/api/", Fault(status=429, retry_after=1)),
    ("*", "/v1/", Fault(status=429, retry_after=1)),
    ("*", "/api/v3/", Fault(status=429, retry_after=1)),
    ("GET", ".", Fault(drop=True)),
    ("WRITE", ".", Fault(drop=True)),
    ("GET", ".", Fault(cut=True)),
    ("POST", "/query$", Fault(cut=True)),
    ("GET", ".", Fault(commit=True, delay=HANG)),
    ("WRITE", ".", Fault(commit=True, delay=HANG)),
    ("POST", "/comments?$", Fault(commit=True, delay=HANG)),
]
ANY_ITEM = "*"  # a request whose body never arrived: it names no item
SYNC_MODES = ["normal", "dry-run", "full", "jira", "github", "notion"]


def the_workspace() -> dict[str, Any]:
    """The engine fixtures' workspace plus Cy, a person who has left (inactive everywhere)."""
    ws = workspace()
    cy = {
        "key": "cy",
        "name": "Cy Lima",
        "email": "cy@example.com",
        "jira_account_id": "acc-cy",
        "github_login": "cy-gh",
        "notion_user_id": CY_NOTION,
        "time_zone": "Europe/Lisbon",
        "active": False,
    }
    ws["people"] = [*ws["people"], cy]
    return ws


def _norm(item_id: str) -> str:
    return item_id.replace("-", "").lower()


class SyncMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="handoff-prop-"))
        self.sb = Sandbox(the_workspace())
        self.sb.start()
        self.config = write_config(self.tmp / "c.toml", self.sb.url, self.tmp / "state.db")
        self.settings = load_settings(self.config)
        self.team_writes: set[int] = set()  # indices in sb.log() of writes the team made
        self.pending: list[tuple[str, str, Fault, int, int]] = []  # faults for the next sync
        self.deleted: dict[str, str] = {}  # comment id -> item id, for comments deleted by hand

    # -- team members ----------------------------------------------------------------------
    def _as_team(self, *calls: tuple[str, str, Any]) -> None:
        """HTTP writes made by a person, kept apart from ours in the sandbox log."""
        start = len(self.sb.log())
        for method, path, body in calls:
            system = "jira" if path.startswith("/rest/") else "notion"
            if path.startswith("/api/v3/"):
                system = "github"
            kw: dict[str, Any] = {"json": body, "timeout": 5}
            if system == "jira":
                kw["auth"] = JIRA_AUTH
            else:
                kw["headers"] = HEADERS[system]
            r = requests.request(method, self.sb.url + path, **kw)
            assert r.status_code < 300, (method, path, r.status_code, r.text)
        self.team_writes.update(range(start, len(self.sb.log())))

    @rule(key=st.sampled_from(JIRA_KEYS), fill=st.booleans())
    def edit_jira_brief(self, key: str, fill: bool) -> None:
        """Fill in a missing hypothesis, or delete the whole description."""
        text = ""
        if fill:
            text = str(self.sb.jira.find_issue(key).get("description") or "")
            text += "" if "Hypothesis" in text else HYPOTHESIS
        self._as_team(("PUT", f"/rest/api/2/issue/{key}", {"fields": {"description": text}}))

    @rule(key=st.sampled_from(JIRA_KEYS), who=st.sampled_from(["acc-ben", "acc-cy", None]))
    def change_jira_owner(self, key: str, who: str | None) -> None:
        """The outcome owner becomes Ben, Cy (who has left), or nobody."""
        value = {"accountId": who} if who else None
        self._as_team(("PUT", f"/rest/api/2/issue/{key}", {"fields": {"reporter": value}}))

    @rule(
        item=st.sampled_from([*JIRA_KEYS, *PULLS]),
        label=st.sampled_from(["handoff:ownerless", "handoff:missing-fields", FOREIGN_LABEL]),
        add=st.booleans(),
    )
    def edit_label(self, item: str | int, label: str, add: bool) -> None:
        if isinstance(item, str):
            op = {"add" if add else "remove": label}
            self._as_team(("PUT", f"/rest/api/2/issue/{item}", {"update": {"labels": [op]}}))
            return
        path = f"/api/v3/repos/acme/web/issues/{item}/labels"
        if add:
            self._as_team(("POST", path, {"labels": [label]}))
        elif label in self.sb.github.repos["acme/web"].items[item].labels:
            self._as_team(("DELETE", f"{path}/{label}", None))

    @rule(number=st.sampled_from(PULLS), link=st.booleans())
    def edit_pull_title(self, number: int, link: bool) -> None:
        """No PATCH route for pulls in the sandbox: a person renames it in the sandbox itself."""
        repo = self.sb.github.repos["acme/web"]
        with self.sb.lock:
            item = repo.items[number]
            item.title = f"EXP-{number} rework" if link else "Tidy CSS again"
            repo.touch(item, self.sb.now())

    @rule(
        prop=st.sampled_from(["Outcome owner", "Handoff check"]),
        value=st.sampled_from(["ben", "cy", "nobody", "text"]),
    )
    def edit_notion_property(self, prop: str, value: str) -> None:
        body: dict[str, Any]
        if prop == "Outcome owner":
            ids = {"ben": [BEN_NOTION], "cy": [CY_NOTION]}.get(value, [])
            body = {"people": [{"id": i} for i in ids]}
        else:
            words = "" if value == "nobody" else f"set by hand: {value}"
            body = {"rich_text": [{"text": {"content": words}}] if words else []}
        self._as_team(("PATCH", f"/v1/pages/{PAGE}", {"properties": {prop: body}}))

    @rule(item=st.sampled_from(["jira", "github", "notion"]), keep_marker=st.booleans())
    def edit_our_comment_by_hand(self, item: str, keep_marker: bool) -> None:
        """Someone rewrites our comment; the hidden marker line survives or not."""
        found = self._our_comments().get(self._item_of(item), [])
        if not found:
            return
        cid, text = found[0]
        marker = re.search(MARKER_PREFIX + r"\S+", text)
        new = "Fixed it, see the brief."
        if keep_marker and marker:
            new += "\n" + marker.group(0)
        if item == "jira":
            self._as_team(("PUT", f"/rest/api/2/issue/EXP-2/comment/{cid}", {"body": new}))
        elif item == "github":
            self._as_team(("PATCH", f"/api/v3/repos/acme/web/issues/comments/{cid}", {"body": new}))
        else:
            rich = [{"text": {"content": new}}]
            self._as_team(("PATCH", f"/v1/comments/{cid}", {"rich_text": rich}))

    @rule(item=st.sampled_from(["jira", "github", "notion"]))
    def delete_our_comment_by_hand(self, item: str) -> None:
        """None of the three sandbox APIs routes a comment DELETE: remove it in the sandbox,
        moving the item's edit time as the real services do."""
        sb = self.sb
        with sb.lock:
            if item == "jira":
                issue = sb.jira.find_issue("EXP-2")
                issue["comments"] = [c for c in issue["comments"] if not _ours(str(c["body"]))]
                sb.jira.touch(issue)
            elif item == "github":
                repo = sb.github.repos["acme/web"]
                pull = repo.items[2]
                for cid in [c for c in pull.comments if _ours(repo.comments[c].body)]:
                    self.deleted[str(cid)] = "acme/web#2"
                    pull.comments.remove(cid)
                    del repo.comments[cid]
                repo.touch(pull, sb.now())
            else:
                page = sb.notion.pages[PAGE]
                for c in [c for c in page.comments if _ours(_rich_text(c["rich_text"]))]:
                    self.deleted[norm_id(c["id"])] = _norm(PAGE)
                    page.comments.remove(c)
                    sb.notion.comments.pop(c["id"], None)
                sb.notion._touch(page)

    # -- faults, syncs, crashes ------------------------------------------------------------
    @rule(
        which=st.sampled_from(range(len(FAULTS))),
        times=st.integers(1, 2),
        after=st.integers(0, 3),
    )
    def fault(self, which: int, times: int, after: int) -> None:
        """A fault the next in-process sync meets (team edits never do)."""
        method, path, fault = FAULTS[which]
        self.pending.append((method, path, fault, times if not fault.commit else 1, after))

    @rule(mode=st.sampled_from(SYNC_MODES))
    def sync(self, mode: str) -> None:
        faulty = bool(self.pending)
        for method, path, fault, times, after in self.pending:
            self.sb.inject(method, path, fault, times=times, after=after)
        self.pending = []
        writes_before = len(self.sb.log(write=True))
        try:
            result = self._sync(self._options(mode))
        finally:
            self.sb.clear_faults()
        if mode == "dry-run":
            assert len(self.sb.log(write=True)) == writes_before, "a dry run wrote"
        if not faulty:
            assert result.exit_code == 0, result.errors or result.applied

    @rule(k=st.integers(0, 6))
    def crash(self, k: int) -> None:
        """SIGKILL `handoff sync` while its (k+1)-th write hangs after landing on the server."""
        self.pending = []
        self.sb.inject("WRITE", ".", Fault(commit=True, delay=30), after=k)
        start = self.sb.arrived(write=True)
        proc = subprocess.Popen(
            [sys.executable, "-m", "sync.commands.cli", "sync", "--config", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        try:
            deadline = time.monotonic() + 60
            while self.sb.arrived(write=True) < start + k + 1 and proc.poll() is None:
                assert time.monotonic() < deadline, "the sync never reached that write"
                time.sleep(0.01)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            _, err = proc.communicate(timeout=30)
            # Fewer writes than k+1: the run simply finished, and must have finished well.
            assert proc.returncode in (0, -signal.SIGKILL), err.decode()
        finally:
            self.sb.clear_faults()
        self._settle()

    # -- the final check -------------------------------------------------------------------
    def teardown(self) -> None:
        try:
            self._settle()
            final = self._sync(SyncOptions())
            assert final.exit_code == 0, final.errors or final.applied
            self._check(final)
        finally:
            self.sb.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _check(self, final: SyncResult) -> None:
        check = self._sync(SyncOptions(dry_run=True, full=True))
        assert check.ops == [], check.plan_text

        comments = self._our_comments()
        assert all(len(found) <= 1 for found in comments.values()), comments
        cfg = plan_config(self.settings)
        with SqliteStore.open(self.settings.state.path) as state:
            stored = {(c.system, c.item_id): c.body for c in state.iter_comments()}
            wanted: dict[str, set[str]] = {}
            for f in final.findings:
                for ref in state.record_items(f.record_key) or []:
                    wanted.setdefault(ref, set()).update(labels_for([f], cfg.label_names))
            audit = state.audit()
        # The comment each item shows is the one we know, and says what we last planned.
        for item, found in comments.items():
            system, _, item_id = item.partition(":")
            body = stored.get((system, item_id))
            if body is None:
                assert found == [], (item, "a comment we do not know about", found)
            else:
                assert len(found) == 1, (item, "our comment is gone")
                assert is_current(found[0][1], body), (item, found[0][1], body)
        # Managed labels on each item are exactly those its record's findings call for.
        for item, labels in self._labels().items():
            assert labels & cfg.managed() == wanted.get(item, set()), (item, labels)
        self._check_audit(audit)

    def _check_audit(self, audit: list[Any]) -> None:
        ours = [e for i, e in enumerate(self.sb.log()) if e.write and i not in self.team_writes]
        received: Counter[tuple[str, str, str]] = Counter()
        landed: Counter[tuple[str, str, str]] = Counter()
        for e in ours:
            for key in self._write_keys(e):
                received[key] += 1
                landed[key] += 200 <= e.status < 300
        by_result: dict[str, Counter[tuple[str, str, str]]] = {}
        for row in audit:
            key = (row.system, _norm(row.item_id), _what(row.action))
            by_result.setdefault(row.result, Counter())[key] += 1
        accounted = by_result.get("sending", Counter())
        for key, n in received.items():
            if key[1] == ANY_ITEM:
                assert any(k[0] == key[0] and k[2] == key[2] for k in accounted), key
                continue
            assert accounted[key], (key, "a write the audit log does not account for")
            # Each send is at most one request per policy attempt, twice for a create that
            # replaced a deleted comment.
            assert n <= accounted[key] * 2 * 6, (key, n, accounted[key])
        for key, n in by_result.get("done", Counter()).items():
            assert landed[key] >= n, (key, "the audit says done; the sandbox never got it")

    # -- helpers ---------------------------------------------------------------------------
    def _options(self, mode: str) -> SyncOptions:
        if mode in ("jira", "github", "notion"):
            return SyncOptions(only=frozenset({mode}))
        return SyncOptions(dry_run=mode == "dry-run", full=mode == "full")

    def _sync(self, opts: SyncOptions) -> SyncResult:
        conns = connect(self.settings, only=opts.only, policy=POLICY)
        engine = Engine(self.settings, conns.connectors, conns.scopes)
        return engine.run(opts)

    def _settle(self) -> None:
        """Wait until a killed run's last requests have been logged."""
        seen = -1
        for _ in range(50):
            now = len(self.sb.log())
            if now == seen:
                return
            seen = now
            time.sleep(0.05)

    def _item_of(self, system: str) -> str:
        return {"jira": "jira:10001", "github": "github:acme/web#2", "notion": "notion:" + PAGE}[
            system
        ]

    def _our_comments(self) -> dict[str, list[tuple[str, str]]]:
        """(id, text) of every marker comment on each item, read through each API."""
        out: dict[str, list[tuple[str, str]]] = {}
        for key in JIRA_KEYS:
            issue = self.sb.jira.find_issue(key)
            r = requests.get(
                f"{self.sb.url}/rest/api/2/issue/{key}/comment", auth=JIRA_AUTH, timeout=5
            )
            found = [(c["id"], c["body"]) for c in r.json()["comments"] if _ours(c["body"])]
            out[f"jira:{issue['id']}"] = found
        for n in PULLS:
            r = requests.get(
                f"{self.sb.url}/api/v3/repos/acme/web/issues/{n}/comments",
                headers=HEADERS["github"],
                timeout=5,
            )
            found = [(str(c["id"]), c["body"]) for c in r.json() if _ours(c["body"])]
            out[f"github:acme/web#{n}"] = found
        r = requests.get(
            f"{self.sb.url}/v1/comments",
            params={"block_id": PAGE},
            headers=HEADERS["notion"],
            timeout=5,
        )
        texts = [(c["id"], _rich_text(c["rich_text"])) for c in r.json()["results"]]
        out["notion:" + PAGE] = [(i, t) for i, t in texts if _ours(t)]
        return out

    def _labels(self) -> dict[str, set[str]]:
        """The labels each Jira issue and pull request shows, read through each API."""
        out: dict[str, set[str]] = {}
        for key in JIRA_KEYS:
            r = requests.get(
                f"{self.sb.url}/rest/api/2/issue/{key}",
                params={"fields": "labels"},
                auth=JIRA_AUTH,
                timeout=5,
            )
            out[f"jira:{r.json()['id']}"] = set(r.json()["fields"]["labels"])
        for n in PULLS:
            r = requests.get(
                f"{self.sb.url}/api/v3/repos/acme/web/issues/{n}/labels",
                headers=HEADERS["github"],
                timeout=5,
            )
            out[f"github:acme/web#{n}"] = {x["name"] for x in r.json()}
        return out

    def _write_keys(self, e: LoggedRequest) -> list[tuple[str, str, str]]:
        """(system, item id, action) of one write request we made."""
        sb, path, body = self.sb, e.path, e.body
        if e.service == "jira":
            m = re.fullmatch(r"/rest/api/[23]/issue/([^/]+)(/comment.*|/properties/.*)?", path)
            assert m, path
            ref = m.group(1)
            item = ref if ref.isdigit() else sb.jira.by_key[ref.upper()]
            tail = m.group(2) or ""
            if tail.startswith("/comment"):
                return [("jira", item, "comment")]
            if tail.startswith("/properties"):
                return [("jira", item, "entity_property.set")]
            ops = (body or {}).get("update", {}).get("labels", [])
            return [("jira", item, "label." + next(iter(op))) for op in ops]
        if e.service == "github":
            m = re.fullmatch(r"/api/v3/repos/([^/]+/[^/]+)/issues/(\w+)/(\w+)(/.*)?", path)
            assert m, path
            repo, num, what = m.group(1), m.group(2), m.group(3)
            if num == "comments":  # PATCH /issues/comments/{id}, maybe of one deleted by hand
                found = sb.github.repos[repo].comments.get(int(what))
                item = f"{repo}#{found.number}" if found else self.deleted[what]
                return [("github", item, "comment")]
            if what == "comments":
                return [("github", f"{repo}#{num}", "comment")]
            action = "label.add" if e.method == "POST" else "label.remove"
            names = body["labels"] if isinstance(body, dict) else [unquote(m.group(4) or "")]
            return [("github", f"{repo}#{num}", action) for _ in names]
        m = re.fullmatch(r"/v1/(comments|pages)(?:/([^/]+))?", path)
        assert m, path
        if m.group(1) == "pages":
            return [("notion", _norm(m.group(2)), "property.set")]
        if m.group(2):  # PATCH /v1/comments/{id}, maybe of one deleted by hand
            cid = norm_id(m.group(2))
            page = sb.notion.comments.get(cid)
            return [("notion", _norm(page[0].id) if page else self.deleted[cid], "comment")]
        if not isinstance(body, dict):  # killed between headers and body: an item unknown
            return [("notion", ANY_ITEM, "comment")]
        return [("notion", _norm(body["parent"]["page_id"]), "comment")]


def _what(action: str) -> str:
    # A planned create may go out as an update of the comment found by its marker, and an
    # update of a deleted comment as a create: on the wire both are "our comment".
    return "comment" if action.startswith("comment.") else action


def _ours(text: str) -> bool:
    return MARKER_PREFIX in text


def _rich_text(rich: list[dict[str, Any]]) -> str:
    return "".join(t.get("plain_text") or t.get("text", {}).get("content", "") for t in rich)


SyncMachine.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=8,
    deadline=None,
    derandomize=True,  # the same sequences on every run and machine
    suppress_health_check=[HealthCheck.too_slow],
)
test_sync_survives_edits_faults_and_crashes = SyncMachine.TestCase
