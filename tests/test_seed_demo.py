"""The demo exercises each of the seeds' checks: every handoff listing `checks` in demo.json
shows those (code, subject) findings after `handoff demo`, and the demo's other expectations
(tests/test_demo.py) keep holding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.sandbox.demo import SOURCE
from sync.commands.demo import run_demo

pytestmark = pytest.mark.slow  # end to end through the real clients and the sandbox


def test_each_seed_check_has_a_demo_handoff_that_shows_it(tmp_path: Path) -> None:
    handoffs = json.loads(SOURCE.read_text(encoding="utf-8"))["handoffs"]
    wanted = {(h["key"], code, subject) for h in handoffs for code, subject in h.get("checks", [])}
    subjects = {s for _, _, s in wanted}
    # One demo handoff per check: decision rights, separate owners, a go naming who, analysis
    # drifting to inconclusive, the review cadence, expiry from design, a function's tier.
    assert {"decide", "approve", "outcome_owner/engineering_owner", "go decider"} <= subjects
    assert {"inconclusive", "review cadence", "expiry", "cost-cap sign-off"} <= subjects
    result = run_demo(tmp_path / "demo")
    found = {(f.record_key, f.code, f.subject) for f in result.sync.findings}
    assert wanted <= found, sorted(wanted - found)
    # Each of those handoffs shows only what it is there to show.
    for h in handoffs:
        if h.get("checks"):
            codes = {c for k, c, _ in found if k == h["key"]}
            assert codes == set(h["shows"]), (h["key"], codes)
