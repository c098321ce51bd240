"""One budget per API, shared by reads and writes (issue 13), checked from the sandbox's own
request log: Notion never above 3 requests in a second, reads included; GitHub's writes one at
a time and under the (here lowered) per-minute budget; two Jira projects searched side by side.

The log stamps a request when its answer is done, so windows are checked a little shorter
than the budget's (the time between sending and answering varies by a few milliseconds).
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import pytest
from engine_fixtures import DB_ID, workspace, write_config

from connectors._retry import FAST_POLICY
from connectors.sandbox import Sandbox
from connectors.sandbox.request_log import LoggedRequest
from sync.engine.connect import connect
from sync.engine.pacing import Pacer, budgets_for
from sync.engine.run import Engine, SyncOptions
from sync.settings import Settings, load_settings

SLACK = 0.1  # seconds: how much the answer times may drift from the send times


def most_in_window(entries: list[LoggedRequest], seconds: float) -> int:
    times = sorted(e.at for e in entries)
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def _sync(settings: Settings, only: str, **opts: Any) -> None:
    pacer = Pacer(budgets_for(settings))
    conns = connect(settings, (only,), policy=FAST_POLICY, pacer=pacer)
    assert not conns.errors, conns.errors
    engine = Engine(settings, conns.connectors, conns.scopes, pacer=pacer)
    engine.run(SyncOptions(only=frozenset({only}), **opts))


def _config(tmp_path: Path, url: str, extra: str = "", projects: str = '["EXP"]') -> Settings:
    path = write_config(tmp_path / "c.toml", url, tmp_path / "s.db")
    text = path.read_text(encoding="utf-8").replace('projects = ["EXP"]', f"projects = {projects}")
    path.write_text(text + extra, encoding="utf-8")
    return load_settings(path)


def _more_notion_pages(ws: dict[str, Any], n: int) -> dict[str, Any]:
    db = next(d for d in ws["notion"]["databases"] if d["id"] == DB_ID)
    first = db["pages"][0]
    for i in range(n):
        page = copy.deepcopy(first)
        page["id"] = f"9a8b7c6d-0000-4000-8000-0000000001{i:02d}"
        page["properties"]["Name"] = f"Brief {i}"
        db["pages"].append(page)
    return ws


def test_notion_stays_at_three_requests_a_second_reads_included(tmp_path: Path) -> None:
    with Sandbox(_more_notion_pages(workspace(), 5)) as sb:
        settings = _config(tmp_path, sb.url)
        _sync(settings, "notion")
        notion = sb.log(service="notion")
        reads = [e for e in notion if not e.write]
        assert len(reads) >= 4 and len(notion) - len(reads) >= 6, [e.path for e in notion]
        assert most_in_window(notion, 1.0 - SLACK) <= 3
        # Notion's own window (9 in any 3 s) never answered 429.
        assert all(e.status != 429 for e in notion)


def test_github_writes_go_one_at_a_time_under_its_budget(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        sb.latency = 0.05
        settings = _config(tmp_path, sb.url, "\n[pacing.github]\nrate = 3\nper = 1.0\n")
        _sync(settings, "github")
        writes = sb.log(service="github", write=True)
        assert len(writes) >= 4, [e.path for e in writes]
        assert most_in_window(writes, 1.0 - SLACK) <= 3
        # Never two in flight: each answer comes at least one request's latency after the last.
        gaps = [b.at - a.at for a, b in itertools.pairwise(writes)]
        assert min(gaps) >= 0.05 * 0.9, gaps


def _two_projects() -> dict[str, Any]:
    ws = workspace()
    ws["jira"]["projects"].append({"key": "OPS", "name": "Operations"})
    for issue in list(ws["jira"]["issues"]):
        twin = copy.deepcopy(issue)
        twin["key"] = issue["key"].replace("EXP-", "OPS-")
        ws["jira"]["issues"].append(twin)
    return ws


def _project(entry: LoggedRequest) -> str:
    jql = " ".join(entry.query.get("jql", []))
    return "OPS" if "OPS" in jql else "EXP"


@pytest.mark.parametrize(("width", "overlap"), [(4, True), (1, False)])
def test_two_jira_projects_are_searched_side_by_side(
    tmp_path: Path, width: int, overlap: bool
) -> None:
    latency = 0.3
    with Sandbox(_two_projects()) as sb:
        settings = _config(
            tmp_path, sb.url, f"\n[pacing.jira]\nwidth = {width}\n", projects='["EXP", "OPS"]'
        )
        sb.latency = latency
        _sync(settings, "jira", dry_run=True)
        searches = [e for e in sb.log(service="jira") if e.path.endswith("/search/jql")]
        by = {p: [e.at for e in searches if _project(e) == p] for p in ("EXP", "OPS")}
        assert by["EXP"] and by["OPS"], [e.query for e in searches]
        # Each search took `latency` on the server: answers closer than that overlapped.
        closest = min(abs(a - b) for a in by["EXP"] for b in by["OPS"])
        assert (closest < latency / 2) is overlap, (closest, by)
