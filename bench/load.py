"""Load: a sync of a generated 100,000-item workspace under the sandbox's real rate limits.

    python3 bench/load.py                       # 100,000 items; appends to bench/RESULTS.md
    python3 bench/load.py --items 600 --writes 5 --no-record      # seconds; what the test runs

What it measures, and why this shape. Reads scale: 100,000 items are about 1,000 list pages,
minutes under Jira's burst limit and Notion's 3 requests a second. Writes do not: a first sync
of 100,000 items plans over 100,000 writes, and GitHub takes 80 content-creating requests a
minute and 500 an hour, Notion 3 requests a second, so the first sync takes days whoever
writes it. So each run here pulls, reconciles and plans all 100,000 items, then writes until
a per-system write budget for the run (`--writes`) is spent, as an hourly cron run would when
GitHub's hour is used up: the connector answers RateLimited, that system stops, its other
writes are recorded as not attempted and wait for the next run. Two runs: the first sync (empty
state) and the next run (incremental pull, the same 100,000 items planned from state). The
hours to write everything are extrapolated from the planned writes and each system's budget.

The sandbox runs in a process of its own (its 100,000 items would otherwise count in this
process's memory); the sync runs here, so `ru_maxrss` and the tracemalloc peak are the sync's.
Requests and 429/403 answers are counted in the sandbox's own log.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import platform
import resource
import shlex
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from connectors.base import (  # noqa: E402
    Account,
    CommentRef,
    Connector,
    Cursor,
    Scope,
    SourceItem,
    WriteOp,
    WriteResult,
)
from connectors.errors import RateLimited  # noqa: E402
from sync.engine.connect import connect  # noqa: E402
from sync.engine.pacing import DEFAULT_BUDGETS, Pacer  # noqa: E402
from sync.engine.run import Engine, SyncOptions, SyncResult  # noqa: E402
from sync.settings import load_settings  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
HEADER = "# Benchmark results\n"
# Sustained write rates for the extrapolation, per hour: GitHub's tighter limit is 500 content-
# creating requests an hour; Notion and Jira as sync.engine.pacing.DEFAULT_BUDGETS paces them.
HOURLY = {
    "github": 500,
    "notion": 3 * 3600,
    "jira": DEFAULT_BUDGETS["jira"].rate * 3600,
}


# -- the sandbox, in its own process --------------------------------------------------------
def serve(items: int, seed: int, conn: Connection) -> None:
    """Child process: serve a generated workspace with rate limits on; answer log counts."""
    from connectors.sandbox import Sandbox
    from connectors.sandbox.demo import sandbox_config
    from connectors.sandbox.generate import generate_workspace

    ws = generate_workspace(items, seed=seed)
    with Sandbox(ws, rate_limits=True) as sb:
        conn.send((sandbox_config(sb, state_path="{state}"), _rss_mb()))
        while True:
            command = conn.recv()
            if command == "stop":
                return
            counts: Counter[tuple[str, str, int]] = Counter()
            for e in sb.log():
                counts[(e.service, "write" if e.write else "read", e.status)] += 1
            conn.send(dict(counts))


# -- a per-run write budget -------------------------------------------------------------------
class WriteCap:
    """A connector whose writes stop after `cap` in a run, as when the hour's budget is spent."""

    def __init__(self, inner: Connector, cap: int) -> None:
        self.inner = inner
        self.system = inner.system
        self.cap = cap
        self.sent = 0

    def pull(self, scope: Scope, cursor: Cursor | None) -> Iterator[SourceItem]:
        return self.inner.pull(scope, cursor)

    def people(self) -> Iterator[Account]:
        return self.inner.people()

    def find_comment(self, scope: Scope, item_id: str, marker: str) -> CommentRef | None:
        return self.inner.find_comment(scope, item_id, marker)

    def apply(self, op: WriteOp) -> WriteResult:
        if self.sent >= self.cap:
            raise RateLimited(
                f"this run's {self.system} write budget ({self.cap}) is spent",
                system=self.system,
                scope=op.scope,
            )
        self.sent += 1
        return self.inner.apply(op)


# -- one run ----------------------------------------------------------------------------------
@dataclass
class RunFigures:
    name: str
    wall: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # phase -> seconds
    requests: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    planned: Counter[str] = field(default_factory=Counter)  # writes planned by system
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024


def run_once(name: str, config: Path, caps: dict[str, int], ask: Any) -> RunFigures:
    figures = RunFigures(name)
    settings = load_settings(config)
    conns = connect(settings)
    if conns.errors:
        raise SystemExit("cannot reach the sandbox: " + "; ".join(conns.errors))
    connectors = {s: WriteCap(c, caps.get(s, 0)) for s, c in conns.connectors.items()}
    marks: dict[str, float] = {}

    def progress(phase: str, done: int, total: int) -> None:
        marks.setdefault(phase, time.perf_counter())

    before = ask()
    start = time.perf_counter()
    engine = Engine(settings, connectors, conns.scopes, pacer=Pacer(), progress=progress)
    result: SyncResult = engine.run(SyncOptions())
    end = time.perf_counter()
    figures.wall = end - start
    order = [p for p in ("pull", "reconcile", "write") if p in marks]
    bounds = [marks[p] for p in order] + [end]
    figures.phases = {p: bounds[i + 1] - bounds[i] for i, p in enumerate(order)}
    figures.phases["directory and connect"] = marks.get("pull", end) - start
    after = ask()
    figures.requests = Counter({k: n - before.get(k, 0) for k, n in after.items()})
    figures.planned = Counter(op.system for op in result.ops)
    figures.counts = result.counts()
    figures.errors = [e for e in result.errors if "write budget" not in e]
    return figures


# -- the report -------------------------------------------------------------------------------
def _by(requests: Counter[tuple[str, str, int]], **match: Any) -> int:
    keys = ("service", "kind", "status")
    return sum(
        n for k, n in requests.items() if all(k[keys.index(name)] == v for name, v in match.items())
    )


def _run_lines(f: RunFigures) -> list[str]:
    c = f.counts
    phases = ", ".join(f"{p} {s:.0f} s" for p, s in f.phases.items())
    systems = []
    for s in ("jira", "github", "notion"):
        r, w = _by(f.requests, service=s, kind="read"), _by(f.requests, service=s, kind="write")
        limited = _by(f.requests, service=s, status=429) + _by(f.requests, service=s, status=403)
        systems.append(f"{s} {r:,} reads + {w:,} writes ({limited} answered 429/403)")
    return [
        f"- **{f.name}**: {f.wall:.0f} s wall ({phases})",
        f"  - pulled {c.get('items', 0):,} changed items; {c.get('records', 0):,} handoffs, "
        f"{c.get('findings', 0):,} open findings",
        f"  - requests: {'; '.join(systems)}",
        f"  - writes planned {sum(f.planned.values()):,} ("
        + ", ".join(f"{s} {n:,}" for s, n in sorted(f.planned.items()))
        + f"); done {c.get('writes_done', 0):,}, unchanged {c.get('writes_unchanged', 0):,}, "
        f"failed {c.get('writes_failed', 0):,}, left for the next run "
        f"{c.get('writes_not_attempted', 0):,}",
        *(f"  - error: {e}" for e in f.errors[:3]),
    ]


def report(args: argparse.Namespace, runs: list[RunFigures], mem: dict[str, float]) -> str:
    first = runs[0]
    hours = {s: n / HOURLY[s] for s, n in first.planned.items() if s in HOURLY}
    slowest = max(hours, key=lambda s: hours[s]) if hours else ""
    limited = sum(_by(r.requests, status=429) + _by(r.requests, status=403) for r in runs)
    total = sum(sum(r.requests.values()) for r in runs)
    lines = [
        f"## Load (issue 7): {args.items:,} items under the sandbox's rate limits "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"- machine: {_nproc()} CPUs, {platform.platform()}, Python {platform.python_version()}",
        f"- command: `{args.command}`",
        f"- design: each run pulls, reconciles and plans every item, then writes until the "
        f"run's write budget per system is spent ({_caps(args)}), as an hourly run would; "
        "the rest wait for the next run. Sandbox in its own process; figures are the sync's.",
        *[line for r in runs for line in _run_lines(r)],
        f"- 429/403 answers: {limited} of {total:,} requests in both runs",
        f"- peak memory of the sync process: {mem['rss']:.0f} MB ru_maxrss"
        + (f", tracemalloc peak {mem['traced']:.0f} MB" if mem.get("traced") else "")
        + f" (sandbox process: {mem['sandbox']:.0f} MB after loading)",
    ]
    if hours:
        lines.append(
            "- writing everything the first sync planned, at the sustained write rate "
            "(GitHub 500/h, Notion 3/s, Jira 10/s): "
            + ", ".join(f"{s} {h:.1f} h" for s, h in sorted(hours.items()))
            + f"; {slowest} sets the pace"
        )
    return "\n".join([*lines, ""])


def _caps(args: argparse.Namespace) -> str:
    return f"{args.writes} writes per system"


def _nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def record(text: str) -> None:
    """Append a section; others own the rest of the file, so read it fresh and only add."""
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    if not current.endswith("\n"):
        current += "\n"
    RESULTS.write_text(current + "\n" + text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--writes", type=int, default=80, help="write budget per system per run")
    parser.add_argument("--no-tracemalloc", action="store_true", help="faster, RSS only")
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()
    args.command = "python3 " + shlex.join(["bench/load.py", *sys.argv[1:]])
    # A stopped system is the design here, not news: keep the warnings out of the figures.
    logging.basicConfig(level=logging.ERROR)

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=serve, args=(args.items, args.seed, child), daemon=True)
    proc.start()
    try:
        config_text, sandbox_mb = parent.recv()

        def ask() -> dict[tuple[str, str, int], int]:
            parent.send("log")
            counts: dict[tuple[str, str, int], int] = parent.recv()
            return counts

        with tempfile.TemporaryDirectory(prefix="handoff-load-") as tmp:
            config = Path(tmp) / "config.toml"
            config.write_text(
                config_text.replace("{state}", str(Path(tmp) / "state.db")), encoding="utf-8"
            )
            caps = dict.fromkeys(("jira", "github", "notion"), args.writes)
            if not args.no_tracemalloc:
                tracemalloc.start()
            runs = [
                run_once("first sync", config, caps, ask),
                run_once("next run", config, caps, ask),
            ]
            traced = tracemalloc.get_traced_memory()[1] / 1e6 if tracemalloc.is_tracing() else 0
        parent.send("stop")
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()
    text = report(args, runs, {"rss": _rss_mb(), "traced": traced, "sandbox": sandbox_mb})
    print(text)
    if not args.no_record:
        record(text)


if __name__ == "__main__":
    main()
