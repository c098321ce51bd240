"""bench/workers.py at a tiny size: it starts real `handoff sync --full` workers together on a
copy of one PostgreSQL state and counts what the sandbox saw, whatever the code under test does
with the extra workers (on a shared state they split the scopes and all finish)."""

from __future__ import annotations

import sys
from pathlib import Path

from pg_server import PgServer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import workers  # noqa: E402


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
    # Both workers finish (no run lock on a shared state), and between them every scope was
    # read: each pulled what it leased and skipped what the other held at that moment.
    assert [w["exit"] for w in row["each"]] == [0, 0], row["each"]
    assert all(w["summary"] for w in row["each"]), "a worker's --json summary was not read"
    read = [{s["scope"] for s in w["summary"]["scopes"] if not s["read_by_another_worker"]}
            for w in row["each"]]  # fmt: skip
    every = {s["scope"] for w in row["each"] for s in w["summary"]["scopes"]}
    assert read[0] | read[1] == every, read
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
