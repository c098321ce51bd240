"""`handoff serve`'s receiver, in process (Starlette's test client) and its worker with a fake
sync: every delivery is checked on its raw body before anything is kept, kept once per
delivery id, and a burst makes one sync; a stopped sync leaves its deliveries in the inbox."""

from __future__ import annotations

import json
import threading
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():  # Starlette asks for httpx2; httpx is what we ship
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from sync.serve.app import Hub, make_app
from sync.serve.metrics import Metrics
from sync.serve.verify import sign, signed_by
from sync.serve.worker import Outcome, Timing, Worker
from sync.settings import Settings
from sync.store import Store, memory_store

SECRETS = {"github": "gh-hook-secret", "jira": "jira-hook-secret", "notion": "secret_notion"}
ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT.parent / "shared" / "api" / "recorded" / "github" / "webhooks"


def _settings(**serve: Any) -> Settings:
    return Settings(
        github={"webhook_secret": SECRETS["github"]},
        jira={"webhook_secret": SECRETS["jira"]},
        notion={"webhook_secret": SECRETS["notion"]},
        serve=serve,
    )


def _delivery(system: str, delivery: str | None = None) -> tuple[dict[str, str], bytes]:
    """A delivery as each system sends it (headers without the signature, raw body)."""
    did = delivery or str(uuid.uuid4())
    if system == "github":
        body = {"action": "edited", "number": 2, "pull_request": {"number": 2},
                "repository": {"full_name": "acme/web"}}
        return {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": did}, json.dumps(
            body
        ).encode()
    if system == "jira":
        body = {"timestamp": 1, "webhookEvent": "jira:issue_updated",
                "issue": {"id": "10002", "key": "EXP-2"}}
        return {"X-Atlassian-Webhook-Identifier": did}, json.dumps(body).encode()
    body = {"id": did, "type": "page.properties_updated",
            "entity": {"id": "9a8b7c6d-0000-4000-8000-0000000000a1", "type": "page"},
            "data": {"updated_properties": ["x"]}}
    return {}, json.dumps(body).encode()


HEADER = {
    "github": "X-Hub-Signature-256",
    "jira": "X-Hub-Signature",
    "notion": "X-Notion-Signature",
}


@pytest.fixture
def served() -> Iterator[tuple[TestClient, Store, list[int]]]:
    store = memory_store()
    woken: list[int] = []
    hub = Hub(_settings(max_body_bytes=65536), store, Metrics(), lambda: woken.append(1))
    with TestClient(make_app(hub)) as client:
        yield client, store, woken
    store.close()


def _post(client: TestClient, system: str, headers: dict[str, str], body: bytes) -> Any:
    return client.post(f"/webhooks/{system}", content=body, headers=headers)


@pytest.mark.parametrize("system", ["github", "jira", "notion"])
def test_a_signed_delivery_is_stored_before_the_answer(served: Any, system: str) -> None:
    client, store, woken = served
    headers, body = _delivery(system)
    headers[HEADER[system]] = sign(SECRETS[system], body)

    r = _post(client, system, headers, body)

    assert r.status_code == 202
    [row] = store.inbox_pending()
    assert row.system == system and row.event
    assert store.inbox_body(row.n) == body  # the raw bytes, as signed
    assert woken


@pytest.mark.parametrize("system", ["github", "jira", "notion"])
@pytest.mark.parametrize("how", ["missing", "wrong secret", "body changed", "other scheme"])
def test_a_bad_or_missing_signature_gets_401_and_nothing_is_stored(
    served: Any, system: str, how: str
) -> None:
    client, store, _ = served
    headers, body = _delivery(system)
    if how == "wrong secret":
        headers[HEADER[system]] = sign("not-the-secret", body)
    elif how == "body changed":
        headers[HEADER[system]] = sign(SECRETS[system], body)
        body = body.replace(b"edited", b"closed").replace(b"updated", b"created")
    elif how == "other scheme":
        headers[HEADER[system]] = "sha1=" + sign(SECRETS[system], body)[7:]

    r = _post(client, system, headers, body)

    assert r.status_code == 401
    assert store.inbox_state().received == 0
    assert SECRETS[system] not in r.text


@pytest.mark.parametrize("system", ["github", "jira", "notion"])
def test_a_repeated_delivery_is_kept_once(served: Any, system: str) -> None:
    client, store, _ = served
    headers, body = _delivery(system, "same-delivery-id")
    headers[HEADER[system]] = sign(SECRETS[system], body)

    first = _post(client, system, headers, body)
    again = _post(client, system, headers, body)

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["duplicate"] is True
    assert len(store.inbox_pending()) == 1
    assert 'handoff_deliveries_deduplicated_total{system="' + system + '"} 1' in client.get(
        "/metrics"
    ).text


def test_an_unknown_event_is_acknowledged_and_ignored(served: Any) -> None:
    client, store, _ = served
    ping = json.loads((RECORDED / "ping.json").read_text())["examples"][0]
    body = json.dumps(ping).encode()
    headers = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-ping"}
    headers["X-Hub-Signature-256"] = sign(SECRETS["github"], body)

    r = _post(client, "github", headers, body)

    assert r.status_code == 202 and r.json()["ignored"] == "ping"
    assert store.inbox_state().received == 0


def test_recorded_github_deliveries_name_their_item(served: Any) -> None:
    client, store, _ = served
    for name in ("pull_request", "issue_comment", "issues"):
        example = json.loads((RECORDED / f"{name}.json").read_text())["examples"][0]
        body = json.dumps(example).encode()
        headers = {"X-GitHub-Event": name, "X-GitHub-Delivery": f"d-{name}"}
        headers["X-Hub-Signature-256"] = sign(SECRETS["github"], body)
        assert _post(client, "github", headers, body).status_code == 202
    subjects = {r.event.partition(".")[0]: r.subject for r in store.inbox_pending()}
    assert subjects["pull_request"].startswith("Codertocat/Hello-World#")
    assert set(subjects) == {"pull_request", "issue_comment", "issues"}


def test_an_oversized_body_is_refused_with_413(served: Any) -> None:
    client, store, _ = served
    headers, _ = _delivery("jira")
    body = b"{" + b" " * 70_000 + b"}"
    headers["X-Hub-Signature"] = sign(SECRETS["jira"], body)

    assert _post(client, "jira", headers, body).status_code == 413
    assert store.inbox_state().received == 0


def test_notion_verification_is_answered_and_its_token_signs_from_then_on() -> None:
    store = memory_store()
    hub = Hub(Settings(), store, Metrics(), lambda: None)
    with TestClient(make_app(hub)) as client:
        token = "secret_handshake_token"
        r = _post(client, "notion", {}, json.dumps({"verification_token": token}).encode())
        assert r.status_code == 200
        # A second handshake with another token cannot replace it.
        other = json.dumps({"verification_token": "secret_attacker"}).encode()
        assert _post(client, "notion", {}, other).status_code == 401
        headers, body = _delivery("notion")
        assert _post(client, "notion", headers, body).status_code == 401  # unsigned
        headers["X-Notion-Signature"] = sign(token, body)
        assert _post(client, "notion", headers, body).status_code == 202
    assert len(store.inbox_pending()) == 1


def test_without_a_secret_every_delivery_is_refused() -> None:
    store = memory_store()
    hub = Hub(Settings(), store, Metrics(), lambda: None)
    with TestClient(make_app(hub)) as client:
        headers, body = _delivery("github")
        headers["X-Hub-Signature-256"] = sign("", body)
        assert _post(client, "github", headers, body).status_code == 401
        assert client.get("/healthz").json() == {"ok": True}
        text = client.get("/metrics").text
    assert 'handoff_deliveries_rejected_total{system="github"' in text
    assert "handoff_webhook_lag_seconds" in text and "handoff_syncs_total" in text
    assert store.inbox_state().received == 0


def test_signatures_compare_in_constant_time_and_never_match_empty() -> None:
    assert signed_by("s", b"x", sign("s", b"x"))
    assert not signed_by("", b"x", sign("", b"x"))
    assert not signed_by("s", b"x", None)
    assert not signed_by("s", b"x", "sha256=" + "é" * 64)


def test_a_burst_reads_only_the_scopes_its_deliveries_name() -> None:
    from connectors.base import Scope
    from sync.serve.targets import targets

    scopes = [
        Scope("jira", "EXP"),
        Scope("github", "acme/web"),
        Scope("github", "acme/api"),
        Scope("notion", "1f2e3d4c5b6a47899abcdef012345678"),
        Scope("notion", "22222222-2222-4222-8222-222222222222"),
    ]
    store = memory_store()
    now = datetime.now(UTC)
    gh = {"action": "edited", "repository": {"full_name": "acme/web"}}
    page = {"type": "page.properties_updated",
            "data": {"parent": {"id": "1f2e3d4c-5b6a-4789-9abc-def012345678", "type": "database"}}}
    comment = {"type": "comment.created", "data": {"parent": {"id": "p", "type": "page"}}}
    for i, (system, body) in enumerate([("github", gh), ("notion", page), ("notion", comment)]):
        store.inbox_put(system, f"d{i}", json.dumps(body).encode(), now)
    gh_row, page_row, comment_row = store.inbox_pending()

    def read(rows: list[Any]) -> list[str]:
        return [s.key for s in targets(rows, store.inbox_body, scopes)]

    # Jira is read whole every time: its keys link records in every system.
    assert read([gh_row]) == ["jira:EXP", "github:acme/web"]
    assert read([page_row]) == ["jira:EXP", "notion:1f2e3d4c5b6a47899abcdef012345678"]
    assert read([comment_row]) == ["jira:EXP", *[s.key for s in scopes if s.system == "notion"]]
    assert read([]) == [s.key for s in scopes]  # a poll


# -- the worker -------------------------------------------------------------------------------
def _fill(store: Store, n: int) -> None:
    for i in range(n):
        store.inbox_put("jira", f"d{i}", b"{}", datetime.now(UTC), event="jira:issue_updated")


def _worker(store: Store, sync: Any, debounce: float = 0.2) -> Worker:
    worker = Worker(store, sync, Timing(debounce, 5.0, 3600.0), Metrics())
    worker.last_poll = datetime.now(UTC)  # no poll at start here
    return worker


def test_a_burst_makes_one_sync_and_its_deliveries_are_done() -> None:
    store = memory_store()
    calls: list[int] = []

    def sync(batch: list[Any], poll: bool) -> Outcome:
        calls.append(len(batch))
        return Outcome(7, ok=True, interrupted=False, writes=1)

    worker = _worker(store, sync)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        _fill(store, 100)
        worker.wake()
        for _ in range(100):
            if not store.inbox_pending():
                break
            threading.Event().wait(0.05)
    finally:
        worker.stop()
        thread.join(5)
    assert calls == [100]
    assert {r.run_id for r in store.inbox_since()} == {7}


def test_a_stopped_sync_leaves_its_deliveries_for_the_next_start() -> None:
    store = memory_store()
    _fill(store, 3)
    worker = _worker(store, lambda b, poll: Outcome(1, ok=False, interrupted=True), debounce=0)
    worker.run()  # returns: the sync was interrupted
    assert worker.interrupted
    assert len(store.inbox_pending()) == 3


def test_synced_deliveries_are_forgotten_after_a_week_pending_ones_never() -> None:
    from datetime import timedelta

    store = memory_store()
    long_ago = datetime.now(UTC) - timedelta(days=9)
    _fill(store, 2)
    first, _ = store.inbox_pending()
    store.inbox_done([first.n], long_ago, run_id=1)

    assert store.inbox_prune(datetime.now(UTC) - timedelta(days=7)) == 1
    assert [r.delivery for r in store.inbox_since()] == ["d1"]


def test_the_poll_comes_on_time_even_while_deliveries_keep_coming() -> None:
    from datetime import timedelta

    store = memory_store()
    polls: list[bool] = []

    def sync(batch: list[Any], poll: bool) -> Outcome:
        polls.append(poll)
        return Outcome(1, ok=True, interrupted=False)

    worker = _worker(store, sync, debounce=0)
    worker.last_poll = datetime.now(UTC) - timedelta(hours=1)  # overdue
    _fill(store, 1)
    nxt = worker._next()
    assert nxt is not None and nxt[1] is True  # the burst rides along with the poll
    worker._once(*nxt)
    assert polls == [True] and store.inbox_pending() == []
    assert store.fact("serve_last_poll") is not None
