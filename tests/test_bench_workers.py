"""bench/workers.py at a tiny size: it starts real `handoff sync` workers together on one
PostgreSQL state and counts what the sandbox saw. Both workers of a row finish, share the
scopes of a first sync (each pulls what it leased; the other's stand read by it) and write
each comment once; a `--full` row on a copy of that state writes nothing."""

from __future__ import annotations

import sys
from pathlib import Path

from pg_server import PgServer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import workers  # noqa: E402

SCOPES = 10  # generate_workspace: 4 Jira projects, 4 repositories, 2 Notion databases


def test_workers_bench_shares_the_scopes_and_writes_each_comment_once(
    pg_server: PgServer, tmp_path: Path
) -> None:
    # Two workers, a first sync then a full re-read with the limits on. 0.05 s a request in
    # the first sync keeps its pulls and writes going while the second process starts.
    args = workers._args(
        [
            "--items",
            "40",
            "--workers",
            "2",
            "--rows",
            "first,full",
            "--first-latency",
            "0.05",
            "--latency",
            "0.002",
            "--no-record",
        ]
    )
    res = workers.bench(args, pg_server, tmp_path)
    first_label, full_label = list(res["rows"])
    assert first_label.startswith("first sync") and "--full" in full_label
    (first,) = res["rows"][first_label]
    (full,) = res["rows"][full_label]
    for row in (first, full):
        assert row["workers"] == 2 and len(row["each"]) == 2
        assert [w["exit"] for w in row["each"]] == [0, 0], row["each"]  # nobody exits 3 now
        assert all(w["summary"] and w["rss_mb"] for w in row["each"]), row["each"]
        assert all(row["reads_by_system"][s] > 0 for s in workers.SYSTEMS), row
        assert row["created_twice"] == 0

    # The first sync: every scope read, by one worker or the other, not all by both.
    pulled = [set(w["pulled_scopes"]) for w in first["each"]]
    assert len(pulled[0] | pulled[1]) == SCOPES, pulled
    assert len(pulled[0]) + len(pulled[1]) < 2 * SCOPES, pulled
    assert first["items_commented"] > 0 and first["comments_created"] == first["items_commented"]
    # The re-read starts from the first sync's state: nothing to comment again.
    assert full["comments_created"] == 0 and full["requests"]["by_class"]["list"] >= SCOPES

    res["machine"] = {"date": "d", "commit": "c", "nproc": "2", "python": "3"}
    res["command"], res["code_note"] = "cmd", "note"
    text = workers.render(res)
    assert text.startswith(workers.TITLE) and "| 2 | " in text and "1.00x" in text
    assert (
        workers.replace_section("# R\n\n" + text + "\n## Next\nx\n", text).count(workers.TITLE) == 1
    )
    old = f"# R\n\n{workers._OLD_TITLE}\n\nold\n\n## Next\nx\n"
    replaced = workers.replace_section(old, text)
    assert workers._OLD_TITLE not in replaced and "## Next" in replaced
