"""Benchmark: generate a large synthetic workspace and load it into the sandbox.

    python3 bench/sandbox_load.py                 # 100,000 items, appends to bench/RESULTS.md
    python3 bench/sandbox_load.py --items 20000 --no-record

Prints seconds to generate, seconds to load (`Sandbox(ws)`: every service builds its indexes),
and the process's peak memory, then appends them with the machine and command to RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import shlex
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.sandbox import Sandbox  # noqa: E402
from connectors.sandbox.generate import generate_workspace  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
HEADER = "# Benchmark results\n"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _nproc() -> int:
    """What `nproc` prints: the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def run(items: int, seed: int, repeat: int) -> dict[str, object]:
    gen, load, paused = [], [], []
    counts: dict[str, int] = {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        ws = generate_workspace(items, seed=seed)
        t1 = time.perf_counter()
        sb = Sandbox(ws)
        t2 = time.perf_counter()
        gen.append(t1 - t0)
        load.append(t2 - t1)
        # The same load with the cyclic GC paused, as a service could do around its own load.
        del sb
        gc.disable()
        t3 = time.perf_counter()
        sb = Sandbox(ws)
        paused.append(time.perf_counter() - t3)
        gc.enable()
        counts = {
            "jira": len(sb.jira.issues),
            "github": sum(len(r.items) for r in sb.github.repos.values()),
            "notion": len(sb.notion.pages),
        }
        del sb, ws
    return {"gen": gen, "load": load, "paused": paused, "counts": counts, "peak_mb": _peak_mb()}


def report(items: int, result: dict[str, object], command: str) -> str:
    gen, load, paused = result["gen"], result["load"], result["paused"]
    assert isinstance(gen, list) and isinstance(load, list) and isinstance(paused, list)
    counts = result["counts"]
    assert isinstance(counts, dict)
    split = ", ".join(f"{n:,} {s}" for s, n in counts.items())
    return "\n".join([
        f"## Sandbox: generate and load {items:,} items ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"- machine: {_nproc()} CPUs ({_cpu()}), {platform.platform()}, "
        f"Python {platform.python_version()}",
        f"- command: `{command}`",
        f"- items loaded: {split}",
        f"- generate: {statistics.median(gen):.2f} s median of {len(gen)} "
        f"(min {min(gen):.2f}, max {max(gen):.2f})",
        f"- load into `Sandbox(ws)`: {statistics.median(load):.2f} s median of {len(load)} "
        f"(min {min(load):.2f}, max {max(load):.2f})",
        f"- the same load with the cyclic GC paused: {statistics.median(paused):.2f} s median",
        f"- peak memory (ru_maxrss): {result['peak_mb']:.0f} MB",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()
    command = "python3 " + shlex.join(["bench/sandbox_load.py", *sys.argv[1:]])
    text = report(args.items, run(args.items, args.seed, max(1, args.repeat)), command)
    print(text)
    if not args.no_record:
        if not RESULTS.exists():
            RESULTS.write_text(HEADER, encoding="utf-8")
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    main()
