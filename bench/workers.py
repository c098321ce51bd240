"""Benchmark: several `handoff sync` workers on one PostgreSQL state (issue 15).

    python3 bench/workers.py                       # 10,000 items; 1, 2, 4 workers; recorded
    python3 bench/workers.py --items 300 --workers 1,2 --no-record   # a quick check

`generate_workspace(n, seed=0)` served by a sandbox in this process; one PostgreSQL started as
the tests start theirs (tests/pg_server.py). Each row starts N real `handoff sync --json`
processes at once on one database and measures the wall time until the last exits, each
one's exit code, wall, peak RSS (VmHWM, written by the process as it exits) and the scopes it
pulled itself (the others were read by another worker), and the requests the sandbox saw
(its log, by system; 429/403 answers; comments created, and any created twice).

Three sets of rows (`--rows`):
- first: a first sync from an empty state, each row on a fresh sandbox (no comment yet),
  unpaced and without the sandbox's limits (`--first-latency` per request, 0 by default):
  at the APIs' real write limits a 10,000-item first sync takes hours whatever the workers.
- full: `sync --full` on a copy of the first set's first row's state (same sandbox, every
  comment in place), with `--latency` per request, the sandbox's rate limits on (shared by
  all workers: one token per system, as in production) and the CLI's own pacing.
- incremental: `sync` (what changed since the copied state's cursors), the same way.
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))

from pg_server import PgServer, start_server  # noqa: E402

from bench import measure as m  # noqa: E402
from bench import scenes  # noqa: E402
from bench.run import machine  # noqa: E402
from connectors.sandbox import Sandbox  # noqa: E402
from connectors.sandbox.demo import sandbox_config  # noqa: E402
from connectors.sandbox.generate import generate_workspace  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
TITLE = "## Issue 15: workers — several sync workers on one PostgreSQL (bench/workers.py)"
_OLD_TITLE = "## Issue 15: several sync workers on one PostgreSQL (bench/workers.py)"
SYSTEMS = ("jira", "github", "notion")
ROWS = ("first", "full", "incremental")
WORKER_TIMEOUT = 3600  # seconds for one row; a hung worker is a failure, not a wait forever
MARKER = re.compile(r"handoff-sync:[0-9a-f]+")
# The CLI, with its peak RSS written to $HANDOFF_BENCH_RSS as it exits (VmHWM: this process's
# own memory image; ru_maxrss would start at this bench's, which holds the sandbox).
_CLI = (
    "import atexit, os, sys\n"
    "def _rss():\n"
    "    with open('/proc/self/status') as f:\n"
    "        kb = next((ln.split()[1] for ln in f if ln.startswith('VmHWM:')), '0')\n"
    "    with open(os.environ['HANDOFF_BENCH_RSS'], 'w') as out:\n"
    "        out.write(kb)\n"
    "atexit.register(_rss)\n"
    "from sync.commands.cli import main\n"
    "sys.exit(main())\n"
)
# The first syncs run unpaced (GitHub's 80 writes a minute would make one last an hour);
# burst = 0 lifts Notion's per-second cap too.
UNPACED = "".join(f"\n[pacing.{s}]\nrate = 1000000\nper = 1.0\nburst = 0\n" for s in SYSTEMS)


def pg_config(sb: Sandbox, url: str, *, paced: bool = True) -> str:
    """The sandbox's config with its state in PostgreSQL instead of a file."""
    text = sandbox_config(sb, state_path="unused.db")
    assert '\npath = "unused.db"\n' in text, "sandbox_config no longer writes [state] path"
    text = text.replace('\npath = "unused.db"\n', f"\nurl = {json.dumps(url)}\n", 1)
    return text if paced else text + UNPACED


def start_workers(config: Path, n: int, full: bool) -> list[tuple[subprocess.Popen[str], float]]:
    """N `handoff sync [--full] --json` processes; their output goes to files beside the
    config (a pipe nobody reads while they run could fill and stall a worker)."""
    cmd = [
        sys.executable,
        "-c",
        _CLI,
        "sync",
        *(["--full"] if full else []),
        "--json",
        "--config",
        str(config),
    ]
    procs = []
    for i in range(n):
        env = {**os.environ, "HANDOFF_BENCH_RSS": str(_file(config, i, "rss"))}
        with _file(config, i, "out").open("w") as out, _file(config, i, "err").open("w") as err:
            procs.append(
                (
                    subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err, text=True, env=env),
                    time.perf_counter(),
                )
            )
    return procs


def _file(config: Path, i: int, kind: str) -> Path:
    return config.parent / f"{config.stem}.{i}.{kind}"


def _summary(stdout: str) -> dict[str, Any]:
    """The last JSON line a worker printed (its `--json` summary), or {}."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            got = json.loads(line)
        except ValueError:
            continue
        if isinstance(got, dict):
            return got
    return {}


def _wait(procs: list[tuple[subprocess.Popen[str], float]]) -> list[float]:
    """Each worker's wall time to its exit (polled, so an early exit is not charged the wait
    for another); bounded by WORKER_TIMEOUT."""
    ended: dict[int, float] = {}
    deadline = time.perf_counter() + WORKER_TIMEOUT
    while len(ended) < len(procs) and time.perf_counter() < deadline:
        for i, (proc, began) in enumerate(procs):
            if i not in ended and proc.poll() is not None:
                ended[i] = time.perf_counter() - began
        time.sleep(0.02)
    for proc, _ in procs:  # past the deadline: a failure of the row, not a wait forever
        if proc.poll() is None:
            proc.kill()
            raise RuntimeError(f"a worker ran past {WORKER_TIMEOUT} s")
    return [ended[i] for i in range(len(procs))]


def _comment_text(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("rich_text"), list):
        return "".join((t.get("text") or {}).get("content", "") for t in body["rich_text"])
    return json.dumps(body)


def created_by_marker(log: list[Any]) -> Counter[str]:
    """Comment POSTs the sandbox applied, by the marker in their body (the item)."""
    out: Counter[str] = Counter()
    for e in log:
        if (
            e.method == "POST"
            and e.write
            and re.search(r"/comments?$", e.path)
            and (200 <= e.status < 300)
        ):
            out.update(MARKER.findall(_comment_text(e.body))[:1])
    return out


def _worker(config: Path, i: int, proc: subprocess.Popen[str], wall: float) -> dict[str, Any]:
    summary = _summary(_file(config, i, "out").read_text(encoding="utf-8"))
    rss = _file(config, i, "rss")
    scopes = summary.get("scopes") or []
    return {
        "exit": proc.returncode,
        "wall": wall,
        "summary": summary,
        "rss_mb": int(rss.read_text() or 0) / 1024 if rss.exists() else None,
        # The scopes it read itself (the others' leases were held: another worker read them).
        "pulled_scopes": sorted(
            s["scope"] for s in scopes if not s.get("read_by_another_worker") and not s.get("error")
        ),
        "writes_done": (summary.get("counts") or {}).get("writes_done"),
        "stderr": _file(config, i, "err").read_text(encoding="utf-8").strip()[-300:],
    }


def run_row(sb: Sandbox, config: Path, n: int, *, full: bool) -> dict[str, Any]:
    """N workers started together; the wall time until the last exits and the requests."""
    sb.clear_log()
    start = time.perf_counter()
    procs = start_workers(config, n, full)
    walls = _wait(procs)
    wall = time.perf_counter() - start
    workers = [
        _worker(config, i, proc, each)
        for i, ((proc, _), each) in enumerate(zip(procs, walls, strict=True))
    ]
    log = sb.log()
    tally = m.tally(log)
    created = created_by_marker(log)
    return {
        "workers": n,
        "wall": wall,
        "each": workers,
        "requests": tally.as_dict(),
        "reads_by_system": {s: tally.reads_by_system[s] for s in SYSTEMS},
        "writes_by_system": {s: tally.writes_by_system[s] for s in SYSTEMS},
        "comments_created": tally.by_class["comment.create"],
        "items_commented": len(created),
        "created_twice": sum(1 for k in created.values() if k > 1),
    }


def _row(
    server: PgServer,
    sb: Sandbox,
    work: Path,
    name: str,
    n: int,
    *,
    full: bool,
    template: str = "",
    paced: bool = True,
) -> dict[str, Any]:
    server.sql(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    config = work / f"{name}.toml"
    config.write_text(pg_config(sb, server.url(name), paced=paced), encoding="utf-8")
    log(f"{name}: {n} worker(s)")
    row = run_row(sb, config, n, full=full)
    log(
        f"  {row['wall']:.1f} s, exits {[w['exit'] for w in row['each']]}, "
        f"{row['requests']['total']} requests, {row['requests']['throttled']} throttled"
    )
    return row


def bench(args: argparse.Namespace, server: PgServer, work: Path) -> dict[str, Any]:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    out: dict[str, Any] = {"items": args.items, "rows": {}}
    first, later = (
        f"first sync, {args.first_latency:g} s a request, unpaced",
        (f"{args.latency:g} s a request + rate limits + pacing"),
    )
    rows: dict[str, list[dict[str, Any]]] = out["rows"]
    for k, n in enumerate(args.workers):
        with Sandbox(generate_workspace(args.items, seed=args.seed, now=now)) as sb:
            sb.latency, sb.rate_limits = args.first_latency, False
            name = f"first_w{n}_{args.items}"
            if k > 0 and "first" not in args.rows:
                break  # only the first row's state is needed, as the others' template
            row = _row(server, sb, work, name, n, full=False, paced=False)
            if "first" in args.rows:
                rows.setdefault(first, []).append(row)
            if k > 0:
                continue
            # The first row's state and sandbox (every comment in place) start the others.
            scenes.slow(sb, args.latency)
            for kind in ("full", "incremental"):
                if kind not in args.rows:
                    continue
                for j in args.workers:
                    rows.setdefault(f"`sync{' --full' if kind == 'full' else ''}`, {later}", [])
                    rows[f"`sync{' --full' if kind == 'full' else ''}`, {later}"].append(
                        _row(
                            server,
                            sb,
                            work,
                            f"{kind}_w{j}_{args.items}",
                            j,
                            full=kind == "full",
                            template=name,
                        )
                    )
    return out


def render(res: dict[str, Any]) -> str:
    mc = res["machine"]
    lines = [
        TITLE,
        "",
        f"- date: {mc['date']}; commit {mc['commit']}; nproc {mc['nproc']}; Python {mc['python']}",
        f"- command: `{res['command']}`",
        f"- code under test: {res['code_note']}",
        f"- machine load (`uptime`) before: {res.get('load_before', '?')}; while it ran "
        f"(sampled every 10 s): {res.get('load_during', '?')}",
        f"- {res['items']:,} items (`generate_workspace(n, seed=0)`); requests counted "
        "in the sandbox's log; RSS = each worker's peak (VmHWM)",
        "",
    ]
    for label, rows in res["rows"].items():
        lines += [
            f"### {label}",
            "",
            "| workers | wall s | gain vs 1 | exit codes | each worker's wall s | "
            "peak RSS MB | scopes each pulled | reads jira / github / notion | writes | "
            "comments created (items; twice) | 429/403 answers |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            reads = " / ".join(str(r["reads_by_system"][s]) for s in SYSTEMS)
            each = r["each"]
            gain = rows[0]["wall"] / r["wall"] if r["wall"] else 0.0
            rss = ", ".join(f"{w['rss_mb']:.0f}" if w["rss_mb"] else "?" for w in each)
            walls = ", ".join(f"{w['wall']:.1f}" for w in each)
            lines.append(
                f"| {r['workers']} | {r['wall']:.1f} | {gain:.2f}x | "
                f"{', '.join(str(w['exit']) for w in each)} | "
                f"{walls} | {rss} | "
                f"{', '.join(str(len(w['pulled_scopes'])) for w in each)} | {reads} | "
                f"{r['requests']['writes']} | {r['comments_created']} "
                f"({r['items_commented']}; {r['created_twice']}) | {r['requests']['throttled']} |"
            )
        lines.append("")
    return "\n".join(lines)


def replace_section(text: str, section: str) -> str:
    start = text.find(TITLE)
    if start < 0:
        start = text.find(_OLD_TITLE)  # the section this one replaces
    if start < 0:
        return text.rstrip("\n") + "\n\n" + section
    nxt = text.find("\n## ", start + 4)
    return text[:start] + section + ("\n" + text[nxt + 1 :] if nxt >= 0 else "")


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def uptime() -> str:
    got = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    return got.split("load average:")[-1].strip() if "load average:" in got else "?"


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    p.add_argument("--items", type=int, default=10_000)
    p.add_argument("--workers", default="1,2,4")
    p.add_argument("--rows", default=",".join(ROWS), help="which sets of rows: " + ", ".join(ROWS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--latency",
        type=float,
        default=0.1,
        help="seconds per request in the full and incremental rows (limits on)",
    )
    p.add_argument(
        "--first-latency",
        type=float,
        default=0.0,
        help="seconds per request in the first syncs (limits off)",
    )
    p.add_argument("--code-note", default="", help="what the code under test is, for the record")
    p.add_argument("--json", type=Path)
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args(argv)
    args.workers = [int(x) for x in str(args.workers).split(",") if x.strip()]
    args.rows = [x.strip() for x in str(args.rows).split(",") if x.strip()]
    unknown = set(args.rows) - set(ROWS)
    if unknown:
        p.error(f"--rows: unknown {sorted(unknown)}; expected some of {', '.join(ROWS)}")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _args(argv)
    before, mc = uptime(), machine()  # the commit as the run starts, not as it ends
    server, why = start_server()
    if server is None:
        raise SystemExit(f"bench/workers.py needs PostgreSQL: {why}")
    loads: list[str] = []
    sampler = _Sampler(loads)
    try:
        with tempfile.TemporaryDirectory(prefix="handoff-workers-") as tmp:
            sampler.start()
            res = bench(args, server, Path(tmp))
    finally:
        sampler.stop()
        server.stop()
    res["machine"] = mc
    res["load_before"], res["load_during"] = before, _spread(loads)
    res["command"] = "python3 bench/workers.py " + " ".join(argv or sys.argv[1:])
    res["code_note"] = args.code_note or f"the tree at {res['machine']['commit']}"
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=str), encoding="utf-8")
    text = render(res)
    print(text)
    if not args.no_record:
        RESULTS.write_text(
            replace_section(RESULTS.read_text(encoding="utf-8"), text), encoding="utf-8"
        )
    return res


class _Sampler:
    """The 1-minute load average every 10 s while the bench runs (a shared machine's noise)."""

    def __init__(self, into: list[str]) -> None:
        import threading

        self.into, self.done = into, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(5)

    def _run(self) -> None:
        while not self.done.wait(10.0):
            self.into.append(uptime().split(",")[0])


def _spread(loads: list[str]) -> str:
    vals = sorted(float(x) for x in loads if x.replace(".", "", 1).isdigit())
    if not vals:
        return "not sampled (shorter than 10 s)"
    return (
        f"1-min load {vals[0]:.2f} to {vals[-1]:.2f} (median {vals[len(vals) // 2]:.2f}, "
        f"{len(vals)} samples)"
    )


if __name__ == "__main__":
    main()
