"""The webhook latency benchmark (bench/serve_latency.py) runs at a tiny size and its figures
hold together: every edit's comment change is seen, requests come from the sandbox's log (the
person's own left out), deliveries from what the sandbox posted. Not timed: no figure is held
to a duration."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serve_report import TITLE, percentile, render, replace_section, summary  # noqa: E402

pytestmark = pytest.mark.xdist_group("bench")


def test_percentiles_are_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99
    assert percentile([3.0, 1.0, 2.0], 50) == 2 and percentile([5.0], 99) == 5
    assert math.isnan(percentile([], 50))


def test_the_section_replaces_only_its_own() -> None:
    text = "# Results\n\n## Other\nkept\n\n" + TITLE + "\nold\n\n## Later\nkept too\n"
    out = replace_section(text, TITLE + "\nnew\n")
    assert "old" not in out and "new" in out and out.count("kept") == 2
    assert replace_section("# R\n", TITLE + "\nx\n").endswith(TITLE + "\nx\n")


def test_a_tiny_run_sees_every_edit_and_counts_the_services_requests(tmp_path: Path) -> None:
    out = tmp_path / "serve.json"
    before = (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "serve_latency.py"), "--items", "50",
         "--changes", "3", "--no-latency", "--warm", "0", "--gap", "0.2", "--quiet", "0.5",
         "--set", "debounce_seconds=0.2", "--no-record", "--json", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8") == before
    res = json.loads(out.read_text(encoding="utf-8"))
    fast = res["fast"]
    assert len(fast["rows"]) == 3 and {r["system"] for r in fast["rows"]} == {
        "jira", "github", "notion"}
    assert all(r["seconds"] is not None and r["seconds"] > 0 for r in fast["rows"])
    s = summary(fast)
    assert s["seen"] == 3 and 0 < s["p50"] <= s["p99"] == s["max"]
    req = fast["requests"]
    # Each edit made our comment change: the service read and wrote in every system, and the
    # person's own three requests are counted apart, not as the service's.
    assert req["person_requests"] == 3
    assert all(req["reads_by_system"].get(k, 0) > 0 for k in ("jira", "github", "notion"))
    assert req["by_class"].get("comment.update", 0) + req["by_class"].get(
        "comment.create", 0) >= 3
    assert sum(fast["deliveries"].values()) >= 3 and fast["syncs"] >= 1
    assert s["reads_per_delivery"] == req["reads"] / sum(fast["deliveries"].values())
    assert res["serve"]["rss_mb"] > 0 and res["serve"]["cpu"] > 0
    assert res["exit"] == 0  # SIGTERM with nothing in flight: a clean stop
    assert TITLE in proc.stdout and render(res).startswith(TITLE)
