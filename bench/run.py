"""Benchmark: issue 13's targets, each measured against the sandbox and set beside its goal.

    python3 bench/run.py                      # 1k, 10k and 100k side by side (the recorded run)
    python3 bench/run.py --quick              # 1k, no latency runs; printed, not recorded

Per size, on a fresh `generate_workspace(n, seed=0)`, each sync in a process of its own
(bench/child.py) against the sandbox in this one, counting the sandbox's request log:
    1. the first sync (empty state: writes everything);
    2. the run right after that writing run;
    3. a no-change run: the clock moves one cron period (--gap) and nobody changes anything;
    4. one item changed by a person (a label on one Jira issue), one period later;
    5. a full rebuild: `--full` after a config change (one more group name, adopted);
and the naive sync (bench/naive.py) on a fresh copy of the workspace: its first run, then its
second (with no state, its no-change run and its run after a writing run are the same run).
At the --latency-sizes (10k), every run after the first sync, the naive one included, runs with
100 ms per request and the APIs' rate limits on: run 3 is the no-change run at latency and run
5 the full re-sync against its latency and rate-limit bound. Figures go to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import measure as m  # noqa: E402
from bench import scenes  # noqa: E402
from bench import targets as t  # noqa: E402
from bench.report import render, replace_section  # noqa: E402
from connectors.sandbox import Sandbox  # noqa: E402
from connectors.sandbox.demo import sandbox_config  # noqa: E402
from connectors.sandbox.generate import generate_workspace  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
LATENCY = 0.1


def _child(kind: str, config: Path, *extra: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "child.py"), kind, str(config), *extra],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench/child.py {kind} failed:\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def _measured(sb: Sandbox, kind: str, config: Path, args: argparse.Namespace,
              *extra: str) -> dict[str, Any]:
    """One child's run, and the requests the sandbox saw during it."""
    sb.clear_log()
    flags = [*extra, "--offset", str(sb.clock_offset.total_seconds())]
    if sb.rate_limits:  # the APIs' limits on: pace as `handoff sync` does
        flags.append("--paced")
    run = _child(kind, config, *flags, *(["--trace"] if args.tracemalloc else []))
    entries = sb.log()
    tally = m.tally(entries)
    run["requests"] = tally.as_dict()
    run["reads_by_system"] = dict(tally.reads_by_system)
    run["by_kind"] = {f"{s}:{k}": n for (s, k), n in t.by_kind(entries).items()}
    run["latency"] = sb.latency
    return run


def _after_goal(ws: dict[str, Any], touched: dict[str, int]) -> int:
    """Reads the run after a writing run may make: the pages holding the items our writes
    touched, the pages of GitHub's comment list since the cursor (at most one comment of ours
    per item touched), the constants not cached."""
    return t.reads(t.expect_quiet(ws, changed=touched))


def bench_size(n: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Every figure for one size."""
    now = datetime.now(UTC)
    ws = generate_workspace(n, seed=args.seed, now=now)
    slow = n in args.latency_sizes
    out: dict[str, Any] = {"items": n, "scopes": t.scope_items(ws), "floor": t.page_floor(ws),
                           "floor_by_system": t.floor_by_system(ws),
                           "first_limit": t.first_sync_read_limit(ws), "slow": slow}
    if args.naive_only:
        return _naive(n, args, work, out)
    with Sandbox(ws) as sb:
        config = work / f"engine-{n}.toml"
        config.write_text(sandbox_config(sb, state_path=str(work / f"engine-{n}.db")),
                          encoding="utf-8")
        log(f"{n:,}: engine, first sync")
        out["first"] = _measured(sb, "engine", config, args)
        out["after_goal"] = _after_goal(sb.workspace, out["first"]["touched"])
        if slow:
            scenes.slow(sb, args.latency)
        scenes.wait(sb, args.gap)  # the next cron run, as a user has it
        log(f"{n:,}: engine, the run right after it" + (" (latency on)" if slow else ""))
        out["after"] = _measured(sb, "engine", config, args)
        scenes.wait(sb, args.gap)
        log(f"{n:,}: engine, {args.gap:g} min later, nobody changed anything")
        out["quiet"] = _measured(sb, "engine", config, args)
        scenes.wait(sb, args.gap)
        scenes.person_edits_one_item(sb, sb.workspace)
        log(f"{n:,}: engine, a person changed one item")
        out["person"] = _measured(sb, "engine", config, args)
        scenes.wait(sb, args.gap)
        scenes.change_config(config)
        log(f"{n:,}: engine, --full after a config change")
        out["rebuild"] = _measured(sb, "engine", config, args, "--full", "--adopt")
    del ws
    return _naive(n, args, work, out)


def _naive(n: int, args: argparse.Namespace, work: Path, out: dict[str, Any]) -> dict[str, Any]:
    """The naive sync's two runs on a fresh copy of the workspace."""
    slow = n in args.latency_sizes
    if n <= args.naive_max:
        ws = generate_workspace(n, seed=args.seed, now=datetime.now(UTC))
        with Sandbox(ws) as sb:
            config = work / f"naive-{n}.toml"
            config.write_text(sandbox_config(sb, state_path=str(work / "unused.db")),
                              encoding="utf-8")
            log(f"{n:,}: naive, first sync")
            out["naive_first"] = _measured(sb, "naive", config, args)
            if slow:
                scenes.slow(sb, args.latency)
            log(f"{n:,}: naive, second run" + (" (latency on)" if slow else ""))
            out["naive_second"] = _measured(sb, "naive", config, args)
    return out


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def machine() -> dict[str, str]:
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 1
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT, check=False).stdout.strip()
    return {"nproc": str(nproc), "platform": platform.platform(),
            "python": platform.python_version(), "commit": commit,
            "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"}


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--quick", action="store_true",
                        help="1,000 items, no latency runs; printed, not recorded")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency", type=float, default=LATENCY)
    parser.add_argument("--latency-sizes", default="10000",
                        help="sizes whose runs after the first sync run at --latency")
    parser.add_argument("--gap", type=float, default=15.0,
                        help="minutes the clock moves between runs (a cron period)")
    parser.add_argument("--naive-max", type=int, default=10_000)
    parser.add_argument("--naive-only", action="store_true",
                        help="only the naive sync's runs (merge with an engine run's --json)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="trace every child from its start (slower; adds its overhead)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--no-record", action="store_true", help="print only")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                        help="record figures saved by earlier --json runs, run nothing")
    args = parser.parse_args()
    if args.quick:
        # 1,000 items without latency: every count and ratio of requests, in about a minute
        args.sizes, args.latency_sizes, args.no_record = "1000", "", True
    args.latency_sizes = {int(s) for s in str(args.latency_sizes).split(",") if s.strip()}
    return args


def main() -> None:
    args = _args()
    if args.merge:
        merged = merge([json.loads(p.read_text(encoding="utf-8")) for p in args.merge])
        record(render(merged), args.no_record)
        return
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    command = "python3 " + shlex.join(["bench/run.py", *sys.argv[1:]])
    results: dict[str, Any] = {"machine": machine(), "command": command,
                               "latency": args.latency, "gap": args.gap,
                               "tracemalloc": args.tracemalloc, "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="handoff-bench-") as tmp:
        for n in sizes:
            results["sizes"][str(n)] = bench_size(n, args, Path(tmp))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    if args.naive_only:
        return  # half of a size's figures: `--merge` it with the engine's run to render
    record(render(results), args.no_record)


def record(text: str, dry: bool) -> None:
    print(text)
    if not dry:
        RESULTS.write_text(replace_section(RESULTS.read_text(encoding="utf-8"), text),
                           encoding="utf-8")


def merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Sizes measured by separate invocations, as one result (said so in the output)."""
    out = dict(runs[0])
    if len(runs) == 1:
        return out
    out["sizes"] = {}
    for r in runs:  # one size may come from two runs (the engine's and --naive-only)
        for k, v in r["sizes"].items():
            out["sizes"][k] = {**out["sizes"].get(k, {}), **v}
    sizes = ",".join(sorted(out["sizes"], key=int))
    out["command"] = f"python3 bench/run.py --sizes {sizes}"
    out["note"] = "recorded from separate invocations: " + "; ".join(
        f"`{r['command']}`" for r in runs)
    return out


if __name__ == "__main__":
    main()
