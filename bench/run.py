"""Benchmark: API requests, writes, wall time and memory of a sync, against the floor and a
naive sync, on generated sandbox workspaces.

    python3 bench/run.py --sizes 1000,10000,100000     # the recorded run (about 40 minutes)
    python3 bench/run.py --quick                       # a small size, seconds; not recorded

Per size, on a fresh `generate_workspace(n, seed=0)`, each sync in a process of its own
(bench/child.py) against the sandbox in this one, counting the sandbox's request log:
    1. first sync (writes everything), 2. the run right after it, then a person changes one
    item per scope five minutes later and a run picks that up, 3. a steady no-change run,
    4. a full re-sync with 100 ms per request and the APIs' rate limits on (sizes <= --latency-max),
and the naive sync (bench/naive.py) on another fresh copy of the same workspace: its first run,
its second, and its second again under latency (sizes <= --naive-latency-max). Then reconcile
and plan alone on the largest size's items (bench/reconcile.py). Figures go to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench import measure as m  # noqa: E402
from bench.report import render, replace_section  # noqa: E402
from connectors.sandbox import JIRA_EMAIL, Sandbox  # noqa: E402
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


def _scope_items(ws: dict[str, Any]) -> dict[str, int]:
    out = {}
    projects: dict[str, int] = {}
    for issue in ws["jira"]["issues"]:
        p = issue["key"].split("-", 1)[0]
        projects[p] = projects.get(p, 0) + 1
    out.update({f"jira:{p}": n for p, n in projects.items()})
    out.update({f"github:{r}": len(v["pulls"]) for r, v in ws["github"]["repos"].items()})
    out.update({f"notion:{d['id']}": len(d["pages"]) for d in ws["notion"]["databases"]})
    return out


def _measured(sb: Sandbox, kind: str, config: Path, *extra: str) -> dict[str, Any]:
    sb.clear_log()
    run = _child(kind, config, *extra)
    run["requests"] = m.tally(sb.log()).as_dict()
    t = m.tally(sb.log())
    run["lookups_by_system"] = dict(t.lookups_by_system)
    run["reads_by_system"] = dict(t.reads_by_system)
    run["writes_by_system"] = dict(t.writes_by_system)
    return run


def _touch(sb: Sandbox, ws: dict[str, Any]) -> None:
    """Five minutes later, a person changes one item in every scope (a label, or a page title
    set to itself): the cursors move past the overlap that still holds our own writes, so the
    run after next shows the steady state instead of re-reading the first sync's writes."""
    sb.advance(timedelta(minutes=5))
    jira = requests.Session()
    jira.auth = (JIRA_EMAIL, "sandbox-jira-write")
    for project in {i["key"].split("-")[0] for i in ws["jira"]["issues"]}:
        jira.put(f"{sb.url}/rest/api/3/issue/{project}-1",
                 json={"update": {"labels": [{"add": "touched"}]}}).raise_for_status()
    gh = {"Authorization": "token sandbox-github-write"}
    for repo in ws["github"]["repos"]:
        requests.post(f"{sb.url}/api/v3/repos/{repo}/issues/1/labels", json={"labels": ["touched"]},
                      headers=gh, timeout=30).raise_for_status()
    notion = {"Authorization": "Bearer sandbox-notion-write", "Notion-Version": "2025-09-03"}
    for db in ws["notion"]["databases"]:
        page = db["pages"][0]
        title = {"Name": {"title": [{"text": {"content": page["title"]}}]}}
        requests.patch(f"{sb.url}/v1/pages/{page['id']}", json={"properties": title},
                       headers=notion, timeout=30).raise_for_status()


def _latency(sb: Sandbox, latency: float) -> None:
    sb.latency = latency
    sb.rate_limits = latency > 0


def bench_size(n: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Every figure for one size."""
    now = datetime.now(UTC)
    ws = generate_workspace(n, seed=args.seed, now=now)
    scopes = _scope_items(ws)
    out: dict[str, Any] = {"items": n, "scopes": scopes, "floor": m.floor_reads(scopes)}
    state = work / f"engine-{n}.db"
    with Sandbox(ws) as sb:
        config = work / f"engine-{n}.toml"
        config.write_text(sandbox_config(sb, state_path=str(state)), encoding="utf-8")
        log(f"{n:,}: engine, first sync")
        out["first"] = _measured(sb, "engine", config)
        log(f"{n:,}: engine, the run right after it")
        out["after"] = _measured(sb, "engine", config)
        _touch(sb, ws)
        log(f"{n:,}: engine, the run that picks up a person's change in every scope")
        out["touch"] = _measured(sb, "engine", config)
        log(f"{n:,}: engine, steady no-change run")
        out["steady"] = _measured(sb, "engine", config)
        if n <= args.latency_max:
            log(f"{n:,}: engine, full re-sync at {args.latency * 1000:.0f} ms per request")
            _latency(sb, args.latency)
            out["latency_full"] = _measured(sb, "engine", config, "--full")
            _latency(sb, 0.0)
    del ws
    if n <= args.naive_max:
        ws = generate_workspace(n, seed=args.seed, now=now)
        with Sandbox(ws) as sb:
            config = work / f"naive-{n}.toml"
            config.write_text(sandbox_config(sb, state_path=str(work / "unused.db")),
                              encoding="utf-8")
            log(f"{n:,}: naive, first sync")
            out["naive_first"] = _measured(sb, "naive", config)
            log(f"{n:,}: naive, second run")
            out["naive_second"] = _measured(sb, "naive", config)
            if n <= args.naive_latency_max:
                log(f"{n:,}: naive, second run again at {args.latency * 1000:.0f} ms")
                _latency(sb, args.latency)
                out["naive_latency"] = _measured(sb, "naive", config)
                _latency(sb, 0.0)
    out["state"] = str(state)
    return out


def bench_reconcile(state: str, records_target: int, config: Path) -> dict[str, Any]:
    from bench.reconcile import load_items, measure, replicate
    from sync.settings import load_settings

    settings = load_settings(config)
    items = load_items(state)
    base = measure(settings, items)
    copies = max(1, math.ceil(records_target / max(1, base["records"])))
    if copies > 1:
        base = measure(settings, replicate(items, copies))
    base["copies"] = copies
    return base


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--quick", action="store_true", help="one small size, not recorded")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency", type=float, default=LATENCY)
    parser.add_argument("--latency-max", type=int, default=1_000)
    parser.add_argument("--naive-max", type=int, default=10_000)
    parser.add_argument("--naive-latency-max", type=int, default=1_000)
    parser.add_argument("--records", type=int, default=100_000,
                        help="records for the reconcile-and-plan measurement")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--no-record", action="store_true", help="print only")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                        help="record figures saved by earlier --json runs, run nothing")
    args = parser.parse_args()
    if args.merge:
        merged = merge([json.loads(p.read_text(encoding="utf-8")) for p in args.merge])
        record(render(merged), args.no_record)
        return
    if args.quick:
        args.sizes, args.latency, args.records, args.no_record = "200", 0.01, 300, True
        args.latency_max, args.naive_latency_max = 200, 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    command = "python3 " + shlex.join(["bench/run.py", *sys.argv[1:]])
    results: dict[str, Any] = {"machine": machine(), "command": command,
                               "latency": args.latency, "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="handoff-bench-") as tmp:
        work = Path(tmp)
        for n in sizes:
            results["sizes"][str(n)] = bench_size(n, args, work)
        largest = str(max(sizes))
        log(f"reconcile and plan alone, {args.records:,} records")
        results["reconcile"] = bench_reconcile(
            results["sizes"][largest]["state"], args.records, work / f"engine-{largest}.toml")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    record(render(results), args.no_record)


def record(text: str, dry: bool) -> None:
    print(text)
    if not dry:
        RESULTS.write_text(replace_section(RESULTS.read_text(encoding="utf-8"), text),
                           encoding="utf-8")


def merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Sizes measured by separate invocations, as one result; reconcile from the largest."""
    out = dict(runs[0])
    out["sizes"] = {k: v for r in runs for k, v in r["sizes"].items()}
    largest = max(runs, key=lambda r: max(int(k) for k in r["sizes"]))
    out["reconcile"] = largest["reconcile"]
    sizes = ",".join(sorted(out["sizes"], key=int))
    out["command"] = f"python3 bench/run.py --sizes {sizes}"
    out["note"] = "recorded from separate invocations: " + "; ".join(
        f"`{r['command']}`" for r in runs)
    return out


if __name__ == "__main__":
    main()
