"""Time: one item dated in the future must not move a scope's cursor past later changes.

Seen: a first sync stored the future item's time as the cursor; the next change, made now, was
older than the cursor and never pulled (exit 0, updates lost). Each connector reads the
service's clock from its answers' Date header and the engine clamps the cursor to it, less the
connector's overlap.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from engine_fixtures import workspace, write_config
from fault_helpers import run_sync

from connectors.sandbox import JIRA_EMAIL, Sandbox
from sync.engine.clock import cursor_after, read_began
from sync.settings import load_settings
from sync.store.sqlite import SqliteStore

FUTURE = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _future_workspace(system: str) -> dict[str, object]:
    ws = workspace()
    if system == "jira":
        ws["jira"]["issues"][0]["updated"] = FUTURE  # type: ignore[index]
    else:
        ws["github"]["repos"]["acme/web"]["pulls"][0]["updated_at"] = FUTURE  # type: ignore[index]
    return ws


def _change(sb: Sandbox, system: str) -> str:
    """A person's change made now, that our comment must follow; the changed item's key."""
    if system == "jira":
        r = requests.put(
            f"{sb.url}/rest/api/2/issue/EXP-2",
            json={"fields": {"description": "Just an idea."}},
            auth=(JIRA_EMAIL, "sandbox-jira-write"),
            timeout=5,
        )
        r.raise_for_status()
        return "EXP-2"
    with sb.lock:
        repo = sb.github.repos["acme/web"]
        pr = repo.items[2]
        pr.title = "EXP-3 tidy CSS"
        repo.touch(pr, sb.now())
    return "acme/web#2"


@pytest.mark.parametrize("system", ["jira", "github"])
def test_an_item_dated_in_the_future_does_not_hide_later_changes(
    system: str, tmp_path: Path
) -> None:
    with Sandbox(_future_workspace(system)) as sb:
        settings = load_settings(write_config(tmp_path / "c.toml", sb.url, tmp_path / "s.db"))
        assert run_sync(settings).exit_code == 0
        scope = "jira:EXP" if system == "jira" else "github:acme/web"
        with SqliteStore.open(settings.state.path) as state:
            cursor = state.cursor(scope)
        assert cursor is not None and cursor.updated <= sb.now(), cursor
        key = _change(sb, system)

        second = run_sync(settings)

        assert second.exit_code == 0, second.errors
        changed = {o.item_key for o in second.ops if o.system == system}
        assert key in changed, f"the change to {key} was never pulled: {second.ops}"


class _Clocked:
    overlap = timedelta(seconds=30)

    def __init__(self, now: datetime) -> None:
        self.now = now

    def server_time(self) -> datetime:
        return self.now


def test_a_read_began_no_later_than_the_service_says_less_the_time_it_took() -> None:
    import time

    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    began = read_began(_Clocked(now), time.monotonic() - 90)

    assert began is not None and began <= now - timedelta(seconds=90)
    assert read_began(object(), time.monotonic()) is None  # no Date: no claim


def test_the_cursor_moves_to_the_read_s_start_less_the_overlap_but_never_past_the_server() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    conn = _Clocked(now)
    old = now - timedelta(hours=1)  # the newest item: edited an hour before this read

    began = now - timedelta(minutes=5)
    assert cursor_after(conn, old, began) == began - timedelta(seconds=30)
    assert cursor_after(conn, old, None) == old
    future = now + timedelta(days=3)
    assert cursor_after(conn, future, None) == now - timedelta(seconds=30)
    assert cursor_after(conn, None, None) is None
