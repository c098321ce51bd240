"""`handoff demo` in a fresh folder: the report names the known problems, the sandbox holds
one comment per item that has a problem, and nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connectors.sandbox.demo import DEMO_CLEAN, DEMO_EXPECTED
from sync.commands.cli import main
from sync.commands.demo import run_demo

# End to end through the real clients and the sandbox: `-m 'not slow'` leaves it out.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_demo_finds_every_known_problem_and_comments_once_per_item(tmp_path: Path) -> None:
    held: dict[str, Any] = {}

    def target(e: Any) -> str:
        # Notion comments all go to /v1/comments: the page is in the body.
        return e.path + (json.dumps(e.body.get("parent")) if e.path == "/v1/comments" else "")

    def inspect(sb: Any) -> None:
        held["creates"] = Counter(
            target(e)
            for e in sb.log(write=True)
            if e.method == "POST" and e.path.endswith(("/comment", "/comments"))
        )

    result = run_demo(tmp_path / "demo", inspect=inspect)
    found = {(f.record_key, f.code) for f in result.sync.findings}
    for code, keys in DEMO_EXPECTED.items():
        for key in keys:
            assert (key, code) in found, f"the demo should show {code} on {key}"
    assert not {k for k, _ in found} & set(DEMO_CLEAN)
    assert not result.sync.failed
    # One comment per item, never two: each create went to a different item.
    assert held["creates"] and max(held["creates"].values()) == 1
    # One sample from each system, each carrying our marker.
    assert [s for s, _, _ in result.samples] == ["Jira", "GitHub", "Notion"]
    assert all(body for _, _, body in result.samples)
    for report in result.reports:
        text = report.read_text(encoding="utf-8")
        for keys in DEMO_EXPECTED.values():
            assert all(k in text for k in keys if "-" in k), f"{report.name} misses {keys}"


def test_handoff_demo_from_the_command_line_in_a_fresh_folder(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "sync.commands.cli", "demo", "--dir", "d", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 1, out.stdout  # --json: exactly one line
    payload = json.loads(out.stdout)
    assert payload["ok"] is True
    assert (tmp_path / "d" / "handoff.toml").exists() and (tmp_path / "d" / "state.db").exists()
    codes = {code for _, code in payload["findings"]}
    assert codes == set(DEMO_EXPECTED)
    # Issue 17: the owners' first step is told now (signed webhook and email alike: every demo
    # person has an address) or waits for their working hours; either way it is counted.
    told = payload["notified"]
    assert told["webhook"] == told["email"] and told["webhook"] + told["waiting"] > 0, told
    # Running it again starts from a fresh team: the same problems, the same writes.
    again = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path / "d"), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["counts"] == payload["counts"]
