"""Benchmark (issue 14): from a person's change in the sandbox to our updated comment, with
`handoff serve` receiving the sandbox's signed webhooks.

    python3 bench/serve_latency.py                  # 10,000 items; recorded in RESULTS.md
    python3 bench/serve_latency.py --items 50 --changes 3 --no-latency --no-record --json F

On `generate_workspace(items, seed)` in a sandbox in this process: the first sync
(bench/child.py, a process of its own); `--warm` seconds later (its writes then lie past the
connectors' overlap, as on a service that has been running), `python3 -m sync.commands.cli
serve` as a real subprocess with the `[serve]` defaults (or `--set`), the sandbox sending it
signed webhooks. Once its start-up poll is done and all is quiet, person-like edits
(bench/serve_people.py) through the APIs, `--gap` seconds apart, every third group of three
sent at once (a burst). For each edit: the time from just before its request is sent to the
moment the sandbox's own state holds a changed comment on the edited item (polled in this process
every 20 ms, not through the APIs: measuring adds no request). Requests are the sandbox's log,
the person's own requests left out; deliveries are what the sandbox's webhook sender posted
(each edit's delivery and the echoes of our own writes). Peak RSS and CPU seconds are the
serve process's own (/proc). With latency (default): the same series again with 100 ms per
request and the APIs' rate limits on, in the same running service.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import measure as m  # noqa: E402
from bench.serve_people import PERSON_AGENT, Edit, add_person, comments_of, plan_edits  # noqa: E402
from bench.serve_report import TITLE, render, replace_section  # noqa: E402
from connectors.sandbox import Sandbox  # noqa: E402
from connectors.sandbox.demo import sandbox_config  # noqa: E402
from connectors.sandbox.generate import generate_workspace  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
SECRETS = {"github": "bench-gh-hook", "jira": "bench-jira-hook", "notion": "secret_bench_notion"}
_POLL = 0.02  # how often the sandbox's state is looked at for the changed comment
_SEEN_TIMEOUT = 120.0  # an edit whose comment never changes within this is "not observed"


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def metrics(self) -> dict[str, float]:
        import requests

        out: dict[str, float] = {}
        for line in requests.get(f"{self.url}/metrics", timeout=10).text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                base = name.split("{")[0]
                out[base] = out.get(base, 0.0) + float(value)
        return out

    def proc_status(self) -> dict[str, float]:
        """The serve process's peak RSS (VmHWM, MB) and CPU seconds (user + system)."""
        out = {"rss_mb": 0.0, "cpu": 0.0}
        with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    out["rss_mb"] = int(line.split()[1]) / 1024
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        out["cpu"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return out


def start_serve(config: Path, work: Path) -> Served:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.update({f"HANDOFF_{k.upper()}__WEBHOOK_SECRET": v for k, v in SECRETS.items()})
    err = work / "serve.log"
    with open(err, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sync.commands.cli", "-v", "serve", "--config", str(config),
             "--port", "0"], stderr=out, cwd=ROOT, env=env)
    end = time.monotonic() + 60
    while time.monotonic() < end and proc.poll() is None:
        found = re.search(rb"listening on (http://[\d.]+:\d+)", err.read_bytes())
        if found:
            return Served(proc, found.group(1).decode(), err)
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"handoff serve did not start:\n{err.read_text()[-3000:]}")


def stop_serve(served: Served) -> int:
    served.proc.terminate()
    try:
        return served.proc.wait(120)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        return served.proc.wait(10)


def settle(sb: Sandbox, served: Served, quiet: float, timeout: float = 1800.0) -> None:
    """Until every delivery is sent and synced and no sync ran for `quiet` seconds."""
    end = time.monotonic() + timeout
    last: tuple[float, float] = (-1.0, -1.0)
    since = time.monotonic()
    while time.monotonic() < end:
        sb.webhooks.drain(timeout=30)
        mt = served.metrics()
        now = (mt.get("handoff_syncs_total", 0.0), mt.get("handoff_inbox_pending", 0.0))
        if now != last:
            last, since = now, time.monotonic()
        elif now[0] >= 1 and now[1] == 0 and time.monotonic() - since >= quiet:
            return
        if served.proc.poll() is not None:
            raise RuntimeError(f"handoff serve ended:\n{served.log.read_text()[-3000:]}")
        time.sleep(0.2)
    raise RuntimeError(f"the service never settled:\n{served.log.read_text()[-3000:]}")


def first_sync(config: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "child.py"), "engine",
                           str(config)], capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"the first sync failed:\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def _wait_seen(sb: Sandbox, pending: list[tuple[Edit, str, float]],
               seen: dict[int, float]) -> None:
    """Look at the sandbox's state until each pending edit's comment changed (or timed out)."""
    while pending:
        now = time.monotonic()
        for entry in list(pending):
            edit, before, t0 = entry
            if comments_of(sb, edit.system, edit.item) != before:
                seen[id(edit)] = now - t0
                pending.remove(entry)
            elif now - t0 > _SEEN_TIMEOUT:
                pending.remove(entry)
        time.sleep(_POLL)


def series(sb: Sandbox, edits: list[Edit], gap: float, burst_every: int) -> list[dict[str, Any]]:
    """Each edit, then wait for its comment and `gap` seconds; every `burst_every`-th group of
    three edits goes out at once (a burst) and is waited for together."""
    out: list[dict[str, Any]] = []
    seen: dict[int, float] = {}
    groups = [edits[i:i + 3] for i in range(0, len(edits), 3)]
    for g, group in enumerate(groups):
        burst = burst_every > 0 and g % burst_every == burst_every - 1
        steps = [group] if burst else [[e] for e in group]
        for step in steps:
            pending = []
            for edit in step:
                pending.append((edit, comments_of(sb, edit.system, edit.item), time.monotonic()))
                edit.apply()
            _wait_seen(sb, pending, seen)
            time.sleep(gap)
        out += [{"label": e.label, "system": e.system, "burst": burst, "_edit": e}
                for e in group]
    for row in out:
        row["seconds"] = seen.get(id(row.pop("_edit")))
    return out


def counts(entries: list[Any]) -> dict[str, Any]:
    """The service's requests in the log (the person's own left out), by system and method."""
    ours = [e for e in entries if e.headers.get("User-Agent") != PERSON_AGENT]
    tally = m.tally(ours)
    by = Counter(f"{e.service} {e.method} {'write' if e.write else 'read'}" for e in ours)
    return {"reads": tally.reads, "writes": tally.writes, "throttled": tally.throttled,
            "reads_by_system": dict(tally.reads_by_system),
            "writes_by_system": dict(tally.writes_by_system),
            "by_class": dict(tally.by_class), "by_method": dict(sorted(by.items())),
            "person_requests": len(entries) - len(ours)}


def phase(sb: Sandbox, served: Served, edits: list[Edit], args: argparse.Namespace,
          latency: float) -> dict[str, Any]:
    """One series of edits, and what the service did for it."""
    sb.latency, sb.rate_limits = latency, latency > 0
    settle(sb, served, args.quiet)
    sent0 = len(sb.webhooks.sent)
    metrics0 = served.metrics()
    sb.clear_log()
    wall = time.monotonic()
    rows = series(sb, edits, args.gap, args.burst_every)
    settle(sb, served, args.quiet)  # the echoes of our writes count: they are our cost
    wall = time.monotonic() - wall
    metrics1 = served.metrics()
    delivered = Counter(d.service for d in sb.webhooks.sent[sent0:])
    syncs = metrics1.get("handoff_syncs_total", 0) - metrics0.get("handoff_syncs_total", 0)
    return {"latency": latency, "rows": rows, "wall": wall,
            "deliveries": dict(delivered), "syncs": syncs,
            "requests": counts(sb.log()), "serve": served.proc_status()}


def bench(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    ws = generate_workspace(args.items, seed=args.seed, now=datetime.now(UTC))
    add_person(ws)
    out: dict[str, Any] = {"items": args.items, "changes": args.changes, "gap": args.gap}
    with Sandbox(ws) as sb:
        config = work / "handoff.toml"
        serve = "".join(f"{k} = {v}\n" for k, v in args.serve.items())
        config.write_text(sandbox_config(sb, state_path=str(work / "state.db"))
                          + "\n[serve]\n" + serve, encoding="utf-8")
        log(f"{args.items:,} items: the first sync, then {args.warm:g} s before serving")
        out["first_sync"] = first_sync(config)
        # The first sync wrote to thousands of items just now; an incremental read starts its
        # overlap before where the last read began less the overlap (2 min each; Jira's cursor
        # rounds down to the minute), so every sync re-reads what moved in the last ~5 min. A
        # service started right after a first sync pays that for minutes; start it once those
        # writes are past, as on a service that has been running (its start-up poll reads
        # them once, not measured).
        time.sleep(args.warm)
        served = start_serve(config, work)
        try:
            sb.send_webhooks(served.url, SECRETS)
            log("handoff serve: its start-up poll")
            t0 = time.monotonic()
            settle(sb, served, args.quiet)
            out["startup_seconds"] = time.monotonic() - t0
            edits = plan_edits(sb, args.changes * (1 if args.no_latency else 2), args.seed)
            log(f"{args.changes} edits, no latency")
            out["fast"] = phase(sb, served, edits[:args.changes], args, 0.0)
            if not args.no_latency:
                log(f"{args.changes} edits, {args.latency * 1000:.0f} ms a request, limits on")
                out["slow"] = phase(sb, served, edits[args.changes:], args, args.latency)
            out["serve"] = served.proc_status()
        finally:
            out["exit"] = stop_serve(served)
            out["serve_log_tail"] = served.log.read_text(errors="replace")[-1500:]
    return out


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=60, help="edits per series")
    parser.add_argument("--gap", type=float, default=3.0,
                        help="seconds between one edit's updated comment and the next edit")
    parser.add_argument("--burst-every", type=int, default=3,
                        help="every Nth group of three edits goes out at once (0: never)")
    parser.add_argument("--quiet", type=float, default=3.0,
                        help="seconds with no sync that mean the service is idle")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warm", type=float, default=400.0,
                        help="seconds between the first sync and the service's start")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--no-latency", action="store_true", help="only the series without it")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a [serve] setting (default: the service's own defaults)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()
    args.serve = dict(kv.split("=", 1) for kv in args.set)
    return args


def main() -> None:
    from bench.run import machine

    args = _args()
    command = "python3 " + " ".join(["bench/serve_latency.py", *sys.argv[1:]])
    with tempfile.TemporaryDirectory(prefix="handoff-serve-bench-") as tmp:
        result = bench(args, Path(tmp))
    result.update(machine=machine(), command=command, serve_settings=args.serve)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    text = render(result)
    print(text)
    if not args.no_record:
        RESULTS.write_text(replace_section(RESULTS.read_text(encoding="utf-8"), text, TITLE),
                           encoding="utf-8")


if __name__ == "__main__":
    main()
