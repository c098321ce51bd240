"""The benchmarks run on a small size and their figures hold together (not timed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import measure  # noqa: E402
from bench.report import TITLE, replace_section  # noqa: E402

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
def test_quick_run_meets_the_request_targets(quick: dict) -> None:
    (size,) = quick["sizes"].values()
    scopes = len(size["scopes"])
    first, steady = size["first"], size["steady"]
    assert first["requests"]["by_class"]["list"] == sum(
        measure.floor_reads({k: n}) [k.split(":")[0]] - measure.FLOOR_CONSTANTS[k.split(":")[0]]
        - measure.FLOOR_PER_SCOPE[k.split(":")[0]]
        for k, n in size["scopes"].items()
    )
    assert steady["requests"]["by_class"]["list"] == scopes
    assert steady["requests"]["writes"] == 0
    assert size["after"]["requests"]["writes"] == 0
    # Right after the writing run, at most one comment read per item we commented on (the
    # engine re-reads our comment on every changed item; see bench/RESULTS.md for its cost).
    lookups = size["after"]["requests"]["by_class"].get("lookup", 0)
    assert lookups <= first["requests"]["by_class"]["comment.create"]
    # One comment per item of a record with findings, no more, no fewer.
    assert first["requests"]["by_class"]["comment.create"] == first["flagged_items"] > 0


@pytest.mark.slow
def test_naive_baseline_plans_the_same_writes_with_more_requests(quick: dict) -> None:
    (size,) = quick["sizes"].values()
    assert size["naive_first"]["planned"] == size["first"]["planned"]
    assert size["naive_second"]["requests"]["by_class"]["lookup"] == size["items"]
    assert size["naive_second"]["requests"]["total"] > 5 * size["steady"]["requests"]["total"]
    assert quick["reconcile"]["records"] >= 300


def test_classify_and_floor() -> None:
    assert measure.classify("jira", "GET", "/rest/api/3/search/jql", False) == "list"
    assert measure.classify("jira", "GET", "/rest/api/3/issue/10001/comment", False) == "lookup"
    assert measure.classify("jira", "PUT", "/rest/api/3/issue/10001", True) == "label"
    assert measure.classify("github", "POST", "/api/v3/repos/a/b/issues/2/labels", True) == "label"
    assert measure.classify("github", "PATCH", "/api/v3/repos/a/b/issues/comments/9", True) == (
        "comment.update")
    assert measure.classify("notion", "PATCH", "/v1/pages/x", True) == "property"
    assert measure.floor_reads({"jira:A": 101, "jira:B": 100, "notion:d": 0}) == {
        "jira": 4 + 2 + 1, "notion": 1 + 1 + 1}


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
