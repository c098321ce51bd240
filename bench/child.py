"""One sync in a process of its own, so its peak memory and CPU are its own, not the sandbox's.

    python3 bench/child.py engine|naive CONFIG [--full] [--adopt] [--offset SECONDS] [--trace]

--offset: the engine's clock runs that many seconds ahead, as the sandbox's clock does (the
benchmark moves the sandbox's clock instead of waiting). --trace: tracemalloc starts before any
module of the sync is imported, so its peak covers loading the state too (it slows the run and
adds its own memory to the RSS figure).

Prints one JSON line: wall and CPU seconds (user + system of this process), peak RSS in MB
(VmHWM: the whole process from its start), tracemalloc's peak when traced, and the sync's
own counts.

Peak RSS is Linux's VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's peak
(the kernel keeps the high-water mark of the memory image `exec` replaces, and the parent here
holds the sandbox and its whole workspace), so every child spawned after the sandbox grew
reported the sandbox's size, not the sync's.
"""

from __future__ import annotations

import sys
import tracemalloc

if "--trace" in sys.argv:
    tracemalloc.start()

import json
import os
import resource
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wiring import run_as_cli  # noqa: E402
from sync.engine.run import SyncOptions  # noqa: E402
from sync.settings import Settings, load_settings  # noqa: E402
from sync.store import open_store  # noqa: E402


def _flagged_items(settings: Settings) -> int:
    """Items that belong to a record with findings: each must carry our comment. Counted by
    the state in SQL: loading every record here would inflate this process's peak RSS, which
    is the sync's figure."""
    with open_store(settings) as state:
        return state.flagged_item_count()


def _peak_rss_mb() -> float:
    """This process's own peak RSS (see the module's docstring); ru_maxrss where the kernel
    does not say."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _offset() -> float:
    args = sys.argv[3:]
    return float(args[args.index("--offset") + 1]) if "--offset" in args else 0.0


def _engine(settings: Settings) -> dict[str, object]:
    args = sys.argv[3:]
    ahead = timedelta(seconds=_offset())
    opts = SyncOptions(full="--full" in args, adopt_config="--adopt" in args, findings=False)
    result = run_as_cli(settings, opts, lambda: datetime.now(UTC) + ahead, paced="--paced" in args)
    by_action: dict[str, int] = {}
    touched: dict[str, set[str]] = {}
    for op in result.ops:
        by_action[op.action] = by_action.get(op.action, 0) + 1
        touched.setdefault(op.scope, set()).add(op.item_id)
    return {"counts": result.counts(), "planned": by_action, "errors": result.errors[:5],
            "touched": {k: len(v) for k, v in touched.items()},
            "flagged_items": _flagged_items(settings)}


def main() -> None:
    kind, config = sys.argv[1], Path(sys.argv[2])
    settings = load_settings(config)
    wall = time.perf_counter()
    out: dict[str, object]
    if kind == "engine":
        out = _engine(settings)
    else:
        from bench.naive import run_naive

        naive = run_naive(settings, paced="--paced" in sys.argv[3:])
        out = {"counts": {"items": naive.items, "records": naive.records,
                          "findings": naive.findings}, "planned": naive.writes, "errors": []}
    out["wall"] = time.perf_counter() - wall
    cpu = os.times()
    out["cpu"] = cpu.user + cpu.system  # the whole process: imports and loading included
    out["rss_mb"] = _peak_rss_mb()
    if tracemalloc.is_tracing():
        out["traced_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    print(json.dumps(out))


if __name__ == "__main__":
    main()
