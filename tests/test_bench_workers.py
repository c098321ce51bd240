"""bench/workers.py at a tiny size: it starts real `handoff sync --full` workers together on a
copy of one PostgreSQL state and counts what the sandbox saw, whatever the code under test does
with the extra workers (today they find the run lock held and exit 3)."""

from __future__ import annotations

import sys
from pathlib import Path

from pg_server import PgServer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import workers  # noqa: E402

EXIT_LOCKED = 3  # sync/commands/cli.py: another run holds the state's lock


def test_workers_bench_measures_each_row_from_the_same_state(
    pg_server: PgServer, tmp_path: Path
) -> None:
    # One row of two workers, latency and the APIs' limits on (the rows without differ only
    # by 0 s; each process costs seconds of imports, so the fewer the faster this test).
    args = workers._args(["--items", "40", "--workers", "2", "--latency", "0.002",
                          "--latency-only", "--no-record"])
    res = workers.bench(args, pg_server, tmp_path)
    assert res["first"]["counts"]["items"] == 40
    assert set(res["rows"]) == {"0.002 s + limits"}
    (row,) = res["rows"]["0.002 s + limits"]
    assert row["workers"] == 2 and len(row["each"]) == 2
    exits = sorted(w["exit"] for w in row["each"])
    # One worker did the run; another one either did its share or found the lock held.
    assert exits[0] == 0 and set(exits) <= {0, EXIT_LOCKED}, row["each"]
    done = next(w for w in row["each"] if w["exit"] == 0)
    assert done["summary"], "the worker's --json summary was not read"
    # A full re-read: every system's list pages, counted in the sandbox's log.
    assert all(row["reads_by_system"][s] > 0 for s in workers.SYSTEMS), row
    assert row["requests"]["by_class"]["list"] >= 10  # one page per scope at least
    # The row starts from the first sync's state: nothing to comment again.
    assert row["comments_created"] == 0
    res["machine"] = {"date": "d", "commit": "c", "nproc": "2", "python": "3"}
    res["command"], res["code_note"] = "cmd", "note"
    text = workers.render(res)
    assert text.startswith(workers.TITLE) and "| 2 | " in text and "1.00x" in text
    assert workers.replace_section("# R\n\n" + text + "\n## Next\nx\n", text).count(
        workers.TITLE) == 1
