"""Each item's extract (field values and link tokens) is stored when its row changes, and a
run folds records from it instead of parsing the item's payload again (issue 13: a full
rebuild's CPU follows change). What is stored must read back exactly as a fresh extraction."""

from __future__ import annotations

import importlib
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fault_helpers import run_sync

from connectors._retry import FAST_POLICY
from connectors.base import SourceItem
from connectors.sandbox import Sandbox
from connectors.sandbox.demo import sandbox_config
from connectors.sandbox.generate import generate_workspace
from mapping import stored
from mapping.record import Decision, Money, PersonRef, Provenance, Stage, Value
from sync.engine import comments as comments_module
from sync.settings import Settings, load_settings
from sync.store.sqlite import SqliteStore
from sync.writeback import plan as plan_module

link = importlib.import_module("mapping.link")  # `mapping.link` is also its `link` function


def _settings(sb: Sandbox, tmp: Path) -> Settings:
    config = tmp / "config.toml"
    config.write_text(sandbox_config(sb, state_path=str(tmp / "state.db")), encoding="utf-8")
    return load_settings(config)


def test_every_stored_extract_reads_back_as_a_fresh_extraction(tmp_path: Path) -> None:
    with Sandbox(generate_workspace(240, seed=5)) as sb:
        settings = _settings(sb, tmp_path)
        assert run_sync(settings, FAST_POLICY).exit_code in (0, 1)
    with SqliteStore.open(settings.state.path) as state:
        items = list(state.iter_items())
        texts = state.extracts_of([(i.system, i.id) for i in items])
        projects = state.link_projects() | {p.upper() for p in settings.link.projects}
    kinds: Counter[str] = Counter()
    for item in items:
        nodes = link.item_nodes(item, settings.link, projects)
        text = texts.get((item.system, item.id))
        if nodes is None:
            assert text is None, item.id  # linking ignores it: nothing to fold
            continue
        assert text is not None, item.id
        values, refs = stored.decode(text, item)
        assert values == link.item_values(item, settings.fields), item.id
        assert tuple(dict.fromkeys([*refs[0], *refs[1]])) == nodes, item.id
        kinds.update(type(v.value).__name__ for vs in values.values() for v in vs)
    # The workspace exercises every kind the codec spells that its generator produces.
    assert {"str", "Stage", "PersonRef", "datetime"} <= set(kinds), kinds


def test_a_rebuild_of_unchanged_items_parses_none_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--full` pulls every item again and evaluates every record, but an item whose row did
    not change is folded from its stored extract: no extractor runs."""
    with Sandbox(generate_workspace(120, seed=2)) as sb:
        settings = _settings(sb, tmp_path)
        first = run_sync(settings, FAST_POLICY)
        calls: Counter[str] = Counter()
        real = link.item_values

        def counted(item: SourceItem, maps: object) -> object:
            calls[item.system] += 1
            return real(item, maps)  # type: ignore[arg-type]

        monkeypatch.setattr(link, "item_values", counted)
        again = run_sync(settings, FAST_POLICY, full=True)
    assert again.records == first.records and again.records > 0
    assert sorted(f.id for f in again.findings) == sorted(f.id for f in first.findings)
    assert calls == Counter()


def test_what_the_codec_cannot_read_back_equal_is_not_stored() -> None:
    when = datetime(2026, 11, 1, 9, tzinfo=UTC)
    item = SourceItem("jira", "jira:EXP", "1", "EXP-1", "", "issue", updated=when)
    src = Provenance("jira", "1", "EXP-1", "updated", "")
    activity = (Value(when, src),)
    where = Provenance("jira", "1", "EXP-1", "Cost cap", "")
    person = PersonRef("jira", "acc-1", "Ana", "person")
    rich = {
        "status": (Value(Stage.RUN, where),),
        "cost_cap": (Value(Money(1500.0, "USD"), where),),
        "expiry": (Value(date(2026, 12, 1), where),),
        "decision_log": (Value(Decision("go", person, when, "ok"), where),),
        "outcome_owner": (Value(person, where),),
        "instrumentation_verified": (Value(True, where),),
        "last_activity": activity,
    }
    text = stored.encode(item, rich, (["key:EXP-1"], []))
    assert text is not None
    assert stored.decode(text, item) == (rich, (["key:EXP-1"], []))
    odd = {**rich, "sample_size": (Value(object(), where),)}
    assert stored.encode(item, odd, (["key:EXP-1"], [])) is None
    mapped = {**rich, "last_activity": (*activity, Value(date(2026, 1, 1), where))}
    assert stored.encode(item, mapped, (["key:EXP-1"], [])) is None


def test_a_comment_current_for_the_same_findings_is_not_rendered_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan keeps the render key each comment was found current for; a rebuild whose
    findings, links and people give the same key renders no comment, and plans nothing.
    Discovery keeps the text each comment showed when found current: the same text is not
    compared again."""
    with Sandbox(generate_workspace(120, seed=4)) as sb:
        settings = _settings(sb, tmp_path)
        first = run_sync(settings, FAST_POLICY)
        assert any(op.action == "comment.create" for op in first.ops)
        second = run_sync(settings, FAST_POLICY, full=True)  # renders, finds them current
        renders: Counter[str] = Counter()
        real = plan_module.render_comment

        def counted(system: str, *args: object, **kwargs: object) -> str:
            renders[system] += 1
            return real(system, *args, **kwargs)  # type: ignore[arg-type]

        compared: Counter[str] = Counter()
        real_current = comments_module.is_current

        def compare(shown: str, body: str) -> bool:
            compared["discover"] += 1
            return real_current(shown, body)

        monkeypatch.setattr(plan_module, "render_comment", counted)
        monkeypatch.setattr(comments_module, "is_current", compare)
        third = run_sync(settings, FAST_POLICY, full=True)
    assert [op.action for op in second.ops if op.action.startswith("comment")] == []
    assert [op.action for op in third.ops if op.action.startswith("comment")] == []
    assert sorted(f.id for f in third.findings) == sorted(f.id for f in first.findings)
    assert renders == Counter()
    # Every comment the --full pull found again shows what it showed when found current.
    assert compared == Counter()
