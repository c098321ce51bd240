"""Shared fixtures: where the real API material lives, and how to require it in CI."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from pg_server import PgServer, in_ci, start_server

from sync.store import Store, open_store

# CI must be repeatable: the same examples every run (explore locally, where a new failing
# example is news rather than a red build). deadline=None: shared machines are noisy, and
# under pytest-xdist two workers share the cores. database=None in CI: derandomized runs have
# nothing to replay, and no worker then writes ./.hypothesis in the checkout. Locally the
# example database stays: it is keyed by test, and xdist runs each test in one worker only.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True, database=None)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROOT = Path(__file__).resolve().parent.parent
SHARED_API = ROOT.parent / "shared" / "api"


@pytest.fixture(scope="session")
def shared_api() -> Path:
    """The real recorded responses and specs beside the project; CI must have them."""
    if not SHARED_API.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{SHARED_API} is missing: CI must run beside ../shared/api")
        pytest.skip(f"{SHARED_API} not present on this machine")
    return SHARED_API


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL for this session (one per xdist worker), see tests/pg_server.py."""
    server, why = start_server()
    if server is None:
        if in_ci():
            pytest.fail(f"CI needs PostgreSQL for the store's tests: {why}")
        pytest.skip(why)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL of a fresh empty database of its own for one test."""
    return pg_server.database()


@pytest.fixture(params=["sqlite", "postgres"])
def backend_state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty open state on each backend: a SQLite file, a PostgreSQL database."""
    if request.param == "sqlite":
        where = str(tmp_path / "state.db")
    else:
        where = request.getfixturevalue("pg_url")
    with open_store(where) as store:
        yield store


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first, the lone long runs before the matrices of many short cells.

    pytest-xdist hands out tests in collection order, a few at a time: a two-minute test picked
    up last would keep one worker busy long after the other has run out of work. A module with
    one or two slow tests holds long runs (crash, property, bench); one with 150 (the fault
    matrix) holds short cells that fill the gaps. The sort is stable: otherwise file order.
    """
    slow = Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: (item.get_closest_marker("slow") is None, slow[item.path]))
