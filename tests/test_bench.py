"""The benchmarks run on a small size and their figures hold together (not timed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import measure, targets  # noqa: E402
from bench.report import TARGETS, TITLE, render, replace_section  # noqa: E402

# One xdist worker runs this module, so the quick benchmark run (about a minute, the module
# fixture) is made once, not once per worker.
pytestmark = pytest.mark.xdist_group("bench")


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    before = (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--json", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert TITLE in proc.stdout
    assert (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8") == before  # not recorded
    data: dict = json.loads(out.read_text(encoding="utf-8"))
    return data


@pytest.mark.slow
def test_quick_run_measures_every_run_and_its_figures_hold_together(quick: dict) -> None:
    (size,) = quick["sizes"].values()
    first, rebuild = size["first"], size["rebuild"]
    pages = sum(targets.list_pages(size["scopes"]).values())
    # A first sync and a full rebuild read every scope whole, at 100 a page.
    assert targets_kind(first, "list") == pages == targets_kind(rebuild, "list")
    # One comment per item of a record with findings, no more, no fewer; every planned write
    # sent once.
    assert first["requests"]["by_class"]["comment.create"] == first["flagged_items"] > 0
    assert sum(first["planned"].values()) == first["requests"]["writes"]
    # Runs 2-5 moved the clock: the child's clock followed the sandbox's.
    for key in ("first", "after", "quiet", "person", "rebuild", "naive_first", "naive_second"):
        run = size[key]
        assert not run["errors"], (key, run["errors"])
        assert run["cpu"] > 0 and run["rss_mb"] > 0 and run["wall"] > 0
    assert size["quiet"]["counts"]["items"] <= size["items"]


@pytest.mark.slow
def test_naive_baseline_plans_the_same_writes_and_reads_every_comment(quick: dict) -> None:
    (size,) = quick["sizes"].values()
    assert size["naive_first"]["planned"] == size["first"]["planned"]
    assert size["naive_second"]["requests"]["by_class"]["lookup"] == size["items"]


@pytest.mark.slow
def test_the_table_holds_every_target_with_a_verdict(quick: dict) -> None:
    text = render(quick)
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    for name, _ in TARGETS:
        (row,) = [r for r in rows if r.startswith(f"| {name} |")]
        cell = row.rsplit(" | ", 1)[1]
        assert cell.endswith(("**met** |", "**missed** |")) or "not run" in cell or (
            "100k" in name), row


def targets_kind(run: dict, kind: str) -> int:
    return sum(n for key, n in run["by_kind"].items() if key.endswith(":" + kind))


def _size(**runs: dict) -> dict:
    base = {"requests": {"total": 10, "reads": 10, "writes": 0, "by_class": {}},
            "by_kind": {"jira:list": 10}, "wall": 1.0, "cpu": 1.0, "rss_mb": 50.0,
            "latency": 0.1, "reads_by_system": {"jira": 10}}
    size = {"items": 100_000, "scopes": {"jira:A": 1000}, "floor": 1005,
            "floor_by_system": {"jira": 1005}, "first_limit": 1105.5, "after_goal": 11,
            "slow": True}
    for key in ("first", "after", "quiet", "person", "rebuild", "naive_first", "naive_second"):
        size[key] = dict(base)
    size.update(runs)
    return size


def test_verdicts_follow_the_figures() -> None:
    """Met and missed are computed, each beside its goal (no run needed)."""
    heavy = dict(_size()["quiet"], cpu=2.5, rss_mb=250.0, wall=4.0)
    naive = dict(_size()["quiet"], wall=30.0,
                 requests={"total": 200, "reads": 200, "writes": 0, "by_class": {}})
    size = _size(quiet=heavy, naive_second=naive)
    text = render({"machine": {"date": "d", "commit": "c", "nproc": "2", "platform": "p",
                               "python": "3"}, "command": "x", "latency": 0.1,
                   "sizes": {"100000": size}})
    row = {line.split(" | ")[0][2:]: line for line in text.splitlines() if line.startswith("| ")}
    assert row["no-change run at 100k: CPU s"].endswith("2.50 s (goal <= 2 s): **missed** |")
    assert row["no-change run at 100k: peak RSS"].endswith("**met** |")
    assert row["latency + rate limits: no-change run wall time"].endswith("**met** |")
    assert "20.0x (goal >= 10x): **met**" in row["requests, naive / ours, no-change run"]
    assert "7.5x (goal >= 5x): **met**" in row[
        "latency + rate limits: wall, naive / ours, no-change run"]
    # 1,005 floor reads on Jira beyond its burst of 20 at 20/s: 49.25 s, longer than the
    # chain of serverInfo, /field and 10 pages at 0.1 s; the goal is 1.5 times that.
    assert "1 s (goal <= 73.88 s): **met**" in row[
        "latency + rate limits: full re-sync wall <= 1.5 x its bound"]


def test_classify_and_pages() -> None:
    assert measure.classify("jira", "GET", "/rest/api/3/search/jql", False) == "list"
    assert measure.classify("jira", "GET", "/rest/api/3/issue/10001/comment", False) == "lookup"
    assert measure.classify("jira", "PUT", "/rest/api/3/issue/10001", True) == "label"
    assert measure.classify("github", "POST", "/api/v3/repos/a/b/issues/2/labels", True) == "label"
    assert measure.classify("github", "PATCH", "/api/v3/repos/a/b/issues/comments/9", True) == (
        "comment.update")
    assert measure.classify("notion", "PATCH", "/v1/pages/x", True) == "property"
    assert measure.classify("github", "GET", "/api/v3/repos/a/b/issues/comments", False) == (
        "comments")
    assert targets.list_pages({"jira:A": 101, "jira:B": 100, "notion:d": 0}) == {
        "jira": 2 + 1, "github": 0, "notion": 1}


def test_github_items_keep_what_the_maps_read_and_drop_the_rest() -> None:
    from connectors.github import slim

    user = {"login": "ana", "type": "User", "url": "u", "followers_url": "f", "avatar_url": "a"}
    raw = {"number": 1, "title": "EXP-1: x", "html_url": "h", "comments_url": "c",
           "_links": {"self": {}}, "user": user, "assignees": [user],
           "head": {"ref": "feature/EXP-1", "label": "acme:feature/EXP-1", "repo": {"id": 9}},
           "base": {"ref": "main", "repo": {"id": 9}}, "labels": [{"name": "bug", "url": "l"}]}
    out = slim(raw)
    assert out["head"] == {"ref": "feature/EXP-1", "label": "acme:feature/EXP-1"}
    assert out["user"] == {"login": "ana", "type": "User"} == out["assignees"][0]
    assert out["labels"] == [{"name": "bug"}] and out["html_url"] == "h"
    assert "_links" not in out and "comments_url" not in out and raw["head"]["repo"] == {"id": 9}


def test_replace_section_keeps_other_sections() -> None:
    text = "# Benchmark results\n\n## Other\nkeep\n"
    once = replace_section(text, TITLE + "\nv1\n")
    twice = replace_section(once + "\n## Later\nalso\n", TITLE + "\nv2\n")
    assert "keep" in twice and "also" in twice and "v2" in twice and "v1" not in twice
