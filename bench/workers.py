"""Benchmark: several `handoff sync --full` workers on one PostgreSQL state (issue 15).

    python3 bench/workers.py                       # 10,000 items; 1, 2, 4 workers; recorded
    python3 bench/workers.py --items 300 --workers 1,2 --no-record   # a quick check

`generate_workspace(n, seed=0)` served by the sandbox in this process; one PostgreSQL started
as the tests start theirs (tests/pg_server.py). A first sync (bench/child.py, unpaced: it
writes every comment) makes the state; that database is then the template of one fresh copy
per row, so every row starts from the same state and the same sandbox. Each row starts N real
`handoff sync --full --json` processes at once and measures the wall time until the last one
exits, each one's exit code and wall, and the requests the sandbox saw (its log, by system).
Rows run twice: without latency, then with the sandbox's --latency per request and the APIs'
rate limits on (shared by all workers: one token per system, as in production).

It measures whatever the code under test does: while only one run may hold a state's lock, the
extra workers exit at once with code 3 ("another sync is running") and the table says so.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
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
TITLE = "## Issue 15: several sync workers on one PostgreSQL (bench/workers.py)"
SYSTEMS = ("jira", "github", "notion")
WORKER_TIMEOUT = 3600  # seconds for one row; a hung worker is a failure, not a wait forever
_CLI = "import sys; from sync.commands.cli import main; sys.exit(main())"


def pg_config(sb: Sandbox, url: str) -> str:
    """The sandbox's config with its state in PostgreSQL instead of a file."""
    text = sandbox_config(sb, state_path="unused.db")
    assert '\npath = "unused.db"\n' in text, "sandbox_config no longer writes [state] path"
    return text.replace('\npath = "unused.db"\n', f"\nurl = {json.dumps(url)}\n", 1)


def first_sync(config: Path) -> dict[str, Any]:
    """The first sync into the template database (unpaced: it writes everything)."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "child.py"), "engine",
                           str(config)], capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"first sync failed:\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def start_workers(config: Path, n: int) -> list[tuple[subprocess.Popen[str], float]]:
    """N `handoff sync --full --json` processes; their output goes to files beside the config
    (a pipe nobody reads while they run could fill and stall a worker)."""
    cmd = [sys.executable, "-c", _CLI, "sync", "--full", "--json", "--config", str(config)]
    procs = []
    for i in range(n):
        out = (config.parent / f"{config.stem}.{i}.out").open("w", encoding="utf-8")
        err = (config.parent / f"{config.stem}.{i}.err").open("w", encoding="utf-8")
        procs.append((subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err, text=True),
                      time.perf_counter()))
        out.close()  # the child holds its own copies
        err.close()
    return procs


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


def run_row(sb: Sandbox, config: Path, n: int) -> dict[str, Any]:
    """N workers started together; the wall time until the last exits and the requests."""
    sb.clear_log()
    start = time.perf_counter()
    procs = start_workers(config, n)
    walls = _wait(procs)
    wall = time.perf_counter() - start
    workers = []
    for i, ((proc, _), each) in enumerate(zip(procs, walls, strict=True)):
        out = (config.parent / f"{config.stem}.{i}.out").read_text(encoding="utf-8")
        err = (config.parent / f"{config.stem}.{i}.err").read_text(encoding="utf-8")
        workers.append({"exit": proc.returncode, "wall": each, "summary": _summary(out),
                        "stderr": err.strip()[-300:]})
    tally = m.tally(sb.log())
    return {"workers": n, "wall": wall, "each": workers, "requests": tally.as_dict(),
            "reads_by_system": {s: tally.reads_by_system[s] for s in SYSTEMS},
            "writes_by_system": {s: tally.writes_by_system[s] for s in SYSTEMS},
            "comments_created": tally.by_class["comment.create"]}


def bench(args: argparse.Namespace, server: PgServer, work: Path) -> dict[str, Any]:
    ws = generate_workspace(args.items, seed=args.seed, now=datetime.now(UTC))
    template = f"bench_{args.items}"
    server.sql(f"CREATE DATABASE {template}")
    out: dict[str, Any] = {"items": args.items, "rows": {}}
    with Sandbox(ws) as sb:
        first = work / "first.toml"
        first.write_text(pg_config(sb, server.url(template)), encoding="utf-8")
        log(f"{args.items:,} items: first sync into {template}")
        out["first"] = first_sync(first)
        for label, latency in (("no latency", 0.0), (f"{args.latency:g} s + limits",
                                                      args.latency)):
            if latency == 0.0 and args.latency_only:
                continue
            scenes.slow(sb, latency)
            rows = out["rows"].setdefault(label, [])
            for n in args.workers:
                db = f"w{n}_{len(out['rows'])}_{args.items}"
                server.sql(f"CREATE DATABASE {db} TEMPLATE {template}")
                config = work / f"{db}.toml"
                config.write_text(pg_config(sb, server.url(db)), encoding="utf-8")
                log(f"{label}: {n} worker(s)")
                rows.append(run_row(sb, config, n))
                log(f"  {rows[-1]['wall']:.1f} s, exits {[w['exit'] for w in rows[-1]['each']]}")
    return out


def render(res: dict[str, Any]) -> str:
    mc = res["machine"]
    lines = [TITLE, "",
             f"- date: {mc['date']}; commit {mc['commit']}; nproc {mc['nproc']}; "
             f"Python {mc['python']}",
             f"- command: `{res['command']}`",
             f"- code under test: {res['code_note']}",
             f"- {res['items']:,} items (`generate_workspace(n, seed=0)`); first sync "
             f"{res['first']['wall']:.1f} s (one process, unpaced); every row starts from a "
             "copy of that state; requests counted in the sandbox's log", ""]
    for label, rows in res["rows"].items():
        lines += [f"### `handoff sync --full` workers started together, {label}", "",
                  "| workers | wall s | 1 worker's wall / this | exit codes | each worker's "
                  "wall s | reads jira / github / notion | writes | comments created | "
                  "429/403 answers |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            reads = " / ".join(str(r["reads_by_system"][s]) for s in SYSTEMS)
            exits = ", ".join(str(w["exit"]) for w in r["each"])
            walls = ", ".join(f"{w['wall']:.1f}" for w in r["each"])
            gain = rows[0]["wall"] / r["wall"] if r["wall"] else 0.0
            lines.append(
                f"| {r['workers']} | {r['wall']:.1f} | {gain:.2f}x | {exits} | {walls} | "
                f"{reads} | {r['requests']['writes']} | {r['comments_created']} | "
                f"{r['requests']['throttled']} |")
        lines.append("")
    return "\n".join(lines)


def replace_section(text: str, section: str) -> str:
    start = text.find(TITLE)
    if start < 0:
        return text.rstrip("\n") + "\n\n" + section
    nxt = text.find("\n## ", start + len(TITLE))
    return text[:start] + section + ("\n" + text[nxt + 1:] if nxt >= 0 else "")


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    p.add_argument("--items", type=int, default=10_000)
    p.add_argument("--workers", default="1,2,4")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.1,
                   help="seconds per request in the second set of rows (limits on)")
    p.add_argument("--latency-only", action="store_true", help="skip the rows without latency")
    p.add_argument("--code-note", default="", help="what the code under test is, for the record")
    p.add_argument("--json", type=Path)
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args(argv)
    args.workers = [int(x) for x in str(args.workers).split(",") if x.strip()]
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _args(argv)
    server, why = start_server()
    if server is None:
        raise SystemExit(f"bench/workers.py needs PostgreSQL: {why}")
    try:
        with tempfile.TemporaryDirectory(prefix="handoff-workers-") as tmp:
            res = bench(args, server, Path(tmp))
    finally:
        server.stop()
    res["machine"] = machine()
    res["command"] = "python3 bench/workers.py " + " ".join(argv or sys.argv[1:])
    res["code_note"] = args.code_note or f"the tree at {res['machine']['commit']}"
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=str), encoding="utf-8")
    text = render(res)
    print(text)
    if not args.no_record:
        RESULTS.write_text(replace_section(RESULTS.read_text(encoding="utf-8"), text),
                           encoding="utf-8")
    return res


if __name__ == "__main__":
    main()
