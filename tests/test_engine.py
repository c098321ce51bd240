"""End to end: the engine against the sandbox through the real jira, PyGithub and notion clients."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from engine_fixtures import workspace, write_config
from jira import JIRA

from connectors._retry import FAST_POLICY
from connectors.sandbox import JIRA_EMAIL, Sandbox
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions, SyncResult
from sync.settings import Settings, load_settings
from sync.writeback.render import marker_for


@pytest.fixture
def sandbox() -> Sandbox:
    with Sandbox(workspace()) as sb:
        yield sb


@pytest.fixture
def settings(sandbox: Sandbox, tmp_path: Path) -> Settings:
    return load_settings(write_config(tmp_path / "c.toml", sandbox.url, tmp_path / "state.db"))


def sync(settings: Settings, **opts: object) -> SyncResult:
    conns = connect(settings, policy=FAST_POLICY)
    assert conns.errors == []
    return Engine(settings, conns.connectors, conns.scopes).run(SyncOptions(**opts))  # type: ignore[arg-type]


def jira_client(sb: Sandbox) -> JIRA:
    return JIRA(
        server=sb.url,
        basic_auth=(JIRA_EMAIL, "sandbox-jira-write"),
        options={"rest_api_version": "2"},
        max_retries=0,
    )


def our_comments(sb: Sandbox) -> dict[str, list[str]]:
    """Every comment our bot wrote in the sandbox, by item, read back through the API log-free."""
    jira = jira_client(sb)
    out: dict[str, list[str]] = {}
    for key in ("EXP-1", "EXP-2", "EXP-3"):
        bodies = [c.body for c in jira.comments(key) if "handoff-sync:" in c.body]
        out[key] = bodies
    return out


def writes(sb: Sandbox) -> list[tuple[str, str]]:
    return [(e.method, e.path) for e in sb.log(write=True)]


def test_first_sync_posts_one_comment_per_item_with_findings(
    sandbox: Sandbox, settings: Settings
) -> None:
    result = sync(settings)
    assert result.exit_code == 0, result.errors
    by_record = Counter(f.record_key for f in result.findings)
    assert set(by_record) == {"EXP-2", "EXP-3", "acme/web#2"}
    creates = [w for w in writes(sandbox) if w[0] == "POST" and w[1].endswith("comments")]
    creates += [w for w in writes(sandbox) if w[0] == "POST" and w[1].endswith("/comment")]
    # EXP-2 (+ its Notion page), EXP-3 and PR #2 have findings; EXP-1 and PR #1 are clean.
    assert sorted(p for _, p in creates) == sorted(
        [
            "/rest/api/2/issue/10001/comment",
            "/rest/api/2/issue/10002/comment",
            "/api/v3/repos/acme/web/issues/2/comments",
            "/v1/comments",
        ]
    )
    comments = our_comments(sandbox)
    assert [len(comments[k]) for k in ("EXP-1", "EXP-2", "EXP-3")] == [0, 1, 1]
    assert "Hypothesis is missing" in comments["EXP-2"][0]


def test_second_sync_with_nothing_changed_writes_nothing(
    sandbox: Sandbox, settings: Settings
) -> None:
    sync(settings)
    sandbox.clear_log()
    second = sync(settings)
    assert second.ops == []
    assert writes(sandbox) == []


def test_fixing_a_field_edits_that_comment_and_removes_that_label(
    sandbox: Sandbox, settings: Settings
) -> None:
    sync(settings)
    jira = jira_client(sandbox)
    assert "handoff:ownerless" in jira.issue("EXP-3").fields.labels
    jira.issue("EXP-3").update(fields={"reporter": {"accountId": "acc-ben"}})
    sandbox.clear_log()

    sync(settings)

    # EXP-3 is issue 10002: one edit of its comment, one label removal, nothing else anywhere.
    assert sorted(writes(sandbox)) == [
        ("PUT", "/rest/api/2/issue/10002"),
        ("PUT", "/rest/api/2/issue/10002/comment/" + _comment_id(jira, "EXP-3")),
    ]
    removal = {"update": {"labels": [{"remove": "handoff:ownerless"}]}}
    assert removal in [e.body for e in sandbox.log(write=True)]
    labels = jira.issue("EXP-3").fields.labels
    assert "handoff:ownerless" not in labels and "handoff:missing-fields" in labels
    (body,) = our_comments(sandbox)["EXP-3"]
    assert "Outcome owner" not in body and "Hypothesis is missing" in body

    # Fixing the last problem turns the comment into the all-clear; it is edited, not deleted.
    issue = jira.issue("EXP-3")
    issue.update(fields={"description": issue.fields.description + "\n\nh2. Hypothesis\nFaster."})
    sync(settings)
    (body,) = our_comments(sandbox)["EXP-3"]
    assert "All clear" in body
    assert not [x for x in jira.issue("EXP-3").fields.labels if x.startswith("handoff:")]


def _comment_id(jira: JIRA, key: str) -> str:
    return next(c.id for c in jira.comments(key) if "handoff-sync:" in c.body)


def test_dry_run_writes_nothing_and_prints_what_a_real_run_then_does(
    sandbox: Sandbox, settings: Settings
) -> None:
    sync(settings)
    jira = jira_client(sandbox)
    jira.issue("EXP-3").update(fields={"reporter": {"accountId": "acc-ben"}})
    state = Path(settings.state.path)
    before = state.read_bytes()
    sandbox.clear_log()

    dry = sync(settings, dry_run=True)

    assert writes(sandbox) == []
    assert state.read_bytes() == before
    assert dry.ops and dry.plan_text
    for op in dry.ops:
        assert op.item_key in dry.plan_text
    real = sync(settings)
    assert [(o.system, o.item_id, o.action, o.name) for o in real.ops] == [
        (o.system, o.item_id, o.action, o.name) for o in dry.ops
    ]
    assert len(writes(sandbox)) == len(real.ops)


def test_a_dry_run_on_a_fresh_machine_creates_no_state_file(
    sandbox: Sandbox, settings: Settings
) -> None:
    result = sync(settings, dry_run=True)
    assert result.ops
    assert not Path(settings.state.path).exists()
    assert writes(sandbox) == []


def test_markers_are_unique_per_item() -> None:
    assert marker_for("jira", "10001") != marker_for("jira", "10002")
    assert marker_for("jira", "1") != marker_for("github", "1")


def test_an_item_deleted_in_its_system_fails_once_then_is_left_alone(
    sandbox: Sandbox, settings: Settings
) -> None:
    from sync.store.sqlite import SqliteStore

    sync(settings)
    # EXP-3 (id 10002) is deleted in Jira; our state no longer remembers its comment, so the
    # next run wants to write to it again.
    sandbox.jira.issues["10002"]["state"] = "deleted"
    with SqliteStore.open(settings.state.path) as state:
        state.forget_comment("jira", "10002")
    failed = sync(settings)
    assert failed.exit_code == 1
    assert [f.item_key for f in failed.applied.failures] == ["EXP-3"]
    sandbox.clear_log()
    after = sync(settings)
    assert after.exit_code == 0 and after.ops == []
    assert writes(sandbox) == []


def test_a_first_run_missing_one_system_writes_nothing_rather_than_false_findings(
    sandbox: Sandbox, settings: Settings
) -> None:
    from connectors.sandbox import Fault

    # Jira holds the owners and briefs the PR and the Notion page point at; without it, they
    # would get "missing hypothesis / no owner" comments that are simply wrong.
    sandbox.inject("*", r"/search/jql", Fault(status=500), times=100)
    first = sync(settings)
    assert first.exit_code == 1
    assert any("has never been read in full" in e for e in first.errors)
    assert writes(sandbox) == []
    sandbox.clear_faults()
    second = sync(settings)
    assert second.exit_code == 0 and second.ops
    assert {f.record_key for f in second.findings} == {"EXP-2", "EXP-3", "acme/web#2"}
