"""Rollout modes: `[writeback] mode`, a severity per kind of finding, overrides per scope,
and `unlinked` only reported in a repository that never names a Jira key."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_fixtures import workspace, write_config

from connectors._retry import FAST_POLICY
from connectors.errors import ConfigError
from connectors.sandbox import Sandbox
from sync.engine.connect import connect
from sync.engine.run import Engine, SyncOptions, SyncResult
from sync.settings import Settings, load_settings
from sync.writeback.rollout import Rollout, ScopeRollout


def _settings(sb: Sandbox, tmp: Path, extra: str) -> Settings:
    path = write_config(tmp / "c.toml", sb.url, tmp / "state.db")
    path.write_text(path.read_text(encoding="utf-8") + "\n" + extra, encoding="utf-8")
    return load_settings(path)


def _sync(settings: Settings, **opts: object) -> SyncResult:
    conns = connect(settings, policy=FAST_POLICY)
    assert conns.errors == []
    return Engine(settings, conns.connectors, conns.scopes).run(SyncOptions(**opts))  # type: ignore[arg-type]


def _writes(sb: Sandbox) -> list[tuple[str, str]]:
    return [(e.method, e.path) for e in sb.log(write=True)]


@pytest.fixture
def sandbox() -> Sandbox:
    with Sandbox(workspace()) as sb:
        yield sb


def test_a_dry_run_in_report_only_mode_plans_no_comments_and_no_labels(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = _settings(sandbox, tmp_path, '[writeback]\nmode = "report-only"\n')
    dry = _sync(settings, dry_run=True)
    assert {f.code for f in dry.findings} >= {"missing-field", "ownerless", "unlinked"}
    assert dry.ops == []
    real = _sync(settings)
    assert real.ops == [] and _writes(sandbox) == []
    assert real.counts()["findings"] == len(dry.findings)  # the report still has them all


def test_labels_mode_writes_labels_and_properties_but_no_comment(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = _settings(sandbox, tmp_path, '[writeback]\nmode = "labels"\n')
    result = _sync(settings)
    actions = {op.action for op in result.ops}
    assert "label.add" in actions and "property.set" in actions
    assert not any(op.action.startswith("comment.") for op in result.ops)
    assert not [p for m, p in _writes(sandbox) if m == "POST" and "comment" in p]


def test_a_warn_finding_is_reported_not_written_and_a_scope_can_say_otherwise(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    extra = (
        '[writeback.severity]\nownerless = "warn"\n'
        '[writeback.scopes."acme/web"]\nmode = "report-only"\n'
    )
    result = _sync(_settings(sandbox, tmp_path, extra))
    assert "ownerless" in {f.code for f in result.findings}
    assert not [op for op in result.ops if op.name == "handoff:ownerless"]
    assert not [op for op in result.ops if op.system == "github"]
    # EXP-3 lacks a hypothesis too: that stays a "fail", so EXP-3 still gets its comment.
    exp3 = [op for op in result.ops if op.item_key == "EXP-3" and op.action.startswith("comment")]
    (comment,) = exp3
    assert "Hypothesis" in comment.body and "Outcome owner" not in comment.body


def test_unlinked_is_only_reported_in_a_repository_that_never_names_a_jira_key(
    tmp_path: Path,
) -> None:
    data = workspace()
    pulls = data["github"]["repos"]["acme/web"]["pulls"]
    pulls[0]["title"], pulls[0]["head"] = "bigger button", "feature/button"
    with Sandbox(data) as sb:
        result = _sync(_settings(sb, tmp_path, ""))
        unlinked = {f.record_key for f in result.findings if f.code == "unlinked"}
        assert unlinked == {"acme/web#1", "acme/web#2"}
        assert not [op for op in result.ops if op.system == "github"]
        assert not [p for _, p in _writes(sb) if "/repos/" in p]


def test_unlinked_is_written_where_the_repository_names_keys_or_the_config_says_fail(
    tmp_path: Path,
) -> None:
    data = workspace()
    pulls = data["github"]["repos"]["acme/web"]["pulls"]
    pulls[0]["title"], pulls[0]["head"] = "bigger button", "feature/button"
    with Sandbox(data) as sb:
        result = _sync(_settings(sb, tmp_path, '[writeback.severity]\nunlinked = "fail"\n'))
        written = {op.item_key for op in result.ops if op.system == "github"}
        assert written == {"acme/web#1", "acme/web#2"}


def test_rollout_levels_and_modes_follow_the_most_specific_setting() -> None:
    rollout = Rollout(
        mode="labels",
        severity={"noisy": "warn"},
        scopes={"EXP": ScopeRollout("comments", {"noisy": "fail"}), "acme/web": ScopeRollout()},
    )
    assert rollout.mode_for("EXP") == "comments" and rollout.mode_for("acme/web") == "labels"
    assert rollout.level("noisy", "EXP") == "fail" and rollout.level("noisy", "OPS") == "warn"
    assert rollout.level("stale", "OPS") == "fail"
    assert rollout.level("unlinked", "acme/web", convention=False) == "warn"
    assert Rollout(severity={"unlinked": "fail"}).level("unlinked", "x", convention=False) == "fail"


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ('[writeback]\nmode = "loud"\n', "writeback.mode: expected 'report-only', 'labels' or"),
        ('[writeback.severity]\nnosy = "warn"\n', "unknown finding code 'nosy'"),
        ('[writeback.severity]\nnoisy = "quiet"\n', "writeback.severity.noisy: expected 'warn'"),
        ('[writeback.scopes."acme/api"]\nmode = "labels"\n', "'acme/api' is not a configured"),
    ],
)
def test_rollout_settings_are_validated_with_clear_errors(
    tmp_path: Path, section: str, expected: str
) -> None:
    path = write_config(tmp_path / "c.toml", "http://127.0.0.1:9", tmp_path / "s.db")
    path.write_text(path.read_text(encoding="utf-8") + "\n" + section, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert expected in err.value.message and "c.toml" in err.value.message


def test_a_first_sync_goes_out_blockers_first(sandbox: Sandbox, tmp_path: Path) -> None:
    result = _sync(_settings(sandbox, tmp_path, ""), dry_run=True)
    blockers = {f.record_key for f in result.findings if f.severity == "error"}
    assert blockers == {"EXP-3"}  # no outcome owner; the rest are warnings
    first = [op.item_key for op in result.ops]
    assert first[0] == "EXP-3"
    assert first.index("EXP-3") < min(first.index(k) for k in ("EXP-2", "acme/web#2"))


def test_the_summary_says_when_the_backlog_is_done_at_the_current_budgets() -> None:
    from datetime import UTC, datetime

    from sync.commands.run import _summary
    from sync.engine.pacing import DEFAULT_BUDGETS, drain_seconds
    from sync.engine.run import SyncResult

    # GitHub: 80 writes a minute. 200 writes: 80 at once, then 120 more take 1.5 minutes.
    assert drain_seconds(["github"] * 200, DEFAULT_BUDGETS) == 90.0
    assert drain_seconds(["github"] * 80, DEFAULT_BUDGETS) == 0.0
    assert drain_seconds(["github"] * 1000 + ["jira"] * 50, DEFAULT_BUDGETS) == 690.0
    result = SyncResult(run_id=1, dry_run=True, at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    result.drain_s = 690.0
    assert "takes about 12 min (until 2026-11-30 09:11 UTC); items with blockers go first" in (
        _summary(result)
    )


def test_report_only_answers_no_command_either(tmp_path: Path) -> None:
    # A person's command is read and applied to the findings, but in report-only mode the
    # answer (our comment, GitHub's reaction) is not written: nothing is.
    from datetime import UTC, datetime

    data = workspace()
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    data["github"]["repos"]["acme/web"]["pulls"][1]["comments"] = [
        {"user": "ben-gh", "body": "/handoff help", "created_at": stamp}
    ]
    with Sandbox(data) as sb:
        result = _sync(_settings(sb, tmp_path, '[writeback]\nmode = "report-only"\n'))
        assert result.ops == [] and _writes(sb) == []
