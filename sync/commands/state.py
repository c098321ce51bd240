"""`handoff state export FILE` / `handoff state import FILE`: a state's every table, with its
history, as JSON lines, to move a team from SQLite to PostgreSQL (or back). The first line
names the format and the migrations the state had; each other line is one row:
{"table": ..., "row": {column: value}}. Import only into an empty state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from connectors.errors import StateError
from sync.commands.cli import CONFIG_HELP, load

__all__ = ["state_group"]

FORMAT = "handoff-sync state export"
VERSION = 1


@click.group("state")
def state_group() -> None:
    """Move a state between a SQLite file and a PostgreSQL database, with its history."""


@state_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--config", "config", metavar="PATH", help=CONFIG_HELP)
def export_command(file: Path, config: str | None) -> None:
    """Write every table of the config's state to FILE (JSON lines), under the run lock."""
    from sync.store import exists, open_store, run_lock, where_is

    settings = load(config)
    if not exists(settings):
        raise StateError(f"No state yet at {where_is(settings)}: nothing to export.")
    rows = 0
    with run_lock(settings), open_store(settings) as state, file.open("w") as out:
        head = {"format": FORMAT, "version": VERSION, "schema": state.schema_version()}
        out.write(json.dumps(head) + "\n")
        for table, row in state.dump_rows():
            out.write(json.dumps({"table": table, "row": row}, ensure_ascii=False) + "\n")
            rows += 1
    click.echo(f"Exported {rows} rows from {where_is(settings)} to {file}.")


@state_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--config", "config", metavar="PATH", help=CONFIG_HELP)
def import_command(file: Path, config: str | None) -> None:
    """Load FILE (from `handoff state export`) into the config's state, which must be empty."""
    from sync.store import open_store, run_lock, where_is

    settings = load(config)
    with file.open(encoding="utf-8") as lines:
        _check_head(file, lines.readline())
        with run_lock(settings), open_store(settings) as state:
            known = set(state.schema_version())
            counts = state.load_rows(_rows(file, lines))
    total = sum(counts.values())
    click.echo(f"Imported {total} rows into {where_is(settings)} from {file} "
               f"({len(counts)} tables; schema {len(known)} migrations).")  # fmt: skip


def _check_head(file: Path, line: str) -> None:
    try:
        head = json.loads(line)
    except ValueError:
        head = None
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise StateError(f"{file} is not a `handoff state export` file (its first line says so).")
    if head.get("version") != VERSION:
        raise StateError(f"{file} is export format {head.get('version')}; this handoff-sync "
                         f"reads format {VERSION}: upgrade it.")  # fmt: skip
    from sync.store import schema_steps

    known = set(schema_steps())
    newer = [n for n in head.get("schema", []) if n not in known]
    if newer:
        raise StateError(f"{file} was exported by a newer handoff-sync (schema "
                         f"{', '.join(newer)}): upgrade handoff-sync to import it.")  # fmt: skip


def _rows(file: Path, lines: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for n, line in enumerate(lines, start=2):
        try:
            rec = json.loads(line)
            yield str(rec["table"]), dict(rec["row"])
        except (ValueError, KeyError, TypeError):
            raise StateError(f"{file}:{n}: not a row of an export; nothing was imported.") from None
