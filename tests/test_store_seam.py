"""The storage seam: SQL and SQLite live in sync/store only, and callers see the Store protocol."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from sync.store import Store
from sync.store.postgres.store import PostgresStore
from sync.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("sync", "connectors", "mapping")
STORE = ROOT / "sync" / "store"
DRIVERS = ("sqlite3", "sqlite_utils", "psycopg")
# Statement openers in capitals, as the code writes SQL; prose ("select a field") is lower case.
SQL = re.compile(
    r"\b(SELECT\s+[\w*(]|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
    r"CREATE\s+(TABLE|INDEX|TRIGGER)|PRAGMA\s+\w|ALTER\s+TABLE|DROP\s+TABLE)"
)
# Modules outside the store that must see only the protocol, never the SQLite class.
TYPED_AGAINST_STORE = (
    "sync/engine/run.py",
    "sync/engine/apply.py",
    "sync/engine/knowledge.py",
    "sync/report/render.py",
    "sync/report/data.py",
    "sync/commands/status.py",
)


def violations(source: str) -> list[str]:
    """What in `source` only the store may hold: driver imports and SQL in string literals."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.JoinedStr):  # f"SELECT {cols} FROM ...": read {} as a name
            text = "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)
            if SQL.search(str(text)):
                found.append(f"line {node.lineno}: SQL {text[:60]!r}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in DRIVERS:  # importlib.import_module("sqlite3") and the like
                found.append(f"line {node.lineno}: names {node.value}")
            elif SQL.search(node.value):
                found.append(f"line {node.lineno}: SQL {node.value[:60]!r}")
        found += [f"line {node.lineno}: imports {n}" for n in names if n.split(".")[0] in DRIVERS]
    return found


def outside_store() -> list[Path]:
    files = [p for top in SCANNED for p in (ROOT / top).rglob("*.py")]
    return sorted(p for p in files if STORE not in p.parents)


def test_no_sql_or_sqlite_outside_the_store() -> None:
    files = outside_store()
    assert len(files) > 40, "the scan must see the packages it guards"
    bad = {
        str(p.relative_to(ROOT)): v
        for p in files
        if (v := violations(p.read_text(encoding="utf-8")))
    }
    assert bad == {}


def test_the_store_itself_is_where_the_sql_is() -> None:
    # If the scanner stopped recognising SQL, the test above would pass for nothing.
    for name in ("store.py", "reads.py", "history.py", "outbox.py", "schema.py"):
        assert violations((STORE / "sqlite" / name).read_text(encoding="utf-8")), name


@pytest.mark.parametrize(
    "source",
    [
        "import sqlite3",
        "import psycopg",
        "import sqlite_utils.db as d",
        "from sqlite_utils import Database",
        "from sqlite3 import Error",
        "import importlib\nimportlib.import_module('sqlite3')",
        "q = 'SELECT id FROM runs'",
        "q = f'SELECT {cols} FROM findings WHERE x = 1'",
        "q = ('INSERT OR REPLACE INTO counts (a) ' 'VALUES (?)')",
        "q = 'UPDATE items SET state = ?'",
        "q = 'DELETE FROM cursors'",
        "db.execute('PRAGMA journal_mode')",
    ],
)
def test_the_scan_catches(source: str) -> None:
    assert violations(source)


@pytest.mark.parametrize(
    "source",
    [
        "'''Select a field, update the labels, delete our comment.'''",
        "from sync.store import open_store",
        "msg = 'the state file could not be read'",
    ],
)
def test_the_scan_lets_prose_and_the_store_api_through(source: str) -> None:
    assert violations(source) == []


@pytest.mark.parametrize("module", TYPED_AGAINST_STORE)
def test_callers_are_typed_against_the_protocol(module: str) -> None:
    text = (ROOT / module).read_text(encoding="utf-8")
    assert "SqliteStore" not in text and "sync.store.sqlite" not in text


def _protocol_verbs() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(fn)
        for name, fn in vars(Store).items()
        if callable(fn) and (not name.startswith("_") or name in ("__enter__", "__exit__"))
    }


@pytest.mark.parametrize("backend", [SqliteStore, PostgresStore])
def test_each_store_has_every_verb_of_the_protocol_with_its_parameters(backend: type) -> None:
    verbs = _protocol_verbs()
    assert {"record_findings", "advance_cursor", "outbox_done", "findings", "records"} <= set(verbs)
    for name, sig in verbs.items():
        impl = getattr(backend, name, None)
        assert impl is not None, name
        want = [(p.name, p.kind, p.default) for p in sig.parameters.values()]
        got = [(p.name, p.kind, p.default) for p in inspect.signature(impl).parameters.values()]
        assert got == want, name
