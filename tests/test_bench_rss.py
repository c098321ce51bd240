"""The benchmark's peak RSS is the sync's own, not its parent's (the sandbox's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = (
    "import json, resource, sys; sys.path.insert(0, sys.argv[1]); "
    "from bench.child import _peak_rss_mb; "
    "print(json.dumps([_peak_rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))"
)


def test_a_child_reports_its_own_peak_not_the_parents() -> None:
    # The parent holds a large workspace, as bench/run.py holds the sandbox's.
    held = bytearray(256 * 2**20)
    held[:: 4096] = b"x" * len(range(0, len(held), 4096))  # touch every page: resident
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(ROOT)], capture_output=True, text=True, check=True
    )
    own, inherited = json.loads(out.stdout)
    held_mb = len(held) / 2**20
    # ru_maxrss carries the parent's high-water mark across exec: the figure the bench used
    # to report. The child's own peak is far below what its parent held.
    assert inherited >= held_mb, (inherited, held_mb)
    assert own < held_mb / 2, (own, held_mb)
