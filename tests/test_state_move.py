"""`handoff state export` / `import`: a team's state moves from SQLite to PostgreSQL and back
with its whole history; `status` and `report` say the same on each, and every row survives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from engine_fixtures import workspace, write_config
from test_engine import sync
from test_engine_postgres import pg_config

from connectors.sandbox import Sandbox
from sync.commands.cli import main
from sync.settings import load_settings
from sync.store import open_store


def cli(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


def seen(config: Path) -> tuple[Any, Any]:
    """What `status --json` and `report --format json` say (the report's clock left out)."""
    status = json.loads(cli("status", "--config", str(config), "--json").output)
    # --dry-run: a report otherwise keeps its time in the state, for the next one's "new"
    report = json.loads(cli("report", "--config", str(config), "--format", "json",
                            "--dry-run").output)
    for clock in ("generated", "since"):
        report.pop(clock, None)
    return status, report


def rows(config: Path) -> list[str]:
    with open_store(load_settings(config)) as state:
        return sorted(json.dumps(r, sort_keys=True) for r in state.dump_rows())


def test_sqlite_to_postgres_and_back_keeps_status_report_and_every_row(
    tmp_path: Path, pg_url: str, pg_server: Any
) -> None:
    with Sandbox(workspace()) as sb:
        lite = write_config(tmp_path / "lite.toml", sb.url, tmp_path / "lite.db")
        assert sync(load_settings(lite)).exit_code == 0
        assert sync(load_settings(lite)).exit_code == 0  # two runs of history
        pg = pg_config(tmp_path, sb.url, pg_url, name="pg.toml")
        back = write_config(tmp_path / "back.toml", sb.url, tmp_path / "back.db")

        cli("state", "export", str(tmp_path / "a.jsonl"), "--config", str(lite))
        out = cli("state", "import", str(tmp_path / "a.jsonl"), "--config", str(pg))
        assert "Imported" in out.output
        cli("state", "export", str(tmp_path / "b.jsonl"), "--config", str(pg))
        cli("state", "import", str(tmp_path / "b.jsonl"), "--config", str(back))

        original = seen(lite)
        assert original[0]["runs"] and original[1]["findings"]
        assert seen(pg) == original
        assert seen(back) == original
        assert rows(pg) == rows(lite) == rows(back)

        # The moved state goes on: the next sync on Postgres finds nothing to do.
        again = sync(load_settings(pg))
        assert again.exit_code == 0 and again.ops == []


def test_import_refuses_a_state_that_holds_rows_and_a_file_that_is_not_an_export(
    tmp_path: Path, pg_url: str
) -> None:
    with Sandbox(workspace()) as sb:
        lite = write_config(tmp_path / "lite.toml", sb.url, tmp_path / "lite.db")
        assert sync(load_settings(lite)).exit_code == 0
        cli("state", "export", str(tmp_path / "a.jsonl"), "--config", str(lite))
        again = CliRunner().invoke(
            main, ["state", "import", str(tmp_path / "a.jsonl"), "--config", str(lite)]
        )
        assert again.exit_code != 0 and "import into an empty state" in again.output
        (tmp_path / "x.jsonl").write_text('{"hello": 1}\n', encoding="utf-8")
        pg = pg_config(tmp_path, sb.url, pg_url, name="pg.toml")
        bad = CliRunner().invoke(
            main, ["state", "import", str(tmp_path / "x.jsonl"), "--config", str(pg)]
        )
        assert bad.exit_code != 0 and "not a `handoff state export` file" in bad.output
