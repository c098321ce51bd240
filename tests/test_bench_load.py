"""bench/load.py runs end to end on a small workspace and reports what it measured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# Runs bench/load.py end to end: `-m 'not slow'` leaves it out.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_load_bench_runs_on_a_small_workspace_and_reports_every_figure() -> None:
    out = subprocess.run(
        [sys.executable, "bench/load.py", "--items", "400", "--writes", "4", "--no-record"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "## Load (issue 7): 400 items" in text
    for figure in ("first sync", "next run", "429/403 answers", "ru_maxrss", "tracemalloc peak"):
        assert figure in text, figure
    # Every item was pulled on the first sync, and the write budget held on both runs.
    assert "pulled 400 changed items" in text
    assert text.count("done 12,") == 2, text
    # The first sync planned more than the budget allowed, so work is left for the next run.
    assert "left for the next run 0\n" not in text
