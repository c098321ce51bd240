"""One sync in a process of its own, so its peak memory is its own and not the sandbox's.

    python3 bench/child.py engine|naive CONFIG [--full]

Prints one JSON line: wall and CPU seconds, peak RSS (MB), and the sync's own counts.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sync.engine.connect import connect  # noqa: E402
from sync.engine.run import Engine, SyncOptions  # noqa: E402
from sync.settings import Settings, load_settings  # noqa: E402
from sync.store import open_store  # noqa: E402


def _flagged_items(settings: Settings, flagged: set[str]) -> int:
    """Items that belong to a record with findings: each must carry our comment."""
    with open_store(settings) as state:
        rows = state.records()
    items: set[str] = set()
    for row in rows:
        if row.key in flagged:
            items.update(row.item_ids)
    return len(items)


def main() -> None:
    kind, config = sys.argv[1], Path(sys.argv[2])
    full = "--full" in sys.argv[3:]
    settings = load_settings(config)
    wall, cpu = time.perf_counter(), time.process_time()
    out: dict[str, object]
    if kind == "engine":
        conns = connect(settings)
        result = Engine(settings, conns.connectors, conns.scopes).run(SyncOptions(full=full))
        by_action: dict[str, int] = {}
        for op in result.ops:
            by_action[op.action] = by_action.get(op.action, 0) + 1
        out = {"counts": result.counts(), "planned": by_action, "errors": result.errors[:5],
               "flagged_items": _flagged_items(settings, {f.record_key for f in result.findings})}
    else:
        from bench.naive import run_naive

        naive = run_naive(settings)
        out = {"counts": {"items": naive.items, "records": naive.records,
                          "findings": naive.findings}, "planned": naive.writes, "errors": []}
    out["wall"] = time.perf_counter() - wall
    out["cpu"] = time.process_time() - cpu
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
